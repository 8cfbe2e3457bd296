// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IRabbitStyleVenue} from "../../interfaces/venues/IRabbitStyleVenue.sol";
import {PerpExchange} from "./PerpExchange.sol";

/// @title RabbitStyleVenue
/// @notice A local perp venue with RabbitX's shapes and units: one `deposit(amount)` per trader that emits
///         a deposit id, markets by string id ("BTC-USD"), sides "long"/"short", sizes and prices as
///         decimals scaled 1e18, IMF/MMF per market, and two-step withdrawals (request, then claim after a
///         delay) so margin cannot be pulled back at once. Devnet and tests only: a stand-in for RabbitX,
///         never deployed to a real chain.
contract RabbitStyleVenue is PerpExchange, IRabbitStyleVenue {
    using SafeCast for uint256;

    struct WithdrawalRequest {
        address trader;
        uint96 amount;
        uint40 claimableAt;
        bool claimed;
    }

    /// @notice USDC deposited for `trader`.
    event Deposit(uint256 indexed id, address indexed trader, uint256 amount);
    /// @notice A withdrawal was requested; claimable from `claimableAt`.
    event WithdrawalRequested(
        uint256 indexed id, address indexed trader, uint256 amount, uint256 claimableAt
    );
    /// @notice A withdrawal was claimed.
    event WithdrawalClaimed(uint256 indexed id, address indexed trader, uint256 amount);
    /// @notice A market order filled.
    event OrderFilled(
        address indexed trader,
        string marketId,
        string side,
        uint256 size,
        uint256 price,
        uint256 fee,
        uint256 clientOrderId
    );

    bytes32 internal constant LONG = keccak256("long");
    bytes32 internal constant SHORT = keccak256("short");
    bytes32 internal constant MARKET = keccak256("market");

    /// @inheritdoc IRabbitStyleVenue
    uint256 public immutable withdrawalDelay;
    uint256 public depositCount;
    WithdrawalRequest[] public withdrawals;
    mapping(bytes32 marketIdHash => uint256 indexPlusOne) internal _marketIndex;

    constructor(IERC20 usdc_, address owner_, uint256 withdrawalDelay_) PerpExchange(usdc_, owner_) {
        withdrawalDelay = withdrawalDelay_;
    }

    /// @notice Lists market `marketId` (e.g. "BTC-USD"). IMF/MMF in ppm (BTC/ETH 2%/1%, others 5%/2.5%),
    ///         step and tick as 1e18 decimals, depth in base units 1e18. Owner only.
    function addMarket(
        string calldata marketId,
        address feed,
        uint32 maxStaleness,
        uint32 imfPpm,
        uint32 mmfPpm,
        uint32 takerFeePpm,
        uint32 halfSpreadPpm,
        uint256 depth,
        uint256 stepSize,
        uint256 tickSize
    ) external onlyOwner {
        bytes32 key = keccak256(bytes(marketId));
        if (_marketIndex[key] != 0) revert VenueInvalidParameter();
        uint256 id = _listMarket(
            Market({
                feed: feed,
                maxStaleness: maxStaleness,
                initialMarginPpm: imfPpm,
                maintenanceMarginPpm: mmfPpm,
                takerFeePpm: takerFeePpm,
                halfSpreadPpm: halfSpreadPpm,
                listed: false,
                depth: depth,
                stepSize: stepSize,
                tickSize: tickSize,
                fundingRatePerSecond: 0,
                cumulativeFunding: 0,
                lastFundingTime: 0
            })
        );
        _marketIndex[key] = id + 1;
    }

    /// @inheritdoc IRabbitStyleVenue
    /// @dev The id is also in the `Deposit` event.
    function deposit(uint256 amount) external nonReentrant returns (uint256 id) {
        _deposit(_key(msg.sender), msg.sender, amount);
        id = ++depositCount;
        emit Deposit(id, msg.sender, amount);
    }

    /// @inheritdoc IRabbitStyleVenue
    /// @dev Market orders only.
    function placeOrder(OrderRequest calldata order)
        external
        nonReentrant
        returns (uint256 fillPrice, uint256 fee)
    {
        if (keccak256(bytes(order.orderType)) != MARKET) revert VenueUnsupportedOrder();
        int256 signed = _signed(order.side, order.size);
        uint256 id = _id(order.marketId);
        if (order.price % _markets[id].tickSize != 0) {
            revert VenueInvalidPrice(order.price, _markets[id].tickSize);
        }
        (fillPrice, fee) = _trade(_key(msg.sender), id, signed, order.price, false);
        emit OrderFilled(
            msg.sender, order.marketId, order.side, order.size, fillPrice, fee, order.clientOrderId
        );
    }

    /// @inheritdoc IRabbitStyleVenue
    function requestWithdrawal(uint256 amount) external nonReentrant returns (uint256 id) {
        _debitFree(_key(msg.sender), amount);
        uint256 claimableAt = block.timestamp + withdrawalDelay;
        id = withdrawals.length;
        withdrawals.push(WithdrawalRequest(msg.sender, amount.toUint96(), uint40(claimableAt), false));
        emit WithdrawalRequested(id, msg.sender, amount, claimableAt);
    }

    /// @inheritdoc IRabbitStyleVenue
    function claimWithdrawal(uint256 id) external nonReentrant {
        if (id >= withdrawals.length) revert VenueWithdrawalNotClaimable(id, 0);
        WithdrawalRequest storage w = withdrawals[id];
        if (w.trader != msg.sender || w.claimed || block.timestamp < w.claimableAt) {
            revert VenueWithdrawalNotClaimable(id, w.claimableAt);
        }
        w.claimed = true;
        _payOut(msg.sender, w.amount);
        emit WithdrawalClaimed(id, msg.sender, w.amount);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IRabbitStyleVenue
    function position(address trader, string calldata marketId) external view returns (int256) {
        return _positions[_key(trader)][_id(marketId)].size;
    }

    /// @inheritdoc IRabbitStyleVenue
    function accountMargin(address trader)
        external
        view
        returns (int256 balance, int256 equity, uint256 initialMargin, uint256 maintenanceMargin)
    {
        bytes32 key = _key(trader);
        (equity, initialMargin, maintenanceMargin) = _margin(key);
        balance = _balances[key];
    }

    /// @inheritdoc IRabbitStyleVenue
    function quote(string calldata marketId, string calldata side, uint256 size)
        external
        view
        returns (uint256)
    {
        return _fillPrice(_markets[_id(marketId)], _signed(side, size));
    }

    /// @inheritdoc IRabbitStyleVenue
    function fundingIndex(string calldata marketId) external view returns (int256) {
        Market storage m = _markets[_id(marketId)];
        return _currentFunding(m, _markPrice(m));
    }

    /// @inheritdoc IRabbitStyleVenue
    function marketParams(string calldata marketId) external view returns (Market memory) {
        return _markets[_id(marketId)];
    }

    function _id(string calldata marketId) internal view returns (uint256) {
        uint256 indexPlusOne = _marketIndex[keccak256(bytes(marketId))];
        // slither-disable-next-line incorrect-equality (0 is the mapping's default: a market never listed)
        if (indexPlusOne == 0) revert VenueUnknownMarket();
        return indexPlusOne - 1;
    }

    function _signed(string calldata side, uint256 size) internal pure returns (int256) {
        bytes32 sideHash = keccak256(bytes(side));
        if (sideHash == LONG) return size.toInt256();
        if (sideHash == SHORT) return -size.toInt256();
        revert VenueUnsupportedOrder();
    }

    function _key(address trader) internal pure returns (bytes32) {
        return bytes32(uint256(uint160(trader)));
    }
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IDydxStyleVenue} from "../../interfaces/venues/IDydxStyleVenue.sol";
import {PerpExchange} from "./PerpExchange.sol";

/// @title DydxStyleVenue
/// @notice A local perp venue with dYdX v4's shapes and units: subaccounts `{owner, number}`, markets by
///         clob pair id, sizes in base quantums and prices in subticks, BUY/SELL, IOC and reduce-only,
///         fees in ppm, margin from liquidity tiers, instant USDC withdrawals. Devnet and tests only: a
///         stand-in for dYdX, never deployed to a real chain.
/// @dev quantums = size x 10^(-atomicResolution); subticks = price x 10^(atomicResolution -
///      quantumConversionExponent + 6). Only immediate-or-cancel orders exist here: the order fills whole at
///      the venue's quote or reverts.
contract DydxStyleVenue is PerpExchange, IDydxStyleVenue {
    using SafeCast for uint256;

    uint32 public constant MAX_SUBACCOUNT_NUMBER = 128_000;

    /// @notice A liquidity tier: initial margin and maintenance as a fraction of initial, both ppm.
    struct LiquidityTier {
        uint32 initialMarginPpm;
        uint32 maintenanceFractionPpm;
    }

    /// @notice An order filled in full.
    event OrderFilled(
        address indexed owner,
        uint32 indexed number,
        uint32 indexed clobPairId,
        Side side,
        uint64 quantums,
        uint64 subticks,
        uint256 feeQuantums
    );
    /// @notice USDC moved into or out of a subaccount.
    event SubaccountTransfer(address indexed owner, uint32 indexed number, int256 amount);

    LiquidityTier[] public liquidityTiers;
    mapping(uint32 clobPairId => ClobPair) internal _clobPairs;

    constructor(IERC20 usdc_, address owner_) PerpExchange(usdc_, owner_) {
        liquidityTiers.push(LiquidityTier(20_000, 600_000)); // large caps: IM 2%, MM 60% of IM
        liquidityTiers.push(LiquidityTier(50_000, 600_000)); // mid caps: IM 5%
    }

    /// @notice Lists a perpetual market. Owner only. Ids are assigned in order from 0.
    function createClobPair(
        ClobPair calldata pair,
        address feed,
        uint32 maxStaleness,
        uint32 takerFeePpm,
        uint32 halfSpreadPpm,
        uint64 depthQuantums
    ) external onlyOwner returns (uint32 clobPairId) {
        LiquidityTier memory tier = liquidityTiers[pair.liquidityTier];
        if (pair.atomicResolution > 0 || pair.atomicResolution < -18) revert VenueInvalidParameter();
        uint256 quantum = 10 ** uint256(int256(18 + pair.atomicResolution));
        uint256 id = _listMarket(
            Market({
                feed: feed,
                maxStaleness: maxStaleness,
                initialMarginPpm: tier.initialMarginPpm,
                maintenanceMarginPpm: uint32(
                    uint256(tier.initialMarginPpm) * tier.maintenanceFractionPpm / PPM
                ),
                takerFeePpm: takerFeePpm,
                halfSpreadPpm: halfSpreadPpm,
                listed: false,
                depth: depthQuantums * quantum,
                stepSize: pair.stepBaseQuantums * quantum,
                tickSize: _subticksToPrice(pair, pair.subticksPerTick),
                fundingRatePerSecond: 0,
                cumulativeFunding: 0,
                lastFundingTime: 0
            })
        );
        clobPairId = uint32(id);
        _clobPairs[clobPairId] = pair;
    }

    /// @inheritdoc IDydxStyleVenue
    function depositToSubaccount(SubaccountId calldata subaccount, uint256 amount) external nonReentrant {
        _deposit(_key(subaccount), msg.sender, amount);
        emit SubaccountTransfer(subaccount.owner, subaccount.number, amount.toInt256());
    }

    /// @inheritdoc IDydxStyleVenue
    function withdrawFromSubaccount(SubaccountId calldata subaccount, address recipient, uint256 amount)
        external
        nonReentrant
    {
        _requireOwner(subaccount);
        _debitFree(_key(subaccount), amount);
        _payOut(recipient, amount);
        emit SubaccountTransfer(subaccount.owner, subaccount.number, -amount.toInt256());
    }

    /// @inheritdoc IDydxStyleVenue
    /// @dev Only immediate-or-cancel orders: they fill in full at the venue's quote or revert.
    function placeOrder(Order calldata order)
        external
        nonReentrant
        returns (uint64 fillSubticks, uint256 fee)
    {
        SubaccountId calldata sub = order.orderId.subaccountId;
        _requireOwner(sub);
        if (order.timeInForce != TimeInForce.IOC || order.side == Side.UNSPECIFIED) {
            revert VenueUnsupportedOrder();
        }
        if (order.goodTilBlock < block.number) revert VenueOrderExpired(order.goodTilBlock, block.number);
        ClobPair memory pair = _pair(order.orderId.clobPairId);
        if (order.quantums == 0 || order.quantums % pair.stepBaseQuantums != 0) {
            revert VenueInvalidSize(order.quantums, pair.stepBaseQuantums);
        }
        if (order.subticks % pair.subticksPerTick != 0) {
            revert VenueInvalidPrice(order.subticks, pair.subticksPerTick);
        }
        int256 size = (uint256(order.quantums) * _quantum(pair)).toInt256();
        uint256 price;
        (price, fee) = _trade(
            _key(sub),
            order.orderId.clobPairId,
            order.side == Side.BUY ? size : -size,
            _subticksToPrice(pair, order.subticks),
            order.reduceOnly
        );
        fillSubticks = _priceToSubticks(pair, price, order.side == Side.BUY);
        emit OrderFilled(
            sub.owner, sub.number, order.orderId.clobPairId, order.side, order.quantums, fillSubticks, fee
        );
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IDydxStyleVenue
    function clobPair(uint32 clobPairId) external view returns (ClobPair memory) {
        return _pair(clobPairId);
    }

    /// @inheritdoc IDydxStyleVenue
    function positionQuantums(SubaccountId calldata subaccount, uint32 clobPairId)
        external
        view
        returns (int256)
    {
        ClobPair memory pair = _pair(clobPairId);
        return _positions[_key(subaccount)][clobPairId].size / int256(_quantum(pair));
    }

    /// @inheritdoc IDydxStyleVenue
    function subaccountMargin(SubaccountId calldata subaccount)
        external
        view
        returns (int256 usdcBalance, int256 netCollateral, uint256 initialMargin, uint256 maintenanceMargin)
    {
        bytes32 key = _key(subaccount);
        (netCollateral, initialMargin, maintenanceMargin) = _margin(key);
        usdcBalance = _balances[key];
    }

    /// @inheritdoc IDydxStyleVenue
    function fundingIndex(uint32 clobPairId) external view returns (int256) {
        Market storage m = _market(clobPairId);
        return _currentFunding(m, _markPrice(m));
    }

    /// @inheritdoc IDydxStyleVenue
    function quoteSubticks(uint32 clobPairId, Side side, uint64 quantums) external view returns (uint64) {
        ClobPair memory pair = _pair(clobPairId);
        int256 size = (uint256(quantums) * _quantum(pair)).toInt256();
        uint256 price = _fillPrice(_market(clobPairId), side == Side.BUY ? size : -size);
        return _priceToSubticks(pair, price, side == Side.BUY);
    }

    /// @inheritdoc IDydxStyleVenue
    function marketParams(uint32 clobPairId) external view returns (Market memory) {
        return _market(clobPairId);
    }

    // ------------------------------------------------------------------ units

    function _quantum(ClobPair memory pair) internal pure returns (uint256) {
        return 10 ** uint256(int256(18 + pair.atomicResolution));
    }

    /// @dev price WAD = subticks x 10^(18 - (atomicResolution - quantumConversionExponent + 6)).
    function _subticksToPrice(ClobPair memory pair, uint256 subticks) internal pure returns (uint256) {
        int256 exponent = 18 - (int256(pair.atomicResolution) - pair.quantumConversionExponent + 6);
        return exponent >= 0 ? subticks * 10 ** uint256(exponent) : subticks / 10 ** uint256(-exponent);
    }

    function _priceToSubticks(ClobPair memory pair, uint256 price, bool roundUp)
        internal
        pure
        returns (uint64)
    {
        int256 exponent = 18 - (int256(pair.atomicResolution) - pair.quantumConversionExponent + 6);
        uint256 unit = 10 ** uint256(exponent);
        return (roundUp ? (price + unit - 1) / unit : price / unit).toUint64();
    }

    function _pair(uint32 id) internal view returns (ClobPair memory pair) {
        _market(id);
        return _clobPairs[id];
    }

    function _key(SubaccountId calldata subaccount) internal pure returns (bytes32) {
        if (subaccount.number > MAX_SUBACCOUNT_NUMBER) revert VenueInvalidParameter();
        return keccak256(abi.encode(subaccount.owner, subaccount.number));
    }

    function _requireOwner(SubaccountId calldata subaccount) internal view {
        if (subaccount.owner != msg.sender) revert VenueNotAccountOwner(msg.sender);
    }
}

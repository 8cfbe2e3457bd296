// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";

import {IAggregatorV3} from "../../interfaces/IAggregatorV3.sol";
import {IPerpVenue} from "../../interfaces/venues/IPerpVenue.sol";
import {IVenueErrors} from "./IVenueErrors.sol";

/// @title PerpExchange
/// @notice The engine shared by the two local perp venues: the venue is the counterparty of every market
///         order, fills at the oracle price plus half-spread plus size-linear impact, charges a taker fee,
///         accrues funding continuously into a cumulative index per market, and margins each account
///         across its positions. The venues on top translate their own APIs and units into this engine.
///         Devnet and tests only: a stand-in for real venues, never deployed to a real chain.
/// @dev Internal units: sizes in base-asset WAD (1e18 = one BTC), prices in USD WAD per base unit,
///      balances in USDC units (6 decimals), signed. Settlement follows dYdX v4: a fill moves the quote
///      balance by size x price, so realized and unrealized PnL need no entry price; funding is settled into
///      the quote balance whenever the position changes. Rounding favours the venue.
abstract contract PerpExchange is IPerpVenue, IVenueErrors, Ownable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;
    using SafeCast for int256;

    uint256 internal constant WAD = 1e18;
    uint256 internal constant PPM = 1e6;
    /// @dev A PPM fraction as a WAD fraction (WAD / PPM).
    uint256 internal constant WAD_PER_PPM = 1e12;
    /// @dev USD WAD to USDC units.
    uint256 internal constant WAD_TO_USDC = 1e12;
    uint256 public constant MAX_MARKETS = 8;

    struct Position {
        int256 size; // base WAD, signed
        int256 fundingIndex; // cumulativeFunding when last settled
    }

    /// @notice A fill happened on `account`.
    event Fill(bytes32 indexed account, uint256 indexed market, int256 sizeDelta, uint256 price, uint256 fee);
    /// @notice Funding settled into `account`'s balance (positive: paid by the account).
    event FundingSettled(bytes32 indexed account, uint256 indexed market, int256 amount);
    /// @notice Market parameters set by the owner.
    event MarketSet(
        uint256 indexed market, address feed, uint256 initialMarginPpm, uint256 maintenanceMarginPpm
    );
    /// @notice Funding rate set by the owner.
    event FundingRateSet(uint256 indexed market, int256 ratePerSecond);

    /// @inheritdoc IPerpVenue
    IERC20 public immutable usdc;

    Market[] internal _markets;
    mapping(bytes32 account => int256) internal _balances;
    mapping(bytes32 account => mapping(uint256 market => Position)) internal _positions;

    constructor(IERC20 usdc_, address owner_) Ownable(owner_) {
        usdc = usdc_;
    }

    // ------------------------------------------------------------------ owner

    /// @notice Sets the funding rate of `market` (WAD per second; positive: longs pay). Owner only.
    function setFundingRate(uint256 market, int256 ratePerSecond) external onlyOwner {
        _accrueFunding(_market(market));
        _markets[market].fundingRatePerSecond = ratePerSecond;
        emit FundingRateSet(market, ratePerSecond);
    }

    function _listMarket(Market memory m) internal returns (uint256 id) {
        if (_markets.length >= MAX_MARKETS) revert VenueInvalidParameter();
        if (
            m.feed == address(0) || m.maintenanceMarginPpm == 0 || m.maintenanceMarginPpm > m.initialMarginPpm
                || m.initialMarginPpm > PPM || m.depth == 0 || m.stepSize == 0 || m.tickSize == 0
        ) revert VenueInvalidParameter();
        m.listed = true;
        m.lastFundingTime = block.timestamp;
        id = _markets.length;
        _markets.push(m);
        emit MarketSet(id, m.feed, m.initialMarginPpm, m.maintenanceMarginPpm);
    }

    // ------------------------------------------------------------------ engine

    function _deposit(bytes32 account, address from, uint256 amount) internal {
        if (amount == 0) revert VenueZeroAmount();
        usdc.safeTransferFrom(from, address(this), amount);
        _balances[account] += amount.toInt256();
    }

    /// @dev Debits `amount` from the account's balance after checking it keeps its initial margin.
    function _debitFree(bytes32 account, uint256 amount) internal {
        if (amount == 0) revert VenueZeroAmount();
        _settleAllFunding(account);
        _balances[account] -= amount.toInt256();
        (int256 net, uint256 initial,) = _margin(account);
        if (net < initial.toInt256()) revert VenueInsufficientMargin(net, initial);
    }

    function _payOut(address to, uint256 amount) internal {
        uint256 available = usdc.balanceOf(address(this));
        if (amount > available) revert VenueInsufficientLiquidity(available, amount);
        usdc.safeTransfer(to, amount);
    }

    /// @dev Fills `sizeDelta` for `account` at the quoted average price if it is within `limitPrice`.
    /// @return price Average fill price (USD WAD), rounded against the taker.
    /// @return fee Taker fee charged (USDC units), rounded up.
    function _trade(bytes32 account, uint256 marketId, int256 sizeDelta, uint256 limitPrice, bool reduceOnly)
        internal
        returns (uint256 price, uint256 fee)
    {
        Market storage m = _market(marketId);
        if (sizeDelta == 0 || SignedMath.abs(sizeDelta) % m.stepSize != 0) {
            revert VenueInvalidSize(SignedMath.abs(sizeDelta), m.stepSize);
        }
        _accrueFunding(m);
        Position storage p = _positions[account][marketId];
        _settleFunding(account, marketId, p, m);
        int256 oldSize = p.size;
        int256 newSize = oldSize + sizeDelta;
        // A flip ends on the other side: closing a short to zero is none (0 XOR a negative size is negative).
        bool increases =
            SignedMath.abs(newSize) > SignedMath.abs(oldSize) || (newSize != 0 && (newSize ^ oldSize) < 0);
        if (reduceOnly && increases) revert VenueReduceOnlyIncreases();
        (price, fee) = _settleFill(account, m, sizeDelta, limitPrice);
        p.size = newSize;
        emit Fill(account, marketId, sizeDelta, price, fee);
        if (increases) {
            (int256 net, uint256 initial,) = _margin(account);
            if (net < initial.toInt256()) revert VenueInsufficientMargin(net, initial);
        }
    }

    /// @dev Prices the fill, checks the limit, and moves the quote balance by notional and fee.
    function _settleFill(bytes32 account, Market storage m, int256 sizeDelta, uint256 limitPrice)
        internal
        returns (uint256 price, uint256 fee)
    {
        price = _fillPrice(m, sizeDelta);
        if (sizeDelta > 0 ? price > limitPrice : price < limitPrice) {
            revert VenuePriceLimitExceeded(price, limitPrice);
        }
        uint256 absSize = SignedMath.abs(sizeDelta);
        // Buying pays the notional rounded up; selling receives it rounded down.
        uint256 notional = Math.mulDiv(
            absSize, price, WAD * WAD_TO_USDC, sizeDelta > 0 ? Math.Rounding.Ceil : Math.Rounding.Floor
        );
        fee = Math.mulDiv(notional, m.takerFeePpm, PPM, Math.Rounding.Ceil);
        int256 quoteDelta = sizeDelta > 0 ? -notional.toInt256() : notional.toInt256();
        _balances[account] += quoteDelta - fee.toInt256();
    }

    /// @dev mark x (1 +/- (halfSpread + |size| / (2 x depth))): the average price of a size-linear book.
    function _fillPrice(Market storage m, int256 sizeDelta) internal view returns (uint256) {
        uint256 mark = _markPrice(m);
        uint256 impact =
            m.halfSpreadPpm * WAD_PER_PPM + Math.mulDiv(SignedMath.abs(sizeDelta), WAD, 2 * m.depth);
        return sizeDelta > 0
            ? Math.mulDiv(mark, WAD + impact, WAD, Math.Rounding.Ceil)
            : Math.mulDiv(mark, impact >= WAD ? 0 : WAD - impact, WAD);
    }

    /// @dev Net collateral (balance + unrealized PnL - unsettled funding) and margin requirements, USDC units.
    function _margin(bytes32 account)
        internal
        view
        returns (int256 net, uint256 initial, uint256 maintenance)
    {
        net = _balances[account];
        for (uint256 i; i < _markets.length; ++i) {
            Position memory p = _positions[account][i];
            if (p.size == 0) continue;
            Market storage m = _markets[i];
            uint256 mark = _markPrice(m);
            int256 value = p.size * mark.toInt256() / int256(WAD * WAD_TO_USDC);
            net += value - _fundingOwed(p, _currentFunding(m, mark));
            uint256 notional =
                Math.mulDiv(SignedMath.abs(p.size), mark, WAD * WAD_TO_USDC, Math.Rounding.Ceil);
            initial += Math.mulDiv(notional, m.initialMarginPpm, PPM, Math.Rounding.Ceil);
            maintenance += Math.mulDiv(notional, m.maintenanceMarginPpm, PPM, Math.Rounding.Ceil);
        }
    }

    function _settleAllFunding(bytes32 account) internal {
        for (uint256 i; i < _markets.length; ++i) {
            Position storage p = _positions[account][i];
            if (p.size == 0) continue;
            Market storage m = _markets[i];
            _accrueFunding(m);
            _settleFunding(account, i, p, m);
        }
    }

    function _settleFunding(bytes32 account, uint256 marketId, Position storage p, Market storage m)
        internal
    {
        int256 owed = _fundingOwed(p, m.cumulativeFunding);
        p.fundingIndex = m.cumulativeFunding;
        if (owed != 0) {
            _balances[account] -= owed;
            emit FundingSettled(account, marketId, owed);
        }
    }

    /// @dev Funding owed in USDC units; rounded up for payers and down for receivers.
    function _fundingOwed(Position memory p, int256 cumulative) internal pure returns (int256) {
        int256 perUnit = cumulative - p.fundingIndex;
        int256 owedWad = p.size * perUnit / int256(WAD);
        if (owedWad >= 0) return Math.ceilDiv(uint256(owedWad), WAD_TO_USDC).toInt256();
        return -(uint256(-owedWad) / WAD_TO_USDC).toInt256();
    }

    function _accrueFunding(Market storage m) internal {
        // slither-disable-next-line incorrect-equality (accrued already in this block; never ahead of it)
        if (m.lastFundingTime == block.timestamp) return;
        m.cumulativeFunding = _currentFunding(m, _markPrice(m));
        m.lastFundingTime = block.timestamp;
    }

    function _currentFunding(Market storage m, uint256 mark) internal view returns (int256) {
        // Zero when the state is newer than the block a view runs in (see VaultBase._accrueMemory).
        int256 elapsed =
            block.timestamp > m.lastFundingTime ? int256(block.timestamp - m.lastFundingTime) : int256(0);
        return m.cumulativeFunding + m.fundingRatePerSecond * elapsed * mark.toInt256() / int256(WAD);
    }

    /// @dev The feed's price as USD WAD per base unit; refuses non-positive or stale answers.
    function _markPrice(Market storage m) internal view returns (uint256) {
        IAggregatorV3 feed = IAggregatorV3(m.feed);
        // slither-disable-next-line unused-return (round ids are not needed: staleness is checked by time)
        (, int256 answer,, uint256 updatedAt,) = feed.latestRoundData();
        if (answer <= 0 || block.timestamp > updatedAt + m.maxStaleness) revert VenueBadPrice(m.feed);
        return uint256(answer) * 10 ** (18 - feed.decimals());
    }

    function _market(uint256 id) internal view returns (Market storage m) {
        if (id >= _markets.length) revert VenueUnknownMarket();
        return _markets[id];
    }
}

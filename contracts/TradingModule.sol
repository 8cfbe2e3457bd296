// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";

import {IAggregatorV3} from "./interfaces/IAggregatorV3.sol";
import {IPerpRisk} from "./interfaces/IPerpRisk.sol";
import {IPrimeVault, PERMISSION_TRADE, PAUSE_TRADE} from "./interfaces/IPrimeVault.sol";
import {ITradingModule} from "./interfaces/ITradingModule.sol";
import {IVenueAdapter} from "./interfaces/IVenueAdapter.sol";
import {
    BPS,
    WAD,
    BACKSTOP_PRICE_BAND_BPS,
    PERP_PENALTY_SHARE_OF_MAINTENANCE_BPS
} from "./libraries/ConstantsLib.sol";
import {MathLib} from "./libraries/MathLib.sol";
import {OracleLib} from "./libraries/OracleLib.sol";
import {PerpMathLib} from "./libraries/PerpMathLib.sol";

/// @title TradingModule
/// @notice Perp positions of PrimeVault sub-accounts on several venues at once, margined together with
///         their vault collateral; two-step routed orders; venue margin from the pool; the backstop book
///         that takes over positions in liquidations.
/// @dev The vault trusts this module for the perp part of health (`perpRisk`), for settling realized PnL,
///      fees and funding into base balances (`vault.settle`), and for the base it posts at venues
///      (`venueAssets`). Rounding favours the protocol: PnL rounds down, requirements and charges up.
///      The backstop book (Hyperliquid's liquidator vault, dYdX's insurance fund) holds positions taken
///      from liquidated accounts; it belongs to the protocol, so its PnL is not owed to any client and
///      flows into reserves through the venue accounts. The executor unwinds it at the venues in slices.
contract TradingModule is ITradingModule, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;
    using SafeCast for int256;

    bytes32 public constant EXECUTOR_ROLE = keccak256("EXECUTOR_ROLE");
    /// @inheritdoc ITradingModule
    uint256 public constant MAX_MARKETS = 4;
    /// @inheritdoc ITradingModule
    uint256 public constant MAX_VENUES = 4;
    /// @notice The order id the trading module books backstop takeovers under.
    uint256 public constant BACKSTOP_FILL_ID = type(uint256).max;

    /// @dev Sums kept per (market, venue) so that the module knows the vault's netted position and what it
    ///      owes its clients there without looping over clients.
    struct VenueBook {
        int128 netSize; // sum of client sizes, base WAD
        int128 costBasis; // sum of size x entry price, USD WAD
        int256 fundingBasis; // sum of size x funding index at entry, USD WAD
    }

    /// @dev Per account, in one slot: which (market, venue) slots hold a position, and the order epoch
    ///      (orders submitted under an older epoch are dead, see `cancelAllOrders`).
    struct Trader {
        uint16 openSlots;
        uint32 orderEpoch;
    }

    struct FillData {
        uint256 orderId;
        address account;
        uint8 market;
        uint8 venue;
        int256 size; // signed, base WAD
        uint256 price; // set by the fill
        uint256 fee; // set by the fill
        int256 fundingNow; // set by the fill
    }

    struct FillResult {
        int256 cash; // base units to settle into the account: realized PnL less funding and fees
        uint256 notional; // USD WAD
        uint256 fees; // base units
    }

    /// @inheritdoc ITradingModule
    IPrimeVault public immutable vault;
    IERC20 internal immutable _base;
    /// @dev USD WAD per base unit: 10^(18 - base decimals).
    uint256 internal immutable _baseUnit;

    PerpMarket[] internal _markets;
    IVenueAdapter[] internal _venues;
    Order[] internal _orders;
    mapping(address account => mapping(uint256 slot => Position)) internal _positions;
    mapping(address account => Trader) internal _traders;
    mapping(uint256 slot => VenueBook) internal _books;
    mapping(uint256 slot => Position) internal _backstop;

    constructor(IPrimeVault vault_, address admin) {
        vault = vault_;
        _base = IERC20(vault_.baseAsset());
        _baseUnit = 10 ** (18 - IERC20Metadata(address(_base)).decimals());
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    // ================================================================== admin

    /// @notice Lists a perp market priced by `feed`. Admin only. Every venue must already quote it at margin
    ///         fractions no looser than these.
    function addMarket(
        string calldata ticker,
        address feed,
        uint32 maxStaleness,
        uint16 initialMarginBps,
        uint16 maintenanceMarginBps
    ) external onlyRole(DEFAULT_ADMIN_ROLE) {
        uint256 id = _markets.length;
        if (id == MAX_MARKETS) revert TooManyMarkets(MAX_MARKETS);
        if (feed == address(0)) revert ZeroAddress();
        if (maxStaleness == 0) revert InvalidStaleness();
        if (maintenanceMarginBps == 0 || maintenanceMarginBps > initialMarginBps || initialMarginBps > BPS) {
            revert InvalidMarginFractions(initialMarginBps, maintenanceMarginBps);
        }
        _markets.push(
            PerpMarket(
                feed,
                maxStaleness,
                IAggregatorV3(feed).decimals(),
                initialMarginBps,
                maintenanceMarginBps,
                ticker
            )
        );
        for (uint256 v; v < _venues.length; ++v) {
            _requireNotLooser(id, v);
        }
        emit PerpMarketListed(id, ticker, feed, initialMarginBps, maintenanceMarginBps);
    }

    /// @notice Adds a venue adapter serving this module. Admin only.
    function addVenue(IVenueAdapter adapter) external onlyRole(DEFAULT_ADMIN_ROLE) {
        uint256 id = _venues.length;
        if (id == MAX_VENUES) revert TooManyVenues(MAX_VENUES);
        if (adapter.tradingModule() != address(this)) revert AdapterNotForThisModule(address(adapter));
        _venues.push(adapter);
        for (uint256 m; m < _markets.length; ++m) {
            _requireNotLooser(m, id);
        }
        emit VenueAdded(id, address(adapter));
    }

    // ================================================================== orders

    /// @inheritdoc ITradingModule
    function submitOrder(
        address account,
        uint8 market,
        int256 size,
        uint256 limitPrice,
        uint256 deadline,
        bool reduceOnly
    ) external nonReentrant returns (uint256 orderId) {
        if (vault.pausedActions() & PAUSE_TRADE != 0) revert Paused(PAUSE_TRADE);
        bool byOwner = _requireTrader(account);
        if (market >= _markets.length) revert UnknownMarket(market);
        if (size == 0 || limitPrice == 0) revert ZeroAmount();
        orderId = _orders.length;
        if (deadline <= block.timestamp) revert OrderExpired(orderId, deadline);
        _orders.push(
            Order({
                account: account,
                market: market,
                reduceOnly: reduceOnly,
                status: OrderStatus.Open,
                deadline: deadline.toUint64(),
                size: size.toInt128(),
                limitPrice: limitPrice.toUint128(),
                operator: byOwner ? address(0) : msg.sender,
                epoch: _traders[account].orderEpoch
            })
        );
        emit OrderSubmitted(orderId, account, market, size, limitPrice, deadline, reduceOnly);
    }

    /// @inheritdoc ITradingModule
    function cancelOrder(uint256 orderId) external nonReentrant {
        Order storage o = _openOrder(orderId);
        if (block.timestamp > o.deadline) {
            _cancel(orderId, abi.encodeWithSelector(OrderExpired.selector, orderId, o.deadline));
        } else {
            _requireTrader(o.account);
            _cancel(orderId, abi.encodeWithSelector(OrderCancelledByUser.selector, orderId));
        }
    }

    /// @inheritdoc ITradingModule
    function cancelAllOrders(address account) external nonReentrant {
        if (msg.sender != vault.ownerOf(account)) revert NotAuthorized(msg.sender, account, 0);
        uint32 epoch = _traders[account].orderEpoch + 1;
        _traders[account].orderEpoch = epoch;
        emit AllOrdersCancelled(account, epoch);
    }

    /// @inheritdoc ITradingModule
    function executeOrders(Execution[] calldata executions) external nonReentrant onlyRole(EXECUTOR_ROLE) {
        // Paused trading executes nothing: open orders stay open until unpaused or expired.
        if (vault.pausedActions() & PAUSE_TRADE != 0) revert Paused(PAUSE_TRADE);
        for (uint256 i; i < executions.length; ++i) {
            // A call to this contract under this function's reentrancy guard; the order's status is re-read
            // after it, and only an order still open is cancelled.
            // slither-disable-next-line reentrancy-no-eth
            try this.executeOrder(executions[i]) {}
            catch (bytes memory reason) {
                uint256 id = executions[i].orderId;
                if (id < _orders.length && _orders[id].status == OrderStatus.Open) _cancel(id, reason);
            }
        }
    }

    /// @notice One execution; called by this contract only, inside `executeOrders`' try/catch, so that a
    ///         failure unwinds every venue's fill of that order and nothing else.
    function executeOrder(Execution calldata e) external {
        if (msg.sender != address(this)) revert OnlyTradingModuleItself();
        Order storage o = _openOrder(e.orderId);
        if (block.timestamp > o.deadline) revert OrderExpired(e.orderId, o.deadline);
        Order memory ord = o;
        // An order dies with the permission that placed it, and with its owner's cancel-all.
        if (
            ord.epoch != _traders[ord.account].orderEpoch
                || (ord.operator != address(0)
                    && vault.operatorPermissions(ord.account, ord.operator) & PERMISSION_TRADE == 0)
        ) {
            revert OrderAuthorityRevoked(e.orderId);
        }
        o.status = OrderStatus.Executed;
        _requireValidSplit(e, ord);

        // slither-disable-next-line uninitialized-local (an accumulator: zeroed memory that each fill adds to)
        FillResult memory result;
        int256 direction = ord.size > 0 ? int256(1) : int256(-1);
        // Margin is charged per (market, venue) slot, so "increases risk" and reduce-only are decided per
        // slot too: a leg that grows its slot, or flips it, increases risk even if the net size shrinks.
        bool increases = false;
        for (uint256 i; i < e.venues.length; ++i) {
            FillData memory f = FillData(e.orderId, ord.account, ord.market, e.venues[i], 0, 0, 0, 0);
            f.size = direction * e.sizes[i].toInt256();
            int256 before = _positions[ord.account][_slot(ord.market, e.venues[i])].size;
            int256 afterwards = before + f.size;
            if (
                SignedMath.abs(afterwards) > SignedMath.abs(before)
                    || (before != 0 && (afterwards ^ before) < 0)
            ) {
                increases = true;
            }
            _fill(f, ord.limitPrice, result);
        }
        uint256 averagePrice = result.notional * WAD / SignedMath.abs(ord.size);
        if (direction > 0 ? averagePrice > ord.limitPrice : averagePrice < ord.limitPrice) {
            revert LimitPriceExceeded(averagePrice, ord.limitPrice);
        }
        if (ord.reduceOnly && increases) revert ReduceOnlyIncreases(e.orderId);

        vault.settle(ord.account, result.cash, increases);
        emit OrderExecuted(e.orderId, ord.account, averagePrice, result.fees);
    }

    // ================================================================== backstop

    /// @inheritdoc IPerpRisk
    function absorbPositions(address account, uint256 fractionWad, uint256 depthBps)
        external
        nonReentrant
        returns (int256 cash, uint256 penalty)
    {
        if (msg.sender != address(vault)) revert NotAuthorized(msg.sender, account, 0);
        int256 cashWad = 0;
        uint256 penaltyWad = 0;
        uint16 slots = _traders[account].openSlots;
        for (uint256 slot; slots >> slot != 0; ++slot) {
            if ((slots >> slot) & 1 == 0) continue;
            (int256 slotCash, uint256 slotPenalty) = _absorbSlot(account, slot, fractionWad, depthBps);
            cashWad += slotCash;
            penaltyWad += slotPenalty;
        }
        cash = PerpMathLib.toBaseDown(cashWad, _baseUnit);
        penalty = penaltyWad / _baseUnit;
    }

    /// @inheritdoc ITradingModule
    function unwindBackstop(uint8 market, uint8 venue, uint256 size, uint256 limitPrice)
        external
        nonReentrant
        onlyRole(EXECUTOR_ROLE)
    {
        IVenueAdapter adapter = _venue(venue);
        if (market >= _markets.length) revert UnknownMarket(market);
        uint256 slot = _slot(market, venue);
        Position memory b = _backstop[slot];
        if (size == 0 || size > SignedMath.abs(b.size)) {
            revert BackstopTooSmall(market, venue, size, SignedMath.abs(b.size));
        }
        bool buying = b.size < 0;
        _requireWithinBand(market, buying, limitPrice);
        int256 signedSize = buying ? size.toInt256() : -size.toInt256();
        // Effects first: an unwind only shrinks the book (never flips it), so its entry price stays.
        int256 newSize = b.size + signedSize;
        _backstop[slot] = Position(newSize.toInt128(), newSize == 0 ? 0 : b.entryPrice, b.fundingIndex);
        (uint256 price, uint256 fee) = adapter.trade(market, signedSize, limitPrice);
        // slither-disable-next-line unused-return (size and entry were booked above; only the PnL is reported)
        (,, int256 realizedWad) = PerpMathLib.applyFill(b.size, b.entryPrice, signedSize, price);
        emit BackstopUnwound(market, venue, signedSize, price, fee, realizedWad);
    }

    // ================================================================== venue margin

    /// @inheritdoc ITradingModule
    function depositMargin(uint8 venue, uint256 amount) external nonReentrant onlyRole(EXECUTOR_ROLE) {
        IVenueAdapter adapter = _venue(venue);
        vault.sendToTradingModule(amount);
        _base.forceApprove(address(adapter), amount);
        adapter.depositMargin(amount);
        emit VenueMarginMoved(venue, amount.toInt256());
    }

    /// @inheritdoc ITradingModule
    function requestMarginWithdrawal(uint8 venue, uint256 amount)
        external
        nonReentrant
        onlyRole(EXECUTOR_ROLE)
        returns (uint256 claimableAt)
    {
        claimableAt = _venue(venue).requestWithdrawal(amount);
        _returnToVault(venue);
    }

    /// @inheritdoc ITradingModule
    function claimMarginWithdrawals(uint8 venue)
        external
        nonReentrant
        onlyRole(EXECUTOR_ROLE)
        returns (uint256 amount)
    {
        // slither-disable-next-line unused-return (the module forwards its whole balance, which includes the claim)
        _venue(venue).claimWithdrawal();
        amount = _returnToVault(venue);
    }

    // ================================================================== views

    /// @inheritdoc IPerpRisk
    function perpRisk(address account)
        public
        view
        returns (int256 pnl, uint256 initialRequirement, uint256 maintenanceRequirement, bool hasPositions)
    {
        uint16 slots = _traders[account].openSlots;
        hasPositions = slots != 0;
        uint256[] memory marks = new uint256[](_markets.length);
        int256 pnlWad = 0;
        uint256 initialWad = 0;
        uint256 maintenanceWad = 0;
        for (uint256 slot; slots >> slot != 0; ++slot) {
            if ((slots >> slot) & 1 == 0) continue;
            (uint8 market, uint8 venue) = _unslot(slot);
            if (marks[market] == 0) marks[market] = _mark(market);
            Position memory p = _positions[account][slot];
            pnlWad += PerpMathLib.unrealizedPnl(p.size, p.entryPrice, marks[market])
            - PerpMathLib.fundingOwed(p.size, p.fundingIndex, _venues[venue].fundingIndex(market));
            // slither-disable-next-line divide-before-multiply (as the keeper's exact model; the ceilDiv below absorbs it)
            uint256 notional = SignedMath.abs(p.size) * marks[market] / WAD;
            PerpMarket storage m = _markets[market];
            initialWad += notional * m.initialMarginBps;
            maintenanceWad += notional * m.maintenanceMarginBps;
        }
        pnl = PerpMathLib.toBaseDown(pnlWad, _baseUnit);
        initialRequirement = Math.ceilDiv(initialWad, BPS * _baseUnit);
        maintenanceRequirement = Math.ceilDiv(maintenanceWad, BPS * _baseUnit);
    }

    /// @inheritdoc IPerpRisk
    function hasOpenPositions(address account) external view returns (bool) {
        return _traders[account].openSlots != 0;
    }

    /// @inheritdoc IPerpRisk
    function venueAssets() external view returns (int256 assets) {
        for (uint256 v; v < _venues.length; ++v) {
            // slither-disable-next-line unused-return (only the net collateral is an asset; requirements are not)
            (int256 net,,) = _venues[v].margin();
            assets += net + _venues[v].pendingWithdrawals().toInt256();
        }
        int256 owedWad = 0;
        for (uint256 market; market < _markets.length; ++market) {
            uint256 mark = 0;
            for (uint256 v; v < _venues.length; ++v) {
                VenueBook memory b = _books[_slot(market, v)];
                if (b.netSize == 0 && b.costBasis == 0 && b.fundingBasis == 0) continue;
                if (mark == 0) mark = _mark(uint8(market));
                int256 funding = _venues[v].fundingIndex(uint8(market));
                // What clients are owed there: unrealized PnL less the funding they owe.
                owedWad += int256(b.netSize) * mark.toInt256() / int256(WAD) - b.costBasis
                - (int256(b.netSize) * funding / int256(WAD) - b.fundingBasis / int256(WAD));
            }
        }
        // Rounded up: the vault never counts more than its venue accounts are worth to it.
        assets -= owedWad >= 0
            ? Math.ceilDiv(uint256(owedWad), _baseUnit).toInt256()
            : -(uint256(-owedWad) / _baseUnit).toInt256();
    }

    /// @inheritdoc ITradingModule
    function order(uint256 orderId) external view returns (Order memory) {
        return _orders[orderId];
    }

    /// @inheritdoc ITradingModule
    function orderCount() external view returns (uint256) {
        return _orders.length;
    }

    /// @inheritdoc ITradingModule
    function position(address account, uint8 market, uint8 venue) external view returns (Position memory) {
        return _positions[account][_slot(market, venue)];
    }

    /// @inheritdoc ITradingModule
    function positionsOf(address account)
        external
        view
        returns (uint16 openSlots, Position[] memory positions)
    {
        openSlots = _traders[account].openSlots;
        positions = new Position[](MathLib.popCount(openSlots));
        uint256 k = 0;
        for (uint256 slot; openSlots >> slot != 0; ++slot) {
            if ((openSlots >> slot) & 1 == 1) positions[k++] = _positions[account][slot];
        }
    }

    /// @inheritdoc ITradingModule
    function fundingIndexes() external view returns (int256[] memory indexes) {
        indexes = new int256[](MAX_MARKETS * MAX_VENUES);
        for (uint256 m; m < _markets.length; ++m) {
            for (uint256 v; v < _venues.length; ++v) {
                indexes[_slot(m, v)] = _venues[v].fundingIndex(uint8(m));
            }
        }
    }

    /// @inheritdoc ITradingModule
    function netPosition(uint8 market, uint8 venue) external view returns (int256) {
        uint256 slot = _slot(market, venue);
        return int256(_books[slot].netSize) + _backstop[slot].size;
    }

    /// @inheritdoc ITradingModule
    function backstopPosition(uint8 market, uint8 venue) external view returns (Position memory) {
        return _backstop[_slot(market, venue)];
    }

    /// @inheritdoc ITradingModule
    function markets() external view returns (PerpMarket[] memory) {
        return _markets;
    }

    /// @inheritdoc ITradingModule
    function venues() external view returns (address[] memory result) {
        result = new address[](_venues.length);
        for (uint256 v; v < result.length; ++v) {
            result[v] = address(_venues[v]);
        }
    }

    /// @inheritdoc ITradingModule
    function orderEpoch(address account) external view returns (uint256) {
        return _traders[account].orderEpoch;
    }

    /// @inheritdoc ITradingModule
    function backstopPriceBandBps() external pure returns (uint256) {
        return BACKSTOP_PRICE_BAND_BPS;
    }

    /// @inheritdoc ITradingModule
    function perpPenaltyShareOfMaintenanceBps() external pure returns (uint256) {
        return PERP_PENALTY_SHARE_OF_MAINTENANCE_BPS;
    }

    // ================================================================== internal

    /// @dev Trades `f.size` at `f.venue` within `limitPrice` and books it on the account's position.
    function _fill(FillData memory f, uint256 limitPrice, FillResult memory result) internal {
        IVenueAdapter adapter = _venue(f.venue);
        (f.price, f.fee) = adapter.trade(f.market, f.size, limitPrice);
        f.fundingNow = adapter.fundingIndex(f.market);
        result.cash += PerpMathLib.toBaseDown(_book(f), _baseUnit) - f.fee.toInt256();
        result.notional += SignedMath.abs(f.size) * f.price / WAD;
        result.fees += f.fee;
        emit Fill(f.orderId, f.account, f.market, f.venue, f.size, f.price, f.fee);
    }

    /// @dev Settles the position's funding up to `fundingNow`, then applies the fill: it grows the position at
    ///      a blended entry price or closes part of it, realizing PnL against the entry price. Keeps the
    ///      venue's book (netted size, cost and funding bases) in step. Returns the cash to settle, USD WAD.
    function _book(FillData memory f) internal returns (int256 cashWad) {
        uint256 slot = _slot(f.market, f.venue);
        Position memory old = _positions[f.account][slot];
        (int256 newSize, uint256 newEntry, int256 realizedWad) =
            PerpMathLib.applyFill(old.size, old.entryPrice, f.size, f.price);
        cashWad = realizedWad - PerpMathLib.fundingOwed(old.size, old.fundingIndex, f.fundingNow);
        _positions[f.account][slot] = Position(newSize.toInt128(), newEntry.toUint128(), f.fundingNow);

        VenueBook storage b = _books[slot];
        b.netSize = (int256(b.netSize) + f.size).toInt128();
        int256 oldCost = int256(old.size) * uint256(old.entryPrice).toInt256() / int256(WAD);
        b.costBasis = (int256(b.costBasis) + newSize * newEntry.toInt256() / int256(WAD) - oldCost).toInt128();
        b.fundingBasis += newSize * f.fundingNow - int256(old.size) * old.fundingIndex;
        _setSlot(f.account, slot, newSize != 0);
    }

    /// @dev Moves `fractionWad` of `account`'s position in `slot` to the backstop at the discounted mark.
    ///      Returns the account's cash (USD WAD) and the discount's cost to it (USD WAD).
    function _absorbSlot(address account, uint256 slot, uint256 fractionWad, uint256 depthBps)
        internal
        returns (int256 cashWad, uint256 penaltyWad)
    {
        (uint8 market, uint8 venue) = _unslot(slot);
        FillData memory f = FillData(BACKSTOP_FILL_ID, account, market, venue, 0, 0, 0, 0);
        int256 size = _positions[account][slot].size;
        // Rounded up onto the venue's step: taking a little more never leaves the account short of its
        // target, and both the account's rest and the backstop's share stay tradable at the venue.
        uint256 step = _venues[venue].marketParams(market).stepSize;
        uint256 taken = Math.min(
            Math.mulDiv(SignedMath.abs(size), fractionWad, WAD * step, Math.Rounding.Ceil) * step,
            SignedMath.abs(size)
        );
        f.size = size > 0 ? -taken.toInt256() : taken.toInt256();
        uint256 mark = _mark(market);
        uint256 discountBps = _absorbDiscountBps(_markets[market].maintenanceMarginBps, depthBps);
        // The account sells a long below the mark and buys back a short above it.
        f.price = size > 0
            ? Math.mulDiv(mark, BPS - discountBps, BPS)
            : Math.mulDiv(mark, BPS + discountBps, BPS, Math.Rounding.Ceil);
        f.fundingNow = _venues[venue].fundingIndex(market);
        cashWad = _book(f);
        penaltyWad = taken * (f.price > mark ? f.price - mark : mark - f.price) / WAD;

        _addToBackstop(slot, -f.size, f.price, f.fundingNow);
        emit PositionAbsorbed(account, market, venue, f.size, f.price, penaltyWad / _baseUnit);
    }

    /// @dev The backstop takes `size` at `price`; its realized PnL is already in the venue account.
    function _addToBackstop(uint256 slot, int256 size, uint256 price, int256 fundingNow) internal {
        Position memory b = _backstop[slot];
        // slither-disable-next-line unused-return (realized PnL is the venue account's, so the reserves')
        (int256 newSize, uint256 newEntry,) = PerpMathLib.applyFill(b.size, b.entryPrice, size, price);
        _backstop[slot] = Position(newSize.toInt128(), newEntry.toUint128(), fundingNow);
    }

    function _requireValidSplit(Execution calldata e, Order memory o) internal view {
        if (e.venues.length == 0 || e.venues.length != e.sizes.length) revert InvalidSplit(e.orderId);
        uint256 total = 0;
        uint256 seen = 0;
        for (uint256 i; i < e.sizes.length; ++i) {
            uint256 bit = 1 << e.venues[i];
            if (e.sizes[i] == 0 || seen & bit != 0 || e.venues[i] >= _venues.length) {
                revert InvalidSplit(e.orderId);
            }
            seen |= bit;
            total += e.sizes[i];
        }
        if (total != SignedMath.abs(o.size)) revert InvalidSplit(e.orderId);
    }

    /// @dev Passes for the owner (returns true) or an operator with PERMISSION_TRADE (returns false).
    function _requireTrader(address account) internal view returns (bool byOwner) {
        if (msg.sender == vault.ownerOf(account)) return true;
        if (vault.operatorPermissions(account, msg.sender) & PERMISSION_TRADE == 0) {
            revert NotAuthorized(msg.sender, account, PERMISSION_TRADE);
        }
    }

    /// @dev A bounded unwind price, so that even the executor's key cannot trade the book far from the oracle.
    function _requireWithinBand(uint8 market, bool buying, uint256 limitPrice) internal view {
        uint256 mark = _mark(market);
        if (buying
                ? limitPrice > mark * (BPS + BACKSTOP_PRICE_BAND_BPS) / BPS
                : limitPrice < mark * (BPS - BACKSTOP_PRICE_BAND_BPS) / BPS) {
            revert PriceOutsideBand(limitPrice, mark, BACKSTOP_PRICE_BAND_BPS);
        }
    }

    /// @dev The backstop's discount on a market: the shortfall depth, between half and all of the penalty,
    ///      which is PERP_PENALTY_SHARE_OF_MAINTENANCE_BPS of the maintenance margin fraction.
    function _absorbDiscountBps(uint256 maintenanceMarginBps, uint256 depthBps)
        internal
        pure
        returns (uint256)
    {
        uint256 penaltyBps = maintenanceMarginBps * PERP_PENALTY_SHARE_OF_MAINTENANCE_BPS / BPS;
        uint256 floor = penaltyBps / 2;
        return Math.min(penaltyBps, depthBps > floor ? depthBps : floor);
    }

    /// @dev A venue must not margin a market more loosely than the vault does, or the vault's netted
    ///      position could be closed by the venue while its clients look healthy.
    function _requireNotLooser(uint256 market, uint256 venue) internal view {
        IVenueAdapter.MarketParams memory p = _venues[venue].marketParams(uint8(market));
        PerpMarket storage m = _markets[market];
        if (
            p.initialMarginPpm > uint256(m.initialMarginBps) * 100
                || p.maintenanceMarginPpm > uint256(m.maintenanceMarginBps) * 100
        ) {
            revert VenueMarginLooserThanVault(market, venue);
        }
    }

    function _cancel(uint256 orderId, bytes memory reason) internal {
        Order storage o = _orders[orderId];
        o.status = OrderStatus.Cancelled;
        emit OrderCancelled(orderId, o.account, reason);
    }

    function _openOrder(uint256 orderId) internal view returns (Order storage o) {
        if (orderId >= _orders.length || _orders[orderId].status != OrderStatus.Open) {
            revert OrderNotOpen(orderId);
        }
        return _orders[orderId];
    }

    function _returnToVault(uint8 venue) internal returns (uint256 amount) {
        amount = _base.balanceOf(address(this));
        if (amount > 0) {
            _base.safeTransfer(address(vault), amount);
            emit VenueMarginMoved(venue, -amount.toInt256());
        }
    }

    function _mark(uint8 market) internal view returns (uint256) {
        PerpMarket storage m = _markets[market];
        return OracleLib.read(m.feed, m.maxStaleness) * 10 ** (18 - m.feedDecimals);
    }

    function _venue(uint8 venue) internal view returns (IVenueAdapter) {
        if (venue >= _venues.length) revert UnknownVenue(venue);
        return _venues[venue];
    }

    function _setSlot(address account, uint256 slot, bool open) internal {
        uint16 bit = uint16(1 << slot);
        uint16 current = _traders[account].openSlots;
        uint16 next = open ? current | bit : current & ~bit;
        if (next != current) _traders[account].openSlots = next;
    }

    function _slot(uint256 market, uint256 venue) internal pure returns (uint256) {
        return market * MAX_VENUES + venue;
    }

    function _unslot(uint256 slot) internal pure returns (uint8 market, uint8 venue) {
        return (uint8(slot / MAX_VENUES), uint8(slot % MAX_VENUES));
    }
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";

import {IPerpRisk} from "./interfaces/IPerpRisk.sol";
import {IPrimeVault, PERMISSION_TRADE, PAUSE_TRADE} from "./interfaces/IPrimeVault.sol";
import {ITradingModule} from "./interfaces/ITradingModule.sol";
import {IVenueAdapter} from "./interfaces/IVenueAdapter.sol";
import {
    BPS,
    MAX_AMOUNT,
    WAD,
    BACKSTOP_PRICE_BAND_BPS,
    PERP_PENALTY_SHARE_OF_MAINTENANCE_BPS
} from "./libraries/ConstantsLib.sol";
import {MathLib} from "./libraries/MathLib.sol";
import {OracleLib} from "./libraries/OracleLib.sol";
import {PerpMathLib} from "./libraries/PerpMathLib.sol";
import {AsyncOrderModule} from "./modules/AsyncOrderModule.sol";
import {TradingBase} from "./modules/TradingBase.sol";

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
///      Storage and shared internals live in `TradingBase`; the asynchronous order protocol (v2: commit a
///      split, report fills, reject and expire children) runs in `AsyncOrderModule` by delegatecall, as the
///      vault runs `liquidate`, which keeps this contract under the size limit.
contract TradingModule is ITradingModule, TradingBase {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;
    using SafeCast for int256;

    /// @inheritdoc ITradingModule
    uint256 public constant MAX_MARKETS = _MAX_MARKETS;
    /// @inheritdoc ITradingModule
    uint256 public constant MAX_VENUES = _MAX_VENUES;
    /// @notice The order id the trading module books backstop takeovers under.
    uint256 public constant BACKSTOP_FILL_ID = type(uint256).max;

    /// @dev The same as `_VENUE_VIEW_GAS` for a venue's whole account (`margin`), which may value every market.
    uint256 internal constant _VENUE_MARGIN_GAS = 1_000_000;

    struct FillResult {
        int256 cash; // base units to settle into the account: realized PnL less funding and fees
        uint256 notional; // USD WAD
        uint256 fees; // base units
    }

    /// @notice The contract the asynchronous order functions delegate-call; deployed by the constructor.
    address public immutable asyncOrderModule;

    constructor(IPrimeVault vault_, address admin) TradingBase(vault_) {
        asyncOrderModule = address(new AsyncOrderModule(vault_));
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    // ================================================================== admin

    /// @notice Lists a perp market priced by `feed` (at most 18 decimals, `UnsupportedFeedDecimals`). Admin only.
    ///         Every venue must already quote it at margin fractions no looser than these. Run by the module
    ///         (`AsyncOrderModule.addMarket`), which keeps this contract under the size limit.
    function addMarket(string calldata, address, uint32, uint16, uint16) external {
        _delegateToModule();
    }

    /// @notice Adds a venue adapter serving this module. Admin only.
    function addVenue(IVenueAdapter adapter) external onlyRole(DEFAULT_ADMIN_ROLE) {
        uint256 id = _venueCount;
        if (id == MAX_VENUES) revert TooManyVenues(MAX_VENUES);
        if (address(adapter).code.length == 0) revert NotAContract(address(adapter));
        if (adapter.tradingModule() != address(this)) revert AdapterNotForThisModule(address(adapter));
        _venues[id] = adapter;
        _venueCount = uint8(id + 1);
        for (uint256 m; m < _marketCount; ++m) {
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
        if (_vault.pausedActions() & PAUSE_TRADE != 0) revert Paused(PAUSE_TRADE);
        bool byOwner = _requireTrader(account);
        if (market >= _marketCount) revert UnknownMarket(market);
        if (size == 0 || limitPrice == 0) revert ZeroAmount();
        orderId = _orderCount;
        if (deadline <= block.timestamp) revert OrderExpired(orderId, deadline);
        // What the order's record cannot hold is refused by name (the casts below are then exact).
        if (size != int128(size) || limitPrice > type(uint128).max || deadline > type(uint64).max) {
            revert OrderOutOfRange(size, limitPrice, deadline);
        }
        _orderCount = (orderId + 1).toUint40();
        _orders[orderId] = Order({
            account: account,
            market: market,
            reduceOnly: reduceOnly,
            status: OrderStatus.Open,
            deadline: uint64(deadline),
            openChildren: 0,
            size: int128(size),
            limitPrice: uint128(limitPrice),
            operator: byOwner ? address(0) : msg.sender,
            epoch: _traders[account].orderEpoch
        });
        emit OrderSubmitted(orderId, account, market, size, limitPrice, deadline, reduceOnly);
    }

    /// @inheritdoc ITradingModule
    function cancelOrder(uint256 orderId) external nonReentrant {
        Order storage o = _openOrder(orderId);
        if (block.timestamp > o.deadline) {
            _cancel(orderId, abi.encodeWithSelector(OrderExpired.selector, orderId, o.deadline));
        } else {
            // The operator that placed it may withdraw it even after losing its permission (a session-key
            // contract revoking a key's orders): the order could run again if the permission came back.
            if (msg.sender != o.operator) _requireTrader(o.account);
            _cancel(orderId, abi.encodeWithSelector(OrderCancelledByUser.selector, orderId));
        }
    }

    /// @inheritdoc ITradingModule
    function cancelAllOrders(address account) external nonReentrant {
        if (msg.sender != _vault.ownerOf(account)) revert NotAuthorized(msg.sender, account, 0);
        uint32 epoch = _traders[account].orderEpoch + 1;
        _traders[account].orderEpoch = epoch;
        emit AllOrdersCancelled(account, epoch);
    }

    /// @inheritdoc ITradingModule
    function executeOrders(Execution[] calldata executions) external nonReentrant onlyRole(EXECUTOR_ROLE) {
        // Paused trading executes nothing: open orders stay open until unpaused or expired.
        if (_vault.pausedActions() & PAUSE_TRADE != 0) revert Paused(PAUSE_TRADE);
        for (uint256 i; i < executions.length; ++i) {
            // A call to this contract under this function's reentrancy guard; the order's status is re-read
            // after it, and only an order still open is cancelled.
            // slither-disable-next-line reentrancy-no-eth
            try this.executeOrder(executions[i]) {}
            catch (bytes memory reason) {
                uint256 id = executions[i].orderId;
                if (_orders[id].status == OrderStatus.Open) _cancel(id, reason);
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
        _requireOrderAuthority(e.orderId, ord);
        o.status = OrderStatus.Executed;
        bool wasTrading = _isTrading(ord.account);
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
            if (_increases(ord.account, _slot(ord.market, e.venues[i]), f.size)) increases = true;
            _fill(f, ord.limitPrice, result);
        }
        uint256 averagePrice = result.notional * WAD / SignedMath.abs(ord.size);
        if (direction > 0 ? averagePrice > ord.limitPrice : averagePrice < ord.limitPrice) {
            revert LimitPriceExceeded(averagePrice, ord.limitPrice);
        }
        if (ord.reduceOnly && increases) revert ReduceOnlyIncreases(e.orderId);

        _syncTrading(ord.account, wasTrading);
        // Under the portfolio rule shrinking a slot can raise the requirement (a hedge closed), so no trade of a
        // portfolio account is exempt from the initial check.
        _vault.settle(ord.account, result.cash, increases || _vault.portfolioMode(ord.account));
        emit OrderExecuted(e.orderId, ord.account, averagePrice, result.fees);
    }

    // ================================================================== asynchronous orders (v2)

    /// @inheritdoc ITradingModule
    function commitSplit(uint256, ChildSpec[] calldata) external returns (uint256) {
        _delegateToModule();
    }

    /// @inheritdoc ITradingModule
    function reportFill(uint256, bytes32, uint256, uint256, uint256) external {
        _delegateToModule();
    }

    /// @inheritdoc ITradingModule
    function reportFills(FillReport[] calldata) external returns (uint256) {
        _delegateToModule();
    }

    /// @inheritdoc ITradingModule
    function rejectChild(uint256, bytes calldata) external {
        _delegateToModule();
    }

    /// @inheritdoc ITradingModule
    function expireChild(uint256) external {
        _delegateToModule();
    }

    // ================================================================== backstop

    /// @inheritdoc IPerpRisk
    function absorbPositions(address account, uint256 fractionWad, uint256 depthBps, uint256 maxDiscountBps)
        external
        nonReentrant
        returns (int256 cash, uint256 penalty)
    {
        if (msg.sender != address(_vault)) revert NotAuthorized(msg.sender, account, 0);
        Trader memory t = _traders[account];
        // Open child orders are cancelled at once: the account gets nothing more from a venue, and what they
        // reserved is released. A venue's later fill of one of them goes to the backstop book.
        if (t.openChildren != 0) {
            uint40 liveFrom = _childCount;
            _traders[account] = Trader(t.openSlots, t.orderEpoch, liveFrom, 0, 0);
            emit OpenChildrenCancelled(account, liveFrom, t.openChildren, t.reservedMargin);
        }
        int256 cashWad = 0;
        uint256 penaltyWad = 0;
        uint16 slots = t.openSlots;
        for (uint256 slot; slots >> slot != 0; ++slot) {
            if ((slots >> slot) & 1 == 0) continue;
            uint256 discountBps = Math.min(
                _absorbDiscountBps(_markets[slot / _MAX_VENUES].maintenanceMarginBps, depthBps),
                maxDiscountBps
            );
            (int256 slotCash, uint256 slotPenalty) = _absorbSlot(account, slot, fractionWad, discountBps);
            cashWad += slotCash;
            penaltyWad += slotPenalty;
        }
        cash = PerpMathLib.toBaseDown(cashWad, _baseUnit);
        penalty = penaltyWad / _baseUnit;
        _syncTrading(account, t.openSlots != 0 || t.openChildren != 0);
    }

    /// @inheritdoc ITradingModule
    function unwindBackstop(uint8, uint8, uint256, uint256) external {
        _delegateToModule();
    }

    /// @inheritdoc ITradingModule
    function commitBackstopUnwind(uint8, uint8, uint256, uint256, uint256) external returns (uint256) {
        _delegateToModule();
    }

    // ================================================================== venue margin

    /// @inheritdoc ITradingModule
    function depositMargin(uint8 venue, uint256 amount) external nonReentrant onlyRole(EXECUTOR_ROLE) {
        IVenueAdapter adapter = _venue(venue);
        _venueMarginSent[venue] += amount.toInt256();
        _vault.sendToTradingModule(amount);
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
        uint256 held = _baseHeld();
        claimableAt = _venue(venue).requestWithdrawal(amount);
        _returnToVault(venue, held);
    }

    /// @inheritdoc ITradingModule
    function claimMarginWithdrawals(uint8 venue)
        external
        nonReentrant
        onlyRole(EXECUTOR_ROLE)
        returns (uint256 amount)
    {
        uint256 held = _baseHeld();
        // slither-disable-next-line unused-return (the module forwards its whole balance, which includes the claim)
        _venue(venue).claimWithdrawal();
        amount = _returnToVault(venue, held);
    }

    // ================================================================== views

    /// @inheritdoc ITradingModule
    function venueMarginSent(uint8 venue) external view returns (int256) {
        _venue(venue);
        return _venueMarginSent[venue];
    }

    /// @inheritdoc IPerpRisk
    function perpRisk(address account)
        external
        view
        returns (int256 pnl, uint256 initialRequirement, uint256 maintenanceRequirement, bool hasPositions)
    {
        return _perpRisk(account, false);
    }

    /// @inheritdoc IPerpRisk
    function liquidationRisk(address account)
        external
        view
        returns (int256 pnl, uint256 initialRequirement, uint256 maintenanceRequirement, bool hasPositions)
    {
        return _perpRisk(account, true);
    }

    /// @dev `perpRisk`, or with `forLiquidation` `liquidationRisk`: a venue that cannot answer its funding index
    ///      counts no funding since the position's last booking instead of reverting.
    function _perpRisk(address account, bool forLiquidation)
        internal
        view
        returns (int256 pnl, uint256 initialRequirement, uint256 maintenanceRequirement, bool hasPositions)
    {
        uint16 slots = _traders[account].openSlots;
        hasPositions = slots != 0 || _traders[account].openChildren != 0;
        // slither-disable-next-line uninitialized-local (zeroed memory: a market's mark is read when first needed)
        uint256[_MAX_MARKETS] memory marks;
        // The return variables sum the USD WAD figures first (fewer stack slots), then turn into base units.
        for (uint256 slot; slots >> slot != 0; ++slot) {
            if ((slots >> slot) & 1 == 0) continue;
            (uint8 market, uint8 venue) = _unslot(slot);
            if (marks[market] == 0) marks[market] = _mark(market);
            Position memory p = _positions[account][slot];
            int256 fundingNow = forLiquidation
                ? _fundingIndexOr(venue, market, p.fundingIndex)
                : _venues[venue].fundingIndex(market);
            pnl += PerpMathLib.unrealizedPnl(p.size, p.entryPrice, marks[market])
            - PerpMathLib.fundingOwed(p.size, p.fundingIndex, fundingNow);
            // Rounded up (USD WAD), like the requirements it feeds: never below the exact figure.
            uint256 notional = Math.ceilDiv(SignedMath.abs(p.size) * marks[market], WAD);
            PerpMarket storage m = _markets[market];
            initialRequirement += notional * m.initialMarginBps;
            maintenanceRequirement += notional * m.maintenanceMarginBps;
        }
        pnl = PerpMathLib.toBaseDown(pnl, _baseUnit);
        // What open child orders reserve counts in the initial requirement only: it blocks withdrawals,
        // borrowing and new orders, and never makes an account liquidatable.
        initialRequirement =
            Math.ceilDiv(initialRequirement, BPS * _baseUnit) + _traders[account].reservedMargin;
        maintenanceRequirement = Math.ceilDiv(maintenanceRequirement, BPS * _baseUnit);
    }

    /// @inheritdoc IPerpRisk
    function hasOpenPositions(address account) external view returns (bool) {
        return _traders[account].openSlots != 0 || _traders[account].openChildren != 0;
    }

    /// @inheritdoc IPerpRisk
    function openChildCount(address account) external view returns (uint256) {
        return _traders[account].openChildren;
    }

    /// @inheritdoc IPerpRisk
    function venueAssets() external view returns (int256 assets) {
        // A venue that cannot answer (its own oracle stale, paused) must not zero every venue's assets in a batch's
        // bad-debt write-off: its account counts as nothing, and what its clients are owed there still counts
        // against it (what they owe does not); its funding counts none since their entries, as their liquidation.
        uint256 unreadable = 0;
        // slither-disable-next-line uninitialized-local (zeroed memory: a venue that cannot answer keeps 0)
        int256[_MAX_VENUES] memory nets;
        for (uint256 v; v < _venueCount; ++v) {
            // Only the net collateral (the first of three words) is an asset; requirements are not. A figure past
            // `MAX_AMOUNT` either way is no account's: as no answer (and the sum cannot overflow).
            (bool answered, bytes32 net) =
                _venueWord(v, abi.encodeCall(IVenueAdapter.margin, ()), _VENUE_MARGIN_GAS, 3 * 32);
            if (answered && SignedMath.abs(int256(uint256(net))) <= MAX_AMOUNT) {
                nets[v] = int256(uint256(net));
            } else {
                unreadable |= 1 << v;
            }
            // Withdrawals it cannot report count as nothing too: only an understatement of reserves.
            (, bytes32 pending) =
                _venueWord(v, abi.encodeCall(IVenueAdapter.pendingWithdrawals, ()), _VENUE_VIEW_GAS, 32);
            if (uint256(pending) <= MAX_AMOUNT) assets += int256(uint256(pending));
        }
        // A venue whose funding index cannot be read for a market its clients hold counts as one that cannot
        // answer: its margin includes the funding it paid the vault for them, which would then go uncounted
        // against it and overstate reserves by that much.
        // slither-disable-next-line uninitialized-local (zeroed memory: read for every slot its clients hold)
        int256[_MAX_MARKETS * _MAX_VENUES] memory funding;
        for (uint256 market; market < _marketCount; ++market) {
            for (uint256 v; v < _venueCount; ++v) {
                uint256 slot = _slot(market, v);
                VenueBook memory b = _books[slot];
                if (b.netSize == 0) continue;
                (bool answered, int256 index) = _fundingIndex(v, market);
                if (answered) {
                    funding[slot] = index;
                } else {
                    unreadable |= 1 << v;
                    funding[slot] = b.fundingBasis / int256(b.netSize); // no funding since their entries
                }
            }
        }
        for (uint256 v; v < _venueCount; ++v) {
            if (unreadable & (1 << v) == 0) assets += nets[v];
        }
        int256 owedWad = 0;
        for (uint256 market; market < _marketCount; ++market) {
            uint256 mark = 0;
            for (uint256 v; v < _venueCount; ++v) {
                uint256 slot = _slot(market, v);
                VenueBook memory b = _books[slot];
                int256 backstop = _backstop[slot].size;
                if (b.netSize == 0 && b.costBasis == 0 && b.fundingBasis == 0 && backstop == 0) continue;
                if (mark == 0) mark = _mark(uint8(market));
                // What clients are owed there: unrealized PnL less the funding they owe.
                int256 owed = int256(b.netSize) * mark.toInt256() / int256(WAD) - b.costBasis
                    - (int256(b.netSize) * funding[slot] / int256(WAD) - b.fundingBasis / int256(WAD));
                bool readable = unreadable & (1 << v) == 0;
                // The backstop's gain at the mark over its entry is not counted until it is unwound: it took the
                // positions at a discount that pays the unwind's fees and spread, and a write-off that counted it
                // would leave those to reserves (an invariant found reserves short by the unwind's cost).
                if (backstop != 0 && readable) {
                    int256 gain = backstop
                        * (mark.toInt256() - uint256(_backstop[slot].entryPrice).toInt256()) / int256(WAD);
                    if (gain > 0) owed += gain;
                }
                if (owed > 0 || readable) owedWad += owed;
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
        return _orderCount;
    }

    /// @inheritdoc ITradingModule
    function childOrder(uint256 childId) external view returns (ChildOrder memory) {
        return _children[childId];
    }

    /// @inheritdoc ITradingModule
    function childOrderCount() external view returns (uint256) {
        return _childCount;
    }

    /// @inheritdoc ITradingModule
    function reservation(address account)
        external
        view
        returns (uint256 reservedMargin, uint256 openChildren, uint256 childrenLiveFrom)
    {
        Trader memory t = _traders[account];
        return (t.reservedMargin, t.openChildren, t.childrenLiveFrom);
    }

    /// @inheritdoc ITradingModule
    function fillIdUsed(bytes32 venueFillId) external view returns (bool) {
        return _fillIdUsed[venueFillId];
    }

    /// @inheritdoc ITradingModule
    function vault() external view returns (IPrimeVault) {
        return _vault;
    }

    /// @inheritdoc ITradingModule
    function position(address account, uint8 market, uint8 venue) external view returns (Position memory) {
        return _positions[account][_listedSlot(market, venue)];
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
        for (uint256 m; m < _marketCount; ++m) {
            for (uint256 v; v < _venueCount; ++v) {
                indexes[_slot(m, v)] = _venues[v].fundingIndex(uint8(m));
            }
        }
    }

    /// @inheritdoc ITradingModule
    function netPosition(uint8 market, uint8 venue) external view returns (int256) {
        uint256 slot = _listedSlot(market, venue);
        return int256(_books[slot].netSize) + _backstop[slot].size;
    }

    /// @inheritdoc ITradingModule
    function backstopPosition(uint8 market, uint8 venue) external view returns (Position memory) {
        return _backstop[_listedSlot(market, venue)];
    }

    /// @inheritdoc ITradingModule
    function markets() external view returns (PerpMarket[] memory result) {
        result = new PerpMarket[](_marketCount);
        for (uint256 m; m < result.length; ++m) {
            result[m] = _markets[m];
        }
    }

    /// @inheritdoc ITradingModule
    function venues() external view returns (address[] memory result) {
        result = new address[](_venueCount);
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

    /// @dev Moves `fractionWad` of `account`'s position in `slot` to the backstop at the discounted mark.
    ///      Returns the account's cash (USD WAD) and the discount's cost to it (USD WAD).
    function _absorbSlot(address account, uint256 slot, uint256 fractionWad, uint256 discountBps)
        internal
        returns (int256 cashWad, uint256 penaltyWad)
    {
        (uint8 market, uint8 venue) = _unslot(slot);
        FillData memory f = FillData(BACKSTOP_FILL_ID, account, market, venue, 0, 0, 0, 0);
        int256 size = _positions[account][slot].size;
        uint256 taken = _takenOnStep(venue, market, SignedMath.abs(size), fractionWad);
        f.size = size > 0 ? -taken.toInt256() : taken.toInt256();
        uint256 mark = _mark(market);
        // The account sells a long below the mark and buys back a short above it.
        f.price = size > 0
            ? Math.mulDiv(mark, BPS - discountBps, BPS)
            : Math.mulDiv(mark, BPS + discountBps, BPS, Math.Rounding.Ceil);
        f.fundingNow = _absorbedFundingIndex(account, slot);
        cashWad = _book(f);
        penaltyWad = taken * (f.price > mark ? f.price - mark : mark - f.price) / WAD;

        _addToBackstop(slot, -f.size, f.price, f.fundingNow);
        emit PositionAbsorbed(account, market, venue, f.size, f.price, penaltyWad / _baseUnit);
    }

    /// @dev `fractionWad` of a position of `held` units, rounded up onto the venue's step and at most all of it:
    ///      taking a little more never leaves the account short of its target, and both the account's rest and
    ///      the backstop's share stay tradable at the venue. A venue that reports a step of 0, or cannot answer
    ///      (paused, the market delisted: a liquidation never asks the venue to trade, so it must not depend on
    ///      it), gets the exact amount, rounded up to the unit. Taking all of it instead, the only amount sure to
    ///      leave both sides on the step, would take a portfolio book's hedge whole while its collateral is cut by
    ///      the fraction, leaving the collateral naked and the book deep below its requirement; a rest off the
    ///      step is dust at worst (the backstop's unwinds are on the step; an account closes all but the dust).
    function _takenOnStep(uint8 venue, uint8 market, uint256 held, uint256 fractionWad)
        internal
        view
        returns (uint256)
    {
        uint256 step = _stepOf(venue, market);
        return Math.min(Math.mulDiv(held, fractionWad, WAD * step, Math.Rounding.Ceil) * step, held);
    }

    /// @dev The funding index a position of `account` in `slot` is absorbed at (a helper for the stack's sake).
    function _absorbedFundingIndex(address account, uint256 slot) internal view returns (int256) {
        (uint8 market, uint8 venue) = _unslot(slot);
        return _fundingIndexOr(venue, market, _positions[account][slot].fundingIndex);
    }

    /// @dev The venue's funding index for `market`, or `fallbackIndex` if the venue cannot answer (its own oracle
    ///      stale, paused, the market delisted): the position's own index, so no funding since its last booking
    ///      is counted, and a liquidation, which needs only the vault's mark, goes on.
    function _fundingIndexOr(uint8 venue, uint8 market, int256 fallbackIndex) internal view returns (int256) {
        (bool answered, int256 index) = _fundingIndex(venue, market);
        return answered ? index : fallbackIndex;
    }

    /// @dev The venue's funding index for `market` and whether it answered one: an index past `int128` either way
    ///      is none a position could be booked at (its funding would overflow), so it counts as no answer.
    function _fundingIndex(uint256 venue, uint256 market)
        internal
        view
        returns (bool answered, int256 index)
    {
        bytes32 word;
        (answered, word) = _venueWord(
            venue, abi.encodeCall(IVenueAdapter.fundingIndex, (uint8(market))), _VENUE_VIEW_GAS, 32
        );
        index = int256(uint256(word));
        answered = answered && index == int128(index);
    }

    function _requireValidSplit(Execution calldata e, Order memory o) internal view {
        if (e.venues.length == 0 || e.venues.length != e.sizes.length) revert InvalidSplit(e.orderId);
        uint256 total = 0;
        uint256 seen = 0;
        uint256 size = SignedMath.abs(o.size);
        for (uint256 i; i < e.sizes.length; ++i) {
            uint256 bit = 1 << e.venues[i];
            // A part larger than the order never adds up; refused before the sum could overflow.
            if (e.sizes[i] == 0 || e.sizes[i] > size || seen & bit != 0 || e.venues[i] >= _venueCount) {
                revert InvalidSplit(e.orderId);
            }
            seen |= bit;
            total += e.sizes[i];
        }
        if (total != size) revert InvalidSplit(e.orderId);
    }

    /// @dev Passes for the owner (returns true) or an operator with PERMISSION_TRADE (returns false).
    function _requireTrader(address account) internal view returns (bool byOwner) {
        if (msg.sender == _vault.ownerOf(account)) return true;
        if (_vault.operatorPermissions(account, msg.sender) & PERMISSION_TRADE == 0) {
            revert NotAuthorized(msg.sender, account, PERMISSION_TRADE);
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

    /// @dev The slot of a listed market and venue, or `UnknownMarket`/`UnknownVenue`: a venue id of 4 or more
    ///      would otherwise read another market's slot (slot = market x 4 + venue).
    function _listedSlot(uint8 market, uint8 venue) internal view returns (uint256) {
        if (market >= _marketCount) revert UnknownMarket(market);
        _venue(venue);
        return _slot(market, venue);
    }

    function _cancel(uint256 orderId, bytes memory reason) internal {
        Order storage o = _orders[orderId];
        o.status = OrderStatus.Cancelled;
        emit OrderCancelled(orderId, o.account, reason);
    }

    function _openOrder(uint256 orderId) internal view returns (Order storage o) {
        o = _orders[orderId];
        if (o.status != OrderStatus.Open) revert OrderNotOpen(orderId);
    }

    /// @dev Runs the call in `AsyncOrderModule` on this contract's storage (the vault's module pattern).
    ///      Returns the module's return data (or reverts with its revert data) directly, without decoding.
    function _delegateToModule() internal {
        address module = asyncOrderModule;
        assembly {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), module, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            if iszero(ok) { revert(0, returndatasize()) }
            return(0, returndatasize())
        }
    }

    /// @dev One copy of the read for its three uses: inlined, they took the module past the contract size limit.
    function _baseHeld() internal view returns (uint256) {
        return _base.balanceOf(address(this));
    }

    /// @dev Sends the vault everything the module holds; what came back from `venue` is what it holds beyond `held`
    ///      (its balance before the venue paid): tokens anyone sent the module go to the vault, not as that venue's
    ///      margin come back (`venueMarginSent`). Returns what came back from the venue.
    function _returnToVault(uint8 venue, uint256 held) internal returns (uint256 amount) {
        uint256 balance = _baseHeld();
        amount = balance - held;
        if (amount > 0) {
            _venueMarginSent[venue] -= amount.toInt256();
            emit VenueMarginMoved(venue, -amount.toInt256());
        }
        if (balance > 0) _base.safeTransfer(address(_vault), balance);
    }
}

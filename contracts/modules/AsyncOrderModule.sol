// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";

import {IAggregatorV3} from "../interfaces/IAggregatorV3.sol";
import {IPortfolioMargin} from "../interfaces/IPortfolioMargin.sol";
import {IPrimeVault, PAUSE_TRADE} from "../interfaces/IPrimeVault.sol";
import {ITradingModule} from "../interfaces/ITradingModule.sol";
import {IVenueAdapter} from "../interfaces/IVenueAdapter.sol";
import {
    BPS,
    WAD,
    BACKSTOP_PRICE_BAND_BPS,
    CHILD_EXPIRY_GRACE,
    MAX_FILL_FEE_BPS,
    MAX_PRICE
} from "../libraries/ConstantsLib.sol";
import {PerpMathLib} from "../libraries/PerpMathLib.sol";
import {TradingBase} from "./TradingBase.sol";

/// @title AsyncOrderModule
/// @notice The asynchronous order protocol (v2) of `TradingModule`, and its market listing, run by delegatecall
///         from it (the vault's module pattern), which keeps the trading module under the contract size limit.
/// @dev An order is routed as one child order per venue (`commitSplit`), each with a size, a limit price and
///      a deadline; the initial margin the children need is reserved against the account (counted in the
///      trading module's `perpRisk`). The executor reports venue fills (`reportFill`, `reportFills`),
///      bounded here: each venue fill id once, cumulative size at most the child's, price within the
///      child's limit and, for a live child, within BACKSTOP_PRICE_BAND_BPS of the oracle mark. A fill books exactly as a
///      synchronous fill does and releases the reservation in proportion. The executor may reject a child,
///      anyone may expire one after its deadline; both release what it still reserves. A liquidation
///      cancels an account's open children at once (`absorbPositions` sets the account's `childrenLiveFrom`
///      to the next child id): a child below it reserves nothing and is no longer the account's. A fill of a
///      child that is no longer open (rejected, expired, cancelled) is booked to the backstop book.
///      Invariant: an account's reserved margin is the sum of its live open children's remaining
///      reservations, remaining = ceil(reservation x (size - filled) / size).
contract AsyncOrderModule is TradingBase {
    using SafeCast for uint256;
    using SafeCast for int256;

    address private immutable _self;

    /// @dev `_end`'s grace for a child that may end before its deadline (a rejection by its venue).
    uint256 private constant _ANY_TIME = type(uint256).max;

    /// @dev What the fills of one report read from outside, each once a report: a market's oracle mark (zero: not
    ///      read yet; a mark never is) and a (market, venue) slot's funding index (bit `slot` of `fundingRead`: read).
    ///      Neither can change within the report: its only outside call is the vault's settlement, which reaches
    ///      neither.
    struct ReportReads {
        uint256[_MAX_MARKETS] marks;
        int256[_MAX_MARKETS * _MAX_VENUES] fundingIndexes;
        uint256 fundingRead;
    }

    constructor(IPrimeVault vault_) TradingBase(vault_) {
        _self = address(this);
    }

    /// @dev Refuses a direct call: the module only runs on the trading module's storage.
    modifier onlyDelegated() {
        if (address(this) == _self) revert AsyncOrderModuleDirectCall();
        _;
    }

    /// @notice See `TradingModule.addMarket`. Only through the trading module's delegatecall.
    function addMarket(
        string calldata ticker,
        address feed,
        uint32 maxStaleness,
        uint16 initialMarginBps,
        uint16 maintenanceMarginBps
    ) external onlyDelegated onlyRole(DEFAULT_ADMIN_ROLE) {
        uint256 id = _marketCount;
        if (id == _MAX_MARKETS) revert TooManyMarkets(_MAX_MARKETS);
        if (feed == address(0)) revert ZeroAddress();
        if (feed.code.length == 0) revert NotAContract(feed);
        if (maxStaleness == 0) revert InvalidStaleness();
        // A fill may land at the band's edge and pay the largest fee: the initial margin committed for it must
        // cover that, or one fill could leave the account under water.
        if (
            maintenanceMarginBps == 0 || maintenanceMarginBps > initialMarginBps || initialMarginBps > BPS
                || initialMarginBps <= BACKSTOP_PRICE_BAND_BPS + MAX_FILL_FEE_BPS
        ) {
            revert InvalidMarginFractions(initialMarginBps, maintenanceMarginBps);
        }
        // A mark is a WAD: a feed with more decimals could not be read without dropping precision.
        uint8 feedDecimals = IAggregatorV3(feed).decimals();
        if (feedDecimals > 18) revert UnsupportedFeedDecimals(feed, feedDecimals);
        _markets[id] = ITradingModule.PerpMarket(
            feed, maxStaleness, feedDecimals, initialMarginBps, maintenanceMarginBps, ticker
        );
        _marketCount = uint8(id + 1);
        for (uint256 v; v < _venueCount; ++v) {
            _requireNotLooser(id, v);
        }
        emit PerpMarketListed(id, ticker, feed, initialMarginBps, maintenanceMarginBps);
    }

    /// @notice See `ITradingModule.commitSplit`. Only through the trading module's delegatecall.
    function commitSplit(uint256 orderId, ITradingModule.ChildSpec[] calldata children)
        external
        onlyDelegated
        nonReentrant
        onlyRole(EXECUTOR_ROLE)
        returns (uint256 firstChildId)
    {
        if (_vault.pausedActions() & PAUSE_TRADE != 0) revert Paused(PAUSE_TRADE);
        ITradingModule.Order memory ord = _orders[orderId];
        if (ord.status != ITradingModule.OrderStatus.Open) revert OrderNotOpen(orderId);
        if (block.timestamp > ord.deadline) revert OrderExpired(orderId, ord.deadline);
        _requireOrderAuthority(orderId, ord);
        uint256 n = children.length;
        if (n == 0 || n > _MAX_VENUES) revert InvalidSplit(orderId);

        firstChildId = _childCount;
        // A reduce-only order needs no margin, but for an account in portfolio mode, where closing a hedge raises
        // the requirement. Any other child reserves its initial margin at the highest price it can fill at: a
        // buy's limit (the most it pays), a sell's limit or the mark if higher.
        uint256 marginBps = _commitMarginBps(ord);
        uint256 mark = _mark(ord.market);
        uint256 total = 0;
        uint256 seen = 0;
        uint256 reserved = 0;
        for (uint256 i; i < n; ++i) {
            ITradingModule.ChildSpec calldata c = children[i];
            // A child larger than its order can never add up: refused here, before its size is summed or stored.
            if (
                c.size == 0 || c.size > SignedMath.abs(ord.size) || c.venue >= _venueCount
                    || seen & (1 << c.venue) != 0
            ) {
                revert InvalidSplit(orderId);
            }
            seen |= 1 << c.venue;
            total += c.size;
            if (ord.reduceOnly) _holdForReduceOnly(orderId, ord, c);
            reserved += _storeChild(firstChildId + i, orderId, i, ord, c, mark, marginBps);
        }
        _childCount = (firstChildId + n).toUint40();
        if (total != SignedMath.abs(ord.size)) revert InvalidSplit(orderId);
        _route(orderId, ord.account, n, reserved);
    }

    /// @notice See `ITradingModule.reportFill`. Only through the trading module's delegatecall.
    function reportFill(uint256 childId, bytes32 venueFillId, uint256 price, uint256 size, uint256 fee)
        external
        onlyDelegated
        nonReentrant
        onlyRole(EXECUTOR_ROLE)
    {
        if (_fillIdUsed[venueFillId]) revert AsyncOrderFillIdUsed(venueFillId);
        // slither-disable-next-line uninitialized-local (zeroed memory: nothing read yet)
        ReportReads memory reads;
        _reportFill(ITradingModule.FillReport(childId, venueFillId, price, size, fee), reads);
    }

    /// @notice See `ITradingModule.reportFills`. Only through the trading module's delegatecall.
    function reportFills(ITradingModule.FillReport[] calldata fills)
        external
        onlyDelegated
        nonReentrant
        onlyRole(EXECUTOR_ROLE)
        returns (uint256 booked)
    {
        // slither-disable-next-line uninitialized-local (zeroed memory: nothing read yet)
        ReportReads memory reads;
        for (uint256 i; i < fills.length; ++i) {
            if (_fillIdUsed[fills[i].venueFillId]) {
                emit FillSkipped(fills[i].childId, fills[i].venueFillId);
                continue;
            }
            // Each fill's state is written before its settlement call to the vault, which is trusted and
            // calls back only into views; every entry point holds the reentrancy lock.
            // slither-disable-next-line reentrancy-no-eth,reentrancy-benign,reentrancy-events
            _reportFill(fills[i], reads);
            ++booked;
        }
    }

    /// @notice See `ITradingModule.rejectChild`. Only through the trading module's delegatecall.
    function rejectChild(uint256 childId, bytes calldata reason)
        external
        onlyDelegated
        nonReentrant
        onlyRole(EXECUTOR_ROLE)
    {
        (uint256 orderId, uint256 released,) = _end(childId, ITradingModule.ChildStatus.Rejected, _ANY_TIME);
        emit ChildRejected(childId, orderId, reason, released);
    }

    /// @notice See `ITradingModule.expireChild`. Only through the trading module's delegatecall.
    function expireChild(uint256 childId) external onlyDelegated nonReentrant {
        // The executor reports fills: it may expire at the deadline, anyone else only CHILD_EXPIRY_GRACE later.
        uint256 grace = hasRole(EXECUTOR_ROLE, msg.sender) ? 0 : CHILD_EXPIRY_GRACE;
        (uint256 orderId, uint256 released, bool live) =
            _end(childId, ITradingModule.ChildStatus.Expired, grace);
        if (live) emit ChildExpired(childId, orderId, released);
    }

    /// @notice See `ITradingModule.unwindBackstop`. Only through the trading module's delegatecall; here with the
    ///         rest of the backstop book's handling (late fills are booked to it).
    function unwindBackstop(uint8 market, uint8 venue, uint256 size, uint256 limitPrice)
        external
        onlyDelegated
        nonReentrant
        onlyRole(EXECUTOR_ROLE)
    {
        IVenueAdapter adapter = _venue(venue);
        if (market >= _marketCount) revert UnknownMarket(market);
        uint256 slot = _slot(market, venue);
        ITradingModule.Position memory b = _backstop[slot];
        if (size == 0 || size > SignedMath.abs(b.size)) {
            revert BackstopTooSmall(market, venue, size, SignedMath.abs(b.size));
        }
        bool buying = b.size < 0;
        _requireWithinBand(market, buying, limitPrice);
        int256 signedSize = buying ? size.toInt256() : -size.toInt256();
        // Effects first: an unwind only shrinks the book (never flips it), so its entry price stays.
        int256 newSize = b.size + signedSize;
        _backstop[slot] =
            ITradingModule.Position(newSize.toInt128(), newSize == 0 ? 0 : b.entryPrice, b.fundingIndex);
        (uint256 price, uint256 fee) = adapter.trade(market, signedSize, limitPrice);
        // slither-disable-next-line unused-return (size and entry were booked above; only the PnL is reported)
        (,, int256 realizedWad) = PerpMathLib.applyFill(b.size, b.entryPrice, signedSize, price);
        emit BackstopUnwound(market, venue, signedSize, price, fee, realizedWad);
    }

    /// @notice See `ITradingModule.commitBackstopUnwind`. Only through the trading module's delegatecall.
    function commitBackstopUnwind(
        uint8 market,
        uint8 venue,
        uint256 size,
        uint256 limitPrice,
        uint256 deadline
    ) external onlyDelegated nonReentrant onlyRole(EXECUTOR_ROLE) returns (uint256 childId) {
        if (market >= _marketCount) revert UnknownMarket(market);
        if (venue >= _venueCount) revert UnknownVenue(venue);
        int256 held = _backstop[_slot(market, venue)].size;
        if (size == 0 || size > SignedMath.abs(held)) {
            revert BackstopTooSmall(market, venue, size, SignedMath.abs(held));
        }
        uint256 orderId = _orderCount;
        if (deadline <= block.timestamp) revert OrderExpired(orderId, deadline);
        bool buying = held < 0;
        _requireWithinBand(market, buying, limitPrice);
        int256 signedSize = buying ? size.toInt256() : -size.toInt256();
        // A sell's limit is only bounded below by the band; the child's record holds 128 bits of it and 32 of the
        // deadline.
        if (limitPrice > MAX_PRICE || deadline > type(uint32).max) {
            revert OrderOutOfRange(signedSize, limitPrice, deadline);
        }
        // The module's own order, born done: it only carries the direction and limit its child's fills are checked
        // against. The child is born Cancelled, so each fill of it books to the backstop book (see `_reportFill`).
        childId = _childCount;
        _orderCount = (orderId + 1).toUint40();
        _childCount = (childId + 1).toUint40();
        _orders[orderId] = ITradingModule.Order({
            account: address(this),
            market: market,
            reduceOnly: true,
            status: ITradingModule.OrderStatus.Executed,
            deadline: deadline.toUint64(),
            openChildren: 0,
            size: signedSize.toInt128(),
            limitPrice: limitPrice.toUint128(),
            operator: address(0),
            epoch: 0
        });
        _children[childId] = ITradingModule.ChildOrder({
            size: size.toUint96(),
            filled: 0,
            orderId: orderId.toUint40(),
            venue: venue,
            status: ITradingModule.ChildStatus.Cancelled,
            buy: buying,
            limitPrice: limitPrice.toUint128(),
            reservation: 0,
            deadline: deadline.toUint32()
        });
        emit BackstopUnwindCommitted(childId, market, venue, signedSize, limitPrice, deadline);
    }

    // ================================================================== internal

    /// @dev A bounded unwind price, so that even the executor's key cannot trade the book far from the oracle.
    function _requireWithinBand(uint8 market, bool buying, uint256 limitPrice) internal view {
        _requireWithinBandOf(_mark(market), buying, limitPrice);
    }

    /// @dev A limit within BACKSTOP_PRICE_BAND_BPS of `mark`: a buy's at most above it, a sell's at most below.
    function _requireWithinBandOf(uint256 mark, bool buying, uint256 limitPrice) internal pure {
        if (buying
                ? limitPrice > mark * (BPS + BACKSTOP_PRICE_BAND_BPS) / BPS
                : limitPrice < mark * (BPS - BACKSTOP_PRICE_BAND_BPS) / BPS) {
            revert PriceOutsideBand(limitPrice, mark, BACKSTOP_PRICE_BAND_BPS);
        }
    }

    /// @dev Marks order `orderId` routed to its `n` children and reserves `reserved` of `account`'s margin, which
    ///      must fit its initial requirement.
    function _route(uint256 orderId, address account, uint256 n, uint256 reserved) internal {
        ITradingModule.Order storage o = _orders[orderId];
        o.status = ITradingModule.OrderStatus.Routed;
        o.openChildren = uint8(n); // at most _MAX_VENUES
        Trader storage t = _traders[account];
        bool wasTrading = _isTrading(account);
        t.openChildren += uint16(n);
        t.reservedMargin += reserved.toUint96();
        _syncTrading(account, wasTrading);
        emit OrderRouted(orderId, account);
        // The reservation counts in `perpRisk`'s initial requirement: the account must still meet it.
        if (reserved != 0) _vault.settle(account, 0, true);
    }

    /// @dev The initial margin, in basis points of notional, a child of `ord` reserves: its market's (none for a
    ///      reduce-only order), or for an account in portfolio mode the most such a leg can add to the rule's
    ///      initial requirement, if larger (`IPortfolioMargin.legMarginBps`; it reverts for a market the rule does
    ///      not map), reduce-only orders included: under the rule, closing a leg that hedges another raises the
    ///      requirement. The venue's fill is booked without a health check, so the commit must hold what the
    ///      account's own rule will ask.
    function _commitMarginBps(ITradingModule.Order memory ord) internal view returns (uint256 bps) {
        bps = ord.reduceOnly ? 0 : _markets[ord.market].initialMarginBps;
        if (_vault.portfolioMode(ord.account)) {
            uint256 leg = IPortfolioMargin(_vault.portfolioMargin()).legMarginBps(ord.market);
            // Never below what a fill at the band's edge with the largest fee can cost (as `addMarket` requires of
            // a market's own margin): governance's bounds allow a leg margin under it.
            bps = Math.max(bps, Math.max(leg, BACKSTOP_PRICE_BAND_BPS + MAX_FILL_FEE_BPS));
        }
    }

    /// @dev Holds `c.size` of the account's position in the child's slot for a reduce-only child of `orderId`: the
    ///      position on the order's opposite side (up to the venue's step), less what the slot's other open
    ///      reduce-only children may still take, must cover it. A reduce-only order reserves no margin and its fill's excess over the position goes
    ///      to the backstop book (see `_bookOnAccount`), so without this hold an account holding nothing could make
    ///      a venue trade any size onto the protocol's book. Holds recorded before a liquidation cancelled their
    ///      children (under an older `childrenLiveFrom`) count as none.
    function _holdForReduceOnly(
        uint256 orderId,
        ITradingModule.Order memory ord,
        ITradingModule.ChildSpec calldata c
    ) internal {
        uint40 liveFrom = _traders[ord.account].childrenLiveFrom;
        uint256 slot = _slot(ord.market, c.venue);
        int256 held = _positions[ord.account][slot].size;
        Reducing memory hold = _reducing[ord.account][slot];
        uint256 open = hold.liveFrom == liveFrom ? hold.size : 0;
        uint256 available = 0;
        if (held != 0 && (held > 0) != (ord.size > 0)) {
            // Rounded up onto the venue's step: a position off it (the dust a liquidation's exact cut can leave)
            // closes with one step more, whose excess the backstop takes at the fill.
            uint256 step = _stepOf(c.venue, ord.market);
            available = Math.ceilDiv(SignedMath.abs(held), step) * step;
        }
        available = available > open ? available - open : 0;
        if (c.size > available) {
            revert AsyncOrderReduceOnlyBeyondPosition(orderId, c.venue, c.size, available);
        }
        _reducing[ord.account][slot] = Reducing(liveFrom, (open + c.size).toUint216());
    }

    /// @dev A live reduce-only child of `account` in `slot` filled or gave up `size`: no longer held for it.
    ///      Saturating, as a fill's booking must never fail on this record.
    function _releaseReducing(address account, uint256 slot, uint256 size) internal {
        Reducing storage hold = _reducing[account][slot];
        uint256 open = hold.size;
        hold.size = uint216(open > size ? open - size : 0);
    }

    /// @dev Checks child `i` of order `orderId` against the order and stores it as child `id`; returns its
    ///      reservation.
    function _storeChild(
        uint256 id,
        uint256 orderId,
        uint256 i,
        ITradingModule.Order memory ord,
        ITradingModule.ChildSpec calldata c,
        uint256 mark,
        uint256 marginBps
    ) internal returns (uint256 r) {
        // A sell's limit is a floor: MAX_PRICE bounds it, as the record's 128 bits do; the deadline fits 32 bits.
        if (
            c.limitPrice == 0 || c.limitPrice > MAX_PRICE
                || (ord.size > 0 ? c.limitPrice > ord.limitPrice : c.limitPrice < ord.limitPrice)
                || c.deadline <= block.timestamp || c.deadline > ord.deadline || c.deadline > type(uint32).max
        ) {
            revert AsyncOrderInvalidChild(orderId, i);
        }
        // A live fill outside the band is refused for the account and goes to the backstop book once the child is
        // rejected: a limit past the band would let the venue fill there, at the protocol's cost.
        bool buying = ord.size > 0;
        _requireWithinBandOf(mark, buying, c.limitPrice);
        r = Math.mulDiv(
            c.size,
            (buying ? c.limitPrice : Math.max(c.limitPrice, mark)) * marginBps,
            WAD * BPS * _baseUnit,
            Math.Rounding.Ceil
        );
        // `_children[id] = ChildOrder(size, 0, orderId, venue, Open, buying, limitPrice, r, deadline)`, written as
        // its two packed slots at once (the compiler writes a stored struct member by member).
        uint256 word0 = uint256(c.size.toUint96()) | uint256(orderId.toUint40()) << 192 | uint256(c.venue)
            << 232 | uint256(uint8(ITradingModule.ChildStatus.Open)) << 240 | (buying ? uint256(1) << 248 : 0);
        uint256 word1 = uint256(c.limitPrice.toUint128()) | uint256(r.toUint96()) << 128
            | uint256(c.deadline.toUint32()) << 224;
        assembly ("memory-safe") {
            mstore(0, id)
            mstore(32, _children.slot)
            let element := keccak256(0, 64)
            sstore(element, word0)
            sstore(add(element, 1), word1)
        }
        emit ChildCommitted(id, orderId, c.venue, c.size, c.limitPrice, c.deadline, r);
    }

    /// @dev Books one fill after checking its bounds (the fill id is known unused).
    function _reportFill(ITradingModule.FillReport memory r, ReportReads memory reads) internal {
        ITradingModule.ChildOrder storage cs = _children[r.childId];
        ITradingModule.ChildOrder memory c = cs;
        if (c.status == ITradingModule.ChildStatus.None) revert AsyncOrderUnknownChild(r.childId);
        // Saturating: a size past 2^256 - filled reads as type(uint256).max, an overfill like any other.
        uint256 filledAfter = Math.saturatingAdd(c.filled, r.size);
        if (r.size == 0 || filledAfter > c.size) revert AsyncOrderOverfill(r.childId, filledAfter, c.size);
        ITradingModule.Order storage o = _orders[c.orderId];
        bool buy = c.buy;
        // A sell's limit is a floor; a price above MAX_PRICE is no price (and a late fill is not banded).
        if (r.price > MAX_PRICE || (buy ? r.price > c.limitPrice : r.price < c.limitPrice)) {
            revert AsyncOrderFillOutsideLimit(r.price, c.limitPrice);
        }
        FillData memory f = FillData(c.orderId, o.account, o.market, c.venue, 0, r.price, r.fee, 0);
        bool late =
            c.status != ITradingModule.ChildStatus.Open || r.childId < _traders[f.account].childrenLiveFrom;
        if (!late) {
            // An account's fill books cash at its price: it must lie near the oracle now. A late fill is exempt:
            // the venue made it (perhaps before the mark moved away) and holds it whatever is booked here; the
            // backstop's entry price is bookkeeping, its real PnL stays in the venue account. Refusing it would
            // only hide a position the vault holds.
            uint256 mark = _readMark(reads, f.market);
            uint256 band = mark * BACKSTOP_PRICE_BAND_BPS / BPS;
            if (r.price > mark + band || r.price < mark - band) {
                revert PriceOutsideBand(r.price, mark, BACKSTOP_PRICE_BAND_BPS);
            }
            // The account pays the fee, on the executor's word: bounded too. Rounded up, so that a venue's exact
            // fee on any notional passes (the keeper rounds its fee up too). A late fill's fee is not booked.
            uint256 maxFee =
                Math.mulDiv(r.size * MAX_FILL_FEE_BPS, r.price, WAD * BPS * _baseUnit, Math.Rounding.Ceil);
            if (r.fee > maxFee) revert AsyncOrderFeeTooHigh(r.fee, maxFee);
        }
        f.size = buy ? r.size.toInt256() : -r.size.toInt256();
        f.fundingNow = _readFundingIndex(reads, f.market, f.venue);

        _fillIdUsed[r.venueFillId] = true;
        cs.filled = filledAfter.toUint96();
        if (late) {
            // Late: the child was rejected, expired or cancelled by a liquidation. The venue's fill is the
            // protocol's, never the account's; the keeper unwinds it with the rest of the backstop book.
            if (c.status == ITradingModule.ChildStatus.Open) {
                cs.status = ITradingModule.ChildStatus.Cancelled;
                emit ChildCancelled(r.childId, c.orderId);
                _closeChild(o, c.orderId, f.account);
            }
            _addToBackstop(_slot(f.market, f.venue), f.size, f.price, f.fundingNow);
            emit LateFillToBackstop(r.childId, r.venueFillId, f.market, f.venue, f.size, f.price, f.fee);
            return;
        }
        _bookOnAccount(r, c, f, filledAfter, o);
    }

    /// @dev `market`'s oracle mark, read once a report (`ReportReads`).
    function _readMark(ReportReads memory reads, uint8 market) internal view returns (uint256) {
        if (reads.marks[market] == 0) reads.marks[market] = _mark(market);
        return reads.marks[market];
    }

    /// @dev `venue`'s funding index for `market`, read once a report (`ReportReads`).
    function _readFundingIndex(ReportReads memory reads, uint8 market, uint8 venue)
        internal
        view
        returns (int256)
    {
        uint256 slot = _slot(market, venue);
        if (reads.fundingRead & (1 << slot) == 0) {
            reads.fundingIndexes[slot] = _venues[venue].fundingIndex(market);
            reads.fundingRead |= 1 << slot;
        }
        return reads.fundingIndexes[slot];
    }

    /// @dev Books a fill of a live child on its account: releases the reservation in proportion, applies the
    ///      fill to the account's slot and settles its cash. The initial requirement is not checked again: the
    ///      commit reserved the child's margin, and the venue has filled already, so refusing the fill now would
    ///      only move the account's trade onto the protocol (the backstop) while the market has moved against
    ///      the account. An account the fill leaves below its initial requirement can only reduce until it
    ///      recovers, and below maintenance it is liquidated.
    function _bookOnAccount(
        ITradingModule.FillReport memory r,
        ITradingModule.ChildOrder memory c,
        FillData memory f,
        uint256 filledAfter,
        ITradingModule.Order storage o
    ) internal {
        uint256 fee = r.fee;
        if (o.reduceOnly) {
            uint256 slot = _slot(f.market, f.venue);
            _releaseReducing(f.account, slot, r.size);
            // A reduce-only child reserves nothing; its commit held the position for it, rounded up onto the
            // venue's step, and the account's own orders may have reduced the position since, so it can fill more
            // than the slot holds. The venue has filled it all (refusing the report would leave a position nothing
            // books). Past the position by less than a step, the excess is the step's rounding of a position off it
            // (the dust a liquidation's exact cut can leave): the protocol's, booked to the backstop, the account
            // paying the fee on its part only, rounded up. Past it by more, the account's own orders reduced the
            // position after the commit: the fill is the account's, as an order's is, within the position it held
            // margin for at the commit (on the protocol's book, the account could move its whole position there).
            int256 excess = _reduceOnlyExcess(_positions[f.account][slot].size, f.size);
            if (excess != 0 && SignedMath.abs(excess) < _stepOf(f.venue, f.market)) {
                _addToBackstop(slot, excess, f.price, f.fundingNow);
                emit ReduceOnlyExcessToBackstop(r.childId, r.venueFillId, f.market, f.venue, excess);
                fee = Math.mulDiv(
                    fee, SignedMath.abs(f.size - excess), SignedMath.abs(f.size), Math.Rounding.Ceil
                );
                f.size -= excess;
            }
        }
        Trader storage t = _traders[f.account];
        // A child filled in full keeps nothing back.
        uint256 kept = filledAfter == c.size ? 0 : _remaining(c.reservation, c.size, filledAfter);
        uint256 released = _remaining(c.reservation, c.size, c.filled) - kept;
        if (released != 0) t.reservedMargin -= released.toUint96();
        if (filledAfter == c.size) {
            _children[r.childId].status = ITradingModule.ChildStatus.Filled;
            t.openChildren -= 1;
            _closeChild(o, c.orderId, f.account);
        }
        int256 cash = (f.size == 0 ? int256(0) : PerpMathLib.toBaseDown(_book(f), _baseUnit)) - fee.toInt256();
        // The child was open: the account traded until now.
        _syncTrading(f.account, true);
        emit ChildFilled(r.childId, c.orderId, r.venueFillId, f.size, r.price, fee, released);
        if (cash != 0) _vault.settle(f.account, cash, false);
    }

    /// @dev The part of a reduce-only fill of signed `size` that a slot holding signed `held` cannot take without
    ///      growing or flipping: all of it when the slot is empty or on the fill's side, beyond the position
    ///      otherwise.
    function _reduceOnlyExcess(int256 held, int256 size) internal pure returns (int256) {
        if (held == 0 || (held > 0) == (size > 0)) return size;
        // `size` is opposite `held`: the first |held| of it reduces.
        return SignedMath.abs(size) > SignedMath.abs(held) ? size + held : int256(0);
    }

    /// @dev Ends open child `childId` with `status`, releasing what it still reserves. A child a
    ///      liquidation cancelled (an id below the account's `childrenLiveFrom`) reserves nothing: it ends
    ///      Cancelled, at any time.
    ///      A live child must be more than `grace` seconds past its deadline, unless `grace` is `_ANY_TIME`.
    function _end(uint256 childId, ITradingModule.ChildStatus status, uint256 grace)
        internal
        returns (uint256 orderId, uint256 released, bool live)
    {
        ITradingModule.ChildOrder storage cs = _children[childId];
        ITradingModule.ChildOrder memory c = cs;
        if (c.status == ITradingModule.ChildStatus.None) revert AsyncOrderUnknownChild(childId);
        if (c.status != ITradingModule.ChildStatus.Open) revert AsyncOrderChildNotOpen(childId);
        orderId = c.orderId;
        ITradingModule.Order storage o = _orders[orderId];
        address account = o.account;
        Trader storage t = _traders[account];
        live = childId >= t.childrenLiveFrom;
        if (live) {
            if (grace != _ANY_TIME && block.timestamp <= c.deadline + grace) {
                revert AsyncOrderChildNotExpired(childId, c.deadline + grace);
            }
            if (o.reduceOnly) _releaseReducing(account, _slot(o.market, c.venue), c.size - c.filled);
            released = _remaining(c.reservation, c.size, c.filled);
            t.reservedMargin -= released.toUint96();
            t.openChildren -= 1;
            cs.status = status;
            _syncTrading(account, true);
        } else {
            cs.status = ITradingModule.ChildStatus.Cancelled;
            emit ChildCancelled(childId, orderId);
        }
        _closeChild(o, orderId, account);
    }

    /// @dev A child of order `orderId` (record `o`) is no longer open; when it was the order's last open one, the
    ///      order is done. Each child closes here once, when it leaves Open (a backstop unwind's child is born
    ///      Cancelled, on an order born done).
    function _closeChild(ITradingModule.Order storage o, uint256 orderId, address account) internal {
        uint8 open = o.openChildren - 1;
        o.openChildren = open;
        if (open == 0) {
            o.status = ITradingModule.OrderStatus.Executed;
            emit OrderDone(orderId, account);
        }
    }

    /// @dev What a child still reserves with `filled` of `size` filled: rounded up, so the releases of its
    ///      fills add up to its reservation exactly.
    function _remaining(uint256 reservation, uint256 size, uint256 filled) internal pure returns (uint256) {
        // Both come from the child's 96-bit record: the product fits 192 bits.
        return Math.ceilDiv(reservation * (size - filled), size);
    }
}

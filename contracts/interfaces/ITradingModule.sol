// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IPerpRisk} from "./IPerpRisk.sol";
import {IPrimeVault} from "./IPrimeVault.sol";
import {IPrimeVaultErrors} from "./IPrimeVaultErrors.sol";
import {IPrimeVaultEvents} from "./IPrimeVaultEvents.sol";

/// @title ITradingModule
/// @notice Perp positions of PrimeVault sub-accounts across venues, margined with their vault collateral.
/// @dev Units: sizes in base-asset WAD (1e18 = one BTC), prices in USD WAD, money in base units (USDC).
///      Orders are two-step (after GMX v2): the owner or a trading operator submits; an executor (the
///      keeper) executes it with a split across venues chosen by the router. An execution that fails does
///      not revert the executor's batch: the order is cancelled with the reason. Each sub-account's position
///      is kept per (market, venue) with its entry price and the venue's funding index at entry; the venue
///      holds the vault's netted position, which always equals the sum of the sub-accounts' positions
///      there. Caveat: a position's PnL counts in health at the oracle mark, not at the venue's fill price,
///      so closing it costs the spread, impact and fee on top.
///      Asynchronous orders (v2) live as: submitted -> routed (`commitSplit`: one child order per venue, each
///      with a size, a limit and a deadline; the initial margin the children need is reserved against the
///      account) -> each child filled in parts (`reportFill`), rejected (`rejectChild`) or expired
///      (`expireChild`) -> the order is done (`OrderDone`, status Executed). A synchronous venue goes through
///      the same states inside `executeOrders`. These run in `AsyncOrderModule` by delegatecall.
interface ITradingModule is IPerpRisk, IPrimeVaultErrors, IPrimeVaultEvents {
    enum OrderStatus {
        None,
        Open,
        Executed, // executed synchronously, or routed and every child of it finished (`OrderDone`)
        Cancelled,
        Routed // committed as child orders (`commitSplit`) that venues fill asynchronously
    }

    /// @notice A child order's life: Open until filled in full (Filled), rejected by the venue (Rejected),
    ///         past its deadline (Expired), or cancelled by a liquidation of its account (Cancelled).
    enum ChildStatus {
        None,
        Open,
        Filled,
        Rejected,
        Expired,
        Cancelled
    }

    /// @notice One venue's part of a routed order, in two storage slots.
    struct ChildOrder {
        uint96 size; // absolute, base WAD
        uint96 filled; // absolute, base WAD, late fills (booked to the backstop) included
        uint40 orderId; // the parent order
        uint8 venue;
        ChildStatus status;
        bool buy; // the parent order's direction, copied here so that a fill need not read the order's size
        uint128 limitPrice; // worst price of each fill, USD WAD; at least as good as the order's limit
        uint96 reservation; // initial margin reserved at commit, base units; released in proportion to fills
        uint32 deadline; // unix time after which anyone may expire it
    }

    /// @notice The executor's instruction for one child at commit.
    struct ChildSpec {
        uint8 venue;
        uint256 size; // absolute, base WAD
        uint256 limitPrice; // USD WAD, at least as good as the order's limit
        uint256 deadline; // unix time, after now and at most the order's deadline
    }

    /// @notice One venue fill, as the executor reports it.
    struct FillReport {
        uint256 childId;
        bytes32 venueFillId; // the venue's id of the fill (e.g. a hash of it): booked once, ever
        uint256 price; // USD WAD
        uint256 size; // absolute, base WAD
        uint256 fee; // base units, charged by the venue
    }

    struct Order {
        address account;
        uint8 market;
        bool reduceOnly;
        OrderStatus status;
        uint64 deadline; // unix time after which the order can only be cancelled
        uint8 openChildren; // a routed order's children still open: it is done (Executed) when the last one ends
        int128 size; // signed: positive buys
        uint128 limitPrice; // worst acceptable average price, USD WAD
        address operator; // the trading operator who placed it (0: the owner); it dies with the permission
        uint32 epoch; // the account's order epoch at submission (see `cancelAllOrders`)
    }

    /// @notice An executor's instruction: fill `orderId` with `sizes[i]` (absolute, base WAD) at `venues[i]`.
    struct Execution {
        uint256 orderId;
        uint8[] venues;
        uint256[] sizes;
    }

    struct Position {
        int128 size;
        uint128 entryPrice;
        int256 fundingIndex;
    }

    struct PerpMarket {
        address feed;
        uint32 maxStaleness;
        uint8 feedDecimals;
        uint16 initialMarginBps;
        uint16 maintenanceMarginBps;
        string ticker;
    }

    /// @notice Submits an order for `account`. Caller: its owner or an operator with PERMISSION_TRADE.
    /// @param size Signed size, base WAD; must be a multiple of the venues' steps to execute.
    /// @param limitPrice Worst acceptable average price, USD WAD.
    /// @param deadline Unix time after which the order cannot execute.
    /// @return orderId The order's id.
    function submitOrder(
        address account,
        uint8 market,
        int256 size,
        uint256 limitPrice,
        uint256 deadline,
        bool reduceOnly
    ) external returns (uint256 orderId);

    /// @notice Cancels an open order: its owner or a `trade` operator any time, the operator that placed it any
    ///         time (even after losing its permission, which only suspends the order), anyone once it has expired.
    /// @dev Caveat: an order routed to venues (`commitSplit`) is no longer open: its children are at the venues and
    ///      end there (filled, rejected, or expired at their deadlines, which the executor keeps short: the keeper's
    ///      children are immediate-or-cancel), so neither this nor `cancelAllOrders` nor a revoked permission stops
    ///      them.
    function cancelOrder(uint256 orderId) external;

    /// @notice Executes orders with the given splits. Executor only. A failing execution cancels its order
    ///         with the reason instead of reverting the batch. Reverts with `Paused` while trading is paused
    ///         (orders stay open). Risk is decided per (market, venue) slot: a leg that grows or flips its
    ///         slot makes the order risk-increasing (initial requirement checked after settlement), and a
    ///         reduce-only order may only shrink each slot it fills. Every order of an account in
    ///         portfolio mode is checked against its initial requirement, reduce-only ones too: under that rule
    ///         closing a hedge raises the requirement.
    function executeOrders(Execution[] calldata executions) external;

    /// @notice Routes open order `orderId` as one child order per venue, to be filled asynchronously, and
    ///         reserves the initial margin the children need against the account. Executor only.
    /// @dev Checks as `executeOrders` does: trading not paused, order open, not expired, its authority
    ///      intact, venues known and distinct, sizes non-zero and summing to the order's size; each child's
    ///      limit at least as good as the order's and its deadline after now and at most the order's. A
    ///      child reserves ceil(size x price x initial margin fraction), the price being a buy's limit (the
    ///      most it pays) or the higher of a sell's limit and the mark; a reduce-only order reserves nothing.
    ///      For an account in portfolio mode the fraction is the larger of the market's (none if reduce-only),
    ///      the rule's `legMarginBps` and the band plus the largest fee, reduce-only orders included, and a
    ///      market the rule does not map reverts (`PortfolioMarginUnmapped`).
    ///      The account must meet its initial requirement with the reservation counted
    ///      (`InsufficientEquity`). The reservation counts in `perpRisk`'s initial requirement only, so it
    ///      blocks withdrawals, borrowing and other orders but never causes a liquidation.
    ///      Caveat: once routed the order cannot be cancelled by its owner; its children end by fill,
    ///      rejection or expiry.
    /// @return firstChildId The first child's id; the others follow in order.
    function commitSplit(uint256 orderId, ChildSpec[] calldata children)
        external
        returns (uint256 firstChildId);

    /// @notice Books a venue fill of child `childId`. Executor only; works while trading is paused (the
    ///         venue has filled already).
    /// @dev Bounds: `venueFillId` never booked before (`AsyncOrderFillIdUsed`), so a reorg or a keeper
    ///      restart cannot book a fill twice; size non-zero and the child's cumulative filled size at most
    ///      its size (`AsyncOrderOverfill`); price within the child's limit (`AsyncOrderFillOutsideLimit`)
    ///      and, for an open child, within BACKSTOP_PRICE_BAND_BPS of the oracle mark either side
    ///      (`PriceOutsideBand`) and its fee, which the account pays, at most MAX_FILL_FEE_BPS of the fill's
    ///      notional (`AsyncOrderFeeTooHigh`).
    ///      A fill of an open child books on the account's (market, venue) slot as a synchronous fill does
    ///      (entry price, funding index, fee), releases the reservation in proportion and settles the cash;
    ///      a reduce-only order's fill may not grow or flip its slot (`ReduceOnlyIncreases`). The initial
    ///      requirement is checked at the commit, which reserves the child's margin, and not again here: the
    ///      venue has filled already, and an account the fill leaves below initial only loses the right to
    ///      add risk (in portfolio mode, to trade at all; below maintenance it is liquidated).
    ///      A fill of a child already rejected, expired or cancelled by a liquidation is booked to the
    ///      backstop book instead (`LateFillToBackstop`), never to the account, whatever the mark is now:
    ///      the venue holds the fill, and the backstop's entry price is bookkeeping (its PnL is realized in the
    ///      venue account).
    ///      Caveat: if the account checks or the band fail the report reverts; the executor then rejects the
    ///      child and reports the fill again, which books it to the backstop.
    function reportFill(uint256 childId, bytes32 venueFillId, uint256 price, uint256 size, uint256 fee)
        external;

    /// @notice `reportFill` for several fills in one call. Executor only.
    /// @dev A fill whose id was booked already is skipped (`FillSkipped`) rather than reverting, so the
    ///      keeper can resend a batch after a reorg or a restart; any other failure reverts the whole batch.
    /// @return booked How many fills were booked.
    function reportFills(FillReport[] calldata fills) external returns (uint256 booked);

    /// @notice Closes open child `childId` as rejected by its venue, releasing its remaining reservation.
    ///         Executor only. `reason` is the venue's, passed on in `ChildRejected`.
    function rejectChild(uint256 childId, bytes calldata reason) external;

    /// @notice Closes open child `childId` after its deadline (or, any time, once a liquidation of its
    ///         account cancelled it), releasing its remaining reservation. The executor at the deadline, anyone
    ///         `CHILD_EXPIRY_GRACE` (1 hour) after it; before that `AsyncOrderChildNotExpired` names when.
    /// @dev Caveat: the grace keeps a fill the venue made before the deadline, and reported after it, the
    ///      account's; expired at once, its owner could have moved such a fill onto the backstop whenever the
    ///      market went against it.
    function expireChild(uint256 childId) external;

    /// @notice Cancels every open order of `account` at once (they can no longer execute or be routed; children
    ///         already routed end at their venues, see `cancelOrder`). Owner only.
    function cancelAllOrders(address account) external;

    /// @notice Closes `size` (absolute, base WAD) of the backstop book's position in (`market`, `venue`) at
    ///         that venue, within `limitPrice`. Executor only; works while trading is paused.
    /// @dev The limit must lie within BACKSTOP_PRICE_BAND_BPS of the oracle mark (`PriceOutsideBand`), so
    ///      the executor closes large books in slices over several blocks, topping up the venue's margin
    ///      first if the venue would refuse the fill. PnL, fees and funding stay in the venue account, and
    ///      so in the vault's reserves; no client is credited.
    function unwindBackstop(uint8 market, uint8 venue, uint256 size, uint256 limitPrice) external;

    /// @notice Commits a child order that closes `size` (absolute, base WAD) of the backstop book's position in
    ///         (`market`, `venue`) at a venue that fills off chain, within `limitPrice`, until `deadline`.
    ///         Executor only; works while trading is paused.
    /// @dev The child belongs to an order of this module's own (`account` is the trading module) and is born
    ///      closed, so every fill reported for it books to the backstop book (`LateFillToBackstop`), bounded as
    ///      any late fill: at most `size` in total, within the limit. The limit must lie within
    ///      BACKSTOP_PRICE_BAND_BPS of the mark at commit (`PriceOutsideBand`). Caveat: two unwinds committed for the same
    ///      book may together close more than it holds; the excess is the backstop's again, unwound the other way.
    /// @return childId The child whose fills the executor reports.
    function commitBackstopUnwind(
        uint8 market,
        uint8 venue,
        uint256 size,
        uint256 limitPrice,
        uint256 deadline
    ) external returns (uint256 childId);

    /// @notice Moves `amount` of pooled base into venue `venue`'s margin account. Executor only.
    function depositMargin(uint8 venue, uint256 amount) external;

    /// @notice Asks venue `venue` for `amount` of margin back; instant venues pay the vault at once.
    ///         Executor only.
    function requestMarginWithdrawal(uint8 venue, uint256 amount) external returns (uint256 claimableAt);

    /// @notice Collects matured margin withdrawals from venue `venue` into the vault; returns what came back from the
    ///         venue (tokens sent to the module otherwise go to the vault too, not counted as the venue's). Executor
    ///         only.
    function claimMarginWithdrawals(uint8 venue) external returns (uint256 amount);

    /// @notice The margin posted at venue `venue`: what `depositMargin` sent it less what came back from it to the
    ///         vault (the sum of its `VenueMarginMoved`), base units; negative once more came back than was sent.
    ///         The venue's account and the withdrawals on their way back, less this, is what the vault's account
    ///         there has gained or lost (PnL, funding and fees, and anything written off). Reverts `UnknownVenue`.
    function venueMarginSent(uint8 venue) external view returns (int256);

    /// @notice The order `orderId`; an id not issued yet reads as an empty order (status None).
    function order(uint256 orderId) external view returns (Order memory);

    /// @notice Number of orders ever submitted (ids are 0..count-1).
    function orderCount() external view returns (uint256);

    /// @notice The child order `childId`; an id not issued yet reads as an empty child (status None).
    function childOrder(uint256 childId) external view returns (ChildOrder memory);

    /// @notice Number of child orders ever committed (ids are 0..count-1).
    function childOrderCount() external view returns (uint256);

    /// @notice `account`'s asynchronous orders: the initial margin its open children reserve (base units,
    ///         counted in `perpRisk`'s initial requirement), how many are open, and the first child id that
    ///         can still be its own: a liquidation cancels every open child with a lower id at once.
    /// @dev The children of one order have consecutive ids (its `ChildCommitted` events give them).
    function reservation(address account)
        external
        view
        returns (uint256 reservedMargin, uint256 openChildren, uint256 childrenLiveFrom);

    /// @notice Whether the venue fill id `venueFillId` has been booked.
    function fillIdUsed(bytes32 venueFillId) external view returns (bool);

    /// @notice `account`'s position in `market` at `venue`.
    function position(address account, uint8 market, uint8 venue) external view returns (Position memory);

    /// @notice `account`'s open positions: a bit per open (market, venue) slot, slot = market x MAX_VENUES +
    ///         venue, and the positions in slot order.
    function positionsOf(address account)
        external
        view
        returns (uint16 openSlots, Position[] memory positions);

    /// @notice Every venue's current funding index per slot (market x MAX_VENUES + venue), USD WAD per unit.
    function fundingIndexes() external view returns (int256[] memory);

    /// @notice The vault's netted position in `market` at `venue`: its clients' and the backstop's (equals the
    ///         venue's).
    function netPosition(uint8 market, uint8 venue) external view returns (int256);

    /// @notice The backstop book's position in (`market`, `venue`): positions taken from liquidated
    ///         accounts, not yet unwound at the venue. Its entry price is the blended takeover price.
    function backstopPosition(uint8 market, uint8 venue) external view returns (Position memory);

    /// @notice Listed perp markets.
    function markets() external view returns (PerpMarket[] memory);

    /// @notice Venue adapters, by venue id.
    function venues() external view returns (address[] memory);

    /// @notice The vault whose sub-accounts trade here, and which settles their PnL.
    function vault() external view returns (IPrimeVault);

    /// @notice Most perp markets the module lists; market ids are 0..MAX_MARKETS-1.
    function MAX_MARKETS() external view returns (uint256);

    /// @notice Most venues the module uses; a (market, venue) slot is market x MAX_VENUES + venue.
    function MAX_VENUES() external view returns (uint256);

    /// @notice `account`'s order epoch: an order whose `epoch` is older can no longer execute, whatever its
    ///         status says (the owner called `cancelAllOrders` after it was submitted).
    function orderEpoch(address account) external view returns (uint256);

    /// @notice How far from the oracle mark the limit price of `unwindBackstop` may be, basis points.
    function backstopPriceBandBps() external view returns (uint256);

    /// @notice The most a liquidation's takeover discounts a position from the oracle mark, as a share of
    ///         its market's maintenance margin fraction, in basis points (2,000: 1% at a 5% maintenance
    ///         margin). The discount is min(p, max(p / 2, depth)) with p that share of the margin fraction
    ///         and depth how far below maintenance the account is (`IPerpRisk.absorbPositions`).
    function perpPenaltyShareOfMaintenanceBps() external view returns (uint256);
}

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
interface ITradingModule is IPerpRisk, IPrimeVaultErrors, IPrimeVaultEvents {
    enum OrderStatus {
        None,
        Open,
        Executed,
        Cancelled
    }

    struct Order {
        address account;
        uint8 market;
        bool reduceOnly;
        OrderStatus status;
        uint64 deadline; // unix time after which the order can only be cancelled
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

    /// @notice Cancels an open order: its owner or operator any time, anyone once it has expired.
    function cancelOrder(uint256 orderId) external;

    /// @notice Executes orders with the given splits. Executor only. A failing execution cancels its order
    ///         with the reason instead of reverting the batch. Reverts with `Paused` while trading is paused
    ///         (orders stay open). Risk is decided per (market, venue) slot: a leg that grows or flips its
    ///         slot makes the order risk-increasing (initial requirement checked after settlement), and a
    ///         reduce-only order may only shrink each slot it fills.
    function executeOrders(Execution[] calldata executions) external;

    /// @notice Cancels every open order of `account` at once (they can no longer execute). Owner only.
    function cancelAllOrders(address account) external;

    /// @notice Closes `size` (absolute, base WAD) of the backstop book's position in (`market`, `venue`) at
    ///         that venue, within `limitPrice`. Executor only; works while trading is paused.
    /// @dev The limit must lie within BACKSTOP_PRICE_BAND_BPS of the oracle mark (`PriceOutsideBand`), so
    ///      the executor closes large books in slices over several blocks, topping up the venue's margin
    ///      first if the venue would refuse the fill. PnL, fees and funding stay in the venue account, and
    ///      so in the vault's reserves; no client is credited.
    function unwindBackstop(uint8 market, uint8 venue, uint256 size, uint256 limitPrice) external;

    /// @notice Moves `amount` of pooled base into venue `venue`'s margin account. Executor only.
    function depositMargin(uint8 venue, uint256 amount) external;

    /// @notice Asks venue `venue` for `amount` of margin back; instant venues pay the vault at once.
    ///         Executor only.
    function requestMarginWithdrawal(uint8 venue, uint256 amount) external returns (uint256 claimableAt);

    /// @notice Collects matured margin withdrawals from venue `venue` into the vault. Executor only.
    function claimMarginWithdrawals(uint8 venue) external returns (uint256 amount);

    /// @notice The order `orderId`.
    function order(uint256 orderId) external view returns (Order memory);

    /// @notice Number of orders ever submitted (ids are 0..count-1).
    function orderCount() external view returns (uint256);

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

// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AssetParams} from "./IPrimeVaultGovernance.sol";

/// @title IPrimeVaultEvents
/// @notice Every event PrimeVault emits, declared in one place. Amounts are in the asset's own units;
///         values are in base-asset units; basis points (bps) are 1/10,000.
interface IPrimeVaultEvents {
    // ---- Accounts ----
    /// @notice `owner` was recorded as the owner of every sub-account sharing its 19-byte prefix.
    event OwnerRegistered(bytes19 indexed prefix, address indexed owner);
    /// @notice The owner set `operator`'s permission mask on `account` (0 revokes).
    event OperatorSet(address indexed account, address indexed operator, uint256 permissions);
    /// @notice `owner` voided its operator permits with nonces below `nonce`.
    event OperatorPermitsCancelled(address indexed owner, uint256 nonce);
    /// @notice `account` entered (true) or left (false) portfolio mode.
    event PortfolioModeSet(address indexed account, bool enabled);
    /// @notice The portfolio rule's contract was set.
    event PortfolioMarginSet(address indexed portfolioMargin);
    /// @notice `amount` of `asset` was deposited by `from` into `account`.
    event Deposit(address indexed account, address indexed from, address indexed asset, uint256 amount);
    /// @notice `amount` of `asset` left `account` for `receiver`; for the base asset, part may be new debt.
    event Withdraw(address indexed account, address indexed receiver, address indexed asset, uint256 amount);
    /// @notice `amount` of base debt of `account` was repaid by `from`.
    event Repay(address indexed account, address indexed from, uint256 amount);
    /// @notice `amount` of `asset` moved between two sub-accounts of one owner.
    event SubAccountTransfer(address indexed from, address indexed to, address indexed asset, uint256 amount);

    /// @notice The trading module settled `amount` of perp PnL, fees or funding into `account`.
    event Settled(address indexed account, int256 amount);

    // ---- Trading ----
    /// @notice An order was submitted.
    event OrderSubmitted(
        uint256 indexed orderId,
        address indexed account,
        uint256 indexed market,
        int256 size,
        uint256 limitPrice,
        uint256 deadline,
        bool reduceOnly
    );
    /// @notice An order was executed across venues at `averagePrice` (USD WAD) for `fees` base units.
    event OrderExecuted(uint256 indexed orderId, address indexed account, uint256 averagePrice, uint256 fees);
    /// @notice An order was cancelled; `reason` is the ABI-encoded custom error that says why.
    event OrderCancelled(uint256 indexed orderId, address indexed account, bytes reason);
    /// @notice One venue's part of a fill.
    event Fill(
        uint256 indexed orderId,
        address indexed account,
        uint256 market,
        uint256 venue,
        int256 size,
        uint256 price,
        uint256 fee
    );
    /// @notice In a liquidation, part of `account`'s position moved to the backstop book at `price` (USD WAD),
    ///         costing the account `penalty` (base). `size` (signed, base WAD) is the account's side of that trade,
    ///         the fill that closes the part: negative when a long is absorbed, positive for a short.
    event PositionAbsorbed(
        address indexed account,
        uint8 indexed market,
        uint8 indexed venue,
        int256 size,
        uint256 price,
        uint256 penalty
    );
    /// @notice The executor closed `size` (signed, base WAD) of the backstop book at a venue; `realizedPnl`
    ///         (USD WAD, against the backstop's entry) went to reserves through the venue account.
    event BackstopUnwound(
        uint8 indexed market, uint8 indexed venue, int256 size, uint256 price, uint256 fee, int256 realizedPnl
    );
    /// @notice Child `childId` closes signed `size` (base WAD) of the backstop book in (`market`, `venue`) at a venue
    ///         that fills off chain, within `limitPrice` (USD WAD) until `deadline`; its fills book to the backstop.
    event BackstopUnwindCommitted(
        uint256 indexed childId,
        uint8 indexed market,
        uint8 indexed venue,
        int256 size,
        uint256 limitPrice,
        uint256 deadline
    );
    /// @notice Order `orderId` of `account` was routed: its child orders, which have consecutive ids, are the
    ///         `ChildCommitted` events with its id just before this one in the same transaction (their
    ///         reservations add up to what the order reserves).
    event OrderRouted(uint256 indexed orderId, address indexed account);
    /// @notice Child order `childId` of `orderId`: `size` (absolute, base WAD) at `venue` within `limitPrice`
    ///         (USD WAD) until `deadline`, reserving `reservation` (base units).
    event ChildCommitted(
        uint256 indexed childId,
        uint256 indexed orderId,
        uint256 venue,
        uint256 size,
        uint256 limitPrice,
        uint256 deadline,
        uint256 reservation
    );
    /// @notice A venue fill of child `childId` was booked on its account: signed `size` (base WAD) at `price`
    ///         (USD WAD) for `fee` (base units), releasing `released` (base units) of its reservation.
    event ChildFilled(
        uint256 indexed childId,
        uint256 indexed orderId,
        bytes32 indexed venueFillId,
        int256 size,
        uint256 price,
        uint256 fee,
        uint256 released
    );
    /// @notice The venue rejected child `childId`; `reason` is the venue's; `released` base units freed.
    event ChildRejected(uint256 indexed childId, uint256 indexed orderId, bytes reason, uint256 released);
    /// @notice Child `childId` passed its deadline unfilled in part or whole; `released` base units freed.
    event ChildExpired(uint256 indexed childId, uint256 indexed orderId, uint256 released);
    /// @notice Child `childId` was closed after a liquidation of its account cancelled it (nothing reserved).
    event ChildCancelled(uint256 indexed childId, uint256 indexed orderId);
    /// @notice A venue filled reduce-only child `childId` past what the account's slot held by less than the venue's
    ///         size step (the child rounded a position off the step up onto it): signed `size`, the part that would have grown or flipped
    ///         the slot, went to the backstop book of (`market`, `venue`); `ChildFilled` books the rest.
    event ReduceOnlyExcessToBackstop(
        uint256 indexed childId, bytes32 indexed venueFillId, uint8 market, uint8 venue, int256 size
    );
    /// @notice A venue filled child `childId` after it was rejected, expired or cancelled: signed `size` at
    ///         `price` (and the venue's `fee`) went to the backstop book of (`market`, `venue`), not to the
    ///         account.
    event LateFillToBackstop(
        uint256 indexed childId,
        bytes32 indexed venueFillId,
        uint8 market,
        uint8 venue,
        int256 size,
        uint256 price,
        uint256 fee
    );
    /// @notice A batch report skipped a venue fill id that was booked already.
    event FillSkipped(uint256 indexed childId, bytes32 indexed venueFillId);
    /// @notice Every child of order `orderId` has finished (filled, rejected, expired or cancelled).
    event OrderDone(uint256 indexed orderId, address indexed account);
    /// @notice A liquidation cancelled `account`'s `openChildren` open child orders (every child of it with an
    ///         id below `childrenLiveFrom`) and released their `releasedMargin` (base units).
    event OpenChildrenCancelled(
        address indexed account, uint256 childrenLiveFrom, uint256 openChildren, uint256 releasedMargin
    );
    /// @notice The owner cancelled every order of `account` submitted before now.
    event AllOrdersCancelled(address indexed account, uint256 epoch);
    /// @notice Base moved from the pool to a venue's margin account (positive) or back (negative).
    event VenueMarginMoved(uint256 indexed venue, int256 amount);
    /// @notice A perp market was listed.
    event PerpMarketListed(
        uint256 indexed market,
        string ticker,
        address feed,
        uint16 initialMarginBps,
        uint16 maintenanceMarginBps
    );
    /// @notice A venue adapter was added.
    event VenueAdded(uint256 indexed venue, address adapter);

    // ---- Interest ----
    /// @notice Indices after accrual; emitted at most once per block, by the first interaction.
    event InterestAccrued(uint256 supplyIndex, uint256 borrowIndex, uint256 utilizationWad);

    // ---- Liquidation ----
    /// @notice A liquidation batch took `amount` of `asset` into protocol reserves from its accounts (once per asset
    ///         and batch; each account's part follows from its `Liquidated.collateralShare`).
    event CollateralAbsorbed(address indexed asset, uint256 amount);
    /// @notice `account` could not be liquidated in this batch (`reason`: an ABI-encoded error, such as
    ///         `OracleUnusable()` for one of its own prices); the rest of the batch went on.
    event LiquidationSkipped(address indexed account, bytes reason);
    /// @notice `account` was liquidated. The caller, the same for the whole batch, is credited once in
    ///         `LiquidatorRewarded`.
    /// @param debtCleared Base debt extinguished (credited collateral plus any shortfall).
    /// @param shortfall Debt the collateral did not cover; paid by reserves and, past them, by suppliers.
    /// @param collateralShare The share (WAD) of every collateral asset the account held that went to reserves:
    ///        `ceil(balance x collateralShare / 1e18)` of each, all of it at 1e18, none at 0. One log an account
    ///        (Compound III's `absorb` logs once per asset as well), so an indexer recomputes the amounts from
    ///        the balances it follows.
    event Liquidated(
        address indexed account, uint256 debtCleared, uint256 shortfall, uint256 collateralShare
    );
    /// @notice Reserves could not cover the `shortfall` a liquidation batch by `caller` left (the sum of its
    ///         accounts' `Liquidated.shortfall`); `amount` of it is written off against all base suppliers by
    ///         lowering the supply index to `newSupplyIndex`, reserves having covered the rest.
    event BadDebt(address indexed caller, uint256 shortfall, uint256 amount, uint256 newSupplyIndex);
    /// @notice `caller` was credited `reward` base units (its share of penalties) for a liquidation batch.
    event LiquidatorRewarded(address indexed caller, uint256 reward);
    /// @notice `buyer` bought `amount` of absorbed `asset` for `baseAmount`, sent to `recipient`.
    event CollateralBought(
        address indexed buyer, address indexed asset, uint256 amount, uint256 baseAmount, address recipient
    );

    // ---- Governance ----
    /// @notice A collateral asset was listed.
    event AssetListed(address indexed asset, address indexed feed, uint8 index);
    /// @notice Risk parameters of `asset` were set by the admin.
    event AssetConfigured(address indexed asset, AssetParams params);
    /// @notice The risk manager moved the haircuts of `asset`.
    event HaircutsUpdated(address indexed asset, uint16 initialHaircutBps, uint16 maintenanceHaircutBps);
    /// @notice The admin set the bounds the risk manager's haircut updates must respect.
    event HaircutBoundsSet(
        address indexed asset, uint16 minBps, uint16 maxBps, uint16 maxStepBps, uint32 minInterval
    );
    /// @notice New interest-rate model parameters (annual rates, WAD).
    event RateModelSet(
        uint256 baseRatePerYear,
        uint256 slopeLowPerYear,
        uint256 slopeHighPerYear,
        uint256 kink,
        uint256 reserveFactor
    );
    /// @notice New liquidation and lending parameters.
    event LendingParamsSet(uint256 minBorrow, uint16 liquidatorShareBps, uint16 storeFrontDiscountShareBps);
    /// @notice The pause guardian set the paused-actions mask.
    event PauseSet(uint256 pausedActions);
    /// @notice The admin set the trading module.
    event TradingModuleSet(address indexed module);
    /// @notice The admin withdrew base reserves.
    event ReservesWithdrawn(address indexed to, uint256 amount);
}

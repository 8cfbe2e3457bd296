// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Risk parameters of a collateral asset, set together by `listAsset` and `configureAsset`.
struct AssetParams {
    address feed; // Chainlink-style feed quoting the asset in the base asset
    uint32 maxStaleness; // seconds after `updatedAt` at which an answer is refused; > 0
    uint16 initialHaircutBps; // haircut for borrowing and withdrawing; < 100%
    uint16 maintenanceHaircutBps; // haircut for liquidation; <= initial
    uint16 liquidationPenaltyBps; // most a liquidation may discount; <= maintenance
    uint96 supplyCap; // most of the asset the vault accepts, token units
}

/// @title IPrimeVaultGovernance
/// @notice Privileged configuration of the PrimeVault core. Every function is role-gated and emits an event.
/// @dev Roles (OpenZeppelin AccessControl): DEFAULT_ADMIN_ROLE lists assets, sets bounds, rates and
///      reserves; RISK_MANAGER_ROLE moves haircuts inside the admin's bounds (the keeper's key, so a
///      compromised keeper cannot zero haircuts); PAUSE_GUARDIAN_ROLE pauses risk-increasing actions.
interface IPrimeVaultGovernance {
    /// @notice Lists `asset` as collateral. Admin only.
    /// @dev The token must have 6..18 decimals, and with its feed's at least the base asset's; haircut bounds start at [maintenance, initial] with no
    ///      room to move until the admin widens them with `setHaircutBounds`.
    function listAsset(address asset, AssetParams calldata params) external;

    /// @notice Re-configures a listed asset (feed, staleness, haircuts, penalty, cap). Admin only.
    function configureAsset(address asset, AssetParams calldata params) external;

    /// @notice Bounds on the risk manager's haircut updates for `asset`. Admin only.
    /// @param minBps Lowest haircut (either kind) the risk manager may set.
    /// @param maxBps Highest haircut the risk manager may set; below 100%.
    /// @param maxStepBps Largest change of either haircut in one update.
    /// @param minInterval Seconds that must pass between two updates.
    function setHaircutBounds(
        address asset,
        uint16 minBps,
        uint16 maxBps,
        uint16 maxStepBps,
        uint32 minInterval
    ) external;

    /// @notice Moves `asset`'s haircuts within the admin's bounds. Risk manager only.
    /// @dev Reverts with `HaircutOutOfBounds`, `HaircutStepTooLarge` or `HaircutUpdateTooSoon`.
    function updateHaircuts(address asset, uint16 initialHaircutBps, uint16 maintenanceHaircutBps) external;

    /// @notice Current bounds on haircut updates for `asset` and the time of its last update.
    function haircutBounds(address asset)
        external
        view
        returns (uint16 minBps, uint16 maxBps, uint16 maxStepBps, uint32 minInterval, uint40 lastUpdate);

    /// @notice Sets the kinked utilization rate model (annual rates, WAD). Admin only.
    /// @dev borrow = base + slopeLow * min(U, kink) + slopeHigh * max(U - kink, 0);
    ///      supply = borrow * U * (1 - reserveFactor). Interest up to now is accrued first. Caveats: the annual
    ///      rates are kept per second, rounded down; `kink` and `reserveFactor` are at most 1e18, each rate at most
    ///      `MAX_RATE_PER_YEAR` (10e18, 1,000% a year), and `reserveFactor` must be a whole basis point (a multiple of
    ///      1e14), else `InvalidRateModel`.
    function setRateModel(
        uint256 baseRatePerYear,
        uint256 slopeLowPerYear,
        uint256 slopeHighPerYear,
        uint256 kink,
        uint256 reserveFactor
    ) external;

    /// @notice Sets the minimum borrow, the liquidator's share of penalties and the store-front discount
    ///         (as a share of each asset's penalty). Admin only.
    /// @dev The two shares together at most 10,000 bps (`InvalidShare` with their sum): a liquidation's discount
    ///      floor pays both out of the penalty, and beyond it the caller's reward would cost reserves.
    function setLendingParams(uint256 minBorrow, uint16 liquidatorShareBps, uint16 storeFrontDiscountShareBps)
        external;

    /// @notice Sets the paused-actions mask (PAUSE_* flags). Pause guardian or admin.
    /// @dev Repayment and liquidation cannot be paused.
    function setPaused(uint256 pausedActions) external;

    /// @notice Sets the trading module the vault trusts for the perp part of health and for settlement.
    ///         Admin only, once; `NotAContract` for an address without code.
    function setTradingModule(address module) external;

    /// @notice Sets the portfolio rule's contract (`IPortfolioMargin`) used for accounts in portfolio mode.
    ///         Admin only; `NotAContract` for an address without code.
    /// @dev Caveat: replacing it re-margins every account already in portfolio mode under the new contract.
    function setPortfolioMargin(address portfolioMargin) external;

    /// @notice Sends `amount` of base reserves to `to`. Admin only; cannot take reserves below zero.
    function withdrawReserves(address to, uint256 amount) external;
}

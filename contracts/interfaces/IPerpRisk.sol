// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IPerpRisk
/// @notice What the vault core asks of the trading module: the perp part of an account's health and of the
///         vault's reserves. All amounts in base units (USDC, 6 decimals).
interface IPerpRisk {
    /// @notice The perp part of `account`'s health at oracle marks: unrealized PnL less funding owed
    ///         (rounded down), and the initial and maintenance requirements of its positions (rounded up).
    /// @return pnl Signed unrealized PnL minus unsettled funding.
    /// @return initialRequirement Sum of |size| x mark x the market's initial margin fraction.
    /// @return maintenanceRequirement Sum of |size| x mark x the market's maintenance margin fraction.
    /// @return hasPositions Whether the account holds any open position.
    function perpRisk(address account)
        external
        view
        returns (int256 pnl, uint256 initialRequirement, uint256 maintenanceRequirement, bool hasPositions);

    /// @notice `perpRisk` as a liquidation reads it: a venue that cannot answer its funding index (its own
    ///         oracle stale, paused, the market delisted) counts no funding since each position's last booking
    ///         there, instead of reverting, so that an account trading there can still be liquidated.
    /// @dev Caveat: that funding (owed either way) is the backstop's once the position is absorbed.
    function liquidationRisk(address account)
        external
        view
        returns (int256 pnl, uint256 initialRequirement, uint256 maintenanceRequirement, bool hasPositions);

    /// @notice Moves `fractionWad` of every position of `account` (rounded up onto the venue's size step, at most
    ///         all of it, and rounded up to the unit where the venue cannot report its step) to the
    ///         backstop book at the oracle mark less a discount, and returns what the account realized.
    ///         Vault only, during a liquidation. The discount per market is
    ///         min(p, max(p / 2, depthBps)) with p = PERP_PENALTY_SHARE_OF_MAINTENANCE_BPS of its
    ///         maintenance margin fraction; it moves the price against the account.
    /// @dev Caveat: the module does not settle `cash` into the vault (the vault is mid-liquidation and holds
    ///      its reentrancy lock); the vault books it. Reverts on an unusable mark of a market the account
    ///      trades, which the vault treats as "skip this account".
    /// @param depthBps How far below its maintenance requirement the account is, bps of it (at most 100%).
    /// @param maxDiscountBps A cap on every position's discount (BPS: none); the vault passes the portfolio
    ///        rule's for an account in portfolio mode.
    /// @return cash Realized PnL at the discounted price less funding owed, base units, rounded down.
    /// @return penalty The discount's cost to the account, base units, rounded down.
    function absorbPositions(address account, uint256 fractionWad, uint256 depthBps, uint256 maxDiscountBps)
        external
        returns (int256 cash, uint256 penalty);

    /// @notice Whether `account` holds any open position (cheap: no prices read).
    function hasOpenPositions(address account) external view returns (bool);

    /// @notice How many of `account`'s child orders are open (committed to venues, not yet filled, rejected,
    ///         expired or cancelled).
    function openChildCount(address account) external view returns (uint256);

    /// @notice What the vault's venue accounts are worth to the vault: venue equity and pending withdrawals,
    ///         less what the vault owes its clients on their open positions (unrealized PnL and funding), and less
    ///         the backstop book's gain at the mark over its entry, which counts once unwound (the discount it took
    ///         the positions at pays the unwind's fees and spread).
    /// @dev Caveat: a venue whose margin, or funding index for a market its clients hold, cannot be read counts its
    ///      net collateral as nothing (its pending withdrawals still count), less what its clients are owed there
    ///      (what they owe does not count), with no funding since their entries where the index is unreadable (as
    ///      `liquidationRisk`), so that a bad-debt write-off in the batch that
    ///      liquidates them values every other venue; withdrawals a venue cannot report count as nothing. Each
    ///      venue view gets bounded gas, so one that burns all it is given counts as one that cannot answer.
    function venueAssets() external view returns (int256);
}

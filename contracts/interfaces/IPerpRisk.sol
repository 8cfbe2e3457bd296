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

    /// @notice Whether `account` holds any open position (cheap: no prices read).
    function hasOpenPositions(address account) external view returns (bool);

    /// @notice What the vault's venue accounts are worth to the vault: venue equity and pending withdrawals,
    ///         less what the vault owes its clients on their open positions (unrealized PnL and funding).
    function venueAssets() external view returns (int256);
}

// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IVenueAdapter
/// @notice One perp venue seen through the vault's units: sizes in base-asset WAD (1e18 = one BTC), prices
///         in USD WAD per base unit, USDC amounts in USDC units, fees and margins in ppm. One adapter per
///         venue translates to that venue's API (quantums and subticks, string market ids, ...).
/// @dev After Gearbox v3 adapters: an adapter knows exactly one trading module (`tradingModule()`, the only
///      caller of its state-changing functions) and one venue (`target()`); it holds no funds between calls: margin lives
///      in its account at the venue and every payout goes straight to the trading module, which returns it to the vault. Caveat: a venue with
///      delayed withdrawals (RabbitX-style) pays out only on `claimWithdrawal` after the delay.
interface IVenueAdapter {
    /// @notice The caller is not the adapter's trading module.
    error AdapterOnlyTradingModule(address caller);
    /// @notice The vault's market id has no counterpart at this venue.
    error AdapterUnknownMarket(uint8 market);
    /// @notice The size or price does not translate exactly into the venue's units.
    error AdapterUnitMismatch(uint256 value, uint256 unit);
    /// @notice An amount or size past the most any account at a venue can hold (`max`): its arithmetic would overflow.
    error AdapterAmountTooLarge(uint256 amount, uint256 max);

    /// @notice A market's parameters at the venue, in the vault's units.
    struct MarketParams {
        uint256 stepSize; // base WAD
        uint256 tickSize; // USD WAD
        uint256 initialMarginPpm;
        uint256 maintenanceMarginPpm;
        uint256 takerFeePpm;
        uint256 halfSpreadPpm;
        uint256 depth; // base WAD at which marginal impact reaches 100%
        int256 fundingRatePerSecond; // WAD of mark per second, positive: longs pay
    }

    /// @notice The trading module: the only address allowed to trade and move margin through this adapter.
    function tradingModule() external view returns (address);

    /// @notice The venue contract.
    function target() external view returns (address);

    /// @notice Number of vault markets this adapter maps (ids 0..count-1).
    function marketCount() external view returns (uint256);

    /// @notice The venue's parameters for vault market `market`.
    function marketParams(uint8 market) external view returns (MarketParams memory);

    /// @notice Average fill price and fee of a market order of signed `size` now.
    function quote(uint8 market, int256 size) external view returns (uint256 averagePrice, uint256 fee);

    /// @notice The venue's cumulative funding index, USD WAD per base unit.
    function fundingIndex(uint8 market) external view returns (int256);

    /// @notice The adapter's (the vault's netted) signed position at the venue, base WAD.
    function position(uint8 market) external view returns (int256);

    /// @notice The adapter's margin account at the venue, USDC units.
    function margin()
        external
        view
        returns (int256 netCollateral, uint256 initialMargin, uint256 maintenanceMargin);

    /// @notice USDC requested back from the venue but not yet claimed.
    function pendingWithdrawals() external view returns (uint256);

    /// @notice Fills a market order of signed `size` if its average price is within `limitPrice`. Vault only.
    /// @return averagePrice Average fill price, USD WAD.
    /// @return fee Taker fee charged by the venue, USDC units.
    function trade(uint8 market, int256 size, uint256 limitPrice)
        external
        returns (uint256 averagePrice, uint256 fee);

    /// @notice Pulls `amount` USDC from the vault into the adapter's margin account at the venue. Vault only.
    function depositMargin(uint256 amount) external;

    /// @notice Starts a withdrawal of `amount` margin. Venues with instant withdrawals pay the vault at once.
    ///         Vault only.
    /// @return claimableAt When `claimWithdrawal` can pay it (now for instant venues).
    function requestWithdrawal(uint256 amount) external returns (uint256 claimableAt);

    /// @notice Pays every matured withdrawal to the vault. Vault only.
    /// @return amount USDC sent to the vault.
    function claimWithdrawal() external returns (uint256 amount);
}

// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IPerpVenue} from "./IPerpVenue.sol";

/// @title IRabbitStyleVenue
/// @notice A perp venue with RabbitX's shapes and units, as `RabbitAdapter` uses it: one margin account per
///         trader (the caller), markets by string id ("BTC-USD"), sides "long"/"short", sizes and prices as
///         decimals scaled 1e18, and two-step withdrawals: a request, then a claim after a delay.
/// @dev USDC amounts are in USDC units (6 decimals).
interface IRabbitStyleVenue is IPerpVenue {
    /// @notice The fields of RabbitX's order request.
    struct OrderRequest {
        string marketId; // "BTC-USD"
        string side; // "long" or "short"
        uint256 price; // limit (worst average price accepted), 1e18
        uint256 size; // base units, 1e18
        string orderType; // "market"
        uint256 clientOrderId;
    }

    /// @notice Deposits `amount` USDC from the caller into the caller's account.
    /// @return id The deposit's id.
    function deposit(uint256 amount) external returns (uint256 id);

    /// @notice Places an order for the caller.
    /// @return fillPrice Average fill price, 1e18-scaled.
    /// @return fee Taker fee charged, USDC units.
    function placeOrder(OrderRequest calldata order) external returns (uint256 fillPrice, uint256 fee);

    /// @notice Reserves `amount` of the caller's free margin for withdrawal; claimable after
    ///         `withdrawalDelay()`.
    /// @return id The request's id, for `claimWithdrawal`.
    function requestWithdrawal(uint256 amount) external returns (uint256 id);

    /// @notice Pays matured withdrawal request `id` to its trader, who must be the caller.
    function claimWithdrawal(uint256 id) external;

    /// @notice Seconds between a withdrawal request and its claim.
    function withdrawalDelay() external view returns (uint256);

    /// @notice `trader`'s signed position in `marketId`, 1e18 base units.
    function position(address trader, string calldata marketId) external view returns (int256);

    /// @notice `trader`'s USDC balance, account equity and margin requirements, USDC units.
    function accountMargin(address trader)
        external
        view
        returns (int256 balance, int256 equity, uint256 initialMargin, uint256 maintenanceMargin);

    /// @notice Average fill price (1e18) of a market order of `size` on `side` now.
    function quote(string calldata marketId, string calldata side, uint256 size)
        external
        view
        returns (uint256);

    /// @notice Cumulative funding of `marketId`, USD 1e18 per base unit.
    function fundingIndex(string calldata marketId) external view returns (int256);

    /// @notice `marketId`'s parameters in `IPerpVenue.Market`'s units.
    function marketParams(string calldata marketId) external view returns (Market memory);
}

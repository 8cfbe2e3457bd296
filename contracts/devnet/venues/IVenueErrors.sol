// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IVenueErrors
/// @notice Errors of the local perp venues (`DydxStyleVenue`, `RabbitStyleVenue`), declared in one place.
interface IVenueErrors {
    /// @notice No market with this id is listed.
    error VenueUnknownMarket();
    /// @notice The size is zero or not a multiple of the market's step.
    error VenueInvalidSize(uint256 size, uint256 step);
    /// @notice The limit price is not a multiple of the market's tick.
    error VenueInvalidPrice(uint256 price, uint256 tick);
    /// @notice The fill's average price is worse than the order's limit.
    error VenuePriceLimitExceeded(uint256 averagePrice, uint256 limitPrice);
    /// @notice The trade or withdrawal would leave the account below its initial margin.
    error VenueInsufficientMargin(int256 netCollateral, uint256 initialMargin);
    /// @notice A reduce-only order would open or grow a position.
    error VenueReduceOnlyIncreases();
    /// @notice The caller does not control the account.
    error VenueNotAccountOwner(address caller);
    /// @notice The order asks for an order type, side or time in force this venue does not accept.
    error VenueUnsupportedOrder();
    /// @notice The order's good-til-block has passed.
    error VenueOrderExpired(uint256 goodTilBlock, uint256 currentBlock);
    /// @notice The feed answered zero, a negative price, or a stale one.
    error VenueBadPrice(address feed);
    /// @notice The withdrawal request is not claimable yet, already claimed, or not the caller's.
    error VenueWithdrawalNotClaimable(uint256 id, uint256 claimableAt);
    /// @notice The venue's own pool cannot pay this out.
    error VenueInsufficientLiquidity(uint256 available, uint256 requested);
    /// @notice A parameter is out of range.
    error VenueInvalidParameter();
    /// @notice Zero amount.
    error VenueZeroAmount();
}

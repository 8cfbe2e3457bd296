// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IAggregatorV3
/// @notice Chainlink's `AggregatorV3Interface`, the read side PrimeVault uses from every price feed.
/// @dev Declared here rather than importing `@chainlink/contracts`, which would pull a large package for
///      five function signatures. Signatures are identical to Chainlink's.
interface IAggregatorV3 {
    /// @notice Decimals of `answer`.
    function decimals() external view returns (uint8);

    /// @notice Human-readable feed name, e.g. "ETH / USD".
    function description() external view returns (string memory);

    /// @notice Version of the aggregator implementation.
    function version() external view returns (uint256);

    /// @notice The latest round.
    /// @return roundId Id of the round.
    /// @return answer The price, scaled by `decimals()`; may be zero or negative on a faulty feed.
    /// @return startedAt When the round started.
    /// @return updatedAt When `answer` was last written; the staleness reference.
    /// @return answeredInRound Deprecated by Chainlink; equal to `roundId`.
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);
}

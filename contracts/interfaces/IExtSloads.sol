// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IExtSloads
/// @notice Raw storage reads, after Morpho Blue's `extSloads`: what a periphery reader (the lens) needs from many
///         accounts at once without a call per account per field.
/// @dev The storage layout is not part of any interface: a reader built on it must be built with the same version
///      of the contract, and test its reads against the contract's own views (the lens does).
interface IExtSloads {
    /// @notice The words stored at `slots`, in order.
    function extSloads(bytes32[] calldata slots) external view returns (bytes32[] memory);
}

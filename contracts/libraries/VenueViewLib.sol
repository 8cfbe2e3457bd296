// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title VenueViewLib
/// @notice Reads a venue adapter's view without trusting it to answer: for the paths that must go on when a venue
///         cannot (a liquidation, a batch's write-off, the keeper's lens).
library VenueViewLib {
    /// @notice The first word of `target`'s answer to the view call `data`, run with at most `gasLimit`, and whether it
    ///         answered: a revert, running out of gas, no code and an answer shorter than `minLength` bytes all
    ///         count as no answer (`answered` false, `word` 0).
    /// @dev A low-level call, not try/catch: a `try ... returns` decodes the answer in the caller's frame, so an
    ///      adapter answering nothing or too little (a proxy whose implementation lost its code, a silent fallback)
    ///      would revert there, uncaught. Only one word is copied, however long the answer: a huge answer costs
    ///      the caller no memory.
    function firstWord(address target, bytes memory data, uint256 gasLimit, uint256 minLength)
        internal
        view
        returns (bool answered, bytes32 word)
    {
        assembly ("memory-safe") {
            mstore(0, 0)
            answered := staticcall(gasLimit, target, add(data, 32), mload(data), 0, 32)
            answered := and(answered, iszero(lt(returndatasize(), minLength)))
            if answered { word := mload(0) }
        }
    }
}

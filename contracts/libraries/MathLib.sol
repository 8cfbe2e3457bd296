// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title MathLib
/// @notice Small integer helpers OpenZeppelin's `Math` and `SignedMath` do not have.
library MathLib {
    /// @notice Number of set bits in `bits` (Kernighan's loop: one iteration per set bit).
    function popCount(uint256 bits) internal pure returns (uint256 count) {
        for (; bits != 0; bits &= bits - 1) {
            ++count;
        }
    }
}

// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Panic} from "@openzeppelin/contracts/utils/Panic.sol";

/// @title MathLib
/// @notice Small integer helpers OpenZeppelin's `Math` and `SignedMath` do not have.
library MathLib {
    /// @notice Number of set bits in `bits` (Kernighan's loop: one iteration per set bit).
    function popCount(uint256 bits) internal pure returns (uint256 count) {
        for (; bits != 0; bits &= bits - 1) {
            ++count;
        }
    }

    /// @notice `10**exponent`, with the compiler's overflow panic past 10**77 (the largest power of ten in 256
    ///         bits), by one comparison and the EXP opcode: the compiler's checked power of a variable exponent is a
    ///         loop of overflow checks, about 250 gas more on every valuation and mark.
    function pow10(uint256 exponent) internal pure returns (uint256 p) {
        if (exponent > 77) Panic.panic(Panic.UNDER_OVERFLOW);
        assembly ("memory-safe") {
            p := exp(10, exponent)
        }
    }
}

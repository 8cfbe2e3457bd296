// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Test, stdError} from "forge-std/Test.sol";

import {MathLib} from "../../../contracts/libraries/MathLib.sol";

contract MathLibTest is Test {
    using MathLib for uint256;

    /// @dev Bit-by-bit reference count.
    function _naivePopCount(uint256 x) internal pure returns (uint256 count) {
        for (uint256 i; i < 256; ++i) {
            count += (x >> i) & 1;
        }
    }

    function test_popCount_examples() public pure {
        assertEq(uint256(0).popCount(), 0);
        assertEq(uint256(1).popCount(), 1);
        assertEq(uint256(0xb).popCount(), 3); // 0b1011
        assertEq(uint256(0xff).popCount(), 8);
        assertEq(uint256(0x8000_0000_0000_0001).popCount(), 2);
        assertEq(uint256(1 << 255).popCount(), 1);
        assertEq(type(uint256).max.popCount(), 256);
        assertEq((type(uint256).max - 1).popCount(), 255);
        assertEq(uint256(type(uint128).max).popCount(), 128);
    }

    function testFuzz_popCount_matchesBitByBitCount(uint256 x) public pure {
        assertEq(x.popCount(), _naivePopCount(x));
    }

    function testFuzz_popCount_singleBit(uint8 bit) public pure {
        assertEq((uint256(1) << bit).popCount(), 1);
        // All bits below it.
        assertEq(((uint256(1) << bit) - 1).popCount(), bit);
    }

    /// @dev Inclusion-exclusion: |a ∪ b| + |a ∩ b| = |a| + |b|; complements add up to 256.
    function testFuzz_popCount_setIdentities(uint256 a, uint256 b) public pure {
        assertEq((a | b).popCount() + (a & b).popCount(), a.popCount() + b.popCount());
        assertEq(a.popCount() + (~a).popCount(), 256);
        assertEq((a ^ b).popCount(), a.popCount() + b.popCount() - 2 * (a & b).popCount());
    }

    /// @dev Against the compiler's checked power: the same value for every exponent it takes, and the same
    ///      arithmetic panic for every one it does not.
    function testFuzz_pow10_matchesTheCheckedPower(uint256 exponent) public {
        if (exponent <= 77) {
            assertEq(MathLib.pow10(exponent), 10 ** exponent);
        } else {
            vm.expectRevert(stdError.arithmeticError);
            this.pow10(exponent);
        }
    }

    function pow10(uint256 exponent) external pure returns (uint256) {
        return MathLib.pow10(exponent);
    }
}

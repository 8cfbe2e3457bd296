// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @title InterestLib
/// @notice Kinked utilization rates and signed principal <-> present value, after Compound III.
/// @dev Indices are scaled by INDEX_SCALE and only grow by accrual (the supply index can only fall through
///      a recorded bad-debt write-off). Rounding favours the protocol: supply balances round down, debts
///      round up, in both directions of the conversion.
library InterestLib {
    using SafeCast for uint256;

    uint256 internal constant INDEX_SCALE = 1e15;
    uint256 internal constant WAD = 1e18;
    uint256 internal constant SECONDS_PER_YEAR = 365 days;

    /// @notice The rate model in per-second WAD rates.
    struct RateModel {
        uint64 baseRate;
        uint64 slopeLow;
        uint64 slopeHigh;
        uint64 kink; // WAD utilization
    }

    /// @notice Borrowed share of supplied base, WAD; 0 when nothing is supplied.
    function utilization(uint256 totalSupply, uint256 totalBorrow) internal pure returns (uint256) {
        return totalSupply == 0 ? 0 : Math.mulDiv(totalBorrow, WAD, totalSupply);
    }

    /// @notice Per-second borrow rate (WAD) at utilization `u`.
    function borrowRate(RateModel memory m, uint256 u) internal pure returns (uint256) {
        if (u <= m.kink) return m.baseRate + Math.mulDiv(m.slopeLow, u, WAD);
        return m.baseRate + Math.mulDiv(m.slopeLow, m.kink, WAD) + Math.mulDiv(m.slopeHigh, u - m.kink, WAD);
    }

    /// @notice Per-second supply rate (WAD): borrow rate x utilization x (1 - reserve factor).
    function supplyRate(RateModel memory m, uint256 u, uint256 reserveFactorBps)
        internal
        pure
        returns (uint256)
    {
        return Math.mulDiv(borrowRate(m, u), u * (10_000 - reserveFactorBps), WAD * 10_000);
    }

    /// @notice Grows an index by `ratePerSecond` for `elapsed` seconds (simple interest per interaction,
    ///         compounding across interactions). Rounds down.
    function grow(uint256 index, uint256 ratePerSecond, uint256 elapsed) internal pure returns (uint256) {
        return index + Math.mulDiv(index, ratePerSecond * elapsed, WAD);
    }

    /// @notice Signed present value of a principal: supply rounds down, debt rounds up.
    function presentValue(int256 principal, uint256 supplyIndex, uint256 borrowIndex)
        internal
        pure
        returns (int256)
    {
        // Principals fit 104 bits and indices 64: the products need no 512-bit arithmetic.
        if (principal >= 0) return (uint256(principal) * supplyIndex / INDEX_SCALE).toInt256();
        return -((uint256(-principal) * borrowIndex + INDEX_SCALE - 1) / INDEX_SCALE).toInt256();
    }

    /// @notice Signed principal for a present value: supply rounds down, debt rounds up.
    function principalValue(int256 value, uint256 supplyIndex, uint256 borrowIndex)
        internal
        pure
        returns (int256)
    {
        // A value whose product with INDEX_SCALE overflows has no principal that fits 104 bits either: a
        // checked overflow refuses what the principal's cast would.
        if (value >= 0) return (uint256(value) * INDEX_SCALE / supplyIndex).toInt256();
        return -((uint256(-value) * INDEX_SCALE + borrowIndex - 1) / borrowIndex).toInt256();
    }

    /// @notice Converts an annual WAD rate to a per-second WAD rate (rounded down).
    function perSecond(uint256 perYear) internal pure returns (uint64) {
        return (perYear / SECONDS_PER_YEAR).toUint64();
    }
}

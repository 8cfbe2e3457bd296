// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Test, stdError} from "forge-std/Test.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {InterestLib} from "../../../contracts/libraries/InterestLib.sol";
import {InterestLibHarness} from "./harnesses/InterestLibHarness.sol";

contract InterestLibTest is Test {
    uint256 internal constant WAD = 1e18;
    uint256 internal constant SCALE = 1e15; // InterestLib.INDEX_SCALE
    uint256 internal constant YEAR = 365 days;
    uint256 internal constant MAX_INDEX = type(uint64).max; // indices are stored as uint64
    int256 internal constant MAX_PRINCIPAL = 1e30;

    InterestLibHarness internal lib;

    function setUp() public {
        lib = new InterestLibHarness();
    }

    /// @dev docs/risk.md's defaults (Aave v3's test curve): base 1%, slopeLow 5%, slopeHigh 300% a year, kink 80%.
    ///      Per second, rounded down: 0.01e18 / 31,536,000 = 317,097,919.8 -> 317,097,919;
    ///      0.05e18 / 31,536,000 = 1,585,489,599.2 -> 1,585,489,599; 3e18 / 31,536,000 = 95,129,375,951.3 ->
    ///      95,129,375,951.
    function _defaultModel() internal pure returns (InterestLib.RateModel memory) {
        return InterestLib.RateModel({
            baseRate: 317_097_919, slopeLow: 1_585_489_599, slopeHigh: 95_129_375_951, kink: 0.8e18
        });
    }

    function _model(uint64 base, uint64 low, uint64 high, uint256 kink)
        internal
        pure
        returns (InterestLib.RateModel memory)
    {
        return InterestLib.RateModel({baseRate: base, slopeLow: low, slopeHigh: high, kink: uint64(kink)});
    }

    function _abs(int256 x) internal pure returns (uint256) {
        return x >= 0 ? uint256(x) : uint256(-x);
    }

    // ------------------------------------------------------------------ constants

    function test_constants() public pure {
        assertEq(InterestLib.INDEX_SCALE, 1e15);
        assertEq(InterestLib.WAD, 1e18);
        assertEq(InterestLib.SECONDS_PER_YEAR, 31_536_000);
    }

    // ------------------------------------------------------------------ utilization

    function test_utilization_examples() public pure {
        assertEq(InterestLib.utilization(1_000_000e6, 500_000e6), 0.5e18);
        assertEq(InterestLib.utilization(1_000_000e6, 1_000_000e6), 1e18);
        assertEq(InterestLib.utilization(1_000_000e6, 0), 0);
        // 1/3 = 0.333... rounds down.
        assertEq(InterestLib.utilization(3, 1), 333_333_333_333_333_333);
        // 2/3 = 0.666... rounds down too.
        assertEq(InterestLib.utilization(3, 2), 666_666_666_666_666_666);
    }

    function test_utilization_zeroSupplyIsZero() public pure {
        assertEq(InterestLib.utilization(0, 0), 0);
        assertEq(InterestLib.utilization(0, 1e18), 0);
        assertEq(InterestLib.utilization(0, type(uint256).max), 0);
    }

    function test_utilization_maxValuesDoNotOverflow() public pure {
        assertEq(InterestLib.utilization(type(uint256).max, type(uint256).max), 1e18);
        assertEq(InterestLib.utilization(type(uint256).max, type(uint256).max / 2), 0.5e18 - 1);
    }

    function testFuzz_utilization_roundsDown(uint256 supply, uint256 borrow) public pure {
        supply = bound(supply, 1, 1e36);
        borrow = bound(borrow, 0, 1e36);
        uint256 u = InterestLib.utilization(supply, borrow);
        assertLe(u * supply, borrow * WAD);
        assertGt((u + 1) * supply, borrow * WAD);
        if (borrow <= supply) assertLe(u, WAD);
    }

    function testFuzz_utilization_monotoneInBorrow(uint256 supply, uint256 b1, uint256 b2) public pure {
        supply = bound(supply, 1, 1e36);
        b1 = bound(b1, 0, 1e36);
        b2 = bound(b2, b1, 1e36);
        assertLe(InterestLib.utilization(supply, b1), InterestLib.utilization(supply, b2));
    }

    // ------------------------------------------------------------------ borrowRate

    function test_borrowRate_defaultCurve() public pure {
        InterestLib.RateModel memory m = _defaultModel();
        assertEq(InterestLib.borrowRate(m, 0), 317_097_919);
        // 50%: 317,097,919 + floor(1,585,489,599 x 0.5 = 792,744,799.5) = 1,109,842,718 (3.5% a year).
        assertEq(InterestLib.borrowRate(m, 0.5e18), 1_109_842_718);
        // At the kink: 317,097,919 + floor(1,585,489,599 x 0.8 = 1,268,391,679.2) = 1,585,489,598 (5%).
        assertEq(InterestLib.borrowRate(m, 0.8e18), 1_585_489_598);
        // 90%: 1,585,489,598 + floor(95,129,375,951 x 0.1 = 9,512,937,595.1) = 11,098,427,193 (35%).
        assertEq(InterestLib.borrowRate(m, 0.9e18), 11_098_427_193);
        // 100%: 1,585,489,598 + floor(95,129,375,951 x 0.2 = 19,025,875,190.2) = 20,611,364,788 (65%).
        assertEq(InterestLib.borrowRate(m, 1e18), 20_611_364_788);
    }

    function test_borrowRate_justAboveTheKink() public pure {
        InterestLib.RateModel memory m = _model(0, 0, uint64(2e18), 0.5e18);
        // slopeLow 0: flat up to the kink, then 2 per unit of utilization above it.
        assertEq(InterestLib.borrowRate(m, 0.5e18), 0);
        assertEq(InterestLib.borrowRate(m, 0.5e18 + 1), 2);
        assertEq(InterestLib.borrowRate(m, 0.5e18 + 7), 14);
    }

    function test_borrowRate_kinkAtZeroAndAtOne() public pure {
        // Kink at 0: slopeHigh from the start.
        assertEq(InterestLib.borrowRate(_model(10, 1e18, 3e18, 0), 0.5e18), 10 + 1.5e18);
        // Kink at 100%: slopeLow all the way.
        assertEq(InterestLib.borrowRate(_model(10, 1e18, 3e18, 1e18), 1e18), 10 + 1e18);
    }

    function test_borrowRate_maxParametersDoNotOverflow() public pure {
        uint64 max = type(uint64).max;
        InterestLib.RateModel memory m = _model(max, max, max, 1e18);
        assertEq(InterestLib.borrowRate(m, 1e18), 2 * uint256(max));
        assertEq(InterestLib.borrowRate(m, 2e18), 3 * uint256(max));
    }

    function testFuzz_borrowRate_matchesTheKinkedCurve(
        uint64 base,
        uint64 low,
        uint64 high,
        uint256 kink,
        uint256 u
    ) public pure {
        kink = bound(kink, 0, WAD);
        u = bound(u, 0, 2 * WAD);
        InterestLib.RateModel memory m = _model(base, low, high, kink);
        uint256 rate = InterestLib.borrowRate(m, u);
        // Exact rate x WAD, then each slope term is rounded down on its own (at most 2 units lost).
        uint256 below = u < kink ? u : kink;
        uint256 above = u > kink ? u - kink : 0;
        uint256 exactWad = uint256(base) * WAD + uint256(low) * below + uint256(high) * above;
        assertLe(rate * WAD, exactWad);
        assertGt((rate + 2) * WAD, exactWad);
        assertGe(rate, base);
    }

    function testFuzz_borrowRate_monotone(
        uint64 base,
        uint64 low,
        uint64 high,
        uint256 kink,
        uint256 u1,
        uint256 u2
    ) public pure {
        kink = bound(kink, 0, WAD);
        u1 = bound(u1, 0, 2 * WAD);
        u2 = bound(u2, u1, 2 * WAD);
        InterestLib.RateModel memory m = _model(base, low, high, kink);
        assertLe(InterestLib.borrowRate(m, u1), InterestLib.borrowRate(m, u2));
    }

    /// @dev No jump at the kink: above it the rate grows from the kink's rate by the high slope only.
    function testFuzz_borrowRate_continuousAtTheKink(
        uint64 base,
        uint64 low,
        uint64 high,
        uint256 kink,
        uint256 d
    ) public pure {
        kink = bound(kink, 0, WAD);
        d = bound(d, 0, WAD);
        InterestLib.RateModel memory m = _model(base, low, high, kink);
        uint256 atKink = InterestLib.borrowRate(m, kink);
        assertEq(atKink, base + uint256(low) * kink / WAD);
        assertEq(InterestLib.borrowRate(m, kink + d), atKink + uint256(high) * d / WAD);
    }

    // ------------------------------------------------------------------ supplyRate

    function test_supplyRate_defaultCurve() public pure {
        InterestLib.RateModel memory m = _defaultModel();
        // 50%, 10% reserve factor: floor(1,109,842,718 x 0.5 x 0.9 = 499,429,223.1) = 499,429,223 (1.575%).
        assertEq(InterestLib.supplyRate(m, 0.5e18, 1000), 499_429_223);
        // No reserve factor: floor(1,109,842,718 x 0.5) = 554,921,359.
        assertEq(InterestLib.supplyRate(m, 0.5e18, 0), 554_921_359);
        // Full reserve factor: suppliers earn nothing.
        assertEq(InterestLib.supplyRate(m, 0.5e18, 10_000), 0);
        // Nothing borrowed: suppliers earn nothing whatever the base rate.
        assertEq(InterestLib.supplyRate(m, 0, 0), 0);
    }

    function test_supplyRate_roundsDown() public pure {
        // Borrow rate 3 at 50% with a 10% reserve factor: 3 x 0.5 x 0.9 = 1.35 -> 1.
        assertEq(InterestLib.supplyRate(_model(3, 0, 0, WAD), 0.5e18, 1000), 1);
        // 1 x 0.5 = 0.5 -> 0.
        assertEq(InterestLib.supplyRate(_model(1, 0, 0, WAD), 0.5e18, 0), 0);
    }

    function test_supplyRate_reserveFactorAboveOneReverts() public {
        vm.expectRevert(stdError.arithmeticError);
        lib.supplyRate(_defaultModel(), 0.5e18, 10_001);
    }

    /// @dev Suppliers never earn more than borrowers pay: supplyRate x supply <= borrowRate x borrow.
    function testFuzz_supplyRate_suppliersEarnAtMostWhatBorrowersPay(
        uint64 base,
        uint64 low,
        uint64 high,
        uint256 kink,
        uint256 supply,
        uint256 borrow,
        uint256 reserveFactorBps
    ) public pure {
        kink = bound(kink, 0, WAD);
        supply = bound(supply, 1, 1e30);
        borrow = bound(borrow, 0, supply);
        reserveFactorBps = bound(reserveFactorBps, 0, 10_000);
        InterestLib.RateModel memory m = _model(base, low, high, kink);
        uint256 u = InterestLib.utilization(supply, borrow);
        uint256 sr = InterestLib.supplyRate(m, u, reserveFactorBps);
        uint256 br = InterestLib.borrowRate(m, u);
        assertLe(sr * supply, br * borrow);
        assertLe(sr, br);
        // And the reserve factor's share is actually kept: sr <= br x u x (1 - rf), rounded down.
        assertLe(sr * WAD * 10_000, br * u * (10_000 - reserveFactorBps));
    }

    function testFuzz_supplyRate_decreasesWithTheReserveFactor(uint256 u, uint256 rf1, uint256 rf2)
        public
        pure
    {
        u = bound(u, 0, WAD);
        rf1 = bound(rf1, 0, 10_000);
        rf2 = bound(rf2, rf1, 10_000);
        InterestLib.RateModel memory m = _defaultModel();
        assertGe(InterestLib.supplyRate(m, u, rf1), InterestLib.supplyRate(m, u, rf2));
    }

    // ------------------------------------------------------------------ grow

    function test_grow_oneYearAtHalfUtilization() public pure {
        // Borrow index: 1e15 + floor(1e15 x 1,109,842,718 x 31,536,000 / 1e18)
        //             = 1e15 + 34,999,999,954,848 = 1,034,999,999,954,848 (3.5% less per-second truncation).
        assertEq(InterestLib.grow(SCALE, 1_109_842_718, YEAR), 1_034_999_999_954_848);
        // Supply index: 1e15 + floor(1e15 x 499,429,223 x 31,536,000 / 1e18) = 1,015,749,999,976,528.
        assertEq(InterestLib.grow(SCALE, 499_429_223, YEAR), 1_015_749_999_976_528);
    }

    function test_grow_roundsDown() public pure {
        // 1,000 x 1 x 1 / 1e18 = 1e-15 -> 0: the index does not move.
        assertEq(InterestLib.grow(1000, 1, 1), 1000);
        // 1e15 x 1e3 x 1 / 1e18 = 1 exactly.
        assertEq(InterestLib.grow(1e15, 1000, 1), 1e15 + 1);
        // 1e15 x 1,999 / 1e18 = 1.999 -> 1.
        assertEq(InterestLib.grow(1e15, 1999, 1), 1e15 + 1);
    }

    function test_grow_zeroRateOrTimeLeavesTheIndex() public pure {
        assertEq(InterestLib.grow(1.2e15, 0, YEAR), 1.2e15);
        assertEq(InterestLib.grow(1.2e15, 1e12, 0), 1.2e15);
        assertEq(InterestLib.grow(0, 1e12, YEAR), 0);
    }

    function test_grow_overflowReverts() public {
        vm.expectRevert(stdError.arithmeticError);
        lib.grow(SCALE, type(uint256).max, 2);
        vm.expectRevert(stdError.arithmeticError);
        lib.grow(type(uint256).max, WAD, 1);
    }

    function testFuzz_grow_roundsDown(uint256 index, uint256 rate, uint256 elapsed) public pure {
        index = bound(index, 0, MAX_INDEX);
        rate = bound(rate, 0, 1e13);
        elapsed = bound(elapsed, 0, 10 * YEAR);
        uint256 grown = InterestLib.grow(index, rate, elapsed);
        assertGe(grown, index);
        uint256 exact = index * rate * elapsed; // growth x WAD
        assertLe((grown - index) * WAD, exact);
        assertGt((grown - index + 1) * WAD, exact);
    }

    function testFuzz_grow_monotone(uint256 index, uint256 r1, uint256 r2, uint256 t1, uint256 t2)
        public
        pure
    {
        index = bound(index, 0, MAX_INDEX);
        r1 = bound(r1, 0, 1e13);
        r2 = bound(r2, r1, 1e13);
        t1 = bound(t1, 0, 10 * YEAR);
        t2 = bound(t2, t1, 10 * YEAR);
        assertLe(InterestLib.grow(index, r1, t1), InterestLib.grow(index, r2, t1));
        assertLe(InterestLib.grow(index, r1, t1), InterestLib.grow(index, r1, t2));
        assertLe(InterestLib.grow(index, r1, t1), InterestLib.grow(index + 1, r1, t1));
    }

    /// @dev Accruing in two steps compounds: never below one step over the whole time, less one unit of rounding.
    function testFuzz_grow_splitAccrualCompounds(uint256 index, uint256 rate, uint256 t1, uint256 t2)
        public
        pure
    {
        index = bound(index, SCALE / 2, MAX_INDEX);
        rate = bound(rate, 0, 1e13);
        t1 = bound(t1, 0, 5 * YEAR);
        t2 = bound(t2, 0, 5 * YEAR);
        uint256 split = InterestLib.grow(InterestLib.grow(index, rate, t1), rate, t2);
        uint256 once = InterestLib.grow(index, rate, t1 + t2);
        assertGe(split + 1, once);
    }

    // ------------------------------------------------------------------ presentValue

    function test_presentValue_examples() public pure {
        // 1,000 USDC supplied at a supply index of 1.05: 1,050 USDC.
        assertEq(InterestLib.presentValue(1000e6, 1.05e15, 1.1e15), 1050e6);
        // 1,000 USDC borrowed at a borrow index of 1.1: owes 1,100 USDC.
        assertEq(InterestLib.presentValue(-1000e6, 1.05e15, 1.1e15), -1100e6);
        // docs/risk.md after one year at 50%: the 500,000 USDC loan owes
        // ceil(500,000e6 x 1,034,999,999,954,848 / 1e15 = 517,499,999,977.424) = 517,499.999978 USDC ...
        assertEq(InterestLib.presentValue(-500_000e6, 0, 1_034_999_999_954_848), -517_499_999_978);
        // ... and the 1,000,000 supplied grows to floor(1,015,749,999,976.528) = 1,015,749.999976 USDC.
        assertEq(InterestLib.presentValue(1_000_000e6, 1_015_749_999_976_528, 0), 1_015_749_999_976);
    }

    function test_presentValue_roundsAgainstTheUser() public pure {
        // 1 x 1.5 = 1.5: a supply of it is worth 1, a debt of it owes 2.
        assertEq(InterestLib.presentValue(1, 1.5e15, 1.5e15), 1);
        assertEq(InterestLib.presentValue(-1, 1.5e15, 1.5e15), -2);
        // A tiny debt never rounds away: 1 x 1e-15 owes 1.
        assertEq(InterestLib.presentValue(-1, 1, 1), -1);
        // A tiny supply does: 1 x 1e-15 is worth 0.
        assertEq(InterestLib.presentValue(1, 1, 1), 0);
    }

    function test_presentValue_zero() public pure {
        assertEq(InterestLib.presentValue(0, 1.3e15, 1.7e15), 0);
        assertEq(InterestLib.presentValue(0, 0, 0), 0);
    }

    /// @dev Principals are stored in 104 bits and indices in 64: exact at those bounds; a product past 2^256
    ///      reverts instead of wrapping.
    function test_presentValue_extremes() public {
        int256 most = type(int104).max;
        uint256 index = type(uint64).max;
        assertEq(InterestLib.presentValue(most, index, index), most * int256(index) / int256(SCALE));
        assertEq(
            InterestLib.presentValue(-most, index, index),
            -((most * int256(index) + int256(SCALE) - 1) / int256(SCALE))
        );
        // -type(int256).min does not fit an int256.
        vm.expectRevert(stdError.arithmeticError);
        lib.presentValue(type(int256).min, SCALE, SCALE);
        vm.expectRevert(stdError.arithmeticError);
        lib.presentValue(type(int256).max, 2 * SCALE, SCALE);
    }

    function testFuzz_presentValue_roundsAgainstTheUser(
        int256 principal,
        uint256 supplyIndex,
        uint256 borrowIndex
    ) public pure {
        principal = bound(principal, -MAX_PRINCIPAL, MAX_PRINCIPAL);
        supplyIndex = bound(supplyIndex, 1, MAX_INDEX);
        borrowIndex = bound(borrowIndex, 1, MAX_INDEX);
        int256 pv = InterestLib.presentValue(principal, supplyIndex, borrowIndex);
        if (principal >= 0) {
            // Supply: floor.
            assertGe(pv, 0);
            assertLe(uint256(pv) * SCALE, uint256(principal) * supplyIndex);
            assertGt((uint256(pv) + 1) * SCALE, uint256(principal) * supplyIndex);
        } else {
            // Debt: ceil, and never rounds to zero.
            assertLt(pv, 0);
            assertGe(_abs(pv) * SCALE, _abs(principal) * borrowIndex);
            assertLt((_abs(pv) - 1) * SCALE, _abs(principal) * borrowIndex);
        }
    }

    /// @dev Supply balances read only the supply index, debts only the borrow index.
    function testFuzz_presentValue_usesOneIndexPerSide(
        int256 principal,
        uint256 s1,
        uint256 s2,
        uint256 b1,
        uint256 b2
    ) public pure {
        principal = bound(principal, -MAX_PRINCIPAL, MAX_PRINCIPAL);
        s1 = bound(s1, 1, MAX_INDEX);
        s2 = bound(s2, 1, MAX_INDEX);
        b1 = bound(b1, 1, MAX_INDEX);
        b2 = bound(b2, 1, MAX_INDEX);
        if (principal >= 0) {
            assertEq(InterestLib.presentValue(principal, s1, b1), InterestLib.presentValue(principal, s1, b2));
        } else {
            assertEq(InterestLib.presentValue(principal, s1, b1), InterestLib.presentValue(principal, s2, b1));
        }
    }

    function testFuzz_presentValue_monotoneInPrincipal(
        int256 p1,
        int256 p2,
        uint256 supplyIndex,
        uint256 borrowIndex
    ) public pure {
        p1 = bound(p1, -MAX_PRINCIPAL, MAX_PRINCIPAL);
        p2 = bound(p2, p1, MAX_PRINCIPAL);
        supplyIndex = bound(supplyIndex, 1, MAX_INDEX);
        borrowIndex = bound(borrowIndex, 1, MAX_INDEX);
        assertLe(
            InterestLib.presentValue(p1, supplyIndex, borrowIndex),
            InterestLib.presentValue(p2, supplyIndex, borrowIndex)
        );
    }

    // ------------------------------------------------------------------ principalValue

    function test_principalValue_examples() public pure {
        assertEq(InterestLib.principalValue(1050e6, 1.05e15, 1.1e15), 1000e6);
        assertEq(InterestLib.principalValue(-1100e6, 1.05e15, 1.1e15), -1000e6);
        // 3 / 1.5 = 2 exactly on both sides.
        assertEq(InterestLib.principalValue(3, 1.5e15, 1.5e15), 2);
        assertEq(InterestLib.principalValue(-3, 1.5e15, 1.5e15), -2);
    }

    function test_principalValue_roundsAgainstTheUser() public pure {
        // 1 / 1.5 = 0.67: a deposit of 1 buys 0 principal, a debt of 1 is 1 principal.
        assertEq(InterestLib.principalValue(1, 1.5e15, 1.5e15), 0);
        assertEq(InterestLib.principalValue(-1, 1.5e15, 1.5e15), -1);
        // 2 / 1.5 = 1.33: 1 supply principal, 2 debt principal.
        assertEq(InterestLib.principalValue(2, 1.5e15, 1.5e15), 1);
        assertEq(InterestLib.principalValue(-2, 1.5e15, 1.5e15), -2);
    }

    function test_principalValue_zero() public pure {
        assertEq(InterestLib.principalValue(0, 1.3e15, 1.7e15), 0);
    }

    function test_principalValue_zeroIndexReverts() public {
        vm.expectRevert(stdError.divisionError);
        lib.principalValue(1, 0, SCALE);
        vm.expectRevert(stdError.divisionError);
        lib.principalValue(-1, SCALE, 0);
        vm.expectRevert(stdError.arithmeticError);
        lib.principalValue(type(int256).min, SCALE, SCALE);
    }

    function testFuzz_principalValue_roundsAgainstTheUser(
        int256 value,
        uint256 supplyIndex,
        uint256 borrowIndex
    ) public pure {
        value = bound(value, -MAX_PRINCIPAL, MAX_PRINCIPAL);
        supplyIndex = bound(supplyIndex, 1, MAX_INDEX);
        borrowIndex = bound(borrowIndex, 1, MAX_INDEX);
        int256 principal = InterestLib.principalValue(value, supplyIndex, borrowIndex);
        if (value >= 0) {
            assertGe(principal, 0);
            assertLe(uint256(principal) * supplyIndex, uint256(value) * SCALE);
            assertGt((uint256(principal) + 1) * supplyIndex, uint256(value) * SCALE);
        } else {
            assertLt(principal, 0);
            assertGe(_abs(principal) * borrowIndex, _abs(value) * SCALE);
            assertLt((_abs(principal) - 1) * borrowIndex, _abs(value) * SCALE);
        }
    }

    function testFuzz_principalValue_monotone(int256 v1, int256 v2, uint256 supplyIndex, uint256 borrowIndex)
        public
        pure
    {
        v1 = bound(v1, -MAX_PRINCIPAL, MAX_PRINCIPAL);
        v2 = bound(v2, v1, MAX_PRINCIPAL);
        supplyIndex = bound(supplyIndex, 1, MAX_INDEX);
        borrowIndex = bound(borrowIndex, 1, MAX_INDEX);
        assertLe(
            InterestLib.principalValue(v1, supplyIndex, borrowIndex),
            InterestLib.principalValue(v2, supplyIndex, borrowIndex)
        );
    }

    // ------------------------------------------------------------------ round trips never favour the user

    /// @dev principal -> value -> principal: a supplier's principal never grows, a borrower's debt never shrinks.
    function testFuzz_roundTrip_principalToValueToPrincipal(
        int256 principal,
        uint256 supplyIndex,
        uint256 borrowIndex
    ) public pure {
        principal = bound(principal, -MAX_PRINCIPAL, MAX_PRINCIPAL);
        supplyIndex = bound(supplyIndex, 1, MAX_INDEX);
        borrowIndex = bound(borrowIndex, 1, MAX_INDEX);
        int256 back = InterestLib.principalValue(
            InterestLib.presentValue(principal, supplyIndex, borrowIndex), supplyIndex, borrowIndex
        );
        assertLe(back, principal);
        // With the index at or above the scale a unit of value is worth at most a unit of principal, so the
        // round trip costs at most one unit of principal; at the scale itself it is exact.
        if ((principal >= 0 ? supplyIndex : borrowIndex) >= SCALE) assertLe(principal - back, 1);
        assertEq(
            InterestLib.principalValue(InterestLib.presentValue(principal, SCALE, SCALE), SCALE, SCALE),
            principal
        );
    }

    /// @dev value -> principal -> value: a deposit is never credited more than it brought, a loan never owes
    ///      less than it took.
    function testFuzz_roundTrip_valueToPrincipalToValue(
        int256 value,
        uint256 supplyIndex,
        uint256 borrowIndex
    ) public pure {
        value = bound(value, -MAX_PRINCIPAL, MAX_PRINCIPAL);
        supplyIndex = bound(supplyIndex, 1, MAX_INDEX);
        borrowIndex = bound(borrowIndex, 1, MAX_INDEX);
        int256 back = InterestLib.presentValue(
            InterestLib.principalValue(value, supplyIndex, borrowIndex), supplyIndex, borrowIndex
        );
        assertLe(back, value);
        // The loss is less than one unit of principal's worth plus one: at most index / scale + 1.
        uint256 index = value >= 0 ? supplyIndex : borrowIndex;
        assertLe(_abs(value - back), index / SCALE + 1);
    }

    /// @dev Depositing then withdrawing everything (at the same index) cannot return more than was deposited.
    function testFuzz_roundTrip_depositThenWithdrawAll(uint256 amount, uint256 supplyIndex) public pure {
        amount = bound(amount, 0, uint256(MAX_PRINCIPAL));
        supplyIndex = bound(supplyIndex, 1, MAX_INDEX);
        int256 principal = InterestLib.principalValue(int256(amount), supplyIndex, SCALE);
        int256 withdrawable = InterestLib.presentValue(principal, supplyIndex, SCALE);
        assertLe(withdrawable, int256(amount));
    }

    /// @dev Borrowing then repaying what is owed (at the same index) repays at least what was borrowed.
    function testFuzz_roundTrip_borrowThenRepayAll(uint256 amount, uint256 borrowIndex) public pure {
        amount = bound(amount, 1, uint256(MAX_PRINCIPAL));
        borrowIndex = bound(borrowIndex, 1, MAX_INDEX);
        int256 principal = InterestLib.principalValue(-int256(amount), SCALE, borrowIndex);
        int256 owed = InterestLib.presentValue(principal, SCALE, borrowIndex);
        assertGe(_abs(owed), amount);
    }

    // ------------------------------------------------------------------ perSecond

    function test_perSecond_examples() public pure {
        assertEq(InterestLib.perSecond(0.01e18), 317_097_919); // 317,097,919.8 rounded down
        assertEq(InterestLib.perSecond(0.05e18), 1_585_489_599);
        assertEq(InterestLib.perSecond(3e18), 95_129_375_951);
        assertEq(InterestLib.perSecond(0), 0);
        assertEq(InterestLib.perSecond(YEAR - 1), 0);
        assertEq(InterestLib.perSecond(YEAR), 1);
    }

    function test_perSecond_largestAndOverflow() public {
        uint256 largest = uint256(type(uint64).max) * YEAR + YEAR - 1;
        assertEq(InterestLib.perSecond(largest), type(uint64).max);
        vm.expectRevert(
            abi.encodeWithSelector(
                SafeCast.SafeCastOverflowedUintDowncast.selector, 64, uint256(type(uint64).max) + 1
            )
        );
        lib.perSecond(largest + 1);
    }

    function testFuzz_perSecond_roundsDown(uint256 perYear) public pure {
        perYear = bound(perYear, 0, uint256(type(uint64).max) * YEAR);
        uint256 rate = InterestLib.perSecond(perYear);
        assertLe(rate * YEAR, perYear);
        assertGt((rate + 1) * YEAR, perYear);
    }
}

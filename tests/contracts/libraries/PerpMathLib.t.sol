// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Test, stdError} from "forge-std/Test.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {PerpMathLib} from "../../../contracts/libraries/PerpMathLib.sol";
import {PerpMathLibHarness} from "./harnesses/PerpMathLibHarness.sol";

contract PerpMathLibTest is Test {
    int256 internal constant WAD = 1e18;
    int256 internal constant MAX_SIZE = 1e30; // a trillion units of base
    uint256 internal constant MAX_PRICE = 1e30; // a trillion USD a unit
    int256 internal constant MAX_INDEX = 1e30;

    PerpMathLibHarness internal lib;

    function setUp() public {
        lib = new PerpMathLibHarness();
    }

    /// @dev floor(a / b) for b > 0, written independently of the library (ceil of the negation).
    function _floorDiv(int256 a, int256 b) internal pure returns (int256) {
        if (a >= 0) return a / b;
        return -((-a + b - 1) / b);
    }

    function _abs(int256 x) internal pure returns (uint256) {
        return x >= 0 ? uint256(x) : uint256(-x);
    }

    function test_wad() public pure {
        assertEq(PerpMathLib.WAD, 1e18);
    }

    // ------------------------------------------------------------------ unrealizedPnl

    function test_unrealizedPnl_examples() public pure {
        // 2 ETH long from 3,000 at 3,100: 2 x 100 = +200 USD; the short loses as much.
        assertEq(PerpMathLib.unrealizedPnl(2e18, 3000e18, 3100e18), 200e18);
        assertEq(PerpMathLib.unrealizedPnl(-2e18, 3000e18, 3100e18), -200e18);
        // 0.5 ETH long from 3,000 at 2,900: -50 USD; the short gains 50.
        assertEq(PerpMathLib.unrealizedPnl(0.5e18, 3000e18, 2900e18), -50e18);
        assertEq(PerpMathLib.unrealizedPnl(-0.5e18, 3000e18, 2900e18), 50e18);
    }

    function test_unrealizedPnl_roundsDown() public pure {
        // 3 wei of base, mark 0.5 above entry: +1.5 wei -> 1; the short's -1.5 -> -2.
        assertEq(PerpMathLib.unrealizedPnl(3, 0, 0.5e18), 1);
        assertEq(PerpMathLib.unrealizedPnl(-3, 0, 0.5e18), -2);
        // 1 wei of base, 1 wei of price: 1e-18 -> 0 for the winner, -1 for the loser.
        assertEq(PerpMathLib.unrealizedPnl(1, 0, 1), 0);
        assertEq(PerpMathLib.unrealizedPnl(-1, 0, 1), -1);
        assertEq(PerpMathLib.unrealizedPnl(1, 1, 0), -1);
    }

    function test_unrealizedPnl_zero() public pure {
        assertEq(PerpMathLib.unrealizedPnl(0, 3000e18, 1e18), 0);
        assertEq(PerpMathLib.unrealizedPnl(5e18, 3000e18, 3000e18), 0);
        assertEq(PerpMathLib.unrealizedPnl(-5e18, 3000e18, 3000e18), 0);
    }

    function test_unrealizedPnl_badInputsRevert() public {
        uint256 tooBig = uint256(type(int256).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(SafeCast.SafeCastOverflowedUintToInt.selector, tooBig));
        lib.unrealizedPnl(1e18, tooBig, 1e18);
        vm.expectRevert(abi.encodeWithSelector(SafeCast.SafeCastOverflowedUintToInt.selector, tooBig));
        lib.unrealizedPnl(1e18, 1e18, tooBig);
        vm.expectRevert(stdError.arithmeticError);
        lib.unrealizedPnl(type(int256).max, 0, 2);
    }

    function testFuzz_unrealizedPnl_roundsDown(int256 size, uint256 entry, uint256 mark) public pure {
        size = bound(size, -MAX_SIZE, MAX_SIZE);
        entry = bound(entry, 0, MAX_PRICE);
        mark = bound(mark, 0, MAX_PRICE);
        int256 exact = size * (int256(mark) - int256(entry)); // PnL x WAD
        int256 pnl = PerpMathLib.unrealizedPnl(size, entry, mark);
        assertLe(pnl * WAD, exact);
        assertGt((pnl + 1) * WAD, exact);
    }

    /// @dev A long and a short of the same size at the same entry never make money together.
    function testFuzz_unrealizedPnl_longPlusShortNeverPositive(int256 size, uint256 entry, uint256 mark)
        public
        pure
    {
        size = bound(size, 0, MAX_SIZE);
        entry = bound(entry, 0, MAX_PRICE);
        mark = bound(mark, 0, MAX_PRICE);
        int256 sum =
            PerpMathLib.unrealizedPnl(size, entry, mark) + PerpMathLib.unrealizedPnl(-size, entry, mark);
        int256 exact = size * (int256(mark) - int256(entry));
        assertEq(sum, exact % WAD == 0 ? int256(0) : -1);
    }

    function testFuzz_unrealizedPnl_monotoneInMark(int256 size, uint256 entry, uint256 m1, uint256 m2)
        public
        pure
    {
        size = bound(size, -MAX_SIZE, MAX_SIZE);
        entry = bound(entry, 0, MAX_PRICE);
        m1 = bound(m1, 0, MAX_PRICE);
        m2 = bound(m2, m1, MAX_PRICE);
        int256 p1 = PerpMathLib.unrealizedPnl(size, entry, m1);
        int256 p2 = PerpMathLib.unrealizedPnl(size, entry, m2);
        if (size >= 0) assertLe(p1, p2);
        else assertGe(p1, p2);
    }

    // ------------------------------------------------------------------ fundingOwed

    function test_fundingOwed_examples() public pure {
        // Index up 5 USD per unit: 10 ETH long owes 50 USD, the short is owed 50.
        assertEq(PerpMathLib.fundingOwed(10e18, 0, 5e18), 50e18);
        assertEq(PerpMathLib.fundingOwed(-10e18, 0, 5e18), -50e18);
        // Index down 2 from 7 to 5: the long is owed 20, the short owes 20.
        assertEq(PerpMathLib.fundingOwed(10e18, 7e18, 5e18), -20e18);
        assertEq(PerpMathLib.fundingOwed(-10e18, 7e18, 5e18), 20e18);
        // Negative indices work alike: -3 -> -1 is +2.
        assertEq(PerpMathLib.fundingOwed(1e18, -3e18, -1e18), 2e18);
    }

    function test_fundingOwed_roundsAgainstTheClient() public pure {
        // 3 wei x 0.5 = 1.5 wei owed -> 2; 1.5 wei due to the client -> 1.
        assertEq(PerpMathLib.fundingOwed(3, 0, 0.5e18), 2);
        assertEq(PerpMathLib.fundingOwed(-3, 0, 0.5e18), -1);
        assertEq(PerpMathLib.fundingOwed(3, 0.5e18, 0), -1);
        // 1e-18 wei owed -> 1; 1e-18 due -> 0.
        assertEq(PerpMathLib.fundingOwed(1, 0, 1), 1);
        assertEq(PerpMathLib.fundingOwed(-1, 0, 1), 0);
    }

    function test_fundingOwed_zero() public pure {
        assertEq(PerpMathLib.fundingOwed(0, 0, 5e18), 0);
        assertEq(PerpMathLib.fundingOwed(10e18, 5e18, 5e18), 0);
        assertEq(PerpMathLib.fundingOwed(-10e18, -5e18, -5e18), 0);
    }

    function test_fundingOwed_overflowReverts() public {
        vm.expectRevert(stdError.arithmeticError);
        lib.fundingOwed(1, type(int256).min, 1);
        vm.expectRevert(stdError.arithmeticError);
        lib.fundingOwed(type(int256).max, 0, 2);
    }

    function testFuzz_fundingOwed_roundsAgainstTheClient(int256 size, int256 indexAtEntry, int256 indexNow)
        public
        pure
    {
        size = bound(size, -MAX_SIZE, MAX_SIZE);
        indexAtEntry = bound(indexAtEntry, -MAX_INDEX, MAX_INDEX);
        indexNow = bound(indexNow, -MAX_INDEX, MAX_INDEX);
        int256 exact = size * (indexNow - indexAtEntry); // funding x WAD
        int256 owed = PerpMathLib.fundingOwed(size, indexAtEntry, indexNow);
        // The client never pays less, nor receives more, than the exact amount; off by less than a unit.
        assertGe(owed * WAD, exact);
        assertLt((owed - 1) * WAD, exact);
        // Owed by the client: rounded up. Owed to it: rounded toward zero (also up).
        if (exact >= 0) assertGe(owed, 0);
        else assertLe(owed, 0);
    }

    /// @dev Two opposite positions never receive funding net: the protocol pays out at most what it collects.
    function testFuzz_fundingOwed_oppositePositionsNeverNetReceive(
        int256 size,
        int256 indexAtEntry,
        int256 indexNow
    ) public pure {
        size = bound(size, 0, MAX_SIZE);
        indexAtEntry = bound(indexAtEntry, -MAX_INDEX, MAX_INDEX);
        indexNow = bound(indexNow, -MAX_INDEX, MAX_INDEX);
        int256 net = PerpMathLib.fundingOwed(size, indexAtEntry, indexNow)
            + PerpMathLib.fundingOwed(-size, indexAtEntry, indexNow);
        int256 exact = size * (indexNow - indexAtEntry);
        assertEq(net, exact % WAD == 0 ? int256(0) : int256(1));
    }

    // ------------------------------------------------------------------ applyFill

    function test_applyFill_openFromFlat() public pure {
        (int256 size, uint256 entry, int256 realized) = PerpMathLib.applyFill(0, 0, 2e18, 3000e18);
        assertEq(size, 2e18);
        assertEq(entry, 3000e18);
        assertEq(realized, 0);
        (size, entry, realized) = PerpMathLib.applyFill(0, 0, -2e18, 3000e18);
        assertEq(size, -2e18);
        assertEq(entry, 3000e18);
        assertEq(realized, 0);
    }

    function test_applyFill_growBlendsTheEntry() public pure {
        // 2 ETH at 3,000 plus 1 at 3,300: (6,000 + 3,300) / 3 = 3,100.
        (int256 size, uint256 entry, int256 realized) = PerpMathLib.applyFill(2e18, 3000e18, 1e18, 3300e18);
        assertEq(size, 3e18);
        assertEq(entry, 3100e18);
        assertEq(realized, 0);
        // The same as a short.
        (size, entry, realized) = PerpMathLib.applyFill(-2e18, 3000e18, -1e18, 3300e18);
        assertEq(size, -3e18);
        assertEq(entry, 3100e18);
        assertEq(realized, 0);
    }

    function test_applyFill_blendedEntryRoundsAgainstTheClient() public pure {
        // 1 at 1 plus 2 at 2: cost 5 over 3 = 1.67. A long's entry rounds up to 2, a short's down to 1.
        (, uint256 longEntry,) = PerpMathLib.applyFill(1, 1, 2, 2);
        (, uint256 shortEntry,) = PerpMathLib.applyFill(-1, 1, -2, 2);
        assertEq(longEntry, 2);
        assertEq(shortEntry, 1);
        // 1 ETH at 3,000 plus 2 at 3,000.000000000000000001: (9,000e18 + 2) / 3 -> ceil for the long.
        (, longEntry,) = PerpMathLib.applyFill(1e18, 3000e18, 2e18, 3000e18 + 1);
        (, shortEntry,) = PerpMathLib.applyFill(-1e18, 3000e18, -2e18, 3000e18 + 1);
        assertEq(longEntry, 3000e18 + 1);
        assertEq(shortEntry, 3000e18);
    }

    function test_applyFill_reduceRealizesAndKeepsTheEntry() public pure {
        // 3 ETH long at 3,100, sell 1 at 3,200: realize 1 x 100 = +100, keep 2 at 3,100.
        (int256 size, uint256 entry, int256 realized) = PerpMathLib.applyFill(3e18, 3100e18, -1e18, 3200e18);
        assertEq(size, 2e18);
        assertEq(entry, 3100e18);
        assertEq(realized, 100e18);
        // 3 ETH short at 3,100, buy 1 at 3,200: realize 1 x -100 = -100.
        (size, entry, realized) = PerpMathLib.applyFill(-3e18, 3100e18, 1e18, 3200e18);
        assertEq(size, -2e18);
        assertEq(entry, 3100e18);
        assertEq(realized, -100e18);
    }

    function test_applyFill_flipRealizesTheOldSideAndEntersAtTheFill() public pure {
        // 2 long at 3,100, sell 5 at 3,000: realize 2 x -100 = -200, now 3 short at 3,000.
        (int256 size, uint256 entry, int256 realized) = PerpMathLib.applyFill(2e18, 3100e18, -5e18, 3000e18);
        assertEq(size, -3e18);
        assertEq(entry, 3000e18);
        assertEq(realized, -200e18);
        // 3 short at 3,000, buy 4 at 2,900: realize 3 x 100 = +300, now 1 long at 2,900.
        (size, entry, realized) = PerpMathLib.applyFill(-3e18, 3000e18, 4e18, 2900e18);
        assertEq(size, 1e18);
        assertEq(entry, 2900e18);
        assertEq(realized, 300e18);
    }

    function test_applyFill_closeZeroesTheEntry() public pure {
        // 3 short at 3,000, buy 3 at 2,900: +300, flat, entry 0.
        (int256 size, uint256 entry, int256 realized) = PerpMathLib.applyFill(-3e18, 3000e18, 3e18, 2900e18);
        assertEq(size, 0);
        assertEq(entry, 0);
        assertEq(realized, 300e18);
    }

    function test_applyFill_realizedRoundsDown() public pure {
        // 1 wei long from 0 sold at 1: +1e-18 -> 0. Bought back short likewise.
        (,, int256 realized) = PerpMathLib.applyFill(1, 0, -1, 1);
        assertEq(realized, 0);
        (,, realized) = PerpMathLib.applyFill(-1, 1, 1, 0);
        assertEq(realized, 0);
        // Losses of 1e-18 cost a whole unit.
        (,, realized) = PerpMathLib.applyFill(1, 1, -1, 0);
        assertEq(realized, -1);
        (,, realized) = PerpMathLib.applyFill(-1, 0, 1, 1);
        assertEq(realized, -1);
        // 3 wei closed at +0.5: 1.5 -> 1; at -0.5: -1.5 -> -2.
        (,, realized) = PerpMathLib.applyFill(3, 1e18, -3, 1.5e18);
        assertEq(realized, 1);
        (,, realized) = PerpMathLib.applyFill(3, 1.5e18, -3, 1e18);
        assertEq(realized, -2);
    }

    function test_applyFill_zeroFillChangesNothing() public pure {
        (int256 size, uint256 entry, int256 realized) = PerpMathLib.applyFill(2e18, 3000e18, 0, 1e18);
        assertEq(size, 2e18);
        assertEq(entry, 3000e18);
        assertEq(realized, 0);
        (size, entry, realized) = PerpMathLib.applyFill(-2e18, 3000e18, 0, 1e18);
        assertEq(size, -2e18);
        assertEq(entry, 3000e18);
        assertEq(realized, 0);
    }

    function test_applyFill_overflowReverts() public {
        vm.expectRevert(stdError.arithmeticError);
        lib.applyFill(type(int256).max, 1, 1, 1);
        // |size| x entry overflows when growing.
        vm.expectRevert(stdError.arithmeticError);
        lib.applyFill(2, type(uint256).max / 2 + 1, 1, 1);
        // An entry beyond int256 cannot realize.
        uint256 tooBig = uint256(type(int256).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(SafeCast.SafeCastOverflowedUintToInt.selector, tooBig));
        lib.applyFill(1, tooBig, -1, 1);
    }

    function testFuzz_applyFill_sizeIsTheSum(int256 size, uint256 entry, int256 fill, uint256 price)
        public
        pure
    {
        size = bound(size, -MAX_SIZE, MAX_SIZE);
        fill = bound(fill, -MAX_SIZE, MAX_SIZE);
        entry = bound(entry, 1, MAX_PRICE);
        price = bound(price, 1, MAX_PRICE);
        vm.assume(size != 0 || fill != 0);
        (int256 newSize, uint256 newEntry,) = PerpMathLib.applyFill(size, entry, fill, price);
        assertEq(newSize, size + fill);
        assertEq(newEntry == 0, newSize == 0);
    }

    /// @dev Growing a position blends its entry against the client: a long's entry at or just above the exact
    ///      average cost, a short's at or just below it.
    function testFuzz_applyFill_growRoundsTheEntryAgainstTheClient(
        int256 size,
        uint256 entry,
        int256 fill,
        uint256 price
    ) public pure {
        size = bound(size, 0, MAX_SIZE);
        fill = bound(fill, 1, MAX_SIZE);
        entry = bound(entry, 1, MAX_PRICE);
        price = bound(price, 1, MAX_PRICE);
        if (size == 0) entry = 0;
        uint256 cost = uint256(size) * entry + uint256(fill) * price;
        uint256 total = uint256(size + fill);

        (int256 longSize, uint256 longEntry, int256 longRealized) =
            PerpMathLib.applyFill(size, entry, fill, price);
        assertEq(longSize, size + fill);
        assertEq(longRealized, 0);
        assertGe(longEntry * total, cost);
        assertLt((longEntry - 1) * total, cost);

        (int256 shortSize, uint256 shortEntry, int256 shortRealized) =
            PerpMathLib.applyFill(-size, entry, -fill, price);
        assertEq(shortSize, -(size + fill));
        assertEq(shortRealized, 0);
        assertLe(shortEntry * total, cost);
        assertGt((shortEntry + 1) * total, cost);

        // Either way the entry lies between the two prices it blends.
        uint256 lo = size == 0 ? price : (entry < price ? entry : price);
        uint256 hi = size == 0 ? price : (entry > price ? entry : price);
        assertGe(shortEntry, lo);
        assertLe(longEntry, hi);
    }

    /// @dev The blended position is worth no more, at any mark, than its two legs valued exactly together.
    function testFuzz_applyFill_growNeverAddsValue(
        int256 size,
        uint256 entry,
        int256 fill,
        uint256 price,
        uint256 mark
    ) public pure {
        size = bound(size, -MAX_SIZE, MAX_SIZE);
        vm.assume(size != 0);
        fill = size > 0 ? bound(fill, 1, MAX_SIZE) : bound(fill, -MAX_SIZE, -1);
        entry = bound(entry, 1, MAX_PRICE);
        price = bound(price, 1, MAX_PRICE);
        mark = bound(mark, 0, MAX_PRICE);
        (int256 newSize, uint256 newEntry,) = PerpMathLib.applyFill(size, entry, fill, price);
        int256 legsExact = size * (int256(mark) - int256(entry)) + fill * (int256(mark) - int256(price));
        int256 merged = PerpMathLib.unrealizedPnl(newSize, newEntry, mark);
        assertLe(merged, _floorDiv(legsExact, WAD));
        // ... and loses at most |newSize| wei of price, i.e. under one unit per 1e18 of size, plus rounding.
        assertGe(merged, _floorDiv(legsExact - int256(_abs(newSize)), WAD));
    }

    /// @dev Closing a position entirely realizes exactly its unrealized PnL at the fill price.
    function testFuzz_applyFill_closeRealizesTheUnrealizedPnl(int256 size, uint256 entry, uint256 price)
        public
        pure
    {
        size = bound(size, -MAX_SIZE, MAX_SIZE);
        vm.assume(size != 0);
        entry = bound(entry, 1, MAX_PRICE);
        price = bound(price, 1, MAX_PRICE);
        (int256 newSize, uint256 newEntry, int256 realized) = PerpMathLib.applyFill(size, entry, -size, price);
        assertEq(newSize, 0);
        assertEq(newEntry, 0);
        assertEq(realized, PerpMathLib.unrealizedPnl(size, entry, price));
    }

    /// @dev Closing part of a position realizes that part (rounded down) and keeps the rest at its entry:
    ///      realized + what is left never exceeds the whole, and falls short of it by at most one unit.
    function testFuzz_applyFill_partialCloseNeverGains(
        int256 size,
        uint256 entry,
        uint256 closed,
        uint256 price
    ) public pure {
        size = bound(size, -MAX_SIZE, MAX_SIZE);
        vm.assume(size != 0 && size != 1 && size != -1);
        closed = bound(closed, 1, _abs(size) - 1);
        entry = bound(entry, 1, MAX_PRICE);
        price = bound(price, 1, MAX_PRICE);
        int256 fill = size > 0 ? -int256(closed) : int256(closed);
        (int256 newSize, uint256 newEntry, int256 realized) = PerpMathLib.applyFill(size, entry, fill, price);
        assertEq(newSize, size + fill);
        assertEq(newEntry, entry);
        int256 whole = PerpMathLib.unrealizedPnl(size, entry, price);
        int256 parts = realized + PerpMathLib.unrealizedPnl(newSize, newEntry, price);
        assertLe(parts, whole);
        assertGe(parts + 1, whole);
        // The realized part alone is floor(closed x move).
        int256 move = size > 0 ? int256(price) - int256(entry) : int256(entry) - int256(price);
        assertEq(realized, _floorDiv(int256(closed) * move, WAD));
    }

    /// @dev A flip realizes the whole old position and opens the remainder at the fill price.
    function testFuzz_applyFill_flip(int256 size, uint256 entry, uint256 beyond, uint256 price) public pure {
        size = bound(size, -MAX_SIZE, MAX_SIZE);
        vm.assume(size != 0);
        beyond = bound(beyond, 1, uint256(MAX_SIZE));
        entry = bound(entry, 1, MAX_PRICE);
        price = bound(price, 1, MAX_PRICE);
        int256 fill = size > 0 ? -size - int256(beyond) : -size + int256(beyond);
        (int256 newSize, uint256 newEntry, int256 realized) = PerpMathLib.applyFill(size, entry, fill, price);
        assertEq(newSize, size > 0 ? -int256(beyond) : int256(beyond));
        assertEq(newEntry, price);
        assertEq(realized, PerpMathLib.unrealizedPnl(size, entry, price));
    }

    /// @dev Opening in two fills and closing in one never realizes more than the two fills' exact PnL.
    function testFuzz_applyFill_roundTripNeverFavoursTheClient(
        int256 s1,
        int256 s2,
        uint256 p1,
        uint256 p2,
        uint256 exitPrice
    ) public pure {
        s1 = bound(s1, 1, MAX_SIZE);
        s2 = bound(s2, 1, MAX_SIZE);
        p1 = bound(p1, 1, MAX_PRICE);
        p2 = bound(p2, 1, MAX_PRICE);
        exitPrice = bound(exitPrice, 1, MAX_PRICE);
        for (int256 side = -1; side <= 1; side += 2) {
            (int256 size, uint256 entry,) = PerpMathLib.applyFill(0, 0, side * s1, p1);
            (size, entry,) = PerpMathLib.applyFill(size, entry, side * s2, p2);
            (int256 flat,, int256 realized) = PerpMathLib.applyFill(size, entry, -size, exitPrice);
            assertEq(flat, 0);
            int256 exact =
                side * s1 * (int256(exitPrice) - int256(p1)) + side * s2 * (int256(exitPrice) - int256(p2));
            assertLe(realized, _floorDiv(exact, WAD));
        }
    }

    // ------------------------------------------------------------------ toBaseDown

    function test_toBaseDown_examples() public pure {
        // USD WAD to 6-decimal USDC (unit 1e12).
        assertEq(PerpMathLib.toBaseDown(200e18, 1e12), 200e6);
        assertEq(PerpMathLib.toBaseDown(-200e18, 1e12), -200e6);
        // 1.5 USDC and 123 wei: 1,500,000.000000000123 -> 1,500,000.
        assertEq(PerpMathLib.toBaseDown(1.5e18 + 123, 1e12), 1_500_000);
        // Toward negative infinity: -1 wei is -1 USDC unit, not 0.
        assertEq(PerpMathLib.toBaseDown(-1, 1e12), -1);
        assertEq(PerpMathLib.toBaseDown(-1e12, 1e12), -1);
        assertEq(PerpMathLib.toBaseDown(-1e12 - 1, 1e12), -2);
        assertEq(PerpMathLib.toBaseDown(1e12 - 1, 1e12), 0);
        assertEq(PerpMathLib.toBaseDown(0, 1e12), 0);
    }

    function test_toBaseDown_extremes() public {
        assertEq(PerpMathLib.toBaseDown(type(int256).min, 1), type(int256).min);
        assertEq(PerpMathLib.toBaseDown(type(int256).max, 1), type(int256).max);
        // -2**255 / 2 is exact; (-2**255 + 1) / 2 = -2**254 + 0.5 floors to -2**254.
        assertEq(PerpMathLib.toBaseDown(type(int256).min, 2), -(2 ** 254));
        assertEq(PerpMathLib.toBaseDown(type(int256).min + 1, 2), -(2 ** 254));
        vm.expectRevert(stdError.divisionError);
        lib.toBaseDown(1, 0);
    }

    function testFuzz_toBaseDown_floors(int256 wad, uint256 unit) public pure {
        wad = bound(wad, -1e60, 1e60);
        unit = bound(unit, 1, 1e36);
        int256 q = PerpMathLib.toBaseDown(wad, unit);
        assertLe(q * int256(unit), wad);
        assertGt((q + 1) * int256(unit), wad);
    }

    function testFuzz_toBaseDown_monotone(int256 w1, int256 w2, uint256 unit) public pure {
        w1 = bound(w1, -1e60, 1e60);
        w2 = bound(w2, w1, 1e60);
        unit = bound(unit, 1, 1e36);
        assertLe(PerpMathLib.toBaseDown(w1, unit), PerpMathLib.toBaseDown(w2, unit));
    }
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Test, stdError} from "forge-std/Test.sol";

import {ValueLib} from "../../../contracts/libraries/ValueLib.sol";
import {ValueLibHarness} from "./harnesses/ValueLibHarness.sol";

contract ValueLibTest is Test {
    uint256 internal constant BPS = 10_000;

    // scaleExponent = tokenDecimals + feedDecimals - baseDecimals, against 6-decimal USDC and 8-decimal feeds.
    uint8 internal constant WETH_SCALE = 20; // 18 + 8 - 6
    uint8 internal constant WBTC_SCALE = 10; // 8 + 8 - 6

    ValueLibHarness internal lib;

    function setUp() public {
        lib = new ValueLibHarness();
    }

    function test_bps() public pure {
        assertEq(ValueLib.BPS, 10_000);
    }

    // ------------------------------------------------------------------ value

    /// @dev docs/risk.md: 1.5 WETH at 3,000 and 0.25 WBTC at 60,000 are worth 4,500 + 15,000 = 19,500 USDC.
    function test_value_docsExample() public pure {
        uint256 weth = ValueLib.value(1.5e18, 3000e8, WETH_SCALE); // 1.5e18 x 3000e8 / 1e20
        uint256 wbtc = ValueLib.value(0.25e8, 60_000e8, WBTC_SCALE); // 0.25e8 x 60,000e8 / 1e10
        assertEq(weth, 4500e6);
        assertEq(wbtc, 15_000e6);
        assertEq(weth + wbtc, 19_500e6);
    }

    function test_value_roundsDown() public pure {
        // 1 wei of WETH at 3,000: 3000e8 / 1e20 = 3e-9 USDC -> 0.
        assertEq(ValueLib.value(1, 3000e8, WETH_SCALE), 0);
        // 0.333333333333333333 WETH at 3,000 = 999.999999999999999 USDC -> 999.999999.
        assertEq(ValueLib.value(333_333_333_333_333_333, 3000e8, WETH_SCALE), 999_999_999);
        // 19 x 7 / 10 = 13.3 -> 13.
        assertEq(ValueLib.value(19, 7, 1), 13);
    }

    function test_value_zero() public pure {
        assertEq(ValueLib.value(0, 3000e8, WETH_SCALE), 0);
        assertEq(ValueLib.value(1e18, 0, WETH_SCALE), 0);
    }

    function test_value_scaleZeroIsAPlainProduct() public pure {
        assertEq(ValueLib.value(123, 456, 0), 123 * 456);
    }

    /// @dev The documented bounds (an amount of 96 bits, a price of 128) are exact; beyond them the product
    ///      overflows and reverts, never wraps.
    function test_value_atItsBounds() public {
        uint256 amount = type(uint96).max;
        uint256 price = type(uint128).max;
        assertEq(ValueLib.value(amount, price, 0), amount * price);
        assertEq(ValueLib.value(amount, price, 18), amount * price / 1e18);
        vm.expectRevert(stdError.arithmeticError);
        lib.value(type(uint256).max, 2, 18);
    }

    function test_value_overflowingResultReverts() public {
        vm.expectRevert(stdError.arithmeticError);
        lib.value(type(uint256).max, 2, 0);
        // 10**78 does not fit a uint256.
        vm.expectRevert(stdError.arithmeticError);
        lib.value(1, 1, 78);
    }

    /// @dev The liquidation batch's unchecked valuation is `value` wherever its inputs can come from: a booked
    ///      balance (below 2^96) and a price the oracle library accepts (at most 2^128 - 1).
    function testFuzz_valueAtScale_isValueWithinItsBounds(uint256 amount, uint256 price, uint8 scale)
        public
        pure
    {
        amount = bound(amount, 0, type(uint96).max);
        price = bound(price, 0, type(uint128).max);
        scale = uint8(bound(scale, 0, 77));
        assertEq(ValueLib.valueAtScale(amount, price, 10 ** scale), ValueLib.value(amount, price, scale));
    }

    function testFuzz_value_roundsDown(uint256 amount, uint256 price, uint8 scale) public pure {
        amount = bound(amount, 0, 1e36);
        price = bound(price, 0, 1e36);
        scale = uint8(bound(scale, 0, 36));
        uint256 v = ValueLib.value(amount, price, scale);
        assertLe(v * 10 ** scale, amount * price);
        assertGt((v + 1) * 10 ** scale, amount * price);
    }

    function testFuzz_value_monotone(uint256 a1, uint256 a2, uint256 p1, uint256 p2, uint8 scale)
        public
        pure
    {
        a1 = bound(a1, 0, 1e36);
        a2 = bound(a2, a1, 1e36);
        p1 = bound(p1, 0, 1e36);
        p2 = bound(p2, p1, 1e36);
        scale = uint8(bound(scale, 0, 36));
        assertLe(ValueLib.value(a1, p1, scale), ValueLib.value(a2, p1, scale));
        assertLe(ValueLib.value(a1, p1, scale), ValueLib.value(a1, p2, scale));
    }

    /// @dev Valuing two lots separately never exceeds valuing them together (no gain from splitting).
    function testFuzz_value_splittingNeverGains(uint256 a1, uint256 a2, uint256 price, uint8 scale)
        public
        pure
    {
        a1 = bound(a1, 0, 1e36);
        a2 = bound(a2, 0, 1e36);
        price = bound(price, 0, 1e36);
        scale = uint8(bound(scale, 0, 36));
        uint256 together = ValueLib.value(a1 + a2, price, scale);
        uint256 apart = ValueLib.value(a1, price, scale) + ValueLib.value(a2, price, scale);
        assertLe(apart, together);
        assertLe(together - apart, 1);
    }

    // ------------------------------------------------------------------ portionUp / portionDown

    /// @dev docs/risk.md: initial (20%) = 900 + 3,000 = 3,900; maintenance (15%) = 675 + 2,250 = 2,925.
    function test_portion_docsExample() public pure {
        assertEq(ValueLib.portionUp(4500e6, 2000) + ValueLib.portionUp(15_000e6, 2000), 3900e6);
        assertEq(ValueLib.portionUp(4500e6, 1500) + ValueLib.portionUp(15_000e6, 1500), 2925e6);
        assertEq(ValueLib.portionDown(4500e6, 2000), 900e6);
    }

    function test_portion_rounding() public pure {
        // 1 x 1 / 10,000 = 0.0001: a requirement of 1, a credit of 0.
        assertEq(ValueLib.portionUp(1, 1), 1);
        assertEq(ValueLib.portionDown(1, 1), 0);
        // 9,999 x 1 / 10,000 = 0.9999 -> 1 up, 0 down.
        assertEq(ValueLib.portionUp(9999, 1), 1);
        assertEq(ValueLib.portionDown(9999, 1), 0);
        // 10,001 x 1 / 10,000 = 1.0001 -> 2 up, 1 down.
        assertEq(ValueLib.portionUp(10_001, 1), 2);
        assertEq(ValueLib.portionDown(10_001, 1), 1);
        // Exact: 10,000 x 1 / 10,000 = 1 both ways.
        assertEq(ValueLib.portionUp(10_000, 1), 1);
        assertEq(ValueLib.portionDown(10_000, 1), 1);
        // 333 x 15% = 49.95 -> 50 up, 49 down.
        assertEq(ValueLib.portionUp(333, 1500), 50);
        assertEq(ValueLib.portionDown(333, 1500), 49);
    }

    function test_portion_zeroAndFull() public pure {
        assertEq(ValueLib.portionUp(0, 2000), 0);
        assertEq(ValueLib.portionDown(0, 2000), 0);
        assertEq(ValueLib.portionUp(12_345, 0), 0);
        assertEq(ValueLib.portionDown(12_345, 0), 0);
        assertEq(ValueLib.portionUp(12_345, BPS), 12_345);
        assertEq(ValueLib.portionDown(12_345, BPS), 12_345);
    }

    /// @dev Every value the protocol computes is below 2^224 (`ValueLib.value`'s bounds): exact up there; a
    ///      product past 2^256 reverts, never wraps.
    function test_portion_largeValues() public {
        uint256 v = 2 ** 224 - 1;
        assertEq(ValueLib.portionUp(v, BPS), v);
        assertEq(ValueLib.portionDown(v, BPS), v);
        // (2^224 - 1) x 50% = 2^223 - 0.5: 2^223 up, 2^223 - 1 down.
        assertEq(ValueLib.portionUp(v, 5000), 2 ** 223);
        assertEq(ValueLib.portionDown(v, 5000), 2 ** 223 - 1);
        vm.expectRevert(stdError.arithmeticError);
        lib.portionUp(type(uint256).max, BPS);
        vm.expectRevert(stdError.arithmeticError);
        lib.portionDown(type(uint256).max, 2);
    }

    function testFuzz_portion_upAndDownBracketTheExactValue(uint256 v, uint256 bps) public pure {
        v = bound(v, 0, 1e60);
        bps = bound(bps, 0, BPS);
        uint256 up = ValueLib.portionUp(v, bps);
        uint256 down = ValueLib.portionDown(v, bps);
        assertLe(down * BPS, v * bps);
        assertGt((down + 1) * BPS, v * bps);
        assertGe(up * BPS, v * bps);
        if (up > 0) assertLt((up - 1) * BPS, v * bps);
        assertEq(up - down, (v * bps) % BPS == 0 ? 0 : 1);
    }

    /// @dev The haircut form of docs/risk.md: a requirement (rounded up) plus the complementary credit
    ///      (rounded down) is exactly the value, so `equity >= requirement` and `credit + balance >= 0` agree.
    function testFuzz_portion_requirementPlusCreditIsTheValue(uint256 v, uint256 bps) public pure {
        v = bound(v, 0, 1e60);
        bps = bound(bps, 0, BPS);
        assertEq(ValueLib.portionUp(v, bps) + ValueLib.portionDown(v, BPS - bps), v);
    }

    function testFuzz_portion_monotone(uint256 v1, uint256 v2, uint256 b1, uint256 b2) public pure {
        v1 = bound(v1, 0, 1e60);
        v2 = bound(v2, v1, 1e60);
        b1 = bound(b1, 0, BPS);
        b2 = bound(b2, b1, BPS);
        assertLe(ValueLib.portionUp(v1, b1), ValueLib.portionUp(v2, b1));
        assertLe(ValueLib.portionUp(v1, b1), ValueLib.portionUp(v1, b2));
        assertLe(ValueLib.portionDown(v1, b1), ValueLib.portionDown(v2, b1));
        assertLe(ValueLib.portionDown(v1, b1), ValueLib.portionDown(v1, b2));
        assertLe(ValueLib.portionUp(v1, b1), v1);
    }

    /// @dev Summing requirements asset by asset never understates the requirement of the sum.
    function testFuzz_portionUp_perAssetSumCoversTheTotal(uint256 v1, uint256 v2, uint256 bps) public pure {
        v1 = bound(v1, 0, 1e60);
        v2 = bound(v2, 0, 1e60);
        bps = bound(bps, 0, BPS);
        assertGe(ValueLib.portionUp(v1, bps) + ValueLib.portionUp(v2, bps), ValueLib.portionUp(v1 + v2, bps));
    }

    // ------------------------------------------------------------------ amountForValue

    /// @dev docs/risk.md: absorbed WETH sells 2.5% below a 2,000 oracle, at 1,950: 1,950 USDC buys 1 WETH.
    function test_amountForValue_docsExample() public pure {
        // discounted price = ceil(2000e8 x 9,750 / 10,000) = 1950e8; 1950e6 x 1e20 / 1950e8 = 1e18.
        assertEq(ValueLib.amountForValue(1950e6, 2000e8, 250, WETH_SCALE), 1e18);
    }

    function test_amountForValue_roundsDown() public pure {
        // At 3,000 less 2.5% = 2,925: 1,950 USDC buys 0.666... WETH -> 666,666,666,666,666,666 wei.
        assertEq(ValueLib.amountForValue(1950e6, 3000e8, 250, WETH_SCALE), 666_666_666_666_666_666);
        // No discount: 1 USDC at 3,000 buys 1e6 x 1e20 / 3000e8 = 333,333,333,333,333.3 -> ...333 wei.
        assertEq(ValueLib.amountForValue(1e6, 3000e8, 0, WETH_SCALE), 333_333_333_333_333);
    }

    /// @dev The discounted price rounds up, so the buyer gets less: price 3 at 50% off is 1.5 -> 2, and 100
    ///      buys 50, not the 100 a price rounded down to 1 would give (nor the exact 66).
    function test_amountForValue_discountedPriceRoundsUp() public pure {
        assertEq(ValueLib.amountForValue(100, 3, 5000, 0), 50);
        // Price 1 at 0.01% off is 0.9999 -> 1, never 0.
        assertEq(ValueLib.amountForValue(100, 1, 1, 0), 100);
    }

    function test_amountForValue_zeroBaseBuysNothing() public pure {
        assertEq(ValueLib.amountForValue(0, 3000e8, 250, WETH_SCALE), 0);
    }

    function test_amountForValue_badInputsRevert() public {
        // A discount above 100% underflows.
        vm.expectRevert(stdError.arithmeticError);
        lib.amountForValue(1e6, 3000e8, BPS + 1, WETH_SCALE);
        // A 100% discount (price 0) and a zero price divide by zero.
        vm.expectRevert(stdError.divisionError);
        lib.amountForValue(1e6, 3000e8, BPS, WETH_SCALE);
        vm.expectRevert(stdError.divisionError);
        lib.amountForValue(1e6, 0, 250, WETH_SCALE);
        // A result beyond 2**256 reverts.
        vm.expectRevert(stdError.arithmeticError);
        lib.amountForValue(type(uint256).max, 1, 0, 1);
    }

    function test_amountForValue_maxValuesDoNotOverflowIntermediately() public pure {
        // max x 1e18 exceeds 2**256, but divided by a 1e18 price it is max again.
        assertEq(ValueLib.amountForValue(type(uint256).max, 1e18, 0, 18), type(uint256).max);
    }

    /// @dev The buyer never gets more collateral than its payment buys at the discounted price (rounded up):
    ///      amount x discountedPrice <= base x 10**scale < (amount + 1) x discountedPrice.
    function testFuzz_amountForValue_roundsAgainstTheBuyer(
        uint256 baseAmount,
        uint256 price,
        uint256 discountBps,
        uint8 scale
    ) public pure {
        baseAmount = bound(baseAmount, 0, 1e30);
        price = bound(price, 1, 1e30);
        discountBps = bound(discountBps, 0, BPS - 1);
        scale = uint8(bound(scale, 0, 30));
        uint256 amount = ValueLib.amountForValue(baseAmount, price, discountBps, scale);
        uint256 exactDiscounted = price * (BPS - discountBps); // the discounted price x BPS
        // Against the exact discounted price too: amount x price x (1 - d) <= base x 10**scale.
        assertLe(amount * exactDiscounted, baseAmount * 10 ** scale * BPS);
        uint256 discountedUp = (exactDiscounted + BPS - 1) / BPS;
        assertLe(amount * discountedUp, baseAmount * 10 ** scale);
        assertGt((amount + 1) * discountedUp, baseAmount * 10 ** scale);
        // What was bought is worth no more than was paid, at the discounted price.
        assertLe(ValueLib.value(amount, discountedUp, scale), baseAmount);
    }

    function testFuzz_amountForValue_monotone(
        uint256 baseAmount,
        uint256 p1,
        uint256 p2,
        uint256 d1,
        uint256 d2
    ) public pure {
        baseAmount = bound(baseAmount, 0, 1e30);
        p1 = bound(p1, 1, 1e30);
        p2 = bound(p2, p1, 1e30);
        d1 = bound(d1, 0, BPS - 1);
        d2 = bound(d2, d1, BPS - 1);
        // A higher price buys less, a deeper discount buys more, more base buys more.
        assertGe(
            ValueLib.amountForValue(baseAmount, p1, d1, 8), ValueLib.amountForValue(baseAmount, p2, d1, 8)
        );
        assertLe(
            ValueLib.amountForValue(baseAmount, p1, d1, 8), ValueLib.amountForValue(baseAmount, p1, d2, 8)
        );
        assertLe(
            ValueLib.amountForValue(baseAmount, p1, d1, 8), ValueLib.amountForValue(baseAmount + 1, p1, d1, 8)
        );
    }
}

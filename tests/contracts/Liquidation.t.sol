// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {VaultFixture} from "./utils/VaultFixture.sol";
import {IPrimeVault} from "../../contracts/interfaces/IPrimeVault.sol";
import {IPrimeVaultErrors} from "../../contracts/interfaces/IPrimeVaultErrors.sol";
import {IPrimeVaultEvents} from "../../contracts/interfaces/IPrimeVaultEvents.sol";

contract LiquidationTest is VaultFixture {
    function _list(address a) internal pure returns (address[] memory l) {
        l = new address[](1);
        l[0] = a;
    }

    function _liquidate(address[] memory l) internal returns (uint256) {
        vm.prank(keeper);
        return vault.liquidate(l);
    }

    function test_healthyAccountIsSkippedNotReverted() public {
        _openBorrower(alice, 2400e6);
        _setEthPrice(2824e8); // equity 424 >= maintenance 423.6
        assertFalse(vault.isLiquidatable(alice));
        assertEq(_liquidate(_list(alice)), 0);
        assertEq(vault.collateralBalanceOf(alice, address(weth)), 1e18);
    }

    function test_unhealthyAccountIsAbsorbedAndCredited() public {
        _openBorrower(alice, 2400e6);
        _setEthPrice(2700e8); // equity 300 < maintenance 405
        assertTrue(vault.isLiquidatable(alice));

        vm.expectEmit(address(vault));
        emit IPrimeVaultEvents.CollateralAbsorbed(alice, address(weth), 1e18, 2565e6);
        vm.expectEmit(address(vault));
        emit IPrimeVaultEvents.Liquidated(alice, keeper, 2400e6, 0);
        assertEq(_liquidate(_list(alice)), 1);

        // 2,700 less the 5% penalty repays 2,400 and leaves 165 supplied.
        assertEq(vault.baseBalanceOf(alice), 165e6);
        assertEq(vault.collateralBalanceOf(alice, address(weth)), 0);
        assertEq(vault.collateralReserves(address(weth)), 1e18);
        // The keeper gets 10% of the 135 penalty.
        assertEq(vault.baseBalanceOf(keeper), 13.5e6);
        assertFalse(vault.accountHealth(alice).liquidatable);
    }

    function test_batchSkipsHealthyAndDuplicateAccounts() public {
        _openBorrower(alice, 2400e6);
        _openBorrower(bob, 1000e6);
        _setEthPrice(2700e8);
        address[] memory l = new address[](3);
        (l[0], l[1], l[2]) = (alice, bob, alice);
        assertEq(_liquidate(l), 1);
        assertEq(vault.collateralBalanceOf(bob, address(weth)), 1e18);
    }

    function test_competingKeeperLeavesNothingToFail() public {
        _openBorrower(alice, 2400e6);
        _setEthPrice(2700e8);
        vm.prank(bob);
        vault.liquidate(_list(alice));
        assertEq(_liquidate(_list(alice)), 0);
    }

    function test_shortfallIsCoveredByReserves() public {
        _openBorrower(alice, 2400e6);
        usdc.mint(address(vault), 1000e6); // reserves
        _setEthPrice(2000e8);
        vm.recordLogs();
        _liquidate(_list(alice));
        assertEq(vault.baseBalanceOf(alice), 0);
        assertEq(vault.baseBalanceOf(lender), 1_000_000e6, "suppliers lose nothing");
        IPrimeVault.MarketState memory s = vault.marketState();
        assertEq(s.supplyIndex, 1e15);
    }

    function test_badDebtIsWrittenOffAgainstSuppliers() public {
        _openBorrower(alice, 2400e6);
        _setEthPrice(2000e8);
        // Collateral sells at 2,000 x (1 - 2.5%) = 1,950 against 2,400 of debt and a 10 reward: 460 lost.
        vm.expectEmit(address(vault));
        emit IPrimeVaultEvents.Liquidated(alice, keeper, 2400e6, 500e6);
        _liquidate(_list(alice));
        IPrimeVault.MarketState memory s = vault.marketState();
        assertLt(s.supplyIndex, 1e15);
        assertApproxEqAbs(vault.baseBalanceOf(lender), 1_000_000e6 - 460e6, 1e6);
        assertEq(vault.baseBalanceOf(alice), 0);
    }

    function test_absorbedCollateralIsSoldAtADiscount() public {
        _openBorrower(alice, 2400e6);
        _setEthPrice(2700e8);
        _liquidate(_list(alice));
        // Discount: half the 5% penalty.
        uint256 quote = vault.quoteCollateral(address(weth), 2632.5e6);
        assertEq(quote, 1e18);
        _fund(bob, usdc, 2632.5e6);
        vm.prank(bob);
        uint256 out = vault.buyCollateral(address(weth), 1e18, 2632.5e6, bob);
        assertEq(out, 1e18);
        assertEq(weth.balanceOf(bob), 1e18);
        assertEq(vault.collateralReserves(address(weth)), 0);
    }

    function test_buyingMoreThanReservesReverts() public {
        _fund(bob, usdc, 3000e6);
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.InsufficientReserves.selector, address(weth), 0, 1e18)
        );
        vm.prank(bob);
        vault.buyCollateral(address(weth), 0, 2925e6, bob);
    }

    function test_slippageProtectionOnPurchase() public {
        _openBorrower(alice, 2400e6);
        _setEthPrice(2700e8);
        _liquidate(_list(alice));
        _fund(bob, usdc, 2632.5e6);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.SlippageExceeded.selector, 1e18, 1e18 + 1));
        vm.prank(bob);
        vault.buyCollateral(address(weth), 1e18 + 1, 2632.5e6, bob);
    }

    function test_multiAssetAccountIsAbsorbedAcrossAssets() public {
        _deposit(alice, alice, weth, 1e18);
        _deposit(alice, alice, wbtc, 0.1e8);
        _borrow(alice, alice, 7200e6); // (3,000 + 6,000) x 80%
        _setEthPrice(1500e8);
        assertEq(_liquidate(_list(alice)), 1);
        assertEq(vault.collateralReserves(address(weth)), 1e18);
        assertEq(vault.collateralReserves(address(wbtc)), 0.1e8);
        // 1,500 x 95% + 6,000 x 94% = 7,065 credited against 7,200: a 135 shortfall.
        assertEq(vault.baseBalanceOf(alice), 0);
    }

    function testFuzz_onlyUnhealthyAccountsAreLiquidated(uint256 price, uint256 debt) public {
        debt = bound(debt, 100e6, 2400e6);
        _openBorrower(alice, debt);
        int256 p = int256(bound(price, 1e8, 6000e8));
        _setEthPrice(p);
        bool due = vault.isLiquidatable(alice);
        uint256 count = _liquidate(_list(alice));
        assertEq(count, due ? 1 : 0);
        // Exact threshold check: equity < 15% of value.
        uint256 value = uint256(p) * 1e18 / 1e20;
        bool expected = int256(value) - int256(debt) < int256((value * 1500 + 9999) / 10_000);
        assertEq(due, expected);
    }
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {VaultFixture} from "./utils/VaultFixture.sol";
import {IPrimeVault} from "../../contracts/interfaces/IPrimeVault.sol";
import {IPrimeVaultErrors} from "../../contracts/interfaces/IPrimeVaultErrors.sol";

contract LendingTest is VaultFixture {
    function test_borrowUpToTheInitialRequirement() public {
        _openBorrower(alice, 2400e6); // 1 WETH x 3,000 x (1 - 20%)
        assertEq(usdc.balanceOf(alice), 2400e6);
        IPrimeVault.AccountHealth memory h = vault.accountHealth(alice);
        assertEq(h.debt, 2400e6);
        assertEq(h.equity, 600e6);
        assertEq(h.initialRequirement, 600e6);
    }

    function test_borrowPastTheInitialRequirementRevertsWithNumbers() public {
        _deposit(alice, alice, weth, 1e18);
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.InsufficientEquity.selector, alice, int256(599e6), 600e6)
        );
        _borrow(alice, alice, 2401e6);
    }

    function test_collateralWithdrawalIsHealthChecked() public {
        _openBorrower(alice, 2000e6);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPrimeVaultErrors.InsufficientEquity.selector, alice, int256(2400e6 - 2000e6), 480e6
            )
        );
        vm.prank(alice);
        vault.withdraw(alice, address(weth), 0.2e18, alice); // leaves 2,400 of value
    }

    function test_minimumBorrowStopsDust() public {
        _deposit(alice, alice, weth, 1e18);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.BorrowTooSmall.selector, 99e6, 100e6));
        _borrow(alice, alice, 99e6);
    }

    function test_borrowBeyondLiquidityRevertsWithLiquidityError() public {
        _deposit(alice, alice, wbtc, 100e8);
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.InsufficientLiquidity.selector, 1_000_000e6, 1_000_001e6)
        );
        _borrow(alice, alice, 1_000_001e6);
    }

    function test_repayFullDebtWithMax() public {
        _openBorrower(alice, 1000e6);
        vm.warp(block.timestamp + 30 days);
        int256 owed = vault.baseBalanceOf(alice);
        assertLt(owed, -1000e6, "interest accrued");
        _fund(alice, usdc, uint256(-owed));
        vm.prank(alice);
        uint256 repaid = vault.repay(alice, type(uint256).max);
        assertEq(repaid, uint256(-owed));
        assertEq(vault.baseBalanceOf(alice), 0);
    }

    function test_repayNeverSupplies() public {
        _openBorrower(alice, 1000e6);
        _fund(bob, usdc, 5000e6);
        vm.prank(bob);
        uint256 repaid = vault.repay(alice, 5000e6);
        assertEq(repaid, 1000e6);
        assertEq(usdc.balanceOf(bob), 4000e6);
        assertEq(vault.baseBalanceOf(alice), 0);
    }

    function test_depositOfBaseRepaysThenSupplies() public {
        _openBorrower(alice, 1000e6);
        _deposit(alice, alice, usdc, 1500e6);
        assertEq(vault.baseBalanceOf(alice), 500e6);
        IPrimeVault.MarketState memory s = vault.marketState();
        assertEq(s.totalBorrow, 0);
        assertEq(s.totalSupply, 1_000_500e6);
    }

    function test_interestAccruesOnTheKinkedCurve() public {
        // Take utilization to 50%: the lender's 1,000,000 against a 500,000 borrow.
        _deposit(alice, alice, wbtc, 20e8);
        _borrow(alice, alice, 500_000e6);
        IPrimeVault.MarketState memory s = vault.marketState();
        assertEq(s.utilizationWad, 0.5e18);
        // base 1% + 5% x 50% = 3.5% a year
        assertApproxEqRel(s.borrowRatePerSecond * 365 days, 0.035e18, 1e12);
        // supply = 3.5% x 50% x (1 - 10%) = 1.575%
        assertApproxEqRel(s.supplyRatePerSecond * 365 days, 0.01575e18, 1e12);

        vm.warp(block.timestamp + 365 days);
        vault.accrue();
        assertApproxEqRel(-vault.baseBalanceOf(alice), 517_500e6, 1e12);
        assertApproxEqRel(vault.baseBalanceOf(lender), 1_015_750e6, 1e12);
        // Reserves keep the reserve factor: 17,500 - 15,750.
        assertApproxEqAbs(vault.marketState().reserves, 1750e6, 2);
    }

    function test_rateAboveTheKinkUsesTheSteepSlope() public {
        _deposit(alice, alice, wbtc, 40e8);
        _borrow(alice, alice, 900_000e6);
        IPrimeVault.MarketState memory s = vault.marketState();
        // 1% + 5% x 80% + 300% x 10% = 35%
        assertApproxEqRel(s.borrowRatePerSecond * 365 days, 0.35e18, 1e12);
    }

    function test_indicesOnlyGrow() public {
        _openBorrower(alice, 2000e6);
        IPrimeVault.MarketState memory before = vault.marketState();
        vm.warp(block.timestamp + 1);
        vault.accrue();
        IPrimeVault.MarketState memory later = vault.marketState();
        assertGt(later.borrowIndex, before.borrowIndex);
        assertGe(later.supplyIndex, before.supplyIndex);
    }

    function testFuzz_debtRoundsUpSupplyRoundsDown(uint64 amount, uint32 elapsed) public {
        uint256 debt = bound(amount, 100e6, 2000e6);
        _openBorrower(alice, debt);
        vm.warp(block.timestamp + bound(elapsed, 1, 3 * 365 days));
        vault.accrue();
        IPrimeVault.MarketState memory s = vault.marketState();
        // Everything owed by borrowers is at least what the vault owes suppliers beyond what it holds.
        assertGe(int256(usdc.balanceOf(address(vault))) + int256(s.totalBorrow), int256(s.totalSupply));
        assertLe(vault.baseBalanceOf(alice), -int256(debt));
    }

    /// @dev Finding (low): a partial repayment could leave debt below minBorrow, never worth liquidating.
    function test_repaymentMayNotLeaveDustDebt() public {
        _openBorrower(alice, 1000e6);
        _fund(alice, usdc, 1000e6);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.BorrowTooSmall.selector, 50e6, 100e6));
        vm.prank(alice);
        vault.repay(alice, 950e6);
        vm.prank(alice);
        vault.repay(alice, 900e6); // leaves exactly the minimum
        assertEq(vault.baseBalanceOf(alice), -100e6);
        vm.prank(alice);
        vault.repay(alice, type(uint256).max);
        assertEq(vault.baseBalanceOf(alice), 0);
    }

    /// @dev Review round 11: a deposit of the base asset and a base transfer into a sub-account with debt are
    ///      partial repayments too, and left one unit of debt where `repay` refused.
    function test_aBaseDepositMayNotLeaveDustDebt() public {
        _openBorrower(alice, 1000e6);
        _fund(alice, usdc, 1000e6);
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.BorrowTooSmall.selector, 1, 100e6));
        vault.deposit(alice, address(usdc), 1000e6 - 1);
        vault.deposit(alice, address(usdc), 900e6); // leaves exactly the minimum
        assertEq(vault.baseBalanceOf(alice), -100e6);
        vault.deposit(alice, address(usdc), 100e6 + 1); // past the debt: a supply of one unit
        vm.stopPrank();
        assertEq(vault.baseBalanceOf(alice), 1);
    }

    function test_aBaseTransferMayNotLeaveDustDebtAtItsDestination() public {
        address sub1 = address(uint160(alice) ^ 1);
        _deposit(alice, sub1, weth, 1e18);
        _borrow(alice, sub1, 100e6);
        _deposit(alice, alice, usdc, 100e6);
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.BorrowTooSmall.selector, 1, 100e6));
        vault.transfer(alice, sub1, address(usdc), 100e6 - 1);
        vault.transfer(alice, sub1, address(usdc), 100e6);
        vm.stopPrank();
        assertEq(vault.baseBalanceOf(sub1), 0, "the whole debt repaid");
    }
}

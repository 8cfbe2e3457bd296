// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";

import {PAUSE_DEPOSIT, PAUSE_WITHDRAW} from "../../../contracts/interfaces/IPrimeVault.sol";
import {IPrimeVaultErrors} from "../../../contracts/interfaces/IPrimeVaultErrors.sol";
import {MAX_AMOUNT} from "../../../contracts/libraries/ConstantsLib.sol";
import {LenderFixture} from "./LenderFixture.sol";

/// @notice The ERC-4626 lender: interest, bad debt, liquidity, pauses and the inflation attack.
contract LenderTest is LenderFixture {
    function test_aLenderWithdrawsWithInterest() public {
        uint256 shares = _lend(alice, 10_000e6);
        assertEq(vault.baseBalanceOf(address(lenderVault)), 10_000e6, "supplied to PrimeVault");
        _openBorrower(bob, 2_000e6);
        vm.warp(block.timestamp + 365 days);
        _setEthPrice(ETH_PRICE);
        vm.prank(alice);
        uint256 paid = lenderVault.redeem(shares, alice, alice);
        assertGt(paid, 10_000e6, "a year of the borrower's interest");
        assertEq(usdc.balanceOf(alice), paid);
        assertEq(lenderVault.balanceOf(alice), 0);
    }

    function test_badDebtLowersTheSharePrice() public {
        uint256 shares = _lend(alice, 100_000e6);
        uint256 before = lenderVault.convertToAssets(shares);
        _openBorrower(bob, 2_400e6);
        _setEthPrice(2_000e8);
        address[] memory due = new address[](1);
        due[0] = bob;
        vm.prank(keeper);
        vault.liquidate(due);
        assertLt(
            lenderVault.convertToAssets(shares), before, "written off against every supplier, this vault too"
        );
    }

    function test_withdrawalsAreBoundedByThePoolsCash() public {
        uint256 shares = _lend(alice, 100_000e6);
        _deposit(bob, bob, weth, 1_000e18);
        _borrow(bob, bob, 1_050_000e6); // of 1,100,000 supplied: 50,000 left in the pool
        uint256 idle = usdc.balanceOf(address(vault));
        assertEq(lenderVault.maxWithdraw(alice), idle);
        assertLt(lenderVault.maxRedeem(alice), shares);
        vm.startPrank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(ERC4626.ERC4626ExceededMaxWithdraw.selector, alice, idle + 1, idle)
        );
        lenderVault.withdraw(idle + 1, alice, alice);
        lenderVault.withdraw(idle, alice, alice);
        vm.stopPrank();
        assertEq(usdc.balanceOf(alice), idle);
    }

    /// @dev maxDeposit is what PrimeVault takes in one deposit, MAX_AMOUNT: a larger deposit is refused by name
    ///      before its shares are computed (at 2^255 that computation overflowed: Panic 0x11).
    function test_aDepositPastWhatTheVaultTakesIsRefusedByName() public {
        assertEq(lenderVault.maxDeposit(alice), type(uint96).max);
        vm.expectRevert(
            abi.encodeWithSelector(
                ERC4626.ERC4626ExceededMaxDeposit.selector, alice, 2 ** 255, type(uint96).max
            )
        );
        vm.prank(alice);
        lenderVault.deposit(2 ** 255, alice);
    }

    /// @dev maxMint is what a mint can take: the shares of a MAX_AMOUNT deposit, whose assets PrimeVault takes in
    ///      one deposit (it was unbounded, and twice as many shares reverted in PrimeVault with AmountTooLarge).
    function test_maxMintIsWhatAMintTakes() public {
        _lend(alice, 1_000e6);
        uint256 most = lenderVault.maxMint(bob);
        assertEq(most, lenderVault.previewDeposit(type(uint96).max));
        uint256 assets = lenderVault.previewMint(most);
        assertLe(assets, type(uint96).max, "within one deposit");
        _fund(bob, usdc, assets);
        vm.startPrank(bob);
        usdc.approve(address(lenderVault), assets);
        lenderVault.mint(most, bob);
        vm.stopPrank();
        assertEq(lenderVault.balanceOf(bob), most);
    }

    function test_pausesShowInTheMaxFunctions() public {
        _lend(alice, 1_000e6);
        vm.prank(guardian);
        vault.setPaused(PAUSE_DEPOSIT | PAUSE_WITHDRAW);
        assertEq(lenderVault.maxDeposit(alice), 0);
        assertEq(lenderVault.maxMint(alice), 0);
        assertEq(lenderVault.maxWithdraw(alice), 0);
        assertEq(lenderVault.maxRedeem(alice), 0);
    }

    /// @dev The first-depositor attack: deposit a unit, donate to the vault's PrimeVault account (anyone may
    ///      deposit into any account) so that the next deposit mints nothing, and redeem. With 10^6 virtual
    ///      shares per unit the victim loses under 1 USDC of 10,000 and the attacker about half the donation.
    function test_theInflationAttackLosesTheAttackerMoney() public {
        address attacker = makeAddr("attacker");
        uint256 spent = 1 + 1_000_000e6;
        assertEq(_lend(attacker, 1), 1e6, "one unit: 10^6 shares");
        _fund(attacker, usdc, 1_000_000e6);
        vm.startPrank(attacker);
        usdc.approve(address(vault), 1_000_000e6);
        vault.deposit(address(lenderVault), address(usdc), 1_000_000e6);
        vm.stopPrank();
        uint256 victimShares = _lend(alice, 10_000e6);
        assertGt(victimShares, 0);
        vm.prank(alice);
        uint256 victimGot = lenderVault.redeem(victimShares, alice, alice);
        assertGe(victimGot, 10_000e6 - 1e6, "the victim loses less than 1 USDC to the rounding");
        uint256 attackerShares = lenderVault.balanceOf(attacker);
        vm.prank(attacker);
        uint256 attackerGot = lenderVault.redeem(attackerShares, attacker, attacker);
        assertLt(
            attackerGot, spent - 400_000e6, "the attacker loses most of the donation to the virtual shares"
        );
    }

    /// @dev Review round 11: an amount no position can reach is refused by name, not with an arithmetic panic.
    function test_previewsAndConversionsRefuseImpossibleAmountsByName() public {
        _lend(alice, 10_000e6);
        uint256 huge = type(uint256).max;
        uint256 maxShares = lenderVault.MAX_SHARES();
        bytes memory tooMuch =
            abi.encodeWithSelector(IPrimeVaultErrors.AmountTooLarge.selector, huge, MAX_AMOUNT);
        vm.expectRevert(tooMuch);
        lenderVault.previewDeposit(huge);
        vm.expectRevert(tooMuch);
        lenderVault.previewWithdraw(huge);
        vm.expectRevert(tooMuch);
        lenderVault.convertToShares(huge);
        bytes memory tooManyShares =
            abi.encodeWithSelector(IPrimeVaultErrors.AmountTooLarge.selector, huge, maxShares);
        vm.expectRevert(tooManyShares);
        lenderVault.convertToAssets(huge);
        vm.expectRevert(tooManyShares);
        lenderVault.previewMint(huge);
        vm.expectRevert(tooManyShares);
        lenderVault.previewRedeem(huge);
        assertGt(lenderVault.previewDeposit(MAX_AMOUNT), 0, "the largest deposit still previews");
    }

    /// @dev The idle cash is a balance anyone can raise: past MAX_AMOUNT it made `maxRedeem`, and so `redeem`, revert.
    function test_aDonationPastMaxAmountDoesNotStopRedemptions() public {
        uint256 shares = _lend(alice, 10_000e6);
        usdc.mint(address(vault), MAX_AMOUNT);
        assertEq(lenderVault.maxRedeem(alice), shares);
        vm.prank(alice);
        assertGt(lenderVault.redeem(shares, alice, alice), 9_999e6);
    }
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {VaultFixture} from "./utils/VaultFixture.sol";
import {IPrimeVaultErrors} from "../../contracts/interfaces/IPrimeVaultErrors.sol";
import {IPrimeVaultEvents} from "../../contracts/interfaces/IPrimeVaultEvents.sol";

contract OracleTest is VaultFixture {
    function test_staleFeedBlocksBorrowing() public {
        _deposit(alice, alice, weth, 1e18);
        vm.warp(block.timestamp + STALENESS + 1);
        uint256 updatedAt = block.timestamp - STALENESS - 1;
        vm.expectRevert(
            abi.encodeWithSelector(
                IPrimeVaultErrors.OracleStalePrice.selector, address(ethFeed), updatedAt, STALENESS
            )
        );
        _borrow(alice, alice, 1000e6);
    }

    function test_nonPositiveAnswerBlocksWithdrawal() public {
        _openBorrower(alice, 1000e6);
        _setEthPrice(0);
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.OracleInvalidPrice.selector, address(ethFeed), 0)
        );
        vm.prank(alice);
        vault.withdraw(alice, address(weth), 1, alice);
        _setEthPrice(-1);
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.OracleInvalidPrice.selector, address(ethFeed), -1)
        );
        _borrow(alice, alice, 100e6);
    }

    /// @dev An account whose own price is unusable is skipped and reported; the rest of the batch goes on.
    function test_badFeedSkipsOnlyTheAccountsThatHoldIt() public {
        _openBorrower(alice, 2400e6); // WETH
        _deposit(bob, bob, wbtc, 0.1e8);
        _borrow(bob, bob, 4800e6);
        btcFeed.setAnswer(50_000e8); // bob: equity 200 < maintenance 750
        _setEthPrice(-5);
        address[] memory list = new address[](2);
        (list[0], list[1]) = (alice, bob);
        vm.expectEmit(address(vault));
        emit IPrimeVaultEvents.LiquidationSkipped(
            alice, abi.encodeWithSelector(IPrimeVaultErrors.OracleUnusable.selector)
        );
        assertEq(vault.liquidate(list), 1);
        assertEq(vault.collateralBalanceOf(alice, address(weth)), 1e18, "alice untouched");
        assertLt(vault.collateralBalanceOf(bob, address(wbtc)), 0.1e8, "bob liquidated");
    }

    /// @dev Finding (medium): a stale feed of an asset held only in reserves (here a 1-wei donation of WBTC)
    ///      used to revert every liquidation with a shortfall, because the write-off priced all reserves.
    function test_staleReserveFeedDoesNotBlockAWriteOff() public {
        _openBorrower(alice, 2400e6);
        wbtc.mint(address(vault), 1); // a donation: reserves now hold WBTC
        vm.warp(block.timestamp + STALENESS + 1); // both feeds stale
        _setEthPrice(2000e8); // ETH fresh again: alice is under water, a shortfall must be written off
        address[] memory list = new address[](1);
        list[0] = alice;
        assertEq(vault.liquidate(list), 1);
        assertEq(vault.baseBalanceOf(alice), 0, "debt settled");
        assertEq(vault.collateralBalanceOf(alice, address(weth)), 0);
        assertLt(vault.marketState().supplyIndex, 1e15, "the uncovered part is written off");
    }

    function test_depositRepayAndDebtFreeWithdrawalsIgnoreTheFeed() public {
        _openBorrower(alice, 1000e6);
        _deposit(bob, bob, weth, 1e18);
        vm.warp(block.timestamp + STALENESS + 1);
        _deposit(alice, alice, weth, 1e18);
        _fund(alice, usdc, 2000e6);
        vm.prank(alice);
        vault.repay(alice, type(uint256).max);
        assertEq(vault.baseBalanceOf(alice), 0);
        vm.prank(bob);
        vault.withdraw(bob, address(weth), 1e18, bob);
        assertEq(weth.balanceOf(bob), 1e18);
    }

    function test_onlyTheFeedOwnerSetsAnswers() public {
        vm.expectRevert();
        vm.prank(alice);
        ethFeed.setAnswer(1);
        (, int256 answer,,,) = ethFeed.latestRoundData();
        assertEq(answer, ETH_PRICE);
    }
}

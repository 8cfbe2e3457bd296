// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {VaultFixture} from "./utils/VaultFixture.sol";
import {IPrimeVaultErrors} from "../../contracts/interfaces/IPrimeVaultErrors.sol";

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

    function test_badFeedBlocksLiquidation() public {
        _openBorrower(alice, 2400e6);
        _setEthPrice(-5);
        address[] memory list = new address[](1);
        list[0] = alice;
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.OracleInvalidPrice.selector, address(ethFeed), -5)
        );
        vault.liquidate(list);
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

// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {PortfolioFixture} from "../utils/PortfolioFixture.sol";
import {PrimeVault} from "../../../contracts/PrimeVault.sol";
import {IPrimeVaultErrors} from "../../../contracts/interfaces/IPrimeVaultErrors.sol";
import {IPrimeVaultEvents} from "../../../contracts/interfaces/IPrimeVaultEvents.sol";

contract PortfolioModeTest is PortfolioFixture {
    function setUp() public override {
        super.setUp();
        _deposit(alice, alice, weth, 10e18);
        _open(alice, ETH_MARKET, -10e18, DYDX);
    }

    function test_ownerEntersAndLeaves() public {
        vm.expectEmit(address(vault));
        emit IPrimeVaultEvents.PortfolioModeSet(alice, true);
        _portfolioMode(alice, true);
        assertTrue(vault.portfolioMode(alice));
        _portfolioMode(alice, false);
        assertFalse(vault.portfolioMode(alice));
    }

    function test_onlyTheOwnerSwitches() public {
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.NotAuthorized.selector, bob, alice, 0));
        vm.prank(bob);
        vault.setPortfolioMode(alice, true);
    }

    function test_needsThePortfolioContract() public {
        PrimeVault bare = new PrimeVault(address(usdc), admin);
        vm.expectRevert(IPrimeVaultErrors.PortfolioMarginNotSet.selector);
        vm.prank(alice);
        bare.setPortfolioMode(alice, true);
    }

    /// @dev The hedged book's equity is about 29,973; the standard rule's initial requirement is 9,000 (20%
    ///      of the WETH, 10% of the short) and the portfolio rule's 300.
    function test_hedgedBookBorrowsWhatTheStandardRuleRefuses() public {
        vm.prank(alice);
        vm.expectPartialRevert(IPrimeVaultErrors.InsufficientEquity.selector);
        vault.withdraw(alice, address(usdc), 25_000e6, alice);

        _portfolioMode(alice, true);
        _borrow(alice, alice, 25_000e6);
        assertLt(vault.baseBalanceOf(alice), -25_000e6);
        assertFalse(vault.isLiquidatable(alice));
    }

    function test_leavesOnlyWhenHealthyUnderTheStandardRule() public {
        _portfolioMode(alice, true);
        _borrow(alice, alice, 25_000e6);
        vm.prank(alice);
        vm.expectPartialRevert(IPrimeVaultErrors.InsufficientEquity.selector);
        vault.setPortfolioMode(alice, false);
        assertTrue(vault.portfolioMode(alice), "nothing changed");
    }

    /// @dev Portfolio mode does not loosen a book that has no hedge: a naked WETH position needs its worst
    ///      scenario (10.5%) plus the 2% net charge, 12.5% initial against the standard rule's 20%.
    function test_nakedCollateralStillNeedsItsWorstScenario() public {
        _deposit(bob, bob, weth, 10e18);
        _portfolioMode(bob, true);
        (uint256 initial,) = portfolio.requirements(bob);
        assertEq(initial, 3750e6);
        vm.prank(bob);
        vm.expectPartialRevert(IPrimeVaultErrors.InsufficientEquity.selector);
        vault.withdraw(bob, address(usdc), 26_251e6, bob);
    }
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

import {PortfolioFixture} from "../utils/PortfolioFixture.sol";
import {IPortfolioMargin} from "../../../contracts/interfaces/IPortfolioMargin.sol";
import {IPrimeVaultErrors} from "../../../contracts/interfaces/IPrimeVaultErrors.sol";
import {IPrimeVaultEvents} from "../../../contracts/interfaces/IPrimeVaultEvents.sol";

contract PortfolioGovernanceTest is PortfolioFixture {
    function test_riskManagerMovesTheShockWithinBoundsAndStep() public {
        vm.expectEmit(address(portfolio));
        emit IPortfolioMargin.ShockUpdated(ETH, 1000, 1250);
        vm.prank(riskManager);
        portfolio.updateShock(ETH, 1250);
        (, IPortfolioMargin.UnderlyingParams memory p) = portfolio.underlying(ETH);
        assertEq(p.shockBps, 1250);

        vm.prank(riskManager);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPortfolioMargin.PortfolioMarginOutOfBounds.selector, "shock step", 251, 0, 250
            )
        );
        portfolio.updateShock(ETH, 1501);

        vm.prank(riskManager);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPortfolioMargin.PortfolioMarginOutOfBounds.selector, "shockBps", 400, 500, 3000
            )
        );
        portfolio.updateShock(ETH, 400);
    }

    /// @dev A review's finding: with a step limit alone, a stolen risk-manager key walked ETH's shock from 10% to
    ///      30% in one block (nine calls), making a healthy leveraged portfolio book liquidatable.
    function test_aShockMovesAtMostOncePerInterval() public {
        _deposit(bob, bob, weth, 10e18);
        _portfolioMode(bob, true);
        _borrow(bob, bob, 26_000e6);
        assertEq(portfolio.shockUpdateInterval(), 1 hours);

        vm.startPrank(riskManager);
        portfolio.updateShock(ETH, 1250);
        assertEq(portfolio.shockUpdatedAt(ETH), block.timestamp);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPortfolioMargin.PortfolioMarginShockUpdateTooSoon.selector, ETH, block.timestamp + 1 hours
            )
        );
        portfolio.updateShock(ETH, 1500);
        portfolio.updateShock(BTC, 1000); // each underlying on its own clock
        portfolio.updateShock(ETH, 1250); // no move: allowed, and the clock is not restarted
        assertEq(portfolio.shockUpdatedAt(ETH), block.timestamp);
        vm.warp(block.timestamp + 1 hours - 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPortfolioMargin.PortfolioMarginShockUpdateTooSoon.selector, ETH, block.timestamp + 1
            )
        );
        portfolio.updateShock(ETH, 1500);
        vm.warp(block.timestamp + 1);
        portfolio.updateShock(ETH, 1500);
        vm.stopPrank();
        (, IPortfolioMargin.UnderlyingParams memory p) = portfolio.underlying(ETH);
        assertEq(p.shockBps, 1500);
        assertFalse(vault.isLiquidatable(bob), "two steps in an hour and a second leave the book healthy");
    }

    function test_theAdminSetsTheShockInterval() public {
        vm.expectEmit(address(portfolio));
        emit IPortfolioMargin.ShockUpdateIntervalSet(1 days);
        vm.prank(admin);
        portfolio.setShockUpdateInterval(1 days);
        assertEq(portfolio.shockUpdateInterval(), 1 days);

        vm.prank(admin);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPortfolioMargin.PortfolioMarginOutOfBounds.selector,
                "shockUpdateInterval",
                7 days + 1,
                0,
                7 days
            )
        );
        portfolio.setShockUpdateInterval(7 days + 1);

        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, riskManager, bytes32(0)
            )
        );
        vm.prank(riskManager);
        portfolio.setShockUpdateInterval(0);
    }

    function test_onlyTheRiskManagerMovesShocks() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, alice, portfolio.RISK_MANAGER_ROLE()
            )
        );
        vm.prank(alice);
        portfolio.updateShock(ETH, 1100);
    }

    function test_onlyTheAdminSetsParameters() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, riskManager, bytes32(0)
            )
        );
        vm.prank(riskManager);
        portfolio.setRule(6000, 4000);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, alice, bytes32(0)
            )
        );
        vm.prank(alice);
        vault.setPortfolioMargin(address(portfolio));
    }

    function test_boundsOfEveryParameter() public {
        vm.startPrank(admin);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPortfolioMargin.PortfolioMarginOutOfBounds.selector, "tailBps", 9500, 100, 9000
            )
        );
        portfolio.setUnderlying(ETH, "ETH", _params(1000, 500, 3000, 250, 9500));
        vm.expectRevert(
            abi.encodeWithSelector(
                IPortfolioMargin.PortfolioMarginOutOfBounds.selector, "shockBps", 400, 500, 3000
            )
        );
        portfolio.setUnderlying(ETH, "ETH", _params(400, 500, 3000, 250, 3000));
        vm.expectRevert(
            abi.encodeWithSelector(
                IPortfolioMargin.PortfolioMarginOutOfBounds.selector, "correlationCreditBps", 5001, 0, 5000
            )
        );
        portfolio.setRule(5000, 5001);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPortfolioMargin.PortfolioMarginOutOfBounds.selector, "maintenanceBps", 2000, 2500, 9000
            )
        );
        portfolio.setRule(2000, 0);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioMargin.PortfolioMarginUnknownUnderlying.selector, 3));
        portfolio.setUnderlying(3, "SOL", _params(1000, 500, 3000, 250, 3000));
        vm.expectRevert(abi.encodeWithSelector(IPortfolioMargin.PortfolioMarginUnknownUnderlying.selector, 2));
        portfolio.mapAsset(address(weth), 2);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.UnknownAsset.selector, address(usdc)));
        portfolio.mapAsset(address(usdc), ETH);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioMargin.PortfolioMarginUnmapped.selector, true, 7));
        portfolio.mapMarket(7, ETH);
        vm.stopPrank();
    }

    function test_setPortfolioMarginEmits() public {
        vm.expectEmit(address(vault));
        emit IPrimeVaultEvents.PortfolioMarginSet(address(portfolio));
        vm.prank(admin);
        vault.setPortfolioMargin(address(portfolio));
        assertEq(vault.portfolioMargin(), address(portfolio));
        vm.startPrank(admin);
        vm.expectRevert(IPrimeVaultErrors.ZeroAddress.selector);
        vault.setPortfolioMargin(address(0));
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.NotAContract.selector, address(0xBEEF)));
        vault.setPortfolioMargin(address(0xBEEF));
        vm.stopPrank();
        assertEq(vault.portfolioMargin(), address(portfolio), "unchanged");
    }

    function test_viewsReportTheMapping() public view {
        (bool mapped, uint8 index) = portfolio.assetUnderlying(address(wbtc));
        assertTrue(mapped);
        assertEq(index, BTC);
        (mapped,) = portfolio.marketUnderlying(3);
        assertFalse(mapped);
        assertEq(portfolio.underlyingCount(), 2);
        (uint16 maintenanceBps, uint16 creditBps) = portfolio.rule();
        assertEq(maintenanceBps, 5000);
        assertEq(creditBps, 5000);
    }
}

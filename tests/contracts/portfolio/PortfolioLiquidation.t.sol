// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {PortfolioFixture} from "../utils/PortfolioFixture.sol";
import {PortfolioMargin} from "../../../contracts/PortfolioMargin.sol";
import {MockERC20} from "../../../contracts/devnet/mocks/MockERC20.sol";
import {IPortfolioMargin} from "../../../contracts/interfaces/IPortfolioMargin.sol";
import {IPrimeVault} from "../../../contracts/interfaces/IPrimeVault.sol";
import {IPrimeVaultErrors} from "../../../contracts/interfaces/IPrimeVaultErrors.sol";
import {AssetParams} from "../../../contracts/interfaces/IPrimeVaultGovernance.sol";
import {IDydxStyleVenue} from "../../../contracts/interfaces/venues/IDydxStyleVenue.sol";

/// @dev A book in portfolio mode is liquidated by the same fraction of every leg, so a hedge stays a hedge.
contract PortfolioLiquidationTest is PortfolioFixture {
    function _liquidate(address account) internal returns (uint256) {
        address[] memory l = new address[](1);
        l[0] = account;
        vm.prank(keeper);
        return vault.liquidate(l);
    }

    /// @dev 1 WBTC hedged by a 20 ETH short (one group: BTC and ETH move together in the grid), borrowed
    ///      against: equity about 9,970 against an initial requirement of 9,000. The hedge breaks: BTC falls
    ///      4.5% while ETH rises 4.5%, equity 4,531.02 against a maintenance requirement of 4,635.
    function _brokenCrossHedge() internal {
        _deposit(alice, alice, wbtc, 1e8);
        _portfolioMode(alice, true);
        _open(alice, ETH_MARKET, -20e18, DYDX);
        _borrow(alice, alice, 50_000e6);
        assertFalse(vault.isLiquidatable(alice));
        btcFeed.setAnswer(57_300e8);
        ethFeed.setAnswer(3135e8);
        assertTrue(vault.isLiquidatable(alice));
    }

    function test_brokenHedgeIsCutProRataBackToTheTarget() public {
        _brokenCrossHedge();
        (uint256 maintenance, uint256 maxDiscountBps,) = portfolio.liquidationTerms(alice);
        assertEq(maintenance, 4635e6);
        assertEq(maxDiscountBps, 77);
        assertEq(vault.accountHealth(alice).equity, 4_531_019_500);
        assertEq(_liquidate(alice), 1);

        uint256 btcLeft = vault.collateralBalanceOf(alice, address(wbtc));
        int256 shortLeft = trading.position(alice, ETH_MARKET, DYDX).size;
        assertGt(btcLeft, 0, "partial: the collateral is not taken whole");
        assertLt(shortLeft, 0, "partial: the short is not closed");
        // The same fraction of both legs went, the short's rounded up to its venue's size step: the worked case of
        // docs/risk.md. A cap of 77 bps, but the ETH short offsets no BTC (a cross hedge, credited by correlation
        // only), so the WBTC keeps its resale floor of 3.6%: discounts 2,062.80, and
        // f = (4,866.75 - 4,531.02) / (4,866.75 - 2,062.80) = 11.97%.
        assertEq(btcLeft, 88_026_516, "11.97% of the WBTC");
        assertEq(shortLeft, -17.605e18, "11.975% of the short");
        uint256 btcCut = 1e18 - btcLeft * 1e10;
        uint256 shortCut = 1e18 - uint256(-shortLeft) / 20;
        assertApproxEqRel(btcCut, shortCut, 0.001e18);
        assertGe(shortCut, btcCut);
        assertLt(btcCut, 0.2e18);

        IPrimeVault.AccountHealth memory h = vault.accountHealth(alice);
        assertFalse(h.liquidatable);
        assertGe(h.equity, int256(h.maintenanceRequirement), "back above maintenance");
    }

    /// @dev An unhealthy book cannot escape to the standard rule (which it is even further from meeting).
    function test_unhealthyBookCannotLeavePortfolioMode() public {
        _brokenCrossHedge();
        vm.prank(alice);
        vm.expectPartialRevert(IPrimeVaultErrors.InsufficientEquity.selector);
        vault.setPortfolioMode(alice, false);
        assertTrue(vault.portfolioMode(alice));
    }

    /// @dev A book under water is taken whole, positions and collateral, and the batch goes on.
    function test_bookUnderWaterIsAbsorbedWhole() public {
        _brokenCrossHedge();
        btcFeed.setAnswer(45_000e8);
        ethFeed.setAnswer(3600e8);
        assertEq(_liquidate(alice), 1);
        assertEq(vault.collateralBalanceOf(alice, address(wbtc)), 0);
        assertEq(trading.position(alice, ETH_MARKET, DYDX).size, 0);
        assertEq(vault.baseBalanceOf(alice), 0, "the shortfall is covered or written off");
    }

    /// @dev A rule that cannot evaluate the book (here a new rule contract, set by governance, that maps no
    ///      market while the account holds a perp position) makes liquidation fall back to the standard rule
    ///      rather than skip the account.
    function test_aRuleThatCannotEvaluateTheBookFallsBackToTheStandardRule() public {
        _brokenCrossHedge();
        PortfolioMargin partialRule = new PortfolioMargin(vault, trading, admin);
        vm.startPrank(admin);
        partialRule.setUnderlying(0, "BTC", _params(800, 400, 2500, 200, 2000));
        partialRule.mapAsset(address(wbtc), 0);
        vault.setPortfolioMargin(address(partialRule));
        vm.stopPrank();
        vm.expectRevert(
            abi.encodeWithSelector(IPortfolioMargin.PortfolioMarginUnmapped.selector, true, ETH_MARKET)
        );
        partialRule.requirements(alice);
        assertEq(_liquidate(alice), 1);
        assertLt(vault.collateralBalanceOf(alice, address(wbtc)), 1e8);
    }

    /// @dev Anyone may deposit into any account. A dust deposit of an asset listed but not mapped yet once
    ///      made the rule revert, which sent a liquidation to the standard rule: a healthy hedged book (150 of
    ///      maintenance in portfolio mode, 6,000 under the standard rule) was liquidatable by whoever sent
    ///      1 wei. An unmapped asset counts for nothing instead.
    function test_aDustDepositOfAnUnmappedAssetCannotMakeAHealthyBookLiquidatable() public {
        MockERC20 link = new MockERC20("Chainlink", "LINK", 18);
        vm.prank(admin);
        vault.listAsset(address(link), AssetParams(address(ethFeed), STALENESS, 3000, 2500, 1000, 1e24));
        _deposit(alice, alice, weth, 10e18);
        _portfolioMode(alice, true);
        _open(alice, ETH_MARKET, -10e18, DYDX);
        _borrow(alice, alice, 26_000e6);
        (, uint256 maintenanceBefore) = portfolio.requirements(alice);

        _fund(bob, link, 1);
        vm.prank(bob);
        vault.deposit(alice, address(link), 1);
        assertFalse(vault.isLiquidatable(alice));
        assertEq(_liquidate(alice), 0, "healthy under its own rule");
        assertEq(vault.collateralBalanceOf(alice, address(weth)), 10e18);
        assertEq(trading.position(alice, ETH_MARKET, DYDX).size, -10e18);
        (, uint256 maintenanceAfter) = portfolio.requirements(alice);
        assertEq(maintenanceAfter, maintenanceBefore, "1 wei of LINK is worth less than a base unit");
        vm.prank(alice);
        vault.withdraw(alice, address(link), 1, alice); // and nothing of the owner's is stuck behind it
    }

    /// @dev 1 WBTC alone at its maximum leverage: maintenance 3,000 (the 8% step and the 2% net charge, half of
    ///      it), 5% of its value, below WBTC's own 6% penalty. BTC falls 6%: equity about 2,400 against 2,820.
    ///      Without a cap the discount would cost more than the cut frees and the account would be taken whole
    ///      with a shortfall; capped at a fifth of maintenance, a part is cut and the account is healthy again.
    function test_nakedBookAtMaximumLeverageIsCutWithoutShortfall() public {
        _deposit(alice, alice, wbtc, 1e8);
        _portfolioMode(alice, true);
        _borrow(alice, alice, 54_000e6); // equity 6,000: the initial requirement
        btcFeed.setAnswer(56_400e8);
        assertTrue(vault.isLiquidatable(alice));
        (uint256 maintenance, uint256 maxDiscountBps,) = portfolio.liquidationTerms(alice);
        assertEq(maintenance, 2820e6);
        assertEq(maxDiscountBps, 100, "a fifth of maintenance over a gross of 56,400: 1%");

        assertEq(_liquidate(alice), 1);
        uint256 left = vault.collateralBalanceOf(alice, address(wbtc));
        // The cap (1%) is below the floor that pays the store front's resale and the liquidator, so the WBTC is
        // discounted at the floor: each unit relieves less, and more is cut than the cap alone would cut.
        assertGt(left, 0.3e8, "a part, not the whole");
        assertLt(vault.baseBalanceOf(alice), 0, "still borrowing: no debt written off");
        IPrimeVault.AccountHealth memory h = vault.accountHealth(alice);
        assertFalse(h.liquidatable);
        // What the account was credited, the store front recovers: once the absorbed WBTC is sold, reserves
        // (zero before) are not negative. With the cap alone they lost the gap between the two discounts.
        uint256 held = vault.collateralReserves(address(wbtc));
        uint256 cost = held * 56_400e6 / 1e8; // at the oracle: more than the discounted price
        cost = cost * held / vault.quoteCollateral(address(wbtc), cost); // at the store front's price
        usdc.mint(address(this), cost);
        usdc.approve(address(vault), cost);
        vault.buyCollateral(address(wbtc), 0, cost, address(this));
        assertGe(vault.marketState().reserves, 0, "the resale pays for the credit");
    }

    /// @dev The hedged book's cap: maintenance 150 over a gross of 60,000 (both legs) allows 5 bps a leg.
    function test_aTightHedgeIsDiscountedInBasisPoints() public {
        _deposit(alice, alice, weth, 10e18);
        _open(alice, ETH_MARKET, -10e18, DYDX);
        (uint256 maintenance, uint256 maxDiscountBps, uint256 hedgedBps) = portfolio.liquidationTerms(alice);
        assertEq(maintenance, 150e6);
        assertEq(maxDiscountBps, 5);
        assertEq(hedgedBps, 10_000, "all of the gross offsets: 2 x 30,000 over 60,000");
    }

    /// @dev The venue of the hedge cannot report its size step (paused): the short is cut by the same fraction as
    ///      the collateral, to the unit, and the book stays hedged and back above maintenance. Taking the short
    ///      whole (as the module once did without a step) left the WETH naked, deep below the rule's requirement,
    ///      and the next call sold it all at the resale floor: a shortfall of about 700 USDC from a book whose
    ///      equity was positive.
    function test_aHedgeWhoseVenueCannotReportItsStepIsCutByTheSameFraction() public {
        _hedgedBookJustBelowMaintenance();
        vm.mockCallRevert(
            address(dydx), abi.encodeWithSelector(IDydxStyleVenue.marketParams.selector), "paused"
        );
        assertEq(_liquidate(alice), 1);
        int256 short = trading.position(alice, ETH_MARKET, DYDX).size;
        uint256 weth_ = vault.collateralBalanceOf(alice, address(weth));
        assertLt(short, 0, "the hedge is still there");
        // Both legs cut by the same fraction, each rounded up to its unit.
        assertApproxEqAbs(uint256(-short), weth_, 1, "as much short as collateral left");
        assertLt(weth_, 10e18, "a part absorbed");
        IPrimeVault.AccountHealth memory h = vault.accountHealth(alice);
        assertFalse(h.liquidatable, "back above maintenance in one call");
        assertLt(vault.baseBalanceOf(alice), 0, "still borrowing: no debt written off");
    }

    /// @dev Review round 11: any perp position, even a dust one on the collateral's own side, made a portfolio book
    ///      count as hedged, which dropped the collateral's resale floor: 10 naked WETH and 0.001 ETH long were
    ///      discounted 1.26% instead of 3%, and reserves paid the store front's resale. Only offsetting legs lower
    ///      the floor now, in proportion: the dust long changes nothing and the resale pays for the credit.
    function test_aDustPositionDoesNotMakeANakedBookHedged() public {
        _deposit(alice, alice, weth, 10e18);
        _portfolioMode(alice, true);
        _open(alice, ETH_MARKET, 0.001e18, DYDX);
        _borrow(alice, alice, 26_000e6);
        (,, uint256 hedgedBps) = portfolio.liquidationTerms(alice);
        assertEq(hedgedBps, 0, "nothing offsets: long collateral and a long");
        _setEthPrice(2760e8);
        assertTrue(vault.isLiquidatable(alice));
        assertEq(_liquidate(alice), 1);
        _sellReservesAtTheStoreFront(weth, 2760e6);
        assertGe(vault.marketState().reserves, 0, "the resale pays for the credit");
    }

    /// @dev A dust short hedges its own notional only: the floor is lowered by that share, about nothing.
    function test_aDustShortLowersTheFloorOnlyByItsShare() public {
        _deposit(alice, alice, weth, 10e18);
        _portfolioMode(alice, true);
        _open(alice, ETH_MARKET, -0.001e18, DYDX);
        (,, uint256 hedgedBps) = portfolio.liquidationTerms(alice);
        assertEq(hedgedBps, 1, "3 of the 30,000 of WETH covered, in basis points rounded down");
        _borrow(alice, alice, 26_000e6);
        _setEthPrice(2760e8);
        assertEq(_liquidate(alice), 1);
        _sellReservesAtTheStoreFront(weth, 2760e6);
        assertGe(vault.marketState().reserves, 0, "the resale pays for the credit");
    }

    /// @dev Review round 14: the hedged share lowered every asset's resale floor alike, so WETH hedged by an ETH short
    ///      lowered the floor of naked WBTC beside it (30 WETH and 0.5 WBTC, 75% of the collateral covered): the WBTC
    ///      was credited at 0.86% below the oracle, the store front sells it at 3%, and reserves paid about 35 USDC
    ///      where the hedged WETH's pair discount accounts for at most 29. The share is now weighted by each asset's
    ///      value times its penalty, so the floors it lowers add up to what the hedged assets' own would.
    function test_aHedgedAssetDoesNotLowerTheFloorOfANakedOneBesideIt() public {
        _deposit(alice, alice, weth, 30e18);
        _deposit(alice, alice, wbtc, 0.5e8);
        _portfolioMode(alice, true);
        _open(alice, ETH_MARKET, -30e18, DYDX);
        IPrimeVault.AccountHealth memory h = vault.accountHealth(alice);
        _borrow(alice, alice, uint256(h.equity) - h.initialRequirement - 1);
        int256 price = BTC_PRICE;
        while (!vault.isLiquidatable(alice)) {
            price -= 50e8;
            btcFeed.setAnswer(price);
            ethFeed.setAnswer(ETH_PRICE);
        }
        (,, uint256 hedgedBps) = portfolio.liquidationTerms(alice);
        // 90,000 of WETH at a 5% penalty covered, the WBTC at 6% not: by value alone 76.31% (7631).
        uint256 wbtcValue = 0.5e8 * uint256(price) / 1e10;
        assertEq(
            hedgedBps, 90_000e6 * 500 * 10_000 / (90_000e6 * 500 + wbtcValue * 600), "weighted by penalty too"
        );
        assertEq(hedgedBps, 7286);
        int256 before = vault.marketState().reserves;
        uint256 wethHeld = vault.collateralBalanceOf(alice, address(weth));
        assertEq(_liquidate(alice), 1);
        uint256 wethValue = (wethHeld - vault.collateralBalanceOf(alice, address(weth))) * 3000e6 / 1e18;
        _sellReservesAtTheStoreFront(wbtc, uint256(price) / 100);
        _sellReservesAtTheStoreFront(weth, 3000e6);
        assertGe(
            vault.marketState().reserves + int256(wethValue * 30 / 10_000),
            before,
            "the naked WBTC's resale pays for its credit; reserves bear at most the hedged WETH's pair discount"
        );
    }

    /// @dev Buys every unit of `asset` the vault took in liquidations, at the store front's price.
    function _sellReservesAtTheStoreFront(MockERC20 asset, uint256 unitPrice) internal {
        uint256 held = vault.collateralReserves(address(asset));
        uint256 cost = held * unitPrice / 10 ** asset.decimals(); // at the oracle: more than the discounted price
        cost = cost * held / vault.quoteCollateral(address(asset), cost); // at the store front's price
        usdc.mint(address(this), cost);
        usdc.approve(address(vault), cost);
        vault.buyCollateral(address(asset), 0, cost, address(this));
    }

    /// @dev Review round 11, second pass: a perp long at one venue against a perp short at another (of the
    ///      collateral's underlying or another one) hedge each other, not the collateral: counted as hedged, such a
    ///      pair dropped the naked WETH's resale floor and reserves paid about 42 USDC of its resale. Only collateral
    ///      a net short of its own underlying covers lowers the floor.
    function test_aPerpPairHedgesNoneOfTheCollateral() public {
        for (uint256 i; i < 2; ++i) {
            uint256 snapshot = vm.snapshotState();
            (uint8 market, int256 size) = i == 0 ? (ETH_MARKET, int256(40e18)) : (BTC_MARKET, int256(2e18));
            _deposit(alice, alice, weth, 10e18);
            _portfolioMode(alice, true);
            _open(alice, market, -size, RABBIT);
            _open(alice, market, size, DYDX);
            (,, uint256 hedgedBps) = portfolio.liquidationTerms(alice);
            assertEq(hedgedBps, 0, "no collateral covered");
            IPrimeVault.AccountHealth memory h = vault.accountHealth(alice);
            _borrow(alice, alice, uint256(h.equity) - h.initialRequirement - 1);
            int256 price = 3000e8;
            while (!vault.isLiquidatable(alice)) {
                price -= 5e8;
                _setEthPrice(price);
                btcFeed.setAnswer(BTC_PRICE);
            }
            int256 before = vault.marketState().reserves;
            assertEq(_liquidate(alice), 1);
            _sellReservesAtTheStoreFront(weth, uint256(price) / 100);
            assertGe(vault.marketState().reserves, before, "the resale pays for the credit");
            vm.revertToState(snapshot);
        }
    }

    /// @dev A rule answering in another shape (an older version's two words) or a hedged share past 100% reverted
    ///      every portfolio liquidation (a `try`'s decoding, then an underflow): the standard rule is used instead, and
    ///      the share is clamped.
    function test_aPortfolioRuleAnsweringWrongNeverBlocksLiquidation() public {
        _deposit(alice, alice, weth, 10e18);
        _portfolioMode(alice, true);
        _borrow(alice, alice, 26_000e6);
        _setEthPrice(2760e8);
        assertTrue(vault.isLiquidatable(alice));
        bytes memory call = abi.encodeWithSelector(IPortfolioMargin.liquidationTerms.selector, alice);
        uint256 snapshot = vm.snapshotState();
        vm.mockCall(address(portfolio), call, abi.encode(uint256(1500e6), uint256(100)));
        assertEq(_liquidate(alice), 1, "two words: the standard rule");
        vm.revertToState(snapshot);
        vm.clearMockedCalls();
        vm.mockCall(address(portfolio), call, abi.encode(uint256(3000e6), uint256(1), uint256(10_001)));
        assertEq(_liquidate(alice), 1, "a share past 100%: clamped");
    }
}

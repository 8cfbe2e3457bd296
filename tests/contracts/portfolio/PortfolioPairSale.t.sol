// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {PortfolioFixture} from "../utils/PortfolioFixture.sol";
import {IPortfolioMargin} from "../../../contracts/interfaces/IPortfolioMargin.sol";
import {IPrimeVault} from "../../../contracts/interfaces/IPrimeVault.sol";
import {ITradingModule} from "../../../contracts/interfaces/ITradingModule.sol";

/// @dev The store front sells collateral the backstop book hedges as a pair: at the pair discount (30 bps), not
///      its own (2.5% on WETH), since the keeper unwinds the covering short as the collateral goes
///      (`IPortfolioMargin.storeFrontDiscount`). What a capped portfolio liquidation absorbs with its hedge thus
///      costs reserves the pair discount less the account's capped one, not the whole resale discount.
contract PortfolioPairSaleTest is PortfolioFixture {
    uint256 internal constant WETH_STORE_FRONT_BPS = 250;
    uint256 internal constant PAIR_BPS = 30;

    function _liquidate(address account) internal {
        address[] memory l = new address[](1);
        l[0] = account;
        vm.prank(keeper);
        assertEq(vault.liquidate(l), 1);
    }

    /// @dev The hedged book just below maintenance, liquidated: a part of the WETH goes to reserves, the same part of
    ///      the short to the backstop book. Returns the vault's reserves before the liquidation.
    function _liquidatedHedge() internal returns (int256 reservesBefore) {
        _hedgedBookJustBelowMaintenance();
        reservesBefore = vault.marketState().reserves;
        _liquidate(alice);
        assertGt(vault.collateralReserves(address(weth)), 0, "WETH absorbed");
        assertLt(trading.backstopPosition(ETH_MARKET, DYDX).size, 0, "the short taken over with it");
    }

    /// @dev Base units the store front asks for `amount` of WETH at `discountBps` (the oracle at 3,000).
    function _cost(uint256 amount, uint256 discountBps) internal pure returns (uint256) {
        return amount * 3000e6 / 1e18 * (10_000 - discountBps) / 10_000;
    }

    function _buy(uint256 cost) internal returns (uint256 amountOut) {
        usdc.mint(address(this), cost);
        usdc.approve(address(vault), cost);
        amountOut = vault.buyCollateral(address(weth), 0, cost, address(this));
    }

    /// @dev The liquidation cuts 6.19% of the book: 0.6189 WETH to reserves and 0.619 ETH of short (rounded up to
    ///      its venue's step) to the backstop book, which covers all of it. Sold at 30 bps, the WETH costs reserves the
    ///      pair discount less the account's capped one (5 bps), with the caller's reward: 26 bps of its value (4.83
    ///      of 1,856.74 USDC), where the store front's own 2.5% cost them 246 (45.68).
    function test_aHedgedPairSellsAtThePairDiscount() public {
        int256 reservesBefore = _liquidatedHedge();
        uint256 held = vault.collateralReserves(address(weth));
        uint256 short = uint256(-int256(trading.backstopPosition(ETH_MARKET, DYDX).size));
        assertGe(short, held, "the short covers all of the WETH");
        uint256 value = held * 3000e6 / 1e18;
        (uint256 reservesValue, uint256 covered) = portfolio.reservesHedge(ETH);
        assertEq(reservesValue, value, "reserves at the oracle");
        assertEq(covered, value, "covered whole");
        assertEq(portfolio.storeFrontDiscount(address(weth), held, WETH_STORE_FRONT_BPS), PAIR_BPS);

        uint256 snapshot = vm.snapshotState();
        assertApproxEqAbs(_buy(_cost(held, PAIR_BPS) - 1), held, 1e12, "all of it, at the pair discount");
        uint256 cost = uint256(reservesBefore - vault.marketState().reserves);
        assertLe(
            cost,
            value * 27 / 10_000,
            "reserves bear the pair discount less the cap (and the caller's reward)"
        );
        // What is left is dust: the keeper now unwinds the short but for that.
        (reservesValue, covered) = portfolio.reservesHedge(ETH);
        assertLt(reservesValue, 1e6, "less than a dollar left");
        assertEq(covered, reservesValue);

        // Sold at the store front's own discount (a pair discount above it), the same WETH costs reserves 246 bps.
        vm.revertToState(snapshot);
        vm.prank(admin);
        portfolio.setPairDiscount(1000);
        _buy(_cost(held, WETH_STORE_FRONT_BPS) - 1);
        assertGe(uint256(reservesBefore - vault.marketState().reserves), value * 240 / 10_000);
    }

    function test_nakedReservesSellAtTheStoreFrontsOwnDiscount() public {
        weth.mint(address(vault), 1e18); // a donation: reserves, with no hedge in the backstop book
        assertEq(vault.quoteCollateral(address(weth), _cost(1e18, WETH_STORE_FRONT_BPS)), 1e18);
        (uint256 reservesValue, uint256 covered) = portfolio.reservesHedge(ETH);
        assertEq(reservesValue, 3000e6);
        assertEq(covered, 0);
    }

    /// @dev Reserves beyond what the short covers sell at the blend: the covered share at the pair discount, the
    ///      rest at the store front's own, rounded down to a whole basis point (the buyer gets less).
    function test_reservesPartlyHedgedSellAtTheBlend() public {
        _liquidatedHedge();
        uint256 held = vault.collateralReserves(address(weth));
        uint256 short = uint256(-int256(trading.backstopPosition(ETH_MARKET, DYDX).size));
        weth.mint(address(vault), held); // as much again, naked
        uint256 total = 2 * held;
        (uint256 reservesValue, uint256 covered) = portfolio.reservesHedge(ETH);
        assertEq(reservesValue, total * 3000e6 / 1e18);
        uint256 hedged = Math.mulDiv(total, covered, reservesValue, Math.Rounding.Ceil);
        assertApproxEqAbs(hedged, short, 1e9, "the short's size, in WETH");
        uint256 expected = WETH_STORE_FRONT_BPS
            - Math.mulDiv(WETH_STORE_FRONT_BPS - PAIR_BPS, hedged, total, Math.Rounding.Ceil);
        assertEq(portfolio.storeFrontDiscount(address(weth), total, WETH_STORE_FRONT_BPS), expected);
        assertGt(expected, PAIR_BPS);
        assertLt(expected, WETH_STORE_FRONT_BPS);
        // A purchase within the hedged share is all at the pair discount.
        assertEq(portfolio.storeFrontDiscount(address(weth), hedged / 2, WETH_STORE_FRONT_BPS), PAIR_BPS);
    }

    /// @dev A backstop book net long in the underlying hedges nothing of the collateral: the whole discount.
    function test_aLongBackstopHedgesNothing() public {
        _deposit(alice, alice, weth, 10e18);
        _open(alice, ETH_MARKET, 10e18, DYDX);
        IPrimeVault.AccountHealth memory h = vault.accountHealth(alice);
        _borrow(alice, alice, uint256(h.equity) - h.initialRequirement - 1);
        _setEthPrice(2700e8);
        btcFeed.setAnswer(BTC_PRICE);
        _liquidate(alice);
        assertGt(trading.backstopPosition(ETH_MARKET, DYDX).size, 0, "the long taken over");
        uint256 held = vault.collateralReserves(address(weth));
        assertGt(held, 0, "WETH absorbed");
        (, uint256 covered) = portfolio.reservesHedge(ETH);
        assertEq(covered, 0);
        assertEq(
            portfolio.storeFrontDiscount(address(weth), held, WETH_STORE_FRONT_BPS), WETH_STORE_FRONT_BPS
        );
    }

    /// @dev The hedge cannot be read (the trading module's view reverts): the store front stays open at its own
    ///      discount instead of closing.
    function test_theStoreFrontStaysOpenWhenTheHedgeCannotBeRead() public {
        _liquidatedHedge();
        vm.mockCallRevert(
            address(trading), abi.encodeWithSelector(ITradingModule.backstopPosition.selector), ""
        );
        vm.expectRevert();
        portfolio.reservesHedge(ETH);
        uint256 held = vault.collateralReserves(address(weth));
        uint256 out = _buy(_cost(held, WETH_STORE_FRONT_BPS));
        assertApproxEqAbs(out, held, 1e9, "sold at the store front's own discount");
    }

    /// @dev A pair discount above the asset's own store-front discount changes nothing.
    function test_thePairDiscountNeverRaisesTheStoreFrontsDiscount() public {
        _liquidatedHedge();
        vm.prank(admin);
        portfolio.setPairDiscount(1000);
        uint256 held = vault.collateralReserves(address(weth));
        assertEq(
            portfolio.storeFrontDiscount(address(weth), held, WETH_STORE_FRONT_BPS), WETH_STORE_FRONT_BPS
        );
        assertApproxEqAbs(vault.quoteCollateral(address(weth), _cost(held, WETH_STORE_FRONT_BPS)), held, 1e12);
    }

    function test_theAdminSetsThePairDiscountWithinBounds() public {
        assertEq(portfolio.pairDiscountBps(), PAIR_BPS);
        vm.expectEmit(address(portfolio));
        emit IPortfolioMargin.PairDiscountSet(50);
        vm.prank(admin);
        portfolio.setPairDiscount(50);
        assertEq(portfolio.pairDiscountBps(), 50);

        vm.prank(admin);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPortfolioMargin.PortfolioMarginOutOfBounds.selector, "pairDiscountBps", 1001, 0, 1000
            )
        );
        portfolio.setPairDiscount(1001);

        bytes32 adminRole = portfolio.DEFAULT_ADMIN_ROLE();
        vm.prank(riskManager);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, riskManager, adminRole
            )
        );
        portfolio.setPairDiscount(10);
    }
}

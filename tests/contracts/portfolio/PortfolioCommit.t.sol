// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {PortfolioFixture} from "../utils/PortfolioFixture.sol";
import {PortfolioMargin} from "../../../contracts/PortfolioMargin.sol";
import {IPortfolioMargin} from "../../../contracts/interfaces/IPortfolioMargin.sol";
import {IPrimeVault} from "../../../contracts/interfaces/IPrimeVault.sol";
import {IPrimeVaultErrors} from "../../../contracts/interfaces/IPrimeVaultErrors.sol";
import {ITradingModule} from "../../../contracts/interfaces/ITradingModule.sol";
import {IVenueAdapter} from "../../../contracts/interfaces/IVenueAdapter.sol";

/// @notice A portfolio account's asynchronous order: the venue's fill is booked without a health check, so the
///         commit reserves the most the leg can add to the rule's initial requirement (`legMarginBps`), not the
///         market's own initial margin, and refuses a market the rule does not map. Found by a security review:
///         with the market's 10% a portfolio account opened a naked 32 ETH long on 10,000 of equity, which the rule
///         margins at 12.5% (at the shock's maximum, liquidatable right after its own fill), and a fill could put
///         an unmapped market into a portfolio book, after which every health view of the account reverted.
contract PortfolioCommitTest is PortfolioFixture {
    address internal carol = makeAddr("carol");
    uint256 internal fillNonce;

    function setUp() public override {
        super.setUp();
        _deposit(bob, bob, usdc, 10_000e6);
        _portfolioMode(bob, true);
    }

    function _commitOne(uint256 orderId, uint8 venue, uint256 size, uint256 limit)
        internal
        returns (uint256)
    {
        ITradingModule.ChildSpec[] memory specs = new ITradingModule.ChildSpec[](1);
        specs[0] = ITradingModule.ChildSpec(venue, size, limit, block.timestamp + 10 minutes);
        vm.prank(keeper);
        return trading.commitSplit(orderId, specs);
    }

    /// @dev The local venue fills the child for the trading module's account and the executor reports it.
    function _fill(uint256 childId, uint256 size) internal {
        ITradingModule.ChildOrder memory c = trading.childOrder(childId);
        ITradingModule.Order memory o = trading.order(c.orderId);
        IVenueAdapter adapter = IVenueAdapter(trading.venues()[c.venue]);
        vm.prank(address(trading));
        (uint256 price, uint256 fee) =
            adapter.trade(o.market, o.size > 0 ? int256(size) : -int256(size), c.limitPrice);
        vm.prank(keeper);
        trading.reportFill(childId, keccak256(abi.encode("fill", ++fillNonce)), price, size, fee);
    }

    function test_legMarginIsTheLargestMovePlusTheCharges() public view {
        // ETH: max(10%, ceil(30% x 35%) = 10.5%) + 2% + 1% + 1.25%; BTC: max(8%, 7%) + the same charges.
        assertEq(portfolio.legMarginBps(ETH_MARKET), 1050 + 200 + 100 + 125);
        assertEq(portfolio.legMarginBps(BTC_MARKET), 800 + 200 + 100 + 125);
    }

    function test_aPortfolioCommitReservesTheLegMargin() public {
        uint256 child = _commitOne(_submit(bob, bob, ETH_MARKET, 20e18, 3100e18), DYDX, 20e18, 3100e18);
        (uint256 reserved,,) = trading.reservation(bob);
        assertEq(reserved, 62_000e6 * 1475 / 10_000, "20 ETH at 3,100 x 14.75%");
        _fill(child, 20e18);
        IPrimeVault.AccountHealth memory h = vault.accountHealth(bob);
        assertGe(h.equity, int256(h.initialRequirement), "the fill leaves the account within its rule");
    }

    function test_aPortfolioCommitBeyondTheRuleIsRefused() public {
        // 32 ETH at 3,100: 10% (9,920) fits 10,000 of equity, the rule's 14.75% (14,632) does not.
        uint256 id = _submit(bob, bob, ETH_MARKET, 32e18, 3100e18);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPrimeVaultErrors.InsufficientEquity.selector, bob, int256(10_000e6), 14_632e6
            )
        );
        _commitOne(id, DYDX, 32e18, 3100e18);
    }

    function test_aStandardAccountReservesTheMarketsMargin() public {
        _deposit(carol, carol, usdc, 10_000e6);
        _commitOne(_submit(carol, carol, ETH_MARKET, 20e18, 3100e18), DYDX, 20e18, 3100e18);
        (uint256 reserved,,) = trading.reservation(carol);
        assertEq(reserved, 62_000e6 * 1000 / 10_000, "the market's 10%");
    }

    function test_aPortfolioCommitToAnUnmappedMarketIsRefused() public {
        PortfolioMargin rule = new PortfolioMargin(vault, trading, admin);
        vm.startPrank(admin);
        rule.setUnderlying(ETH, "ETH", _params(1000, 500, 3000, 250, 3000));
        rule.setUnderlying(BTC, "BTC", _params(800, 400, 2500, 200, 2000));
        rule.mapAsset(address(weth), ETH);
        rule.mapAsset(address(wbtc), BTC);
        rule.mapMarket(BTC_MARKET, BTC); // ETH-USD listed, not mapped yet
        vault.setPortfolioMargin(address(rule));
        vm.stopPrank();

        uint256 id = _submit(bob, bob, ETH_MARKET, 1e18, 3100e18);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPortfolioMargin.PortfolioMarginUnmapped.selector, true, uint256(ETH_MARKET)
            )
        );
        _commitOne(id, DYDX, 1e18, 3100e18);
        assertEq(trading.position(bob, ETH_MARKET, DYDX).size, 0);
        vault.accountHealth(bob); // still readable
    }

    /// @dev Carol holds 10 WETH hedged by a 10 ETH short and has borrowed 27,000: about 300 of initial margin as a
    ///      hedge, 3,750 once the short is closed, against about 3,000 of equity.
    function _hedgedAndBorrowed() internal {
        _deposit(carol, carol, weth, 10e18);
        _portfolioMode(carol, true);
        _open(carol, ETH_MARKET, -10e18, DYDX);
        _borrow(carol, carol, 27_000e6);
    }

    /// @dev Under the portfolio rule closing a hedge raises the requirement, so a reduce-only order is not exempt
    ///      from it (under the standard rule shrinking a slot always lowers it): executed, the close is refused.
    function test_closingAHedgeIsHeldToTheRule() public {
        _hedgedAndBorrowed();
        vm.prank(carol);
        uint256 id = trading.submitOrder(carol, ETH_MARKET, 10e18, 3150e18, block.timestamp + 1 hours, true);
        _executeOn(id, DYDX, 10e18);
        assertEq(
            uint8(_status(id)), uint8(ITradingModule.OrderStatus.Cancelled), "the naked WETH would need 3,750"
        );
        assertEq(trading.position(carol, ETH_MARKET, DYDX).size, -10e18, "the hedge stays");
        assertFalse(vault.isLiquidatable(carol));
    }

    function test_closingAHedgeAsynchronouslyReservesTheLegMargin() public {
        _hedgedAndBorrowed();
        vm.prank(carol);
        uint256 id = trading.submitOrder(carol, ETH_MARKET, 10e18, 3150e18, block.timestamp + 1 hours, true);
        vm.expectPartialRevert(IPrimeVaultErrors.InsufficientEquity.selector);
        _commitOne(id, DYDX, 10e18, 3150e18);
    }

    /// @dev A child committed under the standard rule reserved that rule's margin (none if reduce-only) and fills
    ///      unchecked: switching to the portfolio rule meanwhile would skip what a portfolio commit reserves (a
    ///      review found a hedge closed this way leaving equity below zero).
    function test_portfolioModeWaitsForOpenChildren() public {
        _deposit(carol, carol, weth, 10e18);
        _open(carol, ETH_MARKET, -10e18, DYDX);
        vm.prank(carol);
        uint256 id = trading.submitOrder(carol, ETH_MARKET, 10e18, 3150e18, block.timestamp + 1 hours, true);
        uint256 child = _commitOne(id, DYDX, 10e18, 3150e18);
        vm.prank(carol);
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.PortfolioModeWithOpenChildren.selector, carol)
        );
        vault.setPortfolioMode(carol, true);
        _fill(child, 10e18);
        _portfolioMode(carol, true); // once its children have ended
        assertTrue(vault.portfolioMode(carol));
    }

    /// @dev Governance's bounds allow a leg margin of 3% (shock 1%, no tail, the smallest charges), under what a
    ///      fill at the band's edge with the largest fee can cost: the reservation is floored at 5.5%.
    function test_aPortfolioReservationCoversTheBandAndTheFee() public {
        vm.prank(admin);
        portfolio.setUnderlying(ETH, "ETH", _tightParams());
        assertEq(portfolio.legMarginBps(ETH_MARKET), 100 + 100 + 50 + 50);
        _deposit(carol, carol, weth, 10e18);
        _portfolioMode(carol, true);
        _open(carol, ETH_MARKET, -10e18, DYDX);
        vm.prank(carol);
        uint256 id = trading.submitOrder(carol, ETH_MARKET, 10e18, 3150e18, block.timestamp + 1 hours, true);
        _commitOne(id, DYDX, 10e18, 3150e18);
        (uint256 reserved,,) = trading.reservation(carol);
        assertEq(reserved, 31_500e6 * 550 / 10_000, "the band's 5% and the 0.5% fee");
    }

    function _tightParams() internal pure returns (IPortfolioMargin.UnderlyingParams memory p) {
        p = _params(100, 100, 3000, 250, 100);
        (p.tailWeightBps, p.netChargeBps, p.hedgedChargeBps, p.basisChargeBps) = (0, 100, 50, 50);
    }

    function test_aHedgeClosesWhereTheAccountCanAffordIt() public {
        _deposit(carol, carol, weth, 10e18);
        _portfolioMode(carol, true);
        _open(carol, ETH_MARKET, -10e18, DYDX);
        vm.prank(carol);
        uint256 id = trading.submitOrder(carol, ETH_MARKET, 10e18, 3150e18, block.timestamp + 1 hours, true);
        _executeOn(id, DYDX, 10e18);
        assertEq(uint8(_status(id)), uint8(ITradingModule.OrderStatus.Executed));
        assertEq(trading.position(carol, ETH_MARKET, DYDX).size, 0);
    }

    /// @dev The bound the commit reserves holds for any book: a leg of notional N (at the mark) raises the rule's
    ///      initial requirement by at most N x legMarginBps, plus a unit of rounding for each scenario's loss, the
    ///      correlation credit and each charge.
    function testFuzz_aLegRaisesTheRequirementByAtMostItsLegMargin(
        uint256 wethTenths,
        uint256 wbtcHundredths,
        int256 ethHeld,
        int256 btcHeld,
        int256 legSize,
        bool legOnBtc,
        bool legAtRabbit
    ) public {
        _deposit(alice, alice, usdc, 5_000_000e6);
        _portfolioMode(alice, true);
        wethTenths = bound(wethTenths, 0, 1000);
        wbtcHundredths = bound(wbtcHundredths, 0, 500);
        if (wethTenths != 0) _deposit(alice, alice, weth, wethTenths * 1e17);
        if (wbtcHundredths != 0) _deposit(alice, alice, wbtc, wbtcHundredths * 1e6);
        ethHeld = bound(ethHeld, -1000, 1000);
        btcHeld = bound(btcHeld, -500, 500);
        if (ethHeld != 0) _open(alice, ETH_MARKET, ethHeld * 1e17, DYDX);
        if (btcHeld != 0) _open(alice, BTC_MARKET, btcHeld * 1e16, RABBIT);

        uint8 market = legOnBtc ? BTC_MARKET : ETH_MARKET;
        int256 unit = legOnBtc ? int256(1e16) : int256(1e17);
        legSize = bound(legSize, -500, 500);
        vm.assume(legSize != 0);
        (uint256 before,) = portfolio.requirements(alice);
        _open(alice, market, legSize * unit, legAtRabbit ? RABBIT : DYDX);
        (uint256 afterLeg,) = portfolio.requirements(alice);

        (, int256 answer,,,) = (legOnBtc ? btcFeed : ethFeed).latestRoundData();
        uint256 notional = uint256(legSize > 0 ? legSize * unit : -legSize * unit) * uint256(answer) / 1e20; // USDC
        uint256 bound_ = notional * portfolio.legMarginBps(market) / 10_000 + 1 + 12;
        assertLe(afterLeg, before + bound_, "a leg raised the requirement past its leg margin");
    }
}

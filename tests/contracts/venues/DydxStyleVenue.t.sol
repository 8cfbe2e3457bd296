// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {VenueFixture} from "../utils/VenueFixture.sol";
import {IDydxStyleVenue} from "../../../contracts/interfaces/venues/IDydxStyleVenue.sol";
import {IVenueErrors} from "../../../contracts/devnet/venues/IVenueErrors.sol";

contract DydxStyleVenueTest is VenueFixture {
    address internal trader = makeAddr("trader");

    function setUp() public {
        _deployVenues();
        usdc.mint(trader, 1_000_000e6);
        vm.prank(trader);
        usdc.approve(address(dydx), type(uint256).max);
    }

    function _sub() internal view returns (IDydxStyleVenue.SubaccountId memory) {
        return IDydxStyleVenue.SubaccountId(trader, 0);
    }

    function _order(uint32 pair, IDydxStyleVenue.Side side, uint64 quantums, uint64 subticks, bool reduceOnly)
        internal
        view
        returns (IDydxStyleVenue.Order memory)
    {
        return IDydxStyleVenue.Order(
            IDydxStyleVenue.OrderId(_sub(), 1, 0, pair),
            side,
            quantums,
            subticks,
            uint32(block.number + 10),
            IDydxStyleVenue.TimeInForce.IOC,
            reduceOnly
        );
    }

    function _fund(uint256 amount) internal {
        vm.prank(trader);
        dydx.depositToSubaccount(_sub(), amount);
    }

    function _place(IDydxStyleVenue.Order memory order) internal returns (uint64 subticks) {
        vm.prank(trader);
        (subticks,) = dydx.placeOrder(order);
    }

    function test_unitsAndFillPrice() public {
        _fund(10_000e6);
        // 1 BTC = 1e10 quantums. Average price: 60,000 x (1 + 1bp spread + 1 / (2 x 2,000) impact) = 60,021.
        uint64 quote = dydx.quoteSubticks(BTC, IDydxStyleVenue.Side.BUY, 1e10);
        assertEq(quote, 60_021 * 1e5, "subticks = price x 10^(atomicResolution - qce + 6) = price x 1e5");
        uint64 filled = _place(_order(BTC, IDydxStyleVenue.Side.BUY, 1e10, 60_100 * 1e5, false));
        assertEq(filled, quote);
        assertEq(dydx.positionQuantums(_sub(), BTC), 1e10);
        (int256 balance,,,) = dydx.subaccountMargin(_sub());
        // 10,000 - 60,021 - 5 bp fee (30.0105, rounded up)
        assertEq(balance, 10_000e6 - 60_021e6 - 30_010_500);
    }

    function test_ethUsesItsOwnResolution() public {
        _fund(10_000e6);
        // 1 ETH = 1e9 quantums; subticks = price x 1e6.
        uint64 quote = dydx.quoteSubticks(ETH, IDydxStyleVenue.Side.SELL, 1e9);
        // 3,000 x (1 - 1.5bp - 1 / (2 x 20,000)) = 2,999.475
        assertEq(quote, 2_999_475_000);
        _place(_order(ETH, IDydxStyleVenue.Side.SELL, 1e9, 2_999_400_000, false));
        assertEq(dydx.positionQuantums(_sub(), ETH), -1e9);
    }

    function test_sizeMustBeOnTheStep() public {
        _fund(10_000e6);
        vm.expectRevert(abi.encodeWithSelector(IVenueErrors.VenueInvalidSize.selector, 1_500_000, 1_000_000));
        _place(_order(BTC, IDydxStyleVenue.Side.BUY, 1_500_000, 61_000 * 1e5, false));
    }

    function test_priceMustBeOnTheTick() public {
        _fund(10_000e6);
        vm.expectRevert(
            abi.encodeWithSelector(IVenueErrors.VenueInvalidPrice.selector, 6_100_000_001, 100_000)
        );
        _place(_order(BTC, IDydxStyleVenue.Side.BUY, 1e8, 6_100_000_001, false));
    }

    function test_limitIsEnforced() public {
        _fund(10_000e6);
        vm.expectRevert();
        _place(_order(BTC, IDydxStyleVenue.Side.BUY, 1e10, 60_000 * 1e5, false));
        assertEq(dydx.positionQuantums(_sub(), BTC), 0);
    }

    function test_expiredAndUnsupportedOrdersAreRefused() public {
        _fund(10_000e6);
        IDydxStyleVenue.Order memory order = _order(BTC, IDydxStyleVenue.Side.BUY, 1e8, 61_000 * 1e5, false);
        order.goodTilBlock = uint32(block.number - 1);
        vm.expectRevert(
            abi.encodeWithSelector(IVenueErrors.VenueOrderExpired.selector, block.number - 1, block.number)
        );
        _place(order);
        order.goodTilBlock = uint32(block.number);
        order.timeInForce = IDydxStyleVenue.TimeInForce.POST_ONLY;
        vm.expectRevert(IVenueErrors.VenueUnsupportedOrder.selector);
        _place(order);
    }

    function test_initialMarginIsEnforced() public {
        _fund(1000e6); // 1 BTC needs 2% x 60,000 = 1,200 plus costs
        vm.expectRevert();
        _place(_order(BTC, IDydxStyleVenue.Side.BUY, 1e10, 61_000 * 1e5, false));
        _fund(400e6);
        _place(_order(BTC, IDydxStyleVenue.Side.BUY, 1e10, 61_000 * 1e5, false));
        (, int256 net, uint256 initial, uint256 maintenance) = dydx.subaccountMargin(_sub());
        assertGe(net, int256(initial));
        assertEq(initial, 1200e6);
        assertEq(maintenance, 720e6, "maintenance is 60% of initial");
    }

    function test_reduceOnlyCannotOpen() public {
        _fund(10_000e6);
        vm.expectRevert(IVenueErrors.VenueReduceOnlyIncreases.selector);
        _place(_order(BTC, IDydxStyleVenue.Side.SELL, 1e8, 50_000 * 1e5, true));
    }

    /// @dev Closing a short to zero is not a flip (0 XOR a negative size is negative): a reduce-only buy closes it.
    function test_reduceOnlyClosesAShortToZero() public {
        _fund(10_000e6);
        _place(_order(BTC, IDydxStyleVenue.Side.SELL, 1e10, 59_000 * 1e5, false));
        _place(_order(BTC, IDydxStyleVenue.Side.BUY, 1e10, 61_000 * 1e5, true));
        assertEq(dydx.positionQuantums(_sub(), BTC), 0);
    }

    function test_realizedPnlAfterAPriceMove() public {
        _fund(10_000e6);
        _place(_order(BTC, IDydxStyleVenue.Side.BUY, 1e10, 61_000 * 1e5, false));
        btcFeed.setAnswer(66_000e8);
        _place(_order(BTC, IDydxStyleVenue.Side.SELL, 1e10, 60_000 * 1e5, true));
        (int256 balance,,,) = dydx.subaccountMargin(_sub());
        // Sold at 66,000 x (1 - 1bp - 2.5bp) = 65,976.9, bought at 60,021; fees 30.0105 + 32.98845
        assertEq(balance, 10_000e6 + 65_976_900_000 - 60_021e6 - 30_010_500 - 32_988_450);
        assertEq(dydx.positionQuantums(_sub(), BTC), 0);
    }

    function test_fundingAccruesIntoTheIndexAndBalance() public {
        _fund(10_000e6);
        _place(_order(BTC, IDydxStyleVenue.Side.BUY, 1e10, 61_000 * 1e5, false));
        (, int256 netBefore,,) = dydx.subaccountMargin(_sub());
        dydx.setFundingRate(BTC, int256(uint256(1e18) / 100 / 1 days)); // longs pay 1% of mark a day
        vm.warp(block.timestamp + 1 days);
        btcFeed.setAnswer(60_000e8);
        assertApproxEqRel(dydx.fundingIndex(BTC), 600e18, 1e12);
        (, int256 netAfter,,) = dydx.subaccountMargin(_sub());
        assertApproxEqAbs(netBefore - netAfter, 600e6, 1e6);
    }

    function test_withdrawalKeepsInitialMargin() public {
        _fund(2000e6);
        _place(_order(BTC, IDydxStyleVenue.Side.BUY, 1e10, 61_000 * 1e5, false));
        vm.expectRevert();
        vm.prank(trader);
        dydx.withdrawFromSubaccount(_sub(), trader, 1000e6);
        vm.prank(trader);
        dydx.withdrawFromSubaccount(_sub(), trader, 100e6);
        assertEq(usdc.balanceOf(trader), 1_000_000e6 - 1900e6);
    }

    function test_onlyTheOwnerTrades() public {
        _fund(10_000e6);
        vm.expectRevert(abi.encodeWithSelector(IVenueErrors.VenueNotAccountOwner.selector, address(this)));
        dydx.placeOrder(_order(BTC, IDydxStyleVenue.Side.BUY, 1e8, 61_000 * 1e5, false));
    }

    function testFuzz_roundTripNeverProfitsAtAConstantMark(uint64 steps) public {
        _fund(100_000e6);
        uint64 quantums = uint64(bound(steps, 1, 500)) * 1_000_000 * 100; // up to 5 BTC
        _place(_order(BTC, IDydxStyleVenue.Side.BUY, quantums, 70_000 * 1e5, false));
        _place(_order(BTC, IDydxStyleVenue.Side.SELL, quantums, 50_000 * 1e5, true));
        (int256 balance,,,) = dydx.subaccountMargin(_sub());
        assertLt(balance, 100_000e6);
    }
}

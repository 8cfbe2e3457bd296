// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

import {AsyncOrderFixture} from "../utils/AsyncOrderFixture.sol";
import {AsyncOrderModule} from "../../../contracts/modules/AsyncOrderModule.sol";
import {PAUSE_TRADE} from "../../../contracts/interfaces/IPrimeVault.sol";
import {IPrimeVaultErrors} from "../../../contracts/interfaces/IPrimeVaultErrors.sol";
import {IPrimeVaultEvents} from "../../../contracts/interfaces/IPrimeVaultEvents.sol";
import {ITradingModule} from "../../../contracts/interfaces/ITradingModule.sol";
import {IVenueAdapter} from "../../../contracts/interfaces/IVenueAdapter.sol";

/// @notice `commitSplit`: an order routed as child orders, one per venue, with their margin reserved.
contract CommitSplitTest is AsyncOrderFixture {
    function setUp() public override {
        super.setUp();
        _deposit(alice, alice, weth, 10e18); // 30,000 of WETH: initial requirement 6,000
    }

    /// @dev A child larger than its order is an invalid split before its size is summed or stored (a size of
    ///      type(uint256).max failed a SafeCast, two of them overflowed the sum); a sell child's limit above MAX_PRICE
    ///      or a deadline past 32 bits is an invalid child (the reservation's product overflowed: Panic 0x11).
    function test_outOfRangeChildrenAreRefusedByName() public {
        uint256 id = _submit(alice, alice, ETH_MARKET, -1e18, 2900e18);
        ITradingModule.ChildSpec[] memory specs = new ITradingModule.ChildSpec[](2);
        specs[0] = _spec(DYDX, type(uint256).max, 2900e18);
        specs[1] = _spec(RABBIT, type(uint256).max, 2900e18);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.InvalidSplit.selector, id));
        _commit(id, specs);

        specs = new ITradingModule.ChildSpec[](1);
        specs[0] = _spec(DYDX, 1e18, type(uint256).max);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.AsyncOrderInvalidChild.selector, id, 0));
        _commit(id, specs);

        // An order good until 2^64 - 1: its child's deadline must still fit 32 bits.
        vm.prank(alice);
        uint256 longLived = trading.submitOrder(alice, ETH_MARKET, -1e18, 2900e18, type(uint64).max, false);
        specs[0] = ITradingModule.ChildSpec(DYDX, 1e18, 2900e18, uint256(type(uint32).max) + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.AsyncOrderInvalidChild.selector, longLived, 0)
        );
        _commit(longLived, specs);
    }

    function test_commitRoutesOneChildPerVenueAndReservesInitialMargin() public {
        uint256 id = _submit(alice, alice, BTC_MARKET, 2e18, 61_000e18);
        uint256 deadline = block.timestamp + 10 minutes;
        vm.expectEmit(address(trading));
        emit IPrimeVaultEvents.ChildCommitted(0, id, DYDX, 1.2e18, 61_000e18, deadline, 7320e6);
        vm.expectEmit(address(trading));
        emit IPrimeVaultEvents.ChildCommitted(1, id, RABBIT, 0.8e18, 60_500e18, deadline, 4840e6);
        vm.expectEmit(address(trading));
        emit IPrimeVaultEvents.OrderRouted(id, alice);
        ITradingModule.ChildSpec[] memory specs = new ITradingModule.ChildSpec[](2);
        specs[0] = _spec(DYDX, 1.2e18, 61_000e18);
        specs[1] = _spec(RABBIT, 0.8e18, 60_500e18);
        assertEq(_commit(id, specs), 0);

        assertEq(uint8(_status(id)), uint8(ITradingModule.OrderStatus.Routed));
        assertEq(trading.childOrderCount(), 2);
        ITradingModule.ChildOrder memory c = trading.childOrder(1);
        assertEq(c.size, 0.8e18);
        assertEq(c.filled, 0);
        assertEq(c.orderId, id);
        assertEq(c.venue, RABBIT);
        assertEq(uint8(c.status), uint8(ITradingModule.ChildStatus.Open));
        assertTrue(c.buy, "the order's direction");
        assertEq(c.limitPrice, 60_500e18);
        assertEq(c.reservation, _reservationAt(0.8e18, 60_500e18));
        assertEq(c.deadline, deadline);
        (uint256 reserved, uint256 open, uint256 liveFrom) = trading.reservation(alice);
        assertEq(reserved, 12_160e6, "ceil(size x limit x 10%) per child of a buy");
        assertEq(open, 2);
        assertEq(liveFrom, 0);
        assertEq(trading.order(id).openChildren, 2, "the order counts its open children");
        // The reservation counts in the initial requirement only.
        assertEq(vault.accountHealth(alice).initialRequirement, 6000e6 + 12_160e6);
        assertEq(vault.accountHealth(alice).maintenanceRequirement, 4500e6);
        assertFalse(vault.isLiquidatable(alice));
        // Nothing moved at the venues.
        assertEq(dydxAdapter.position(BTC_MARKET), 0);
        assertEq(trading.position(alice, BTC_MARKET, DYDX).size, 0);
    }

    function test_aSellReservesAtTheMarkWhenItsLimitIsBelow() public {
        uint256 id = _submit(alice, alice, BTC_MARKET, -1e18, 59_000e18);
        uint256 child = _commitOne(id, DYDX, 1e18, 59_000e18);
        assertEq(_reserved(alice), 6000e6);
        assertFalse(trading.childOrder(child).buy, "a sell's child sells");
    }

    function test_theReservationCannotBeWithdrawn() public {
        _commitOne(_submit(alice, alice, BTC_MARKET, 2e18, 61_000e18), DYDX, 2e18, 61_000e18);
        // Equity 30,000 against 6,000 + 12,200: 5 WETH out would leave 15,000 against 3,000 + 12,200.
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.InsufficientEquity.selector, alice, 15_000e6, 15_200e6)
        );
        vault.withdraw(alice, address(weth), 5e18, alice);
        vm.prank(alice);
        vault.withdraw(alice, address(weth), 4e18, alice);
    }

    function test_theReservationCannotBeReusedByAnotherOrder() public {
        _commitOne(_submit(alice, alice, BTC_MARKET, 2e18, 61_000e18), DYDX, 2e18, 61_000e18);
        // 30,000 - 6,000 - 12,200 = 11,800 left: a second order reserving 12,200 does not fit.
        uint256 second = _submit(alice, alice, BTC_MARKET, 2e18, 61_000e18);
        vm.prank(keeper);
        ITradingModule.ChildSpec[] memory specs = new ITradingModule.ChildSpec[](1);
        specs[0] = _spec(RABBIT, 2e18, 61_000e18);
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.InsufficientEquity.selector, alice, 30_000e6, 30_400e6)
        );
        trading.commitSplit(second, specs);
        assertEq(uint8(_status(second)), uint8(ITradingModule.OrderStatus.Open), "nothing changed");
        assertEq(_reserved(alice), 12_200e6);
    }

    function test_aReduceOnlyOrderReservesNothing() public {
        _holdBtcLong(alice, 1e18);
        vm.prank(alice);
        uint256 id = trading.submitOrder(alice, BTC_MARKET, -1e18, 59_000e18, block.timestamp + 1 hours, true);
        _commitOne(id, DYDX, 1e18, 59_000e18);
        (uint256 reserved, uint256 open,) = trading.reservation(alice);
        assertEq(reserved, 0);
        assertEq(open, 1);
    }

    /// @dev A reduce-only order reserves no margin and its fill's excess over the position goes to the backstop book:
    ///      uncommitted to the position, an account holding 1 wei of WETH made the seat sell 100 BTC onto the
    ///      protocol's book, which paid the venue's fee. Its child must fit the position on the order's other side.
    function test_aReduceOnlyChildMustFitThePosition() public {
        vm.prank(alice);
        uint256 id =
            trading.submitOrder(alice, BTC_MARKET, -100e18, 57_000e18, block.timestamp + 1 hours, true);
        _expectBeyondPosition(id, DYDX, 100e18, 0);
        _holdBtcLong(alice, 1e18);
        _expectBeyondPosition(id, DYDX, 100e18, 1e18);
        vm.prank(alice);
        uint256 buy = trading.submitOrder(alice, BTC_MARKET, 1e18, 61_000e18, block.timestamp + 1 hours, true);
        _expectBeyondPosition(buy, DYDX, 1e18, 0); // the long's own side
        vm.prank(alice);
        uint256 atRabbit =
            trading.submitOrder(alice, BTC_MARKET, -1e18, 59_000e18, block.timestamp + 1 hours, true);
        _expectBeyondPosition(atRabbit, RABBIT, 1e18, 0); // the position is at dYdX
    }

    /// @dev Reduce-only children stack only up to the position: each holds its part until it fills or ends.
    function test_reduceOnlyChildrenHoldThePositionUntilTheyEnd() public {
        _holdBtcLong(alice, 1e18);
        vm.startPrank(alice);
        uint256 first =
            trading.submitOrder(alice, BTC_MARKET, -0.6e18, 59_000e18, block.timestamp + 1 hours, true);
        uint256 second =
            trading.submitOrder(alice, BTC_MARKET, -0.5e18, 59_000e18, block.timestamp + 1 hours, true);
        uint256 third =
            trading.submitOrder(alice, BTC_MARKET, -0.4e18, 59_000e18, block.timestamp + 1 hours, true);
        vm.stopPrank();
        uint256 c1 = _commitOne(first, DYDX, 0.6e18, 59_000e18);
        _expectBeyondPosition(second, DYDX, 0.5e18, 0.4e18);
        uint256 c3 = _commitOne(third, DYDX, 0.4e18, 59_000e18);
        vm.prank(keeper);
        trading.reportFill(c1, _nextFillId(), 60_000e18, 0.2e18, 0); // 0.8 left, 0.4 + 0.4 held
        _expectBeyondPosition(second, DYDX, 0.5e18, 0);
        vm.prank(keeper);
        trading.rejectChild(c1, "venue: no liquidity"); // gives up its other 0.4
        _expectBeyondPosition(second, DYDX, 0.5e18, 0.4e18);
        vm.warp(trading.childOrder(c3).deadline + 1);
        vm.prank(keeper);
        trading.expireChild(c3);
        _commitOne(second, DYDX, 0.5e18, 59_000e18);
    }

    /// @dev A position off the venue's step (the dust a liquidation's exact cut can leave when the venue cannot
    ///      report its step) closes with the step rounded up: the excess is the backstop's at the fill.
    function test_aPositionOffTheStepClosesWithOneStepMore() public {
        uint256 buy = _commitOne(_submit(alice, alice, BTC_MARKET, 2e18, 61_000e18), DYDX, 2e18, 61_000e18);
        vm.prank(keeper);
        trading.reportFill(buy, _nextFillId(), 60_000e18, 1e18 + 7, 0);
        uint256 step = IVenueAdapter(trading.venues()[DYDX]).marketParams(BTC_MARKET).stepSize;
        assertGt(step, 7, "off the step");
        uint256 closing = 1e18 + step;
        vm.prank(alice);
        uint256 id = trading.submitOrder(
            alice, BTC_MARKET, -int256(closing), 59_000e18, block.timestamp + 1 hours, true
        );
        uint256 c = _commitOne(id, DYDX, closing, 59_000e18);
        vm.prank(keeper);
        trading.reportFill(c, _nextFillId(), 60_000e18, closing, 0);
        assertEq(trading.position(alice, BTC_MARKET, DYDX).size, 0, "closed");
        assertEq(trading.backstopPosition(BTC_MARKET, DYDX).size, -int256(step - 7), "the rest of the step");
        vm.prank(alice);
        uint256 more =
            trading.submitOrder(alice, BTC_MARKET, -int256(step), 59_000e18, block.timestamp + 1 hours, true);
        _expectBeyondPosition(more, DYDX, step, 0);
    }

    /// @dev A liquidation cancels every open child: what they held no longer counts.
    function test_aLiquidationReleasesWhatReduceOnlyChildrenHeld() public {
        _holdBtcLong(alice, 2e18);
        vm.prank(alice);
        uint256 id = trading.submitOrder(alice, BTC_MARKET, -2e18, 59_000e18, block.timestamp + 1 hours, true);
        _commitOne(id, DYDX, 2e18, 59_000e18);
        int256 price = 60_000e8;
        while (!vault.isLiquidatable(alice)) {
            price -= 500e8;
            btcFeed.setAnswer(price);
        }
        address[] memory batch = new address[](1);
        batch[0] = alice;
        vm.prank(bob);
        vault.liquidate(batch);
        uint256 left = uint256(int256(trading.position(alice, BTC_MARKET, DYDX).size));
        assertGt(left, 0, "part of the long stays");
        uint256 mark = uint256(price) * 1e10;
        vm.prank(alice);
        uint256 close = trading.submitOrder(
            alice, BTC_MARKET, -int256(left), mark * 96 / 100, block.timestamp + 1 hours, true
        );
        _commitOne(close, DYDX, left, mark * 96 / 100);
    }

    /// @dev A child's limit within the band around the mark (5%): a live fill outside it is refused for the account
    ///      and goes to the backstop once the child is rejected, so a sell at any price the user names (a limit of
    ///      1 wei) let the venue fill 20,000 below the mark at the protocol's cost. A child may be tighter than its
    ///      order, so the executor caps it at the band.
    function test_aChildLimitPastTheBandIsRefused() public {
        uint256 sell = _submit(alice, alice, BTC_MARKET, -1e18, 1);
        ITradingModule.ChildSpec[] memory specs = new ITradingModule.ChildSpec[](1);
        specs[0] = _spec(DYDX, 1e18, 57_000e18 - 1);
        vm.prank(keeper);
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.PriceOutsideBand.selector, 57_000e18 - 1, 60_000e18, 500)
        );
        trading.commitSplit(sell, specs);
        _commitOne(sell, DYDX, 1e18, 57_000e18);

        uint256 buy = _submit(alice, alice, BTC_MARKET, 0.1e18, 70_000e18);
        specs[0] = _spec(DYDX, 0.1e18, 63_000e18 + 1);
        vm.prank(keeper);
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.PriceOutsideBand.selector, 63_000e18 + 1, 60_000e18, 500)
        );
        trading.commitSplit(buy, specs);
        _commitOne(buy, DYDX, 0.1e18, 63_000e18);
    }

    /// @dev Orders and children live in mappings: an id not issued yet reads as empty and is refused by name,
    ///      the next one to be issued included.
    function test_idsNotYetIssuedAreRefused() public {
        uint256 next = trading.orderCount();
        ITradingModule.ChildSpec[] memory specs = new ITradingModule.ChildSpec[](1);
        specs[0] = _spec(DYDX, 1e18, 61_000e18);
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.OrderNotOpen.selector, next));
        trading.commitSplit(next, specs);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.OrderNotOpen.selector, next));
        trading.cancelOrder(next);
        assertEq(uint8(trading.order(next).status), uint8(ITradingModule.OrderStatus.None));

        uint256 nextChild = trading.childOrderCount();
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.AsyncOrderUnknownChild.selector, nextChild));
        trading.reportFill(nextChild, keccak256("fill"), 60_000e18, 1e18, 0);
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.AsyncOrderUnknownChild.selector, nextChild));
        trading.rejectChild(nextChild, "");
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.AsyncOrderUnknownChild.selector, nextChild));
        trading.expireChild(nextChild);

        // Issuing them moves the counts by one each.
        uint256 id = _submit(alice, alice, BTC_MARKET, 1e18, 61_000e18);
        assertEq(id, next);
        assertEq(_commitOne(id, DYDX, 1e18, 61_000e18), nextChild);
        assertEq(trading.orderCount(), next + 1);
        assertEq(trading.childOrderCount(), nextChild + 1);
    }

    function test_aRoutedOrderCannotBeCancelledOrRoutedAgain() public {
        uint256 id = _submit(alice, alice, BTC_MARKET, 1e18, 61_000e18);
        _commitOne(id, DYDX, 1e18, 61_000e18);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.OrderNotOpen.selector, id));
        trading.cancelOrder(id);
        ITradingModule.ChildSpec[] memory specs = new ITradingModule.ChildSpec[](1);
        specs[0] = _spec(RABBIT, 1e18, 61_000e18);
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.OrderNotOpen.selector, id));
        trading.commitSplit(id, specs);
        // Nor executed synchronously.
        _executeOn(id, DYDX, 1e18);
        assertEq(uint8(_status(id)), uint8(ITradingModule.OrderStatus.Routed));
    }

    function test_revertsForAnyoneButTheExecutor() public {
        uint256 id = _submit(alice, alice, BTC_MARKET, 1e18, 61_000e18);
        ITradingModule.ChildSpec[] memory specs = new ITradingModule.ChildSpec[](1);
        specs[0] = _spec(DYDX, 1e18, 61_000e18);
        bytes32 role = trading.EXECUTOR_ROLE();
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, alice, role)
        );
        trading.commitSplit(id, specs);
    }

    function test_revertsWhileTradingIsPaused() public {
        uint256 id = _submit(alice, alice, BTC_MARKET, 1e18, 61_000e18);
        vm.prank(guardian);
        vault.setPaused(PAUSE_TRADE);
        ITradingModule.ChildSpec[] memory specs = new ITradingModule.ChildSpec[](1);
        specs[0] = _spec(DYDX, 1e18, 61_000e18);
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.Paused.selector, PAUSE_TRADE));
        trading.commitSplit(id, specs);
    }

    function test_revertsOnAnExpiredOrARevokedOrder() public {
        uint256 id = _submit(alice, alice, BTC_MARKET, 1e18, 61_000e18);
        ITradingModule.ChildSpec[] memory specs = new ITradingModule.ChildSpec[](1);
        specs[0] = _spec(DYDX, 1e18, 61_000e18);
        vm.prank(alice);
        trading.cancelAllOrders(alice);
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.OrderAuthorityRevoked.selector, id));
        trading.commitSplit(id, specs);

        uint256 late = _submit(alice, alice, BTC_MARKET, 1e18, 61_000e18);
        uint256 deadline = block.timestamp + 1 hours;
        vm.warp(deadline + 1);
        btcFeed.setAnswer(BTC_PRICE);
        specs[0] = _spec(DYDX, 1e18, 61_000e18);
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.OrderExpired.selector, late, deadline));
        trading.commitSplit(late, specs);
    }

    function test_revertsOnAnInvalidSplit() public {
        uint256 id = _submit(alice, alice, BTC_MARKET, 1e18, 61_000e18);
        ITradingModule.ChildSpec[] memory none = new ITradingModule.ChildSpec[](0);
        _expectInvalidSplit(id, none);
        ITradingModule.ChildSpec[] memory two = new ITradingModule.ChildSpec[](2);
        (two[0], two[1]) = (_spec(DYDX, 0.5e18, 61_000e18), _spec(DYDX, 0.5e18, 61_000e18));
        _expectInvalidSplit(id, two); // one venue twice
        (two[0], two[1]) = (_spec(DYDX, 0.5e18, 61_000e18), _spec(RABBIT, 0.4e18, 61_000e18));
        _expectInvalidSplit(id, two); // short of the order's size
        (two[0], two[1]) = (_spec(DYDX, 1e18, 61_000e18), _spec(RABBIT, 0, 61_000e18));
        _expectInvalidSplit(id, two); // a zero part
        (two[0], two[1]) = (_spec(DYDX, 0.5e18, 61_000e18), _spec(3, 0.5e18, 61_000e18));
        _expectInvalidSplit(id, two); // an unknown venue
        ITradingModule.ChildSpec[] memory five = new ITradingModule.ChildSpec[](5);
        _expectInvalidSplit(id, five);
    }

    function test_revertsOnAChildOutsideItsOrder() public {
        uint256 id = _submit(alice, alice, BTC_MARKET, 1e18, 61_000e18);
        ITradingModule.ChildSpec[] memory specs = new ITradingModule.ChildSpec[](2);
        (specs[0], specs[1]) = (_spec(DYDX, 0.5e18, 61_000e18), _spec(RABBIT, 0.5e18, 61_000e18 + 1));
        _expectInvalidChild(id, specs, 1); // a limit worse than the order's
        specs[1] = _spec(RABBIT, 0.5e18, 61_000e18);
        specs[1].deadline = block.timestamp;
        _expectInvalidChild(id, specs, 1); // no time to fill
        specs[1].deadline = block.timestamp + 1 hours + 1;
        _expectInvalidChild(id, specs, 1); // after the order's deadline
        specs[1].deadline = block.timestamp + 1 hours;
        specs[0].limitPrice = 0;
        _expectInvalidChild(id, specs, 0);
    }

    function test_theModuleRefusesADirectCall() public {
        AsyncOrderModule module = AsyncOrderModule(trading.asyncOrderModule());
        vm.expectRevert(IPrimeVaultErrors.AsyncOrderModuleDirectCall.selector);
        module.commitSplit(0, new ITradingModule.ChildSpec[](0));
        vm.expectRevert(IPrimeVaultErrors.AsyncOrderModuleDirectCall.selector);
        module.reportFill(0, bytes32(0), 0, 0, 0);
        vm.expectRevert(IPrimeVaultErrors.AsyncOrderModuleDirectCall.selector);
        module.expireChild(0);
        vm.expectRevert(IPrimeVaultErrors.AsyncOrderModuleDirectCall.selector);
        module.unwindBackstop(0, 0, 1, 1);
    }

    /// @dev A child's limit may be as good as or better than its order's (lower for a buy), never worse.
    function testFuzz_childLimitWithinTheOrdersLimit(uint256 limit, bool buy) public {
        uint256 orderLimit = buy ? 61_000e18 : 59_000e18;
        limit = bound(limit, 1, 120_000e18);
        uint256 id = _submit(alice, alice, BTC_MARKET, buy ? int256(0.1e18) : -0.1e18, orderLimit);
        ITradingModule.ChildSpec[] memory specs = new ITradingModule.ChildSpec[](1);
        specs[0] = _spec(DYDX, 0.1e18, limit);
        if (buy ? limit > orderLimit : limit < orderLimit) {
            _expectInvalidChild(id, specs, 0);
        } else {
            _commit(id, specs);
            // A buy reserves at its limit, a sell at the higher of its limit and the mark.
            uint256 price = buy ? limit : (limit > 60_000e18 ? limit : 60_000e18);
            assertEq(_reserved(alice), _reservationAt(0.1e18, price));
        }
    }

    /// @dev Any split of the order's size across both venues reserves the sum of its children's reservations.
    function testFuzz_splitReservesTheSumOfItsChildren(uint256 steps, uint256 dydxSteps) public {
        steps = bound(steps, 2, 100);
        dydxSteps = bound(dydxSteps, 1, steps - 1);
        uint256 size = steps * 1e15;
        uint256 id = _submit(alice, alice, BTC_MARKET, int256(size), 61_000e18);
        uint256 first = _commitTwo(id, dydxSteps * 1e15, size - dydxSteps * 1e15, 61_000e18);
        uint256 sum = trading.childOrder(first).reservation + trading.childOrder(first + 1).reservation;
        assertEq(_reserved(alice), sum);
        assertEq(
            sum,
            _reservationAt(dydxSteps * 1e15, 61_000e18) + _reservationAt(size - dydxSteps * 1e15, 61_000e18)
        );
    }

    function _expectBeyondPosition(uint256 id, uint8 venue, uint256 size, uint256 available) internal {
        ITradingModule.ChildSpec[] memory specs = new ITradingModule.ChildSpec[](1);
        specs[0] = _spec(venue, size, trading.order(id).size > 0 ? 61_000e18 : 59_000e18);
        vm.prank(keeper);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPrimeVaultErrors.AsyncOrderReduceOnlyBeyondPosition.selector, id, venue, size, available
            )
        );
        trading.commitSplit(id, specs);
    }

    function _expectInvalidSplit(uint256 id, ITradingModule.ChildSpec[] memory specs) internal {
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.InvalidSplit.selector, id));
        trading.commitSplit(id, specs);
    }

    function _expectInvalidChild(uint256 id, ITradingModule.ChildSpec[] memory specs, uint256 index)
        internal
    {
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.AsyncOrderInvalidChild.selector, id, index));
        trading.commitSplit(id, specs);
    }
}

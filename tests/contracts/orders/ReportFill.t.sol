// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

import {AsyncOrderFixture} from "../utils/AsyncOrderFixture.sol";
import {IPrimeVault, PAUSE_TRADE} from "../../../contracts/interfaces/IPrimeVault.sol";
import {IPrimeVaultErrors} from "../../../contracts/interfaces/IPrimeVaultErrors.sol";
import {IPrimeVaultEvents} from "../../../contracts/interfaces/IPrimeVaultEvents.sol";
import {ITradingModule} from "../../../contracts/interfaces/ITradingModule.sol";

/// @notice `reportFill` / `reportFills`: venue fills booked on the account, bounded on chain.
contract ReportFillTest is AsyncOrderFixture {
    uint256 internal orderId;
    uint256 internal child; // 2 BTC at dYdX, limit 61,000

    function setUp() public override {
        super.setUp();
        _deposit(alice, alice, weth, 10e18);
        orderId = _submit(alice, alice, BTC_MARKET, 2e18, 61_000e18);
        child = _commitOne(orderId, DYDX, 2e18, 61_000e18);
    }

    function test_aFillBooksAsASynchronousFillDoes() public {
        int256 balanceBefore = vault.baseBalanceOf(alice);
        (uint256 price, uint256 fee) = _venueTrade(child, 1e18);
        bytes32 fillId = _nextFillId();
        vm.expectEmit(address(trading));
        emit IPrimeVaultEvents.ChildFilled(child, orderId, fillId, 1e18, price, fee, 6100e6);
        vm.prank(keeper);
        trading.reportFill(child, fillId, price, 1e18, fee);

        ITradingModule.Position memory p = trading.position(alice, BTC_MARKET, DYDX);
        assertEq(p.size, 1e18);
        assertEq(p.entryPrice, price);
        assertEq(p.fundingIndex, dydxAdapter.fundingIndex(BTC_MARKET));
        assertEq(vault.baseBalanceOf(alice), balanceBefore - int256(fee), "the fee is booked");
        assertGt(fee, 0);
        // The books and the venue agree.
        assertEq(trading.netPosition(BTC_MARKET, DYDX), 1e18);
        assertEq(dydxAdapter.position(BTC_MARKET), 1e18);
        // Half the reservation is released; the position's own initial margin replaces it.
        ITradingModule.ChildOrder memory c = trading.childOrder(child);
        assertEq(c.filled, 1e18);
        assertEq(uint8(c.status), uint8(ITradingModule.ChildStatus.Open));
        assertEq(_reserved(alice), 6100e6);
        assertTrue(trading.fillIdUsed(fillId));
    }

    function test_theLastFillFinishesTheChildAndTheOrder() public {
        _fill(child, 0.7e18);
        (uint256 price, uint256 fee) = _venueTrade(child, 1.3e18);
        bytes32 fillId = _nextFillId();
        vm.expectEmit(address(trading));
        emit IPrimeVaultEvents.OrderDone(orderId, alice);
        vm.prank(keeper);
        trading.reportFill(child, fillId, price, 1.3e18, fee);
        assertEq(uint8(_childStatus(child)), uint8(ITradingModule.ChildStatus.Filled));
        assertEq(uint8(_status(orderId)), uint8(ITradingModule.OrderStatus.Executed));
        (uint256 reserved, uint256 open,) = trading.reservation(alice);
        assertEq(reserved, 0, "every unit of the reservation released");
        assertEq(open, 0);
        assertEq(trading.position(alice, BTC_MARKET, DYDX).size, 2e18);
    }

    function test_aFillIdIsBookedOnceEver() public {
        (bytes32 fillId, uint256 price, uint256 fee) = _fill(child, 0.5e18);
        // The same report again (a reorg replayed it, or the keeper restarted before it saw the receipt).
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.AsyncOrderFillIdUsed.selector, fillId));
        trading.reportFill(child, fillId, price, 0.5e18, fee);
        // Nor under another child.
        uint256 other =
            _commitOne(_submit(alice, alice, BTC_MARKET, 0.5e18, 61_000e18), RABBIT, 0.5e18, 61_000e18);
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.AsyncOrderFillIdUsed.selector, fillId));
        trading.reportFill(other, fillId, price, 0.5e18, fee);
        assertEq(trading.position(alice, BTC_MARKET, DYDX).size, 0.5e18, "booked once");
    }

    /// @dev After a restart the keeper resends everything it has not seen confirmed: booked fills are skipped.
    function test_aResentBatchBooksOnlyWhatWasNotBooked() public {
        (bytes32 first, uint256 p1, uint256 f1) = _fill(child, 0.5e18);
        (uint256 p2, uint256 f2) = _venueTrade(child, 0.25e18);
        bytes32 second = _nextFillId();
        ITradingModule.FillReport[] memory batch = new ITradingModule.FillReport[](2);
        batch[0] = ITradingModule.FillReport(child, first, p1, 0.5e18, f1);
        batch[1] = ITradingModule.FillReport(child, second, p2, 0.25e18, f2);
        vm.expectEmit(address(trading));
        emit IPrimeVaultEvents.FillSkipped(child, first);
        vm.prank(keeper);
        assertEq(trading.reportFills(batch), 1);
        assertEq(trading.position(alice, BTC_MARKET, DYDX).size, 0.75e18);
        // And the whole batch again books nothing.
        vm.prank(keeper);
        assertEq(trading.reportFills(batch), 0);
        assertEq(trading.position(alice, BTC_MARKET, DYDX).size, 0.75e18);
        assertEq(trading.childOrder(child).filled, 0.75e18);
        assertEq(dydxAdapter.position(BTC_MARKET), 0.75e18);
    }

    function test_revertsPastTheChildsSize() public {
        _fill(child, 1.5e18);
        vm.prank(keeper);
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.AsyncOrderOverfill.selector, child, 2.1e18, 2e18)
        );
        trading.reportFill(child, _nextFillId(), 60_000e18, 0.6e18, 0);
        vm.prank(keeper);
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.AsyncOrderOverfill.selector, child, 1.5e18, 2e18)
        );
        trading.reportFill(child, _nextFillId(), 60_000e18, 0, 0);
    }

    /// @dev A size that would overflow the child's filled size is an overfill like any other (it used to be Panic
    ///      0x11 once the child had a fill).
    function test_aSizePastAnyChildIsAnOverfill() public {
        _fill(child, 1.5e18);
        vm.prank(keeper);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPrimeVaultErrors.AsyncOrderOverfill.selector, child, type(uint256).max, 2e18
            )
        );
        trading.reportFill(child, _nextFillId(), 60_000e18, type(uint256).max, 0);
    }

    function test_revertsOutsideTheLimitOrTheOracleBand() public {
        vm.prank(keeper);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPrimeVaultErrors.AsyncOrderFillOutsideLimit.selector, 61_001e18, 61_000e18
            )
        );
        trading.reportFill(child, _nextFillId(), 61_001e18, 1e18, 0);
        // Within the limit but more than 5% below the mark: the executor cannot book a price off the oracle.
        vm.prank(keeper);
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.PriceOutsideBand.selector, 56_999e18, 60_000e18, 500)
        );
        trading.reportFill(child, _nextFillId(), 56_999e18, 1e18, 0);
    }

    /// @dev A reduce-only child's commit holds the position for it, but the account's own order can close part of it
    ///      before the venue fills the child: the fill is the account's, as an order's is (it flips the slot), never
    ///      the protocol's. On the backstop book, an account holding a position could move all of it there at every
    ///      round: an ordinary sell and a reduce-only sell of the whole long, both filled, closed the long and gave
    ///      the backstop the short.
    function test_aReduceOnlyFillPastAPositionTheAccountReducedMeanwhileIsTheAccounts() public {
        vm.prank(keeper);
        trading.reportFill(child, _nextFillId(), 60_000e18, 1.5e18, 0); // alice: 1.5 BTC long at dYdX
        vm.prank(alice);
        uint256 id =
            trading.submitOrder(alice, BTC_MARKET, -1.5e18, 59_000e18, block.timestamp + 1 hours, true);
        uint256 c = _commitOne(id, DYDX, 1.5e18, 59_000e18);
        uint256 sell = _commitOne(_submit(alice, alice, BTC_MARKET, -1e18, 59_000e18), DYDX, 1e18, 59_000e18);
        vm.prank(keeper);
        trading.reportFill(sell, _nextFillId(), 60_000e18, 1e18, 0); // filled first: 0.5 BTC left
        int256 balance = vault.baseBalanceOf(alice);
        bytes32 fillId = _nextFillId();
        vm.expectEmit(address(trading));
        emit IPrimeVaultEvents.ChildFilled(c, id, fillId, -1.5e18, 60_000e18, 90e6, 0);
        vm.prank(keeper);
        trading.reportFill(c, fillId, 60_000e18, 1.5e18, 90e6);
        assertEq(trading.position(alice, BTC_MARKET, DYDX).size, -1e18, "the account's own short");
        assertEq(trading.backstopPosition(BTC_MARKET, DYDX).size, 0, "nothing on the protocol's book");
        assertEq(vault.baseBalanceOf(alice), balance - 90e6, "the whole fee");
        assertEq(uint8(_childStatus(c)), uint8(ITradingModule.ChildStatus.Filled));
        assertEq(
            trading.netPosition(BTC_MARKET, DYDX), 1.5e18 - 1e18 - 1.5e18, "the venue's net is the books'"
        );
    }

    /// @dev The same with the position closed by a synchronous reduce-only order (executed at once).
    function test_aSynchronousCloseLeavesTheHeldReduceOnlyFillToTheAccount() public {
        address carol = makeAddr("carol");
        _deposit(carol, carol, weth, 10e18);
        _holdBtcLong(carol, 1e18);
        vm.prank(carol);
        uint256 id = trading.submitOrder(carol, BTC_MARKET, -1e18, 59_000e18, block.timestamp + 1 hours, true);
        uint256 c = _commitOne(id, DYDX, 1e18, 59_000e18);
        vm.prank(carol);
        uint256 now_ =
            trading.submitOrder(carol, BTC_MARKET, -1e18, 59_000e18, block.timestamp + 1 hours, true);
        _executeOn(now_, DYDX, 1e18);
        _fill(c, 1e18);
        assertEq(trading.position(carol, BTC_MARKET, DYDX).size, -1e18, "the account's own short");
        assertEq(trading.backstopPosition(BTC_MARKET, DYDX).size, 0, "nothing on the protocol's book");
    }

    function test_aFeeAboveTheCapIsRefused() public {
        // 0.5% of 1 BTC at 60,000 is 300 USDC: the cap passes, a unit more does not.
        vm.prank(keeper);
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.AsyncOrderFeeTooHigh.selector, 300e6 + 1, 300e6)
        );
        trading.reportFill(child, _nextFillId(), 60_000e18, 1e18, 300e6 + 1);
        int256 balanceBefore = vault.baseBalanceOf(alice);
        vm.prank(keeper);
        trading.reportFill(child, _nextFillId(), 60_000e18, 1e18, 300e6);
        assertEq(vault.baseBalanceOf(alice), balanceBefore - 300e6);
    }

    function test_aFillWhoseFeeItsAccountCannotBeChargedGoesToTheBackstopAfterRejection() public {
        // As the keeper does with any fill its account refuses: reject the child, report the fill again. The
        // backstop takes the position; the fee stays the venue account's, never an account's.
        bytes32 fillId = _nextFillId();
        vm.prank(keeper);
        vm.expectPartialRevert(IPrimeVaultErrors.AsyncOrderFeeTooHigh.selector);
        trading.reportFill(child, fillId, 60_000e18, 1e18, 1000e6);
        int256 balanceBefore = vault.baseBalanceOf(alice);
        vm.prank(keeper);
        trading.rejectChild(child, "fee above the cap");
        vm.prank(keeper);
        trading.reportFill(child, fillId, 60_000e18, 1e18, 1000e6);
        assertEq(trading.backstopPosition(BTC_MARKET, DYDX).size, 1e18);
        assertEq(trading.position(alice, BTC_MARKET, DYDX).size, 0);
        assertEq(vault.baseBalanceOf(alice), balanceBefore, "the account pays nothing");
    }

    function test_theFeeCapRoundsUp() public {
        // 0.5% of 0.000001 BTC at 60,000.01 is 0.00030000005 USDC: the cap is 0.000301, never 0.0003.
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.AsyncOrderFeeTooHigh.selector, 302, 301));
        trading.reportFill(child, _nextFillId(), 60_000.01e18, 1e12, 302);
        vm.prank(keeper);
        trading.reportFill(child, _nextFillId(), 60_000.01e18, 1e12, 301);
    }

    function test_aFillIsBookedEvenIfItLeavesTheAccountBelowInitial() public {
        // WETH falls from 3,000 to 1,700 after the commit: the account no longer meets the initial requirement
        // of the position it ordered, but the venue has filled it, so the fill is the account's, which may then
        // only reduce (it is still above maintenance).
        _setEthPrice(1700e8);
        vm.prank(keeper);
        trading.reportFill(child, _nextFillId(), 61_000e18, 2e18, 61e6);
        assertEq(trading.position(alice, BTC_MARKET, DYDX).size, 2e18, "the account holds the fill");
        assertEq(trading.netPosition(BTC_MARKET, DYDX), 2e18);
        assertEq(_reserved(alice), 0, "the fill took the whole reservation");
        IPrimeVault.AccountHealth memory h = vault.accountHealth(alice);
        assertLt(h.equity, int256(h.initialRequirement), "below initial");
        assertFalse(h.liquidatable);
        uint256 more = _submit(alice, alice, BTC_MARKET, 0.1e18, 61_000e18);
        ITradingModule.ChildSpec[] memory specs = new ITradingModule.ChildSpec[](1);
        specs[0] = _spec(DYDX, 0.1e18, 61_000e18);
        vm.prank(keeper);
        vm.expectPartialRevert(IPrimeVaultErrors.InsufficientEquity.selector);
        trading.commitSplit(more, specs);
    }

    function test_revertsForAnyoneButTheExecutorAndOnAnUnknownChild() public {
        bytes32 role = trading.EXECUTOR_ROLE();
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, alice, role)
        );
        trading.reportFill(child, _nextFillId(), 60_000e18, 1e18, 0);
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.AsyncOrderUnknownChild.selector, 7));
        trading.reportFill(7, _nextFillId(), 60_000e18, 1e18, 0);
    }

    function test_fillsAreBookedWhileTradingIsPaused() public {
        vm.prank(guardian);
        vault.setPaused(PAUSE_TRADE);
        _fill(child, 1e18);
        assertEq(trading.position(alice, BTC_MARKET, DYDX).size, 1e18);
    }

    /// @dev Bounds: a fill books if and only if its price is within the limit and the band, and its size fits.
    function testFuzz_fillBounds(uint256 price, uint256 size) public {
        price = bound(price, 54_000e18, 66_000e18);
        size = bound(size, 1, 2.5e18);
        bytes32 fillId = _nextFillId();
        vm.prank(keeper);
        if (size > 2e18) {
            vm.expectRevert(
                abi.encodeWithSelector(IPrimeVaultErrors.AsyncOrderOverfill.selector, child, size, 2e18)
            );
        } else if (price > 61_000e18) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IPrimeVaultErrors.AsyncOrderFillOutsideLimit.selector, price, 61_000e18
                )
            );
        } else if (price < 57_000e18) {
            vm.expectRevert(
                abi.encodeWithSelector(IPrimeVaultErrors.PriceOutsideBand.selector, price, 60_000e18, 500)
            );
        }
        trading.reportFill(child, fillId, price, size, 0);
        bool booked = size <= 2e18 && price <= 61_000e18 && price >= 57_000e18;
        assertEq(trading.position(alice, BTC_MARKET, DYDX).size, booked ? int256(size) : int256(0));
        assertEq(trading.fillIdUsed(fillId), booked);
    }

    /// @dev However a child is filled in parts, the releases add up to its reservation exactly, and what is
    ///      still reserved is ceil(reservation x unfilled / size).
    function testFuzz_partialFillsReleaseInProportion(uint256 first, uint256 second) public {
        first = bound(first, 1, 2e18 - 1);
        second = bound(second, 1, 2e18 - first);
        uint256 reservation = trading.childOrder(child).reservation;
        vm.startPrank(keeper);
        trading.reportFill(child, _nextFillId(), 60_000e18, first, 0);
        uint256 left = 2e18 - first;
        assertEq(_reserved(alice), (reservation * left + 2e18 - 1) / 2e18);
        trading.reportFill(child, _nextFillId(), 60_000e18, second, 0);
        left -= second;
        assertEq(_reserved(alice), (reservation * left + 2e18 - 1) / 2e18);
        if (left > 0) trading.reportFill(child, _nextFillId(), 60_000e18, left, 0);
        vm.stopPrank();
        assertEq(_reserved(alice), 0);
        assertEq(uint8(_childStatus(child)), uint8(ITradingModule.ChildStatus.Filled));
    }
}

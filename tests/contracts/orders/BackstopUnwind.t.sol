// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

import {AsyncOrderFixture} from "../utils/AsyncOrderFixture.sol";
import {IPrimeVaultErrors} from "../../../contracts/interfaces/IPrimeVaultErrors.sol";
import {IPrimeVaultEvents} from "../../../contracts/interfaces/IPrimeVaultEvents.sol";
import {ITradingModule} from "../../../contracts/interfaces/ITradingModule.sol";

/// @notice `commitBackstopUnwind`: the backstop book closed at a venue that fills off chain, through a child
///         whose fills book to the backstop, bounded like any fill.
contract BackstopUnwindTest is AsyncOrderFixture {
    uint256 internal constant MARK = 60_000e18;

    function setUp() public override {
        super.setUp();
        _deposit(alice, alice, weth, 10e18);
        // A late fill leaves the backstop 1 BTC long at dYdX.
        uint256 child = _commitOne(_submit(alice, alice, BTC_MARKET, 1e18, 61_000e18), DYDX, 1e18, 61_000e18);
        vm.prank(keeper);
        trading.rejectChild(child, "venue busy");
        _fill(child, 1e18);
        assertEq(trading.backstopPosition(BTC_MARKET, DYDX).size, 1e18);
    }

    function _commitUnwind(uint256 size, uint256 limit) internal returns (uint256) {
        vm.prank(keeper);
        return trading.commitBackstopUnwind(BTC_MARKET, DYDX, size, limit, block.timestamp + 5 minutes);
    }

    function test_anUnwindChildClosesTheBackstopAsItsFillsAreReported() public {
        uint256 orders = trading.orderCount();
        vm.expectEmit(address(trading));
        emit IPrimeVaultEvents.BackstopUnwindCommitted(
            1, BTC_MARKET, DYDX, -0.6e18, 59_000e18, block.timestamp + 5 minutes
        );
        uint256 unwind = _commitUnwind(0.6e18, 59_000e18);
        assertEq(unwind, 1);
        ITradingModule.Order memory o = trading.order(orders);
        assertEq(o.account, address(trading), "the module's own order");
        assertEq(o.size, -0.6e18);
        assertEq(uint8(o.status), uint8(ITradingModule.OrderStatus.Executed), "never open to execution");
        assertEq(uint8(_childStatus(unwind)), uint8(ITradingModule.ChildStatus.Cancelled));

        _fill(unwind, 0.4e18);
        _fill(unwind, 0.2e18);
        assertEq(trading.backstopPosition(BTC_MARKET, DYDX).size, 0.4e18);
        assertEq(
            trading.netPosition(BTC_MARKET, DYDX), dydxAdapter.position(BTC_MARKET), "books match the venue"
        );
        assertEq(trading.childOrder(unwind).filled, 0.6e18);
    }

    /// @dev A short book is bought back: its child buys (`ChildOrder.buy`), a fill above the child's limit is
    ///      refused, and its fills, batched with an account's fill in the same slot, shrink the book.
    function test_aShortBooksUnwindChildBuysItBack() public {
        uint256 short =
            _commitOne(_submit(alice, alice, BTC_MARKET, -1e18, 59_000e18), RABBIT, 1e18, 59_000e18);
        vm.prank(keeper);
        trading.rejectChild(short, "venue busy");
        _fill(short, 1e18);
        assertEq(trading.backstopPosition(BTC_MARKET, RABBIT).size, -1e18);

        vm.prank(keeper);
        uint256 unwind =
            trading.commitBackstopUnwind(BTC_MARKET, RABBIT, 0.6e18, 61_000e18, block.timestamp + 5 minutes);
        assertTrue(trading.childOrder(unwind).buy, "a short book is bought back");
        vm.prank(keeper);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPrimeVaultErrors.AsyncOrderFillOutsideLimit.selector, 61_001e18, 61_000e18
            )
        );
        trading.reportFill(unwind, _nextFillId(), 61_001e18, 0.6e18, 0);

        uint256 live =
            _commitOne(_submit(alice, alice, BTC_MARKET, 0.5e18, 61_000e18), RABBIT, 0.5e18, 61_000e18);
        ITradingModule.FillReport[] memory batch = new ITradingModule.FillReport[](3);
        (uint256 p1, uint256 f1) = _venueTrade(unwind, 0.4e18);
        batch[0] = ITradingModule.FillReport(unwind, _nextFillId(), p1, 0.4e18, f1);
        (uint256 p2, uint256 f2) = _venueTrade(live, 0.5e18);
        batch[1] = ITradingModule.FillReport(live, _nextFillId(), p2, 0.5e18, f2);
        (uint256 p3, uint256 f3) = _venueTrade(unwind, 0.2e18);
        batch[2] = ITradingModule.FillReport(unwind, _nextFillId(), p3, 0.2e18, f3);
        vm.prank(keeper);
        assertEq(trading.reportFills(batch), 3);
        assertEq(trading.backstopPosition(BTC_MARKET, RABBIT).size, -0.4e18, "the book shrinks");
        assertEq(trading.position(alice, BTC_MARKET, RABBIT).size, 0.5e18, "the account's fill is its own");
        assertEq(
            trading.netPosition(BTC_MARKET, RABBIT),
            rabbitAdapter.position(BTC_MARKET),
            "books match the venue"
        );
        ITradingModule.Order memory o = trading.order(trading.childOrder(unwind).orderId);
        assertEq(uint8(o.status), uint8(ITradingModule.OrderStatus.Executed), "born done, and stays so");
        assertEq(o.openChildren, 0);
    }

    function test_anUnwindFillsAtMostItsSize() public {
        uint256 unwind = _commitUnwind(0.5e18, 59_000e18);
        _fill(unwind, 0.5e18);
        (uint256 price, uint256 fee) = _venueTrade(unwind, 0.1e18);
        bytes32 fillId = _nextFillId();
        vm.prank(keeper);
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.AsyncOrderOverfill.selector, unwind, 0.6e18, 0.5e18)
        );
        trading.reportFill(unwind, fillId, price, 0.1e18, fee);
    }

    function test_anUnwindFillBelowItsLimitIsRefused() public {
        uint256 unwind = _commitUnwind(0.5e18, 59_900e18);
        vm.prank(keeper);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPrimeVaultErrors.AsyncOrderFillOutsideLimit.selector, 59_800e18, 59_900e18
            )
        );
        trading.reportFill(unwind, _nextFillId(), 59_800e18, 0.5e18, 0);
    }

    function test_anUnwindIsBoundedByTheBookAndTheBand() public {
        vm.startPrank(keeper);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPrimeVaultErrors.BackstopTooSmall.selector, BTC_MARKET, DYDX, 1.1e18, 1e18
            )
        );
        trading.commitBackstopUnwind(BTC_MARKET, DYDX, 1.1e18, 59_000e18, block.timestamp + 5 minutes);
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.BackstopTooSmall.selector, BTC_MARKET, RABBIT, 1e18, 0)
        );
        trading.commitBackstopUnwind(BTC_MARKET, RABBIT, 1e18, 59_000e18, block.timestamp + 5 minutes);
        // Selling the long book: the limit may not sit below the mark less the band.
        uint256 floor = MARK * (10_000 - trading.backstopPriceBandBps()) / 10_000;
        vm.expectRevert(
            abi.encodeWithSelector(
                IPrimeVaultErrors.PriceOutsideBand.selector, floor - 1, MARK, trading.backstopPriceBandBps()
            )
        );
        trading.commitBackstopUnwind(BTC_MARKET, DYDX, 1e18, floor - 1, block.timestamp + 5 minutes);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPrimeVaultErrors.OrderExpired.selector, trading.orderCount(), block.timestamp
            )
        );
        trading.commitBackstopUnwind(BTC_MARKET, DYDX, 1e18, 59_000e18, block.timestamp);
        vm.stopPrank();
    }

    /// @dev A sell unwind's limit is bounded below only (by the band): above MAX_PRICE, or a deadline past 32 bits,
    ///      is refused by name (each used to fail a SafeCast).
    function test_anUnwindOutOfRangeIsRefusedByName() public {
        uint256 deadline = block.timestamp + 5 minutes;
        vm.expectRevert(
            abi.encodeWithSelector(
                IPrimeVaultErrors.OrderOutOfRange.selector, -0.5e18, type(uint256).max, deadline
            )
        );
        vm.prank(keeper);
        trading.commitBackstopUnwind(BTC_MARKET, DYDX, 0.5e18, type(uint256).max, deadline);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPrimeVaultErrors.OrderOutOfRange.selector, -0.5e18, 59_000e18, type(uint256).max
            )
        );
        vm.prank(keeper);
        trading.commitBackstopUnwind(BTC_MARKET, DYDX, 0.5e18, 59_000e18, type(uint256).max);
    }

    function test_onlyExecutorsCommitAnUnwind() public {
        bytes32 role = trading.EXECUTOR_ROLE();
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, alice, role)
        );
        trading.commitBackstopUnwind(BTC_MARKET, DYDX, 1e18, 59_000e18, block.timestamp + 5 minutes);
    }
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

import {CHILD_EXPIRY_GRACE} from "../../../contracts/libraries/ConstantsLib.sol";
import {AsyncOrderFixture} from "../utils/AsyncOrderFixture.sol";
import {IPrimeVaultErrors} from "../../../contracts/interfaces/IPrimeVaultErrors.sol";
import {IPrimeVaultEvents} from "../../../contracts/interfaces/IPrimeVaultEvents.sol";
import {ITradingModule} from "../../../contracts/interfaces/ITradingModule.sol";

/// @notice `expireChild` (the executor after the deadline, anyone CHILD_EXPIRY_GRACE later) and `rejectChild`
///         (the executor, for the venue): both end an open child and release what it still reserves.
contract ExpireChildTest is AsyncOrderFixture {
    uint256 internal orderId;
    uint256 internal first; // 1.2 BTC at dYdX; first + 1: 0.8 BTC at RabbitX
    uint256 internal deadline;

    function setUp() public override {
        super.setUp();
        _deposit(alice, alice, weth, 10e18);
        orderId = _submit(alice, alice, BTC_MARKET, 2e18, 61_000e18);
        first = _commitTwo(orderId, 1.2e18, 0.8e18, 61_000e18);
        deadline = block.timestamp + 10 minutes;
    }

    /// @dev Past the deadline and the grace: anyone may expire.
    function _warpPastDeadline() internal {
        vm.warp(deadline + CHILD_EXPIRY_GRACE + 1);
        btcFeed.setAnswer(BTC_PRICE);
        ethFeed.setAnswer(ETH_PRICE);
    }

    function test_theExecutorExpiresAChildAtItsDeadline() public {
        vm.prank(keeper);
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.AsyncOrderChildNotExpired.selector, first, deadline)
        );
        trading.expireChild(first);
        vm.warp(deadline + 1);
        vm.prank(keeper);
        trading.expireChild(first);
        assertEq(uint8(_childStatus(first)), uint8(ITradingModule.ChildStatus.Expired));
    }

    /// @dev A fill the venue made before the deadline and reported just after it stays the account's, however
    ///      the market moved: within the grace its owner cannot expire the child and move the fill onto the
    ///      protocol's backstop book.
    function test_aFillMadeBeforeTheDeadlineStaysTheAccountsWhateverTheMarketDid() public {
        vm.warp(deadline - 1);
        btcFeed.setAnswer(BTC_PRICE);
        ethFeed.setAnswer(ETH_PRICE);
        (uint256 price, uint256 fee) = _venueTrade(first, 1.2e18);
        btcFeed.setAnswer(BTC_PRICE * 96 / 100); // against the long, still within the fill's band
        vm.warp(deadline + 1);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPrimeVaultErrors.AsyncOrderChildNotExpired.selector, first, deadline + CHILD_EXPIRY_GRACE
            )
        );
        trading.expireChild(first);
        vm.prank(keeper);
        trading.reportFill(first, _nextFillId(), price, 1.2e18, fee);
        assertEq(trading.position(alice, BTC_MARKET, DYDX).size, 1.2e18, "the account's");
        assertEq(trading.backstopPosition(BTC_MARKET, DYDX).size, 0, "not the protocol's");
    }

    function test_anyoneExpiresAChildAfterItsDeadlineAndTheGrace() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IPrimeVaultErrors.AsyncOrderChildNotExpired.selector, first, deadline + CHILD_EXPIRY_GRACE
            )
        );
        trading.expireChild(first);
        _warpPastDeadline();
        vm.expectEmit(address(trading));
        emit IPrimeVaultEvents.ChildExpired(first, orderId, 7320e6);
        vm.prank(bob);
        trading.expireChild(first);
        assertEq(uint8(_childStatus(first)), uint8(ITradingModule.ChildStatus.Expired));
        (uint256 reserved, uint256 open,) = trading.reservation(alice);
        assertEq(reserved, 4880e6, "the other child's reservation stays");
        assertEq(open, 1);
        assertEq(uint8(_status(orderId)), uint8(ITradingModule.OrderStatus.Routed));
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.AsyncOrderChildNotOpen.selector, first));
        trading.expireChild(first);
    }

    function test_expiryAfterAPartialFillReleasesTheRest() public {
        _fill(first, 0.3e18);
        _warpPastDeadline();
        trading.expireChild(first);
        assertEq(_reserved(alice), 4880e6);
        assertEq(trading.position(alice, BTC_MARKET, DYDX).size, 0.3e18, "the fill stays booked");
    }

    function test_theLastChildToEndFinishesTheOrder() public {
        _fill(first, 1.2e18);
        assertEq(uint8(_childStatus(first)), uint8(ITradingModule.ChildStatus.Filled));
        assertEq(uint8(_status(orderId)), uint8(ITradingModule.OrderStatus.Routed), "a sibling is still open");
        assertEq(trading.order(orderId).openChildren, 1);
        _warpPastDeadline();
        vm.expectEmit(address(trading));
        emit IPrimeVaultEvents.OrderDone(orderId, alice);
        trading.expireChild(first + 1);
        assertEq(uint8(_status(orderId)), uint8(ITradingModule.OrderStatus.Executed));
        assertEq(trading.order(orderId).openChildren, 0);
        (uint256 reserved, uint256 open,) = trading.reservation(alice);
        assertEq(reserved, 0);
        assertEq(open, 0);
    }

    function test_theExecutorRejectsAChildWithTheVenuesReason() public {
        bytes memory reason = bytes("post-only would cross");
        vm.expectEmit(address(trading));
        emit IPrimeVaultEvents.ChildRejected(first + 1, orderId, reason, 4880e6);
        vm.prank(keeper);
        trading.rejectChild(first + 1, reason);
        assertEq(uint8(_childStatus(first + 1)), uint8(ITradingModule.ChildStatus.Rejected));
        assertEq(_reserved(alice), 7320e6);
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.AsyncOrderChildNotOpen.selector, first + 1));
        trading.rejectChild(first + 1, reason);
    }

    function test_onlyTheExecutorRejects() public {
        bytes32 role = trading.EXECUTOR_ROLE();
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, alice, role)
        );
        trading.rejectChild(first, "");
    }

    function test_revertsOnAnUnknownOrFilledChild() public {
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.AsyncOrderUnknownChild.selector, 9));
        trading.expireChild(9);
        _fill(first, 1.2e18);
        _warpPastDeadline();
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.AsyncOrderChildNotOpen.selector, first));
        trading.expireChild(first);
    }

    /// @dev Whatever was filled before, ending a child releases exactly what it still reserved, and the
    ///      account's reservation is then the other child's.
    function testFuzz_endingReleasesWhatIsLeft(uint256 filled, bool reject) public {
        filled = bound(filled, 0, 1.2e18 - 1);
        if (filled > 0) {
            vm.prank(keeper);
            trading.reportFill(first, _nextFillId(), 60_000e18, filled, 0);
        }
        if (reject) {
            vm.prank(keeper);
            trading.rejectChild(first, "");
        } else {
            _warpPastDeadline();
            trading.expireChild(first);
        }
        assertEq(_reserved(alice), trading.childOrder(first + 1).reservation);
    }
}

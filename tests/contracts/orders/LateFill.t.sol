// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AsyncOrderFixture} from "../utils/AsyncOrderFixture.sol";
import {IPrimeVaultErrors} from "../../../contracts/interfaces/IPrimeVaultErrors.sol";
import {IPrimeVaultEvents} from "../../../contracts/interfaces/IPrimeVaultEvents.sol";
import {ITradingModule} from "../../../contracts/interfaces/ITradingModule.sol";

/// @notice A fill the venue reports after its child was rejected, expired or cancelled by a liquidation goes
///         to the backstop book, never to the account; and liquidation completes with open children.
contract LateFillTest is AsyncOrderFixture {
    uint256 internal orderId;
    uint256 internal child; // 1 BTC at dYdX

    function setUp() public override {
        super.setUp();
        _deposit(alice, alice, weth, 10e18);
        orderId = _submit(alice, alice, BTC_MARKET, 1e18, 61_000e18);
        child = _commitOne(orderId, DYDX, 1e18, 61_000e18);
    }

    function _assertBooksMatchTheVenue() internal view {
        assertEq(
            trading.netPosition(BTC_MARKET, DYDX),
            trading.position(alice, BTC_MARKET, DYDX).size + trading.backstopPosition(BTC_MARKET, DYDX).size
        );
        assertEq(dydxAdapter.position(BTC_MARKET), trading.netPosition(BTC_MARKET, DYDX), "venue");
    }

    /// @dev A late fill is not banded, and a sell's limit is a floor: a price past MAX_PRICE is refused by name
    ///      (it used to overflow the backstop's entry price: Panic 0x11, or SafeCast at 2^128).
    function test_aLateSellFillAboveMaxPriceIsRefusedByName() public {
        _deposit(alice, alice, weth, 10e18);
        uint256 sell = _submit(alice, alice, BTC_MARKET, -1e18, 59_000e18);
        uint256 sellChild = _commitOne(sell, RABBIT, 1e18, 59_000e18);
        vm.prank(keeper);
        trading.rejectChild(sellChild, "rejected");
        uint256[2] memory prices = [uint256(2) ** 128, 2 ** 255];
        for (uint256 i; i < prices.length; ++i) {
            bytes32 fillId = _nextFillId();
            vm.expectRevert(
                abi.encodeWithSelector(
                    IPrimeVaultErrors.AsyncOrderFillOutsideLimit.selector, prices[i], 59_000e18
                )
            );
            vm.prank(keeper);
            trading.reportFill(sellChild, fillId, prices[i], 0.5e18, 0);
        }
    }

    function test_aFillAfterExpiryGoesToTheBackstop() public {
        _fill(child, 0.4e18);
        vm.warp(block.timestamp + 10 minutes + 1);
        btcFeed.setAnswer(BTC_PRICE);
        ethFeed.setAnswer(ETH_PRICE);
        vm.prank(keeper);
        trading.expireChild(child);
        int256 balance = vault.baseBalanceOf(alice);

        (uint256 price, uint256 fee) = _venueTrade(child, 0.6e18);
        bytes32 fillId = _nextFillId();
        vm.expectEmit(address(trading));
        emit IPrimeVaultEvents.LateFillToBackstop(child, fillId, BTC_MARKET, DYDX, 0.6e18, price, fee);
        vm.prank(keeper);
        trading.reportFill(child, fillId, price, 0.6e18, fee);

        assertEq(trading.position(alice, BTC_MARKET, DYDX).size, 0.4e18, "not the account's");
        assertEq(vault.baseBalanceOf(alice), balance, "no fee charged to the account");
        ITradingModule.Position memory b = trading.backstopPosition(BTC_MARKET, DYDX);
        assertEq(b.size, 0.6e18);
        assertEq(b.entryPrice, price);
        assertEq(trading.childOrder(child).filled, 1e18);
        assertEq(uint8(_childStatus(child)), uint8(ITradingModule.ChildStatus.Expired));
        assertEq(_reserved(alice), 0);
        _assertBooksMatchTheVenue();
    }

    function test_aFillAfterRejectionGoesToTheBackstopOnceEvenIfReportedAgain() public {
        vm.prank(keeper);
        trading.rejectChild(child, "rejected: margin");
        (uint256 price, uint256 fee) = _venueTrade(child, 1e18);
        bytes32 fillId = _nextFillId();
        vm.prank(keeper);
        trading.reportFill(child, fillId, price, 1e18, fee);
        assertEq(trading.backstopPosition(BTC_MARKET, DYDX).size, 1e18);
        // The keeper restarts and reports it again, alone and in a batch.
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.AsyncOrderFillIdUsed.selector, fillId));
        trading.reportFill(child, fillId, price, 1e18, fee);
        ITradingModule.FillReport[] memory batch = new ITradingModule.FillReport[](1);
        batch[0] = ITradingModule.FillReport(child, fillId, price, 1e18, fee);
        vm.prank(keeper);
        assertEq(trading.reportFills(batch), 0);
        assertEq(trading.backstopPosition(BTC_MARKET, DYDX).size, 1e18, "booked once");
        assertEq(trading.position(alice, BTC_MARKET, DYDX).size, 0);
        _assertBooksMatchTheVenue();
    }

    function test_aLateFillIsStillBounded() public {
        vm.prank(keeper);
        trading.rejectChild(child, "");
        vm.prank(keeper);
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.AsyncOrderOverfill.selector, child, 1.1e18, 1e18)
        );
        trading.reportFill(child, _nextFillId(), 60_000e18, 1.1e18, 0);
        vm.prank(keeper);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPrimeVaultErrors.AsyncOrderFillOutsideLimit.selector, 61_001e18, 61_000e18
            )
        );
        trading.reportFill(child, _nextFillId(), 61_001e18, 1e18, 0);
    }

    /// @dev The venue filled before the mark moved away; reported after, the fill is outside the band around the
    ///      mark now. For the account that would be refused; the venue holds it all the same, so late it books to
    ///      the backstop rather than staying hidden.
    function test_aLateFillIsBookedWhereverTheMarkHasMoved() public {
        vm.prank(keeper);
        trading.rejectChild(child, "");
        btcFeed.setAnswer(50_000e8);
        vm.prank(keeper);
        trading.reportFill(child, _nextFillId(), 60_500e18, 1e18, 0);
        ITradingModule.Position memory b = trading.backstopPosition(BTC_MARKET, DYDX);
        assertEq(b.size, 1e18);
        assertEq(b.entryPrice, 60_500e18);
    }

    /// @dev An account with open children and reserved margin is liquidated; its children are cancelled at
    ///      once, and a venue's later fill of one of them goes to the backstop.
    function test_liquidationCancelsOpenChildrenAndTheirLateFillsGoToTheBackstop() public {
        // Bob: 1 WETH, 2,000 borrowed, and a small BTC order routed to both venues.
        _deposit(bob, bob, weth, 1e18);
        _borrow(bob, bob, 2000e6);
        uint256 id = _submit(bob, bob, BTC_MARKET, 0.02e18, 61_000e18);
        uint256 first = _commitTwo(id, 0.01e18, 0.01e18, 61_000e18);
        _fill(first, 0.004e18);
        (uint256 reserved, uint256 open,) = trading.reservation(bob);
        assertGt(reserved, 0);
        assertEq(open, 2);

        _setEthPrice(2200e8); // equity about 200 against a maintenance requirement of about 360
        assertTrue(vault.isLiquidatable(bob));
        vm.expectEmit(address(trading));
        emit IPrimeVaultEvents.OpenChildrenCancelled(bob, first + 2, 2, reserved);
        assertEq(vault.liquidate(_one(bob)), 1, "liquidation completes");
        uint256 liveFrom;
        (reserved, open, liveFrom) = trading.reservation(bob);
        assertEq(reserved, 0, "reservations released");
        assertEq(open, 0);
        assertEq(liveFrom, first + 2, "children below it are no longer Bob's");
        assertEq(trading.position(bob, BTC_MARKET, DYDX).size, 0, "its position went to the backstop");
        int256 backstop = trading.backstopPosition(BTC_MARKET, DYDX).size;

        // The dYdX venue fills the rest of its child afterwards: the protocol's, not Bob's.
        (uint256 price, uint256 fee) = _venueTrade(first, 0.006e18);
        bytes32 fillId = _nextFillId();
        vm.expectEmit(address(trading));
        emit IPrimeVaultEvents.ChildCancelled(first, id);
        vm.prank(keeper);
        trading.reportFill(first, fillId, price, 0.006e18, fee);
        assertEq(trading.position(bob, BTC_MARKET, DYDX).size, 0);
        assertEq(trading.backstopPosition(BTC_MARKET, DYDX).size, backstop + 0.006e18);
        assertEq(uint8(_childStatus(first)), uint8(ITradingModule.ChildStatus.Cancelled));
        // The other child is closed by anyone at once, before its deadline: it reserves nothing.
        vm.expectEmit(address(trading));
        emit IPrimeVaultEvents.OrderDone(id, bob);
        trading.expireChild(first + 1);
        assertEq(uint8(_childStatus(first + 1)), uint8(ITradingModule.ChildStatus.Cancelled));
        assertEq(uint8(_status(id)), uint8(ITradingModule.OrderStatus.Executed));
        (reserved, open,) = trading.reservation(bob);
        assertEq(reserved + open, 0);
        assertEq(dydxAdapter.position(BTC_MARKET), trading.netPosition(BTC_MARKET, DYDX), "venue");
    }

    /// @dev Only children count: no position, no debt beyond what the collateral covers at initial, and a
    ///      reservation. A price fall makes it liquidatable, and the liquidation completes.
    function test_anAccountWithOnlyReservedMarginIsLiquidated() public {
        _deposit(bob, bob, weth, 1e18);
        _borrow(bob, bob, 2000e6);
        _commitOne(_submit(bob, bob, BTC_MARKET, 0.01e18, 61_000e18), RABBIT, 0.01e18, 61_000e18);
        assertEq(trading.position(bob, BTC_MARKET, RABBIT).size, 0);
        _setEthPrice(2200e8);
        assertEq(vault.liquidate(_one(bob)), 1);
        (uint256 reserved, uint256 open,) = trading.reservation(bob);
        assertEq(reserved + open, 0);
        assertLt(vault.collateralBalanceOf(bob, address(weth)), 1e18, "collateral absorbed as usual");
    }

    function _one(address a) internal pure returns (address[] memory list) {
        list = new address[](1);
        list[0] = a;
    }
}

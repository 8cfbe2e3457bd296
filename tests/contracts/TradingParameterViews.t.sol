// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TradingFixture} from "./utils/TradingFixture.sol";
import {ITradingModule} from "../../contracts/interfaces/ITradingModule.sol";
import {IPrimeVaultErrors} from "../../contracts/interfaces/IPrimeVaultErrors.sol";
import {IPrimeVaultEvents} from "../../contracts/interfaces/IPrimeVaultEvents.sol";

/// @notice The trading module's views an integrator needs: its vault and slot layout, the order epoch that
///         tells a dead order from a live one, and the backstop's price band and takeover discount.
contract TradingParameterViewsTest is TradingFixture {
    function setUp() public override {
        super.setUp();
        _deposit(alice, alice, weth, 10e18); // 30,000
    }

    /// @dev 3 BTC long at dYdX, BTC at `price`, then liquidated: all or part of it goes to the backstop.
    function _liquidateLongAt(int256 price) internal {
        _executeOn(_submit(alice, alice, BTC_MARKET, 3e18, 61_000e18), DYDX, 3e18);
        btcFeed.setAnswer(price);
        address[] memory accounts = new address[](1);
        accounts[0] = alice;
        vm.prank(bob);
        vault.liquidate(accounts);
    }

    function test_moduleNamesItsVaultAndSlotLayout() public view {
        ITradingModule m = trading;
        assertEq(address(m.vault()), address(vault));
        assertEq(m.MAX_MARKETS(), 4);
        assertEq(m.MAX_VENUES(), 4);
        int256[] memory indexes = m.fundingIndexes();
        assertEq(indexes.length, m.MAX_MARKETS() * m.MAX_VENUES());
        assertEq(indexes[ETH_MARKET * m.MAX_VENUES() + RABBIT], rabbitAdapter.fundingIndex(ETH_MARKET));
    }

    /// @dev The slot views refuse an unlisted market or venue: venue 4 used to read market 1's venue 0 (slot 4),
    ///      another market's book.
    function test_slotViewsRefuseAnUnlistedMarketOrVenue() public {
        _deposit(alice, alice, weth, 10e18);
        _executeOn(_submit(alice, alice, ETH_MARKET, 1e18, 3100e18), DYDX, 1e18);
        assertEq(trading.position(alice, ETH_MARKET, DYDX).size, 1e18);
        assertEq(trading.netPosition(ETH_MARKET, DYDX), 1e18);

        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.UnknownVenue.selector, 4));
        trading.position(alice, BTC_MARKET, 4);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.UnknownVenue.selector, 4));
        trading.netPosition(BTC_MARKET, 4);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.UnknownVenue.selector, 2));
        trading.backstopPosition(BTC_MARKET, 2);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.UnknownMarket.selector, 2));
        trading.position(alice, 2, DYDX);
        vm.expectRevert(abi.encodeWithSelector(IPrimeVaultErrors.UnknownMarket.selector, 255));
        trading.backstopPosition(255, DYDX);
    }

    function test_orderEpochTellsWhichOpenOrdersCanNoLongerExecute() public {
        uint256 id = _submit(alice, alice, BTC_MARKET, 1e18, 61_000e18);
        assertEq(trading.orderEpoch(alice), 0);
        vm.prank(alice);
        trading.cancelAllOrders(alice);

        ITradingModule.Order memory o = trading.order(id);
        assertEq(uint8(o.status), uint8(ITradingModule.OrderStatus.Open), "its status still reads open");
        assertEq(trading.orderEpoch(alice), 1);
        assertLt(o.epoch, trading.orderEpoch(alice), "but its epoch is past");
        assertEq(trading.orderEpoch(bob), 0, "one epoch per account");

        vm.expectEmit(address(trading));
        emit IPrimeVaultEvents.OrderCancelled(
            id, alice, abi.encodeWithSelector(IPrimeVaultErrors.OrderAuthorityRevoked.selector, id)
        );
        _executeOn(id, DYDX, 1e18);
    }

    function test_backstopPriceBandIsTheLimitOfAnUnwind() public {
        _liquidateLongAt(50_000e8);
        uint256 band = trading.backstopPriceBandBps();
        assertEq(band, 500);
        uint256 edge = 50_000e18 * (10_000 - band) / 10_000; // the book is long: it sells
        vm.expectRevert(
            abi.encodeWithSelector(IPrimeVaultErrors.PriceOutsideBand.selector, edge - 1, 50_000e18, band)
        );
        vm.prank(keeper);
        trading.unwindBackstop(BTC_MARKET, DYDX, 1e18, edge - 1);
        vm.prank(keeper);
        trading.unwindBackstop(BTC_MARKET, DYDX, 1e18, edge);
        assertEq(trading.backstopPosition(BTC_MARKET, DYDX).size, 2e18);
    }

    /// @dev Deep under water: the takeover pays the whole penalty share of the 5% maintenance margin.
    function test_perpPenaltyShareIsTheDeepestTakeoverDiscount() public {
        _liquidateLongAt(50_000e8);
        uint256 discountBps = 500 * trading.perpPenaltyShareOfMaintenanceBps() / 10_000;
        assertEq(discountBps, 100, "1% at a 5% maintenance margin");
        assertEq(
            trading.backstopPosition(BTC_MARKET, DYDX).entryPrice, 50_000e18 * (10_000 - discountBps) / 10_000
        );
    }

    /// @dev Whatever the depth, the discount lies between half of the penalty share and all of it.
    function testFuzz_takeoverDiscountStaysWithinThePenaltyShare(uint256 drop) public {
        uint256 price = 60_000e8 - bound(drop, 0, 15_000) * 1e8;
        _liquidateLongAt(int256(price));
        ITradingModule.Position memory book = trading.backstopPosition(BTC_MARKET, DYDX);
        vm.assume(book.size != 0);
        uint256 mark = price * 1e10;
        uint256 penaltyBps = 500 * trading.perpPenaltyShareOfMaintenanceBps() / 10_000;
        assertGe(book.entryPrice, mark * (10_000 - penaltyBps) / 10_000, "at most the penalty");
        assertLe(book.entryPrice, mark * (10_000 - penaltyBps / 2) / 10_000, "at least half of it");
    }
}

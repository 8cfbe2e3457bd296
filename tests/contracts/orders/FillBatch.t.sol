// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AsyncOrderFixture} from "../utils/AsyncOrderFixture.sol";
import {ITradingModule} from "../../../contracts/interfaces/ITradingModule.sol";
import {IVenueAdapter} from "../../../contracts/interfaces/IVenueAdapter.sol";

/// @notice `reportFills` reads each market's mark and each (market, venue) slot's funding index once a report: a
///         batch mixing markets, venues, accounts, late fills and fills that close their children and orders must
///         book exactly what the same fills reported one by one book. And an order's count of open children
///         follows every way a child leaves Open, a liquidation's cancellation included.
contract FillBatchTest is AsyncOrderFixture {
    uint256 internal constant ETH_MARK = 3000e18;

    address[2] internal accounts;
    uint256[] internal orderIds;
    uint256 internal childCount;
    ITradingModule.FillReport[] internal fills;

    function setUp() public override {
        super.setUp();
        accounts = [alice, bob];
        _deposit(alice, alice, weth, 20e18);
        _deposit(bob, bob, weth, 20e18);
        // Positions held in every slot a fill below lands in, so each fill settles funding against the slot's
        // index.
        _holdBtcLong(alice, 0.5e18);
        _fill(
            _commitOne(_submit(alice, alice, BTC_MARKET, 0.3e18, 61_000e18), RABBIT, 0.3e18, 61_000e18),
            0.3e18
        );
        _fill(_commitOne(_submit(alice, alice, ETH_MARKET, 1e18, 3050e18), RABBIT, 1e18, 3050e18), 1e18);
        _fill(_commitOne(_submit(bob, bob, ETH_MARKET, -2e18, 2950e18), DYDX, 2e18, 2950e18), 2e18);
        _fill(_commitOne(_submit(bob, bob, ETH_MARKET, -1e18, 2950e18), RABBIT, 1e18, 2950e18), 1e18);
        // A funding rate of its own in each slot, then time for it to accrue: four different indexes.
        dydx.setFundingRate(0, 1e9);
        dydx.setFundingRate(1, -2e9);
        rabbit.setFundingRate(0, 3e9);
        rabbit.setFundingRate(1, 5e8);
        vm.warp(block.timestamp + 30 minutes);
        btcFeed.setAnswer(BTC_PRICE);
        ethFeed.setAnswer(ETH_PRICE);
    }

    function test_aMixedBatchBooksAsTheSameFillsReportedOneByOne() public {
        int256[4] memory indexes = [
            dydxAdapter.fundingIndex(BTC_MARKET),
            dydxAdapter.fundingIndex(ETH_MARKET),
            rabbitAdapter.fundingIndex(BTC_MARKET),
            rabbitAdapter.fundingIndex(ETH_MARKET)
        ];
        for (uint256 i; i < 4; ++i) {
            for (uint256 j = i + 1; j < 4; ++j) {
                assertTrue(indexes[i] != indexes[j], "each slot's funding index is its own");
            }
        }

        uint256 firstChild = trading.childOrderCount();
        uint256 aliceBtc = _submit(alice, alice, BTC_MARKET, 1e18, 61_000e18);
        uint256 bobEth = _submit(bob, bob, ETH_MARKET, -4e18, 2950e18);
        uint256 aliceEth = _submit(alice, alice, ETH_MARKET, 2e18, 3050e18);
        uint256 bobBtc = _submit(bob, bob, BTC_MARKET, 0.2e18, 61_000e18);
        orderIds = [aliceBtc, bobEth, aliceEth, bobBtc];
        uint256 aBtc = _commitTwo(aliceBtc, 0.6e18, 0.4e18, 61_000e18); // aBtc at dYdX, aBtc + 1 at RabbitX
        uint256 bEth = _commitTwo(bobEth, 1.5e18, 2.5e18, 2950e18);
        uint256 aEth = _commitOne(aliceEth, RABBIT, 2e18, 3050e18);
        uint256 bBtc = _commitOne(bobBtc, DYDX, 0.2e18, 61_000e18);
        vm.prank(keeper);
        trading.rejectChild(bBtc, "venue busy"); // its fill is late: the backstop's
        childCount = trading.childOrderCount() - firstChild;

        // The venues fill, markets, venues and accounts interleaved; some fills finish their child, some their
        // order.
        _venueFill(aBtc, 0.6e18);
        _venueFill(bEth + 1, 1e18);
        _venueFill(aBtc + 1, 0.4e18);
        _venueFill(bEth, 1.5e18);
        _venueFill(bBtc, 0.2e18);
        _venueFill(aEth, 0.5e18);
        _venueFill(bEth + 1, 1.5e18);
        _venueFill(aEth, 1.5e18);

        uint256 snapshot = vm.snapshotState();
        for (uint256 i; i < fills.length; ++i) {
            ITradingModule.FillReport memory f = fills[i];
            vm.prank(keeper);
            trading.reportFill(f.childId, f.venueFillId, f.price, f.size, f.fee);
        }
        bytes memory oneByOne = _books(firstChild);
        assertTrue(vm.revertToState(snapshot));

        vm.prank(keeper);
        assertEq(trading.reportFills(fills), fills.length);
        assertEq(
            keccak256(_books(firstChild)), keccak256(oneByOne), "a batch books what its fills book one by one"
        );

        // And what both booked: each slot's position carries its own venue's index, every order is done.
        IVenueAdapter[2] memory adapters = [IVenueAdapter(dydxAdapter), IVenueAdapter(rabbitAdapter)];
        uint256 held = 0;
        for (uint256 a; a < 2; ++a) {
            for (uint8 m; m < 2; ++m) {
                for (uint8 v; v < 2; ++v) {
                    ITradingModule.Position memory p = trading.position(accounts[a], m, v);
                    if (p.size == 0) continue;
                    ++held;
                    assertEq(p.fundingIndex, adapters[v].fundingIndex(m), "the slot's own funding index");
                }
            }
        }
        assertEq(held, 5, "alice in every slot but ETH at dYdX, bob in ETH at both venues");
        for (uint256 i; i < orderIds.length; ++i) {
            ITradingModule.Order memory o = trading.order(orderIds[i]);
            assertEq(uint8(o.status), uint8(ITradingModule.OrderStatus.Executed));
            assertEq(o.openChildren, 0);
        }
        assertEq(trading.backstopPosition(BTC_MARKET, DYDX).size, 0.2e18, "the late fill");
    }

    /// @dev A liquidation cancels a routed order's children at once; each then leaves Open once, whichever way
    ///      (a late fill, reported twice in one batch with another account's fill, or the executor's rejection),
    ///      and only the last ends the order. Nothing on the way underflows.
    function test_childrenALiquidationCancelledCloseTheirOrderOnceEach() public {
        address carol = makeAddr("carol");
        _deposit(carol, carol, weth, 1e18);
        _borrow(carol, carol, 2000e6);
        uint256 id = _submit(carol, carol, BTC_MARKET, 0.02e18, 61_000e18);
        uint256 first = _commitTwo(id, 0.01e18, 0.01e18, 61_000e18);
        _fill(first, 0.004e18);
        assertEq(trading.order(id).openChildren, 2);
        uint256 aliceOrder = _submit(alice, alice, ETH_MARKET, 1e18, 3050e18);
        uint256 aliceChild = _commitOne(aliceOrder, DYDX, 1e18, 3050e18);

        _setEthPrice(2200e8);
        address[] memory list = new address[](1);
        list[0] = carol;
        assertEq(vault.liquidate(list), 1, "liquidation completes");
        assertEq(trading.order(id).openChildren, 2, "a liquidation leaves the order's count to its children");
        assertEq(uint8(_status(id)), uint8(ITradingModule.OrderStatus.Routed));

        _venueFill(first, 0.003e18);
        _venueFill(aliceChild, 1e18);
        _venueFill(first, 0.003e18);
        vm.prank(keeper);
        assertEq(trading.reportFills(fills), 3);
        assertEq(uint8(_childStatus(first)), uint8(ITradingModule.ChildStatus.Cancelled));
        assertEq(trading.order(id).openChildren, 1, "the late child closed once");
        assertEq(uint8(_status(id)), uint8(ITradingModule.OrderStatus.Routed));
        assertEq(
            uint8(_status(aliceOrder)), uint8(ITradingModule.OrderStatus.Executed), "alice's fill booked"
        );

        vm.prank(keeper);
        trading.rejectChild(first + 1, "venue busy");
        assertEq(uint8(_childStatus(first + 1)), uint8(ITradingModule.ChildStatus.Cancelled));
        assertEq(trading.order(id).openChildren, 0);
        assertEq(uint8(_status(id)), uint8(ITradingModule.OrderStatus.Executed));
        // Its venue fills the cancelled child afterwards: the backstop's, the order untouched.
        int256 backstop = trading.backstopPosition(BTC_MARKET, RABBIT).size;
        (uint256 price, uint256 fee) = _venueTrade(first + 1, 0.01e18);
        vm.prank(keeper);
        trading.reportFill(first + 1, _nextFillId(), price, 0.01e18, fee);
        assertEq(trading.backstopPosition(BTC_MARKET, RABBIT).size, backstop + 0.01e18);
        assertEq(trading.order(id).openChildren, 0);
        (uint256 reserved, uint256 open,) = trading.reservation(carol);
        assertEq(reserved + open, 0);
    }

    /// @dev The venue fills `size` of child `childId`; the report is queued in `fills`.
    function _venueFill(uint256 childId, uint256 size) internal {
        (uint256 price, uint256 fee) = _venueTrade(childId, size);
        fills.push(ITradingModule.FillReport(childId, _nextFillId(), price, size, fee));
    }

    /// @dev Everything a fill books: the accounts' slots, cash and reservations, the children and orders, the
    ///      backstop and the net book.
    function _books(uint256 firstChild) internal view returns (bytes memory books) {
        for (uint256 a; a < 2; ++a) {
            (uint256 reserved, uint256 open,) = trading.reservation(accounts[a]);
            books = abi.encode(books, vault.baseBalanceOf(accounts[a]), reserved, open);
            for (uint8 m; m < 2; ++m) {
                for (uint8 v; v < 2; ++v) {
                    books = abi.encode(books, trading.position(accounts[a], m, v));
                }
            }
        }
        for (uint8 m; m < 2; ++m) {
            for (uint8 v; v < 2; ++v) {
                books = abi.encode(books, trading.backstopPosition(m, v), trading.netPosition(m, v));
            }
        }
        for (uint256 i; i < childCount; ++i) {
            books = abi.encode(books, trading.childOrder(firstChild + i));
        }
        for (uint256 i; i < orderIds.length; ++i) {
            books = abi.encode(books, trading.order(orderIds[i]));
        }
    }
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {VenueFixture} from "../utils/VenueFixture.sol";
import {RabbitStyleVenue} from "../../../contracts/devnet/venues/RabbitStyleVenue.sol";
import {IRabbitStyleVenue} from "../../../contracts/interfaces/venues/IRabbitStyleVenue.sol";
import {IVenueErrors} from "../../../contracts/devnet/venues/IVenueErrors.sol";

contract RabbitStyleVenueTest is VenueFixture {
    address internal trader = makeAddr("trader");

    function setUp() public {
        _deployVenues();
        usdc.mint(trader, 1_000_000e6);
        vm.prank(trader);
        usdc.approve(address(rabbit), type(uint256).max);
    }

    function _deposit(uint256 amount) internal returns (uint256) {
        vm.prank(trader);
        return rabbit.deposit(amount);
    }

    function _order(string memory market, string memory side, uint256 price, uint256 size)
        internal
        pure
        returns (IRabbitStyleVenue.OrderRequest memory)
    {
        return IRabbitStyleVenue.OrderRequest(market, side, price, size, "market", 42);
    }

    function _place(IRabbitStyleVenue.OrderRequest memory order) internal returns (uint256 price) {
        vm.prank(trader);
        (price,) = rabbit.placeOrder(order);
    }

    function test_depositsGetIds() public {
        vm.expectEmit(address(rabbit));
        emit RabbitStyleVenue.Deposit(1, trader, 500e6);
        assertEq(_deposit(500e6), 1);
        assertEq(_deposit(500e6), 2);
        (int256 balance,,,) = rabbit.accountMargin(trader);
        assertEq(balance, 1000e6);
    }

    function test_longFillsAtSpreadPlusImpactInDecimals() public {
        _deposit(10_000e6);
        // 1 BTC at 60,000 x (1 + 0.5bp + 1 / (2 x 1,000)) = 60,033
        assertEq(rabbit.quote("BTC-USD", "long", 1e18), 60_033e18);
        uint256 price = _place(_order("BTC-USD", "long", 61_000e18, 1e18));
        assertEq(price, 60_033e18);
        assertEq(rabbit.position(trader, "BTC-USD"), 1e18);
        (int256 balance,, uint256 initial, uint256 maintenance) = rabbit.accountMargin(trader);
        assertEq(balance, 10_000e6 - 60_033e6 - 42_023_100, "7 bp taker fee");
        assertEq(initial, 1200e6, "IMF 2%");
        assertEq(maintenance, 600e6, "MMF 1%");
    }

    function test_shortSideAndSizeStep() public {
        _deposit(10_000e6);
        _place(_order("ETH-USD", "short", 2900e18, 1.5e18));
        assertEq(rabbit.position(trader, "ETH-USD"), -1.5e18);
        vm.expectRevert(abi.encodeWithSelector(IVenueErrors.VenueInvalidSize.selector, 1.0005e18, 1e15));
        _place(_order("ETH-USD", "short", 2900e18, 1.0005e18));
    }

    function test_badMarketSideTypeAndTick() public {
        _deposit(10_000e6);
        vm.expectRevert(IVenueErrors.VenueUnknownMarket.selector);
        _place(_order("DOGE-USD", "long", 1e18, 1e18));
        vm.expectRevert(IVenueErrors.VenueUnsupportedOrder.selector);
        _place(_order("BTC-USD", "buy", 61_000e18, 1e18));
        IRabbitStyleVenue.OrderRequest memory limit = _order("BTC-USD", "long", 61_000e18, 1e18);
        limit.orderType = "limit";
        vm.expectRevert(IVenueErrors.VenueUnsupportedOrder.selector);
        _place(limit);
        vm.expectRevert(abi.encodeWithSelector(IVenueErrors.VenueInvalidPrice.selector, 61_000.5e18, 1e18));
        _place(_order("BTC-USD", "long", 61_000.5e18, 1e18));
    }

    function test_limitPriceIsEnforced() public {
        _deposit(10_000e6);
        vm.expectRevert(
            abi.encodeWithSelector(IVenueErrors.VenuePriceLimitExceeded.selector, 60_033e18, 60_000e18)
        );
        _place(_order("BTC-USD", "long", 60_000e18, 1e18));
    }

    function test_withdrawalIsTwoStep() public {
        _deposit(1000e6);
        vm.prank(trader);
        uint256 id = rabbit.requestWithdrawal(400e6);
        (int256 balance,,,) = rabbit.accountMargin(trader);
        assertEq(balance, 600e6, "reserved at request");
        vm.expectRevert(
            abi.encodeWithSelector(
                IVenueErrors.VenueWithdrawalNotClaimable.selector, id, block.timestamp + WITHDRAWAL_DELAY
            )
        );
        vm.prank(trader);
        rabbit.claimWithdrawal(id);
        vm.warp(block.timestamp + WITHDRAWAL_DELAY);
        uint256 before = usdc.balanceOf(trader);
        vm.prank(trader);
        rabbit.claimWithdrawal(id);
        assertEq(usdc.balanceOf(trader) - before, 400e6);
        vm.expectRevert();
        vm.prank(trader);
        rabbit.claimWithdrawal(id);
    }

    function test_withdrawalRequestKeepsMargin() public {
        _deposit(1500e6);
        _place(_order("BTC-USD", "long", 61_000e18, 1e18));
        vm.expectRevert();
        vm.prank(trader);
        rabbit.requestWithdrawal(500e6);
    }

    function test_fundingPaysShorts() public {
        _deposit(10_000e6);
        _place(_order("BTC-USD", "short", 59_000e18, 1e18));
        (, int256 before,,) = rabbit.accountMargin(trader);
        rabbit.setFundingRate(0, int256(uint256(1e18) / 100 / 1 days));
        vm.warp(block.timestamp + 1 days);
        btcFeed.setAnswer(60_000e8);
        (, int256 afterwards,,) = rabbit.accountMargin(trader);
        assertApproxEqAbs(afterwards - before, 600e6, 1e6);
    }
}

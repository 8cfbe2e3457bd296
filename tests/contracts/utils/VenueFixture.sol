// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Test} from "forge-std/Test.sol";

import {MockERC20} from "../../../contracts/mocks/MockERC20.sol";
import {MockPriceFeed} from "../../../contracts/mocks/MockPriceFeed.sol";
import {DydxStyleVenue} from "../../../contracts/venues/DydxStyleVenue.sol";
import {RabbitStyleVenue} from "../../../contracts/venues/RabbitStyleVenue.sol";

/// @dev Both venues with BTC-USD and ETH-USD, on the same feeds, with different depth, spread and fees.
abstract contract VenueFixture is Test {
    MockERC20 internal usdc;
    MockPriceFeed internal btcFeed;
    MockPriceFeed internal ethFeed;
    DydxStyleVenue internal dydx;
    RabbitStyleVenue internal rabbit;

    uint32 internal constant BTC = 0;
    uint32 internal constant ETH = 1;
    uint256 internal constant WITHDRAWAL_DELAY = 1 days;

    function _deployVenues() internal {
        usdc = new MockERC20("USD Coin", "USDC", 6);
        btcFeed = new MockPriceFeed("BTC / USD", 8, 60_000e8, address(this));
        ethFeed = new MockPriceFeed("ETH / USD", 8, 3000e8, address(this));

        dydx = new DydxStyleVenue(usdc, address(this));
        // BTC: 1 quantum = 1e-10 BTC, step 0.0001 BTC, tick $1; ETH: 1 quantum = 1e-9 ETH, step 0.001, tick $0.1.
        dydx.createClobPair(
            DydxStyleVenue.ClobPair(-10, -9, 1_000_000, 100_000, 0, "BTC-USD"),
            address(btcFeed),
            1 days,
            500,
            100,
            2000e10
        );
        dydx.createClobPair(
            DydxStyleVenue.ClobPair(-9, -9, 1_000_000, 100_000, 0, "ETH-USD"),
            address(ethFeed),
            1 days,
            500,
            150,
            20_000e9
        );

        rabbit = new RabbitStyleVenue(usdc, address(this), WITHDRAWAL_DELAY);
        rabbit.addMarket("BTC-USD", address(btcFeed), 1 days, 20_000, 10_000, 700, 50, 1000e18, 1e14, 1e18);
        rabbit.addMarket("ETH-USD", address(ethFeed), 1 days, 20_000, 10_000, 700, 80, 10_000e18, 1e15, 1e17);

        // The venues are the counterparty of every trade: seed their pools.
        usdc.mint(address(dydx), 10_000_000e6);
        usdc.mint(address(rabbit), 10_000_000e6);
    }
}

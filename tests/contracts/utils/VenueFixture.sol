// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Test} from "forge-std/Test.sol";

import {MockERC20} from "../../../contracts/devnet/mocks/MockERC20.sol";
import {MockPriceFeed} from "../../../contracts/devnet/mocks/MockPriceFeed.sol";
import {DydxStyleVenue} from "../../../contracts/devnet/venues/DydxStyleVenue.sol";
import {RabbitStyleVenue} from "../../../contracts/devnet/venues/RabbitStyleVenue.sol";
import {RABBIT_WITHDRAWAL_DELAY, deployDydx, deployRabbit} from "./VenueDeployment.sol";

/// @dev Both venues with BTC-USD and ETH-USD, on the same feeds, with different depth, spread and fees.
abstract contract VenueFixture is Test {
    MockERC20 internal usdc;
    MockPriceFeed internal btcFeed;
    MockPriceFeed internal ethFeed;
    DydxStyleVenue internal dydx;
    RabbitStyleVenue internal rabbit;

    uint32 internal constant BTC = 0;
    uint32 internal constant ETH = 1;
    uint256 internal constant WITHDRAWAL_DELAY = RABBIT_WITHDRAWAL_DELAY;

    function _deployVenues() internal {
        usdc = new MockERC20("USD Coin", "USDC", 6);
        btcFeed = new MockPriceFeed("BTC / USD", 8, 60_000e8, address(this));
        ethFeed = new MockPriceFeed("ETH / USD", 8, 3000e8, address(this));
        dydx = deployDydx(usdc, address(btcFeed), address(ethFeed), address(this));
        rabbit = deployRabbit(usdc, address(btcFeed), address(ethFeed), address(this));
    }
}

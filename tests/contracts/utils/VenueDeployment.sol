// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {MockERC20} from "../../../contracts/devnet/mocks/MockERC20.sol";
import {DydxStyleVenue} from "../../../contracts/devnet/venues/DydxStyleVenue.sol";
import {RabbitStyleVenue} from "../../../contracts/devnet/venues/RabbitStyleVenue.sol";
import {IDydxStyleVenue} from "../../../contracts/interfaces/venues/IDydxStyleVenue.sol";

uint256 constant RABBIT_WITHDRAWAL_DELAY = 1 days;

/// @dev dYdX-style venue with BTC-USD (clob pair 0) and ETH-USD (1): 1 quantum = 1e-10 BTC / 1e-9 ETH,
///      steps 0.0001 BTC / 0.001 ETH, ticks $1 / $0.1, 5 bp fee, deep books. Pool funded for payouts.
function deployDydx(MockERC20 usdc, address btcFeed, address ethFeed, address owner)
    returns (DydxStyleVenue venue)
{
    venue = new DydxStyleVenue(usdc, owner);
    venue.createClobPair(
        IDydxStyleVenue.ClobPair(-10, -9, 1_000_000, 100_000, 0, "BTC-USD"),
        btcFeed,
        1 days,
        500,
        100,
        2000e10
    );
    venue.createClobPair(
        IDydxStyleVenue.ClobPair(-9, -9, 1_000_000, 100_000, 0, "ETH-USD"),
        ethFeed,
        1 days,
        500,
        150,
        20_000e9
    );
    usdc.mint(address(venue), 10_000_000e6);
}

/// @dev RabbitX-style venue with "BTC-USD" and "ETH-USD": tighter spreads, 7 bp fee, shallower books.
function deployRabbit(MockERC20 usdc, address btcFeed, address ethFeed, address owner)
    returns (RabbitStyleVenue venue)
{
    venue = new RabbitStyleVenue(usdc, owner, RABBIT_WITHDRAWAL_DELAY);
    venue.addMarket("BTC-USD", btcFeed, 1 days, 20_000, 10_000, 700, 50, 1000e18, 1e14, 1e18);
    venue.addMarket("ETH-USD", ethFeed, 1 days, 20_000, 10_000, 700, 80, 10_000e18, 1e15, 1e17);
    usdc.mint(address(venue), 10_000_000e6);
}

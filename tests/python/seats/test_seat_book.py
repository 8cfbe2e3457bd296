"""The seat's order book for the orders job's router: the RabbitX exchange's resting asks, in WAD, with the seat
adapter's fee and step and the margin free at the exchange. Real anvil; the devnet exchange served for real."""

from __future__ import annotations

import asyncio

import aiohttp

from keeper.connectors.rabbitx.connector import RabbitXConnector
from keeper.devnet.deploy import SEAT_VENUE
from keeper.routing import Level
from keeper.seats.rabbitx import RabbitXSeat
from tests.python.conftest import Chain
from tests.python.connectors.rabbitx_service import RabbitXService
from tests.python.seats.conftest import SEAT_MARGIN, executor, seat_account_with_resting_asks

WAD = 10**18


def test_the_seat_reads_its_exchanges_book_for_the_router(market: Chain, exchange: RabbitXService) -> None:
    keeper = executor(market)
    venue = keeper.venue_id(SEAT_VENUE)

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            account = await seat_account_with_resting_asks(exchange, session, market)
            async with RabbitXConnector(exchange.settings(account)) as connector:
                book = await RabbitXSeat(keeper, connector, venue).book("ETH-USD")
        params = keeper.seat_adapter(venue).market(1)
        assert book.asks == (Level(3000 * WAD, 6 * WAD // 10), Level(30015 * WAD // 10, 2 * WAD // 10))
        assert book.bids == ()
        assert (book.taker_fee_ppm, book.step) == (params.taker_fee_ppm, params.step_size)
        assert book.margin is not None and book.margin.free_margin == SEAT_MARGIN * WAD, "nothing held yet"
        assert book.margin.initial_margin_ppm == params.initial_margin_ppm

    asyncio.run(scenario())

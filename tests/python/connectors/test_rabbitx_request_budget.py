"""The RabbitX connector and the seat's venue within RabbitX's request budget (1,200 tokens a minute per IP): an order
refused by the rate limit is held off for the exchange's wait and placed again with its client order id, never
refused for good; an order the exchange already holds (CLIENT_ORDER_ID_DUPLICATE) is looked up, not placed again;
the funding history is read once, then only its new periods."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import cast

import aiohttp
import pytest

from keeper.client.custody import CustodyClient
from keeper.connectors.rabbitx.connector import RabbitXConnector
from keeper.connectors.rabbitx.errors import DuplicateClientOrderIdError, RabbitXRateLimitError
from keeper.connectors.rabbitx.models import OrderRequest
from keeper.connectors.rabbitx.vocabulary import OrderType, Side
from keeper.seats.rabbitx import RabbitXVenue
from keeper.seats.seat import SeatOrderRequest

from .rabbitx_service import RabbitXService

D = Decimal
FUNDING = ("GET", "/markets/fundingrate")
USDC_DECIMALS = 6  # the exchange's collateral, as the replica settles it


def order(client_order_id: str) -> OrderRequest:
    return OrderRequest("BTC-USD", Side.LONG, D("0.1"), D(50000), client_order_id, OrderType.LIMIT)


async def set_rate_limit(rabbitx: RabbitXService, tokens: int | None, window: float = 60.0) -> None:
    async def limit() -> None:
        rabbitx.devnet.set_rate_limit(tokens, window)

    await rabbitx.on_service(limit)


def test_a_rate_limited_order_waits_for_the_exchange_and_keeps_its_client_order_id(rabbitx: RabbitXService) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            vault = await rabbitx.trader(session, 1)
            async with RabbitXConnector(rabbitx.settings(vault)) as connector:
                await set_rate_limit(rabbitx, 0, window=1.0)
                with pytest.raises(RabbitXRateLimitError) as limited:
                    await connector.place_order(order("child-1"))
                assert (limited.value.status, limited.value.retry_after, limited.value.answer_lost) == (429, 1, False)
                await set_rate_limit(rabbitx, None)

                with pytest.raises(RabbitXRateLimitError, match="not sent"):
                    await connector.place_order(order("child-1"))  # within the wait: held off here
                assert rabbitx.devnet.requests[("POST", "/orders")] == 1
                await asyncio.sleep(limited.value.retry_after)
                placed = await connector.place_order(order("child-1"))  # the id is free: nothing was placed
                assert placed.client_order_id == "child-1"
                assert rabbitx.devnet.requests[("POST", "/orders")] == 2
                assert [o.order_id for o in await connector.open_orders()] in ([], [placed.order_id])

    asyncio.run(scenario())


def test_an_order_the_exchange_holds_already_is_found_not_placed_again(rabbitx: RabbitXService) -> None:
    """A store that lost the client order id (another machine, a wiped data_dir): the exchange refuses the id with
    CLIENT_ORDER_ID_DUPLICATE, and the seat's venue takes the order it holds, neither placing nor refusing it."""

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            vault = await rabbitx.trader(session, 1)
            custody = cast(CustodyClient, None)  # no withdrawals here
            request = SeatOrderRequest(7, "BTC-USD", D("0.1"), D(50000), reduce_only=False)
            async with RabbitXConnector(rabbitx.settings(vault)) as connector:
                first = await RabbitXVenue(connector, custody, "pv-c", USDC_DECIMALS).place(request)
                assert first is not None
            async with RabbitXConnector(rabbitx.settings(vault, data_dir=rabbitx.data_dir / "other")) as connector:
                again = await RabbitXVenue(connector, custody, "pv-c", USDC_DECIMALS).place(request)
                assert again is not None
                assert (again.child_id, again.order_id) == (7, first.order_id)
                assert rabbitx.devnet.requests[("POST", "/orders")] == 2, "refused at the exchange, not placed"
            async with RabbitXConnector(rabbitx.settings(vault, data_dir=rabbitx.data_dir / "third")) as connector:
                with pytest.raises(DuplicateClientOrderIdError) as duplicate:
                    await connector.place_order(order("pv-c7"))
                assert duplicate.value.at_exchange
                assert len(await connector.client.orders()) == 1

    asyncio.run(scenario())


def test_the_funding_history_is_read_once_then_only_its_new_periods(rabbitx: RabbitXService) -> None:
    hour = 3600 * 10**6
    start = (int(time.time()) - 3000 * 3600) * 10**6

    async def pay(times: list[int]) -> None:
        async def apply() -> None:
            for at in times:
                rabbitx.devnet.exchange.apply_funding("BTC-USD", at)

        await rabbitx.on_service(apply)

    async def scenario() -> None:
        await pay([start + i * hour for i in range(2500)])
        async with aiohttp.ClientSession() as session:
            vault = await rabbitx.trader(session, 1)
            async with RabbitXConnector(rabbitx.settings(vault)) as connector:
                venue = RabbitXVenue(connector, cast(CustodyClient, None), "pv-c", USDC_DECIMALS, funding_refresh=0)
                history = await venue.funding("BTC-USD")
                assert [p.at_us for p in history] == [start + i * hour for i in range(2500)]
                assert rabbitx.devnet.requests[FUNDING] == 3, "three pages of 1,000, once"

                assert await venue.funding("BTC-USD") == history
                assert rabbitx.devnet.requests[FUNDING] == 4, "one request for what came since"
                await pay([start + 2500 * hour])
                newer = await venue.funding("BTC-USD")
                assert newer[:-1] == history and newer[-1].at_us == start + 2500 * hour
                assert rabbitx.devnet.requests[FUNDING] == 5

                venue.funding_refresh = 60
                assert await venue.funding("BTC-USD") == newer
                assert rabbitx.devnet.requests[FUNDING] == 5, "none within funding_refresh"
                assert await venue.funding("ETH-USD") == await venue.funding("ETH-USD") == []
                assert rabbitx.devnet.requests[FUNDING] == 6, "a market without funding yet is read once too"

                periods = await connector.funding_rates("BTC-USD", start + 2499 * hour)
                assert [p.timestamp for p in periods] == [start + 2499 * hour, start + 2500 * hour]

    asyncio.run(scenario())

"""The replica's candles and sparklines read through the official client's `IndexerClient`, built from trades the
connector makes: two orders' trades placed in chosen minutes (the test dates the fills, as the blocks holding them
would), then candles of each period up to the latest block, flat ones between, with the open interest each period
started with; and the live sparklines."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import httpx
import pytest
from dydx_v4_client.indexer.candles_resolution import CandlesResolution
from dydx_v4_client.indexer.rest.constants import TimePeriod
from dydx_v4_client.indexer.rest.indexer_client import IndexerClient

from keeper.connectors.dydx import DydxConnector, OrderRequest, Side
from keeper.devnet.dydx.chain import BUY, SELL

from .dydx_replica import Bench
from .test_dydx_indexer import _next_block, run

D = Decimal
DAY = "2024-05-01T12:0"


async def _trade(dydx: Bench) -> None:
    """A buy of 0.2 taking 60,000 and 60,100, then a sell of 0.3 taking 59,900 and 59,800: four trades."""
    dydx.seed("BTC-USD", SELL, (60_000, "0.1"), (60_100, "0.1"))
    dydx.seed("BTC-USD", BUY, (59_900, "0.1"), (59_800, "0.2"))
    async with DydxConnector(dydx.settings()) as connector:
        for side, size, limit in ((Side.BUY, "0.2", 60_100), (Side.SELL, "0.3", 59_800)):
            placed = await connector.place_order(OrderRequest("BTC-USD", side, D(size), D(limit)))
            assert (await connector.order_result(placed)).filled_size == D(size)
    await _next_block(dydx)


async def _date(dydx: Bench, buy_at: str, sell_at: str, latest_block_at: str) -> None:
    """Stops the blocks and dates the buy's fills (taker and maker, the first four) at `buy_at`, the sell's at
    `sell_at` and the latest block at `latest_block_at`."""
    dydx.replica.pause_blocks()
    await asyncio.sleep(0.2)  # a block the ticker was already producing lands before the dates are set
    with dydx.chain.lock:
        assert len(dydx.chain.fills) == 8
        for index, fill in enumerate(dydx.chain.fills):
            fill["createdAt"] = f"{buy_at if index < 4 else sell_at}.{index:03d}Z"
        dydx.chain.block_times[dydx.chain.height] = latest_block_at


def _shape(candles: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    keys = ("startedAt", "open", "high", "low", "close", "baseTokenVolume", "usdVolume", "trades")
    return [tuple(candle[key] for key in (*keys, "startingOpenInterest")) for candle in candles]


def test_candles_follow_the_trades_period_by_period(dydx: Bench) -> None:
    async def scenario() -> None:
        await _trade(dydx)
        await _date(dydx, f"{DAY}0:10", f"{DAY}3:30", f"{DAY}5:20.000Z")
        markets = IndexerClient(dydx.replica.indexer_url).markets
        one_minute = (await markets.get_perpetual_market_candles("BTC-USD", CandlesResolution.ONE_MINUTE.value))[
            "candles"
        ]
        flat_after_buy = ("60100", "60100", "60100", "60100", "0", "0", 0, "0.2")  # the maker short, the taker long
        flat_after_sell = ("59800", "59800", "59800", "59800", "0", "0", 0, "0.1")  # now the maker long 0.1
        assert _shape(one_minute) == [
            (f"{DAY}5:00.000Z", *flat_after_sell),
            (f"{DAY}4:00.000Z", *flat_after_sell),
            (f"{DAY}3:00.000Z", "59900", "59900", "59800", "59800", "0.3", "17950", 2, "0.2"),
            (f"{DAY}2:00.000Z", *flat_after_buy),
            (f"{DAY}1:00.000Z", *flat_after_buy),
            (f"{DAY}0:00.000Z", "60000", "60100", "60000", "60100", "0.2", "12010", 2, "0"),
        ]
        assert {(c["ticker"], c["resolution"], c["orderbookMidPriceOpen"]) for c in one_minute} == {
            ("BTC-USD", "1MIN", None)
        }

        five = (await markets.get_perpetual_market_candles("BTC-USD", CandlesResolution.FIVE_MINUTES.value))["candles"]
        assert _shape(five) == [
            (f"{DAY}5:00.000Z", *flat_after_sell),
            (f"{DAY}0:00.000Z", "60000", "60100", "59800", "59800", "0.5", "29960", 4, "0"),
        ]

        window = await markets.get_perpetual_market_candles(
            "BTC-USD", "1MIN", from_iso=f"{DAY}1:00Z", to_iso=f"{DAY}3:00.000Z"
        )
        assert [c["startedAt"] for c in window["candles"]] == [f"{DAY}2:00.000Z", f"{DAY}1:00.000Z"]
        newest = await markets.get_perpetual_market_candles("BTC-USD", "1MIN", limit=1)
        assert _shape(newest["candles"]) == _shape(one_minute[:1])
        assert (await markets.get_perpetual_market_candles("ETH-USD", "1DAY"))["candles"] == []

    run(scenario())


def test_sparklines_list_the_recent_closes_of_every_market(dydx: Bench) -> None:
    async def scenario() -> None:
        await _trade(dydx)
        markets = IndexerClient(dydx.replica.indexer_url).markets
        for period in (TimePeriod.ONE_DAY, TimePeriod.SEVEN_DAYS):
            lines = await markets.get_perpetual_market_sparklines(period)
            assert set(lines) == {"BTC-USD", "ETH-USD"}
            assert lines["ETH-USD"] == []
            assert lines["BTC-USD"][0] == "59800"  # the last trade's price, newest first
            assert set(lines["BTC-USD"]) <= {"59800", "60100"}  # a period boundary may split the trades

        await _date(dydx, f"{DAY}0:10", f"{DAY}3:30", f"{DAY}5:20.000Z")
        assert await markets.get_perpetual_market_sparklines(TimePeriod.SEVEN_DAYS) == {"BTC-USD": [], "ETH-USD": []}

    run(scenario())


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/v4/candles/perpetualMarkets/DOGE-USD?resolution=1MIN", "ticker must be a valid ticker (BTC-USD, etc)"),
        (
            "/v4/candles/perpetualMarkets/BTC-USD?resolution=2MINS",
            "resolution must be a valid Candle Resolution, one of 1MIN,5MINS,15MINS,30MINS,1HOUR,4HOURS,1DAY",
        ),
        ("/v4/sparklines?timePeriod=ONE_WEEK", "timePeriod must be a valid Time Period, one of ONE_DAY,SEVEN_DAYS"),
    ],
)
def test_candles_and_sparklines_refuse_unknown_parameters(dydx: Bench, path: str, message: str) -> None:
    async def scenario() -> None:
        async with httpx.AsyncClient() as http:
            response = await http.get(dydx.replica.indexer_url + path)
        assert response.status_code == 400
        assert response.json() == {"errors": [{"msg": message}]}

    run(scenario())

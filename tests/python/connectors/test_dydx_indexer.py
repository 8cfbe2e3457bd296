"""The replica's indexer read through the official client's `IndexerClient`, for what an integrator reads beside
the connector: the address's subaccounts, open and closed perpetual positions, the USDC asset position, the
subaccount's orders, a market's trades, funding payments, the PnL tick, the server's time and the address screens."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from dydx_v4_client.indexer.rest.constants import OrderStatus, PositionStatus
from dydx_v4_client.indexer.rest.indexer_client import IndexerClient

from keeper.connectors.dydx import DydxConnector, OrderRequest, Side
from keeper.devnet.dydx.chain import BUY, SELL

from .dydx_replica import ADDRESS, Bench

D = Decimal


def run(scenario: Any) -> None:
    asyncio.run(asyncio.wait_for(scenario, 30))


async def _next_block(bench: Bench) -> None:
    """Wait until the replica has produced a block after now: what was done shows in the indexer from then on."""
    target = bench.chain.height + 1
    while bench.chain.height < target:
        await asyncio.sleep(0.01)


def test_positions_orders_trades_and_funding_read_through_the_official_indexer_client(dydx: Bench) -> None:
    dydx.seed("BTC-USD", SELL, (60_000, "0.1"), (60_100, "0.1"))
    dydx.seed("BTC-USD", BUY, (61_000, "0.2"))

    async def scenario() -> None:
        indexer = IndexerClient(dydx.replica.indexer_url)
        async with DydxConnector(dydx.settings()) as connector:
            bought = await connector.order_result(
                await connector.place_order(OrderRequest("BTC-USD", Side.BUY, D("0.2"), D(60_100)))
            )
            assert bought.filled_size == D("0.2")
            await _next_block(dydx)

            (subaccount,) = (await indexer.account.get_subaccounts(ADDRESS))["subaccounts"]
            assert (subaccount["address"], subaccount["subaccountNumber"]) == (ADDRESS, 0)
            (open_position,) = (await indexer.account.get_subaccount_perpetual_positions(ADDRESS, 0))["positions"]
            assert (open_position["status"], open_position["side"], open_position["size"]) == ("OPEN", "LONG", "0.2")
            assert open_position["entryPrice"] == "60050"

            dydx.chain.settle_funding("BTC-USD", D("0.0001"))  # the long pays 0.2 x 60,000 x 0.0001 = 1.2
            (payment,) = (await indexer.account.get_funding_payments(ADDRESS, 0))["fundingPayments"]
            assert (payment["ticker"], payment["side"], payment["size"]) == ("BTC-USD", "LONG", "0.2")
            assert (D(payment["payment"]), payment["rate"], payment["subaccountNumber"]) == (D("-1.2"), "0.0001", "0")
            assert D(payment["fundingIndex"]) == D(6)

            sold = await connector.order_result(
                await connector.place_order(OrderRequest("BTC-USD", Side.SELL, D("0.2"), D(61_000), reduce_only=True))
            )
            assert sold.filled_size == D("0.2")
            await _next_block(dydx)

            assert (await indexer.account.get_subaccount_perpetual_positions(ADDRESS, 0, PositionStatus.OPEN))[
                "positions"
            ] == []
            closed_rows = await indexer.account.get_subaccount_perpetual_positions(ADDRESS, 0, PositionStatus.CLOSED)
            (closed,) = closed_rows["positions"]
            assert (closed["status"], closed["side"], closed["size"], closed["exitPrice"]) == (
                "CLOSED",
                "LONG",
                "0",
                "61000",
            )
            assert (closed["sumOpen"], closed["sumClose"], D(closed["netFunding"])) == ("0.2", "0.2", D("-1.2"))
            assert D(closed["realizedPnl"]) == D("0.2") * (61_000 - 60_050) - D("1.2")

            (usdc,) = (await indexer.account.get_subaccount_asset_positions(ADDRESS, 0))["positions"]
            assert (usdc["symbol"], usdc["side"]) == ("USDC", "LONG")
            assert D(usdc["size"]) == (await connector.subaccount()).usdc

            orders = await indexer.account.get_subaccount_orders(ADDRESS, 0, ticker="BTC-USD")
            assert [(o["side"], o["status"], o["reduceOnly"]) for o in orders] == [
                ("SELL", "FILLED", True),
                ("BUY", "FILLED", False),
            ]
            assert await indexer.account.get_subaccount_orders(ADDRESS, 0, status=OrderStatus.OPEN) == []
            assert await indexer.account.get_subaccount_orders(ADDRESS, 0, ticker="ETH-USD") == []

            trades = (await indexer.markets.get_perpetual_market_trades("BTC-USD"))["trades"]
            assert [(t["side"], t["price"], t["size"]) for t in trades] == [
                ("SELL", "61000", "0.2"),
                ("BUY", "60100", "0.1"),
                ("BUY", "60000", "0.1"),
            ]

            (tick,) = (await indexer.account.get_subaccount_historical_pnls(ADDRESS, 0))["historicalPnl"]
            equity = (await connector.subaccount()).equity
            assert (D(tick["equity"]), D(tick["netTransfers"])) == (equity, 0)
            assert D(tick["totalPnl"]) == equity

            clock = await indexer.utility.get_time()
            assert abs(datetime.fromisoformat(clock["iso"]).timestamp() - clock["epoch"]) < 0.002
            assert abs(clock["epoch"] - datetime.now(UTC).timestamp()) < 5

    run(scenario())


def test_the_indexer_answers_unknown_addresses_and_bad_queries_as_the_real_one(dydx: Bench) -> None:
    async def scenario() -> None:
        indexer = IndexerClient(dydx.replica.indexer_url)
        with pytest.raises(httpx.HTTPStatusError) as missing:
            await indexer.account.get_subaccounts("dydx1nobody")
        assert missing.value.response.status_code == 404
        assert missing.value.response.json() == {"errors": [{"msg": "No subaccounts found for address dydx1nobody"}]}
        assert (await indexer.account.get_subaccount_perpetual_positions("dydx1nobody", 0))["positions"] == []
        assert (await indexer.account.get_funding_payments("dydx1nobody", 0))["fundingPayments"] == []
        with pytest.raises(httpx.HTTPStatusError) as unknown:
            await indexer.markets.get_perpetual_market_trades("DOGE-USD")
        assert unknown.value.response.status_code == 404
        with pytest.raises(httpx.HTTPStatusError) as unlisted:
            await indexer.markets.get_perpetual_markets("DOGE-USD")
        assert unlisted.value.response.status_code == 404
        assert unlisted.value.response.json() == {
            "errors": [{"msg": "DOGE-USD not found in markets of type PERPETUAL"}]
        }
        assert list((await indexer.markets.get_perpetual_markets("ETH-USD"))["markets"]) == ["ETH-USD"]
        first = await indexer.account.get_subaccount_transfers(ADDRESS, 0)
        assert first["pageSize"] == 1000  # comlink's API_LIMIT_V4, what a request without a limit gets
        async with httpx.AsyncClient() as http:
            response = await http.get(dydx.replica.indexer_url + "/v4/orders", params={"address": ADDRESS})
        assert response.status_code == 400
        assert response.json()["errors"][0]["msg"] == "address and subaccountNumber are required"

    run(scenario())


def test_every_address_passes_the_screens_of_a_local_chain(dydx: Bench) -> None:
    async def scenario() -> None:
        utility = IndexerClient(dydx.replica.indexer_url).utility
        for address in (ADDRESS, "0x000000000000000000000000000000000000dEaD"):
            assert await utility.screen(address) == {"restricted": False}
            assert await utility.compliance_screen(address) == {"status": "COMPLIANT"}
        async with httpx.AsyncClient() as http:
            response = await http.get(dydx.replica.indexer_url + "/v4/screen")
        assert response.status_code == 400

    run(scenario())


def test_transfers_are_read_to_the_first_one_past_the_first_page(dydx: Bench) -> None:
    """Eight deposits over five blocks (at most two in one), read three rows a page: every one comes back once, newest
    first, and the replica pages /v4/transfers by ``page`` as the real indexer does."""
    blocks = [[1, 2], [3], [4, 5], [6, 7], [8]]  # the USDC of each deposit, by block

    async def scenario() -> None:
        for block in blocks:
            with dydx.chain.lock:  # the block ticker waits: the block's deposits share its height
                for usdc in block:
                    dydx.chain.credit_bridge_deposit(usdc, ADDRESS, usdc * 10**6, f"0x{usdc:064x}")
            await _next_block(dydx)
        async with DydxConnector(dydx.settings(), page_size=3) as connector:
            transfers = await connector.transfers()
        deposits = [t for t in transfers if t.kind == "DEPOSIT"]
        assert [t.size for t in deposits] == [D(usdc) for block in reversed(blocks) for usdc in block]
        assert len({t.transfer_id for t in deposits}) == 8
        heights = [t.created_at_height for t in deposits]
        assert heights == sorted(heights, reverse=True) and len(set(heights)) == len(blocks)

        async with httpx.AsyncClient(base_url=dydx.replica.indexer_url) as http:
            query = {"address": ADDRESS, "subaccountNumber": 0, "limit": 3}
            pages = [(await http.get("/v4/transfers", params={**query, "page": page})).json() for page in (1, 2, 3)]
        assert [(p["pageSize"], p["offset"], p["totalResults"]) for p in pages] == [(3, 0, 8), (3, 3, 8), (3, 6, 8)]
        assert [D(t["size"]) for p in pages for t in p["transfers"]] == [t.size for t in deposits]

    run(scenario())


def test_historical_funding_pages_back_by_effective_height_and_time(dydx: Bench) -> None:
    """Four funding periods in four blocks, read two at a time back in time as an integrator pages them with the
    official client (``effectiveBeforeOrAtHeight`` below the oldest row read, or ``effectiveBeforeOrAt`` at its
    time): each period comes back once, newest first, and the pages end."""
    rates = [D("0.0001"), D("0.0002"), D("-0.0001"), D("0.0003")]

    async def scenario() -> None:
        while dydx.chain.height < 3:  # a height of 0 asks for no bound (comlink reads it as absent)
            await _next_block(dydx)
        for rate in rates:
            dydx.chain.settle_funding("ETH-USD", rate)
            await _next_block(dydx)
        markets = IndexerClient(dydx.replica.indexer_url).markets
        read: list[dict[str, Any]] = []
        height: int | None = None
        while True:
            page = await markets.get_perpetual_market_historical_funding(
                "ETH-USD", effective_before_or_at_height=height, limit=2
            )
            read += page["historicalFunding"]
            if len(page["historicalFunding"]) < 2:
                break
            height = int(page["historicalFunding"][-1]["effectiveAtHeight"]) - 1
        assert [D(row["rate"]) for row in read] == list(reversed(rates))
        third = read[2]["effectiveAt"]
        older = await markets.get_perpetual_market_historical_funding("ETH-USD", effective_before_or_at=third)
        assert [D(row["rate"]) for row in older["historicalFunding"]] == rates[:2][::-1]
        with pytest.raises(httpx.HTTPStatusError) as garbage:
            await markets.get_perpetual_market_historical_funding("ETH-USD", effective_before_or_at="yesterday")
        assert garbage.value.response.status_code == 400

    run(scenario())


def test_fills_and_transfers_are_bounded_by_created_before_or_at(dydx: Bench) -> None:
    """Two buys and two deposits, each in its own block; the official client's ``created_before_or_at`` (a time,
    as comlink's ``createdBeforeOrAt``) at the older one's time keeps only the older one, as a client paging back
    in time needs (before, every row came back and such paging never ended)."""
    dydx.seed("BTC-USD", SELL, (60_000, "0.2"))

    async def scenario() -> None:
        account = IndexerClient(dydx.replica.indexer_url).account
        async with DydxConnector(dydx.settings()) as connector:
            for usdc in (1, 2):
                await connector.order_result(
                    await connector.place_order(OrderRequest("BTC-USD", Side.BUY, D("0.1"), D(60_000)))
                )
                with dydx.chain.lock:
                    dydx.chain.credit_bridge_deposit(usdc, ADDRESS, usdc * 10**6, f"0x{usdc:064x}")
                await _next_block(dydx)
        fills = (await account.get_subaccount_fills(ADDRESS, 0))["fills"]
        transfers = (await account.get_subaccount_transfers(ADDRESS, 0))["transfers"]
        assert (len(fills), len(transfers)) == (2, 2)
        older_fill = await account.get_subaccount_fills(ADDRESS, 0, created_before_or_at=fills[1]["createdAt"])
        assert [fill["id"] for fill in older_fill["fills"]] == [fills[1]["id"]]
        older = await account.get_subaccount_transfers(ADDRESS, 0, created_before_or_at=transfers[1]["createdAt"])
        assert [transfer["size"] for transfer in older["transfers"]] == ["1"]
        with pytest.raises(httpx.HTTPStatusError) as garbage:
            await account.get_subaccount_fills(ADDRESS, 0, created_before_or_at="yesterday")
        assert garbage.value.response.status_code == 400

    run(scenario())


def test_fills_page_by_page_oldest_first(dydx: Bench) -> None:
    """/v4/fills with ``page``, as comlink serves it: the fills oldest first (its event order), ``limit`` a page, so
    pages 1, 2, 3 of one fill each are the three buys in the order they were made, and page 4 is empty."""
    dydx.seed("BTC-USD", SELL, (60_000, "0.3"))

    async def scenario() -> None:
        async with DydxConnector(dydx.settings()) as connector:
            for _ in range(3):
                await connector.order_result(
                    await connector.place_order(OrderRequest("BTC-USD", Side.BUY, D("0.1"), D(60_000)))
                )
                await _next_block(dydx)
        async with httpx.AsyncClient(base_url=dydx.replica.indexer_url) as http:
            query = {"address": ADDRESS, "subaccountNumber": 0, "limit": 1}
            pages = [(await http.get("/v4/fills", params={**query, "page": page})).json() for page in (1, 2, 3, 4)]
            newest_first = (await http.get("/v4/fills", params={"address": ADDRESS, "subaccountNumber": 0})).json()
        ids = [fill["id"] for page in pages for fill in page["fills"]]
        assert ids == [fill["id"] for fill in reversed(newest_first["fills"])] and len(ids) == 3
        assert [(p["pageSize"], p["offset"], p["totalResults"]) for p in pages] == [
            (1, 0, 3),
            (1, 1, 3),
            (1, 2, 3),
            (1, 3, 3),
        ]

    run(scenario())

"""The replica's parent-subaccount routes read through the official client's `IndexerClient`: parent 0 aggregates
subaccount 0 (cross margin) and its isolated child 128, and leaves out subaccount 1, another parent's."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from dydx_v4_client.indexer.rest.indexer_client import IndexerClient

from keeper.connectors.dydx import DydxConnector, OrderRequest, Side
from keeper.devnet.dydx.chain import BUY, SELL

from .dydx_replica import ADDRESS, Bench
from .test_dydx_indexer import _next_block, run

D = Decimal


def test_a_parent_subaccount_aggregates_its_children_through_the_official_client(dydx: Bench) -> None:
    dydx.chain.fund(ADDRESS, D(5_000), 128)
    dydx.chain.fund(ADDRESS, D(777), 1)
    dydx.chain.credit_bridge_deposit(0, ADDRESS, 250_000_000, "0xdeposit")  # 250 USDC into subaccount 0
    dydx.seed("BTC-USD", SELL, (60_000, "0.1"))
    dydx.seed("ETH-USD", BUY, (3_000, "1"))

    async def scenario() -> None:
        indexer = IndexerClient(dydx.replica.indexer_url)
        async with (
            DydxConnector(dydx.settings()) as cross,
            DydxConnector(dydx.settings(subaccount_number=128)) as isolated,
        ):
            bought = await cross.place_order(OrderRequest("BTC-USD", Side.BUY, D("0.1"), D(60_000)))
            assert (await cross.order_result(bought)).filled_size == D("0.1")
            sold = await isolated.place_order(OrderRequest("ETH-USD", Side.SELL, D(1), D(3_000)))
            assert (await isolated.order_result(sold)).filled_size == D(1)
            await isolated.withdraw(D(100))
            await _next_block(dydx)
            await _next_block(dydx)
            dydx.chain.settle_funding("BTC-USD", D("0.0001"))  # subaccount 0's long pays 0.1 x 60,000 x 0.0001
            dydx.chain.settle_funding("ETH-USD", D("0.0001"))  # subaccount 128's short receives 1 x 3,000 x 0.0001
            children = [await cross.subaccount(), await isolated.subaccount()]

        account = indexer.account
        parent = (await account.get_parent_subaccount(ADDRESS, 0))["subaccount"]
        assert (parent["address"], parent["parentSubaccountNumber"]) == (ADDRESS, 0)
        assert [child["subaccountNumber"] for child in parent["childSubaccounts"]] == [0, 128]
        assert D(parent["equity"]) == sum((child.equity for child in children), D(0))
        assert D(parent["freeCollateral"]) == sum((child.free_collateral for child in children), D(0))

        positions = (await account.get_parent_subaccount_positions(ADDRESS, 0))["positions"]
        assert sorted((p["subaccountNumber"], p["market"], p["side"], p["size"]) for p in positions) == [
            (0, "BTC-USD", "LONG", "0.1"),
            (128, "ETH-USD", "SHORT", "-1"),
        ]

        usdc = (await account.get_parent_subaccount_asset_positions(ADDRESS, 0))["positions"]
        assert [(row["subaccountNumber"], D(row["size"])) for row in usdc] == [
            (0, children[0].usdc),
            (128, children[1].usdc),
        ]

        orders = await account.list_parent_orders(ADDRESS, 0)
        assert sorted((o["subaccountNumber"], o["ticker"], o["side"], o["status"]) for o in orders) == [
            (0, "BTC-USD", "BUY", "FILLED"),
            (128, "ETH-USD", "SELL", "FILLED"),
        ]
        assert [o["ticker"] for o in await account.list_parent_orders(ADDRESS, 0, ticker="ETH-USD")] == ["ETH-USD"]

        fills = await account.get_parent_fills(ADDRESS, 0)
        assert fills["totalResults"] == 2
        assert sorted((f["subaccountNumber"], f["market"], f["price"], f["size"]) for f in fills["fills"]) == [
            (0, "BTC-USD", "60000", "0.1"),
            (128, "ETH-USD", "3000", "1"),
        ]

        transfers = (await account.get_parent_transfers(ADDRESS, 0))["transfers"]
        assert [(t["type"], t["size"], t["sender"], t["recipient"]) for t in transfers] == [
            ("WITHDRAWAL", "100", {"address": ADDRESS, "parentSubaccountNumber": 0}, {"address": ADDRESS}),
            ("DEPOSIT", "250", {"address": ADDRESS}, {"address": ADDRESS, "parentSubaccountNumber": 0}),
        ]

        payments = (await account.get_funding_payments_for_parent_subaccount(ADDRESS, 0))["fundingPayments"]
        assert [(p["subaccountNumber"], p["ticker"], D(p["payment"])) for p in payments] == [
            ("128", "ETH-USD", D("0.3")),
            ("0", "BTC-USD", D("-0.6")),
        ]

        (tick,) = (await account.get_parent_historical_pnls(ADDRESS, 0))["historicalPnl"]
        assert (tick["equity"], D(tick["netTransfers"])) == (parent["equity"], D(150))  # 250 in, 100 out
        assert D(tick["totalPnl"]) == D(parent["equity"]) - 150

    run(scenario())


def test_the_parent_routes_refuse_what_the_real_indexer_refuses(dydx: Bench) -> None:
    async def scenario() -> None:
        account = IndexerClient(dydx.replica.indexer_url).account
        with pytest.raises(httpx.HTTPStatusError) as beyond:
            await account.get_parent_subaccount_positions(ADDRESS, 128)
        assert beyond.value.response.status_code == 400
        assert beyond.value.response.json() == {
            "errors": [{"msg": "parentSubaccountNumber must be a non-negative integer less than 128"}]
        }
        with pytest.raises(httpx.HTTPStatusError) as nobody:
            await account.get_parent_subaccount("dydx1nobody", 0)
        assert nobody.value.response.status_code == 404
        with pytest.raises(httpx.HTTPStatusError) as no_pnl:
            await account.get_parent_historical_pnls("dydx1nobody", 3)
        assert no_pnl.value.response.status_code == 404
        assert (await account.get_parent_subaccount_positions("dydx1nobody", 0))["positions"] == []
        assert await account.list_parent_orders(ADDRESS, 5) == []

    run(scenario())

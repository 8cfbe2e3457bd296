"""The rest of RabbitX's REST API on the running devnet, as RabbitX's own clients call it: reads with the API key
alone, the dead-man switch, the fee tier (`/profile`), JWT refresh and validation, and candles."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from typing import Any

import pytest

from keeper.connectors.rabbitx.client import RabbitXClient
from keeper.connectors.rabbitx.errors import RabbitXAuthError, RabbitXRequestError
from keeper.connectors.rabbitx.onboarding import sign_onboarding
from keeper.connectors.rabbitx.signing import HEADER_API_KEY, HEADER_TIMESTAMP

from .helpers import harness, run, wait_for, wait_order, wallet_key

D = Decimal


def test_reads_need_the_api_key_alone_and_writes_a_signature() -> None:
    """RabbitX's Go client reads /account and /orders with RBT-API-KEY only; a write without a signature is 401."""

    async def scenario() -> None:
        async with harness() as h:
            trader = await h.trader(30)
            assert trader.credentials is not None
            key_only = {HEADER_API_KEY: trader.credentials.api_key}
            async with h.session.get(h.url + "/account", headers=key_only) as response:
                body = await response.json()
            assert (response.status, body["result"][0]["id"]) == (200, trader.credentials.profile_id)

            async with h.session.get(h.url + "/account", headers={HEADER_API_KEY: "nope"}) as response:
                assert response.status == 401

            order = json.dumps({"market_id": "BTC-USD", "side": "long", "size": 0.001, "price": 1000, "type": "limit"})
            async with h.session.post(h.url + "/orders", data=order, headers=key_only) as response:
                body = await response.json()
            assert (response.status, body["error"]) == (401, "missing RBT-SIGNATURE header")
            assert await trader.orders() == []

    run(scenario())


async def _deadman(client: RabbitXClient, method: str, **params: str) -> list[Any]:
    return await client.private(method, "/cancel_all_after", params={"market_id": "BTC-USD", **params})


def test_the_deadman_switch_cancels_orders_when_order_requests_stop() -> None:
    async def scenario() -> None:
        async with harness() as h:
            trader = await h.trader(31)
            first = await trader.create_order("BTC-USD", "long", D("0.01"), D(50000))
            await wait_order(trader, first["id"], "open")

            (switch,) = await _deadman(trader, "POST", timeout="1000")
            assert (switch["market_id"], switch["timeout"], switch["status"]) == ("BTC-USD", 1000, "active")
            await asyncio.sleep(0.5)
            second = await trader.create_order("BTC-USD", "long", D("0.01"), D(49000))  # an order request: restart
            await asyncio.sleep(0.7)  # 1.2 s after the switch was set, 0.7 s after the last order request
            assert (await trader.order(first["id"]))["status"] == "open"

            async def cancelled() -> dict[str, Any] | None:
                order = await trader.order(first["id"])
                return order if order["status"] == "canceled" else None

            gone = await wait_for(cancelled, timeout=5.0, what="the dead-man switch")
            assert gone["reason"] == "deadman switch: no order request for 1000 ms"
            assert (await trader.order(second["id"]))["status"] == "canceled"
            (fired,) = await _deadman(trader, "GET")
            assert fired["status"] == "canceled"

    run(scenario())


def test_a_removed_deadman_switch_cancels_nothing() -> None:
    async def scenario() -> None:
        async with harness() as h:
            trader = await h.trader(32)
            assert await _deadman(trader, "GET") == []
            order = await trader.create_order("BTC-USD", "long", D("0.01"), D(50000))
            await wait_order(trader, order["id"], "open")
            await _deadman(trader, "POST", timeout="200")
            (removed,) = await _deadman(trader, "DELETE")
            assert removed["status"] == "canceled"
            await asyncio.sleep(0.5)
            assert (await trader.order(order["id"]))["status"] == "open"
            assert await _deadman(trader, "GET") == []

            with pytest.raises(RabbitXRequestError, match="timeout is required"):
                await _deadman(trader, "POST", timeout="0")
            with pytest.raises(RabbitXRequestError, match="unknown market 'DOGE-USD'"):
                await trader.private("POST", "/cancel_all_after", params={"market_id": "DOGE-USD", "timeout": "100"})

    run(scenario())


def test_profile_reports_the_fee_tier_the_traded_volume_reaches() -> None:
    async def scenario() -> None:
        async with harness() as h:
            maker, taker = await h.trader(33, deposit=D(50_000)), await h.trader(34, deposit=D(50_000))
            (fresh,) = await taker.private("GET", "/profile")
            assert fresh["tier_status"]["current"] == {"tier": 0, "title": "VIP 0", "min_volume": "0"}
            assert fresh["tier_status"]["needed_volume"] == "100000"

            ask = await maker.create_order("BTC-USD", "short", D(2), D(60000))
            await wait_order(maker, ask["id"], "open")
            bought = await taker.create_order("BTC-USD", "long", D(2), D(60000))
            await wait_order(taker, bought["id"], "closed")
            (traded,) = await taker.private("GET", "/profile")  # 120,000 traded
            assert traded["tier_status"]["current"]["tier"] == 1
            assert traded["tier_status"]["next"] == {"tier": 2, "title": "VIP 2", "min_volume": "500000"}
            assert traded["tier_status"]["needed_volume"] == "380000"

    run(scenario())


def test_a_jwt_is_refreshed_for_its_own_account_only_and_validated() -> None:
    async def scenario() -> None:
        async with harness() as h:
            key, address = wallet_key(35)
            expiry = int(time.time()) + 300
            body = {"wallet": address, "signature": sign_onboarding(key, expiry), "isClient": False}
            async with h.session.post(h.url + "/onboarding", json=body, headers={HEADER_TIMESTAMP: str(expiry)}) as r:
                onboarded = (await r.json())["result"][0]
            trader = RabbitXClient(h.session, h.url)
            await trader.onboard(key, address)  # a second key for the same account
            other = await h.trader(36)

            for token in (onboarded["refreshToken"], onboarded["jwt"]):
                (fresh,) = await trader.private("POST", "/jwt", {"refresh_token": token, "is_client": False})
                assert fresh["jwt"].count(".") == 2
                await trader.private("GET", "/account/validate", params={"jwt": fresh["jwt"]})

            assert other.credentials is not None
            with pytest.raises(RabbitXAuthError, match="belongs to account"):
                await trader.private("POST", "/jwt", {"refresh_token": other.credentials.jwt, "is_client": False})
            with pytest.raises(RabbitXAuthError, match="neither a refresh token nor a JWT"):
                await trader.private("POST", "/jwt", {"refresh_token": "forged", "is_client": False})
            with pytest.raises(RabbitXAuthError, match="jwt is not valid"):
                await trader.private("GET", "/account/validate", params={"jwt": "a.b.c"})
            with pytest.raises(RabbitXAuthError, match="jwt is for account"):
                await trader.private("GET", "/account/validate", params={"jwt": other.credentials.jwt})

    run(scenario())


def test_candles_are_built_from_the_trades() -> None:
    async def scenario() -> None:
        async with harness() as h:
            maker, taker = await h.trader(37), await h.trader(38)
            for price, size in ((D(60000), D("0.1")), (D(60300), D("0.2")), (D(59800), D("0.05"))):
                ask = await maker.create_order("BTC-USD", "short", size, price)
                await wait_order(maker, ask["id"], "open")
                bought = await taker.create_order("BTC-USD", "long", size, price)
                await wait_order(taker, bought["id"], "closed")
            now = int(time.time())
            query = {"market_id": "BTC-USD", "timestamp_from": str(now - 3600), "timestamp_to": str(now + 1)}
            candles = await taker.public("/candles", {**query, "period": "1440"})
            assert candles == [
                {
                    "time": now - now % 86400,
                    "low": "59800",
                    "high": "60300",
                    "open": "60000",
                    "close": "59800",
                    "volume": "0.35",
                }
            ]
            assert await taker.public("/candles", {**query, "timestamp_to": str(now - 3000), "period": "1"}) == []
            with pytest.raises(RabbitXRequestError, match="period must be one of 1, 5, 15, 30, 60, 240, 1440"):
                await taker.public("/candles", {**query, "period": "2"})

    run(scenario())

"""The running devnet accepting RBT-* signatures made as RabbitX's clients make them and refusing wrong or stale
ones with 401; onboarding over HTTP; WebSocket tokens."""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp

from keeper.connectors.rabbitx.onboarding import sign_onboarding
from keeper.connectors.rabbitx.signing import HEADER_API_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP, auth_headers, sign

from .helpers import harness, run, wallet_key


def test_server_accepts_right_and_refuses_wrong_or_stale_signatures() -> None:
    async def scenario() -> None:
        async with harness() as h:
            trader = await h.trader(20)
            creds = trader.credentials
            assert creds is not None
            url = h.url + "/account"

            async def get(headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
                async with h.session.get(url, headers=headers) as response:
                    return response.status, await response.json()

            now = int(time.time())
            status, body = await get(auth_headers(creds.api_key, creds.secret, "GET", "/account", None, now))
            assert (status, body["success"]) == (200, True)
            assert body["result"][0]["id"] == creds.profile_id

            wrong = auth_headers(creds.api_key, "0x" + "ab" * 32, "GET", "/account", None, now)
            status, body = await get(wrong)
            assert (status, body["success"]) == (401, False)
            assert body["error"].startswith("invalid signature")

            stale_ts = now - 1
            stale = {
                HEADER_API_KEY: creds.api_key,
                HEADER_TIMESTAMP: str(stale_ts),
                HEADER_SIGNATURE: sign({"method": "GET", "path": "/account"}, creds.secret, stale_ts),
            }
            status, body = await get(stale)
            assert status == 401
            assert body["error"].startswith(f"signature expired: RBT-TS {stale_ts}")

            far = auth_headers(creds.api_key, creds.secret, "GET", "/account", None, now, lifetime=3600)
            status, body = await get(far)
            assert status == 401 and "more than 600s" in body["error"]

            status, body = await get({HEADER_TIMESTAMP: str(now + 300)})
            assert status == 401 and body["error"] == "missing RBT-API-KEY header"

            unknown = auth_headers("nope", creds.secret, "GET", "/account", None, now)
            status, body = await get(unknown)
            assert status == 401 and body["error"].startswith("unknown API key")

            # A signature over one body does not authorise another.
            signed_body = '{"market_id": "BTC-USD", "side": "long", "size": 0.001, "price": 1000, "type": "limit"}'
            sent_body = signed_body.replace("0.001", "0.002")
            headers = auth_headers(creds.api_key, creds.secret, "POST", "/orders", signed_body, now)
            async with h.session.post(h.url + "/orders", data=sent_body, headers=headers) as response:
                assert response.status == 401
                assert (await response.json())["error"].startswith("invalid signature")

    run(scenario())


def test_server_accepts_a_request_shaped_like_the_python_clients() -> None:
    """Body = json.dumps(data) with method/path inside and float numbers; signature over `data` (RabbitX style)."""

    async def scenario() -> None:
        async with harness() as h:
            trader = await h.trader(21)
            creds = trader.credentials
            assert creds is not None
            expiry = int(time.time()) + 300
            data = {
                "market_id": "BTC-USD",
                "price": 59000.0,
                "side": "long",
                "size": 0.001,
                "type": "limit",
                "method": "POST",
                "path": "/orders",
            }
            headers = {
                HEADER_TIMESTAMP: str(expiry),
                HEADER_API_KEY: creds.api_key,
                HEADER_SIGNATURE: sign(data, creds.secret, expiry),
                "Content-Type": "application/json",
            }
            async with h.session.post(h.url + "/orders", data=json.dumps(data), headers=headers) as response:
                body = await response.json()
            assert response.status == 200, body
            order = body["result"][0]
            assert (order["status"], order["price"], order["size"]) == ("processing", "59000", "0.001")

    run(scenario())


def test_onboarding_over_http_issues_working_keys_and_refuses_bad_signatures() -> None:
    async def scenario() -> None:
        async with harness() as h:
            key, address = wallet_key(22)
            expiry = int(time.time()) + 300
            body = {"wallet": address, "signature": sign_onboarding(key, expiry), "isClient": False}
            async with h.session.post(h.url + "/onboarding", json=body, headers={HEADER_TIMESTAMP: str(expiry)}) as r:
                reply = await r.json()
            assert r.status == 200, reply
            result = reply["result"][0]
            assert result["profile"]["wallet"] == address
            assert result["profile"]["profile_type"] == "trader"
            assert result["apiSecret"]["Secret"].startswith("0x") and result["apiSecret"]["Key"]
            assert result["jwt"].count(".") == 2

            other_key, _ = wallet_key(23)
            forged = {"wallet": address, "signature": sign_onboarding(other_key, expiry), "isClient": False}
            async with h.session.post(h.url + "/onboarding", json=forged, headers={HEADER_TIMESTAMP: str(expiry)}) as r:
                assert r.status == 401
                assert "does not recover to the wallet" in (await r.json())["error"]
            late = {"wallet": address, "signature": sign_onboarding(key, expiry - 400), "isClient": False}
            headers = {HEADER_TIMESTAMP: str(expiry - 400)}
            async with h.session.post(h.url + "/onboarding", json=late, headers=headers) as r:
                assert r.status == 401 and "expired" in (await r.json())["error"]

            async with h.session.ws_connect(h.ws_url) as ws:
                await ws.send_str(json.dumps({"connect": {"token": "x.y.z", "name": "js"}, "id": 1}))
                reply = await ws.receive_json(timeout=5)
                assert reply["error"]["code"] == 101
                closing = await ws.receive(timeout=5)
                assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)

    run(scenario())

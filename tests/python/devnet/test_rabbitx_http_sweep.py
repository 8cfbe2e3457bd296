"""The devnet RabbitX under hostile requests, correctly signed so that they reach the handlers: every one refused in
RabbitX's envelope (`{"success": false, "error": ..., "result": []}`) with a 4xx naming what was wrong, never a 500
or an exception's text; the account unchanged (balance, orders, positions, balance operations); and the exchange
still serving, also after WebSocket clients that send garbage or vanish mid-subscription."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from typing import Any

import aiohttp

from keeper.connectors.rabbitx.client import RabbitXClient
from keeper.connectors.rabbitx.signing import HEADER_API_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP, auth_headers

from .helpers import Harness, harness, run, wait_order

ORDER = {"market_id": "BTC-USD", "price": "60000", "size": "0.01", "side": "long", "type": "limit"}
# Numbers no request may carry: exponents past any price, sizes or amounts of other scripts' digits, forms Decimal()
# reads but JSON and RabbitX's float64 do not.
BAD_NUMBERS: list[tuple[Any, str]] = [
    ("1e400", "is too large"),
    ("1" * 40, "is too large"),
    ("1e-400", "has more than 18 decimal places"),
    ("NaN", "must be a decimal number"),
    ("Infinity", "must be a decimal number"),
    ("0x10", "must be a decimal number"),
    ("1_000", "must be a decimal number"),
    ("\u0661", "must be a decimal number"),  # ARABIC-INDIC DIGIT ONE
    ("\uff11", "must be a decimal number"),  # FULLWIDTH DIGIT ONE
    ("1,5", "must be a decimal number"),
    ([], "must be a number"),
    ({"value": 1}, "must be a number"),
    (True, "must be a number"),
]


def cases() -> list[tuple[str, str, dict[str, Any], int, str]]:
    """(method, path, body, status, message) for every signed route that reads the body."""
    out: list[tuple[str, str, dict[str, Any], int, str]] = []
    for number, message in BAD_NUMBERS:
        out += [
            ("POST", "/orders", {**ORDER, "price": number}, 400, f"price {message}"),
            ("POST", "/orders", {**ORDER, "size": number}, 400, f"size {message}"),
            ("POST", "/balanceops/withdraw", {"amount": number}, 400, f"amount {message}"),
            ("PUT", "/account/leverage", {"market_id": "BTC-USD", "leverage": number}, 400, f"leverage {message}"),
            ("PUT", "/orders", {"market_id": "BTC-USD", "order_id": "BTC-USD@1", "price": number}, 400, message),
        ]
    out += [
        ("POST", "/orders", {**ORDER, "client_order_id": {"nested": 1}}, 400, "client_order_id must be a string"),
        ("POST", "/orders", {**ORDER, "client_order_id": 7}, 400, "client_order_id must be a string"),
        ("POST", "/orders", {**ORDER, "market_id": "\u00dcNICODE-\u20ac"}, 400, "unknown market"),
        ("POST", "/orders", {**ORDER, "side": ["long"]}, 400, "side must be 'long' or 'short'"),
        ("POST", "/orders", {**ORDER, "type": "stop_loss"}, 400, "type must be 'limit' or 'market'"),
        ("POST", "/orders", {**ORDER, "time_in_force": 5}, 400, "time_in_force must be one of"),
        ("POST", "/orders", {**ORDER, "reduce_only": "maybe"}, 400, "reduce_only must be true or false"),
        ("POST", "/orders", {k: v for k, v in ORDER.items() if k != "market_id"}, 400, "market_id is required"),
        ("DELETE", "/orders", {"market_id": "BTC-USD", "order_id": ["BTC-USD@1"]}, 400, "order_id must be a string"),
        ("DELETE", "/orders", {"market_id": "BTC-USD", "order_id": "BTC-USD@999"}, 400, "order BTC-USD@999 not found"),
        ("DELETE", "/orders", {"market_id": "BTC-USD"}, 400, "order_id or client_order_id is required"),
        ("PUT", "/orders", {"market_id": "BTC-USD", "order_id": "BTC-USD@1", "size": "0.1"}, 400, "@1 not found"),
        ("POST", "/balanceops/withdraw", {"amount": "-0"}, 400, "withdrawal amount must be positive"),
        ("POST", "/balanceops/withdraw", {"amount": "1000000"}, 400, "insufficient withdrawable balance"),
        ("POST", "/balanceops/withdraw", {"amount": "0.0000001"}, 400, "more than 6 decimals"),
        ("PUT", "/account/leverage", {"market_id": "BTC-USD", "leverage": "2.5"}, 400, "must be an integer"),
        ("PUT", "/account/leverage", {"market_id": "BTC-USD", "leverage": "0"}, 400, "leverage must be from 1 to"),
        ("PUT", "/account/leverage", {"market_id": "NOPE", "leverage": "2"}, 400, "unknown market 'NOPE'"),
        ("POST", "/cancel_all_after", {"market_id": "BTC-USD", "timeout": "1e400"}, 400, "timeout must be an integer"),
        ("POST", "/cancel_all_after", {"market_id": "BTC-USD", "timeout": "-5"}, 400, "must not be negative"),
        ("POST", "/cancel_all_after", {"market_id": "NOPE", "timeout": "100"}, 400, "unknown market 'NOPE'"),
        ("POST", "/jwt", {"refresh_token": {"a": 1}}, 401, "neither a refresh token nor a JWT"),
    ]
    return out


async def account_state(h: Harness, client: RabbitXClient) -> tuple[Any, ...]:
    """What a refused request must not change: the account's money, its orders, positions and balance operations."""
    assert client.credentials is not None
    profile_id = client.credentials.profile_id
    account = h.devnet.exchange.account_json(profile_id)
    profile = h.devnet.exchange.profile(profile_id)
    return (
        account["balance"],
        account["withdrawable_balance"],
        account["leverage"],
        list(profile.order_ids),
        h.devnet.exchange.positions_json(profile_id),
        [op.to_json() for op in profile.balance_ops],
    )


def assert_refused(status: int, body: dict[str, Any], expected: int, message: str, what: str) -> None:
    assert (status, body["success"], body["result"]) == (expected, False, []), (what, status, body)
    assert message in body["error"], (what, body["error"])
    assert "Traceback" not in body["error"] and "\n" not in body["error"], (what, body["error"])


async def send(
    h: Harness, client: RabbitXClient, method: str, path: str, body: bytes, query: str = ""
) -> tuple[int, dict[str, Any]]:
    """`body` sent as it is with RBT-* headers signed over it (a body that cannot be signed gets a signature over
    nothing, which the server must refuse without failing)."""
    assert client.credentials is not None
    credentials = client.credentials
    now = int(time.time())
    try:
        headers = auth_headers(credentials.api_key, credentials.secret, method, path, body, now)
    except Exception:
        headers = auth_headers(credentials.api_key, credentials.secret, method, path, b"", now)
    async with h.session.request(method, h.url + path + query, data=body, headers=headers) as response:
        return response.status, await response.json(content_type=None)


def test_signed_requests_with_bad_fields_are_refused_and_change_nothing() -> None:
    async def scenario() -> None:
        async with harness() as h:
            trader = await h.trader(1)
            before = await account_state(h, trader)
            for method, path, fields, status, message in cases():
                answer = await send(h, trader, method, path, json.dumps(fields).encode())
                assert_refused(*answer, status, message, f"{method} {path} {fields}")
            await asyncio.sleep(0.1)  # past the matching delay: nothing refused may be decided later either
            assert await account_state(h, trader) == before
            assert (await trader.account())["balance"] == "10000"

    run(scenario())


def test_bodies_that_are_not_json_objects_are_refused() -> None:
    async def scenario() -> None:
        async with harness() as h:
            trader = await h.trader(2)
            before = await account_state(h, trader)
            # What cannot be signed fails the signature (401, as RabbitX's clients sign JSON objects only); what can
            # be signed but is no JSON object after all is a bad request.
            for body, status, message in [
                (b"not json", 401, "request body must be a JSON object"),
                (b"\xff\xfe\x00\x01", 401, "request body is not UTF-8 text"),
                (b"[1, 2]", 401, "request body must be a JSON object"),
                (b"null", 401, "request body must be a JSON object"),
                (b"{", 401, "request body is not valid JSON"),
                (b'{"a": 1} trailing', 400, "body is not JSON"),
            ]:
                for method, path in (("POST", "/orders"), ("POST", "/balanceops/withdraw"), ("DELETE", "/orders")):
                    answer = await send(h, trader, method, path, body)
                    assert_refused(*answer, status, message, f"{method} {path} {body!r}")
            assert await account_state(h, trader) == before

    run(scenario())


def test_bad_authentication_headers_are_401s_naming_them() -> None:
    async def scenario() -> None:
        async with harness() as h:
            trader = await h.trader(3)
            assert trader.credentials is not None
            key = trader.credentials.api_key
            now = int(time.time())
            before = await account_state(h, trader)
            body = json.dumps(ORDER).encode()
            signed = auth_headers(key, trader.credentials.secret, "POST", "/orders", body, now)
            for headers, message in [
                ({}, "missing RBT-API-KEY header"),
                ({HEADER_API_KEY: "x" * 5000}, "unknown API key"),
                ({HEADER_API_KEY: key}, "missing RBT-SIGNATURE header"),
                ({HEADER_API_KEY: key, HEADER_SIGNATURE: "0x00"}, "missing RBT-TS header"),
                ({**signed, HEADER_TIMESTAMP: "\u00b2"}, "RBT-TS must be an integer"),  # str.isdigit takes "²"
                ({**signed, HEADER_TIMESTAMP: "\u0661\u0662"}, "RBT-TS must be an integer"),
                ({**signed, HEADER_TIMESTAMP: "-5"}, "RBT-TS must be an integer"),
                ({**signed, HEADER_TIMESTAMP: "9" * 400}, "is more than 600s after server time"),
                ({**signed, HEADER_TIMESTAMP: str(now - 5)}, "signature expired"),
                ({**signed, HEADER_SIGNATURE: "zz"}, "invalid signature"),
                ({**signed, HEADER_SIGNATURE: signed[HEADER_SIGNATURE][:-2] + "00"}, "invalid signature"),
            ]:
                async with h.session.post(h.url + "/orders", data=body, headers=headers) as response:
                    assert_refused(response.status, await response.json(), 401, message, str(headers)[:200])
            assert await account_state(h, trader) == before

    run(scenario())


def test_bad_query_strings_wrong_methods_and_unknown_paths() -> None:
    async def scenario() -> None:
        async with harness() as h:
            trader = await h.trader(4)
            for path, query, status, message in [
                ("/orders", "?p_limit=%C2%B2", 400, "p_limit must be an integer"),
                ("/fills", "?p_limit=%D9%A1", 400, "p_limit must be an integer"),
                ("/balanceops", "?p_page=1e400", 400, "p_page must be an integer"),
                ("/orders", "?p_order=sideways", 400, "p_order must be ASC or DESC"),
                ("/fills", "?after_sequence=%C2%B2", 400, "after_sequence must be an integer"),
                ("/markets/orderbook", "?market_id=NOPE", 400, "unknown market 'NOPE'"),
                ("/markets/orderbook", "?market_id=BTC-USD&p_limit=-1", 400, "p_limit must not be negative"),
                ("/markets/trades", "", 400, "market_id is required"),
                ("/candles", "?market_id=BTC-USD&period=7", 400, "period must be one of"),
                ("/candles", "?market_id=BTC-USD&period=%C2%B3", 400, "period must be an integer"),
                ("/account/validate", "?jwt=garbage", 401, "jwt is not valid"),
            ]:
                assert_refused(*await send(h, trader, "GET", path, b"", query), status, message, path + query)
            for method, path, status, message in [
                ("PATCH", "/orders", 405, "Method Not Allowed: PATCH /orders"),
                ("GET", "/balanceops/withdraw", 405, "Method Not Allowed: GET /balanceops/withdraw"),
                ("GET", "/nothing", 404, "Not Found: GET /nothing"),
            ]:
                async with h.session.request(method, h.url + path) as response:
                    assert_refused(response.status, await response.json(), status, message, path)
            async with h.session.post(h.url + "/orders", data=b"x" * (2 * 2**20)) as response:
                assert_refused(response.status, await response.json(), 413, "Request Entity Too Large", "huge body")
            async with h.session.get(h.url + "/markets") as response:
                assert response.status == 200

    run(scenario())


async def ws_reply(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    """The next reply that is not a ping."""
    while True:
        message = await asyncio.wait_for(ws.receive_json(), 5)
        if message != {}:
            return dict(message)


def test_websocket_garbage_gets_error_replies_and_the_socket_keeps_working() -> None:
    async def scenario() -> None:
        async with harness() as h:
            trader = await h.trader(5)
            assert trader.credentials is not None
            async with h.session.ws_connect(h.ws_url) as ws:
                await ws.send_bytes(b"\xff\x00binary")  # Centrifuge's JSON protocol has no binary frames: ignored
                for frame, code, message in [
                    ("not json", 107, "not JSON"),
                    ('{"id": 1, "connect": "token"}', 107, "connect is not an object"),
                    ('{"id": 2, "subscribe": ["orderbook:BTC-USD"]}', 107, "subscribe is not an object"),
                    ('{"id": 3, "unsubscribe": 5}', 107, "unsubscribe is not an object"),
                    ('{"id": 4, "subscribe": {"channel": "orderbook:BTC-USD"}}', 101, "connect first"),
                    ('{"id": 5, "publish": {}}', 107, "unknown command"),
                ]:
                    await ws.send_str(frame)
                    reply = await ws_reply(ws)
                    assert reply["error"]["code"] == code and message in reply["error"]["message"], (frame, reply)
                await ws.send_str(json.dumps({"id": 6, "connect": {"token": trader.credentials.jwt}}))
                assert "connect" in await ws_reply(ws)
                for channel, code, message in [
                    ("orderbook:NOPE", 102, "unknown market 'NOPE'"),
                    ("candles:BTC-USD", 102, "unknown channel"),
                    ("account@0", 103, "permission denied"),
                    ("\u20ac" * 1000, 102, "unknown channel"),
                ]:
                    await ws.send_str(json.dumps({"id": 7, "subscribe": {"channel": channel}}))
                    reply = await ws_reply(ws)
                    assert reply["error"]["code"] == code and message in reply["error"]["message"], (channel, reply)
                await ws.send_str(json.dumps({"id": 8, "subscribe": {"channel": "orderbook:BTC-USD"}}))
                assert (await ws_reply(ws))["subscribe"]["data"]["market_id"] == "BTC-USD"

    run(scenario())


def test_clients_that_vanish_mid_subscription_or_mid_request_do_not_break_the_others() -> None:
    async def scenario() -> None:
        async with harness() as h:
            maker = await h.trader(6)
            assert maker.credentials is not None
            for _ in range(5):
                vanished = await h.session.ws_connect(h.ws_url)
                await vanished.send_str(json.dumps({"id": 1, "connect": {"token": maker.credentials.jwt}}))
                await vanished.send_str(json.dumps({"id": 2, "subscribe": {"channel": "orderbook:BTC-USD"}}))
                await vanished.receive()
                # The TCP connection torn down under the socket, no closing handshake, pushes still due to it.
                transport = vanished._response.connection.transport  # type: ignore[union-attr]
                assert transport is not None
                transport.abort()
            host, port = h.url.removeprefix("http://").split(":")
            _, writer = await asyncio.open_connection(host, int(port))
            writer.write(b'POST /orders HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"market_id"')
            await writer.drain()
            writer.transport.abort()  # gone with the body half sent

            book = await h.session.ws_connect(h.ws_url)
            await book.send_str(json.dumps({"id": 1, "connect": {"token": maker.credentials.jwt}}))
            await book.send_str(json.dumps({"id": 2, "subscribe": {"channel": "orderbook:BTC-USD"}}))
            await ws_reply(book), await ws_reply(book)
            placed = await maker.create_order("BTC-USD", "short", Decimal("0.01"), Decimal("60000"))
            push = await ws_reply(book)
            assert push["push"]["channel"] == "orderbook:BTC-USD" and push["push"]["pub"]["data"]["asks"]
            await book.close()
            await wait_order(maker, placed["id"], "open")

    run(scenario())

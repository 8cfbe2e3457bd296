"""RabbitX's API as JSON: signed REST requests and the account WebSocket channel, as RabbitX's own clients speak it.

It speaks only the public API, so it works against the devnet replica and the real exchange alike (base URL and
keys). Numbers go out as JSON numbers written from Decimals (never through float) and come back as decimal strings;
`keeper.connectors.rabbitx.connector` turns the answers into typed records.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp

from keeper.connectors.rabbitx.errors import (
    RabbitXAuthError,
    RabbitXConnectionError,
    RabbitXError,
    RabbitXRequestError,
    RabbitXResponseError,
)
from keeper.connectors.rabbitx.numbers import decimal_string
from keeper.connectors.rabbitx.onboarding import sign_onboarding
from keeper.connectors.rabbitx.signing import HEADER_TIMESTAMP, SIGNATURE_LIFETIME, auth_headers

JsonObject = dict[str, Any]

COMMAND_TIMEOUT = 10.0
"""Seconds the WebSocket may take to answer connect or subscribe."""


@dataclass(frozen=True)
class Credentials:
    """What onboarding returns: the API key and hex secret that sign REST requests, the JWT that opens the
    WebSocket, and the account (profile) they belong to."""

    api_key: str
    secret: str = field(repr=False)
    jwt: str = field(repr=False)
    profile_id: int
    wallet: str = ""


def encode_body(data: Mapping[str, Any]) -> str:
    """A flat JSON object with Decimals written as JSON numbers in plain notation."""
    parts = []
    for key, value in data.items():
        text = decimal_string(value) if isinstance(value, Decimal) else json.dumps(value)
        parts.append(f"{json.dumps(key)}: {text}")
    return "{" + ", ".join(parts) + "}"


class RabbitXClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        credentials: Credentials | None = None,
        exchange_id: str = "rbx",
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`exchange_id` is RabbitX's ``EID`` header (which chain's exchange; keys are per chain); `clock` gives the
        UNIX time that RBT-TS expiries count from."""
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.exchange_id = exchange_id
        self.clock = clock

    async def onboard(self, private_key: str, wallet: str) -> Credentials:
        """POST /onboarding with the wallet's signature; keeps and returns the API key, secret and JWT."""
        timestamp = int(self.clock()) + SIGNATURE_LIFETIME
        body = {"wallet": wallet, "signature": sign_onboarding(private_key, timestamp), "isClient": False}
        result = await self._send("POST", "/onboarding", encode_body(body), {HEADER_TIMESTAMP: str(timestamp)})
        first = result[0]
        self.credentials = Credentials(
            api_key=first["apiSecret"]["Key"],
            secret=first["apiSecret"]["Secret"],
            jwt=first["jwt"],
            profile_id=int(first["profile"]["id"]),
            wallet=first["profile"]["wallet"],
        )
        return self.credentials

    async def public(self, path: str, params: Mapping[str, str] | None = None) -> list[Any]:
        return await self._send("GET", path, None, {}, params)

    def signed_request(
        self, method: str, path: str, body: Mapping[str, Any] | None, now: int
    ) -> tuple[str | None, dict[str, str]]:
        """The body text and RBT-* headers of a private request sent at UNIX second `now`.

        The signature is computed over the exact text sent, so the exchange rebuilds the same fields from it.
        """
        if self.credentials is None:
            raise RabbitXError("no RabbitX credentials: configure an API key and secret, or onboard first")
        text = encode_body(body) if body is not None else None
        headers = auth_headers(self.credentials.api_key, self.credentials.secret, method, path, text, now)
        return text, headers

    async def private(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        now: int | None = None,
    ) -> list[Any]:
        text, headers = self.signed_request(method, path, body, int(self.clock()) if now is None else now)
        return await self._send(method, path, text, headers, params)

    async def _send(
        self,
        method: str,
        path: str,
        body: str | None,
        headers: Mapping[str, str],
        params: Mapping[str, str] | None = None,
    ) -> list[Any]:
        all_headers = {"Content-Type": "application/json", "EID": self.exchange_id, **headers}
        try:
            async with self.session.request(
                method, self.base_url + path, data=body, headers=all_headers, params=params
            ) as response:
                try:
                    envelope = await response.json(content_type=None)
                except (json.JSONDecodeError, aiohttp.ContentTypeError):
                    text = (await response.text())[:200]
                    if response.status == 200:  # a success cut short: what the exchange did is unknown
                        message = f"RabbitX {method} {path}: an answer that is not JSON: {text!r}"
                        raise RabbitXResponseError(message) from None
                    envelope = {"success": False, "error": text}
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RabbitXConnectionError(f"RabbitX {method} {path}: {type(exc).__name__}: {exc}") from exc
        if response.status != 200 or not isinstance(envelope, dict) or not envelope.get("success"):
            error = str(envelope.get("error")) if isinstance(envelope, dict) else str(envelope)[:200]
            kind = RabbitXAuthError if response.status == 401 else RabbitXRequestError
            raise kind(method, path, response.status, error)
        result = envelope.get("result")
        return result if isinstance(result, list) else [result]

    # -------------------------------------------------------------- one call per endpoint

    async def create_order(
        self,
        market_id: str,
        side: str,
        size: Decimal,
        price: Decimal | None = None,
        order_type: str = "limit",
        time_in_force: str | None = None,
        client_order_id: str | None = None,
    ) -> JsonObject:
        body: JsonObject = {"market_id": market_id, "side": side, "size": size, "type": order_type}
        if price is not None:
            body["price"] = price
        if time_in_force:
            body["time_in_force"] = time_in_force
        if client_order_id:
            body["client_order_id"] = client_order_id
        result: JsonObject = (await self.private("POST", "/orders", body))[0]
        return result

    async def cancel_order(self, market_id: str, order_id: str) -> JsonObject:
        body = {"order_id": order_id, "market_id": market_id}
        result: JsonObject = (await self.private("DELETE", "/orders", body))[0]
        return result

    async def orders(self, **params: str) -> list[JsonObject]:
        return await self.private("GET", "/orders", params=params)

    async def order(self, order_id: str) -> JsonObject:
        rows = await self.orders(order_id=order_id)
        if not rows:
            raise RabbitXRequestError("GET", "/orders", 404, f"order {order_id} not found")
        result: JsonObject = rows[0]
        return result

    async def fills(self, **params: str) -> list[JsonObject]:
        return await self.private("GET", "/fills", params=params)

    async def account(self) -> JsonObject:
        result: JsonObject = (await self.private("GET", "/account"))[0]
        return result

    async def positions(self) -> list[JsonObject]:
        return await self.private("GET", "/positions")

    async def withdraw(self, amount: Decimal) -> JsonObject:
        result: JsonObject = (await self.private("POST", "/balanceops/withdraw", {"amount": amount}))[0]
        return result


class AccountStream:
    """The ``account@<profile_id>`` channel over RabbitX's Centrifuge WebSocket: connect with the JWT, subscribe,
    then read pushes (each a partial account update: orders, fills, positions, balance)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, snapshot: JsonObject, offset: int | None) -> None:
        self.ws = ws
        self.snapshot = snapshot
        """The subscription's first data: the account with its positions, open orders and recent fills."""
        self.offset = offset
        """The channel position of the last push read (Centrifuge's offset), when the exchange sends one."""
        self._pending: deque[JsonObject] = deque()

    @classmethod
    async def open(cls, session: aiohttp.ClientSession, ws_url: str, credentials: Credentials) -> AccountStream:
        try:
            ws = await session.ws_connect(ws_url)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RabbitXConnectionError(f"RabbitX WebSocket {ws_url}: {type(exc).__name__}: {exc}") from exc
        stream = cls(ws, {}, None)
        try:
            await stream._command({"connect": {"token": credentials.jwt, "name": "js"}, "id": 1}, "connect")
            channel = f"account@{credentials.profile_id}"
            reply = await stream._command({"subscribe": {"channel": channel, "name": "js"}, "id": 2}, channel)
        except BaseException:
            await ws.close()
            raise
        stream.snapshot = reply.get("data") or {}
        offset = reply.get("offset")
        stream.offset = int(offset) if offset is not None else None
        return stream

    async def _command(self, message: JsonObject, what: str) -> JsonObject:
        """Send one command and return its reply's body (pushes that arrive first are kept for `next_update`)."""
        await self.ws.send_str(json.dumps(message))
        while True:
            reply = await self._next_message(timeout=COMMAND_TIMEOUT)
            if reply.get("id") != message["id"]:
                self._pending.append(reply)
                continue
            if "error" in reply:
                raise RabbitXAuthError("WebSocket", what, 401, str(reply["error"]))
            body: JsonObject = next((v for k, v in reply.items() if k != "id"), {})
            return body

    async def next_update(self, timeout: float | None = 5.0) -> JsonObject:
        """The next account push's data; answers server pings on the way. TimeoutError after `timeout` seconds of
        silence; RabbitXConnectionError once the socket has closed."""
        while True:
            message = await self._next_message(timeout)
            push = message.get("push")
            if push is None:
                continue
            publication = push.get("pub") or {}
            if "offset" in publication:
                self.offset = int(publication["offset"])
            data: JsonObject = publication.get("data") or {}
            return data

    async def _next_message(self, timeout: float | None) -> JsonObject:
        # A frame may carry several messages separated by "\n" (Centrifuge's JSON protocol); an empty object is
        # the server's ping, answered with an empty object.
        while not self._pending:
            frame = await self.ws.receive(timeout=timeout)
            if frame.type is not aiohttp.WSMsgType.TEXT:
                raise RabbitXConnectionError(f"RabbitX WebSocket closed ({frame.type.name})")
            for line in str(frame.data).split("\n"):
                if not line.strip():
                    continue
                try:
                    message = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise RabbitXResponseError(f"RabbitX WebSocket sent a message that is not JSON: {exc}") from None
                if message == {}:
                    await self.ws.send_str("{}")
                elif isinstance(message, dict):
                    self._pending.append(message)
        return self._pending.popleft()

    async def close(self) -> None:
        await self.ws.close()

"""A small asyncio client of the RabbitX API (REST + account WebSocket), signing as RabbitX's clients do.

It speaks only the public API, so it works against the devnet and the real exchange alike (base URL and keys).
Numbers go out as JSON numbers written from Decimals (never through float) and come back as decimal strings.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp

from keeper.devnet.rabbitx.numbers import dstr
from keeper.devnet.rabbitx.onboarding import sign_onboarding
from keeper.devnet.rabbitx.signing import HEADER_TIMESTAMP, SIGNATURE_LIFETIME, auth_headers


class RabbitXError(Exception):
    def __init__(self, status: int, error: str) -> None:
        super().__init__(f"HTTP {status}: {error}")
        self.status = status
        self.error = error


@dataclass
class Credentials:
    api_key: str
    secret: str
    jwt: str
    profile_id: int
    wallet: str


def encode_body(data: Mapping[str, Any]) -> str:
    """A flat JSON object with Decimals written as JSON numbers in plain notation."""
    parts = []
    for key, value in data.items():
        text = dstr(value) if isinstance(value, Decimal) else json.dumps(value)
        parts.append(f"{json.dumps(key)}: {text}")
    return "{" + ", ".join(parts) + "}"


class RabbitXClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        credentials: Credentials | None = None,
        exchange_id: str = "rbx",
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.exchange_id = exchange_id

    async def onboard(self, private_key: str, wallet: str) -> Credentials:
        """POST /onboarding with the wallet's signature; keeps and returns the API key, secret and JWT."""
        timestamp = int(time.time()) + SIGNATURE_LIFETIME
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

    async def private(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        now: int | None = None,
    ) -> list[Any]:
        if self.credentials is None:
            raise RuntimeError("no credentials: onboard first")
        text = encode_body(body) if body is not None else None
        headers = auth_headers(
            self.credentials.api_key,
            self.credentials.secret,
            method,
            path,
            text,
            int(time.time()) if now is None else now,
        )
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
        async with self.session.request(
            method, self.base_url + path, data=body, headers=all_headers, params=params
        ) as response:
            try:
                envelope = await response.json(content_type=None)
            except (json.JSONDecodeError, aiohttp.ContentTypeError):
                raise RabbitXError(response.status, (await response.text())[:200]) from None
            if response.status != 200 or not envelope.get("success"):
                raise RabbitXError(response.status, str(envelope.get("error")))
            result = envelope.get("result")
            return result if isinstance(result, list) else [result]

    # -------------------------------------------------------------- convenience

    async def create_order(
        self,
        market_id: str,
        side: str,
        size: Decimal,
        price: Decimal | None = None,
        order_type: str = "limit",
        time_in_force: str | None = None,
        client_order_id: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"market_id": market_id, "side": side, "size": size, "type": order_type}
        if price is not None:
            body["price"] = price
        if time_in_force:
            body["time_in_force"] = time_in_force
        if client_order_id:
            body["client_order_id"] = client_order_id
        result: dict[str, Any] = (await self.private("POST", "/orders", body))[0]
        return result

    async def cancel_order(self, market_id: str, order_id: str) -> dict[str, Any]:
        result: dict[str, Any] = (
            await self.private("DELETE", "/orders", {"order_id": order_id, "market_id": market_id})
        )[0]
        return result

    async def order(self, order_id: str) -> dict[str, Any]:
        rows = await self.private("GET", "/orders", params={"order_id": order_id})
        if not rows:
            raise RabbitXError(404, f"order {order_id} not found")
        result: dict[str, Any] = rows[0]
        return result

    async def fills(self, **params: str) -> list[dict[str, Any]]:
        return await self.private("GET", "/fills", params=params)

    async def account(self) -> dict[str, Any]:
        result: dict[str, Any] = (await self.private("GET", "/account"))[0]
        return result

    async def positions(self) -> list[dict[str, Any]]:
        return await self.private("GET", "/positions")

    async def withdraw(self, amount: Decimal) -> dict[str, Any]:
        result: dict[str, Any] = (await self.private("POST", "/balanceops/withdraw", {"amount": amount}))[0]
        return result


class AccountStream:
    """The account channel over the WebSocket: connect with the JWT, subscribe, then read pushes."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, snapshot: dict[str, Any], offset: int) -> None:
        self.ws = ws
        self.snapshot = snapshot
        self.offset = offset

    @classmethod
    async def open(cls, session: aiohttp.ClientSession, ws_url: str, credentials: Credentials) -> AccountStream:
        ws = await session.ws_connect(ws_url)
        await ws.send_str(json.dumps({"connect": {"token": credentials.jwt, "name": "js"}, "id": 1}))
        reply = await _receive_json(ws)
        if "error" in reply:
            await ws.close()
            raise RabbitXError(401, str(reply["error"]))
        channel = f"account@{credentials.profile_id}"
        await ws.send_str(json.dumps({"subscribe": {"channel": channel, "name": "js"}, "id": 2}))
        while True:
            reply = await _receive_json(ws)
            if reply.get("id") == 2:
                break
        if "error" in reply:
            await ws.close()
            raise RabbitXError(403, str(reply["error"]))
        return cls(ws, reply["subscribe"]["data"], int(reply["subscribe"].get("offset", 0)))

    async def next_update(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next account push's data; answers server pings on the way."""
        while True:
            message = await _receive_json(self.ws, timeout)
            if message == {}:
                await self.ws.send_str("{}")
                continue
            push = message.get("push")
            if push is None:
                continue
            self.offset = int(push["pub"].get("offset", self.offset + 1))
            data: dict[str, Any] = push["pub"]["data"]
            return data

    async def close(self) -> None:
        await self.ws.close()


async def _receive_json(ws: aiohttp.ClientWebSocketResponse, timeout: float = 5.0) -> dict[str, Any]:
    message = await ws.receive(timeout=timeout)
    if message.type is not aiohttp.WSMsgType.TEXT:
        raise RabbitXError(0, f"websocket closed or sent {message.type.name}")
    data: dict[str, Any] = json.loads(str(message.data))
    return data

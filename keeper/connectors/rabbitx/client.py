"""RabbitX's API as JSON: signed REST requests and the account WebSocket channel, as RabbitX's own clients speak it.

It speaks only the public API, so it works against the devnet replica and the real exchange alike (base URL and
keys). Numbers go out as JSON numbers written from Decimals (never through float) and come back as decimal strings;
`keeper.connectors.rabbitx.connector` turns the answers into typed records.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import aiohttp
from centrifuge import (
    CentrifugeError,
    Client,
    ClientEventHandler,
    ConnectingContext,
    DisconnectedContext,
    ErrorContext,
    PublicationContext,
    ReplyError,
    SubscribedContext,
    SubscribingContext,
    SubscriptionErrorContext,
    SubscriptionEventHandler,
    UnsubscribedContext,
)

from keeper.connectors.rabbitx.errors import (
    ORDER_NOT_FOUND,
    RabbitXAuthError,
    RabbitXConnectionError,
    RabbitXError,
    RabbitXRateLimitError,
    RabbitXRequestError,
    RabbitXResponseError,
)
from keeper.connectors.rabbitx.numbers import decimal_string
from keeper.connectors.rabbitx.onboarding import sign_onboarding
from keeper.connectors.rabbitx.signing import HEADER_TIMESTAMP, SIGNATURE_LIFETIME, auth_headers

JsonObject = dict[str, Any]

COMMAND_TIMEOUT = 10.0
"""Seconds the WebSocket may take to answer connect or subscribe."""
RATE_LIMIT_WAIT = 5.0
"""Seconds to hold off after an HTTP 429 that names no wait (RabbitX sends ``X-RateLimit-Retry-After``)."""
MAX_ANSWER_BYTES = 16 * 2**20
"""No answer of the exchange's is near this (a page of 1,000 fills is about half a megabyte): one past it is refused
as it passes it, not read whole into the keeper's memory, which every job shares."""

RATE_LIMIT_WINDOW = 60.0
"""Seconds over which RabbitX counts a client's request tokens."""


@dataclass(frozen=True)
class Credentials:
    """What onboarding returns: the API key and hex secret that sign REST requests, the JWT that opens the
    WebSocket, and the account (profile) they belong to."""

    api_key: str
    secret: str = field(repr=False)
    jwt: str = field(repr=False)
    profile_id: int
    wallet: str = ""
    refresh_token: str = field(default="", repr=False)
    """Onboarding's token for renewing the JWT (`RabbitXClient.refresh_jwt`); without one the JWT itself renews."""


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
        # Until when (time.monotonic) the exchange asked for no more requests: its token bucket is per IP, so any
        # request sent before then would only be refused again and push the wait further.
        self._rate_limited_until = 0.0

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
            refresh_token=str(first.get("refreshToken") or ""),
        )
        return self.credentials

    async def refresh_jwt(self) -> str:
        """POST /jwt: a new JWT for the account, in exchange for its refresh token or, as RabbitX's own client
        sends, the JWT it has; kept in `credentials` (the WebSocket's next connection uses it) and returned."""
        if self.credentials is None:
            raise RabbitXError("no RabbitX credentials: configure an API key, secret and JWT")
        token = self.credentials.refresh_token or self.credentials.jwt
        answer = (await self.private("POST", "/jwt", {"refresh_token": token, "is_client": False}))[0]
        jwt = answer.get("jwt") if isinstance(answer, dict) else answer
        if not isinstance(jwt, str) or not jwt:
            raise RabbitXResponseError(f"RabbitX POST /jwt: an answer without a JWT: {str(answer)[:200]!r}")
        self.credentials = replace(self.credentials, jwt=jwt)
        return jwt

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
        wait = self._rate_limited_until - time.monotonic()
        if wait > 0:
            raise RabbitXRateLimitError(method, path, "not sent: the exchange's rate limit is still in force", wait)
        try:
            async with self.session.request(
                method, self.base_url + path, data=body, headers=all_headers, params=params
            ) as response:
                raw = await _read_at_most(response, MAX_ANSWER_BYTES, method, path)
                try:
                    envelope = json.loads(raw) if raw.strip() else None
                except (ValueError, RecursionError):  # not JSON, not even UTF-8, or nested past what the parser takes
                    text = raw[:200].decode("utf-8", errors="replace")
                    if response.status == 200:  # a success cut short: what the exchange did is unknown
                        message = f"RabbitX {method} {path}: an answer that is not JSON: {text!r}"
                        raise RabbitXResponseError(message) from None
                    envelope = {"success": False, "error": text}
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RabbitXConnectionError(f"RabbitX {method} {path}: {type(exc).__name__}: {exc}") from exc
        if response.status != 200 or not isinstance(envelope, dict) or not envelope.get("success"):
            error = str(envelope.get("error")) if isinstance(envelope, dict) else str(envelope)[:200]
            if response.status == 429:
                wait = _retry_after(response.headers)
                self._rate_limited_until = max(self._rate_limited_until, time.monotonic() + wait)
                raise RabbitXRateLimitError(method, path, error, wait)
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
            raise RabbitXRequestError("GET", "/orders", 404, f"{ORDER_NOT_FOUND}: order {order_id} not found")
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

    async def claim_withdrawal(self, withdrawal_id: str) -> JsonObject:
        """go-client's ``PATH_CLAIM_WITHDRAWAL``; RabbitX documents neither its body nor its answer (API_NOTES.md)."""
        result: JsonObject = (await self.private("POST", "/balanceops/claim", {"id": withdrawal_id}))[0]
        return result

    async def cancel_withdrawal(self, withdrawal_id: str) -> JsonObject:
        """go-client's ``PATH_CANCEL_WITHDRAWAL``; RabbitX documents neither its body nor its answer (API_NOTES.md)."""
        result: JsonObject = (await self.private("POST", "/balanceops/cancel", {"id": withdrawal_id}))[0]
        return result


async def _read_at_most(response: aiohttp.ClientResponse, most: int, method: str, path: str) -> bytes:
    """The answer's body, refused (RabbitXResponseError) as soon as it passes `most` bytes."""
    body = bytearray()
    if (response.content_length or 0) <= most:
        async for chunk in response.content.iter_any():
            body += chunk
            if len(body) > most:
                break
    if len(body) > most or (response.content_length or 0) > most:
        raise RabbitXResponseError(f"RabbitX {method} {path}: an answer of more than {most:,} bytes")
    return bytes(body)


def _retry_after(headers: Mapping[str, str]) -> float:
    """Seconds a 429 answer asks the client to wait: RabbitX's ``X-RateLimit-Retry-After``, else the standard
    ``Retry-After`` (in seconds), else `RATE_LIMIT_WAIT`."""
    for name in ("X-RateLimit-Retry-After", "Retry-After"):
        try:
            seconds = float(headers.get(name, ""))
        except ValueError:
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return min(seconds, RATE_LIMIT_WINDOW)  # the bucket refills within its window: a longer wait is wrong
    return RATE_LIMIT_WAIT


class AccountStream:
    """The ``account@<profile_id>`` channel of RabbitX's WebSocket, a Centrifuge server, read with centrifuge-python
    (the Centrifuge SDK RabbitX's docs send WebSocket clients to): it connects with the JWT, subscribes, answers the
    server's pings and notices a server that stops pinging; this class turns what it reports into one stream of the
    channel's pushes (each a partial account update: orders, fills, positions, balance) that ends, with an error, at
    the first sign the subscription was lost. Whoever reads it opens a new one then (the SDK's own reconnection is not
    used: a reader must learn of every gap, to read what it missed over REST)."""

    def __init__(self, client: Client, events: _AccountEvents) -> None:
        self._client = client
        self._events = events
        self.offset: int | None = events.subscribed_offset
        """The channel position of the last push read (Centrifuge's offset), when the exchange sends one."""

    @property
    def snapshot(self) -> JsonObject:
        """The subscription's first data: the account with its positions, open orders and recent fills."""
        return self._events.snapshot

    @classmethod
    async def open(
        cls,
        ws_url: str,
        credentials: Credentials,
        new_token: Callable[[], Awaitable[str]] | None = None,
        timeout: float = COMMAND_TIMEOUT,
    ) -> AccountStream:
        """Connect with `credentials`' JWT and subscribe to its account. `new_token` gives a fresh JWT when the
        exchange answers that this one expired (Centrifuge's code 109); without it that is a `RabbitXAuthError`, as
        any refused token is. `timeout` bounds the whole opening."""
        events = _AccountEvents(refreshes_tokens=new_token is not None)
        client = Client(
            ws_url,
            events=events,
            token=credentials.jwt,
            get_token=new_token,
            use_protobuf=False,
            timeout=timeout,
            name="js",  # as RabbitX's own clients name themselves
            proxy=None,  # as aiohttp does by default: no proxy from the environment
        )
        channel = f"account@{credentials.profile_id}"
        subscription = client.new_subscription(channel, events=events.channel, positioned=True)
        try:
            try:
                await client.connect()
                await subscription.subscribe()
            except CentrifugeError as exc:
                raise RabbitXConnectionError(f"RabbitX WebSocket {ws_url}: {type(exc).__name__}: {exc}") from exc
            await _wait_any(events.subscribed.wait(), events.ended.wait(), timeout=timeout)
            if not events.subscribed.is_set():
                raise events.failure or RabbitXConnectionError(f"RabbitX WebSocket {ws_url}: no answer in {timeout}s")
        except BaseException:
            await client.disconnect()
            raise
        return cls(client, events)

    async def next_update(self, timeout: float | None = 5.0) -> JsonObject:
        """The next account push's data. TimeoutError after `timeout` seconds of silence; the error that ended the
        stream (a `RabbitXConnectionError`, or a `RabbitXAuthError` for a refused token) once it has ended."""
        offset, data = await asyncio.wait_for(self._next_push(), timeout)
        if offset is not None:
            self.offset = offset
        return data

    async def _next_push(self) -> tuple[int | None, JsonObject]:
        pushed = asyncio.ensure_future(self._events.pushes.get())
        await _wait_any(pushed, self._events.ended.wait())
        if pushed.done() and not pushed.cancelled():
            return pushed.result()
        assert self._events.failure is not None
        raise self._events.failure

    async def close(self) -> None:
        await self._client.disconnect()


class _AccountChannel(SubscriptionEventHandler):
    def __init__(self, events: _AccountEvents) -> None:
        self._events = events

    async def on_subscribed(self, ctx: SubscribedContext) -> None:
        self._events.snapshot = ctx.data if isinstance(ctx.data, dict) else {}
        if ctx.stream_position is not None:
            self._events.subscribed_offset = ctx.stream_position.offset
        self._events.subscribed.set()

    async def on_publication(self, ctx: PublicationContext) -> None:
        data = ctx.pub.data if isinstance(ctx.pub.data, dict) else {}
        self._events.pushes.put_nowait((ctx.pub.offset or None, data))

    async def on_subscribing(self, ctx: SubscribingContext) -> None:
        # A closed transport is the connection's loss, which the client reports next with its reason (no ping, ...).
        if ctx.code not in (_SUBSCRIBE_CALLED, _TRANSPORT_CLOSED):
            self._events.end(RabbitXConnectionError(f"RabbitX WebSocket: subscription lost ({ctx.reason})"))

    async def on_unsubscribed(self, ctx: UnsubscribedContext) -> None:
        self._events.end(RabbitXConnectionError(f"RabbitX WebSocket: unsubscribed ({ctx.code}: {ctx.reason})"))

    async def on_error(self, ctx: SubscriptionErrorContext) -> None:
        self._events.end(RabbitXConnectionError(f"RabbitX WebSocket: subscription failed: {ctx.error}"))


class _AccountEvents(ClientEventHandler):
    """What the SDK reports about the connection and (through `channel`) the account channel: the snapshot, each
    push's offset and data in order, and the first sign of trouble, which ends the stream."""

    def __init__(self, refreshes_tokens: bool) -> None:
        self.channel = _AccountChannel(self)
        self.snapshot: JsonObject = {}
        self.subscribed_offset: int | None = None
        self.pushes: asyncio.Queue[tuple[int | None, JsonObject]] = asyncio.Queue()
        self.failure: RabbitXError | None = None
        self.subscribed = asyncio.Event()
        self.ended = asyncio.Event()
        self._refreshes_tokens = refreshes_tokens

    def end(self, failure: RabbitXError) -> None:
        if self.failure is None:
            self.failure = failure
            self.ended.set()

    async def on_connecting(self, ctx: ConnectingContext) -> None:
        # Only connect() itself moves to connecting without a loss: any other reason is a connection that was lost.
        if ctx.code != _CONNECT_CALLED:
            self.end(RabbitXConnectionError(f"RabbitX WebSocket lost ({ctx.reason})"))

    async def on_disconnected(self, ctx: DisconnectedContext) -> None:
        if ctx.code in _REFUSED_TOKEN:
            self.end(RabbitXAuthError("WebSocket", "connect", 401, ctx.reason))
        else:
            self.end(RabbitXConnectionError(f"RabbitX WebSocket closed ({ctx.code}: {ctx.reason})"))

    async def on_error(self, ctx: ErrorContext) -> None:
        error = ctx.error
        if isinstance(error, ReplyError) and error.code == _TOKEN_EXPIRED:
            if self._refreshes_tokens:
                return  # the SDK asks for a new JWT and connects again
            self.end(RabbitXAuthError("WebSocket", "connect", 401, f"token expired: {error}"))
            return
        self.end(RabbitXConnectionError(f"RabbitX WebSocket: {type(error).__name__}: {error}"))


_CONNECT_CALLED = 0
"""centrifuge-python's connecting code for `connect()` itself (every other one is a lost connection)."""
_SUBSCRIBE_CALLED = 0
"""Its subscribing code for `subscribe()` itself."""
_TRANSPORT_CLOSED = 1
"""Its subscribing code for a connection that closed (the client's own event follows)."""
_TOKEN_EXPIRED = 109
"""Centrifuge's error code for an expired token."""
_REFUSED_TOKEN = (1, 101, 109)
"""Disconnect codes of a refused token: the SDK's own unauthorized (1) and the server's (101, 109)."""


async def _wait_any(*awaitables: Awaitable[Any], timeout: float | None = None) -> None:
    """Wait until one of `awaitables` is done or `timeout` seconds pass; the rest are cancelled (a queue's get()
    cancelled before it returned leaves its item in the queue)."""
    waits = [asyncio.ensure_future(awaitable) for awaitable in awaitables]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()

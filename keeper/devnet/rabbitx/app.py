"""The devnet RabbitX as an aiohttp service: RabbitX's REST paths and envelope, its RBT-* request signing, its
wallet onboarding, and a Centrifuge-style WebSocket (``connect`` with the JWT, then ``subscribe`` to
``account@<profile_id>``, ``orderbook:<market>``, ``trade:<market>``, ``market:<market>``).

Orders answer "processing" and are decided by one matching queue a moment later (`match_delay`); every change is
pushed to subscribers as ``{"push": {"channel": ..., "pub": {"data": ..., "offset": n}}}`` with a gap-free offset
per channel, and each fill carries a unique ``id`` and a per-account gap-free ``sequence``.

With `DevnetConfig.chain` set, a `ChainWatcher` (chain_watcher.py) credits deposits made on the custody contract
after their confirmations. In-process callers (the chain watcher, the market maker, tests) use `credit_deposit`,
`withdrawal_claimed`, `set_index_price`, `apply_funding`, `run_liquidations`, `replace_quotes`, `drop_websockets`
and `lose_pushes` on `RabbitXDevnet`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import secrets
import time
import uuid
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from aiohttp import WSMsgType, web
from eth_abi.abi import encode as abi_encode
from eth_typing import HexStr
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import AsyncHTTPProvider, AsyncWeb3, Web3

from keeper.connectors.rabbitx.errors import MalformedNumberError, OnboardingError, SignatureError
from keeper.connectors.rabbitx.numbers import decimal_string
from keeper.connectors.rabbitx.onboarding import recover_onboarding_signers
from keeper.connectors.rabbitx.signing import (
    HEADER_API_KEY,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    MAX_SIGNATURE_LIFETIME,
    request_payload,
    verify,
)
from keeper.connectors.rabbitx.vocabulary import OrderStatus, Side
from keeper.devnet.rabbitx.chain_watcher import ChainWatchConfig, ChainWatcher
from keeper.devnet.rabbitx.exchange import (
    Exchange,
    ExchangeConfig,
    ExchangeError,
    FundingRecord,
    Order,
    parse_order_type,
    parse_side,
    parse_time_in_force,
)
from keeper.devnet.rabbitx.numbers import InputError, now_micros, request_decimal
from keeper.devnet.rabbitx.tokens import TokenError, issue_jwt, verify_jwt

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_PAGE = 1000
RATE_LIMIT_COSTS = {
    ("POST", "/onboarding"): 100,
    ("GET", "/account"): 20,
    ("PUT", "/account/leverage"): 20,
    ("POST", "/jwt"): 20,
    ("POST", "/orders"): 1,
    ("PUT", "/orders"): 1,
    ("DELETE", "/orders"): 1,
    ("GET", "/fills"): 10,
    ("GET", "/positions"): 10,
    ("GET", "/profile"): 10,
}
"""Request tokens per endpoint (rabbitx-docs `api-documentation/rate-limits.md`); every other request costs
`RATE_LIMIT_DEFAULT_COST` (the docs' cost of an unauthenticated one; for the private ones they name none, the devnet
assumes the same)."""
RATE_LIMIT_DEFAULT_COST = 10
IS_VALID_SIGNER_SELECTOR = keccak(text="isValidSigner(address,bytes)")[:4]
VALID_SIGNER_MAGIC = bytes.fromhex("523e3260")
"""ERC-6551's `isValidSigner` selector and the magic value that means yes."""


class AuthError(Exception):
    """Authentication failed (HTTP 401); the message says why."""


@dataclass
class DevnetConfig:
    exchange: ExchangeConfig
    match_delay: float = 0.02
    """Seconds between an order's "processing" answer and its matching."""
    funding_interval: float = 3600.0
    """Seconds between funding payments (RabbitX: hourly). 0 switches the funding loop off."""
    liquidation_interval: float = 0.5
    """Seconds between liquidation checks. 0 switches the loop off."""
    index_interval: float = 0.5
    """Seconds between index-price polls of the oracle, when there is one."""
    ping_interval: float = 25.0
    api_key_lifetime: int = 30 * 86400
    jwt_lifetime: int = 48 * 3600
    max_signature_skew: int = MAX_SIGNATURE_LIFETIME
    rate_limit: int | None = None
    """Request tokens an IP may spend per `rate_limit_window` seconds (RabbitX: 1,200 a minute), each request costing
    its endpoint's `RATE_LIMIT_COSTS`; past it, HTTP 429. None: no limit (tests and the demo run unthrottled; the
    tokens are still counted, `RabbitXDevnet.tokens_spent`)."""
    rate_limit_window: float = 60.0
    chain: ChainWatchConfig | None = None
    """Where the custody contract is: its deposits are credited, and its paid withdrawals marked, by a
    `ChainWatcher` that runs with the service. None: deposits come only from `credit_deposit` calls."""


@dataclass
class ApiKey:
    key: str
    secret: str
    profile_id: int
    expiration: int
    tag: str = ""


@dataclass(eq=False)
class DeadmanSwitch:
    """RabbitX's dead-man switch on one market (docs `private-endpoints/deadman-switch.md`): when the account sends
    no order request (create, amend, cancel, cancel all, or setting a switch) for `timeout_ms`, its orders on the
    market are cancelled and the switch reads "canceled"."""

    profile_id: int
    market_id: str
    timeout_ms: int
    last_updated: int
    status: str = "active"
    timer: asyncio.TimerHandle | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "market_id": self.market_id,
            "profile_id": self.profile_id,
            "timeout": self.timeout_ms,
            "last_updated": self.last_updated,
            "status": self.status,
        }


@dataclass(eq=False)
class _WsClient:
    ws: web.WebSocketResponse
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    profile_id: int | None = None
    channels: set[str] = field(default_factory=set)

    def send(self, message: dict[str, Any]) -> None:
        self.queue.put_nowait(json.dumps(message, separators=(",", ":")))


class Hub:
    """Channel subscriptions and per-channel publication offsets."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[_WsClient]] = {}
        self._offsets: dict[str, int] = {}
        self._to_lose: dict[str, int] = {}

    def offset(self, channel: str) -> int:
        return self._offsets.get(channel, 0)

    def subscribe(self, channel: str, client: _WsClient) -> None:
        self._subscribers.setdefault(channel, set()).add(client)
        client.channels.add(channel)

    def unsubscribe(self, channel: str, client: _WsClient) -> None:
        self._subscribers.get(channel, set()).discard(client)
        client.channels.discard(channel)

    def drop(self, client: _WsClient) -> None:
        for channel in list(client.channels):
            self.unsubscribe(channel, client)

    def lose(self, channel: str, count: int) -> None:
        """The next `count` publications on `channel` reach no subscriber but still use their offsets."""
        self._to_lose[channel] = self._to_lose.get(channel, 0) + count

    def publish(self, channel: str, data: Any) -> None:
        offset = self._offsets.get(channel, 0) + 1
        self._offsets[channel] = offset
        if self._to_lose.get(channel, 0) > 0:
            self._to_lose[channel] -= 1
            return
        for client in list(self._subscribers.get(channel, ())):
            client.send({"push": {"channel": channel, "pub": {"data": data, "offset": offset}}})


@dataclass
class _Command:
    run: Callable[[], Any]
    due: float
    done: asyncio.Future[Any]


_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def ok(result: list[Any] | None = None, status: int = 200) -> web.Response:
    return web.json_response({"success": True, "error": "", "result": result or []}, status=status)


def fail(status: int, error: str) -> web.Response:
    return web.json_response({"success": False, "error": error, "result": []}, status=status)


@web.middleware
async def _envelope_errors(request: web.Request, handler: _Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except AuthError as exc:
        return fail(401, str(exc))
    except (InputError, MalformedNumberError, ExchangeError) as exc:
        return fail(400, str(exc))
    except web.HTTPException as exc:
        if exc.status >= 400:
            return fail(exc.status, f"{exc.reason}: {request.method} {request.path}")
        raise
    except Exception:
        # The traceback goes to the log; the body says no more than that the exchange failed, as a server should.
        log.exception("%s %s failed", request.method, request.path)
        return fail(500, f"internal error: {request.method} {request.path} failed (see the exchange's log)")


class RabbitXDevnet:
    """The service. `app` is the aiohttp application; background loops start with it."""

    def __init__(
        self,
        config: DevnetConfig,
        index_oracle: Callable[[str], Decimal | None] | None = None,
    ) -> None:
        if config.chain is not None and config.chain.custody_address.lower() != config.exchange.custody_address.lower():
            raise ValueError(
                f"the chain watcher reads {config.chain.custody_address} but withdrawals are signed for "
                f"{config.exchange.custody_address}: both are the custody contract"
            )
        self.config = config
        self.exchange = Exchange(config.exchange)
        self.hub = Hub()
        self.index_oracle = index_oracle
        self.api_keys: dict[str, ApiKey] = {}
        self._jwt_key = secrets.token_bytes(32)
        self._queue: asyncio.Queue[_Command] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._clients: set[_WsClient] = set()
        self._refuse_websockets_until = 0.0
        self._pings_stopped = False
        self.chain_watcher: ChainWatcher | None = None
        self._refresh_tokens: dict[str, int] = {}
        self._deadman: dict[tuple[int, str], DeadmanSwitch] = {}
        self._spent: dict[str, deque[tuple[float, int]]] = {}  # IP -> (time.monotonic, tokens) in the window
        self.requests: Counter[tuple[str, str]] = Counter()
        """REST requests answered or refused, by (method, path)."""
        self.tokens_spent = 0
        """Request tokens spent by every client since the start, by `RATE_LIMIT_COSTS` (refused requests too)."""
        self.rate_limited = 0
        """REST requests refused with HTTP 429 since the start."""
        self._flush()
        self.app = self._build_app()

    # ------------------------------------------------------------------ in-process API

    def credit_deposit(self, trader: str, amount: int, deposit_id: str) -> bool:
        """Credit `amount` collateral base units to wallet `trader`; idempotent by `deposit_id` (False if seen)."""
        try:
            return self.exchange.credit_deposit(trader, amount, deposit_id)
        finally:
            self._flush()

    def withdrawal_claimed(self, withdrawal_id: int, txhash: str = "") -> bool:
        """Mark withdrawal `withdrawal_id` paid on chain; idempotent (False if it was marked already)."""
        try:
            return self.exchange.withdrawal_claimed(withdrawal_id, txhash)
        finally:
            self._flush()

    def set_index_price(self, market_id: str, price: Decimal) -> None:
        try:
            self.exchange.set_index_price(market_id, price)
        finally:
            self._flush()

    def apply_funding(self, market_ids: Iterable[str] | None = None) -> list[FundingRecord]:
        try:
            return [self.exchange.apply_funding(m) for m in (market_ids or list(self.exchange.markets))]
        finally:
            self._flush()

    def run_liquidations(self) -> list[int]:
        try:
            return self.exchange.run_liquidations()
        finally:
            self._flush()

    async def drop_websockets(self, refuse_for: float = 0.0) -> None:
        """Close every WebSocket and refuse new ones (HTTP 503) for `refuse_for` seconds, as a network fault or an
        exchange restart would: REST keeps working, so clients can show how they recover what they missed."""
        self._refuse_websockets_until = time.monotonic() + refuse_for
        for client in list(self._clients):
            client.queue.put_nowait(None)
            await client.ws.close(code=1012, message=b"dropped")

    def stop_pinging(self, stopped: bool = True) -> None:
        """Stop (or restart) the server's pings on every WebSocket, the sockets left open: a link that went silent
        without closing, which a client notices only by the pings that stop coming."""
        self._pings_stopped = stopped

    def lose_pushes(self, channel: str, count: int = 1) -> None:
        """Lose the next `count` pushes on `channel` without closing any socket, as a lossy link would; the
        offsets they would have carried are skipped, so a client can notice the gap."""
        self.hub.lose(channel, count)

    def cancel_withdrawal(self, profile_id: int, withdrawal_id: int) -> dict[str, Any]:
        """Cancel a pending withdrawal of account `profile_id` (as its owner would, in RabbitX's UI or through
        `POST /balanceops/cancel`): its amount goes back to the account's balance. Returns its balance op."""
        try:
            return self.exchange.cancel_withdrawal(profile_id, withdrawal_id, now_micros()).to_json()
        finally:
            self._flush()

    def set_withdrawal_block_seconds(self, seconds: float) -> None:
        """How long one of RabbitX's withdrawal processing blocks lasts from now on (`withdrawal_tiers`); withdrawals
        already pending keep their time."""
        if seconds < 0:
            raise ValueError(f"withdrawal block seconds must not be negative, got {seconds}")
        self.exchange.config.withdrawal_block_seconds = seconds

    def set_rate_limit(self, tokens: int | None, window: float = 60.0) -> None:
        """Limit every IP to `tokens` request tokens per `window` seconds (None: no limit), from an empty bucket."""
        self.config.rate_limit = tokens
        self.config.rate_limit_window = window
        self._spent.clear()

    def issue_api_key(self, profile_id: int, tag: str = "") -> ApiKey:
        self.exchange.profile(profile_id)
        key = ApiKey(
            key=secrets.token_hex(16),
            secret="0x" + secrets.token_hex(32),
            profile_id=profile_id,
            expiration=int(time.time()) + self.config.api_key_lifetime,
            tag=tag,
        )
        self.api_keys[key.key] = key
        return key

    def issue_jwt(self, profile_id: int) -> str:
        return issue_jwt(self._jwt_key, profile_id, int(time.time()) + self.config.jwt_lifetime)

    async def submit(self, run: Callable[[], T], delay: float | None = None) -> T:
        """Run `run` on the matching queue (after `delay`, default `match_delay`) and return its result."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._enqueue(run, delay, future)
        return await future

    async def replace_quotes(
        self, profile_id: int, market_id: str, quotes: list[tuple[Side, Decimal, Decimal]]
    ) -> None:
        """Cancel `profile_id`'s orders on `market_id` and rest `quotes` (side, price, size), in one queued step."""
        await self.submit(lambda: self.exchange.replace_quotes(profile_id, market_id, quotes), delay=0.0)

    def market_steps(self) -> dict[str, tuple[Decimal, Decimal]]:
        """(min_tick, min_order) per market."""
        return {m.id: (m.config.min_tick, m.config.min_order) for m in self.exchange.markets.values()}

    # ------------------------------------------------------------------ plumbing

    def _flush(self) -> None:
        for publication in self.exchange.drain():
            self.hub.publish(publication.channel, publication.data)

    def _enqueue(self, run: Callable[[], Any], delay: float | None, future: asyncio.Future[Any] | None = None) -> None:
        if self._queue is None:
            raise RuntimeError("the devnet is not running: start its app first")
        loop = asyncio.get_running_loop()
        wait = self.config.match_delay if delay is None else delay
        self._queue.put_nowait(_Command(run, loop.time() + wait, future or loop.create_future()))

    async def _matcher(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            command = await self._queue.get()
            pause = command.due - loop.time()
            if pause > 0:
                await asyncio.sleep(pause)
            try:
                result = command.run()
            except Exception as exc:
                log.exception("matching command failed")
                if not command.done.done():
                    command.done.set_exception(exc)
            else:
                if not command.done.done():
                    command.done.set_result(result)
            finally:
                self._flush()

    async def _every(self, interval: float, action: Callable[[], Any], name: str) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.submit(action, delay=0.0)
            except Exception:
                log.exception("%s failed", name)

    def _poll_index(self) -> None:
        if self.index_oracle is None:
            return
        for market_id in self.exchange.markets:
            price = self.index_oracle(market_id)
            if price is not None and price > 0:
                self.exchange.set_index_price(market_id, price)

    async def _on_startup(self, app: web.Application) -> None:
        self._queue = asyncio.Queue()
        self._tasks.append(asyncio.create_task(self._matcher(), name="rabbitx-devnet-matcher"))
        if self.config.funding_interval > 0:
            self._tasks.append(
                asyncio.create_task(self._every(self.config.funding_interval, self.exchange_funding_all, "funding"))
            )
        if self.config.liquidation_interval > 0:
            self._tasks.append(
                asyncio.create_task(
                    self._every(self.config.liquidation_interval, self.exchange.run_liquidations, "liquidations")
                )
            )
        self._tasks.append(asyncio.create_task(self._every(0.1, self._release_withdrawals, "withdrawals")))
        if self.index_oracle is not None and self.config.index_interval > 0:
            self._poll_index()
            self._flush()
            self._tasks.append(asyncio.create_task(self._every(self.config.index_interval, self._poll_index, "index")))
        if self.config.chain is not None:
            self.chain_watcher = ChainWatcher(self, self.config.chain)
            self._tasks.append(asyncio.create_task(self.chain_watcher.run(), name="rabbitx-devnet-chain-watcher"))

    def _release_withdrawals(self) -> list[int]:
        return self.exchange.release_withdrawals(now_micros())

    def exchange_funding_all(self) -> list[FundingRecord]:
        return [self.exchange.apply_funding(m) for m in self.exchange.markets]

    async def _on_cleanup(self, app: web.Application) -> None:
        for switch in self._deadman.values():
            if switch.timer is not None:
                switch.timer.cancel()
        for client in list(self._clients):
            client.queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await client.ws.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self.chain_watcher is not None:
            await self.chain_watcher.close()
            self.chain_watcher = None

    @web.middleware
    async def _rate_limited(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        """RabbitX's token bucket per IP: each REST request spends its endpoint's tokens; one that would take the
        window past `rate_limit` is refused with HTTP 429 and RabbitX's X-RateLimit-* headers, unspent."""
        if request.path.rstrip("/") == "/ws":
            return await handler(request)
        key = (request.method, request.path)
        cost = RATE_LIMIT_COSTS.get(key, RATE_LIMIT_DEFAULT_COST)
        self.requests[key] += 1
        self.tokens_spent += cost
        limit, window = self.config.rate_limit, self.config.rate_limit_window
        if limit is None:
            return await handler(request)
        now = time.monotonic()
        spent = self._spent.setdefault(request.remote or "", deque())
        while spent and spent[0][0] <= now - window:
            spent.popleft()
        used = sum(tokens for _, tokens in spent)
        if used + cost > limit:
            # The wait until enough of the window's tokens have aged out (the whole window, if it never holds them).
            wait, freed = window, 0
            for at, tokens in spent:
                freed += tokens
                if used - freed + cost <= limit:
                    wait = at + window - now
                    break
            seconds = max(math.ceil(wait), 1)
            self.rate_limited += 1
            response = fail(429, f"rate limit exceeded: {request.method} {request.path} costs {cost} tokens")
            response.headers.update(
                {
                    "X-RateLimit-Limit": str(limit),
                    "X-RateLimit-Remaining": str(max(limit - used, 0)),
                    "X-RateLimit-Reset": str(int(time.time() + wait)),
                    "X-RateLimit-Retry-After": str(seconds),
                    "Retry-After": str(seconds),
                }
            )
            return response
        spent.append((now, cost))
        answer = await handler(request)
        answer.headers["X-RateLimit-Limit"] = str(limit)
        answer.headers["X-RateLimit-Remaining"] = str(limit - used - cost)
        return answer

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._rate_limited, _envelope_errors])
        app.on_startup.append(self._on_startup)
        app.on_cleanup.append(self._on_cleanup)
        app.router.add_get("/markets", self._markets)
        app.router.add_get("/markets/orderbook", self._orderbook)
        app.router.add_get("/markets/trades", self._trades)
        app.router.add_get("/markets/fundingrate", self._funding_rates)
        app.router.add_post("/onboarding", self._onboarding)
        app.router.add_get("/account", self._account)
        app.router.add_put("/account/leverage", self._leverage)
        app.router.add_get("/orders", self._list_orders)
        app.router.add_post("/orders", self._create_order)
        app.router.add_delete("/orders", self._cancel_order)
        app.router.add_put("/orders", self._amend_order)
        app.router.add_delete("/orders/cancel_all", self._cancel_all)
        app.router.add_post("/cancel_all_after", self._deadman_set)
        app.router.add_get("/cancel_all_after", self._deadman_get)
        app.router.add_delete("/cancel_all_after", self._deadman_remove)
        app.router.add_get("/profile", self._profile)
        app.router.add_post("/jwt", self._refresh_jwt)
        app.router.add_get("/account/validate", self._validate_jwt)
        app.router.add_get("/candles", self._candles)
        app.router.add_get("/positions", self._positions)
        app.router.add_get("/fills", self._fills)
        app.router.add_get("/fills/order", self._fills_by_order)
        app.router.add_get("/balanceops", self._balance_ops)
        app.router.add_post("/balanceops/withdraw", self._withdraw)
        app.router.add_post("/balanceops/claim", self._claim_withdrawal)
        app.router.add_post("/balanceops/cancel", self._cancel_withdrawal)
        app.router.add_get("/ws", self._websocket)
        app.router.add_get("/ws/", self._websocket)
        return app

    # ------------------------------------------------------------------ auth

    async def _authenticate(self, request: web.Request) -> tuple[int, bytes]:
        body = await request.read()
        key = request.headers.get(HEADER_API_KEY)
        if not key:
            raise AuthError(f"missing {HEADER_API_KEY} header")
        api_key = self.api_keys.get(key)
        now = int(time.time())
        if api_key is None:
            raise AuthError(f"unknown API key {key!r}: onboard first (POST /onboarding)")
        if api_key.expiration <= now:
            raise AuthError("API key expired: onboard again for a new one")
        signature = request.headers.get(HEADER_SIGNATURE)
        if not signature:
            if request.method == "GET":
                # A read needs the key alone, as on RabbitX: its Go client reads /account and /orders with
                # RBT-API-KEY only, and its Python client reads /cancel_all_after so. A signature sent is checked.
                return api_key.profile_id, body
            raise AuthError(f"missing {HEADER_SIGNATURE} header")
        timestamp = _expiry_header(request)
        try:
            data = request_payload(request.method, request.path, body)
            verify(data, api_key.secret, timestamp, signature, now, self.config.max_signature_skew)
        except SignatureError as exc:
            raise AuthError(str(exc)) from None
        return api_key.profile_id, body

    # ------------------------------------------------------------------ public REST

    async def _markets(self, request: web.Request) -> web.Response:
        wanted = _csv(request.query.get("market_id"))
        ids = wanted or list(self.exchange.markets)
        return ok([self.exchange.market_json(m) for m in ids])

    async def _orderbook(self, request: web.Request) -> web.Response:
        market_id = _required(request.query, "market_id")
        depth = _int(request.query.get("p_limit"), "p_limit", 100, MAX_PAGE)
        return ok([self.exchange.orderbook_json(market_id, depth)])

    async def _trades(self, request: web.Request) -> web.Response:
        market = self.exchange.market(_required(request.query, "market_id"))
        return ok(_page(request.query, [t.to_json() for t in market.trades]))

    async def _delegates(self, wallet: str, signers: list[str]) -> bool:
        """Whether contract `wallet` lets one of `signers` act for it: ERC-6551's `isValidSigner(signer, "")`
        answers its magic value (Elixir's RabbitX router delegates trading for a contract account this way). Asked
        on the chain the custody contract is on; without a chain, no contract account can onboard."""
        if self.config.chain is None or not Web3.is_address(wallet):
            return False
        w3 = AsyncWeb3(AsyncHTTPProvider(self.config.chain.rpc_url))
        try:
            for signer in signers:
                data = IS_VALID_SIGNER_SELECTOR + abi_encode(["address", "bytes"], [signer, b""])
                try:
                    answer = await w3.eth.call({"to": to_checksum_address(wallet), "data": HexStr("0x" + data.hex())})
                except Exception as exc:  # a wallet without the function, or no code at all, delegates nothing
                    log.info("isValidSigner(%s) on %s failed: %s", signer, wallet, exc)
                    continue
                if bytes(answer[:4]) == VALID_SIGNER_MAGIC:
                    return True
            return False
        finally:
            await w3.provider.disconnect()

    async def _funding_rates(self, request: web.Request) -> web.Response:
        market = self.exchange.market(_required(request.query, "market_id"))
        return ok(_page(request.query, [r.to_json() for r in market.funding]))

    async def _candles(self, request: web.Request) -> web.Response:
        query = request.query
        market_id = _required(query, "market_id")
        start = _int(query.get("timestamp_from"), "timestamp_from", 0, None)
        end = _int(query.get("timestamp_to"), "timestamp_to", int(time.time()), None)
        period = _int(query.get("period"), "period", 1, None)
        return ok(self.exchange.candles(market_id, start, end, period))

    async def _onboarding(self, request: web.Request) -> web.Response:
        body = _json_object(await request.read())
        wallet = str(body.get("wallet") or "")
        signature = str(body.get("signature") or "")
        if not wallet or not signature:
            raise InputError("onboarding needs wallet and signature")
        timestamp = _expiry_header(request)
        now = int(time.time())
        if timestamp <= now:
            raise AuthError(f"onboarding signature expired: {HEADER_TIMESTAMP} {timestamp} is not after {now}")
        if timestamp > now + self.config.max_signature_skew:
            raise AuthError(f"{HEADER_TIMESTAMP} {timestamp} is more than {self.config.max_signature_skew}s ahead")
        try:
            signers = recover_onboarding_signers(signature, timestamp)
        except OnboardingError as exc:
            raise AuthError(str(exc)) from None
        if wallet.lower() not in {s.lower() for s in signers} and not await self._delegates(wallet, signers):
            raise AuthError(
                "signature does not recover to the wallet for the onboarding message and RBT-TS, and the wallet is "
                "not a contract that names the signer in isValidSigner"
            )
        profile = self.exchange.create_profile(to_checksum_address(wallet))
        api_key = self.issue_api_key(profile.id)
        jwt = self.issue_jwt(profile.id)
        refresh_token = secrets.token_hex(16)
        self._refresh_tokens[refresh_token] = profile.id
        self._flush()
        return ok(
            [
                {
                    "profile": self.exchange.account_json(profile.id),
                    "apiSecret": {
                        "Key": api_key.key,
                        "Secret": api_key.secret,
                        "ProfileID": profile.id,
                        "Tag": api_key.tag,
                        "Expiration": api_key.expiration,
                        "Status": "active",
                    },
                    "jwt": jwt,
                    "privateJwt": jwt,
                    "refreshToken": refresh_token,
                }
            ]
        )

    # ------------------------------------------------------------------ private REST

    async def _account(self, request: web.Request) -> web.Response:
        profile_id, _ = await self._authenticate(request)
        return ok([self.exchange.account_json(profile_id)])

    async def _profile(self, request: web.Request) -> web.Response:
        profile_id, _ = await self._authenticate(request)
        return ok([self.exchange.profile_json(profile_id)])

    async def _refresh_jwt(self, request: web.Request) -> web.Response:
        """A new JWT for the signed request's account, in exchange for its onboarding's refresh token or a JWT the
        devnet issued it (expired or not)."""
        profile_id, body = await self._authenticate(request)
        token = _required(_json_object(body), "refresh_token")
        owner = self._refresh_tokens.get(token)
        if owner is None:
            try:
                owner = verify_jwt(self._jwt_key, token, None)
            except TokenError as exc:
                raise AuthError(f"refresh_token is neither a refresh token nor a JWT of this exchange: {exc}") from None
        if owner != profile_id:
            raise AuthError(f"refresh_token belongs to account {owner}, the request is signed for {profile_id}")
        return ok([{"jwt": self.issue_jwt(profile_id)}])

    async def _validate_jwt(self, request: web.Request) -> web.Response:
        profile_id, _ = await self._authenticate(request)
        try:
            owner = verify_jwt(self._jwt_key, _required(request.query, "jwt"), int(time.time()))
        except TokenError as exc:
            raise AuthError(f"jwt is not valid: {exc}") from None
        if owner != profile_id:
            raise AuthError(f"jwt is for account {owner}, the request is signed for {profile_id}")
        return ok([{"profile_id": profile_id}])

    async def _leverage(self, request: web.Request) -> web.Response:
        profile_id, body = await self._authenticate(request)
        data = _json_object(body)
        market_id = _required(data, "market_id")
        leverage = request_decimal(data.get("leverage"), "leverage")
        if leverage != leverage.to_integral_value():
            raise InputError(f"leverage must be an integer, got {decimal_string(leverage)}")
        try:
            self.exchange.set_leverage(profile_id, market_id, int(leverage))
        finally:
            self._flush()
        return ok([self.exchange.account_json(profile_id)])

    async def _create_order(self, request: web.Request) -> web.Response:
        profile_id, body = await self._authenticate(request)
        data = _json_object(body)
        market_id = _required(data, "market_id")
        order_type = parse_order_type(data.get("type"))
        price = _optional_decimal(data, "price")
        order = self.exchange.submit_order(
            profile_id,
            market_id,
            parse_side(data.get("side")),
            order_type,
            price,
            request_decimal(data.get("size"), "size"),
            parse_time_in_force(data.get("time_in_force")),
            _text(data, "client_order_id"),
            _bool(data.get("reduce_only"), "reduce_only"),
        )
        self._flush()
        self._order_activity(profile_id)
        self._enqueue(lambda: self.exchange.process_order(order.id), None)
        return ok([_create_response(order)])

    async def _amend_order(self, request: web.Request) -> web.Response:
        profile_id, body = await self._authenticate(request)
        data = _json_object(body)
        market_id = _required(data, "market_id")
        for unsupported in ("size_percent", "trigger_price"):
            if data.get(unsupported) not in (None, ""):
                raise InputError(f"{unsupported} is not supported by the devnet: amend with price and size")
        price = _optional_decimal(data, "price")
        size = _optional_decimal(data, "size")
        try:
            order = self.exchange.request_amend(profile_id, market_id, _required(data, "order_id"), price, size)
        finally:
            self._flush()
        self._order_activity(profile_id)
        self._enqueue(lambda: self.exchange.process_amend(order.id, price, size), None)
        return ok(
            [
                {
                    "id": order.id,
                    "market_id": order.market_id,
                    "profile_id": order.profile_id,
                    "price": decimal_string(price if price is not None else order.price or Decimal(0)),
                    "size": decimal_string(size if size is not None else order.initial_size),
                    "status": OrderStatus.AMENDING.value,
                }
            ]
        )

    async def _cancel_order(self, request: web.Request) -> web.Response:
        profile_id, body = await self._authenticate(request)
        data = _json_object(body)
        market_id = _required(data, "market_id")
        order = self.exchange.request_cancel(
            profile_id, market_id, _text(data, "order_id"), _text(data, "client_order_id")
        )
        order.status = OrderStatus.CANCELING
        self._order_activity(profile_id)
        self._enqueue(lambda: self.exchange.process_cancel(order.id), None)
        return ok(
            [
                {
                    "id": order.id,
                    "market_id": order.market_id,
                    "profile_id": order.profile_id,
                    "status": OrderStatus.CANCELING.value,
                    "client_order_id": order.client_order_id,
                }
            ]
        )

    async def _cancel_all(self, request: web.Request) -> web.Response:
        profile_id, _ = await self._authenticate(request)
        self._order_activity(profile_id)
        self._enqueue(lambda: self.exchange.cancel_all(profile_id), None)
        return ok([])

    # ------------------------------------------------------------------ dead-man switch

    async def _deadman_set(self, request: web.Request) -> web.Response:
        profile_id, body = await self._authenticate(request)
        params = {**_json_object(body), **request.query}  # RabbitX's client sends them as query parameters
        market_id = self.exchange.market(_required(params, "market_id")).id
        timeout = _int(str(params.get("timeout") or ""), "timeout", 0, None)
        if timeout < 1:
            raise InputError("timeout is required: milliseconds without an order request before orders are cancelled")
        switch = DeadmanSwitch(profile_id, market_id, timeout, now_micros())
        previous = self._deadman.get((profile_id, market_id))
        if previous is not None and previous.timer is not None:
            previous.timer.cancel()
        self._deadman[(profile_id, market_id)] = switch
        self._order_activity(profile_id)
        return ok([switch.to_json()])

    async def _deadman_get(self, request: web.Request) -> web.Response:
        profile_id, _ = await self._authenticate(request)
        switch = self._deadman.get((profile_id, _required(request.query, "market_id")))
        return ok([switch.to_json()] if switch is not None else [])

    async def _deadman_remove(self, request: web.Request) -> web.Response:
        profile_id, body = await self._authenticate(request)
        params = {**_json_object(body), **request.query}
        switch = self._deadman.pop((profile_id, _required(params, "market_id")), None)
        if switch is None:
            return ok([])
        if switch.timer is not None:
            switch.timer.cancel()
        switch.status = "canceled"
        return ok([switch.to_json()])

    def _order_activity(self, profile_id: int) -> None:
        """An order request from `profile_id`: each of its active dead-man switches starts counting again."""
        loop = asyncio.get_running_loop()
        for switch in self._deadman.values():
            if switch.profile_id == profile_id and switch.status == "active":
                if switch.timer is not None:
                    switch.timer.cancel()
                switch.last_updated = now_micros()
                switch.timer = loop.call_later(switch.timeout_ms / 1000, self._deadman_fire, switch)

    def _deadman_fire(self, switch: DeadmanSwitch) -> None:
        switch.status = "canceled"
        switch.timer = None
        reason = f"deadman switch: no order request for {switch.timeout_ms} ms"
        self._enqueue(lambda: self.exchange.cancel_all(switch.profile_id, switch.market_id, reason), 0.0)

    async def _list_orders(self, request: web.Request) -> web.Response:
        profile_id, _ = await self._authenticate(request)
        query = request.query
        profile = self.exchange.profile(profile_id)
        orders = [self.exchange.orders[oid] for oid in profile.order_ids]
        if order_id := query.get("order_id"):
            orders = [o for o in orders if o.id == order_id]
        if client_order_id := query.get("client_order_id"):
            if not query.get("market_id"):
                # As RabbitX has required since 13 December 2024: its orders are looked up by market.
                raise InputError("market_id is required with client_order_id")
            orders = [o for o in orders if o.client_order_id == client_order_id]
        if market_id := query.get("market_id"):
            orders = [o for o in orders if o.market_id == market_id]
        if statuses := _csv(query.get("status")):
            orders = [o for o in orders if o.status.value in statuses]
        return ok(_page(query, [o.to_json() for o in orders], time_key="created_at"))

    async def _positions(self, request: web.Request) -> web.Response:
        profile_id, _ = await self._authenticate(request)
        return ok(self.exchange.positions_json(profile_id))

    async def _fills(self, request: web.Request) -> web.Response:
        profile_id, _ = await self._authenticate(request)
        fills = self.exchange.profile(profile_id).fills
        if markets := _csv(request.query.get("market_id")):
            fills = [f for f in fills if f.market_id in markets]
        if after := request.query.get("after_sequence"):
            floor = _int(after, "after_sequence", 0, None)
            fills = [f for f in fills if f.sequence > floor]
        return ok(_page(request.query, [f.to_json() for f in fills]))

    async def _fills_by_order(self, request: web.Request) -> web.Response:
        profile_id, _ = await self._authenticate(request)
        order_id = _required(request.query, "order_id")
        return ok([f.to_json() for f in self.exchange.profile(profile_id).fills if f.order_id == order_id])

    async def _balance_ops(self, request: web.Request) -> web.Response:
        profile_id, _ = await self._authenticate(request)
        try:
            self.exchange.release_withdrawals(now_micros())
        finally:
            self._flush()
        ops = self.exchange.profile(profile_id).balance_ops
        if kinds := _csv(request.query.get("ops_type")):
            ops = [op for op in ops if op.ops_type in kinds or (op.ops_type == "withdrawal" and "withdraw" in kinds)]
        return ok(_page(request.query, [op.to_json() for op in ops]))

    async def _withdraw(self, request: web.Request) -> web.Response:
        profile_id, body = await self._authenticate(request)
        data = _json_object(body)
        amount = request_decimal(data.get("amount"), "amount")
        try:
            op = self.exchange.request_withdrawal(profile_id, amount, now_micros())
        finally:
            self._flush()
        return ok([op.to_json()])

    async def _claim_withdrawal(self, request: web.Request) -> web.Response:
        """go-client's `PATH_CLAIM_WITHDRAWAL`: the claimable withdrawal `id` with its signed claim (the devnet's shape:
        RabbitX documents neither body nor answer)."""
        profile_id, body = await self._authenticate(request)
        withdrawal_id = _withdrawal_id(_json_object(body))
        try:
            op = self.exchange.claim_withdrawal(profile_id, withdrawal_id, now_micros())
        finally:
            self._flush()
        return ok([op.to_json()])

    async def _cancel_withdrawal(self, request: web.Request) -> web.Response:
        """go-client's `PATH_CANCEL_WITHDRAWAL`: cancels the pending withdrawal `id`, its amount back in the balance."""
        profile_id, body = await self._authenticate(request)
        withdrawal_id = _withdrawal_id(_json_object(body))
        try:
            op = self.exchange.cancel_withdrawal(profile_id, withdrawal_id, now_micros())
        finally:
            self._flush()
        return ok([op.to_json()])

    # ------------------------------------------------------------------ WebSocket

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        if time.monotonic() < self._refuse_websockets_until:
            raise web.HTTPServiceUnavailable(reason="WebSocket temporarily refused")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        client = _WsClient(ws)
        self._clients.add(client)
        writer = asyncio.create_task(self._ws_writer(client))
        pinger = asyncio.create_task(self._ws_pinger(client))
        try:
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    continue
                for line in str(message.data).split("\n"):
                    if line.strip() and not self._ws_command(client, line):
                        break
        finally:
            self.hub.drop(client)
            self._clients.discard(client)
            client.queue.put_nowait(None)
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
            with contextlib.suppress(asyncio.CancelledError):
                await pinger
        return ws

    async def _ws_writer(self, client: _WsClient) -> None:
        while True:
            text = await client.queue.get()
            if text is None:
                return
            if client.ws.closed:
                return
            await client.ws.send_str(text)

    async def _ws_pinger(self, client: _WsClient) -> None:
        while True:
            await asyncio.sleep(self.config.ping_interval)
            if not self._pings_stopped:
                client.send({})

    def _ws_command(self, client: _WsClient, line: str) -> bool:
        """Handle one client message; False when the connection is being closed."""
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            client.send({"error": {"code": 107, "message": "bad request: not JSON"}})
            return True
        if not isinstance(message, dict) or message == {}:
            return True  # {} is the client's pong
        command_id = message.get("id")
        for command in ("connect", "subscribe", "unsubscribe"):
            if not isinstance(message.get(command) or {}, dict):
                client.send(
                    {"id": command_id, "error": {"code": 107, "message": f"bad request: {command} is not an object"}}
                )
                return True
        if "connect" in message:
            token = str((message.get("connect") or {}).get("token") or "")
            try:
                client.profile_id = verify_jwt(self._jwt_key, token, int(time.time()))
            except TokenError as exc:
                client.send({"id": command_id, "error": {"code": 109 if "expired" in str(exc) else 101,
                                                         "message": f"unauthorized: {exc}"}})  # fmt: skip
                client.queue.put_nowait(None)
                asyncio.get_running_loop().create_task(client.ws.close(code=3500, message=b"invalid token"))
                return False
            client.send(
                {
                    "id": command_id,
                    "connect": {
                        "client": str(uuid.uuid4()),
                        "version": "rabbitx-devnet",
                        "ping": int(self.config.ping_interval),
                        "pong": True,
                        "data": {"profile_id": client.profile_id},
                    },
                }
            )
            return True
        if "subscribe" in message:
            channel = str((message.get("subscribe") or {}).get("channel") or "")
            if client.profile_id is None:
                client.send({"id": command_id, "error": {"code": 101, "message": "unauthorized: connect first"}})
                return True
            try:
                snapshot = self._snapshot(channel, client.profile_id)
            except (ExchangeError, InputError, PermissionError) as exc:
                code = 103 if isinstance(exc, PermissionError) else 102
                client.send({"id": command_id, "error": {"code": code, "message": str(exc)}})
                return True
            self.hub.subscribe(channel, client)
            client.send(
                {
                    "id": command_id,
                    "subscribe": {"data": snapshot, "offset": self.hub.offset(channel), "positioned": True},
                }
            )
            return True
        if "unsubscribe" in message:
            channel = str((message.get("unsubscribe") or {}).get("channel") or "")
            self.hub.unsubscribe(channel, client)
            client.send({"id": command_id, "unsubscribe": {}})
            return True
        client.send({"id": command_id, "error": {"code": 107, "message": "bad request: unknown command"}})
        return True

    def _snapshot(self, channel: str, profile_id: int) -> Any:
        if channel.startswith("account@"):
            wanted = channel.split("@", 1)[1]
            if wanted != str(profile_id):
                raise PermissionError(f"permission denied: the token is for account@{profile_id}")
            return self.exchange.account_snapshot(profile_id)
        kind, _, market_id = channel.partition(":")
        if kind == "orderbook":
            return self.exchange.orderbook_json(market_id)
        if kind == "trade":
            return [t.to_json() for t in self.exchange.market(market_id).trades[-50:]]
        if kind == "market":
            return self.exchange.market_json(market_id)
        raise InputError(f"unknown channel {channel!r}")


# ---------------------------------------------------------------------- request helpers


def _expiry_header(request: web.Request) -> int:
    """The RBT-TS header: the signature's expiry in whole UNIX seconds."""
    value = request.headers.get(HEADER_TIMESTAMP)
    if not value:
        raise AuthError(f"missing {HEADER_TIMESTAMP} header")
    if not (value.isascii() and value.isdigit()):  # str.isdigit also takes "²" and other scripts' digits
        raise AuthError(f"{HEADER_TIMESTAMP} must be an integer number of UNIX seconds, got {value!r}")
    return int(value)


def _json_object(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        data = json.loads(body, parse_float=Decimal)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InputError("body must be a JSON object")
    return data


def _required(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if value in (None, ""):
        raise InputError(f"{name} is required")
    return str(value)


def _optional_decimal(data: Mapping[str, Any], name: str) -> Decimal | None:
    value = data.get(name)
    return None if value in (None, "") else request_decimal(value, name)


def _text(data: Mapping[str, Any], name: str) -> str:
    """An optional string field ("" when absent); another JSON type is refused, not turned into its Python text."""
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(f"{name} must be a string, got {type(value).__name__}")
    return value


def _bool(value: object, name: str) -> bool:
    if value in (None, ""):
        return False
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise InputError(f"{name} must be true or false, got {value!r}")


def _int(value: str | None, name: str, default: int, maximum: int | None) -> int:
    if value in (None, ""):
        return default
    assert value is not None
    if not (value.isascii() and value.lstrip("-").isdigit()):  # str.isdigit also takes "²" and other scripts' digits
        raise InputError(f"{name} must be an integer, got {value!r}")
    number = int(value)
    if number < 0:
        raise InputError(f"{name} must not be negative")
    if maximum is not None and number > maximum:
        raise InputError(f"{name} must be at most {maximum}, got {number}")
    return number


def _withdrawal_id(data: Mapping[str, Any]) -> int:
    """A withdrawal's id from a claim or cancel body: `id` (its balance op's id), or `withdrawal_id`."""
    value = data.get("id", data.get("withdrawal_id"))
    if value is None or isinstance(value, bool):
        raise InputError("id is required: the withdrawal's balance op id")
    return _int(str(value), "id", 0, None)


def _csv(value: str | None) -> list[str]:
    return [part for part in (value or "").split(",") if part]


def _page(query: Mapping[str, str], rows: list[dict[str, Any]], time_key: str = "timestamp") -> list[dict[str, Any]]:
    """RabbitX pagination: start_time/end_time (microseconds), p_order (DESC default), p_limit, p_page."""
    start = _int(query.get("start_time"), "start_time", 0, None)
    end = _int(query.get("end_time"), "end_time", 0, None)
    if start:
        rows = [r for r in rows if int(r[time_key]) >= start]
    if end:
        rows = [r for r in rows if int(r[time_key]) <= end]
    order = (query.get("p_order") or "DESC").upper()
    if order not in ("ASC", "DESC"):
        raise InputError(f"p_order must be ASC or DESC, got {order!r}")
    if order == "DESC":
        rows = list(reversed(rows))
    limit = _int(query.get("p_limit"), "p_limit", 100, MAX_PAGE)
    page = _int(query.get("p_page"), "p_page", 0, None)
    return rows[page * limit : (page + 1) * limit]


def _create_response(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "market_id": order.market_id,
        "profile_id": order.profile_id,
        "status": order.status.value,
        "size": decimal_string(order.initial_size),
        "price": decimal_string(order.price) if order.price is not None else None,
        "side": order.side.value,
        "type": order.order_type.value,
        "is_liquidation": False,
        "client_order_id": order.client_order_id,
        "time_in_force": order.time_in_force.value,
        "reduce_only": order.reduce_only,
    }


# ---------------------------------------------------------------------- running it


@dataclass
class RunningDevnet:
    devnet: RabbitXDevnet
    url: str
    ws_url: str
    runner: web.AppRunner


@contextlib.asynccontextmanager
async def serve(devnet: RabbitXDevnet, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[RunningDevnet]:
    """Run `devnet` on host:port (0: a free port) until the block exits."""
    runner = web.AppRunner(devnet.app, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = int(runner.addresses[0][1])
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{shown}:{bound}"
        yield RunningDevnet(devnet, url, f"ws://{shown}:{bound}/ws", runner)
    finally:
        await runner.cleanup()

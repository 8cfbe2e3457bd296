"""The replica's indexer WebSocket (dYdX's socks service) at ``/v4/ws``, which the official client's `IndexerSocket`
reads: ``{"type": "subscribe", "channel": ..., "id": ..., "batched": ...}`` answered by ``subscribed`` with the same
contents as the matching REST read, then a ``channel_data`` message (``channel_batch_data``, its contents in a
list, for a batched subscription) whenever what the channel shows changes, and ``unsubscribed``; ``ping`` is
answered by ``pong``; a bad subscription by an ``error`` message. Every message carries the connection's id and a
message id counting from 0 (``connected``).

Channels: ``v4_orderbook`` (id a ticker; changed levels as ``[price, size]``, size "0" for a level gone),
``v4_trades`` (id a ticker; new taker fills), ``v4_markets`` (oracle price changes), ``v4_subaccounts`` (id
``address/number``; new fills, changed orders and positions, the USDC balance, with the block height) and
``v4_block_height``. Changes are looked for every `poll_interval` seconds, so what one block changes reaches a
subscriber as one message; but a subaccount's positions and USDC are read live, as the REST endpoint reads them,
while fills and orders show from the block after they happened, so a fill's position and balance can arrive one
message before the fill itself. Candles and parent subaccounts are not served.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from keeper.devnet.dydx.chain import Chain, MarketConfig, plain
from keeper.devnet.dydx.indexer import (
    NATURAL_NUMBER,
    markets_json,
    orderbook_json,
    orders_json,
    subaccount_json,
    trades_json,
)

VERSIONS = {
    "v4_orderbook": "1.0.0",
    "v4_trades": "2.1.0",
    "v4_markets": "1.0.0",
    "v4_subaccounts": "3.0.0",
    "v4_block_height": "1.0.0",
}
"""The channels served, with the version their data messages carry."""


@dataclass
class _Subscription:
    channel: str
    id: str | None
    batched: bool
    view: Any
    """What the subscriber was last shown, in the form `_changes` compares."""


@dataclass(eq=False)
class _Connection:
    ws: web.WebSocketResponse
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    message_id: int = 0
    subscriptions: dict[tuple[str, str | None], _Subscription] = field(default_factory=dict)

    async def send(self, kind: str, **fields: Any) -> None:
        message = {"type": kind, "connection_id": self.id, "message_id": self.message_id, **fields}
        self.message_id += 1
        await self.ws.send_str(json.dumps(message))


class IndexerSocket:
    """The WebSocket route and its change watcher, over `chain`."""

    def __init__(self, chain: Chain, poll_interval: float = 0.02) -> None:
        self.chain = chain
        self.poll_interval = poll_interval
        self._connections: set[_Connection] = set()
        self._watcher: asyncio.Task[None] | None = None

    def install(self, app: web.Application) -> None:
        app.router.add_get("/v4/ws", self._handle)
        app.on_startup.append(self._start)
        app.on_cleanup.append(self._stop)

    async def _start(self, app: web.Application) -> None:
        self._watcher = asyncio.create_task(self._watch(), name="dydx-indexer-socket")

    async def _stop(self, app: web.Application) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        for connection in list(self._connections):
            await connection.ws.close()

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=30)
        await ws.prepare(request)
        connection = _Connection(ws)
        self._connections.add(connection)
        try:
            await connection.send("connected")
            async for frame in ws:
                if frame.type is WSMsgType.TEXT:
                    await self._command(connection, frame.data)
        finally:
            self._connections.discard(connection)
        return ws

    async def _command(self, connection: _Connection, text: str) -> None:
        try:
            message = json.loads(text)
        except json.JSONDecodeError:
            await connection.send("error", message=f"Invalid message: could not parse {text[:100]!r} as JSON")
            return
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "ping":
            await connection.send("pong", id=message.get("id"))
            return
        if kind not in ("subscribe", "unsubscribe"):
            await connection.send("error", message=f"Invalid message type: {kind!r}")
            return
        channel, topic = message.get("channel"), message.get("id")
        if not isinstance(channel, str) or channel not in VERSIONS:
            await connection.send("error", message=f"Invalid {kind} message: channel is not a valid channel")
            return
        if topic is not None and not isinstance(topic, str):  # a list or an object would not even key a dict
            await connection.send("error", message=f"Invalid {kind} message: id must be a string")
            return
        if kind == "unsubscribe":
            connection.subscriptions.pop((channel, topic), None)
            await connection.send("unsubscribed", channel=channel, id=topic)
            return
        if (channel, topic) in connection.subscriptions:
            # socks refuses it rather than sending the snapshot again: a client cannot resynchronise this way
            normalized = topic if topic is not None else channel  # socks' ids of the channels without one
            await connection.send(
                "error", message=f"Invalid subscribe message: already subscribed ({channel}-{normalized})"
            )
            return
        try:
            contents, view = self._snapshot(channel, topic)
        except LookupError as error:
            await connection.send("error", message=f"Invalid subscription id for channel: ({channel}-{topic}): {error}")
            return
        subscription = _Subscription(channel, topic, bool(message.get("batched")), view)
        connection.subscriptions[(channel, topic)] = subscription
        await connection.send("subscribed", channel=channel, id=topic, contents=contents)

    # What each channel shows, and what changed since the subscriber last saw it

    def _snapshot(self, channel: str, topic: str | None) -> tuple[Any, Any]:
        """The subscription's contents and its first view; LookupError for an id the channel does not know."""
        if channel == "v4_orderbook":
            book = orderbook_json(self.chain, self._market(topic))
            return book, _level_map(book)
        if channel == "v4_trades":
            trades = trades_json(self.chain, self._market(topic))
            return {"trades": trades}, {trade["id"] for trade in trades}
        if channel == "v4_markets":
            markets = markets_json(self.chain)
            return markets, _oracle_prices(self.chain)
        if channel == "v4_subaccounts":
            address, number = self._subaccount(topic)
            subaccount = subaccount_json(self.chain, self.chain.subaccounts[(address, number)])
            orders = orders_json(self.chain, address, number)
            contents = {"subaccount": subaccount, "orders": orders, "blockHeight": str(self.chain.height)}
            return contents, self._subaccount_view(address, number)
        return {"height": str(self.chain.height), "time": self.chain.block_times[self.chain.height]}, self.chain.height

    def _changes(self, subscription: _Subscription) -> tuple[Any, Any] | None:
        """What changed on the subscription's channel since its view, and the new view; None when nothing did."""
        channel, topic = subscription.channel, subscription.id
        if channel == "v4_orderbook":
            book = _level_map(orderbook_json(self.chain, self._market(topic)))
            changed = {side: _level_changes(subscription.view[side], book[side]) for side in ("bids", "asks")}
            return (changed, book) if changed["bids"] or changed["asks"] else None
        if channel == "v4_trades":
            trades = trades_json(self.chain, self._market(topic))
            new = [trade for trade in trades if trade["id"] not in subscription.view]
            return ({"trades": new}, subscription.view | {t["id"] for t in new}) if new else None
        if channel == "v4_markets":
            prices = _oracle_prices(self.chain)
            moved = {ticker: price for ticker, price in prices.items() if subscription.view.get(ticker) != price}
            return ({"oraclePrices": self._oracle_updates(moved)}, prices) if moved else None
        if channel == "v4_subaccounts":
            return self._subaccount_changes(subscription)
        height = self.chain.height
        if height == subscription.view:
            return None
        return {"blockHeight": str(height), "time": self.chain.block_times[height]}, height

    def _subaccount_view(self, address: str, number: int) -> dict[str, Any]:
        with self.chain.lock:
            account = self.chain.subaccounts[(address, number)]
            subaccount = subaccount_json(self.chain, account)
            fills = [
                fill["id"]
                for fill in self.chain.fills
                if fill["_owner"] == address
                and fill["subaccountNumber"] == number
                and int(str(fill["createdAtHeight"])) <= self.chain.height
            ]
        orders = {str(o["id"]): o for o in orders_json(self.chain, address, number)}
        return {
            "fills": set(fills),
            "orders": orders,
            "positions": subaccount["openPerpetualPositions"],
            "assets": subaccount["assetPositions"],
        }

    def _subaccount_changes(self, subscription: _Subscription) -> tuple[Any, Any] | None:
        address, number = self._subaccount(subscription.id)
        before, now = subscription.view, self._subaccount_view(address, number)
        with self.chain.lock:
            fills = [
                {k: v for k, v in fill.items() if not k.startswith("_")}
                for fill in self.chain.fills
                if fill["id"] in now["fills"] - before["fills"]
            ]
        contents: dict[str, Any] = {}
        if fills:
            contents["fills"] = fills
        orders = [order for key, order in now["orders"].items() if before["orders"].get(key) != order]
        if orders:
            contents["orders"] = orders
        positions = [
            position for ticker, position in now["positions"].items() if before["positions"].get(ticker) != position
        ] + [
            {**position, "status": "CLOSED", "size": "0"}
            for ticker, position in before["positions"].items()
            if ticker not in now["positions"]
        ]
        if positions:
            contents["perpetualPositions"] = positions
        if now["assets"] != before["assets"]:
            contents["assetPositions"] = list(now["assets"].values())
        if not contents:
            return None
        contents["blockHeight"] = str(self.chain.height)
        return contents, now

    def _oracle_updates(self, moved: dict[str, str]) -> dict[str, Any]:
        effective = self.chain.block_times[self.chain.height]
        markets = {market.ticker: market for market in self.chain.markets}
        return {
            ticker: {
                "oraclePrice": price,
                "effectiveAt": effective,
                "effectiveAtHeight": str(self.chain.height),
                "marketId": markets[ticker].clob_pair_id,
            }
            for ticker, price in moved.items()
        }

    def _market(self, ticker: str | None) -> MarketConfig:
        market = self.chain.market_by_ticker(str(ticker))
        if market is None:
            raise LookupError(f"no market {ticker}")
        return market

    def _subaccount(self, topic: str | None) -> tuple[str, int]:
        address, _, number = str(topic).rpartition("/")
        if not address or not NATURAL_NUMBER.fullmatch(number):
            raise LookupError("the id is address/subaccountNumber")
        if (address, int(number)) not in self.chain.subaccounts:
            raise LookupError(f"no subaccount {address}/{number}")
        return address, int(number)

    # Pushing

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            for connection in list(self._connections):
                await self._push(connection)

    async def _push(self, connection: _Connection) -> None:
        for subscription in list(connection.subscriptions.values()):
            change = self._changes(subscription)
            if change is None:
                continue
            contents, subscription.view = change
            kind, body = ("channel_batch_data", [contents]) if subscription.batched else ("channel_data", contents)
            with contextlib.suppress(ConnectionResetError):
                await connection.send(
                    kind,
                    channel=subscription.channel,
                    id=subscription.id,
                    version=VERSIONS[subscription.channel],
                    contents=body,
                )


def _level_map(book: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {side: {level["price"]: level["size"] for level in book[side]} for side in ("bids", "asks")}


def _level_changes(before: dict[str, str], after: dict[str, str]) -> list[list[str]]:
    """Levels whose size changed, as ``[price, size]``, with size "0" for a level gone."""
    changed = [[price, size] for price, size in after.items() if before.get(price) != size]
    return changed + [[price, "0"] for price in before if price not in after]


def _oracle_prices(chain: Chain) -> dict[str, str]:
    return {market.ticker: plain(market.oracle_price) for market in chain.markets}

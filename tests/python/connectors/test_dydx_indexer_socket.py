"""The replica's indexer WebSocket read through the official client's `IndexerSocket`: each subscription answered
with the REST read's contents, then one message per change (an order book level, a trade, an oracle price, a
subaccount's fill with its order, position and USDC, a new block), and errors for what the socket does not serve."""

from __future__ import annotations

import asyncio
import json
import queue
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from dydx_v4_client.indexer.socket.websocket import IndexerSocket

from keeper.connectors.dydx import DydxConnector, OrderRequest, Side
from keeper.devnet.dydx.chain import SELL

from .dydx_replica import ADDRESS, MAKER, Bench

D = Decimal
Message = dict[str, Any]


class Socket:
    """An `IndexerSocket` run on its own thread, its messages kept in arrival order."""

    def __init__(self, indexer_url: str) -> None:
        self.messages: queue.Queue[Message] = queue.Queue()
        self.opened = threading.Event()
        self.seen: list[Message] = []
        self.app = IndexerSocket(
            indexer_url.replace("http://", "ws://") + "/v4/ws",
            on_open=lambda ws: self.opened.set(),
            on_message=lambda ws, message: self.messages.put(message),
        )
        self.thread = threading.Thread(target=self.app.run_forever, daemon=True)
        self.thread.start()
        assert self.opened.wait(10)

    def next(self, match: Callable[[Message], bool], timeout: float = 10.0) -> Message:
        """The first message `match` accepts, taken out; the others stay for later calls."""
        while True:
            for index, message in enumerate(self.seen):
                if match(message):
                    return self.seen.pop(index)
            self.seen.append(self.messages.get(timeout=timeout))

    def close(self) -> None:
        self.app.close()
        self.thread.join(timeout=5)


@pytest.fixture
def socket(dydx: Bench) -> Iterator[Socket]:
    opened = Socket(dydx.replica.indexer_url)
    yield opened
    opened.close()


def _on(kind: str, channel: str) -> Callable[[Message], bool]:
    return lambda message: message["type"] == kind and message.get("channel") == channel


def test_subscriptions_start_from_the_rest_reads_and_follow_each_change(dydx: Bench, socket: Socket) -> None:
    connected = socket.next(lambda m: m["type"] == "connected")
    assert connected["message_id"] == 0
    socket.app.order_book.subscribe("BTC-USD")
    socket.app.subaccounts.subscribe(ADDRESS, 0)
    socket.app.trades.subscribe("BTC-USD", batched=False)
    socket.app.markets.subscribe(batched=False)

    book = socket.next(_on("subscribed", "v4_orderbook"))
    assert book["contents"] == httpx.get(f"{dydx.replica.indexer_url}/v4/orderbooks/perpetualMarket/BTC-USD").json()
    account = socket.next(_on("subscribed", "v4_subaccounts"))
    assert account["id"] == f"{ADDRESS}/0"
    assert (account["contents"]["subaccount"]["equity"], account["contents"]["orders"]) == ("100000", [])
    assert socket.next(_on("subscribed", "v4_trades"))["contents"] == {"trades": []}
    markets = socket.next(_on("subscribed", "v4_markets"))["contents"]["markets"]
    assert markets["BTC-USD"]["oraclePrice"] == "60000"

    dydx.seed("BTC-USD", SELL, (60_000, "0.1"))
    update = socket.next(_on("channel_batch_data", "v4_orderbook"))
    assert (update["id"], update["version"], update["contents"]) == (
        "BTC-USD",
        "1.0.0",
        [{"bids": [], "asks": [["60000", "0.1"]]}],
    )

    async def buy() -> None:
        async with DydxConnector(dydx.settings()) as connector:
            result = await connector.order_result(
                await connector.place_order(OrderRequest("BTC-USD", Side.BUY, D("0.1"), D(60_000)))
            )
            assert result.filled_size == D("0.1")

    asyncio.run(buy())
    taken = socket.next(_on("channel_batch_data", "v4_orderbook"))
    assert taken["contents"] == [{"bids": [], "asks": [["60000", "0"]]}], "the level is gone"
    (trade,) = socket.next(_on("channel_data", "v4_trades"))["contents"]["trades"]
    assert (trade["side"], trade["price"], trade["size"]) == ("BUY", "60000", "0.1")
    # The fill, its order, the position and the USDC it moved: in one message, or over two when the replica's
    # live balances were read before the block that shows the fill.
    changed: Message = {}
    while not {"fills", "orders", "perpetualPositions", "assetPositions"} <= set(changed):
        changed |= socket.next(_on("channel_data", "v4_subaccounts"))["contents"]
    (fill,) = changed["fills"]
    (order,) = changed["orders"]
    (position,) = changed["perpetualPositions"]
    assert (fill["side"], fill["price"], fill["size"], fill["liquidity"]) == ("BUY", "60000", "0.1", "TAKER")
    assert (order["id"], order["status"], order["totalFilled"]) == (fill["orderId"], "FILLED", "0.1")
    assert (position["market"], position["side"], position["size"]) == ("BTC-USD", "LONG", "0.1")
    (usdc,) = changed["assetPositions"]
    assert D(usdc["size"]) == D(100_000) - D(6_000) - D(3)  # 0.1 BTC at 60,000 and a 5 bps taker fee
    assert int(changed["blockHeight"]) >= int(trade["createdAtHeight"])

    dydx.chain.set_oracle_price("ETH-USD", D(3_100))
    prices = socket.next(_on("channel_data", "v4_markets"))["contents"]["oraclePrices"]
    assert (set(prices), prices["ETH-USD"]["oraclePrice"], prices["ETH-USD"]["marketId"]) == ({"ETH-USD"}, "3100", 1)
    assert MAKER not in json.dumps(changed), "only the subscribed subaccount's changes"


def test_blocks_pings_unsubscribing_and_refusals(dydx: Bench, socket: Socket) -> None:
    socket.next(lambda m: m["type"] == "connected")
    socket.app.send(json.dumps({"type": "subscribe", "channel": "v4_block_height"}))
    first = int(socket.next(_on("subscribed", "v4_block_height"))["contents"]["height"])
    block = socket.next(_on("channel_data", "v4_block_height"))
    assert int(block["contents"]["blockHeight"]) > first

    socket.app.send(json.dumps({"type": "ping", "id": 7}))
    assert socket.next(lambda m: m["type"] == "pong")["id"] == 7
    socket.app.send(json.dumps({"type": "unsubscribe", "channel": "v4_block_height"}))
    socket.next(_on("unsubscribed", "v4_block_height"))

    socket.app.order_book.subscribe("DOGE-USD")
    refused = socket.next(lambda m: m["type"] == "error")
    assert refused["message"] == "Invalid subscription id for channel: (v4_orderbook-DOGE-USD): no market DOGE-USD"
    socket.app.subaccounts.subscribe("dydx1nobody", 0)
    assert "no subaccount dydx1nobody/0" in socket.next(lambda m: m["type"] == "error")["message"]
    socket.app.send(json.dumps({"type": "subscribe", "channel": "v4_candles", "id": "BTC-USD/1MIN"}))
    assert socket.next(lambda m: m["type"] == "error")["message"] == (
        "Invalid subscribe message: channel is not a valid channel"
    )
    ids = [message["message_id"] for message in socket.seen]
    while not socket.messages.empty():
        ids.append(socket.messages.get()["message_id"])
    assert ids == sorted(ids), "message ids count up"

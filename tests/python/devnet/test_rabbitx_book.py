"""The pure order book and margin arithmetic, and the book's public channels on the running devnet."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from keeper.connectors.rabbitx.vocabulary import OrderType, Side, TimeInForce
from keeper.devnet.rabbitx.book import OrderBook, check_order_shape
from keeper.devnet.rabbitx.risk import Position

from .helpers import harness, run, wait_order

D = Decimal


def test_price_time_priority_and_partial_fills() -> None:
    book = OrderBook("BTC-USD")
    book.add("a", 1, Side.SHORT, D(101), D(1))
    book.add("b", 2, Side.SHORT, D(100), D(1))
    book.add("c", 3, Side.SHORT, D(100), D(2))
    book.add("d", 4, Side.LONG, D(99), D(5))
    assert (book.best_bid(), book.best_ask(), book.mid()) == (D(99), D(100), D("99.5"))
    assert book.fillable(Side.LONG, D(100)) == D(3)
    matches = book.match(Side.LONG, D("3.5"), D(101))
    assert [(m.maker_order_id, m.price, m.size, m.maker_remaining) for m in matches] == [
        ("b", D(100), D(1), D(0)),
        ("c", D(100), D(2), D(0)),
        ("a", D(101), D("0.5"), D("0.5")),
    ]
    assert book.levels(Side.SHORT) == [(D(101), D("0.5"))]
    assert book.match(Side.SHORT, D(1), D(100)) == []
    assert book.would_cross(Side.SHORT, D(99)) and not book.would_cross(Side.SHORT, D("99.5"))
    assert book.remove("d") is not None and book.best_bid() is None
    assert "a" in book and "b" not in book


def test_order_shape_rejections() -> None:
    def check(price: Decimal | None, size: Decimal, kind: OrderType = OrderType.LIMIT) -> str | None:
        return check_order_shape("ETH-USD", D("0.1"), D("0.001"), kind, price, size, TimeInForce.GOOD_TILL_CANCEL)

    assert check(D("3000.1"), D("0.001")) is None
    assert check(None, D("0.001"), OrderType.MARKET) is None
    assert check(D("3000.04"), D("0.001")) == "bad_price has=3000.04 required=3000"
    assert check(D(3000), D("0.0015")) == "bad_order_size has=0.0015 required=0.002"
    assert check(D(3000), D(0)) == "bad order size"
    assert check(None, D(1)) == "bad order price"
    assert check(D(0), D(0)) == "bad order price"


def test_position_arithmetic_realizes_pnl() -> None:
    position = Position()
    assert position.apply_fill(D(2), D(100)) == 0
    assert position.apply_fill(D(1), D(110)) == 0
    tiny = D("1e-24")  # entry prices carry 40 significant digits, as RabbitX's own (docs positions.md) do
    assert abs(position.entry_price - D(310) / 3) < tiny
    realized = position.apply_fill(D(-3), D(120))
    assert abs(realized - (D(3) * D(120) - D(310))) < tiny
    assert position.size == 0
    assert position.apply_fill(D(-1), D(50)) == 0
    assert position.apply_fill(D(2), D(40)) == D(10)
    assert (position.size, position.entry_price) == (D(1), D(40))


def test_public_channels_stream_book_levels_and_trades_with_offsets() -> None:
    async def scenario() -> None:
        async with harness() as h:
            maker, taker = await h.trader(60), await h.trader(61)
            assert maker.credentials is not None
            async with h.session.ws_connect(h.ws_url) as ws:
                await ws.send_str(json.dumps({"connect": {"token": maker.credentials.jwt, "name": "js"}, "id": 1}))
                assert "connect" in await ws.receive_json(timeout=5)
                # Several commands in one frame, separated by "\n", as RabbitX allows.
                frame = "\n".join(
                    json.dumps({"subscribe": {"channel": ch, "name": "js"}, "id": i})
                    for i, ch in enumerate(["orderbook:SOL-USD", "trade:SOL-USD", "account@999"], start=2)
                )
                await ws.send_str(frame)
                replies = [await ws.receive_json(timeout=5) for _ in range(3)]
                assert replies[0]["subscribe"]["data"]["bids"] == []
                assert replies[1]["subscribe"]["data"] == []
                assert replies[2]["error"]["code"] == 103

                order = await maker.create_order("SOL-USD", "long", D(2), D(150))
                await wait_order(maker, order["id"], "open")
                hit = await taker.create_order("SOL-USD", "short", D("0.5"), D(150), time_in_force="fill_or_kill")
                await wait_order(taker, hit["id"], "closed")
                canceled = await maker.cancel_order("SOL-USD", order["id"])
                assert canceled["status"] == "canceling"
                await wait_order(maker, order["id"], "canceled")

                pushes: list[dict[str, Any]] = []
                while len([p for p in pushes if p["channel"] == "orderbook:SOL-USD"]) < 3:
                    message = await ws.receive_json(timeout=5)
                    if "push" in message:
                        pushes.append(message["push"])
                books = [p["pub"] for p in pushes if p["channel"] == "orderbook:SOL-USD"]
                assert [b["data"]["bids"] for b in books] == [[["150", "2"]], [["150", "1.5"]], [["150", "0"]]]
                assert [b["data"]["sequence"] for b in books] == [1, 2, 3]
                assert [b["offset"] for b in books] == [1, 2, 3]
                trades = [p["pub"]["data"] for p in pushes if p["channel"] == "trade:SOL-USD"]
                assert trades == [
                    [
                        {
                            "id": trades[0][0]["id"],
                            "market_id": "SOL-USD",
                            "timestamp": trades[0][0]["timestamp"],
                            "price": "150",
                            "size": "0.5",
                            "liquidation": False,
                            "taker_side": "short",
                        }
                    ]
                ]
            rest = (await maker.public("/markets/orderbook", {"market_id": "SOL-USD"}))[0]
            assert rest["sequence"] == 3 and rest["bids"] == []

    run(scenario())

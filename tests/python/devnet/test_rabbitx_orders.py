"""Orders against the running devnet RabbitX: partial fills over the WebSocket, rejections, IOC, recovery via REST."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from keeper.connectors.rabbitx.errors import RabbitXRequestError

from .helpers import harness, run, wait_order

D = Decimal


async def _fill_updates(stream: Any, count: int) -> list[dict[str, Any]]:
    """Account pushes until `count` fills have arrived; each returned update carries at least one fill."""
    updates = []
    seen = 0
    while seen < count:
        update = await stream.next_update()
        if update.get("fills"):
            updates.append(update)
            seen += len(update["fills"])
    return updates


def test_order_filled_in_parts_over_several_websocket_messages() -> None:
    async def scenario() -> None:
        async with harness() as h:
            maker = await h.trader(1)
            taker = await h.trader(2)
            stream = await h.stream(maker)
            resting = await maker.create_order("BTC-USD", "short", D("0.3"), D(60000), client_order_id="mk-1")
            assert resting["status"] == "processing"
            assert resting["id"].startswith("BTC-USD@")
            await wait_order(maker, resting["id"], "open")

            for _ in range(3):
                taken = await taker.create_order("BTC-USD", "long", D("0.1"), D(60000))
                await wait_order(taker, taken["id"], "closed")

            updates = await _fill_updates(stream, 3)
            assert len(updates) == 3, "each taker order reaches the maker as its own push"
            fills = [f for u in updates for f in u["fills"]]
            assert len({f["id"] for f in fills}) == 3
            assert [f["sequence"] for f in fills] == [1, 2, 3]
            assert all(f["order_id"] == resting["id"] and f["is_maker"] for f in fills)
            assert all(f["price"] == "60000" and f["size"] == "0.1" and f["side"] == "short" for f in fills)
            filled = [next(o for o in u["orders"] if o["id"] == resting["id"]) for u in updates]
            assert [o["total_filled_size"] for o in filled] == ["0.1", "0.2", "0.3"]
            assert [o["status"] for o in filled] == ["open", "open", "closed"]
            assert filled[-1]["client_order_id"] == "mk-1"

            position = (await maker.positions())[0]
            assert (position["market_id"], position["side"], position["size"]) == ("BTC-USD", "short", "0.3")
            taker_fills = await taker.fills(p_order="ASC")
            assert [f["is_maker"] for f in taker_fills] == [False, False, False]
            assert D(taker_fills[0]["fee"]) == -D("0.1") * 60000 * D("0.0005")

    run(scenario())


def test_rejections_carry_their_reason() -> None:
    async def scenario() -> None:
        async with harness() as h:
            poor = await h.trader(3, deposit=D(100))
            too_big = await poor.create_order("BTC-USD", "long", D(1), D(60000))
            order = await wait_order(poor, too_big["id"], "rejected")
            assert order["reason"].startswith("insufficient margin: equity 100 < required 3000")

            reduce = await poor.private(
                "POST",
                "/orders",
                {"market_id": "ETH-USD", "side": "short", "size": D("0.01"), "price": D(3000), "type": "limit",
                 "reduce_only": True},
            )  # fmt: skip
            order = await wait_order(poor, reduce[0]["id"], "rejected")
            assert order["reason"].startswith("reduce-only order would increase the position")

            with pytest.raises(RabbitXRequestError) as unknown:
                await poor.create_order("DOGE-USD", "long", D(1), D("0.1"))
            assert unknown.value.status == 400
            assert "unknown market 'DOGE-USD'" in unknown.value.error

    run(scenario())


@pytest.mark.parametrize(
    ("price", "size", "error"),
    [
        ("60000", "-0.01", "bad order size"),
        ("60000", "0", "bad order size"),
        ("0", "0.01", "bad order price"),
        ("-5", "0.01", "bad order price"),
        (None, "0.01", "bad order price"),
        ("60000.123", "0.01", "bad_price has=60000.123 required=60000"),
        ("60000", "0.00001", "bad_order_size has=0.00001 required=0"),
        ("60000", "0.00015", "bad_order_size has=0.00015 required=0.0002"),
    ],
)
def test_order_off_the_market_grid_is_refused_at_once(price: str | None, size: str, error: str) -> None:
    """RabbitX checks an order's price and size before it takes the order (its API's pre-create risk check), so
    such an order is answered `success: false` with the reason, and never appears among the account's orders."""

    async def scenario() -> None:
        async with harness() as h:
            trader = await h.trader(12)
            body = {"market_id": "BTC-USD", "side": "long", "size": size, "type": "limit"}
            if price is not None:
                body["price"] = price
            with pytest.raises(RabbitXRequestError) as refused:
                await trader.private("POST", "/orders", body)
            assert (refused.value.status, refused.value.error) == (400, error)
            assert await trader.orders() == []

    run(scenario())


def test_a_market_orders_price_is_ignored() -> None:
    """RabbitX's pre-create check sets a market order's price itself (the fair price times the market's limit
    ratio), so the price a client sends (RabbitX's Python client always sends one) neither refuses nor limits it."""

    async def scenario() -> None:
        async with harness() as h:
            maker, taker = await h.trader(13), await h.trader(14)
            ask = await maker.create_order("BTC-USD", "short", D("0.3"), D(60000))
            await wait_order(maker, ask["id"], "open")
            for price in ("0", "1", "60000.123"):
                body = {"market_id": "BTC-USD", "side": "long", "size": "0.1", "price": price, "type": "market"}
                [placed] = await taker.private("POST", "/orders", body)
                assert placed["status"] == "processing"
                order = await wait_order(taker, placed["id"], "closed")
                assert order["total_filled_size"] == "0.1"
            assert [f["price"] for f in await taker.fills()] == ["60000"] * 3

    run(scenario())


def test_a_post_only_market_order_is_refused_in_rabbitxs_words() -> None:
    async def scenario() -> None:
        async with harness() as h:
            trader = await h.trader(15)
            body = {"market_id": "BTC-USD", "side": "long", "size": "0.1", "type": "market"}
            with pytest.raises(RabbitXRequestError) as refused:
                await trader.private("POST", "/orders", {**body, "time_in_force": "post_only"})
            assert (refused.value.status, refused.value.error) == (
                400,
                "RiskManager CheckOrderParams: invalid time-in-force=post_only",
            )
            assert await trader.orders() == []

    run(scenario())


def test_ioc_expires_unfilled_on_an_empty_book() -> None:
    async def scenario() -> None:
        async with harness() as h:
            trader = await h.trader(4)
            stream = await h.stream(trader)
            ioc = await trader.create_order("ETH-USD", "long", D("0.5"), D(3000), time_in_force="immediate_or_cancel")
            assert ioc["status"] == "processing"
            order = await wait_order(trader, ioc["id"], "canceled")
            assert order["total_filled_size"] == "0"
            assert "expired unfilled" in order["reason"]
            assert await trader.fills() == []
            statuses = []
            while "canceled" not in statuses:
                update = await stream.next_update()
                statuses += [o["status"] for o in update.get("orders", []) if o["id"] == ioc["id"]]
            assert statuses[0] == "processing" and statuses[-1] == "canceled"
            assert await trader.positions() == []

    run(scenario())


def test_dropped_websocket_fills_recovered_over_rest_without_duplicates() -> None:
    async def scenario() -> None:
        async with harness() as h:
            maker = await h.trader(5)
            taker = await h.trader(6)
            resting = await maker.create_order("BTC-USD", "long", D("0.5"), D(59000))
            await wait_order(maker, resting["id"], "open")
            stream = await h.stream(maker)

            first = await taker.create_order("BTC-USD", "short", D("0.1"), D(59000))
            await wait_order(taker, first["id"], "closed")
            received = [f for u in await _fill_updates(stream, 1) for f in u["fills"]]
            await stream.close()  # the connection drops while the maker's order is still working

            for size in (D("0.1"), D("0.2")):
                more = await taker.create_order("BTC-USD", "short", size, D(59000))
                await wait_order(taker, more["id"], "closed")

            last_seen = max(f["sequence"] for f in received)
            rest = await maker.fills(p_order="ASC")
            missing = [f for f in rest if f["sequence"] > last_seen]
            merged = {f["id"]: f for f in received + missing}
            assert len(merged) == 3
            assert sorted(f["sequence"] for f in merged.values()) == [1, 2, 3]
            assert sum(D(f["size"]) for f in merged.values()) == D("0.4")
            assert {f["id"] for f in rest} == set(merged)
            assert (await maker.fills(after_sequence=str(last_seen), p_order="ASC")) == missing

            again = await h.stream(maker)
            assert again.snapshot["last_fill_sequence"] == 3
            order = await maker.order(resting["id"])
            assert (order["status"], order["total_filled_size"], order["size"]) == ("open", "0.4", "0.1")

    run(scenario())


def test_post_only_rests_or_is_rejected_when_it_would_cross() -> None:
    async def scenario() -> None:
        async with harness() as h:
            seller, buyer = await h.trader(7), await h.trader(8)
            ask = await seller.create_order("ETH-USD", "short", D(1), D(3000))
            await wait_order(seller, ask["id"], "open")
            crossing = await buyer.create_order("ETH-USD", "long", D(1), D(3000), time_in_force="post_only")
            order = await wait_order(buyer, crossing["id"], "rejected")
            assert order["reason"] == "post-only order would cross the book: long at 3000"
            passive = await buyer.create_order("ETH-USD", "long", D(1), D("2999.9"), time_in_force="post_only")
            order = await wait_order(buyer, passive["id"], "open")
            assert order["time_in_force"] == "post_only"
            assert await buyer.fills() == []
            fok = await buyer.create_order("ETH-USD", "long", D(2), D(3000), time_in_force="fill_or_kill")
            order = await wait_order(buyer, fok["id"], "canceled")
            assert order["reason"].startswith("fill-or-kill order cannot be filled in full")
            assert (await seller.order(ask["id"]))["total_filled_size"] == "0"

    run(scenario())

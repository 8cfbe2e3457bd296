"""Amending resting orders on the running devnet RabbitX (`PUT /orders`, as RabbitX's Python client sends it): a
smaller size keeps the order's place in the queue, a new price re-places it and may trade at once, and a refused
amendment leaves the order as it was."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from keeper.connectors.rabbitx.client import RabbitXClient
from keeper.connectors.rabbitx.errors import RabbitXRequestError

from .helpers import harness, run, wait_order

D = Decimal


async def _amend(client: RabbitXClient, order_id: str, **fields: Any) -> dict[str, Any]:
    result: dict[str, Any] = (
        await client.private("PUT", "/orders", {"order_id": order_id, "market_id": "BTC-USD", **fields})
    )[0]
    return result


async def _resting(client: RabbitXClient, side: str, size: Decimal, price: Decimal, **kwargs: Any) -> dict[str, Any]:
    placed = await client.create_order("BTC-USD", side, size, price, **kwargs)
    return await wait_order(client, placed["id"], "open")


async def _amended(client: RabbitXClient, order_id: str, **fields: Any) -> dict[str, Any]:
    """Amend and wait until the matching engine has decided it (the order is no longer "amending")."""
    answer = await _amend(client, order_id, **fields)
    assert (answer["id"], answer["status"]) == (order_id, "amending")
    return await wait_order(client, order_id, "open", "closed", "canceled")


def test_a_smaller_size_keeps_the_place_in_the_queue() -> None:
    async def scenario() -> None:
        async with harness() as h:
            first, second, taker = await h.trader(1), await h.trader(2), await h.trader(3)
            early = await _resting(first, "short", D("0.3"), D(60000))
            late = await _resting(second, "short", D("0.3"), D(60000))

            shrunk = await _amended(first, early["id"], price=D(60000), size=D("0.2"))
            assert (shrunk["status"], shrunk["size"], shrunk["initial_size"]) == ("open", "0.2", "0.2")
            assert h.devnet.exchange.orderbook_json("BTC-USD")["asks"] == [["60000", "0.5"]]

            taken = await taker.create_order("BTC-USD", "long", D("0.2"), D(60000))
            await wait_order(taker, taken["id"], "closed")
            assert (await first.order(early["id"]))["status"] == "closed", "the amended order was still first"
            assert (await second.order(late["id"]))["total_filled_size"] == "0"

    run(scenario())


def test_a_new_price_re_places_the_order_and_trades_what_it_now_crosses() -> None:
    async def scenario() -> None:
        async with harness() as h:
            bidder, seller = await h.trader(4), await h.trader(5)
            bid = await _resting(bidder, "long", D("0.1"), D(59900))
            ask = await _resting(seller, "short", D("0.3"), D(60100))

            moved = await _amended(seller, ask["id"], price=D(59900))
            assert (moved["status"], moved["price"]) == ("open", "59900")
            assert (moved["total_filled_size"], moved["size"], moved["initial_size"]) == ("0.1", "0.2", "0.3")
            (fill,) = await seller.fills()
            assert (fill["order_id"], fill["price"], fill["size"]) == (ask["id"], "59900", "0.1")
            assert not fill["is_maker"], "an amendment that crosses takes"
            assert (await bidder.order(bid["id"]))["status"] == "closed"
            book = h.devnet.exchange.orderbook_json("BTC-USD")
            assert (book["bids"], book["asks"]) == ([], [["59900", "0.2"]])

            # Its total size counts what it filled: 0.25 in all leaves 0.15 to rest.
            grown = await _amended(seller, ask["id"], price=D(59900), size=D("0.25"))
            assert (grown["size"], grown["initial_size"], grown["total_filled_size"]) == ("0.15", "0.25", "0.1")

    run(scenario())


def test_a_refused_amendment_leaves_the_order_as_it_was() -> None:
    async def scenario() -> None:
        async with harness() as h:
            bidder, maker = await h.trader(6), await h.trader(7, deposit=D(1_000))
            await _resting(bidder, "long", D("0.1"), D(59000))
            ask = await _resting(maker, "short", D("0.1"), D(61000), time_in_force="post_only")

            crossing = await _amended(maker, ask["id"], price=D(58000))
            assert (crossing["status"], crossing["price"], crossing["size"]) == ("open", "61000", "0.1")
            assert crossing["reason"].startswith("amendment refused: post-only order would cross the book")

            # 300,000 of notional on 1,000 of equity
            too_big = await _amended(maker, ask["id"], price=D(61000), size=D(5))
            assert (too_big["status"], too_big["size"]) == ("open", "0.1")
            assert too_big["reason"].startswith("amendment refused: insufficient margin")

            fine = await _amended(maker, ask["id"], price=D(60500))
            assert (fine["price"], fine["reason"]) == ("60500", "")

    run(scenario())


def test_an_amendment_that_cannot_apply_is_refused_at_once() -> None:
    async def scenario() -> None:
        async with harness() as h:
            maker, taker = await h.trader(8), await h.trader(9)
            ask = await _resting(maker, "short", D("0.2"), D(60000))
            taken = await taker.create_order("BTC-USD", "long", D("0.1"), D(60000))
            await wait_order(taker, taken["id"], "closed")

            below_filled = await _amended(maker, ask["id"], price=D(60000), size=D("0.1"))
            assert below_filled["reason"].startswith("amendment refused: bad order size: size 0.1 is not above the 0.1")
            assert below_filled["size"] == "0.1"

            # RabbitX's API checks an amendment's shape as it does a new order's, and refuses it in the answer; its
            # price is required (RabbitX documents the size alone as optional).
            for fields, error in (
                ({}, "bad order price"),
                ({"size": D("0.15")}, "bad order price"),
                ({"price": D(0)}, "bad order price"),
                ({"price": D(60000), "size": D("-0.1")}, "bad order size"),
                ({"price": D("60000.4")}, "bad_price has=60000.4 required=60000"),
                ({"price": D(60000), "size": D("0.15001")}, "bad_order_size has=0.15001 required=0.15"),
            ):
                with pytest.raises(RabbitXRequestError) as refused:
                    await _amend(maker, ask["id"], **fields)
                assert (refused.value.status, refused.value.error) == (400, error)
            unchanged = await maker.order(ask["id"])
            assert (unchanged["status"], unchanged["price"], unchanged["size"]) == ("open", "60000", "0.1")
            assert h.devnet.exchange.orderbook_json("BTC-USD")["asks"] == [["60000", "0.1"]]

            with pytest.raises(RabbitXRequestError, match="size_percent is not supported"):
                await _amend(maker, ask["id"], size_percent=50)
            with pytest.raises(RabbitXRequestError, match=f"order {taken['id']} not found"):
                await _amend(maker, taken["id"], price=D(60100))  # another account's order
            with pytest.raises(RabbitXRequestError, match="is closed: only an open order can be amended"):
                await _amend(taker, taken["id"], price=D(60100))

    run(scenario())

"""The devnet RabbitX's WebSocket read with centrifuge-python, the Centrifuge SDK RabbitX's docs tell WebSocket
clients to use: it connects with the onboarding JWT, subscribes to an account and an order book with their
snapshots, and receives each change as a publication with gap-free offsets; a forged token is refused."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from centrifuge import (
    Client,
    ClientEventHandler,
    DisconnectedContext,
    PublicationContext,
    SubscribedContext,
    SubscriptionEventHandler,
)

from .helpers import harness, run, wait_for, wait_order

D = Decimal


class _Channel(SubscriptionEventHandler):
    def __init__(self) -> None:
        self.snapshot: Any = None
        self.publications: list[tuple[int, Any]] = []

    async def on_subscribed(self, ctx: SubscribedContext) -> None:
        self.snapshot = ctx.data

    async def on_publication(self, ctx: PublicationContext) -> None:
        self.publications.append((ctx.pub.offset, ctx.pub.data))


class _Connection(ClientEventHandler):
    def __init__(self) -> None:
        self.disconnected: list[DisconnectedContext] = []

    async def on_disconnected(self, ctx: DisconnectedContext) -> None:
        self.disconnected.append(ctx)


def test_the_sdk_reads_snapshots_and_gap_free_publications() -> None:
    async def scenario() -> None:
        async with harness() as h:
            maker, taker = await h.trader(40), await h.trader(41)
            assert taker.credentials is not None
            client = Client(h.ws_url, token=taker.credentials.jwt, use_protobuf=False)
            account, book = _Channel(), _Channel()
            await client.connect()
            try:
                channels = ((f"account@{taker.credentials.profile_id}", account), ("orderbook:BTC-USD", book))
                for channel, events in channels:
                    subscription = client.new_subscription(channel, events=events)
                    await subscription.subscribe()
                    await subscription.ready(timeout=5)
                assert account.snapshot["id"] == taker.credentials.profile_id
                assert D(account.snapshot["balance"]) == 10_000
                assert (book.snapshot["bids"], book.snapshot["asks"]) == ([], [])

                ask = await maker.create_order("BTC-USD", "short", D("0.05"), D(60_000))
                await wait_order(maker, ask["id"], "open")
                bought = await taker.create_order("BTC-USD", "long", D("0.02"), D(60_000))
                await wait_order(taker, bought["id"], "closed")

                async def filled() -> list[Any] | None:
                    fills = [f for _, data in account.publications for f in data.get("fills") or []]
                    return fills or None

                (fill,) = await wait_for(filled, what="the taker's fill over the WebSocket")
                assert (fill["order_id"], fill["price"], fill["size"], fill["is_maker"]) == (
                    bought["id"],
                    "60000",
                    "0.02",
                    False,
                )
                await wait_for(lambda: _async(len(book.publications) >= 2), what="two order book changes")
                for channel in (account, book):
                    offsets = [offset for offset, _ in channel.publications]
                    assert offsets == list(range(offsets[0], offsets[0] + len(offsets))), offsets
                assert book.publications[-1][1]["asks"] == [["60000", "0.03"]]
            finally:
                await client.disconnect()

    run(scenario())


async def _async(value: bool) -> bool | None:
    return value or None


def test_a_forged_token_is_refused() -> None:
    async def scenario() -> None:
        async with harness() as h:
            trader = await h.trader(42)
            assert trader.credentials is not None
            header, claims, _ = trader.credentials.jwt.split(".")
            events = _Connection()
            client = Client(h.ws_url, token=f"{header}.{claims}.forged", events=events, use_protobuf=False)
            try:
                await client.connect()
                await wait_for(lambda: _async(bool(events.disconnected)), what="the refusal")
            finally:
                await client.disconnect()
            refusal = events.disconnected[0]
            # Centrifuge's code for an unauthorized connection: the SDK stops instead of reconnecting.
            assert (refusal.code, refusal.reason) == (101, "unauthorized: token signature is invalid")

    run(asyncio.wait_for(scenario(), 20))

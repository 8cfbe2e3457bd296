"""The RabbitX venue's fills that name only their order: an order the exchange does not list yet (its REST listing
lagging its WebSocket) is looked up again when the fills come again, never given up at once as "not the seat's"; one
still unlisted after `UNLISTED_ORDER_PATIENCE` is given up with an ALERT. And a withdrawal paid out of custody is
paid once. No chain: the exchange and custody are stand-ins."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Any, cast

import pytest

from keeper.connectors.rabbitx.errors import ORDER_NOT_FOUND, RabbitXRequestError
from keeper.connectors.rabbitx.models import Fill, Order, Withdrawal, WithdrawalClaim
from keeper.connectors.rabbitx.vocabulary import OrderStatus, OrderType, Side, TimeInForce
from keeper.seats import rabbitx
from keeper.seats.rabbitx import RabbitXVenue

PREFIX = "pv31337-v1-c"


def order(order_id: str, child_id: int) -> Order:
    return Order(
        order_id, "ETH-USD", f"{PREFIX}{child_id}", Side.LONG, OrderType.LIMIT, OrderStatus.CLOSED,
        Decimal(3000), Decimal(1), Decimal(1), TimeInForce.IMMEDIATE_OR_CANCEL, "",
    )  # fmt: skip


def fill(fill_id: str, order_id: str) -> Fill:
    return Fill(
        fill_id, order_id, "", "ETH-USD", Side.LONG, Decimal(3000), Decimal(1), Decimal(0), 0, False, "t-1", False
    )


class Listing:
    """The exchange's order listing, which lists the order only from look-up `listed_from` on (None: never)."""

    def __init__(self, listed: Order, listed_from: int | None) -> None:
        self.looked = 0
        self._order = listed
        self._from = listed_from

    async def order(self, order_id: str) -> Order:
        self.looked += 1
        if self._from is None or self.looked < self._from:
            raise RabbitXRequestError("GET", "/orders", 404, f"{ORDER_NOT_FOUND}: order {order_id} not found")
        return self._order


def venue(connector: Any, custody: Any = None) -> RabbitXVenue:
    return RabbitXVenue(cast(Any, connector), cast(Any, custody), PREFIX, 6)


def test_a_fill_whose_order_is_not_listed_yet_is_not_given_up() -> None:
    """Every fill of the account's channel is of one of the account's orders: an order not listed yet raises (the
    feed passes the fill on again, unacknowledged), and the next look-up finds its child."""
    listing = Listing(order("o-1", 42), listed_from=2)
    seat_venue = venue(listing)

    async def scenario() -> list[int | None]:
        with pytest.raises(RabbitXRequestError, match=ORDER_NOT_FOUND):
            await seat_venue.seat_fills([fill("f-1", "o-1")])
        return [f.child_id for f in await seat_venue.seat_fills([fill("f-1", "o-1")])]

    assert asyncio.run(scenario()) == [42]
    assert listing.looked == 2


def test_a_fill_whose_order_stays_unlisted_is_given_up_with_an_alert_naming_it(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The look-ups are bounded: once the order has gone unlisted for `UNLISTED_ORDER_PATIENCE` seconds the fill is
    given up as childless (so the feed can acknowledge it and go on), said in one ALERT naming the fill and its
    order, and the order is not looked up again."""
    monkeypatch.setattr(rabbitx, "UNLISTED_ORDER_PATIENCE", 0.05)
    listing = Listing(order("o-7", 7), listed_from=None)
    seat_venue = venue(listing)
    caplog.set_level(logging.INFO, logger="primevault.keeper")

    async def scenario() -> list[int | None]:
        with pytest.raises(RabbitXRequestError):
            await seat_venue.seat_fills([fill("f-9", "o-7")])
        assert not [r for r in caplog.records if "ALERT" in r.getMessage()]
        await asyncio.sleep(0.1)
        given_up = [f.child_id for f in await seat_venue.seat_fills([fill("f-9", "o-7")])]
        again = [f.child_id for f in await seat_venue.seat_fills([fill("f-10", "o-7")])]
        return given_up + again

    assert asyncio.run(scenario()) == [None, None]
    alerts = [r.getMessage() for r in caplog.records if "ALERT" in r.getMessage()]
    assert len(alerts) == 1 and "f-9" in alerts[0] and "o-7" in alerts[0], alerts
    assert listing.looked == 2


class Withdrawals:
    """The exchange's withdrawals: one claimable, with its signed claim asked for on its own."""

    def __init__(self) -> None:
        self.claims_asked = 0
        self.claim = WithdrawalClaim(5, "0x" + "11" * 20, 10**6, 27, b"\x01" * 32, b"\x02" * 32)

    async def withdrawals(self) -> list[Withdrawal]:
        return [Withdrawal("w-5", Decimal(1), "claimable", 0, None)]

    async def withdrawal_claim(self, withdrawal: Withdrawal) -> Withdrawal:
        self.claims_asked += 1
        return Withdrawal(withdrawal.withdrawal_id, withdrawal.amount, withdrawal.status, 0, self.claim)


class Custody:
    def __init__(self) -> None:
        self.withdrawn: list[int] = []

    def is_paid(self, withdrawal_id: int) -> bool:
        return withdrawal_id in self.withdrawn

    def withdraw(self, claim: WithdrawalClaim) -> None:
        self.withdrawn.append(claim.withdrawal_id)


def test_a_claimable_withdrawal_is_paid_once_and_its_claim_asked_for_once() -> None:
    """The exchange shows a paid withdrawal as claimable until it sees the payment: the venue remembers it paid."""
    exchange, custody = Withdrawals(), Custody()
    seat_venue = venue(exchange, custody)

    async def scenario() -> None:
        for _ in range(3):
            await seat_venue.pay_withdrawals()

    asyncio.run(scenario())
    assert custody.withdrawn == [5] and exchange.claims_asked == 1

"""The RabbitX seat when the exchange answers, but wrongly, end to end: real anvil, the devnet exchange served for real,
and a real proxy in front of its REST API that rewrites answers (a fill that cannot be, a crossed book, a balance that
is not a number), or the exchange's own WebSocket pushing messages of the wrong type. Nothing wrong is booked on
chain, each wrong answer is one line naming the venue and what was wrong (no traceback), and the good answers around
it go on."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

import aiohttp
import pytest

from keeper.connectors.rabbitx.connector import RabbitXConnector
from keeper.connectors.rabbitx.errors import RabbitXResponseError
from keeper.daemon.metrics import KeeperMetrics
from keeper.devnet.deploy import SEAT_VENUE
from keeper.jobs.context import SeatBooks
from keeper.jobs.seat import SeatJob
from keeper.seats.rabbitx import RabbitXSeat
from keeper.seats.seat import SeatFill
from tests.python.conftest import Chain
from tests.python.connectors.rabbitx_service import RabbitXService
from tests.python.seats.conftest import executor, forwarding, seat_account_with_resting_asks
from tests.python.seats.rewrite_proxy import RewriteProxy, rewrite_proxy
from tests.python.seats.test_seat_faults import child_for_one_eth, until

D = Decimal
FAR_FUTURE_US = int((time.time() + 10 * 365 * 86400) * 1e6)


def with_bogus_fill(change: dict[str, Any] | str) -> Callable[[Any], Any]:
    """A GET /fills rewrite: a fill of the child's own order (its first real fill, id "bogus-1") with `change` applied
    comes first, before the real ones; a string replaces the whole row."""

    def rewrite(envelope: Any) -> Any:
        rows = envelope["result"]
        if rows:
            bogus: Any = change if isinstance(change, str) else {**copy.deepcopy(rows[0]), "id": "bogus-1", **change}
            envelope["result"] = [bogus, *rows]
        return envelope

    return rewrite


@contextlib.asynccontextmanager
async def proxied_seat(
    market: Chain, exchange: RabbitXService, session: aiohttp.ClientSession
) -> AsyncIterator[tuple[RabbitXSeat, RabbitXConnector, RewriteProxy]]:
    """The seat's exchange account with the resting asks, and the seat reaching the exchange's REST API through a
    rewriting proxy (its WebSocket directly)."""
    keeper = executor(market)
    account = await seat_account_with_resting_asks(exchange, session, market)
    with rewrite_proxy(exchange.url) as proxy:
        direct = exchange.settings(account)
        settings = dataclasses.replace(direct, base_url=proxy.url, ws_url=direct.websocket_url)
        async with RabbitXConnector(settings) as connector:
            yield RabbitXSeat(keeper, connector, keeper.venue_id(SEAT_VENUE)), connector, proxy


def problems(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


BOGUS_FILLS: dict[str, dict[str, Any] | str] = {
    "negative-size": {"size": "-0.1"},
    "zero-size": {"size": "0"},
    "nan-size": {"size": "NaN"},
    "infinite-size": {"size": "Infinity"},
    "huge-size": {"size": "1e40"},
    "size-past-decimals-range": {"size": "1e1000000"},  # exact as text; any arithmetic on it overflows
    "size-past-the-child": {"size": "1.5"},
    "zero-price": {"price": "0"},
    "negative-price": {"price": "-3000"},
    "huge-price": {"price": "1e80"},
    "price-past-the-limit": {"price": "3100"},
    "nan-fee": {"fee": "NaN"},
    "wrong-side": {"side": "short"},
    "wrong-market": {"market_id": "BTC-USD"},
    "future-timestamp": {"timestamp": FAR_FUTURE_US},
    "no-price": {"price": None},
    "not-an-object": "garbage",
}


@pytest.mark.parametrize("change", list(BOGUS_FILLS.values()), ids=list(BOGUS_FILLS))
def test_a_wrong_fill_is_one_alert_and_the_fills_beside_it_are_booked(
    market: Chain, exchange: RabbitXService, caplog: pytest.LogCaptureFixture, change: dict[str, Any] | str
) -> None:
    """The exchange's fills come over REST only (its WebSocket refused), and every answer carries, before the child's
    two real fills, one that cannot be right. The wrong one is never booked (neither on the account nor, by
    closing the child, on the backstop book): it is one ALERT line naming rabbitx and what is wrong, said once
    however often it comes again, and the child's real fills are booked on its account."""
    keeper, me = executor(market), market.account(1).address
    child_id, now = child_for_one_eth(market)

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session, proxied_seat(market, exchange, session) as (seat, _, proxy):
            await exchange.drop_websockets(refuse_for=60.0)
            proxy.rewrite("GET", "/fills", with_bogus_fill(change))
            async with forwarding(seat):
                assert (await seat.cycle(now)).placed == (child_id,)
                await until(lambda: keeper.child_order(child_id).filled == D("0.8"))
                await asyncio.sleep(0.5)  # REST recovery reads the wrong fill again, more than once
            assert len(proxy.rewritten) > 1

    asyncio.run(scenario())
    child = keeper.child_order(child_id)
    assert (child.status, child.filled) == ("open", D("0.8")), "the child is not closed by a fill it never made"
    [position] = keeper.positions(me)
    assert (position.venue, position.size) == (SEAT_VENUE, D("0.8"))
    assert keeper.backstop() == [], "nothing went to the backstop book"
    said = problems(caplog)
    alerts = [m for m in said if m.startswith("ALERT")]
    assert len(alerts) == 1 and "rabbitx" in alerts[0].lower(), said
    if isinstance(change, dict):
        assert "bogus-1" in alerts[0], alerts
    assert all(r.exc_info is None for r in caplog.records), "no traceback"


def test_after_a_restart_a_fill_on_the_other_side_is_still_refused(
    market: Chain, exchange: RabbitXService, caplog: pytest.LogCaptureFixture
) -> None:
    """The seat checked a fill's market and side against its memory of the children it placed, so a seat restarted
    since took a sell reported for a buy child as the child's. It reads the child from the chain instead."""
    keeper = executor(market)
    child_id, _ = child_for_one_eth(market)

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session, proxied_seat(market, exchange, session) as (seat, _, _):
            wrong = SeatFill("rabbitx:restart-1", child_id, D(3000), D("0.5"), D("0.75"), "ETH-USD", -1)
            await seat.report([wrong])

    asyncio.run(scenario())
    assert keeper.child_order(child_id).filled == 0, "not booked"
    alerts = [m for m in problems(caplog) if m.startswith("ALERT")]
    assert len(alerts) == 1 and "but the child's order is on ETH-USD buy" in alerts[0], alerts


def test_a_fee_past_the_vaults_bound_is_booked_at_the_bound_with_an_alert(
    market: Chain, exchange: RabbitXService, caplog: pytest.LogCaptureFixture
) -> None:
    """Every fill says the exchange charged 100 USDC. The contract books at most 0.5% of a fill's notional and refused
    the report, so the seat closed the child and sent its fills to the backstop book: the account's order, filled
    at the venue, was the protocol's. Now each fill is booked on the account at the bound, with one ALERT."""
    keeper, me = executor(market), market.account(1).address
    child_id, now = child_for_one_eth(market)
    start = market.w3.eth.block_number

    def expensive(envelope: Any) -> Any:
        for row in envelope["result"]:
            row["fee"] = "-100"  # RabbitX reports a fee paid as a negative number
        return envelope

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session, proxied_seat(market, exchange, session) as (seat, _, proxy):
            await exchange.drop_websockets(refuse_for=60.0)
            proxy.rewrite("GET", "/fills", expensive)
            async with forwarding(seat):
                assert (await seat.cycle(now)).placed == (child_id,)
                await until(lambda: keeper.child_order(child_id).filled == D("0.8"))

    asyncio.run(scenario())
    assert keeper.backstop() == [], "nothing went to the backstop book"
    [position] = keeper.positions(me)
    assert (position.venue, position.size) == (SEAT_VENUE, D("0.8"))
    filled = keeper.contract.events.ChildFilled().get_logs(from_block=start)
    assert filled
    for event in filled:
        size, price = abs(event.args.size), event.args.price
        # WAD x WAD x bps per base unit of the 6-decimal base token, rounded up as the contract rounds it.
        assert event.args.fee == -(-size * 50 * price // 10 ** (18 + 18 + 4 - market.deployment.base.decimals))
    alerts = [m for m in problems(caplog) if m.startswith("ALERT")]
    assert len(alerts) == len(filled) and all("above the 50 bps the vault books" in m for m in alerts), alerts


def on_eth(change: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[Any], Any]:
    """A GET /markets/orderbook rewrite of ETH-USD's book."""

    def rewrite(envelope: Any) -> Any:
        envelope["result"] = [change(b) if b["market_id"] == "ETH-USD" else b for b in envelope["result"]]
        return envelope

    return rewrite


BAD_BOOKS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "crossed": lambda b: {**b, "bids": [["3005", "1"]]},
    "asks-out-of-order": lambda b: {**b, "asks": b["asks"][::-1]},
    "a-price-twice": lambda b: {**b, "asks": [b["asks"][0], b["asks"][0]]},
    "negative-size": lambda b: {**b, "asks": [[b["asks"][0][0], "-0.6"], *b["asks"][1:]]},
    "zero-price": lambda b: {**b, "bids": [["0", "1"]]},
}


@pytest.mark.parametrize("change", list(BAD_BOOKS.values()), ids=list(BAD_BOOKS))
def test_a_malformed_book_is_never_routed_over(
    market: Chain, exchange: RabbitXService, caplog: pytest.LogCaptureFixture, change: Callable[[Any], Any]
) -> None:
    """The seat job has published the exchange's ETH-USD book for the router; then the exchange's book comes wrong.
    It is refused in one line naming rabbitx and what is wrong, and the book published before is withdrawn (empty)
    rather than left for the router to route over; the other markets' books are read on."""
    books = SeatBooks()
    job = SeatJob(cast(Any, SimpleNamespace(deployment=market.deployment, books=books, metrics=KeeperMetrics())))
    caplog.set_level(logging.INFO, logger="primevault.keeper")

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session, proxied_seat(market, exchange, session) as (seat, conn, proxy):
            await job._read_books(seat, asyncio.ensure_future(seat.account()))
            before = books.get(seat.venue_id, "ETH-USD")
            assert before is not None and len(before.asks) == 2
            proxy.rewrite("GET", "/markets/orderbook", on_eth(change))
            with pytest.raises(RabbitXResponseError, match="order book"):
                await conn.order_book("ETH-USD")
            caplog.clear()
            await job._read_books(seat, asyncio.ensure_future(seat.account()))
            after = books.get(seat.venue_id, "ETH-USD")
            assert after is not None and after.bids == () and after.asks == (), "withdrawn, not left stale"
            assert all(books.get(seat.venue_id, m.ticker) is not None for m in market.deployment.markets)
            await job._read_books(seat, asyncio.ensure_future(seat.account()))  # still wrong: nothing more to say
            proxy.rewrite("GET", "/markets/orderbook", lambda envelope: envelope)
            await job._read_books(seat, asyncio.ensure_future(seat.account()))
            again = books.get(seat.venue_id, "ETH-USD")
            assert again is not None and len(again.asks) == 2, "routed over again once it reads right"

    asyncio.run(scenario())
    [said] = problems(caplog)
    assert said.startswith("rabbitx book of ETH-USD: RabbitX order book cannot be read"), said
    assert [r.getMessage() for r in caplog.records if "reads right again" in r.getMessage()] == [
        "rabbitx book of ETH-USD reads right again"
    ]
    assert all(r.exc_info is None for r in caplog.records), "no traceback"


def test_websocket_pushes_of_the_wrong_type_are_said_and_the_fills_still_booked(
    market: Chain, exchange: RabbitXService, caplog: pytest.LogCaptureFixture
) -> None:
    """The exchange's account channel pushes data of the wrong type: a text (ignored), a fill row that is a number or
    is dated 1e999 (JSON's infinity: an OverflowError, no ValueError, from under the row's reading) (an ALERT each),
    fills as an object (a warning: the socket is opened again and REST read). Nothing of it is booked or raises a
    traceback, and the child's real fills are booked."""
    keeper = executor(market)
    child_id, now = child_for_one_eth(market)

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session, proxied_seat(market, exchange, session) as (seat, conn, _):
            channel = f"account@{conn.client.credentials.profile_id if conn.client.credentials else 0}"
            async with forwarding(seat):
                await asyncio.sleep(0.5)  # subscribed

                async def push() -> None:
                    endless = {"id": "inf", "order_id": "o", "market_id": "ETH-USD", "side": "long", "price": "1"}
                    endless |= {"size": "1", "fee": "0", "timestamp": float("inf")}
                    for data in ("hello", {"fills": [42, endless]}, {"fills": {"id": "x"}}):
                        exchange.devnet.hub.publish(channel, data)

                await exchange.on_service(push)
                assert (await seat.cycle(now)).placed == (child_id,)
                await until(lambda: keeper.child_order(child_id).filled == D("0.8"))

    asyncio.run(scenario())
    assert keeper.backstop() == []
    assert all(r.exc_info is None for r in caplog.records), "no traceback"
    alerts = [m for m in problems(caplog) if m.startswith("ALERT")]
    assert alerts[0] == "ALERT RabbitX fill 42 refused, not reported: RabbitX fill is not an object: '42'", alerts
    assert len(alerts) == 2 and alerts[1].startswith(
        "ALERT RabbitX fill inf refused, not reported: RabbitX fill cannot"
    ), alerts
    assert any("fills is not a list" in m for m in problems(caplog))


BAD_ACCOUNTS: dict[str, dict[str, Any]] = {
    "negative-margin": {"total_position_margin": "-5"},
    "huge-equity": {"account_equity": "1e40"},
    "equity-past-decimals-range": {"account_equity": "1e1000000"},
}


@pytest.mark.parametrize("change", list(BAD_ACCOUNTS.values()), ids=list(BAD_ACCOUNTS))
def test_an_account_that_cannot_be_is_not_posted(
    market: Chain, exchange: RabbitXService, change: dict[str, Any]
) -> None:
    """The exchange's account answer says what cannot be (a negative margin, an equity past any plausible one): the
    seat posts nothing on chain and fails the step with the connector's one-line error, not a web3 traceback."""
    keeper = executor(market)

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session, proxied_seat(market, exchange, session) as (seat, _, proxy):
            assert await seat.post_account() is not None
            posted = keeper.seat_adapter(seat.venue_id).last_report()
            proxy.rewrite("GET", "/account", lambda e: {**e, "result": [{**e["result"][0], **change}]})
            with pytest.raises(RabbitXResponseError, match="RabbitX account cannot be read"):
                await seat.post_account()
            assert keeper.seat_adapter(seat.venue_id).last_report() == posted

    asyncio.run(scenario())


def test_a_step_failing_the_same_way_is_said_once_and_its_recovery_once(
    market: Chain, exchange: RabbitXService, caplog: pytest.LogCaptureFixture
) -> None:
    """An account answer that cannot be read failed the seat's account step with the same line every cycle while it
    lasted; it is said once, and once more when the step works again."""
    job = SeatJob(cast(Any, SimpleNamespace(deployment=market.deployment, books=SeatBooks(), metrics=KeeperMetrics())))
    caplog.set_level(logging.INFO, logger="primevault.keeper")

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session, proxied_seat(market, exchange, session) as (seat, _, proxy):
            bad = BAD_ACCOUNTS["negative-margin"]
            proxy.rewrite("GET", "/account", lambda e: {**e, "result": [{**e["result"][0], **bad}]})
            for _ in range(3):
                await job._guarded("rabbitx account", seat.post_account)
            proxy.rewrite("GET", "/account", lambda envelope: envelope)
            await job._guarded("rabbitx account", seat.post_account)
            await job._guarded("rabbitx account", seat.post_account)

    asyncio.run(scenario())
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("rabbitx account")]
    assert len(said) == 2, said
    assert said[0].startswith("rabbitx account: RabbitX account cannot be read"), said
    assert said[1] == "rabbitx account: works again"

"""The seat as a job of the keeper daemon: with `seat_venues` set, the orders job commits every open order to the seat
and the seat job (its own thread and event loop) trades it at the devnet RabbitX exchange, served for real, and books
the fills on chain; an order the contract refuses to commit is cancelled. Real anvil; the keeper's loop runs on a
thread for a few seconds. With both seats (RabbitX and the dYdX replica) an order is split by the books they read."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import aiohttp
import pytest
from click.testing import CliRunner

from keeper.chain.revert import DecodedError
from keeper.cli.main import cli
from keeper.client.trading import TradingClient
from keeper.connectors.rabbitx.client import Credentials
from keeper.connectors.rabbitx.errors import RabbitXConnectionError, RabbitXResponseError
from keeper.daemon.config import KeeperConfig
from keeper.daemon.metrics import KeeperMetrics
from keeper.daemon.runner import Keeper
from keeper.devnet.deploy import DYDX_SEAT_VENUE, SEAT_VENUE
from keeper.devnet.dydx.chain import SELL
from keeper.exceptions import TransactionReverted
from keeper.jobs.seat import SeatJob
from keeper.seats.seat import SeatReport
from tests.python.conftest import Chain
from tests.python.connectors.rabbitx_service import RabbitXService
from tests.python.fault_proxy import node_switch
from tests.python.seats.conftest import onboard_seat, seat_account_with_resting_asks
from tests.python.seats.dydx_bench import MAKER, dydx_bench

D = Decimal


def keeper_with_seat(chain: Chain, tmp_path: Path, **overrides: Any) -> Keeper:
    """A keeper as dev account 0 (the test deployment's executor) running the orders and seat jobs."""
    config = KeeperConfig(
        rpc_urls=(chain.url,),
        deployment=chain.deployment_file,
        data_dir=tmp_path / "keeper",
        dev_account=0,
        metrics_port=None,
        receipt_timeout=30.0,
        jobs=("orders", "seat"),
        seat_venues=(SEAT_VENUE,),
        orders_interval=0.3,
        seat_interval=0.2,
        reconcile_interval=1.0,
    )
    return Keeper(dataclasses.replace(config, **overrides))


def wait_for(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_the_keeper_commits_an_order_to_its_seat_and_books_the_exchanges_fills(
    market: Chain, exchange: RabbitXService, tmp_path: Path, caplog: Any
) -> None:
    alice = TradingClient(market.w3, market.deployment, market.client(1).sender)
    me = market.account(1).address

    async def seat_account_and_asks() -> Credentials:
        async with aiohttp.ClientSession() as session:
            return await seat_account_with_resting_asks(exchange, session, market)

    keeper = keeper_with_seat(market, tmp_path, rabbitx=exchange.settings(asyncio.run(seat_account_and_asks())))
    now = int(market.w3.eth.get_block("latest")["timestamp"])
    order_id = alice.submit(me, "ETH-USD", D("0.8"), D(3030), now + 600)

    with caplog.at_level("INFO", logger="primevault.keeper"):
        loop = threading.Thread(target=keeper.run, name="keeper")
        loop.start()
        try:
            wait_for(lambda: alice.order(order_id).status == "executed")
            time.sleep(1.5)  # a reconciliation runs after the fills are booked
        finally:
            keeper.stop.set()
            loop.join(30)
    assert not loop.is_alive(), "the keeper and its seat stop cleanly"

    [child] = alice.child_orders(0)
    assert (child.order_id, child.venue_id, child.status, child.filled) == (
        order_id,
        alice.venue_id(SEAT_VENUE),
        "filled",
        D("0.8"),
    )
    assert child.deadline <= now + 600
    [position] = alice.positions(me)
    assert (position.market, position.venue, position.size) == ("ETH-USD", SEAT_VENUE, D("0.8"))
    assert position.entry_price == (D("0.6") * 3000 + D("0.2") * D("3001.5")) / D("0.8"), "the exchange's prices"
    assert alice.reservation(me) == (0, 0)
    shown = CliRunner().invoke(cli, ["--deployment", str(market.deployment_file), "trade", "positions", me])
    header, row = shown.output.splitlines()
    assert row.split()[:3] == ["ETH-USD", SEAT_VENUE, "+0.8"]
    assert (header.index("size") + len("size"), len(header)) == (row.index("+0.8") + len("+0.8"), len(row)), (
        "the columns line up under a venue name longer than the local venues'"
    )
    messages = [r.getMessage() for r in caplog.records]
    assert any(f"order {order_id} committed to the seats as children from" in m and SEAT_VENUE in m for m in messages)
    assert any("seats stopped" in m for m in messages)
    assert not [m for m in messages if "ALERT" in m], "the exchange and the vault's books agree"
    assert keeper.metrics.orders_routed._value.get() == 1


def test_an_order_the_contract_refuses_to_commit_is_cancelled(market: Chain, tmp_path: Path, caplog: Any) -> None:
    alice = TradingClient(market.w3, market.deployment, market.client(1).sender)
    me = market.account(1).address
    # 500 ETH reserves 151,500 USDC of initial margin: more than 20 WETH carries.
    keeper = keeper_with_seat(market, tmp_path, rabbitx=None)
    now = int(market.w3.eth.get_block("latest")["timestamp"])
    too_big = alice.submit(me, "ETH-USD", D(500), D(3030), now + 600)
    fits = alice.submit(me, "ETH-USD", D(1), D(3030), now + 600)
    with caplog.at_level("WARNING", logger="primevault.keeper"):
        keeper.jobs.orders.run()
    assert alice.order(too_big).status == "cancelled"
    assert alice.order(fits).status == "routed"
    [child] = alice.child_orders(0)
    assert (child.order_id, child.size, child.limit_price) == (fits, D(1), D(3030))
    after = int(market.w3.eth.get_block("latest")["timestamp"])
    assert now + 60 <= child.deadline <= after + 60, "child_ttl (60 s) from the run, before the order's deadline"
    [line] = [r.getMessage() for r in caplog.records if "cannot be committed" in r.getMessage()]
    assert f"order {too_big} cannot be committed to the seats (InsufficientEquity" in line
    assert keeper.metrics.orders_cancelled.labels("InsufficientEquity")._value.get() == 1


def test_the_keeper_splits_an_order_across_its_two_seats_by_their_books(
    market: Chain, exchange: RabbitXService, tmp_path: Path
) -> None:
    """Both seats run as one job: each publishes its venue's books, the orders job splits a 1.5 ETH buy over them
    (RabbitX's 0.8 at 3,000-3,001.5 first, then 0.7 of dYdX's 3,004), and each venue's fills are booked there."""

    async def rabbitx_seat_with_asks() -> Credentials:
        async with aiohttp.ClientSession() as session:
            return await seat_account_with_resting_asks(exchange, session, market)

    rabbitx = exchange.settings(asyncio.run(rabbitx_seat_with_asks()))
    with dydx_bench(market, tmp_path / "two-seats.json") as dydx:
        dydx.dydx.rest_order(MAKER, 0, "ETH-USD", SELL, D(3004), D(1))
        chain = dydx.chain
        dydx_settings = dydx.settings()
        keeper = keeper_with_seat(
            chain, tmp_path, seat_venues=(SEAT_VENUE, DYDX_SEAT_VENUE), rabbitx=rabbitx, dydx=dydx_settings
        )
        alice = TradingClient(chain.w3, chain.deployment, chain.client(1).sender)
        me = chain.account(1).address
        venues = [alice.venue_id(SEAT_VENUE), alice.venue_id(DYDX_SEAT_VENUE)]
        loop = threading.Thread(target=keeper.run, name="keeper")
        loop.start()
        try:
            wait_for(lambda: all(keeper.context.books.get(v, "ETH-USD") is not None for v in venues))
            now = int(chain.w3.eth.get_block("latest")["timestamp"])
            order_id = alice.submit(me, "ETH-USD", D("1.5"), D(3030), now + 600)
            wait_for(lambda: alice.order(order_id).status == "executed")
        finally:
            keeper.stop.set()
            loop.join(30)
        assert not loop.is_alive()

    children = {alice.venue_name(c.venue_id): (c.status, c.filled) for c in alice.child_orders(0)}
    assert children == {SEAT_VENUE: ("filled", D("0.8")), DYDX_SEAT_VENUE: ("filled", D("0.7"))}
    positions = {p.venue: (p.size, p.entry_price) for p in alice.positions(me)}
    assert positions == {
        SEAT_VENUE: (D("0.8"), (D("0.6") * 3000 + D("0.2") * D("3001.5")) / D("0.8")),
        DYDX_SEAT_VENUE: (D("0.7"), D(3004)),
    }
    assert alice.reservation(me) == (0, 0)


def failures(caplog: Any) -> list[str]:
    return [r.getMessage() for r in caplog.records if f"seat at {DYDX_SEAT_VENUE} failed" in r.getMessage()]


def test_a_seat_whose_venue_cannot_be_reached_is_opened_again_and_the_other_seat_trades_on(
    market: Chain, exchange: RabbitXService, tmp_path: Path, caplog: Any
) -> None:
    """The dYdX seat's validator and indexer are a port nothing listens on: the seat fails to open and is tried again
    after a growing delay, while the RabbitX seat beside it takes and fills the order."""

    async def rabbitx_seat_with_asks() -> Credentials:
        async with aiohttp.ClientSession() as session:
            return await seat_account_with_resting_asks(exchange, session, market)

    rabbitx = exchange.settings(asyncio.run(rabbitx_seat_with_asks()))
    with socket.socket() as probe:  # a port that was free a moment ago and that nothing listens on
        probe.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with dydx_bench(market, tmp_path / "two-seats.json") as dydx:
        away = dataclasses.replace(dydx.settings(), indexer_url=nowhere, validator_url=nowhere, request_timeout=0.5)
        chain = dydx.chain
        both = (SEAT_VENUE, DYDX_SEAT_VENUE)
        keeper = keeper_with_seat(chain, tmp_path, seat_venues=both, rabbitx=rabbitx, dydx=away)
        alice = TradingClient(chain.w3, chain.deployment, chain.client(1).sender)
        me = chain.account(1).address
        with caplog.at_level("INFO", logger="primevault.keeper"):
            loop = threading.Thread(target=keeper.run, name="keeper")
            loop.start()
            try:
                wait_for(lambda: keeper.context.books.get(alice.venue_id(SEAT_VENUE), "ETH-USD") is not None)
                now = int(chain.w3.eth.get_block("latest")["timestamp"])
                order_id = alice.submit(me, "ETH-USD", D("0.8"), D(3030), now + 600)
                wait_for(lambda: alice.order(order_id).status == "executed")
                wait_for(lambda: len(failures(caplog)) >= 2)
            finally:
                keeper.stop.set()
                loop.join(30)
        assert not loop.is_alive(), "a seat waiting to be opened again stops with the job"

    [child] = alice.child_orders(0)
    assert (alice.venue_name(child.venue_id), child.status, child.filled) == (SEAT_VENUE, "filled", D("0.8"))
    first, second = failures(caplog)[:2]
    assert "opening it again in 0.2 s" in first and "opening it again in 0.4 s" in second, "the delay doubles"
    assert any("seats stopped" in r.getMessage() for r in caplog.records)


def test_the_seat_job_says_once_that_the_node_went_away_and_once_that_it_is_back(
    market: Chain, exchange: RabbitXService, tmp_path: Path, caplog: Any
) -> None:
    """The node's connections are cut while the seat job runs (`NodeSwitch`), then it answers again: every step of
    every cycle meanwhile fails to reach it, and the seat says so in one line, without a traceback, and in one more
    when the node is back; then its cycles go on."""

    async def seat_account() -> Credentials:
        async with aiohttp.ClientSession() as session:
            return await onboard_seat(exchange, session, market)

    rabbitx = exchange.settings(asyncio.run(seat_account()))
    caplog.set_level(logging.INFO, logger="primevault.keeper")

    def seat_lines() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.threadName == "seat"]

    def said(text: str) -> Callable[[], bool]:
        return lambda: any(text in r.getMessage() for r in seat_lines())

    with node_switch(market.url) as node:
        keeper = keeper_with_seat(market, tmp_path, rabbitx=rabbitx, rpc_urls=(node.url,), jobs=("seat",))
        keeper.w3.provider.retries = 0  # type: ignore[attr-defined]  # each step tries once: the test runs fast
        loop = threading.Thread(target=keeper.run, name="keeper")
        loop.start()
        try:
            wait_for(said("running against"))
            node.switch(up=False)
            wait_for(said("does not answer"))
            time.sleep(1.0)  # five seat cycles against the missing node
            node.switch(up=True)
            wait_for(said("answers again"))
            said_so_far = len(seat_lines())
            time.sleep(0.5)  # cycles after it
            assert len(seat_lines()) == said_so_far, "nothing more to say once the node is back"
        finally:
            keeper.stop.set()
            loop.join(30)
    assert not loop.is_alive()
    assert all(r.exc_info is None for r in caplog.records), "no traceback"
    problems = [r.getMessage() for r in seat_lines() if r.levelno >= logging.WARNING]
    assert problems == [f"seats: the node at {node.url} does not answer (ConnectionError); they wait for it"], problems
    assert len([r for r in seat_lines() if "answers again" in r.getMessage()]) == 1


# ---------------------------------------------------------------------- a failing step, said once


def _fails(exc: Exception) -> Callable[[], Any]:
    async def step() -> None:
        await asyncio.sleep(0)
        raise exc

    return step


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_another_failure_of_a_step_is_said_and_the_same_one_again_is_not(caplog: pytest.LogCaptureFixture) -> None:
    """A step's failure was said only when its exception type changed: a fill feed that dropped once at start-up
    left every later fill-feed failure of the same type unsaid for the life of the process (a revoked key included),
    and a revert hid any other revert of the same step (`Paused` after `ReportTooOld`)."""
    metrics = KeeperMetrics()
    job = SeatJob(cast(Any, SimpleNamespace(metrics=metrics)))  # `_guarded` counts failures in the context's metrics
    caplog.set_level(logging.INFO, logger="primevault.keeper")
    dropped = RabbitXConnectionError("RabbitX WebSocket closed (1006: )")
    revoked = RabbitXConnectionError("RabbitX REST recovery 401: key revoked")
    too_old = TransactionReverted("post account", DecodedError("ReportTooOld", {"age": 61}))
    older = TransactionReverted("post account", DecodedError("ReportTooOld", {"age": 62}))
    paused = TransactionReverted("post account", DecodedError("Paused", {}))

    async def scenario() -> None:
        for exc in (dropped, dropped, revoked, revoked):
            await job._guarded("rabbitx-seat fills", _fails(exc))
        for exc in (too_old, older, paused, paused):
            await job._guarded("rabbitx-seat account", _fails(exc))

    asyncio.run(scenario())
    assert _errors(caplog) == [
        f"rabbitx-seat fills: {dropped}",
        f"rabbitx-seat fills: {revoked}",
        f"rabbitx-seat account: {too_old}",
        f"rabbitx-seat account: {paused}",
    ]
    assert metrics.job_failures.labels("rabbitx-seat fills")._value.get() == 4, "every failure counted, said or not"


def test_a_lasting_failure_is_said_again_after_a_while(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same failure cycle after cycle is said once, and again every `REMIND_EVERY` seconds while it lasts; the
    figures its message quotes (the venue's answer with its time) may move meanwhile: it is the same failure."""
    job = SeatJob(cast(Any, SimpleNamespace(metrics=KeeperMetrics())))
    caplog.set_level(logging.INFO, logger="primevault.keeper")

    def unreadable(at: int) -> RabbitXResponseError:
        return RabbitXResponseError(f"RabbitX account cannot be read: {{'last_update': {at}, 'margin': '-5'}}")

    async def scenario() -> None:
        for at in range(1_000, 1_003):
            await job._guarded("rabbitx-seat account", _fails(unreadable(at)))
        monkeypatch.setattr("keeper.jobs.seat.REMIND_EVERY", 0.0)
        await job._guarded("rabbitx-seat account", _fails(unreadable(1_003)))

    asyncio.run(scenario())
    assert _errors(caplog) == [
        f"rabbitx-seat account: {unreadable(1_000)}",
        f"rabbitx-seat account: {unreadable(1_003)} (still failing: 3 times since last said)",
    ]


def test_each_seats_fill_feed_is_said_apart_and_a_fill_booked_says_it_works_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The fill feed never returns, so a fill booked is what shows it works again: the same failure after it is a new
    one. Each seat's feed is a step of its own (they were one, `seat fills`, for every seat)."""
    job = SeatJob(cast(Any, SimpleNamespace(config=SimpleNamespace(seat_interval=0.0), metrics=KeeperMetrics())))
    caplog.set_level(logging.INFO, logger="primevault.keeper")
    dropped = RabbitXConnectionError("RabbitX WebSocket closed (1006: )")

    class Feed:
        def __init__(self, fills_booked_before_failing: list[bool]) -> None:
            self.runs = fills_booked_before_failing

        async def forward_fills(self, reported: Callable[[], object] | None = None) -> None:
            booked = self.runs.pop(0) if self.runs else None
            if booked is None:
                await asyncio.Event().wait()  # forwards until cancelled
            if booked and reported is not None:
                reported()
            raise dropped

    async def scenario() -> None:
        feeds = [
            asyncio.create_task(job._forward_fills(cast(Any, Feed([False, True, False])), "rabbitx-seat")),
            asyncio.create_task(job._forward_fills(cast(Any, Feed([False, False])), "dydx-seat")),
        ]
        for _ in range(20):
            await asyncio.sleep(0)
        for feed in feeds:
            feed.cancel()
        await asyncio.gather(*feeds, return_exceptions=True)

    asyncio.run(scenario())
    said = [r.getMessage() for r in caplog.records if "fills" in r.getMessage()]
    assert sorted(said) == sorted(
        [
            f"rabbitx-seat fills: {dropped}",
            "rabbitx-seat fills: works again",
            f"rabbitx-seat fills: {dropped}",
            f"dydx-seat fills: {dropped}",
        ]
    ), said
    rabbitx = [m for m in said if m.startswith("rabbitx")]
    assert rabbitx == [
        f"rabbitx-seat fills: {dropped}",
        "rabbitx-seat fills: works again",
        f"rabbitx-seat fills: {dropped}",
    ]


def test_a_backstop_unwind_placed_at_a_seat_is_counted_in_the_metrics() -> None:
    """`primevault_backstop_unwinds` counts the slices of the backstop book closed at a venue: the backstop job counts
    those at venues that fill on chain, and the seat job the unwind children its seats place (it counted none, so
    /metrics showed no unwind while the seats closed the book)."""
    metrics = KeeperMetrics()
    context = SimpleNamespace(
        metrics=metrics,
        stopping=threading.Event(),
        deployment=SimpleNamespace(venues=[SimpleNamespace(name=SEAT_VENUE)]),
    )
    job = SeatJob(cast(Any, context))

    class UnwindingSeat:
        venue_id = 0

        async def cycle(self, now: int) -> SeatReport:
            return SeatReport()

        async def unwind_backstop(self, now: int) -> list[int]:
            return [7, 8]  # one unwind child placed in each of two markets

    asyncio.run(job._run_seat(cast(Any, UnwindingSeat()), 1_000, state=False, reconcile=False))
    assert metrics.backstop_unwound._value.get() == 2

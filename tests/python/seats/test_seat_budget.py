"""The seat job within RabbitX's request budget: 1,200 request tokens a minute per IP (rabbitx-docs
`rate-limits.md`), enforced by the devnet exchange's token bucket. The seat job runs at the default settings over
simulated time (its pauses, the exchange's bucket and the venue's funding refresh share one clock that only its
pauses move), so a simulated minute is a few seconds of real anvil and exchange; a cycle's own work takes no
simulated time, which counts more requests per minute than a real run would."""

from __future__ import annotations

import asyncio
import logging
import time
import types
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from keeper.client.trading import ChildSpec, TradingClient
from keeper.connectors.rabbitx.client import Credentials
from keeper.daemon.config import KeeperConfig
from keeper.daemon.runner import Keeper
from keeper.devnet.deploy import SEAT_VENUE
from keeper.jobs.seat import open_seat
from keeper.seats.seat import Seat
from tests.python.conftest import Chain
from tests.python.connectors.rabbitx_service import RabbitXService
from tests.python.seats.conftest import seat_account_with_resting_asks

D = Decimal
RABBITX_TOKENS_A_MINUTE = 1_200
BUDGET = 900
"""Tokens a minute the seat may spend in steady state: RabbitX's 1,200 less room for placing and closing children,
the fill feed's REST recoveries and anything else the keeper's IP sends."""


class Clock:
    """Simulated `time.monotonic`, moved only by the seat job's pauses."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def monotonic(self) -> float:
        return self.now


@dataclass
class Timeline:
    """What the test saw between the seat's cycles (times are simulated seconds since the start)."""

    minute_from: Counter[tuple[str, str]] | None = None  # the exchange's requests when the measured minute began
    minute: Counter[tuple[str, str]] = field(default_factory=Counter)  # its requests in that minute
    tokens: int = 0  # their tokens
    child_id: int | None = None
    committed_at: float = 0.0
    placed_after: int | None = None  # cycles from the child's commit to its order at the exchange


def test_a_rabbitx_seat_stays_within_the_exchanges_rate_limit_and_places_a_child_at_once(
    market: Chain,
    exchange: RabbitXService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two markets, no children for a simulated minute: the seat spends at most `BUDGET` tokens in it, reading the
    books and its account every `seat_state_interval` all the same, and the exchange answers no request 429; then a
    child committed between two cycles is placed by the next one (within `seat_interval` of its commit) and its fills
    are booked from the WebSocket."""

    async def seat_account() -> Credentials:
        async with aiohttp.ClientSession() as session:
            return await seat_account_with_resting_asks(exchange, session, market)

    # The connector's default quiet spell before a REST fill check (30 s), as the keeper runs it.
    rabbitx = exchange.settings(asyncio.run(seat_account()), quiet_reconcile=30.0)
    config = KeeperConfig(
        rpc_urls=(market.url,),
        deployment=market.deployment_file,
        data_dir=tmp_path / "keeper",
        dev_account=0,
        metrics_port=None,
        jobs=("seat",),
        seat_venues=(SEAT_VENUE,),
        rabbitx=rabbitx,
    )
    markets = len(market.deployment.markets)
    assert markets == 2
    keeper = Keeper(config)
    job, trading, devnet = keeper.jobs.seat, keeper.context.trading, exchange.devnet
    assert trading is not None
    clock = Clock()
    simulated = types.SimpleNamespace(**{**vars(time), "monotonic": clock.monotonic})
    for module in ("keeper.jobs.seat", "keeper.seats.rabbitx", "keeper.devnet.rabbitx.app"):
        monkeypatch.setattr(f"{module}.time", simulated)
    start, seen, seats = clock.now, Timeline(), list[Seat]()

    def commit_child() -> int:
        alice = TradingClient(market.w3, market.deployment, market.client(1).sender)
        now = int(market.w3.eth.get_block("latest")["timestamp"])
        order_id = alice.submit(market.account(1).address, "ETH-USD", D(1), D(3030), now + 600)
        venue = trading.venue_id(SEAT_VENUE)
        return trading.commit_split(order_id, [ChildSpec(venue, D(1), D(3030), now + 300)])

    async def pause(seconds: float) -> None:
        """The job's pause between cycles, in simulated time; the test's steps happen between two cycles."""
        assert job._stopping is not None
        elapsed = clock.now - start
        if elapsed >= 10 and seen.minute_from is None:  # the start-up reads (fill history, funding) are behind
            seen.minute_from, seen.tokens = Counter(devnet.requests), devnet.tokens_spent
        elif elapsed >= 70 and seen.child_id is None:
            assert seen.minute_from is not None
            seen.minute, seen.tokens = devnet.requests - seen.minute_from, devnet.tokens_spent - seen.tokens
            seen.child_id, seen.committed_at = await asyncio.to_thread(commit_child), clock.now
        elif seen.child_id is not None and seen.placed_after is None and seen.child_id in seats[0]._orders:
            seen.placed_after = round((clock.now - seen.committed_at) / config.seat_interval)
        if elapsed >= 100:
            job._stopping.set()
        clock.now += seconds
        await asyncio.sleep(0.01)  # the fill feed's and the exchange's turn, in real time

    async def run() -> None:
        job._stopping = asyncio.Event()
        monkeypatch.setattr(job, "_pause", pause)
        await exchange.on_service(set_rate_limit)
        async with open_seat(keeper.context, trading, SEAT_VENUE) as seat:
            seats.append(seat)
            await job._serve(seat, SEAT_VENUE)

    async def set_rate_limit() -> None:
        devnet.set_rate_limit(RABBITX_TOKENS_A_MINUTE, 60.0)

    with caplog.at_level(logging.INFO, logger="primevault.keeper"):
        asyncio.run(run())
    assert seen.tokens <= BUDGET, f"{seen.tokens} tokens in a minute: {dict(seen.minute)}"
    assert devnet.rate_limited == 0, "no request answered 429"
    reads = 60 / config.seat_state_interval
    assert seen.minute[("GET", "/markets/orderbook")] >= markets * reads, "each book read every seat_state_interval"
    assert seen.minute[("GET", "/account")] >= reads, "the account read every seat_state_interval"
    assert seats[0]._posted is not None, "the account posted on chain"
    assert seen.placed_after == 1, f"placed {seen.placed_after} cycles after its commit, not by the next one"
    assert seen.child_id is not None
    deadline = time.monotonic() + 10
    while trading.child_order(seen.child_id).filled != D("0.8"):
        assert time.monotonic() < deadline, "the child's fills were never booked"
        time.sleep(0.05)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors

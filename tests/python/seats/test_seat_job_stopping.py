"""The seat job after the signal: like the other jobs (`JobContext.may_send`), it starts no new step once the keeper
is stopping, whichever step the signal came in: the step in flight finishes, and the backstop unwind
(commitBackstopUnwind), the account post, margin (depositMargin / requestMarginWithdrawal) and the orders they place at
the venue are not started. No chain: the seat is a stand-in."""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

import pytest

from keeper.daemon.config import KeeperConfig
from keeper.daemon.metrics import KeeperMetrics
from keeper.jobs.context import GrossLegs, SeatBooks
from keeper.jobs.seat import SeatJob
from keeper.seats.seat import SeatAccount, SeatBalance, SeatReport

STEPS = ["cycle", "backstop unwind", "account read", "report", "margin", "reconcile"]


class FakeSeat:
    """Records each step it is asked for; `signal_in` is the step during which the keeper is told to stop."""

    venue_id = 0
    venue = SimpleNamespace(name="fake")

    def __init__(self, stopping: threading.Event, signal_in: str | None) -> None:
        self.calls: list[str] = []
        self._stopping = stopping
        self._signal_in = signal_in

    def _step(self, name: str) -> None:
        self.calls.append(name)
        if name == self._signal_in:
            self._stopping.set()  # SIGTERM arrives while this step runs

    async def cycle(self, now: int) -> SeatReport:
        self._step("cycle")
        return SeatReport()

    async def unwind_backstop(self, now: int) -> None:
        self._step("backstop unwind")

    async def account(self) -> SeatAccount:
        self._step("account read")
        return SeatAccount((), SeatBalance(Decimal(0), Decimal(0), Decimal(0), Decimal(0)))

    async def post_account(self, account: Any = None) -> None:
        self._step("report")

    async def manage_margin(self, policy: Any, legs: Any, account: Any = None) -> int:
        self._step("margin")
        return 0

    async def reconcile(self) -> list[str]:
        self._step("reconcile")
        return []


def seat_job(stopping: threading.Event) -> SeatJob:
    context = SimpleNamespace(
        deployment=SimpleNamespace(venues=[SimpleNamespace(name="fake")], markets=[], base=SimpleNamespace(decimals=6)),
        config=KeeperConfig(),
        legs=GrossLegs(),
        books=SeatBooks(),
        stopping=stopping,
        metrics=KeeperMetrics(),
    )
    return SeatJob(cast(Any, context))


def run_cycle(signal_in: str | None) -> list[str]:
    stopping = threading.Event()
    seat = FakeSeat(stopping, signal_in)
    asyncio.run(seat_job(stopping)._run_seat(cast(Any, seat), 0, True, True))
    return seat.calls


def test_a_cycle_of_a_keeper_not_stopping_runs_every_step() -> None:
    assert run_cycle(None) == STEPS


@pytest.mark.parametrize("signal_in", ["cycle", "backstop unwind", "report"])
def test_the_seat_job_starts_no_new_transaction_once_the_keeper_is_stopping(signal_in: str) -> None:
    """The signal sets the keeper's stopping flag (the one `may_send` checks) while a step runs: that step ends, and
    none after it starts."""
    assert run_cycle(signal_in) == STEPS[: STEPS.index(signal_in) + 1]


def test_the_seat_job_asked_to_stop_alone_starts_no_new_step() -> None:
    """`SeatJob.stop()` (the keeper's shutdown) during the children step: the backstop and the rest wait too."""
    stopping = threading.Event()
    job = seat_job(stopping)
    seat = FakeSeat(threading.Event(), None)
    real_cycle = seat.cycle

    async def cycle(now: int) -> SeatReport:
        job._stop_requested.set()
        return await real_cycle(now)

    seat.cycle = cycle  # type: ignore[method-assign]
    asyncio.run(job._run_seat(cast(Any, seat), 0, True, True))
    assert seat.calls == ["cycle"]

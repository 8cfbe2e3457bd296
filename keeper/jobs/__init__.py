"""The keeper's jobs, one module each, over the clients and a shared `JobContext`: `liquidation` and `backstop` run
on every new block, `orders`, `margin`, `reconcile` and `haircuts` on timers (`keeper.daemon.runner`), and `seat`
(when a seat is configured) on its own thread and event loop."""

from __future__ import annotations

from dataclasses import dataclass

from keeper.jobs.backstop import BackstopJob
from keeper.jobs.context import JobContext
from keeper.jobs.haircuts import HaircutJob
from keeper.jobs.liquidation import LiquidationJob
from keeper.jobs.margin import MarginJob
from keeper.jobs.orders import OrdersJob
from keeper.jobs.reconcile import ReconcileJob
from keeper.jobs.seat import SeatJob


@dataclass(frozen=True)
class Jobs:
    """One of each job over one context."""

    liquidation: LiquidationJob
    orders: OrdersJob
    backstop: BackstopJob
    margin: MarginJob
    reconcile: ReconcileJob
    haircuts: HaircutJob
    seat: SeatJob

    @classmethod
    def build(cls, context: JobContext) -> Jobs:
        return cls(
            LiquidationJob(context),
            OrdersJob(context),
            BackstopJob(context),
            MarginJob(context),
            ReconcileJob(context),
            HaircutJob(context),
            SeatJob(context),
        )

"""The reconciliation job: compares each venue's positions and margin with the vault's books, and publishes the
vault's exposure to each venue in the metrics. Reads only."""

from __future__ import annotations

import logging
import time

from keeper.client.adapters import VenueExposure
from keeper.client.venues import VENUE_FAILURES, node_failure
from keeper.jobs.context import JobContext
from keeper.jobs.unanswering import UnansweringVenues

log = logging.getLogger("primevault.keeper")


class ReconcileJob:
    name = "reconcile"

    def __init__(self, context: JobContext) -> None:
        self.context = context
        self._unanswering = UnansweringVenues(self.name)

    def run(self) -> int:
        """Compares each venue's position and margin with the vault's books; logs and counts mismatches, never
        fixes them. Returns how many it found. The positions at a seat's venue are the seat job's to reconcile
        (against the exchange's report), not the on-chain adapter's. A venue that cannot report (its feed stale, the
        venue paused) is said once when it stops and once when it answers again; the others are reconciled."""
        c = self.context
        trading = c.trading
        if trading is None or not c.runs(self.name):
            return 0
        mismatches = 0
        for venue_id, adapter in enumerate(trading.adapters()):
            try:
                exposure = trading.exposure(venue_id, adapter)
            except VENUE_FAILURES as exc:
                if node_failure(exc):
                    raise
                self._unanswering.failed(adapter.name, exc, "not reconciled meanwhile")
                continue
            self._unanswering.answered(adapter.name)
            self._publish(exposure)
            for market_id, market in enumerate(c.deployment.markets):
                if adapter.name in c.config.seat_venues:
                    continue
                books = trading.net_position(market_id, venue_id)
                venue = exposure.positions[market_id]
                if books != venue:
                    mismatches += 1
                    c.metrics.mismatches.labels(adapter.name, "position").inc()
                    log.error(
                        "ALERT reconciliation: %s %s venue reports %d, vault books %d",
                        adapter.name,
                        market.ticker,
                        venue,
                        books,
                    )
            if exposure.net_collateral < exposure.maintenance_margin:
                mismatches += 1
                c.metrics.mismatches.labels(adapter.name, "margin").inc()
                log.error(
                    "ALERT reconciliation: %s margin %d below its maintenance %d",
                    adapter.name,
                    exposure.net_collateral,
                    exposure.maintenance_margin,
                )
        return mismatches

    def _publish(self, exposure: VenueExposure) -> None:
        metrics, venue = self.context.metrics, exposure.venue
        metrics.venue_collateral.labels(venue).set(exposure.net_collateral)
        metrics.venue_maintenance.labels(venue).set(exposure.maintenance_margin)
        metrics.venue_withdrawals.labels(venue).set(exposure.withdrawals_pending)
        metrics.venue_deposits.labels(venue).set(exposure.deposits_in_flight)
        if exposure.margin_posted is not None and exposure.pnl is not None:
            metrics.venue_margin_posted.labels(venue).set(exposure.margin_posted)
            metrics.venue_pnl.labels(venue).set(exposure.pnl)
        if exposure.reported_at is not None:
            metrics.venue_report_age.labels(venue).set(time.time() - exposure.reported_at)
        if exposure.margin_room is not None:
            metrics.venue_margin_room.labels(venue).set(exposure.margin_room)

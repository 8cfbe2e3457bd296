"""The reconciliation job: compares each venue's positions and margin with the vault's books. Reads only."""

from __future__ import annotations

import logging

from keeper.jobs.context import JobContext

log = logging.getLogger("primevault.keeper")


class ReconcileJob:
    name = "reconcile"

    def __init__(self, context: JobContext) -> None:
        self.context = context

    def run(self) -> int:
        """Compares each venue's position and margin with the vault's books; logs and counts mismatches, never
        fixes them. Returns how many it found. The positions at a seat's venue are the seat job's to reconcile
        (against the exchange's report), not the on-chain adapter's."""
        c = self.context
        trading = c.trading
        if trading is None or not c.runs(self.name):
            return 0
        mismatches = 0
        for venue_id, adapter in enumerate(trading.adapters()):
            for market_id, market in enumerate(c.deployment.markets):
                if adapter.name == c.config.seat_venue:
                    continue
                books = trading.net_position(market_id, venue_id)
                venue = adapter.position(market_id)
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
            margin = adapter.margin()
            if margin.net_collateral < margin.maintenance_margin:
                mismatches += 1
                c.metrics.mismatches.labels(adapter.name, "margin").inc()
                log.error(
                    "ALERT reconciliation: %s margin %d below its maintenance %d",
                    adapter.name,
                    margin.net_collateral,
                    margin.maintenance_margin,
                )
        return mismatches

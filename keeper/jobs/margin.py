"""The margin job: keeps each venue's margin between a floor and a ceiling of what the vault's positions there need
(their gross legs once a scan has run; `keeper.risk.margin`), and claims matured withdrawals."""

from __future__ import annotations

import logging

from keeper.client.venues import VENUE_FAILURES, node_failure
from keeper.jobs.context import JobContext
from keeper.jobs.unanswering import UnansweringVenues
from keeper.risk.margin import MarginPolicy, venue_requirement

log = logging.getLogger("primevault.keeper")


class MarginJob:
    name = "margin"

    def __init__(self, context: JobContext) -> None:
        self.context = context
        self._unanswering = UnansweringVenues(self.name)

    def run(self) -> None:
        """Keeps each venue's margin between floor and ceiling of what its positions need, and claims
        matured withdrawals (`MarginPolicy`). A seat at an exchange behind its API manages its own venue's margin
        (the seat job), since a withdrawal there starts at the exchange. A venue that cannot report its margin (its
        feed stale) is left alone until it can: moving margin blind could move it the wrong way. A withdrawal still
        in its venue's delay is not claimed: the claim would move nothing and cost a transaction every interval."""
        c = self.context
        trading = c.trading
        if trading is None or not c.runs(self.name):
            return
        policy = margin_policy(c)
        marks = [c.clients.feed(m.feed).price() for m in c.deployment.markets]
        for venue_id, adapter in enumerate(trading.adapters()):
            if adapter.venue.fills_off_chain:
                continue  # its seat manages it through the exchange's API (`Seat.manage_margin`)
            exposures = trading.venue_exposures(venue_id, c.legs.get())
            try:
                ppms = [adapter.market(m).initial_margin_ppm for m in range(len(marks))]
                net = adapter.margin().net_collateral
                pending = adapter.pending_withdrawals()
                claimable = adapter.claimable_withdrawals() if pending else 0
            except VENUE_FAILURES as exc:
                if node_failure(exc):
                    raise
                self._unanswering.failed(adapter.name, exc, "its margin is left as it is meanwhile")
                continue
            self._unanswering.answered(adapter.name)
            need = venue_requirement(exposures, marks, ppms, c.deployment.base.decimals)
            if claimable > 0:
                log.info("venue %d: claiming %s of matured withdrawals", venue_id, c.deployment.base.format(claimable))
                claimed = c.send("claim margin", trading.claim_margin_withdrawals, venue_id)
                if claimed is not None or c.config.dry_run:
                    pending -= claimable  # no longer on its way out: the ceiling is judged without it
            move = policy.move(need, net, pending)
            if move > 0:
                log.info(
                    "venue %d margin %s below its floor: depositing %s",
                    venue_id,
                    c.deployment.base.format(net),
                    c.deployment.base.format(move),
                )
                c.send("deposit margin", trading.deposit_margin, venue_id, move)
            elif move < 0:
                log.info(
                    "venue %d margin %s above its ceiling: withdrawing %s",
                    venue_id,
                    c.deployment.base.format(net),
                    c.deployment.base.format(-move),
                )
                c.send("withdraw margin", trading.request_margin_withdrawal, venue_id, -move)


def margin_policy(c: JobContext) -> MarginPolicy:
    """The configured policy, with hysteresis at the minimum (a venue at `margin_minimum` is topped up to the target's
    share above it, not back to the minimum after every loss) and no move smaller than `margin_min_move` of the
    target unless the venue holds less than its requirement."""
    config = c.config
    minimum = config.margin_minimum * 10**c.deployment.base.decimals
    return MarginPolicy(
        config.margin_floor,
        config.margin_target,
        config.margin_ceiling,
        minimum,
        band_over_minimum=True,
        min_move_share=config.margin_min_move,
    )

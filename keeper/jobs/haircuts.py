"""The haircuts job: proposes haircuts from the price history and, when applying, pushes the ones the vault's
bounds allow now. Without applying it reads only, so `primevault risk haircuts` needs no key."""

from __future__ import annotations

import logging

from keeper.jobs.context import JobContext
from keeper.risk.haircuts import Bounds, HaircutProposal, propose

log = logging.getLogger("primevault.keeper")


class HaircutJob:
    name = "haircuts"

    def __init__(self, context: JobContext) -> None:
        self.context = context

    def run(self, apply: bool | None = None) -> list[HaircutProposal]:
        """Proposes haircuts from price history and, if `apply` (default: the `apply_haircuts` setting), pushes the
        ones allowed now."""
        c = self.context
        apply = c.config.apply_haircuts if apply is None else apply
        proposals = []
        now = int(c.w3.eth.get_block("latest")["timestamp"])
        for config, token in zip(c.vault.asset_configs(), c.deployment.collateral, strict=True):
            bounds = c.vault.haircut_bounds(config.address)
            timestamps, prices = c.prices.series(token.symbol)
            proposal = propose(
                token.symbol,
                timestamps,
                prices,
                (config.initial_haircut_bps, config.maintenance_haircut_bps),
                Bounds(bounds.min_bps, bounds.max_bps, bounds.max_step_bps, bounds.min_interval, bounds.last_update),
                now,
                c.config.liquidity_addon_bps.get(token.symbol, 0),
            )
            proposals.append(proposal)
            c.metrics.haircut_bps.labels(token.symbol, "initial").set(config.initial_haircut_bps)
            c.metrics.haircut_bps.labels(token.symbol, "maintenance").set(config.maintenance_haircut_bps)
            if apply and proposal.changes:
                if "RISK_MANAGER_ROLE" not in c.roles:
                    log.error("%s: haircut update needs RISK_MANAGER_ROLE on the vault; not sent", token.symbol)
                    continue
                c.send(
                    "update haircuts",
                    c.vault.update_haircuts,
                    token.symbol,
                    proposal.next_initial_bps,
                    proposal.next_maintenance_bps,
                )
        return proposals

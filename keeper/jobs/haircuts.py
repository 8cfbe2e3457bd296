"""The haircuts job: proposes haircuts from the price history and, when applying, pushes the ones the vault's
bounds allow now; it moves the portfolio rule's shocks with the same volatility estimates, within their bounds and
steps. Without applying it reads only, so `primevault risk haircuts` needs no key."""

from __future__ import annotations

import logging

from keeper.client.portfolio import PortfolioMarginClient
from keeper.jobs.context import JobContext
from keeper.risk.haircuts import Bounds, HaircutProposal, propose
from keeper.risk.portfolio import with_volatility

log = logging.getLogger("primevault.keeper")


class HaircutJob:
    name = "haircuts"

    def __init__(self, context: JobContext) -> None:
        self.context = context
        self.shocks: dict[str, tuple[int, int]] = {}  # the last run's portfolio shocks: {underlying: (now, next)}

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
                penalty_bps=config.liquidation_penalty_bps,
            )
            proposals.append(proposal)
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
        if c.deployment.portfolio is not None:
            self.shocks = self.move_shocks(proposals, apply, now)
        return proposals

    def move_shocks(self, proposals: list[HaircutProposal], apply: bool, now: int) -> dict[str, tuple[int, int]]:
        """Each underlying's shock moved toward what its collateral's volatility asks (the most volatile asset of
        the underlying, EWMA), one step at most and within its bounds: {underlying: (current, next)}. Sent when
        `apply`, the rule's update interval has passed since the underlying's last move (block time `now`), and
        the key holds RISK_MANAGER_ROLE on the rule's contract."""
        c = self.context
        rule = PortfolioMarginClient(c.w3, c.deployment, c.sender)
        rules, layout = rule.rule()
        moves = {}
        for index, (name, params) in enumerate(zip(layout.underlyings, rules.underlyings, strict=True)):
            vols = [p.ewma_daily_vol for p, u in zip(proposals, layout.asset_underlying, strict=True) if u == index]
            if not vols or not max(vols) > 0:
                continue  # no collateral of its own to estimate from, or no history yet
            moved = with_volatility(params, max(vols))
            moves[name] = (params.shock_bps, moved.shock_bps)
            if not apply or moved.shock_bps == params.shock_bps:
                continue
            allowed_from = rule.shock_allowed_from(index)
            if now < allowed_from:
                log.info("%s: shock moves to %d bps no sooner than block time %d", name, moved.shock_bps, allowed_from)
                continue
            if c.sender is None or not rule.has_role("RISK_MANAGER_ROLE", c.sender.address):
                log.error("%s: shock update needs RISK_MANAGER_ROLE on the portfolio rule; not sent", name)
                continue
            c.send("update shock", rule.update_shock, index, moved.shock_bps)
        return moves

"""The margin job: keeps each venue's margin between a floor and a ceiling of what the vault's netted positions
there need, and claims matured withdrawals."""

from __future__ import annotations

import logging
from decimal import Decimal

from keeper.client.adapters import AdapterClient
from keeper.client.trading import TradingClient
from keeper.jobs.context import JobContext
from keeper.risk.margin import MarginPolicy

log = logging.getLogger("primevault.keeper")

WAD = Decimal(10) ** 18
PPM = Decimal(10) ** 6


class MarginJob:
    name = "margin"

    def __init__(self, context: JobContext) -> None:
        self.context = context

    def run(self) -> None:
        """Keeps each venue's margin between floor and ceiling of what the netted positions need, and claims
        matured withdrawals (`MarginPolicy`). A seat at an exchange behind its API manages its own venue's margin
        (the seat job), since a withdrawal there starts at the exchange."""
        c = self.context
        trading = c.trading
        if trading is None or not c.runs(self.name):
            return
        policy = margin_policy(c)
        for venue_id, adapter in enumerate(trading.adapters()):
            if adapter.venue.fills_off_chain:
                continue  # its seat manages it through the exchange's API (`RabbitXSeat.manage_margin`)
            need = venue_requirement(c, trading, venue_id, adapter)
            net = adapter.margin().net_collateral
            pending = adapter.pending_withdrawals()
            if pending:
                c.send("claim margin", trading.claim_margin_withdrawals, venue_id)
            move = policy.move(need, net, pending)
            if move > 0:
                log.info("venue %d margin %d below its floor: depositing %d", venue_id, net, move)
                c.send("deposit margin", trading.deposit_margin, venue_id, move)
            elif move < 0:
                log.info("venue %d margin %d above its ceiling: withdrawing %d", venue_id, net, -move)
                c.send("withdraw margin", trading.request_margin_withdrawal, venue_id, -move)


def margin_policy(c: JobContext) -> MarginPolicy:
    config = c.config
    minimum = config.margin_minimum * 10**c.deployment.base.decimals
    return MarginPolicy(config.margin_floor, config.margin_target, config.margin_ceiling, minimum)


def venue_requirement(c: JobContext, trading: TradingClient, venue_id: int, adapter: AdapterClient) -> int:
    """Initial margin the venue asks for the vault's netted positions there, base-token units."""
    need = Decimal(0)
    for market_id, market in enumerate(c.deployment.markets):
        size = trading.net_position(market_id, venue_id)
        if not size:
            continue
        mark = c.clients.feed(market.feed).price()
        need += abs(Decimal(size)) / WAD * mark * Decimal(adapter.market(market_id).initial_margin_ppm) / PPM
    return int(need.scaleb(c.deployment.base.decimals))

"""The margin job: keeps each venue's margin between a floor and a ceiling of what the vault's netted positions
there need, and claims matured withdrawals."""

from __future__ import annotations

import logging
from decimal import Decimal

from keeper.client.adapters import AdapterClient
from keeper.client.trading import TradingClient
from keeper.jobs.context import JobContext

log = logging.getLogger("primevault.keeper")

WAD = Decimal(10) ** 18
PPM = Decimal(10) ** 6


class MarginJob:
    name = "margin"

    def __init__(self, context: JobContext) -> None:
        self.context = context

    def run(self) -> None:
        """Keeps each venue's margin between floor and ceiling of what the netted positions need, and claims
        matured withdrawals. Deposits are instant; withdrawals may take a delay, so they only ever take the
        margin down to the target, never to the floor. At a seat (a venue behind an exchange's API) a deposit goes
        into the exchange's custody and a withdrawal is only asked for on chain: the seat job carries it out."""
        c = self.context
        trading = c.trading
        if trading is None or not c.runs(self.name):
            return
        config = c.config
        for venue_id, adapter in enumerate(trading.adapters()):
            need = self._venue_requirement(trading, venue_id, adapter)
            net = adapter.margin().net_collateral
            pending = adapter.pending_withdrawals()
            if pending and not adapter.venue.fills_off_chain:  # a seat claims its own, once the exchange signs
                c.send("claim margin", trading.claim_margin_withdrawals, venue_id)
            # Only margin already at the venue backs positions; a pending withdrawal counts against the
            # ceiling (it is on its way out) but never toward the floor.
            minimum = config.margin_minimum * 10**c.deployment.base.decimals
            floor = max(int(need * config.margin_floor), minimum)
            target = max(int(need * config.margin_target), minimum)
            ceiling = max(int(need * config.margin_ceiling), minimum * 2)
            if net < floor:
                amount = target - net
                log.info("venue %d margin %d below floor %d: depositing %d", venue_id, net, floor, amount)
                c.send("deposit margin", trading.deposit_margin, venue_id, amount)
            elif net + pending > ceiling and net > target:
                amount = min(net + pending - target, net - target)
                log.info("venue %d margin %d above ceiling %d: withdrawing %d", venue_id, net, ceiling, amount)
                c.send("withdraw margin", trading.request_margin_withdrawal, venue_id, amount)

    def _venue_requirement(self, trading: TradingClient, venue_id: int, adapter: AdapterClient) -> int:
        """Initial margin the venue asks for the vault's netted positions there, base-token units."""
        c = self.context
        need = Decimal(0)
        for market_id, market in enumerate(c.deployment.markets):
            size = trading.net_position(market_id, venue_id)
            if not size:
                continue
            mark = c.clients.feed(market.feed).price()
            need += abs(Decimal(size)) / WAD * mark * Decimal(adapter.market(market_id).initial_margin_ppm) / PPM
        return int(need.scaleb(c.deployment.base.decimals))

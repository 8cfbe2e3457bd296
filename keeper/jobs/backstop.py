"""The backstop job, run after each block's scan: unwinds the backstop book (positions taken from liquidated
accounts) at the venues that hold it, as planned by `keeper.backstop`."""

from __future__ import annotations

import logging

from keeper.backstop import BackstopUnwinder, UnwindSlice
from keeper.client.trading import BackstopUnwind
from keeper.exceptions import TransactionReverted
from keeper.jobs.context import JobContext

log = logging.getLogger("primevault.keeper")


class BackstopJob:
    name = "backstop"

    def __init__(self, context: JobContext) -> None:
        self.context = context
        trading = context.trading
        self.unwinder = BackstopUnwinder(context.clients, trading) if trading is not None else None

    def run(self, scanned_block: int | None = None) -> list[UnwindSlice]:
        """Unwinds the backstop book at the venues that hold it: one slice per (market, venue) and run, at most 20%
        of the book and small enough for the venue's price to stay inside the contract's band, with a limit inside
        the band. Where a slice would grow the vault's netted position at a venue past what its margin covers,
        margin is deposited there first. The slices are sent together, to share a block. Given the block the risk
        cycle just scanned, nothing is sent if a newer one has arrived meanwhile (it may move a price: its scan and
        liquidations go first). Returns the slices decided."""
        c = self.context
        trading = c.trading
        if self.unwinder is None or trading is None or not c.runs(self.name):
            return []
        plans = self.unwinder.plan()
        if scanned_block is not None and c.w3.eth.block_number != scanned_block:
            log.debug("block %d arrived while planning the backstop unwind: it is scanned first", scanned_block + 1)
            return plans
        unwinds, sending = [], []
        for s in plans:
            if s.size == 0:
                log.warning(
                    "backstop %s at %s (%s): no slice fits the price band around %s now",
                    s.market,
                    s.venue,
                    s.book,
                    s.mark,
                )
                continue
            if s.deposit:
                log.info("%s: depositing %d margin before unwinding the backstop", s.venue, s.deposit)
                sent = c.send("deposit margin", trading.deposit_margin, s.venue_id, s.deposit)
                if sent is None and not c.config.dry_run:
                    continue  # reverted: the venue would refuse the slice too
            log.info(
                "unwinding %s of the %s %s backstop at %s (expected %s, limit %s)",
                s.size,
                s.book,
                s.market,
                s.venue,
                s.expected_price,
                s.limit,
            )
            unwinds.append(BackstopUnwind(s.market_id, s.venue_id, s.size, s.limit))
            sending.append(s)
        outcomes = c.send("unwind backstop", trading.unwind_backstop, unwinds) if unwinds else None
        for s, outcome in zip(sending, outcomes or [], strict=True):
            if isinstance(outcome, TransactionReverted):
                c.metrics.reverts.labels("unwind backstop").inc()
                log.error("unwinding the %s backstop at %s reverted: %s", s.market, s.venue, outcome.error)
            else:
                c.metrics.backstop_unwound.inc()
        return plans

"""The backstop-unwind job's decisions: which slice of the protocol's backstop book to close at each venue now,
at what limit, and how much margin the venue needs first. Reads only; the daemon sends.

Liquidation moves positions into the backstop book at the oracle mark without asking any venue to fill
(`PrimeVault.liquidate`); this job then closes the book at the venue that holds each part of it with
`TradingModule.unwindBackstop`, in slices sized by `keeper.risk.backstop`, one slice per (market, venue) and
run, so a large book is worked off over several runs instead of hitting one venue at once.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from keeper.client.adapters import AdapterClient
from keeper.client.clients import Clients
from keeper.client.trading import BackstopView, TradingClient
from keeper.client.venues import VENUE_FAILURES, Venue, failure_reason, node_failure
from keeper.risk.backstop import slice_cap, unwind_slice
from keeper.risk.band import band_limit

log = logging.getLogger("primevault.keeper")

WAD = Decimal(10) ** 18
PPM = Decimal(10) ** 6
# Margin deposited before an unwind that grows the vault's netted position at a venue: what the venue's check
# needs after the fill, plus this share of its initial requirement as room for the mark to move.
MARGIN_HEADROOM = Decimal("0.5")


@dataclass(frozen=True)
class UnwindSlice:
    """One decision for one (market, venue) slot of the backstop book."""

    market_id: int
    venue_id: int
    market: str
    venue: str
    book: Decimal  # the backstop's signed position there, base units
    size: Decimal  # absolute size to close now; 0 when no slice fits the price band
    limit: Decimal  # worst average price accepted, USD
    mark: Decimal  # the oracle mark the band is around, USD
    expected_price: Decimal  # the venue's quoted average price for `size` (0 if none)
    deposit: int  # base-token units to deposit at the venue first (0: its margin check already passes)

    @property
    def side(self) -> int:
        """+1 buys (the book is short), -1 sells."""
        return 1 if self.book < 0 else -1


class BackstopUnwinder:
    """Plans the backstop unwind. Remembers, per slot, the book's size when its unwind began, so that each
    slice is at most 20% of that (the book closes in about five runs) rather than of what is left."""

    def __init__(self, clients: Clients, trading: TradingClient) -> None:
        self.clients = clients
        self.trading = trading
        self.base_decimals = trading.deployment.base.decimals
        self._peaks: dict[tuple[int, int], Decimal] = {}

    def plan(self) -> list[UnwindSlice]:
        """A slice for every nonzero slot of the book (size 0 where none fits the band now)."""
        books = self.trading.backstop()
        open_slots = {(b.market_id, b.venue_id) for b in books}
        self._peaks = {slot: peak for slot, peak in self._peaks.items() if slot in open_slots}
        if not books:
            return []
        readers = self.trading.venues()
        adapters = self.trading.adapters()
        plans = []
        venues = self.trading.deployment.venues
        for book in books:
            if venues[book.venue_id].fills_off_chain:
                continue  # its seat closes it through the exchange's API (`Seat.unwind_backstop`)
            try:
                plans.append(self._plan_slot(book, readers[book.venue_id], adapters[book.venue_id]))
            except VENUE_FAILURES as exc:  # one venue that cannot quote must not stop the other slots' unwinds
                if node_failure(exc):
                    raise
                log.warning(
                    "backstop %s at %s (%s): no slice planned: %s",
                    book.market,
                    book.venue,
                    book.size,
                    failure_reason(exc),
                )
        return plans

    def _plan_slot(self, book: BackstopView, reader: Venue, adapter: AdapterClient) -> UnwindSlice:
        slot = (book.market_id, book.venue_id)
        self._peaks[slot] = max(self._peaks.get(slot, Decimal(0)), abs(book.size))
        market = self.trading.deployment.markets[book.market_id]
        mark = self.clients.feed(market.feed).price()
        step = reader.cost_model(book.market).step
        side = 1 if book.size < 0 else -1
        limit = band_limit(mark, side)
        average_price = functools.partial(_average_price, reader, book.market, side)
        size = unwind_slice(book.size, step, average_price, limit, side, slice_cap(self._peaks[slot], step))
        price, fee = _quote(reader, book.market, side, size) if size else (Decimal(0), Decimal(0))
        deposit = self._deposit_needed(adapter, book.market_id, side * size, mark, price, fee)
        return UnwindSlice(
            book.market_id, book.venue_id, book.market, book.venue, book.size, size, limit, mark, price, deposit
        )

    def _deposit_needed(
        self, adapter: AdapterClient, market_id: int, change: Decimal, mark: Decimal, price: Decimal, fee: Decimal
    ) -> int:
        """Base units to deposit at the venue so that its margin check passes after the vault's netted position
        there changes by `change` (base units) at average `price` with `fee`; 0 if it passes already. The venue
        checks only a fill that grows or flips the position: net collateral less the fill's cost against the
        mark must cover the initial margin on every position afterwards."""
        if change == 0:
            return 0
        before = Decimal(adapter.position(market_id)) / WAD
        after = before + change
        if abs(after) <= abs(before) and (after == 0 or (after > 0) == (before > 0)):
            return 0  # shrinks or closes, on the same side
        imf = Decimal(adapter.market(market_id).initial_margin_ppm) / PPM
        margin = adapter.margin()
        unit = Decimal(10) ** self.base_decimals
        initial_after = Decimal(margin.initial_margin) / unit + (abs(after) - abs(before)) * mark * imf
        cost = fee + abs(change) * abs(price - mark)
        shortfall = initial_after - (Decimal(margin.net_collateral) / unit - cost)
        if shortfall <= 0:
            return 0
        amount = (shortfall + initial_after * MARGIN_HEADROOM) * unit
        return int(amount.to_integral_value(rounding=ROUND_CEILING))


def _average_price(reader: Venue, market: str, side: int, size: Decimal) -> Decimal:
    return reader.quote(market, size, side).average_price


def _quote(reader: Venue, market: str, side: int, size: Decimal) -> tuple[Decimal, Decimal]:
    quote = reader.quote(market, size, side)
    return quote.average_price, quote.fee

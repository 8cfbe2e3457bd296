"""The backstop-unwind job's decisions: which slice of the protocol's backstop book to close at each venue now,
at what limit, and how much margin the venue needs first. Reads only; the daemon sends.

Liquidation moves positions into the backstop book at the oracle mark without asking any venue to fill
(`PrimeVault.liquidate`); this job then closes the book at the venue that holds each part of it with
`TradingModule.unwindBackstop`, in slices sized by `keeper.risk.backstop`, one slice per (market, venue) and
run, so a large book is worked off over several runs instead of hitting one venue at once. Shorts that hedge
collateral reserves hold stay open until the store front has sold it (`books_to_unwind`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from keeper.client.adapters import AdapterClient
from keeper.client.clients import Clients
from keeper.client.portfolio import PortfolioMarginClient
from keeper.client.trading import BackstopView, TradingClient
from keeper.client.venues import VENUE_FAILURES, Venue, failure_reason, node_failure
from keeper.risk.backstop import kept_hedge, slice_cap, unwind_slice
from keeper.risk.band import band_limit

log = logging.getLogger("primevault.keeper")

WAD = Decimal(10) ** 18
PPM = Decimal(10) ** 6
# Margin deposited before an unwind that grows the vault's netted position at a venue: what the venue's check
# needs after the fill, plus this share of its initial requirement as room for the mark to move.
MARGIN_HEADROOM = Decimal("0.5")


def books_to_unwind(
    trading: TradingClient, rule: PortfolioMarginClient | None, mark: Callable[[int], Decimal]
) -> tuple[list[BackstopView], dict[tuple[int, int], Decimal]]:
    """The backstop book's nonzero slots less the shorts kept as the hedge of collateral reserves hold (up to its value
    at the oracle), and what is kept of each (market, venue) slot (absolute size; slots keeping nothing left out): the
    store front sells that collateral at the pair discount because its hedge leaves with it, so the short covering it
    is unwound only as the collateral is bought (`PortfolioMargin.reservesHedge`, `keeper.risk.backstop.kept_hedge`).
    `rule` is None without a portfolio rule (nothing is kept); `mark` gives a market's price by id. A market whose
    hedge the rule cannot say (its contract reverts, a feed it reads is stale) keeps nothing, said in a warning; the
    node's own failure is raised."""
    books = trading.backstop()
    shorts = sorted({b.market_id for b in books if b.size < 0})
    if rule is None or not shorts:
        return books, {}
    unit = Decimal(10) ** trading.deployment.base.decimals
    underlying_of: dict[int, int | None] = {}
    # Per underlying, the value its shorts keep: all its collateral in reserves, not just what the book's net short
    # covers now (`reservesHedge`'s second answer): the underlying's longs are unwound too, and as they go the short
    # kept covers it; buying the short back beside them would leave the collateral naked.
    covered: dict[int, Decimal] = {}
    marks: dict[int, Decimal] = {}
    for market_id in shorts:
        try:
            underlying = rule.market_underlying(market_id)
            if underlying is not None and underlying not in covered:
                covered[underlying] = Decimal(rule.reserves_hedge(underlying)[0]) / unit
            if underlying is not None and covered[underlying]:
                marks[market_id] = mark(market_id)
        except VENUE_FAILURES as exc:
            # What the rule cannot say is not kept, as the store front then sells at the asset's own discount
            # (nothing as a pair); one market's failure must not stop the unwind of the rest of the book.
            if node_failure(exc):
                raise
            log.warning(
                "the portfolio rule cannot say what of %s's short hedges collateral reserves hold (%s): none of it "
                "is kept",
                trading.deployment.markets[market_id].ticker,
                failure_reason(exc),
            )
            underlying = None
        underlying_of[market_id] = underlying
    if not any(covered.values()):
        return books, {}
    kept = kept_hedge([(b.market_id, b.venue_id, b.size) for b in books], underlying_of, covered, marks)
    adapters = trading.adapters() if kept else []
    kept = {slot: size for slot, size in kept.items() if size and _at_least_a_step(adapters, slot, size)}
    left = [replace(b, size=b.size + kept.get((b.market_id, b.venue_id), Decimal(0))) for b in books]
    return [b for b in left if b.size != 0], {slot: size for slot, size in kept.items() if size}


def _at_least_a_step(adapters: list[AdapterClient], slot: tuple[int, int], size: Decimal) -> bool:
    """Whether a hedge of `size` kept in `slot` is at least its venue's step. Less (the hedge of the few wei a buyer of
    the collateral left) is not kept: no order trades less than a step, so the short beside it could never be closed
    whole and a step of it would stay open for good. A step the venue cannot say keeps the hedge."""
    market_id, venue_id = slot
    try:
        step = Decimal(adapters[venue_id].market(market_id).step_size) / WAD
    except VENUE_FAILURES as exc:
        if node_failure(exc):
            raise
        return True
    return size >= step


def say_kept(
    trading: TradingClient, kept: dict[tuple[int, int], Decimal], before: set[tuple[int, int]]
) -> set[tuple[int, int]]:
    """Says in one line each slot of `kept` whose short starts being kept as the hedge of reserves (`books_to_unwind`),
    and each of `before` that keeps nothing any more: an operator sees why the book does not shrink, once, not every
    run. Returns the slots kept now, the next call's `before`."""
    markets, venues = trading.deployment.markets, trading.deployment.venues
    for market_id, venue_id in sorted(kept.keys() - before):
        log.info(
            "backstop %s at %s: %s of its short kept open as the hedge of collateral reserves hold (the store front "
            "sells them as a pair); unwound as the collateral is bought",
            markets[market_id].ticker,
            venues[venue_id].name,
            f"{kept[(market_id, venue_id)].quantize(Decimal('1e-8'), ROUND_FLOOR).normalize():f}",
        )
    for market_id, venue_id in sorted(before - kept.keys()):
        log.info(
            "backstop %s at %s: no short kept as the hedge of reserves any more: all of it is unwound",
            markets[market_id].ticker,
            venues[venue_id].name,
        )
    return set(kept)


def portfolio_rule_of(trading: TradingClient) -> PortfolioMarginClient | None:
    """The deployment's portfolio rule, whose store front prices hedged collateral, or None if it has none."""
    deployment = trading.deployment
    return PortfolioMarginClient(trading.w3, deployment) if deployment.portfolio is not None else None


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
        self.rule = portfolio_rule_of(trading)
        self._kept: set[tuple[int, int]] = set()
        self._dust: set[tuple[int, int]] = set()  # slots below their venue's step, as last said

    def plan(self) -> list[UnwindSlice]:
        """A slice for every nonzero slot of the book less the hedge of reserves (size 0 where none fits the band
        now)."""
        books, kept = books_to_unwind(self.trading, self.rule, self._mark)
        venues = self.trading.deployment.venues
        # A seat's slots are its own to say (`Seat.unwind_backstop`).
        kept = {slot: size for slot, size in kept.items() if not venues[slot[1]].fills_off_chain}
        self._kept = say_kept(self.trading, kept, self._kept)
        open_slots = {(b.market_id, b.venue_id) for b in books}
        self._peaks = {slot: peak for slot, peak in self._peaks.items() if slot in open_slots}
        if not books:
            self._dust = set()
            return []
        readers = self.trading.venues()
        adapters = self.trading.adapters()
        plans = []
        dust = set()
        for book in books:
            if venues[book.venue_id].fills_off_chain:
                continue  # its seat closes it through the exchange's API (`Seat.unwind_backstop`)
            try:
                plan = self._plan_slot(book, readers[book.venue_id], adapters[book.venue_id])
                slot = (book.market_id, book.venue_id)
                if plan is not None:
                    plans.append(plan)
                elif slot not in kept:  # not the rest beside a hedge: dust no run will ever close, said once
                    dust.add(slot)
                    if slot not in self._dust:
                        log.warning(
                            "backstop %s at %s: %s left, below the venue's step (%s): no order can close it",
                            book.market,
                            book.venue,
                            book.size,
                            readers[book.venue_id].cost_model(book.market).step,
                        )
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
        self._dust = dust
        return plans

    def _mark(self, market_id: int) -> Decimal:
        return self.clients.feed(self.trading.deployment.markets[market_id].feed).price()

    def _plan_slot(self, book: BackstopView, reader: Venue, adapter: AdapterClient) -> UnwindSlice | None:
        """The slot's slice; None for less than the venue's step (what is left beside a kept hedge, or what a
        liquidation took off the step while the venue could not answer), which no order can close."""
        step = reader.cost_model(book.market).step
        if abs(book.size) < step:
            return None
        slot = (book.market_id, book.venue_id)
        self._peaks[slot] = max(self._peaks.get(slot, Decimal(0)), abs(book.size))
        mark = self._mark(book.market_id)
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

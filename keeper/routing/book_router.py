"""The book router: the cheapest split of one order across the venues' order books, found exactly.

Pure computation, no I/O (units and costs: `keeper.routing.books`). What it minimises, in this order:

1. The size that opens exposure, so a reducing order closes where the account holds a position first: margin is
   judged per (market, venue), and opening at one venue while the opposite position stays at another would
   need margin for both.
2. The all-in cost: prices, taker fees, funding over the horizon, and the fixed cost of moving margin to a
   venue whose free margin cannot back its share.

Why the answer is exact:

- With per-unit costs only, taking units cheapest first over every venue's levels (the consolidated book,
  a unit that closes ranking before any that opens) is optimal: each venue's levels get dearer along its
  book, so no unit left out costs less than one taken.
- A margin transfer is a fixed cost, which no ranking of units can weigh, so the router solves the problem
  once for every subset of the venues margin can move to (with their larger limits and the transfers paid)
  and keeps the cheapest.
- Size steps make it a knapsack of sorts: the cheapest-first split x may not lie on them. But some optimal
  split y on the steps lies within (n - 1) M of x at every venue, for n venues and M the largest least common
  multiple of two venues' steps: if y is that far above x at venue a, the other venues are that far below in
  total, so one of them, b, is at least M below, and moving lcm(step a, step b) from a to b costs no more (units above x
  cost at least, units below at most, what any unit x took costs) and brings y nearer x. So the venue with the
  largest step tries each size in that window, the others split the rest the same way, one venue fewer at each
  level: about a hundred splits for four venues, whatever the sizes.

An order larger than every book together (within margin limits and steps) raises NotEnoughLiquidityError:
never a partial or worse fill than the books show.
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from keeper.exceptions import InputError, NotEnoughLiquidityError
from keeper.routing.books import COST_UNIT, WAD, BookOrder, VenueBook, wad_text


@dataclass(frozen=True)
class VenueFill:
    """One venue's part of a split, its money in USD."""

    venue: str
    size: int  # base WAD
    closing: int  # base WAD of `size` that closes the position held here
    notional: Fraction  # at the book's prices: paid for a buy, received for a sell
    fee: Fraction
    funding: Fraction  # over the horizon; negative when the position is paid
    transfer_cost: Fraction  # of moving margin here for this fill (0 when none moves)

    @property
    def average_price(self) -> Fraction:
        return self.notional * WAD / self.size


@dataclass(frozen=True)
class BookSplit:
    """The router's answer: one fill per venue, in the order the venues were given (size 0 where unused)."""

    order: BookOrder
    fills: tuple[VenueFill, ...]
    cost: Fraction  # USD, all in: paid (buy) or minus received (sell), plus fees, funding and transfers
    best_single: int | None  # the venue that alone fills the order cheapest; None when none can
    best_single_cost: Fraction | None

    @property
    def cost_vs_mark(self) -> Fraction:
        """What the order costs beyond trading its size at the mark, in USD."""
        return self.cost - Fraction(self.order.side * self.order.mark * self.order.size, WAD * WAD)


def route_books(order: BookOrder, venues: Sequence[VenueBook]) -> BookSplit:
    """The split of `order` across `venues` that opens least and then costs least (see the module docstring)."""
    if not venues:
        raise InputError("no venue to route to")
    steps = math.gcd(*(v.step for v in venues))
    if order.size % steps:
        listed = ", ".join(f"{v.name} {wad_text(v.step)}" for v in venues)
        raise InputError(f"size {wad_text(order.size)} is not a multiple of the venues' steps ({listed})")
    curves = [_Curve.build(v, order) for v in venues]
    if sum(c.caps[1] for c in curves) < order.size:
        limits = ", ".join(f"{v.name} {wad_text(c.caps[1])}" for v, c in zip(venues, curves, strict=True))
        raise NotEnoughLiquidityError(
            f"not enough liquidity for {wad_text(order.size)}: the books take at most {limits} within their margin"
        )
    best = _solve(order.size, curves)
    if best is None:
        raise NotEnoughLiquidityError(f"no split of {wad_text(order.size)} fits the venues' books on their steps")
    singles = [(s.key[:2], i) for i, c in enumerate(curves) if (s := _solve(order.size, [c])) is not None]
    best_single = min(singles, default=None)
    fills = tuple(
        _fill(venue, curve, size, i in best.moved, order)
        for i, (venue, curve, size) in enumerate(zip(venues, curves, best.sizes, strict=True))
    )
    return BookSplit(
        order,
        fills,
        Fraction(best.key[1], COST_UNIT),
        None if best_single is None else best_single[1],
        None if best_single is None else Fraction(best_single[0][1], COST_UNIT),
    )


@dataclass(frozen=True)
class _Curve:
    """What a fill of any size costs at one venue for one order, exactly: cumulative costs at level ends."""

    ends: tuple[int, ...]  # cumulative size at the end of each level, base WAD
    totals: tuple[int, ...]  # cumulative cost there, COST_UNIT
    units: tuple[int, ...]  # each level's cost per base WAD
    closable: int  # the first `closable` base WAD close the position held here
    step: int
    caps: tuple[int, int]  # the most it can fill without and with a margin transfer
    transfer: int  # the transfer's cost, COST_UNIT

    @classmethod
    def build(cls, venue: VenueBook, order: BookOrder) -> _Curve:
        levels = venue.levels(order.side)
        units = tuple(venue.unit_cost(level.price, order) for level in levels)
        ends = tuple(itertools.accumulate(level.size for level in levels))
        totals = tuple(itertools.accumulate(level.size * unit for level, unit in zip(levels, units, strict=True)))
        depth = ends[-1] if ends else 0
        closable = min(venue.closable(order.side), depth)
        margin = venue.margin
        if margin is None:
            return cls(ends, totals, units, closable, venue.step, (depth, depth), 0)
        can_wait = order.max_delay_seconds is None or margin.transfer_delay_seconds <= order.max_delay_seconds
        now = min(depth, closable + margin.capacity(order.mark, moved=False))
        moved = min(depth, closable + margin.capacity(order.mark, moved=True)) if can_wait else now
        return cls(ends, totals, units, closable, venue.step, (now, moved), margin.transfer_cost * 10**36)

    def money(self, size: int) -> int:
        """The cost of the first `size` base WAD of the book (at most its depth)."""
        i = bisect_left(self.ends, size)
        if i == 0:
            return size * self.units[0] if size else 0
        return self.totals[i - 1] + (size - self.ends[i - 1]) * self.units[i]


@dataclass(frozen=True)
class _Solution:
    key: tuple[int, int, int, int]  # size opened, cost, venues used, transfers: smallest is best
    sizes: tuple[int, ...]
    moved: frozenset[int]  # the venues margin moves to


_Part = tuple[tuple[int, int, int], dict[int, int]]  # (size opened, cost, venues used) and the sizes by venue


def _solve(size: int, curves: Sequence[_Curve]) -> _Solution | None:
    """The best split over every subset of venues to move margin to; None when nothing fits."""
    segments = _segments(curves)
    movers = [i for i, c in enumerate(curves) if c.caps[1] > c.caps[0]]
    best: _Solution | None = None
    for moved in itertools.chain.from_iterable(itertools.combinations(movers, r) for r in range(len(movers) + 1)):
        caps = [c.caps[i in moved] for i, c in enumerate(curves)]
        found = _on_steps(size, tuple(i for i, cap in enumerate(caps) if cap > 0), curves, caps, segments)
        if found is None:
            continue
        (opened, cost, used), parts = found
        key = (opened, cost + sum(curves[i].transfer for i in moved), used, len(moved))
        if best is None or key < best.key:
            sizes = tuple(parts.get(i, 0) for i in range(len(curves)))
            best = _Solution(key, sizes, frozenset(moved))
    return best


_Segment = tuple[int, int, int, int, int]  # opens (0 or 1), cost per base WAD, venue, start, end


def _segments(curves: Sequence[_Curve]) -> list[_Segment]:
    """Every level of every venue, cut where the position held there is closed, cheapest first (closing before
    opening). Along one venue's book the order is kept: its levels get dearer and closing comes first."""
    segments: list[_Segment] = []
    for venue, curve in enumerate(curves):
        for start, end, unit in zip((0, *curve.ends), curve.ends, curve.units, strict=False):
            if start < curve.closable:
                segments.append((0, unit, venue, start, min(end, curve.closable)))
            if end > curve.closable:
                segments.append((1, unit, venue, max(start, curve.closable), end))
    return sorted(segments)


def _cheapest_first(size: int, segments: Sequence[_Segment], caps: dict[int, int]) -> dict[int, int]:
    """The split without steps over the venues in `caps`, units taken cheapest first up to each venue's cap
    (optimal, the module says why)."""
    taken = dict.fromkeys(caps, 0)
    left = size
    for _, _, venue, start, end in segments:
        take = min(end, caps.get(venue, 0), start + left) - start
        if take > 0:
            taken[venue] += take
            left -= take
    return taken


def _on_steps(
    size: int, venues: tuple[int, ...], curves: Sequence[_Curve], caps: Sequence[int], segments: Sequence[_Segment]
) -> _Part | None:
    """The best split of `size` over `venues` on their steps, or None. The venue with the largest step takes each
    size in the window around the cheapest-first split that holds an optimum (the module says why), and the
    others split the rest the same way, so each level of the recursion has one venue fewer and a smaller window."""
    if not venues:
        return ((0, 0, 0), {}) if size == 0 else None
    near = _cheapest_first(size, segments, {i: caps[i] for i in venues})
    if sum(near.values()) < size:
        return None
    coarse = max(venues, key=lambda i: curves[i].step)
    rest = tuple(i for i in venues if i != coarse)
    widest = max((math.lcm(curves[a].step, curves[b].step) for a, b in itertools.combinations(venues, 2)), default=1)
    reach = (len(venues) - 1) * widest
    step = curves[coarse].step
    best: _Part | None = None
    low, high = max(near[coarse] - reach, 0), min(near[coarse] + reach, caps[coarse], size)
    for part in range(-(-low // step) * step, high + 1, step):
        found = _on_steps(size - part, rest, curves, caps, segments)
        if found is None:
            continue
        curve = curves[coarse]
        (opened, cost, used), parts = found
        key = (opened + max(0, part - curve.closable), cost + curve.money(part), used + (part > 0))
        if best is None or key < best[0]:
            best = (key, {**parts, coarse: part})
    return best


def _fill(venue: VenueBook, curve: _Curve, size: int, moved: bool, order: BookOrder) -> VenueFill:
    """The fill's money, split into notional, fee, funding and transfer for the report."""
    notional, left = 0, size
    for level in venue.levels(order.side):
        take = min(left, level.size)
        notional += take * level.price
        left -= take
    return VenueFill(
        venue.name,
        size,
        min(size, curve.closable),
        Fraction(notional, WAD * WAD),
        Fraction(notional * venue.taker_fee_ppm, WAD * WAD * 10**6),
        Fraction(order.side * venue.funding_rate_per_second * order.horizon_seconds * order.mark * size, WAD**3),
        Fraction(curve.transfer if moved else 0, COST_UNIT),
    )

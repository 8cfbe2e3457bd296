"""Sizing the unwind of the protocol's backstop book: pure arithmetic, no I/O.

The backstop book holds positions taken over from liquidated accounts (`TradingModule.absorbPositions`).
The keeper closes them at the venues in bounded slices: at most `MAX_SLICE_SHARE` (20%, up to the venue's
step) of the book as it stood when the unwind began (so a book closes in five runs, not ever more slowly as
it shrinks), and
no more than the venue can fill at an average price inside the band the contract enforces around the
oracle mark (`BACKSTOP_PRICE_BAND_BPS`, 5%): the capped size is halved until the venue's price fits
(Hyperliquid likewise cuts large liquidations into slices). The rest waits for the next run, when the
venue's book has refilled.

Shorts that hedge collateral reserves hold (`kept_hedge`) are not unwound while it is held: the store front sells such
collateral at the pair discount because its hedge leaves with it (`PortfolioMargin.storeFrontDiscount`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

# The smallest size a position holds (sizes are WAD on chain).
WAD_UNIT = Decimal("1e-18")
# The largest share of the book closed in one slice.
MAX_SLICE_SHARE = Decimal("0.2")


def slice_cap(peak: Decimal, step: Decimal, share: Decimal = MAX_SLICE_SHARE) -> Decimal:
    """The largest slice of a book that stood at `peak` (absolute) when its unwind began: `share` of it rounded
    up onto the venue's step (so that 1 / `share` slices close it, with no dust left for one more run), never
    less than one step."""
    return max((abs(peak) * share / step).to_integral_value(rounding=ROUND_CEILING) * step, step)


def unwind_slice(
    book: Decimal,
    step: Decimal,
    average_price: Callable[[Decimal], Decimal],
    limit: Decimal,
    side: int,
    cap: Decimal | None = None,
) -> Decimal:
    """The size to close now (absolute, a multiple of `step`): the smaller of `book` and `cap` rounded down to the
    step, halved until the venue's average price for it is within `limit`; 0 if not even one step is."""
    size = _floor_to(abs(book) if cap is None else min(abs(book), cap), step)
    while size >= step:
        price = average_price(size)
        if (price <= limit) if side > 0 else (price >= limit):
            return size
        size = _floor_to(size / 2, step)
    return Decimal(0)


def _floor_to(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_FLOOR) * step


def kept_hedge(
    books: Sequence[tuple[int, int, Decimal]],
    underlying_of: Mapping[int, int | None],
    covered: Mapping[int, Decimal],
    marks: Mapping[int, Decimal],
) -> dict[tuple[int, int], Decimal]:
    """How much of each short slot of the backstop book stays open as the hedge of collateral reserves hold (absolute
    size per (market, venue)). `books` are (market, venue, signed size) slots; `covered` the value per underlying
    its shorts keep (the collateral reserves hold of it: `PortfolioMargin.reservesHedge`); `marks` each market's price.
    Each underlying's value is taken from its short slots in (market, venue) order, each at most its whole size:
    once the rest and the underlying's longs are unwound, its net short covers that value."""
    left = dict(covered)
    kept: dict[tuple[int, int], Decimal] = {}
    for market, venue, size in sorted(books, key=lambda slot: (slot[0], slot[1])):
        underlying = underlying_of.get(market)
        if size >= 0 or underlying is None or left.get(underlying, Decimal(0)) <= 0:
            continue
        # In WAD units as the book holds sizes, rounded up: the short kept covers at least the value.
        keep = min(-size, (left[underlying] / marks[market]).quantize(WAD_UNIT, ROUND_CEILING))
        kept[(market, venue)] = keep
        left[underlying] -= keep * marks[market]
    return kept

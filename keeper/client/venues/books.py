"""A local venue's order book, sampled through its quote view, as the book router reads it.

The local on-chain venues hold no resting orders: they fill along their depth model. Their book is the one that
fills like them: level i spans the sizes from (i - 1) x L to i x L, at the price that makes a fill of i x L cost
what the venue quotes for it (rounded against the taker, so the book is never better than the venue), and so
routing over it prices every level boundary as the venue would fill there. Each level is one quote call.
"""

from __future__ import annotations

from decimal import Decimal

from keeper.client.venues import WAD, Venue
from keeper.routing import BUY, SELL, Level, VenueBook


def sampled_book(venue: Venue, market: str, depth: Decimal, levels: int) -> VenueBook:
    """`venue`'s book for `market` on both sides, `levels` levels deep, down to at least `depth` base units."""
    params = venue.market_params(market)
    step = params.step_size
    level_size = max(1, -(-int(depth * WAD) // (levels * step))) * step
    return VenueBook(
        venue.name,
        bids=_side(venue, market, SELL, level_size, levels),
        asks=_side(venue, market, BUY, level_size, levels),
        taker_fee_ppm=params.taker_fee_ppm,
        funding_rate_per_second=params.funding_rate_per_second,
        step=step,
    )


def _side(venue: Venue, market: str, side: int, level_size: int, levels: int) -> tuple[Level, ...]:
    """One side, best first: one quote per level, each level's price the quoted notional it adds over its size."""
    book: list[Level] = []
    filled = 0  # the quoted notional of the levels so far, in 1e-36 USD (a WAD price times a WAD size)
    for i in range(1, levels + 1):
        size = i * level_size
        notional = int(venue.quote(market, Decimal(size) / WAD, side).average_price * WAD) * size
        added = notional - filled
        price = -(-added // level_size) if side == BUY else added // level_size
        if price <= 0:
            break  # a sell this large would fill at nothing: the venue's book ends here
        book.append(Level(price, level_size))
        filled = notional
    return tuple(book)

"""Venues' order books as the book router reads them, and their consolidated book: the "meta-exchange".

Pure computation, no I/O, exact integers in the vault's units: sizes in base WAD (1e-18 of a base unit),
prices and margin in USD WAD, taker fees in ppm, funding as a WAD fraction of the mark per second (longs pay
when it is positive). A taker who buys (s = +1) or sells (s = -1) a unit at a level of price p pays or receives
p, pays the fee p f on that notional, and then holds the unit for the order's horizon H at funding r on the
mark m, so each unit of a level has one all-in cost,

    k = s p + p f + s r H m        (USD per base unit; negative for a sell, which receives)

and a fill costs the sum of k over the units it takes. Costs are integers in units of 1e-54 USD (`COST_UNIT`
of them make a dollar): there a WAD price times a WAD size times a ppm fee, and a WAD rate times a WAD mark
times a WAD size, are whole numbers, so no cost is ever rounded. They outgrow 64 bits, which is why this is
Python integers and not numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from keeper.exceptions import InputError

BUY, SELL = 1, -1
WAD = 10**18
PPM = 10**6
COST_UNIT = 10**54
"""Cost integers per USD: a cost of `c` is `c / COST_UNIT` dollars."""


@dataclass(frozen=True)
class Level:
    """`size` base WAD resting at `price` USD WAD per base unit."""

    price: int
    size: int


@dataclass(frozen=True)
class MarginLimit:
    """How much new exposure a venue can take, and what more would cost.

    New exposure needs initial margin at the venue: what is there now backs `free_margin / (mark x initial
    margin fraction)`. More needs margin moved there first, a cost paid once whatever the size (gas, a
    withdrawal elsewhere; RabbitX's withdrawals take hours), which is why the router weighs each choice of
    venues to move margin to instead of ranking units. Closing a position needs no margin.
    """

    free_margin: int  # USD WAD at the venue, backing nothing yet
    initial_margin_ppm: int  # the venue's initial margin fraction: its leverage limit is 1e6 / this
    movable_margin: int = 0  # USD WAD the vault could move there for this order
    transfer_cost: int = 0  # USD WAD, paid once if margin moves
    transfer_delay_seconds: int = 0  # until moved margin can back a fill

    def __post_init__(self) -> None:
        if not 0 < self.initial_margin_ppm <= PPM:
            raise InputError(f"initial margin of {self.initial_margin_ppm} ppm is outside (0, 1e6]")
        if min(self.free_margin, self.movable_margin, self.transfer_cost, self.transfer_delay_seconds) < 0:
            raise InputError("margin, transfer cost and delay cannot be negative")

    def capacity(self, mark: int, moved: bool) -> int:
        """The most new exposure (base WAD) the margin backs at `mark` (USD WAD), with or without a transfer."""
        margin = self.free_margin + (self.movable_margin if moved else 0)
        return margin * WAD * PPM // (mark * self.initial_margin_ppm)


@dataclass(frozen=True)
class BookOrder:
    """What the router is asked to fill: `size` base WAD on `side` (BUY or SELL)."""

    size: int
    side: int
    mark: int  # USD WAD: funding and margin are valued at it
    horizon_seconds: int = 0  # how long the position is expected to be held, for funding
    max_delay_seconds: int | None = None  # the longest margin transfer the order can wait for; None: any

    def __post_init__(self) -> None:
        if self.size <= 0:
            raise InputError("order size must be positive")
        if self.side not in (BUY, SELL):
            raise InputError(f"side must be {BUY} (buy) or {SELL} (sell), not {self.side}")
        if self.mark <= 0 or self.horizon_seconds < 0:
            raise InputError("the mark must be positive and the horizon not negative")


@dataclass(frozen=True)
class VenueBook:
    """One venue's book for one market, with everything that makes a fill there cost more than its price."""

    name: str
    bids: tuple[Level, ...]  # best (highest) first
    asks: tuple[Level, ...]  # best (lowest) first
    taker_fee_ppm: int
    funding_rate_per_second: int  # WAD fraction of the mark per second; positive: longs pay
    step: int  # base WAD: every fill here is a multiple of it
    position: int = 0  # base WAD, signed: what the account holds here
    margin: MarginLimit | None = None  # None: only the book limits what this venue takes

    def __post_init__(self) -> None:
        """A book out of order would make the cheapest-first ranking wrong without any error, so it is refused."""
        if self.step <= 0 or not 0 <= self.taker_fee_ppm < PPM:
            raise InputError(f"{self.name}: the step must be positive and the taker fee in [0, 1e6) ppm")
        for side, levels in (("bids", self.bids), ("asks", self.asks)):
            if any(level.price <= 0 or level.size <= 0 for level in levels):
                raise InputError(f"{self.name}: {side} need positive prices and sizes")
            prices = [level.price for level in levels]
            if prices != sorted(prices, reverse=side == "bids"):
                raise InputError(f"{self.name}: {side} are not best first")

    def levels(self, side: int) -> tuple[Level, ...]:
        """The side a taker on `side` fills against: asks for a buy, bids for a sell."""
        return self.asks if side == BUY else self.bids

    def closable(self, side: int) -> int:
        """How much of an order on `side` closes the position held here (base WAD)."""
        return abs(self.position) if self.position * side < 0 else 0

    def unit_cost(self, price: int, order: BookOrder) -> int:
        """All-in cost of one base WAD at `price` (COST_UNIT per base unit / 1e18)."""
        s = order.side
        return price * (s * PPM + self.taker_fee_ppm) * 10**12 + s * self.funding_rate_per_second * (
            order.horizon_seconds * order.mark
        )


@dataclass(frozen=True)
class MergedLevel:
    """A level of the consolidated book: the venue's own level, and its price with fee and funding in."""

    venue: str
    price: int  # USD WAD, as the venue shows it
    size: int  # base WAD
    all_in_price: Fraction  # USD per base unit: paid for a buy, received for a sell


def consolidated_book(venues: Sequence[VenueBook], order: BookOrder) -> tuple[MergedLevel, ...]:
    """Every venue's levels on the side `order` takes, best all-in price first: one exchange made of all of them.

    With only per-unit costs, filling this book from the top is the cheapest split (each venue's levels get
    dearer, so no level left out is cheaper than one taken); `book_router.route_books` starts from it. The
    order's size plays no part here, only its side, mark and horizon.
    """
    merged = [
        MergedLevel(v.name, level.price, level.size, Fraction(order.side * v.unit_cost(level.price, order), 10**36))
        for v in venues
        for level in v.levels(order.side)
    ]
    return tuple(sorted(merged, key=lambda m: order.side * m.all_in_price))


def wad_text(amount: int) -> str:
    """A WAD amount as a plain decimal, for error messages."""
    return f"{(Decimal(amount) / WAD).normalize():f}"

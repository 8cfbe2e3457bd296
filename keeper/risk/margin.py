"""How much margin to move to or from a venue: a floor, a target and a ceiling, as multiples of the initial margin the
venue would ask for the vault's gross legs there (every client's position, not only the netted book the venue
margins today), with a minimum kept at every venue."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from fractions import Fraction

WAD = Decimal(10) ** 18
PPM = Decimal(10) ** 6


@dataclass(frozen=True)
class MarginPolicy:
    floor: float  # top up below this multiple of the venue's requirement...
    target: float  # ...to this one; withdraw down to it...
    ceiling: float  # ...above this one
    minimum: int  # base-token units kept at every venue whatever the positions (the floor and target never go below)
    # Hysteresis at the minimum: where the minimum binds, it is the floor and the target and ceiling keep their
    # multiples' ratio to it (minimum x target / floor, minimum x ceiling / floor), so that a venue at the minimum is
    # topped up well above it, not back to it after every small loss (a deposit transaction each time). Off, the
    # target is the minimum itself and the ceiling twice the minimum.
    band_over_minimum: bool = False
    # The smallest move sent, as a share of the venue's target: a smaller deposit or withdrawal waits (the margin
    # drifts a little further first) unless the venue holds less than its requirement (1x), when any deposit goes.
    min_move_share: float = 0.0

    def levels(self, need: int) -> tuple[int, int, int]:
        """The floor, target and ceiling (base-token units) for a venue whose positions need `need`."""
        if self.band_over_minimum:
            # Each level at least the minimum times its multiple over the floor's: the floor is the minimum itself.
            base = Fraction(repr(self.floor))
            low, mid, high = (
                max(_times(need, m), _ceiling(self.minimum * Fraction(repr(m)) / base))
                for m in (self.floor, self.target, self.ceiling)
            )
            return low, mid, high
        floor = max(_times(need, self.floor), self.minimum)
        target = max(_times(need, self.target), self.minimum)
        ceiling = max(_times(need, self.ceiling), self.minimum * 2)
        return floor, target, ceiling

    def move(self, need: int, net: int, pending: int) -> int:
        """Base-token units to deposit (positive) or withdraw (negative) at a venue whose positions need `need` of
        initial margin, holding `net` with `pending` already on its way out. Only margin at the venue backs positions,
        so a pending withdrawal never counts toward the floor; it counts against the ceiling (it is leaving). A
        withdrawal takes the margin down to the target, never to the floor, since it may take a delay to land. A move
        smaller than `min_move_share` of the target is not sent, unless the venue holds less than `need`."""
        floor, target, ceiling = self.levels(need)
        if not (net < floor or (net + pending > ceiling and net > target)):
            return 0
        move = target - net
        smallest = _times(target, self.min_move_share) if self.min_move_share > 0 else 0
        if abs(move) < smallest and not (move > 0 and net < need):
            return 0
        return move


def _times(need: int, multiple: float) -> int:
    """`need` x `multiple` exactly, the multiple read as the decimal the config writes (3.3, not the binary float
    below it), rounded up: a venue is kept at no less than the multiple of its requirement. A float product lost
    units above 2^53 and cut 1.1 x 3 to 3."""
    return _ceiling(need * Fraction(repr(multiple)))


def _ceiling(amount: Fraction) -> int:
    """`amount` rounded up to a whole base unit."""
    return -(-amount.numerator // amount.denominator)


def gross_legs(positions: Iterable[tuple[int, int]]) -> dict[int, int]:
    """The sum of |size| per (market, venue) slot over `positions` (slot, signed size): the legs a venue must carry
    if the vault's clients stop netting each other out there (one side liquidated into the backstop and closed)."""
    legs: dict[int, int] = {}
    for slot, size in positions:
        legs[slot] = legs.get(slot, 0) + abs(size)
    return legs


def slot_exposure(net: int, legs: int | None, book: int) -> int:
    """The size (absolute) a venue must be margined for in one market: the larger of the vault's netted position and
    its clients' gross legs plus the backstop's book (`legs` None: unknown, the netted position alone). The venue
    margins only the netted book, but a liquidation can take one side of a netted pair into the backstop and close
    it, growing the netted position at once."""
    return max(abs(net), legs + abs(book)) if legs is not None else abs(net)


def venue_requirement(
    exposures: Sequence[int], marks: Sequence[Decimal], initial_margin_ppm: Sequence[int], decimals: int
) -> int:
    """Initial margin for `exposures` (WAD base units per market) at `marks`, in base-token units rounded up."""
    need = sum(
        (
            Decimal(size) / WAD * mark * ppm / PPM
            for size, mark, ppm in zip(exposures, marks, initial_margin_ppm, strict=True)
        ),
        Decimal(0),
    )
    return int(need.scaleb(decimals).to_integral_value(ROUND_CEILING))

"""Sizing the backstop unwind (pure, no chain): at most 20% of the book, no more than the price band allows, and never
the shorts that hedge collateral reserves hold."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from keeper.risk.backstop import kept_hedge, slice_cap, unwind_slice
from keeper.risk.band import PRICE_BAND, band_limit, child_limit

MARK = Decimal(50_000)
STEP = Decimal("0.001")


def impact(depth: Decimal, side: int) -> Callable[[Decimal], Decimal]:
    """A venue filling at mark +- size / (2 x depth), as the local venues do."""
    return lambda size: MARK * (1 + side * size / (2 * depth))


def test_limits_sit_inside_the_contracts_band_on_the_right_side() -> None:
    assert band_limit(MARK, 1) == MARK * (1 + PRICE_BAND)
    assert band_limit(MARK, -1) == MARK * (1 - PRICE_BAND)
    assert Decimal("0.05") > PRICE_BAND, "inside BACKSTOP_PRICE_BAND_BPS"


def test_a_child_limit_is_its_orders_within_the_band() -> None:
    """A child may be tighter than its order: an order's limit past the band is cut to the band's edge (the
    contract refuses a child's past it), one within it is kept."""
    assert child_limit(MARK * 2, MARK, 1) == band_limit(MARK, 1)
    assert child_limit(Decimal("0.000001"), MARK, -1) == band_limit(MARK, -1)
    assert child_limit(MARK + 1, MARK, 1) == MARK + 1
    assert child_limit(MARK - 1, MARK, -1) == MARK - 1
    assert child_limit(MARK - 1, MARK, 1) == MARK - 1, "a buy below the mark stays below it"


def test_a_book_the_venue_can_take_closes_in_one_slice() -> None:
    size = unwind_slice(Decimal(3), STEP, impact(Decimal(1000), -1), band_limit(MARK, -1), -1)
    assert size == Decimal(3)


def test_a_large_book_is_halved_until_its_price_fits_the_band() -> None:
    # At depth 100, selling 10 costs 5% (outside 4.5%); 5 costs 2.5%.
    size = unwind_slice(Decimal(10), STEP, impact(Decimal(100), -1), band_limit(MARK, -1), -1)
    assert size == Decimal(5)
    buy = unwind_slice(Decimal(40), STEP, impact(Decimal(100), 1), band_limit(MARK, 1), 1)
    assert buy == Decimal(5), "40 -> 20 -> 10 -> 5"
    assert buy % STEP == 0


def test_nothing_when_even_one_step_is_outside_the_band() -> None:
    size = unwind_slice(Decimal(1), STEP, lambda q: MARK * Decimal("0.9"), band_limit(MARK, -1), -1)
    assert size == 0


def test_a_slice_is_at_most_a_fifth_of_the_book_when_its_unwind_began() -> None:
    deep = impact(Decimal(10_000), -1)  # the venue could take all of it
    cap = slice_cap(Decimal(3), STEP)
    assert cap == Decimal("0.6"), "a fifth of 3"
    assert unwind_slice(Decimal(3), STEP, deep, band_limit(MARK, -1), -1, cap) == Decimal("0.6")
    # The cap stays a fifth of the book it started from, so five slices close it, the last one smaller.
    left, slices = Decimal(3), 0
    while left:
        left -= unwind_slice(left, STEP, deep, band_limit(MARK, -1), -1, cap)
        slices += 1
    assert slices == 5


def test_the_cap_rounds_up_onto_the_step_so_no_dust_is_left() -> None:
    assert slice_cap(Decimal("81.531"), STEP) == Decimal("16.307"), "5 x 16.307 covers 81.531"
    assert slice_cap(Decimal("0.002"), STEP) == STEP, "never less than one step"


def test_the_band_still_wins_over_the_cap() -> None:
    # At depth 100, selling 10 costs 5%: the cap of 20 is halved to 10, then to 5.
    size = unwind_slice(
        Decimal(100), STEP, impact(Decimal(100), -1), band_limit(MARK, -1), -1, slice_cap(Decimal(100), STEP)
    )
    assert size == Decimal(5)


def test_the_hedge_of_reserves_is_kept_from_the_shorts_of_its_underlying_in_slot_order() -> None:
    """Market 1 (ETH, at 3,000) is short 2 at venue 0 and 3 at venue 1 and long 1 at venue 2; reserves hold WETH worth
    9,000 that the net short (4 ETH, 12,000) covers whole: 2 are kept at venue 0 and 1 at venue 1, so unwinding the
    rest leaves the net short at 3 ETH. Market 0 (BTC) is not covered: none of its short is kept, and an unmapped
    market's never is."""
    books = [(1, 1, Decimal(-3)), (1, 0, Decimal(-2)), (1, 2, Decimal(1)), (0, 0, Decimal(-1)), (2, 0, Decimal(-1))]
    underlying_of = {0: 1, 1: 0, 2: None}
    kept = kept_hedge(books, underlying_of, {0: Decimal(9000), 1: Decimal(0)}, {0: MARK, 1: Decimal(3000)})
    assert kept == {(1, 0): Decimal(2), (1, 1): Decimal(1)}
    assert sum(kept.values()) * 3000 == 9000, "once the rest is unwound, the short left covers the reserves"


def test_a_hedge_larger_than_the_shorts_keeps_them_whole() -> None:
    kept = kept_hedge([(1, 0, Decimal(-2))], {1: 0}, {0: Decimal(10**9)}, {1: Decimal(3000)})
    assert kept == {(1, 0): Decimal(2)}

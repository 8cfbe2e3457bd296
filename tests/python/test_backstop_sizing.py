"""Sizing the backstop unwind (pure, no chain): slices as large as the price band allows."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from keeper.risk.backstop import UNWIND_BAND, unwind_limit, unwind_slice

MARK = Decimal(50_000)
STEP = Decimal("0.001")


def impact(depth: Decimal, side: int) -> Callable[[Decimal], Decimal]:
    """A venue filling at mark +- size / (2 x depth), as the local venues do."""
    return lambda size: MARK * (1 + side * size / (2 * depth))


def test_limits_sit_inside_the_contracts_band_on_the_right_side() -> None:
    assert unwind_limit(MARK, 1) == MARK * (1 + UNWIND_BAND)
    assert unwind_limit(MARK, -1) == MARK * (1 - UNWIND_BAND)
    assert Decimal("0.05") > UNWIND_BAND, "inside BACKSTOP_PRICE_BAND_BPS"


def test_a_book_the_venue_can_take_closes_in_one_slice() -> None:
    size = unwind_slice(Decimal(3), STEP, impact(Decimal(1000), -1), unwind_limit(MARK, -1), -1)
    assert size == Decimal(3)


def test_a_large_book_is_halved_until_its_price_fits_the_band() -> None:
    # At depth 100, selling 10 costs 5% (outside 4.5%); 5 costs 2.5%.
    size = unwind_slice(Decimal(10), STEP, impact(Decimal(100), -1), unwind_limit(MARK, -1), -1)
    assert size == Decimal(5)
    buy = unwind_slice(Decimal(40), STEP, impact(Decimal(100), 1), unwind_limit(MARK, 1), 1)
    assert buy == Decimal(5), "40 -> 20 -> 10 -> 5"
    assert buy % STEP == 0


def test_nothing_when_even_one_step_is_outside_the_band() -> None:
    size = unwind_slice(Decimal(1), STEP, lambda q: MARK * Decimal("0.9"), unwind_limit(MARK, -1), -1)
    assert size == 0

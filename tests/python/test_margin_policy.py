"""The venue margin policy, pure: floor, target and ceiling over a venue's requirement, the gross legs of a netted
book, and the requirement they make."""

from __future__ import annotations

from decimal import Decimal

import pytest

from keeper.risk.margin import MarginPolicy, gross_legs, slot_exposure, venue_requirement

POLICY = MarginPolicy(floor=3, target=5, ceiling=8, minimum=1_000)


@pytest.mark.parametrize(
    ("need", "net", "pending", "move"),
    [
        (1_000, 2_000, 0, 3_000),  # below the floor (3,000): up to the target (5,000)
        (1_000, 3_000, 0, 0),  # at the floor: nothing
        (1_000, 8_000, 0, 0),  # at the ceiling: nothing
        (1_000, 9_000, 0, -4_000),  # above the ceiling: down to the target
        (1_000, 7_000, 2_000, -2_000),  # a pending withdrawal counts against the ceiling...
        (1_000, 2_500, 9_000, 2_500),  # ...never toward the floor
        (0, 500, 0, 500),  # no positions: the minimum stays
        (0, 2_500, 0, -1_500),  # and twice the minimum is the ceiling
    ],
)
def test_the_policy_moves_margin_between_floor_and_ceiling(need: int, net: int, pending: int, move: int) -> None:
    assert POLICY.move(need, net, pending) == move


def test_gross_legs_add_every_clients_size_per_slot() -> None:
    assert gross_legs([(4, 10), (4, -7), (5, 3), (4, -1)]) == {4: 18, 5: 3}


def test_a_netted_pair_is_margined_for_its_legs_once_they_are_known() -> None:
    assert slot_exposure(net=1, legs=None, book=0) == 1, "no scan yet: the netted book"
    assert slot_exposure(net=1, legs=19, book=-2) == 21, "the legs and the backstop's book"
    assert slot_exposure(net=-5, legs=3, book=0) == 5, "never less than what the venue margins"


def test_the_requirement_is_the_initial_margin_of_the_exposures_rounded_up() -> None:
    # 2 BTC at 60,000 and 5% = 6,000; 0.000001 ETH at 3,000 and 10% = 0.0003 -> 6,000.0003 USDC, rounded up.
    exposures = [2 * 10**18, 10**12]
    need = venue_requirement(exposures, [Decimal(60_000), Decimal(3_000)], [50_000, 100_000], 6)
    assert need == 6_000_000_300
    assert venue_requirement([10**12 + 1], [Decimal(1)], [1], 6) == 1, "any dust rounds up to a unit"

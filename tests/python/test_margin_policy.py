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


USDC = 10**6
# As the margin job builds it: hysteresis at the minimum and no move under a tenth of the target.
JOB_POLICY = MarginPolicy(
    floor=3, target=5, ceiling=8, minimum=50_000 * USDC, band_over_minimum=True, min_move_share=0.1
)


def deposits_through(policy: MarginPolicy, need: int, net: int, losses: list[int]) -> list[int]:
    """The deposits the policy makes at a venue holding `net` as it loses `losses` one after another."""
    moves = []
    for loss in [0, *losses]:
        net -= loss
        move = policy.move(need, net, 0)
        if move:
            moves.append(move)
            net += move
    return moves


def test_a_venue_at_the_minimum_is_not_topped_up_after_every_small_loss() -> None:
    """At `margin_minimum` (the positions needing far less), each small loss made another ~50k-gas deposit: 500,
    300, 150, 150, then 15.53 USDC. Topped up to the target's share above the minimum, the losses fit in the band."""
    losses = [500 * USDC, 300 * USDC, 150 * USDC, 150 * USDC, 15_530_000]
    need = 1_000 * USDC  # x3 = 3,000: the minimum binds
    plain = MarginPolicy(floor=3, target=5, ceiling=8, minimum=50_000 * USDC)
    assert deposits_through(plain, need, 50_000 * USDC, losses) == losses, "the old rule: a deposit a loss"
    # Floor, target and ceiling keep their 3 : 5 : 8 over the minimum (the requirement whose floor it is).
    assert JOB_POLICY.levels(need) == (50_000 * USDC, 83_333_333_334, 133_333_333_334)
    assert deposits_through(JOB_POLICY, need, 50_000 * USDC, losses) == [33_833_333_334], "one deposit, to the target"
    assert JOB_POLICY.move(need, 83_333 * USDC, 0) == 0
    assert JOB_POLICY.move(need, 133_333_333_335, 0) == -50_000_000_001, "above the ceiling: back to the target"
    # Positions large enough that the minimum does not bind: the multiples of the requirement, as before.
    levels = (300_000 * USDC, 500_000 * USDC, 800_000 * USDC)
    assert JOB_POLICY.levels(100_000 * USDC) == plain.levels(100_000 * USDC) == levels


@pytest.mark.parametrize(
    ("policy", "need", "net", "move"),
    [
        # Floor and target equal: no hysteresis of their own, so a top-up under a tenth of the target waits...
        (MarginPolicy(3, 3, 8, 0, min_move_share=0.1), 10_000, 29_990, 0),
        (MarginPolicy(3, 3, 8, 0, min_move_share=0.1), 10_000, 27_000, 3_000),
        # ...unless the venue holds less than its requirement: then any deposit goes.
        (MarginPolicy(1, 1, 2, 0, min_move_share=0.1), 10_000, 9_990, 10),
        # A withdrawal under a tenth of the target waits; a larger one goes, down to the target.
        (MarginPolicy(3, 5, 5.1, 0, min_move_share=0.1), 1_000, 5_200, 0),
        (MarginPolicy(3, 5, 5.1, 0, min_move_share=0.1), 1_000, 5_600, -600),
        # Without a share, every move goes (the rule's default).
        (MarginPolicy(3, 3, 8, 0), 10_000, 29_990, 10),
    ],
)
def test_no_move_smaller_than_the_configured_share_of_the_target_unless_the_venue_is_short(
    policy: MarginPolicy, need: int, net: int, move: int
) -> None:
    assert policy.move(need, net, 0) == move

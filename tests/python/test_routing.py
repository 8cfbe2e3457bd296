"""The router's exact optimum (KKT conditions), and that a routed order never costs more than one venue."""

from __future__ import annotations

import dataclasses
import random
from decimal import Decimal

import numpy as np
import pytest

from keeper.exceptions import InputError, NotEnoughLiquidityError
from keeper.routing import VenueCostModel, optimal_continuous, reduce_only_split, reducible, route

STEP = Decimal("0.0001")
DYDX = VenueCostModel("dydx", 1e-4, 5e-4, 2000.0, 0.0, STEP)
RABBIT = VenueCostModel("rabbitx", 0.5e-4, 7e-4, 1000.0, 0.0, STEP)
# The local venues' ETH-USD, without and with the largest sell each fills at a price above zero.
DYDX_ETH = VenueCostModel("dydx", 1.5e-4, 5e-4, 20_000.0, 0.0, Decimal("0.001"))
RABBIT_ETH = VenueCostModel("rabbitx", 0.8e-4, 7e-4, 10_000.0, 0.0, Decimal("0.001"))


def test_optimum_satisfies_kkt_on_random_problems() -> None:
    rng = np.random.default_rng(4)
    for _ in range(2000):
        n = int(rng.integers(1, 6))
        a = rng.uniform(0, 1e-2, n)
        b = rng.uniform(1e-6, 1e-2, n)
        total = float(rng.uniform(0.01, 5000))
        q = optimal_continuous(total, a, b)
        assert q.sum() == pytest.approx(total, rel=1e-9)
        assert (q >= 0).all()
        marginal = a + 2 * b * q
        active = q > 1e-12
        lam = marginal[active].max()
        # Every venue in use has the same marginal cost; every venue left out costs more at its first unit.
        np.testing.assert_allclose(marginal[active], lam, rtol=1e-9, atol=1e-15)
        assert (a[~active] >= lam - 1e-12).all()


def test_small_orders_use_one_venue_and_large_orders_split() -> None:
    small = route(Decimal("0.01"), 1, [DYDX, RABBIT])
    assert small.sizes == (Decimal("0.01"), Decimal(0)), "dydx's 6 bp beats rabbitx's 7.5 bp at the first unit"
    large = route(Decimal("50"), 1, [DYDX, RABBIT])
    assert all(s > 0 for s in large.sizes)
    assert sum(large.sizes) == Decimal("50")
    assert large.cost < large.best_single_cost


def test_never_worse_than_the_better_single_venue() -> None:
    rng = random.Random(11)
    for _ in range(500):
        size = Decimal(rng.randrange(1, 2_000_000)) * STEP
        side = rng.choice((1, -1))
        split = route(size, side, [DYDX, RABBIT], horizon_seconds=rng.uniform(0, 86_400))
        assert sum(split.sizes) == size
        assert all(s % STEP == 0 for s in split.sizes)
        assert split.cost <= split.best_single_cost + 1e-15


def test_funding_over_the_horizon_moves_the_split() -> None:
    expensive_funding = VenueCostModel("rabbitx", 0.5e-4, 7e-4, 1000.0, 1e-8, STEP)
    without = route(Decimal(10), 1, [DYDX, expensive_funding], horizon_seconds=0)
    with_funding = route(Decimal(10), 1, [DYDX, expensive_funding], horizon_seconds=7 * 86_400)
    assert with_funding.sizes[1] < without.sizes[1], "longs avoid the venue where longs pay funding"
    shorts = route(Decimal(10), -1, [DYDX, expensive_funding], horizon_seconds=7 * 86_400)
    assert shorts.sizes[1] > without.sizes[1], "shorts are paid there, so they lean into it"


def test_sizes_off_every_step_are_refused() -> None:
    with pytest.raises(InputError, match="not a multiple of the venues' steps"):
        route(Decimal("1.00005"), 1, [DYDX, RABBIT])
    with pytest.raises(InputError, match="must be positive"):
        route(Decimal(0), 1, [DYDX, RABBIT])


def test_capped_optimum_satisfies_kkt_on_random_problems() -> None:
    """With upper bounds (a sell's size past which a venue's price reaches zero): each share within its bound, venues
    below their bound at one common marginal cost, venues at it no dearer, venues left out no cheaper."""
    rng = np.random.default_rng(7)
    for _ in range(2000):
        n = int(rng.integers(1, 6))
        a = rng.uniform(0, 1e-2, n)
        b = rng.uniform(1e-6, 1e-2, n)
        caps = np.where(rng.random(n) < 0.7, rng.uniform(0.5, 2000, n), np.inf)
        total = float(rng.uniform(0.01, min(5000.0, caps.sum() * 0.999)))
        q = optimal_continuous(total, a, b, caps)
        assert q.sum() == pytest.approx(total, rel=1e-9)
        assert (q >= 0).all() and (q <= caps * (1 + 1e-12)).all()
        marginal = a + 2 * b * q
        free = (q > 1e-9) & (q < caps * (1 - 1e-9))
        full = q >= caps * (1 - 1e-9)
        if free.any():
            lam = marginal[free].max()
            np.testing.assert_allclose(marginal[free], lam, rtol=1e-7, atol=1e-12)
            assert (marginal[full] <= lam + 1e-9).all()
            assert (a[q <= 1e-9] >= lam - 1e-9).all()


def test_a_sell_is_never_routed_past_where_a_venues_price_reaches_zero() -> None:
    """Past `max_sell` a venue would give the position away, and the quadratic model, whose cost keeps growing, no
    longer describes it: the router routed a huge sell over both venues at a model cost above either's real one."""
    dydx = dataclasses.replace(DYDX_ETH, max_sell=Decimal("39993.999"))
    rabbitx = dataclasses.replace(RABBIT_ETH, max_sell=Decimal("19998.399"))
    split = route(Decimal(50_000), -1, [dydx, rabbitx])
    assert sum(split.sizes) == 50_000
    assert split.sizes[0] <= Decimal("39993.999") and split.sizes[1] <= Decimal("19998.399")
    assert split.best_single_cost == float("inf"), "no venue takes it alone"
    assert route(Decimal(1_000), -1, [dydx, rabbitx]).sizes == route(Decimal(1_000), -1, [DYDX_ETH, RABBIT_ETH]).sizes
    assert route(Decimal(10**8), 1, [dydx, rabbitx]).cost > 0, "a buy has no such bound"
    with pytest.raises(NotEnoughLiquidityError, match=r"sell 100000000: the venues fill at most dydx 39993\.999"):
        route(Decimal(10**8), -1, [dydx, rabbitx])


def test_a_reduce_only_order_goes_where_the_positions_it_reduces_are() -> None:
    """Each child at most the position on the order's other side at its venue, rounded up onto the venue's step (the
    contract refuses more), the largest first; what the positions cannot take stays in the first child, for the
    contract to refuse by name."""
    d, step = Decimal, Decimal("0.001")
    assert reduce_only_split(d(-3), [(2, d(1), step), (3, d(4), step)]) == [(3, d(3))]
    assert reduce_only_split(d(-3), [(2, d(1), step), (3, d(2), step)]) == [(3, d(2)), (2, d(1))]
    assert reduce_only_split(d(2), [(2, d(-0.5), step), (3, d(4), step)]) == [(2, d(2))], "a buy reduces the short"
    assert reduce_only_split(d(-5), [(2, d(1), step), (3, d(2), step)]) == [(3, d(4)), (2, d(1))]
    assert reduce_only_split(d(-1), [(2, d(0), step), (3, d(-1), step)]) == [(2, d(1))], "nothing to reduce"
    # A position off the step (a liquidation's dust) closes with the step rounded up; the leftover goes where there
    # is room, the whole of it to the first child only when no venue has any.
    dust = [(2, d(1), step), (3, d("0.0004"), step)]
    assert reduce_only_split(d("-1.001"), dust) == [(2, d(1)), (3, step)]
    assert reducible(d("0.0004"), step, d(-1)) == step and reducible(d("0.0004"), step, d(1)) == 0

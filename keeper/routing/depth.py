"""The router over the depth model: the split of one order across venues that each fill along a size-linear book.

Pure computation, no I/O. Each venue fills a market order of absolute size q (base units) at an average
price of mark x (1 + h + q / 2D) (half-spread h, depth D: a size-linear book) and charges a taker fee f on
the notional, and a position held for H seconds pays funding at rate r per second (longs pay when r > 0).
In units of the mark, the cost of q at one venue is therefore

    C(q) = a q + b q^2,   a = h + f (1 + s h) + s r H,   b = (1 + s f) / 2D,   s = +1 buy, -1 sell

(a sell's fee is charged on a notional below the mark, hence the signs)

a convex quadratic. Minimising sum C_v(q_v) subject to sum q_v = Q, q_v >= 0 has the exact solution
q_v = max(0, (lambda - a_v) / 2 b_v) where lambda is the common marginal cost: the breakpoints are the a_v,
so sorting them gives lambda in closed form. A sell is also bounded by the size past which a venue's price would
reach zero (`VenueCostModel.max_sell`): q_v <= cap_v clips each share and adds a breakpoint per venue. The
continuous split is then put on each venue's size step; the router returns it only if it costs no more than the
best single venue, which it then also reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from keeper.exceptions import InputError, NotEnoughLiquidityError


@dataclass(frozen=True)
class VenueCostModel:
    """One venue's cost parameters for one market, as fractions of the mark and base units."""

    name: str
    half_spread: float
    taker_fee: float
    depth: float  # base units at which marginal impact reaches 100%
    funding_rate_per_second: float  # positive: longs pay
    step: Decimal  # size increment, base units
    # The largest sell it fills at a price above zero, base units, on the step (None: no limit): past it the
    # size-linear book's price reaches zero, where the venue would give the position away and this model, whose
    # cost keeps growing, no longer says what it costs.
    max_sell: Decimal | None = None

    def capacity(self, side: int) -> Decimal | None:
        """The most this venue takes of one order on `side` (None: no limit)."""
        return self.max_sell if side < 0 else None

    def linear(self, side: int, horizon_seconds: float) -> float:
        return (
            self.half_spread
            + self.taker_fee * (1 + side * self.half_spread)
            + side * self.funding_rate_per_second * horizon_seconds
        )

    def quadratic(self, side: int) -> float:
        return (1 + side * self.taker_fee) / (2 * self.depth)

    def cost(self, size: float, side: int, horizon_seconds: float) -> float:
        """Expected cost of `size` here, as a fraction of the mark times base units (multiply by the mark)."""
        return self.linear(side, horizon_seconds) * size + self.quadratic(side) * size * size


@dataclass(frozen=True)
class Split:
    sizes: tuple[Decimal, ...]  # per venue, same order as the models, absolute base units
    cost: float  # in units of the mark (x mark = USD)
    best_single_venue: int
    best_single_cost: float


def optimal_continuous(
    total: float, a: Sequence[float], b: Sequence[float], caps: Sequence[float] | None = None
) -> npt.NDArray[np.float64]:
    """Exact minimiser of sum(a_v q_v + b_v q_v^2) with sum q_v = total, 0 <= q_v <= caps_v (no upper bound where
    `caps` is None or infinite; `total` must not exceed the caps' sum)."""
    a_arr, b_arr = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if caps is not None and np.isfinite(np.asarray(caps, dtype=float)).any():
        return _capped(total, a_arr, b_arr, np.asarray(caps, dtype=float))
    order = np.argsort(a_arr)
    a_sorted, inv_2b = a_arr[order], 1.0 / (2.0 * b_arr[order])
    # With the k cheapest venues active: lambda_k = (total + sum a/2b) / sum 1/2b over those k.
    cum_inv = np.cumsum(inv_2b)
    lambdas = (total + np.cumsum(a_sorted * inv_2b)) / cum_inv
    # The right k is the largest whose lambda exceeds the k-th breakpoint (venue k is worth using).
    # None at all: an order so small that float rounding loses it beside the cheapest venue's cost (1 wei of base),
    # which then takes it whole.
    worth = np.nonzero(lambdas > a_sorted)[0]
    k = int(worth.max()) if total > 0 and worth.size else 0
    lam = lambdas[k]
    q_sorted = np.maximum(0.0, (lam - a_sorted) * inv_2b)
    q: npt.NDArray[np.float64] = np.empty_like(q_sorted)
    q[order] = q_sorted
    return q


def _capped(
    total: float, a: npt.NDArray[np.float64], b: npt.NDArray[np.float64], caps: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """`optimal_continuous` with upper bounds. Each venue's share at a common marginal cost lambda is
    clip((lambda - a_v) / 2b_v, 0, cap_v), and their sum is piecewise linear and increasing in lambda, with
    breakpoints where a venue starts (a_v) and where it is full (a_v + 2 b_v cap_v): the segment that holds `total`
    gives lambda in closed form."""
    inv_2b = 1.0 / (2.0 * b)
    full = a + caps / inv_2b  # infinite for a venue without a cap

    def shares(lam: float) -> npt.NDArray[np.float64]:
        q: npt.NDArray[np.float64] = np.clip((lam - a) * inv_2b, 0.0, caps)
        return q

    points = np.unique(np.concatenate([a, full[np.isfinite(full)]]))
    sums = np.array([shares(p).sum() for p in points])
    k = int(np.searchsorted(sums, total, side="right")) - 1
    if k < 0:
        return np.zeros_like(a)
    lam0 = points[k]
    slope = inv_2b[(a <= lam0) & (full > lam0)].sum()
    if slope == 0:
        return shares(lam0)  # every venue full: `total` is at (or beyond) what they take together
    return shares(lam0 + (total - sums[k]) / slope)


def route(total: Decimal, side: int, venues: Sequence[VenueCostModel], horizon_seconds: float = 0.0) -> Split:
    """The cheapest split of an order of `total` base units (side +1 buy, -1 sell) across `venues`, each taking at
    most its capacity on that side; `NotEnoughLiquidityError` when they cannot take it together."""
    if total <= 0:
        raise InputError("order size must be positive")
    caps = [v.capacity(side) for v in venues]
    if all(cap is not None for cap in caps) and sum(cap for cap in caps if cap is not None) < total:
        most = ", ".join(f"{v.name} {cap.normalize():f}" for v, cap in zip(venues, caps, strict=True) if cap)
        raise NotEnoughLiquidityError(
            f"not enough liquidity to sell {total.normalize():f}: the venues fill at most {most} of a sell at a price "
            "above zero; sell less"
        )
    a = [v.linear(side, horizon_seconds) for v in venues]
    b = [v.quadratic(side) for v in venues]
    bounds = [float("inf") if cap is None else float(cap) for cap in caps]
    continuous = optimal_continuous(float(total), a, b, bounds)
    sizes = _on_steps(total, continuous, venues, a, b, caps)
    cost = sum(v.cost(float(q), side, horizon_seconds) for v, q in zip(venues, sizes, strict=True))
    singles = [
        v.cost(float(total), side, horizon_seconds)
        if total % v.step == 0 and (cap is None or total <= cap)
        else float("inf")
        for v, cap in zip(venues, caps, strict=True)
    ]
    best = int(np.argmin(singles))
    if singles[best] < cost:
        sizes = tuple(total if i == best else Decimal(0) for i in range(len(venues)))
        cost = singles[best]
    return Split(sizes, cost, best, singles[best])


def _on_steps(
    total: Decimal,
    continuous: npt.NDArray[np.float64],
    venues: Sequence[VenueCostModel],
    a: Sequence[float],
    b: Sequence[float],
    caps: Sequence[Decimal | None],
) -> tuple[Decimal, ...]:
    """Rounds each venue's share down to its step (and within its capacity), then gives the remainder, one step at
    a time, to the venue with the lowest marginal cost at its current size that has room for it."""
    sizes = [Decimal(str(q)).quantize(v.step, rounding="ROUND_FLOOR") for q, v in zip(continuous, venues, strict=True)]
    sizes = [max(min(s, cap if cap is not None else s), Decimal(0)) for s, cap in zip(sizes, caps, strict=True)]
    remainder = total - sum(sizes)

    def has_room(i: int) -> bool:
        cap = caps[i]
        return venues[i].step <= remainder and (cap is None or sizes[i] + venues[i].step <= cap)

    while remainder > 0:
        candidates = [i for i in range(len(venues)) if has_room(i)]
        if not candidates:
            steps = ", ".join(f"{v.name} {v.step.normalize():f}" for v in venues)
            raise InputError(f"size {total.normalize():f} is not a multiple of the venues' steps ({steps})")
        i = min(candidates, key=lambda j: a[j] + 2 * b[j] * float(sizes[j]))
        sizes[i] += venues[i].step
        remainder -= venues[i].step
    return tuple(sizes)

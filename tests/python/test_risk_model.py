"""The keeper's pure risk computations against an independent model written from `docs/risk.md` and the README alone
(nothing from `keeper/risk` is imported into the model): haircut proposals, the venue margin policy, the backstop
unwind's slices, borrowing and withdrawal capacity, and stress prices. Each comparison runs on seeded random inputs;
the model is plain Python (Fractions where the document states exact arithmetic)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from decimal import Decimal
from fractions import Fraction
from statistics import NormalDist

import numpy as np

from keeper.risk import backstop, band, capacity, haircuts, margin, stress
from keeper.risk.health import PerpArrays, RiskParameters

CASES = 10_000
Z99 = NormalDist().inv_cdf(0.99)

# ---------------------------------------------------------------------------------------------------- the model


def model_haircut(
    timestamps: Sequence[int],
    prices: Sequence[float],
    current: tuple[int, int],
    bounds: tuple[int, int, int, int, int],
    now: int,
    addon: int,
    penalty: int,
) -> tuple[float, float, int, int, int, int, bool]:
    """docs/risk.md, "Haircuts from volatility": (ewma, window, target_i, target_m, next_i, next_m, allowed)."""
    low, high, max_step, min_interval, last = bounds
    r = [math.log(prices[i] / prices[i - 1]) for i in range(1, len(prices))]
    n = len(r)
    k = math.sqrt(86_400 / max((timestamps[-1] - timestamps[0]) / n, 1)) if n else 0.0
    weights = [0.94 ** (n - 1 - i) for i in range(n)]
    ewma = k * math.sqrt(sum(w * x * x for w, x in zip(weights, r, strict=True)) / sum(weights)) if n else 0.0
    tail = r[-30:]
    window = k * math.sqrt(sum(x * x for x in tail) / len(tail)) if tail else 0.0
    initial, maintenance = current
    if n < 5:
        target_i, target_m = initial, maintenance
    else:
        target_m = math.ceil(Z99 * ewma * 10_000) + addon
        target_i = math.ceil(Z99 * ewma * math.sqrt(3) * 10_000) + addon

    def step(now_bps: int, target: int) -> int:
        aim = min(max(target, low), high)
        return now_bps + max(-max_step, min(max_step, aim - now_bps))

    next_m = max(step(maintenance, target_m), penalty)
    next_i = max(step(initial, target_i), next_m)
    if not (low <= next_m <= high and low <= next_i <= high):
        next_i, next_m = initial, maintenance  # no update the vault accepts exists
    allowed = last == 0 or now >= last + min_interval
    return ewma, window, target_i, target_m, next_i, next_m, allowed


def model_margin_move(multiples: tuple[str, str, str], minimum: int, need: int, net: int, pending: int) -> int:
    """docs/risk.md, "Margin at a seat": exact multiples of the requirement, each rounded up."""
    floor, target, ceiling = (math.ceil(need * Fraction(m)) for m in multiples)
    floor, target, ceiling = max(floor, minimum), max(target, minimum), max(ceiling, 2 * minimum)
    if net < floor:
        return target - net
    if net + pending > ceiling and net > target:
        return target - net
    return 0


def model_slices(
    books: Sequence[Decimal], step: Decimal, depth: Decimal, mark: Decimal
) -> list[tuple[Decimal, Decimal]]:
    """README and docs/risk.md: each run's (slice, limit) for a slot whose book stood at `books[j]` at run j."""
    peak = Decimal(0)
    out = []
    for book in books:
        peak = max(peak, abs(book))
        side = 1 if book < 0 else -1
        band = mark * (1 + side * Decimal("0.045"))
        limit = Decimal(math.floor(band * 10**18) if side > 0 else math.ceil(band * 10**18)) / 10**18
        cap = max(Decimal(math.ceil(Fraction(peak) / 5 / Fraction(step))) * step, step)
        size = min(abs(book), cap)
        while size >= step:
            price = venue_price(mark, depth, side)(size)
            if (price <= limit) if side > 0 else (price >= limit):
                break
            size = Decimal(math.floor(Fraction(size) / 2 / Fraction(step))) * step
        out.append((size if size >= step else Decimal(0), limit))
    return out


def model_withdrawable(balance: int, price: int, scale: int, haircut: int, free: int) -> int:
    """docs/risk.md, Health: the largest amount whose loss of `value - ceil(value x haircut)` is at most `free`,
    in closed form (the least value to keep, then the least amount that is worth it)."""
    value = balance * price // 10**scale
    kept_free = value - -(-value * haircut // 10_000)  # = floor(value x (1 - haircut)) for the vault's rounding
    need = kept_free - free
    if need <= 0:
        return balance
    least_value = -(-need * 10_000 // (10_000 - haircut))
    least_keep = -(-least_value * 10**scale // price)
    return max(balance - least_keep, 0)


# ------------------------------------------------------------------------------------------------ the comparisons


def random_history(rng: random.Random) -> tuple[list[int], list[float]]:
    n = rng.randrange(1, 80)
    t, p = rng.randrange(0, 10**9), rng.uniform(0.5, 90_000)
    interval, vol = rng.choice([60, 3_600, 86_400, 7]), rng.uniform(0.0005, 0.08)
    timestamps, prices = [t], [p]
    for _ in range(n - 1):
        t += max(1, int(rng.uniform(0.2, 1.8) * interval)) if rng.random() < 0.95 else 0
        p *= math.exp(rng.gauss(0, vol))
        timestamps.append(t)
        prices.append(p)
    return timestamps, prices


def test_haircut_proposals_agree_with_the_model() -> None:
    rng = random.Random(20261205)
    moved = refused = 0
    for _ in range(CASES):
        timestamps, prices = random_history(rng)
        low = rng.randrange(0, 6_000)
        high = rng.randrange(low, 9_999)
        maintenance = rng.randrange(max(low - 1_500, 0), min(high + 1_500, 9_999))
        initial = rng.randrange(maintenance, min(maintenance + 3_000, 10_000))
        penalty = rng.randrange(0, maintenance + 1)
        step, interval = rng.randrange(1, 2_000), rng.randrange(0, 7_200)
        last = rng.choice([0, rng.randrange(1, 10**9)])
        now = last + rng.randrange(-100, 10_000)
        addon = rng.randrange(0, 500)
        expected = model_haircut(
            timestamps, prices, (initial, maintenance), (low, high, step, interval, last), now, addon, penalty
        )
        got = haircuts.propose(
            "X",
            timestamps,
            prices,
            (initial, maintenance),
            haircuts.Bounds(low, high, step, interval, last),
            now,
            addon,
            penalty_bps=penalty,
        )
        assert math.isclose(got.ewma_daily_vol, expected[0], rel_tol=1e-9, abs_tol=1e-15)
        assert math.isclose(got.window_daily_vol, expected[1], rel_tol=1e-9, abs_tol=1e-15)
        assert (got.target_initial_bps, got.target_maintenance_bps) == expected[2:4]
        assert (got.next_initial_bps, got.next_maintenance_bps, got.allowed_now) == expected[4:]
        moved += got.changes
        refused += (got.next_initial_bps, got.next_maintenance_bps) == (initial, maintenance) and not (
            low <= initial <= high and low <= maintenance <= high
        )
        # What the vault's `updateHaircuts` checks: bounds, step, order and the penalty.
        for now_bps, to in ((initial, got.next_initial_bps), (maintenance, got.next_maintenance_bps)):
            assert to == now_bps or (low <= to <= high and abs(to - now_bps) <= step)
        assert penalty <= got.next_maintenance_bps <= got.next_initial_bps < 10_000
    assert moved > CASES // 4 and refused > 0, "the sample moves haircuts and meets bounds out of reach"


def test_the_documents_haircut_example() -> None:
    """docs/risk.md: WETH (add-on 200) at 20% / 15% within [10%, 50%], 5% a step: at sigma = 5% a day the targets are
    reached at once, at sigma = 3% maintenance stops at the minimum and both move one step."""
    bounds = haircuts.Bounds(1_000, 5_000, 500, 3_600, 0)
    for sigma, targets, moved in [(0.05, (2_215, 1_364), (2_215, 1_364)), (0.03, (1_409, 898), (1_500, 1_000))]:
        # Hourly prices whose returns are all +-sigma / sqrt(24): the EWMA and window estimates are sigma exactly.
        move = sigma / math.sqrt(24)
        prices = [3_000 * math.exp(move * (j % 2)) for j in range(49)]
        got = haircuts.propose(
            "WETH", [3_600 * j for j in range(49)], prices, (2_000, 1_500), bounds, 0, 200, penalty_bps=500
        )
        assert math.isclose(got.ewma_daily_vol, sigma) and math.isclose(got.window_daily_vol, sigma)
        assert (got.target_initial_bps, got.target_maintenance_bps) == targets
        assert (got.next_initial_bps, got.next_maintenance_bps) == moved


def test_margin_moves_agree_with_the_model() -> None:
    rng = random.Random(7)
    for _ in range(CASES):
        floor = rng.choice(["1", "1.1", "1.25", "2.9", "3"])
        target = rng.choice([floor, "3.3", "5", "5.05"])
        ceiling = rng.choice([target, "7.7", "8", "10.01"])
        multiples = (floor, target, ceiling)
        minimum = rng.choice([0, 1, 50_000 * 10**6])
        need = rng.choice([rng.randrange(0, 10**6), rng.randrange(0, 10**14), rng.randrange(0, 10**18)])
        net = rng.randrange(0, 12 * need + 3 * minimum + 2)
        pending = rng.choice([0, rng.randrange(0, need + minimum + 1)])
        policy = margin.MarginPolicy(*(float(m) for m in multiples), minimum)
        assert policy.move(need, net, pending) == model_margin_move(multiples, minimum, need, net, pending), (
            multiples,
            minimum,
            need,
            net,
            pending,
        )


def test_backstop_slices_agree_with_the_model() -> None:
    """Runs of the unwind on one slot, as `BackstopUnwinder.plan` makes them (the cap from the largest book since the
    unwind began), against the model over the same books; between runs a late fill may grow the book."""
    rng = random.Random(3)
    runs = 0
    for _ in range(CASES // 4):
        step = Decimal(rng.choice(["0.001", "0.01", "1", "0.0001"]))
        mark = Decimal(rng.randrange(1, 10**8)) / 100
        depth = Decimal(rng.randrange(1, 10**6)) * step
        book = Decimal(rng.randrange(1, 10**5)) * step * rng.choice([1, -1])
        books: list[Decimal] = []
        got = []
        while book and len(books) < 40:
            books.append(book)
            side = 1 if book < 0 else -1
            limit = band.band_limit(mark, side)
            cap = backstop.slice_cap(max(abs(b) for b in books), step)
            size = backstop.unwind_slice(book, step, venue_price(mark, depth, side), limit, side, cap)
            got.append((size, limit))
            book += side * size if size else -side * step * rng.randrange(0, 3)
        assert got == model_slices(books, step, depth, mark)
        runs += len(books)
    assert runs > CASES


def venue_price(mark: Decimal, depth: Decimal, side: int) -> Callable[[Decimal], Decimal]:
    """A venue filling at mark ± size / (2 · depth), as the local venues do."""
    return lambda size: mark * (1 + side * size / (2 * depth))


def test_capacity_agrees_with_the_model() -> None:
    rng = random.Random(11)
    for _ in range(CASES):
        holding = capacity.CollateralHolding(
            balance=rng.randrange(0, 10**24),
            price=rng.randrange(1, 10**14),
            scale_exponent=rng.choice([10, 20, 22, 26]),
            initial_haircut_bps=rng.randrange(0, 10_000),
        )
        equity = rng.randrange(-(10**12), 10**13)
        requirement = rng.randrange(0, 10**13)
        liquidity = rng.randrange(0, 10**13)
        free = max(equity - requirement, 0)
        base, dust = rng.randrange(-(10**12), 10**12), rng.choice([0, 100 * 10**6, 10**12])
        most = min(free, liquidity)
        # The largest amount the vault takes: none that leaves 0 < debt < minBorrow (BorrowTooSmall).
        unit = capacity.Indices(capacity.INDEX_SCALE, capacity.INDEX_SCALE)  # indices at 1: nothing lost to rounding
        assert capacity.borrowable(equity, requirement, liquidity, base, dust, unit) == (
            most if not 0 < most - base < dust else min(most, max(base, 0))
        )
        assert capacity.withdrawable_collateral(holding, free, checked=True) == model_withdrawable(
            holding.balance, holding.price, holding.scale_exponent, holding.initial_haircut_bps, free
        )
        assert capacity.withdrawable_base(base, free, True, liquidity, unit) == max(min(base, free, liquidity), 0)
        assert capacity.withdrawable_base(base, free, False, liquidity, unit) == max(min(base, liquidity), 0)


def model_shortfall(
    base: Sequence[int], balances: Sequence[Sequence[int]], prices: Sequence[int], penalties: Sequence[int]
) -> tuple[int, int]:
    """docs/risk.md, Stress, for accounts without positions at the shocked prices: (liquidatable, shortfall) with
    the WETH/WBTC scales and 15% maintenance of `STRESS_PARAMS`."""
    liquidatable = shortfall = 0
    for b, held in zip(base, balances, strict=True):
        values = [a * p // 10**scale for a, p, scale in zip(held, prices, STRESS_SCALES, strict=True)]
        maintenance = sum(-(-v * 1_500 // 10_000) for v in values)
        if b < 0 and sum(values) + b < maintenance:
            liquidatable += 1
            credit = sum(v * (10_000 - pen) // 10_000 for v, pen in zip(values, penalties, strict=True))
            shortfall += max(-(credit + b), 0)
    return liquidatable, shortfall


STRESS_SCALES = [20, 10]
STRESS_PARAMS = RiskParameters([3_000 * 10**8, 60_000 * 10**8], STRESS_SCALES, [2_000, 2_000], [1_500, 1_500])


def test_stress_agrees_with_the_model() -> None:
    rng = random.Random(5)
    for _ in range(CASES):
        price, mark = rng.randrange(1, 10**13), rng.randrange(1, 10**24)
        percent = Decimal(rng.randrange(-9_999, 10_000)) / 100
        params = RiskParameters([price], [20], [2_000], [1_500], [mark], [1_000], [500], [0] * 4)
        moved = stress.shocked(params, ["ETH"], ["ETH"], stress.parse_shocks(f"ETH={percent}%"))
        factor = 1 + Fraction(percent) / 100
        assert (moved.prices, moved.perp_marks) == ([math.floor(price * factor)], [math.floor(mark * factor)])
    for _ in range(40):
        n = 200
        base = [rng.randrange(-400_000 * 10**6, 10_000 * 10**6) for _ in range(n)]
        balances = [[rng.randrange(0, 100 * 10**18), rng.randrange(0, 5 * 10**8)] for _ in range(n)]
        shocks = f"ETH={rng.randrange(-90, 30)}%,BTC={rng.randrange(-90, 30)}%"
        after = stress.shocked(STRESS_PARAMS, ["ETH", "BTC"], [], stress.parse_shocks(shocks))
        penalties = [rng.randrange(0, 1_500), rng.randrange(0, 1_500)]
        result = stress.stress(
            np.array(base, dtype=float),
            np.array(balances, dtype=float),
            PerpArrays.empty(n, 0),
            STRESS_PARAMS,
            after,
            penalties,
            0.0,
        )
        liquidatable, shortfall = model_shortfall(base, balances, after.prices, penalties)
        assert result.liquidatable_after == liquidatable
        assert math.isclose(result.shortfall, shortfall, rel_tol=1e-9, abs_tol=n)

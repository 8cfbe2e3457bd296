"""Risk engine: the vectorized health pass against a per-account Python loop, side by side in one run.

Usage: .venv/bin/python bench/risk_engine.py [--sizes 10000,100000,1000000] [--loop-limit 100000]

Both compute the same thing (collateral value, equity, initial and maintenance requirements, liquidatable)
for random portfolios over WETH and WBTC; the loop is what a keeper without numpy writes. Times are the
best of several repeats; the figure to read is the ratio, measured back to back on the same machine.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable

import numpy as np

from keeper.risk.health import RiskParameters, compute_health

PARAMS = RiskParameters(
    prices=[3000 * 10**8, 60_000 * 10**8],
    scale_exponents=[20, 10],
    initial_haircut_bps=[2000, 2000],
    maintenance_haircut_bps=[1500, 1500],
)


def per_account_loop(base: list[float], collateral: list[list[float]]) -> list[bool]:
    unit_prices = [p / 10**e for p, e in zip(PARAMS.prices, PARAMS.scale_exponents, strict=True)]
    result = []
    for b, balances in zip(base, collateral, strict=True):
        value = maintenance = 0.0
        for i, amount in enumerate(balances):
            v = amount * unit_prices[i]
            value += v
            maintenance += v * PARAMS.maintenance_haircut_bps[i] / 10_000
        result.append(b < 0 and value + b < maintenance)
    return result


def best_of(repeats: int, fn: Callable[..., object], *args: object) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--loop-limit", type=int, default=100_000, help="largest size the loop is timed at")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    print(f"{'accounts':>10} {'vectorized ms':>14} {'loop ms':>10} {'speed-up':>9} {'vectorized ns/account':>22}")
    previous: float | None = None
    for n in (int(s) for s in args.sizes.split(",")):
        base = rng.uniform(-50_000e6, 10_000e6, n)
        collateral = np.column_stack([rng.uniform(0, 20e18, n), rng.uniform(0, 1e8, n)])
        vectorized = best_of(5, compute_health, base, collateral, PARAMS)
        loop_text = speedup_text = "-"
        if n <= args.loop_limit:
            base_list, collateral_list = base.tolist(), collateral.tolist()
            expected = per_account_loop(base_list, collateral_list)
            assert expected == compute_health(base, collateral, PARAMS).liquidatable.tolist()
            loop = best_of(3, per_account_loop, base_list, collateral_list)
            loop_text, speedup_text = f"{loop * 1e3:.1f}", f"{loop / vectorized:.0f}x"
        growth = f" (x{vectorized / previous:.1f} for x10 accounts)" if previous else ""
        per_account = vectorized / n * 1e9
        print(f"{n:>10,} {vectorized * 1e3:>14.2f} {loop_text:>10} {speedup_text:>9} {per_account:>22.1f}{growth}")
        previous = vectorized


if __name__ == "__main__":
    main()

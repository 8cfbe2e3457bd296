"""Account health for every account at once (numpy), and exact per-account confirmation (integers).

The vectorized pass screens in float64; any account whose margin is within a relative band of its
threshold is re-checked with integer arithmetic that reproduces the contract's rounding (values round
down, requirements and debt round up), so a decision near the threshold is never a float artefact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

BPS = 10_000
# Relative band around the threshold inside which float results are confirmed exactly. float64 carries
# ~1e-16 relative error per operation; 1e-9 leaves a wide margin for sums over many assets.
SCREEN_BAND = 1e-9

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class RiskParameters:
    """Per-collateral-asset inputs, in `collateralAssets()` order."""

    prices: Sequence[int]
    scale_exponents: Sequence[int]
    initial_haircut_bps: Sequence[int]
    maintenance_haircut_bps: Sequence[int]


@dataclass(frozen=True)
class HealthArrays:
    """Health of n accounts, float64 in base units."""

    collateral_value: FloatArray
    equity: FloatArray
    initial_requirement: FloatArray
    maintenance_requirement: FloatArray
    liquidatable: BoolArray  # screened: equity < maintenance with debt
    near_threshold: BoolArray  # within SCREEN_BAND of the maintenance threshold: confirm exactly


@dataclass(frozen=True)
class ExactHealth:
    collateral_value: int
    equity: int
    initial_requirement: int
    maintenance_requirement: int
    liquidatable: bool


def compute_health(base: FloatArray, collateral: FloatArray, params: RiskParameters) -> HealthArrays:
    """Health of every account: `base` is (n,) signed base balances, `collateral` is (n, m) token balances."""
    unit_prices = np.asarray(params.prices, dtype=np.float64) / np.power(
        10.0, np.asarray(params.scale_exponents, dtype=np.float64)
    )
    # One (n, m) @ (m, 3) product gives value and both requirements for every account.
    weights = np.column_stack(
        [
            unit_prices,
            unit_prices * np.asarray(params.initial_haircut_bps, dtype=np.float64) / BPS,
            unit_prices * np.asarray(params.maintenance_haircut_bps, dtype=np.float64) / BPS,
        ]
    )
    sums = collateral @ weights
    collateral_value, initial, maintenance = sums[:, 0], sums[:, 1], sums[:, 2]
    equity = collateral_value + base
    margin = equity - maintenance
    scale = np.maximum(np.abs(collateral_value) + np.abs(base), 1.0)
    has_debt = base < 0
    return HealthArrays(
        collateral_value=collateral_value,
        equity=equity,
        initial_requirement=initial,
        maintenance_requirement=maintenance,
        liquidatable=has_debt & (margin < 0),
        near_threshold=has_debt & (np.abs(margin) <= SCREEN_BAND * scale + 2.0),
    )


def exact_health(base: int, balances: Sequence[int], params: RiskParameters) -> ExactHealth:
    """One account's health with the contract's integer rounding."""
    value = initial = maintenance = 0
    for i, balance in enumerate(balances):
        if balance == 0:
            continue
        v = balance * params.prices[i] // 10 ** params.scale_exponents[i]
        value += v
        initial += _ceil_div(v * params.initial_haircut_bps[i], BPS)
        maintenance += _ceil_div(v * params.maintenance_haircut_bps[i], BPS)
    equity = value + base
    return ExactHealth(value, equity, initial, maintenance, base < 0 and equity < maintenance)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)

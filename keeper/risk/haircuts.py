"""Collateral haircuts from price volatility. Pure computation.

Formula (per asset), with daily log-return volatility sigma:

    maintenance = z(confidence) x sigma x sqrt(maintenance horizon in days) + liquidity add-on
    initial     = z(confidence) x sigma x sqrt(initial horizon in days)     + liquidity add-on

each rounded up to a basis point. The maintenance horizon is how long a liquidation takes to sell the
collateral; the initial horizon is longer so that a new borrow starts with room before liquidation. Sigma
is an EWMA of squared log returns (RiskMetrics, lambda = 0.94 per sample); a simple-window estimate is
reported next to it for comparison. A proposal is then moved toward within the vault's bounds: the target clamped to
[min, max], at most the largest step per update from the current haircut, maintenance never below the liquidation
penalty and initial never below maintenance (the vault refuses either), and only once the minimum interval has passed.
When no value passes the vault's checks (a current haircut more than a step outside bounds the admin has moved), the
proposal keeps the current haircuts rather than send an update the vault would refuse. See docs/risk.md, "Haircuts
from volatility".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

BPS = 10_000
SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class HaircutPolicy:
    confidence: float = 0.99
    maintenance_horizon_days: float = 1.0
    initial_horizon_days: float = 3.0
    ewma_lambda: float = 0.94
    window: int = 30  # samples, for the simple estimate
    min_samples: int = 5


@dataclass(frozen=True)
class Bounds:
    min_bps: int
    max_bps: int
    max_step_bps: int
    min_interval: int
    last_update: int


@dataclass(frozen=True)
class HaircutProposal:
    asset: str
    samples: int
    ewma_daily_vol: float
    window_daily_vol: float
    liquidity_addon_bps: int
    current_initial_bps: int
    current_maintenance_bps: int
    target_initial_bps: int  # what the formula asks for
    target_maintenance_bps: int
    next_initial_bps: int  # what can be pushed now within the bounds
    next_maintenance_bps: int
    allowed_now: bool  # the minimum interval has passed

    @property
    def changes(self) -> bool:
        return self.allowed_now and (
            self.next_initial_bps != self.current_initial_bps
            or self.next_maintenance_bps != self.current_maintenance_bps
        )


def log_returns(prices: Sequence[float]) -> np.ndarray:
    p = np.asarray(prices, dtype=np.float64)
    return np.diff(np.log(p)) if len(p) > 1 else np.zeros(0)


def ewma_volatility(returns: np.ndarray, lam: float) -> float:
    """Per-sample volatility: sqrt of the exponentially weighted mean of squared returns."""
    if len(returns) == 0:
        return 0.0
    weights = lam ** np.arange(len(returns) - 1, -1, -1, dtype=np.float64)
    return float(math.sqrt(np.dot(weights, returns**2) / weights.sum()))


def window_volatility(returns: np.ndarray, window: int) -> float:
    """Per-sample volatility over the last `window` returns (zero mean, as is usual for short horizons)."""
    tail = returns[-window:]
    return float(math.sqrt(np.mean(tail**2))) if len(tail) else 0.0


def haircut_bps(daily_vol: float, horizon_days: float, confidence: float, liquidity_addon_bps: int) -> int:
    """z x sigma x sqrt(horizon) + add-on, rounded up to a basis point."""
    z = NormalDist().inv_cdf(confidence)
    return math.ceil(z * daily_vol * math.sqrt(horizon_days) * BPS) + liquidity_addon_bps


def propose(
    asset: str,
    timestamps: Sequence[int],
    prices: Sequence[float],
    current: tuple[int, int],
    bounds: Bounds,
    now: int,
    liquidity_addon_bps: int,
    policy: HaircutPolicy = HaircutPolicy(),
    penalty_bps: int = 0,
) -> HaircutProposal:
    """The haircuts the formula asks for and the ones that can be pushed now within `bounds` (and above the asset's
    liquidation `penalty_bps`, which the vault's `penalty <= maintenance` rule keeps under the maintenance haircut)."""
    returns = log_returns(prices)
    samples = len(returns)
    if samples >= 1:
        # Scale per-sample volatility to a day by the average sampling interval.
        interval = max((timestamps[-1] - timestamps[0]) / samples, 1.0)
        per_day = math.sqrt(SECONDS_PER_DAY / interval)
    else:
        per_day = 0.0
    ewma = ewma_volatility(returns, policy.ewma_lambda) * per_day
    window = window_volatility(returns, policy.window) * per_day
    current_initial, current_maintenance = current
    if samples < policy.min_samples:
        target_initial, target_maintenance = current_initial, current_maintenance
    else:
        target_maintenance = haircut_bps(ewma, policy.maintenance_horizon_days, policy.confidence, liquidity_addon_bps)
        target_initial = haircut_bps(ewma, policy.initial_horizon_days, policy.confidence, liquidity_addon_bps)
    # The current haircuts already satisfy penalty <= maintenance <= initial, so raising a stepped value to the one
    # below it never moves it by more than a step.
    next_maintenance = max(_step_toward(current_maintenance, target_maintenance, bounds), penalty_bps)
    next_initial = max(_step_toward(current_initial, target_initial, bounds), next_maintenance)
    if not all(bounds.min_bps <= bps <= bounds.max_bps for bps in (next_initial, next_maintenance)):
        next_initial, next_maintenance = current_initial, current_maintenance
    allowed = bounds.last_update == 0 or now >= bounds.last_update + bounds.min_interval
    return HaircutProposal(
        asset,
        samples,
        ewma,
        window,
        liquidity_addon_bps,
        current_initial,
        current_maintenance,
        target_initial,
        target_maintenance,
        next_initial,
        next_maintenance,
        allowed,
    )


def _step_toward(current: int, target: int, bounds: Bounds) -> int:
    """At most a step from `current` toward `target` clamped to [min, max]. Not clamped again afterwards: the vault
    checks the step from the current haircut, so a current value outside the bounds can come back only a step at a
    time (and an update that cannot reach the bounds in one step is refused, which `propose` then leaves out)."""
    clamped = min(max(target, bounds.min_bps), bounds.max_bps)
    return current + max(min(clamped - current, bounds.max_step_bps), -bounds.max_step_bps)

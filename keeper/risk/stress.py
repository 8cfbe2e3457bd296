"""Stress test: the same health engine at shocked prices. Pure computation."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from keeper.exceptions import InputError
from keeper.risk.health import PerpArrays, RiskParameters, SparsePerp, compute_health

# ASCII: `\d` would also read other scripts' digits (ETH=٣٠% as 30%), which no one means as a shock.
_SHOCK = re.compile(r"^\s*([A-Za-z0-9]+)\s*=\s*([+-]?\d+(?:\.\d+)?)\s*%\s*$", re.ASCII)


@dataclass(frozen=True)
class StressResult:
    accounts: int
    liquidatable_before: int
    liquidatable_after: int
    shortfall: float  # base units: debt that absorbed collateral and positions would not cover
    reserves: float  # base units

    @property
    def covered(self) -> bool:
        return self.shortfall <= max(self.reserves, 0.0)


def parse_shocks(text: str) -> dict[str, Decimal]:
    """`ETH=-30%,BTC=-20%` -> {"ETH": Decimal("-0.3"), "BTC": Decimal("-0.2")}: exact, so a shocked price is the
    shock as written applied to the feed's integer price."""
    shocks = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = _SHOCK.match(part)
        if not match:
            raise InputError(f"shock {part!r} is not of the form ASSET=-30%")
        change = Decimal(match.group(2)) / 100
        if change <= -1:
            raise InputError(f"shock {part!r} takes the price to zero or below")
        symbol = match.group(1).upper()
        if symbol in shocks:
            raise InputError(f"{symbol} is shocked twice in --shock {text!r}: give each asset one move")
        shocks[symbol] = change
    if not shocks:
        raise InputError("no shock given: write e.g. --shock ETH=-30%,BTC=-20%")
    return shocks


def shocked(
    params: RiskParameters, asset_symbols: Sequence[str], market_symbols: Sequence[str], shocks: Mapping[str, Decimal]
) -> RiskParameters:
    """`params` with each collateral price and perp mark whose symbol is shocked moved by the shock."""
    known = set(asset_symbols) | set(market_symbols)
    for symbol in shocks:
        if symbol not in known:
            raise InputError(f"unknown asset {symbol!r} in --shock: use {', '.join(sorted(known))}")
    prices = [_moved(p, shocks.get(s)) for p, s in zip(params.prices, asset_symbols, strict=True)]
    marks = [_moved(m, shocks.get(s)) for m, s in zip(params.perp_marks, market_symbols, strict=True)]
    return replace(params, prices=prices, perp_marks=marks)


def _moved(price: int, shock: Decimal | None) -> int:
    """`price` x (1 + `shock`) exactly, rounded down onto the feed's unit. In floats a WAD mark (3e21 at ETH's 3,000)
    lost its last five digits."""
    return price if shock is None else math.floor(price * (1 + Fraction(shock)))


def stress(
    base: np.ndarray,
    collateral: np.ndarray,
    perp: PerpArrays | SparsePerp,
    params: RiskParameters,
    shocked_params: RiskParameters,
    penalties_bps: Sequence[int],
    reserves: float,
    due: tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]] | None = None,
) -> StressResult:
    """How many accounts are due before and after the shock, and what those due after leave unpaid. `due` gives the
    due accounts before and after as the keeper's scan finds them (the vectorized pass, the contract's integers near
    the line, portfolio-mode accounts by their rule); without it, the vectorized pass's own."""
    after = compute_health(base, collateral, shocked_params, perp)
    if due is None:
        due = (compute_health(base, collateral, params, perp).liquidatable, after.liquidatable)
    due_before, due_after = due
    # What a liquidated account leaves unpaid: collateral credited at value less penalty, plus its base
    # balance and perp PnL, when that sum is negative.
    unit_prices = np.asarray(shocked_params.prices, dtype=np.float64) / np.power(
        10.0, np.asarray(shocked_params.scale_exponents, dtype=np.float64)
    )
    credit = collateral @ (unit_prices * (1 - np.asarray(penalties_bps, dtype=np.float64) / 10_000))
    residual = credit + base + after.unrealized_pnl
    shortfall = float(np.clip(-residual[due_after], 0, None).sum())
    return StressResult(len(base), int(due_before.sum()), int(due_after.sum()), shortfall, reserves)

"""Account health for every account at once (numpy), and exact per-account confirmation (integers).

The vectorized pass screens in float64 over an accounts x assets matrix of collateral and an accounts x
slots matrix of perp positions (slot = market x MAX_VENUES + venue). Any account whose margin is within a
relative band of its threshold is re-checked with integer arithmetic that reproduces the contracts'
rounding (collateral values round down, requirements and debt up; perp PnL rounds down and funding owed
up), so a decision near the threshold is never a float artefact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

BPS = 10_000
WAD = 10**18
WAD_TO_BASE = 10**12  # USD WAD to USDC units
MAX_VENUES = 4
# Relative band around the threshold inside which float results are confirmed exactly. float64 carries
# ~1e-16 relative error per operation; 1e-9 leaves a wide margin for sums over many assets and positions.
SCREEN_BAND = 1e-9

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class RiskParameters:
    """Per-collateral-asset inputs in `collateralAssets()` order, and per-perp-market inputs in market order."""

    prices: Sequence[int]
    scale_exponents: Sequence[int]
    initial_haircut_bps: Sequence[int]
    maintenance_haircut_bps: Sequence[int]
    perp_marks: Sequence[int] = ()  # USD WAD per base unit, per market
    perp_initial_bps: Sequence[int] = ()
    perp_maintenance_bps: Sequence[int] = ()
    funding_indexes: Sequence[int] = field(default_factory=tuple)  # USD WAD per unit, per slot
    # Slots whose venue cannot report its funding index: the vault's liquidation counts no funding there since each
    # position's last booking, which `exact_health` does; the vectorized pass cannot (it sums funding at entry per
    # account), so the screen judges the accounts trading there exactly.
    unreadable_funding: frozenset[int] = frozenset()

    @property
    def slots(self) -> int:
        return len(self.perp_marks) * MAX_VENUES


@dataclass(frozen=True)
class PerpArrays:
    """Positions of n accounts over the slots, float64: sizes in base units, money in USD. What does not
    move with prices (each account's sum of size x entry and of size x funding at entry) is summed once
    when positions are loaded, so a scan at new prices is two matrix products."""

    sizes: FloatArray  # (n, slots)
    abs_sizes: FloatArray  # (n, slots)
    cost_basis: FloatArray  # (n,) sum of size x entry price
    funding_basis: FloatArray  # (n,) sum of size x funding index at entry
    trading: BoolArray  # (n,) holds any position

    @classmethod
    def build(cls, sizes: FloatArray, entries: FloatArray, funding_at_entry: FloatArray) -> PerpArrays:
        abs_sizes = np.abs(sizes)
        return cls(
            sizes,
            abs_sizes,
            np.einsum("ij,ij->i", sizes, entries),
            np.einsum("ij,ij->i", sizes, funding_at_entry),
            np.asarray((abs_sizes > 0).any(axis=1), dtype=bool),
        )

    @classmethod
    def empty(cls, n: int, slots: int) -> PerpArrays:
        zeros = np.zeros((n, slots))
        return cls.build(zeros, zeros, zeros)

    def dot(self, per_slot: FloatArray) -> FloatArray:
        """Each account's sum of size x `per_slot` (slots,)."""
        return self.sizes @ per_slot

    def abs_dot(self, per_slot: FloatArray) -> FloatArray:
        """Each account's sums of |size| x each column of `per_slot` (slots, k)."""
        return self.abs_sizes @ per_slot


@dataclass(frozen=True)
class SparsePerp:
    """The same inputs as `PerpArrays` with positions as a list of (row, slot) entries instead of an accounts x
    slots matrix: memory and time grow with the positions held, not with every account times every slot."""

    n: int
    rows: npt.NDArray[np.intp]  # (P,)
    slots: npt.NDArray[np.int16]  # (P,)
    sizes: FloatArray  # (P,) base units
    cost_basis: FloatArray  # (n,) sum of size x entry price
    funding_basis: FloatArray  # (n,) sum of size x funding index at entry
    trading: BoolArray  # (n,) holds any position

    @classmethod
    def build(
        cls,
        n: int,
        rows: npt.NDArray[np.intp],
        slots: npt.NDArray[np.int16],
        sizes: FloatArray,
        entries: FloatArray,
        funding_at_entry: FloatArray,
    ) -> SparsePerp:
        return cls(
            n,
            rows,
            slots,
            sizes,
            _sums(rows, sizes * entries, n),
            _sums(rows, sizes * funding_at_entry, n),
            _sums(rows, np.abs(sizes), n) > 0,
        )

    @classmethod
    def empty(cls, n: int) -> SparsePerp:
        none = np.zeros(0)
        return cls.build(n, np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.int16), none, none, none)

    # Products are formed in place in the gathered copy, a column at a time: a position-sized temporary is the
    # largest array of a scan, so each one more raises the keeper's peak memory.
    def dot(self, per_slot: FloatArray) -> FloatArray:
        weighted = per_slot[self.slots]
        weighted *= self.sizes
        return _sums(self.rows, weighted, self.n)

    def abs_dot(self, per_slot: FloatArray) -> FloatArray:
        """Per-row sums of |size| x `per_slot`, whose entries are never negative (requirements per unit), so that
        |size x value| is the product: no array of magnitudes is kept or made."""
        sums = np.empty((self.n, per_slot.shape[1]))
        for k in range(per_slot.shape[1]):
            weighted = per_slot[self.slots, k]
            weighted *= self.sizes
            np.abs(weighted, out=weighted)
            sums[:, k] = _sums(self.rows, weighted, self.n)
        return sums


def _sums(rows: npt.NDArray[np.intp], weights: FloatArray, n: int) -> FloatArray:
    """Per-row sums of `weights` over n rows."""
    return np.bincount(rows, weights=weights, minlength=n).astype(np.float64, copy=False)


@dataclass(frozen=True)
class HealthArrays:
    """Health of n accounts, float64 in base units (kept with every scan: only what its readers use)."""

    unrealized_pnl: FloatArray
    equity: FloatArray
    initial_requirement: FloatArray
    maintenance_requirement: FloatArray
    liquidatable: BoolArray  # screened: equity < maintenance, with debt or positions
    near_threshold: BoolArray  # within SCREEN_BAND of the maintenance threshold: confirm exactly


@dataclass(frozen=True)
class ExactHealth:
    collateral_value: int
    unrealized_pnl: int
    equity: int
    initial_requirement: int
    maintenance_requirement: int
    liquidatable: bool


def compute_health(
    base: FloatArray, collateral: FloatArray, params: RiskParameters, perp: PerpArrays | SparsePerp | None = None
) -> HealthArrays:
    """Health of every account: `base` is (n,) signed base balances, `collateral` (n, m) token balances."""
    unit_prices = np.asarray(params.prices, dtype=np.float64) / np.power(
        10.0, np.asarray(params.scale_exponents, dtype=np.float64)
    )
    weights = np.column_stack(
        [
            unit_prices,
            unit_prices * np.asarray(params.initial_haircut_bps, dtype=np.float64) / BPS,
            unit_prices * np.asarray(params.maintenance_haircut_bps, dtype=np.float64) / BPS,
        ]
    )
    # One matrix-vector product per figure, not one (n, 3) product: its columns would keep the whole product
    # alive for as long as the scan's health is kept.
    collateral_value, initial, maintenance = (collateral @ weights[:, k] for k in range(3))
    pnl = np.zeros_like(base)
    trading: BoolArray = np.zeros(base.shape, dtype=bool)
    if perp is not None and params.slots:
        marks = np.repeat(np.asarray(params.perp_marks, dtype=np.float64) / WAD, MAX_VENUES)  # (slots,)
        funding = np.asarray(params.funding_indexes, dtype=np.float64) / WAD
        # PnL less funding owed: sum of size x ((mark - entry) - (funding now - funding at entry)).
        # In place, as below: each account-sized temporary adds to the keeper's peak memory.
        pnl = perp.dot(marks - funding)
        pnl -= perp.cost_basis
        pnl += perp.funding_basis
        pnl *= 1e6
        initial_bps = np.repeat(np.asarray(params.perp_initial_bps, dtype=np.float64) / BPS, MAX_VENUES)
        maintenance_bps = np.repeat(np.asarray(params.perp_maintenance_bps, dtype=np.float64) / BPS, MAX_VENUES)
        requirements = perp.abs_dot(np.column_stack([marks * initial_bps, marks * maintenance_bps]) * 1e6)
        initial += requirements[:, 0]
        maintenance += requirements[:, 1]
        del requirements
        trading = perp.trading
    equity = collateral_value + base
    equity += pnl
    margin = equity - maintenance
    scale = np.abs(collateral_value)
    scale += np.abs(base)
    scale += np.abs(pnl)
    scale += maintenance
    np.maximum(scale, 1.0, out=scale)
    due = (base < 0) | trading
    return HealthArrays(
        unrealized_pnl=pnl,
        equity=equity,
        initial_requirement=initial,
        maintenance_requirement=maintenance,
        liquidatable=due & (margin < 0),
        near_threshold=due & (np.abs(margin) <= SCREEN_BAND * scale + 2.0),
    )


def exact_health(
    base: int,
    balances: Sequence[int],
    params: RiskParameters,
    positions: Sequence[tuple[int, int, int, int]] = (),
) -> ExactHealth:
    """One account's health with the contracts' integer rounding. `positions` are (slot, size, entry price,
    funding index at entry), all WAD."""
    value = initial = maintenance = 0
    for i, balance in enumerate(balances):
        if balance == 0:
            continue
        v = balance * params.prices[i] // 10 ** params.scale_exponents[i]
        value += v
        initial += _ceil_div(v * params.initial_haircut_bps[i], BPS)
        maintenance += _ceil_div(v * params.maintenance_haircut_bps[i], BPS)
    pnl_wad = perp_initial_wad = perp_maintenance_wad = 0
    for slot, size, entry, funding_at_entry in positions:
        market = slot // MAX_VENUES
        mark = params.perp_marks[market]
        now = funding_at_entry if slot in params.unreadable_funding else params.funding_indexes[slot]
        pnl_wad += position_pnl(size, entry, mark) - funding_owed(size, funding_at_entry, now)
        notional = _ceil_div(abs(size) * mark, WAD)
        perp_initial_wad += notional * params.perp_initial_bps[market]
        perp_maintenance_wad += notional * params.perp_maintenance_bps[market]
    pnl = _div_down(pnl_wad, WAD_TO_BASE)
    initial += _ceil_div(perp_initial_wad, BPS * WAD_TO_BASE)
    maintenance += _ceil_div(perp_maintenance_wad, BPS * WAD_TO_BASE)
    equity = value + base + pnl
    return ExactHealth(value, pnl, equity, initial, maintenance, (base < 0 or bool(positions)) and equity < maintenance)


def position_pnl(size: int, entry: int, mark: int) -> int:
    """A position's unrealized PnL at `mark`, USD WAD, rounded down (`PerpMathLib.unrealizedPnl`); all WAD."""
    return _div_down(size * (mark - entry), WAD)


def funding_owed(size: int, at_entry: int, now: int) -> int:
    """The funding a position of `size` owes since its index was `at_entry`, USD WAD (`PerpMathLib.fundingOwed`):
    positive is owed by the account, rounded up; negative is owed to it, rounded toward zero."""
    product = size * (now - at_entry)
    return _ceil_div(product, WAD) if product >= 0 else -((-product) // WAD)


def _div_down(a: int, b: int) -> int:
    return a // b  # Python's floor division rounds toward negative infinity, as the contracts do


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)

"""An outside reviewer's model of the perp and interest accounting, written from `docs/risk.md` ("Perp positions",
"Asynchronous orders", "Interest") and the NatSpec of `ITradingModule`/`IPrimeVault` alone: nothing here comes from
the keeper's engine (`keeper/risk`) or is read off the contracts' code. Python integers, every rounding as the
documents state it.

Units (docs/risk.md): sizes, prices and funding indexes in WAD (1e18) per base unit of the market; money in base
units (USDC: 6 decimals, so `base_unit` = 1e12 WAD per base unit); margins and the reserve factor in basis points;
interest indexes at scale 1e15, rates per second in WAD."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

WAD = 10**18
BPS = 10_000
INDEX_SCALE = 10**15
SECONDS_PER_YEAR = 365 * 86_400


def ceil_div(a: int, b: int) -> int:
    """ceil(a / b) for b > 0, toward +infinity for either sign of a."""
    return -(-a // b)


# ---------------------------------------------------------------------------------------------------- perp positions


@dataclass(frozen=True)
class Slot:
    """One sub-account's position at one (market, venue): signed size, entry price and the venue's funding index
    when it was last settled (all WAD). Flat is (0, 0, index at the last fill)."""

    size: int = 0
    entry: int = 0
    funding: int = 0


@dataclass(frozen=True)
class FillOutcome:
    slot: Slot
    cash: int  # base units booked to the account: realized PnL less funding owed, less the fee


def funding_owed_wad(size: int, at_entry: int, now: int) -> int:
    """`s · (F - F0)`, USD WAD, rounded against the client: up when owed by it, toward zero when owed to it."""
    return ceil_div(size * (now - at_entry), WAD)


def apply_fill(old: Slot, size: int, price: int, fee: int, funding_now: int, base_unit: int) -> FillOutcome:
    """A fill of signed `size` at `price` (its fee in base units, the venue's funding index `funding_now`).

    Funding since the slot's index is settled on the old size. Growing (or opening) blends the entry
    `(|s|·e + |q|·p) / |s + q|`, rounded against the client (a long's up, a short's down). Shrinking realizes
    `closed · (p - e)` for a long (`closed · (e - p)` for a short), `closed = min(|q|, |s|)`, rounded down, and keeps
    the entry; a flip enters the rest at the fill price; closing leaves entry 0. The cash of the fill is
    `floor((realized - funding) / base_unit) - fee`: one rounding down to base units per fill."""
    new_size = old.size + size
    realized = 0
    if old.size == 0 or (old.size > 0) == (size > 0):
        cost = abs(old.size) * old.entry + abs(size) * price
        entry = ceil_div(cost, abs(new_size)) if new_size > 0 else cost // abs(new_size)
    else:
        closed = min(abs(size), abs(old.size))
        per_unit = price - old.entry if old.size > 0 else old.entry - price
        realized = closed * per_unit // WAD
        entry = 0 if new_size == 0 else price if abs(size) > abs(old.size) else old.entry
    cash_wad = realized - funding_owed_wad(old.size, old.funding, funding_now)
    return FillOutcome(Slot(new_size, entry, funding_now), cash_wad // base_unit - fee)


@dataclass(frozen=True)
class MarketTerms:
    mark: int  # WAD
    initial_bps: int
    maintenance_bps: int


@dataclass(frozen=True)
class PerpRisk:
    pnl: int  # base units
    initial: int
    maintenance: int


def perp_risk(
    slots: Mapping[tuple[int, int], Slot],
    markets: Mapping[int, MarketTerms],
    funding: Mapping[tuple[int, int], int],
    base_unit: int,
    reserved: int = 0,
) -> PerpRisk:
    """The perp part of an account's health over its open (market, venue) slots:

    pnl          = floor(Σ [floor(s·(m - e)) - ceil(s·(F - F0))] / base_unit)   (per slot in USD WAD, one floor)
    notional     = ceil(|s| · m)                                                 (per slot, USD WAD)
    initial      = ceil(Σ notional · initialBps / (10,000 · base_unit)) + reserved margin
    maintenance  = ceil(Σ notional · maintenanceBps / (10,000 · base_unit))"""
    pnl_wad = initial = maintenance = 0
    for key, s in slots.items():
        if s.size == 0:
            continue
        terms = markets[key[0]]
        pnl_wad += s.size * (terms.mark - s.entry) // WAD - funding_owed_wad(s.size, s.funding, funding[key])
        notional = ceil_div(abs(s.size) * terms.mark, WAD)
        initial += notional * terms.initial_bps
        maintenance += notional * terms.maintenance_bps
    scale = BPS * base_unit
    return PerpRisk(pnl_wad // base_unit, ceil_div(initial, scale) + reserved, ceil_div(maintenance, scale))


def reservation(size: int, price: int, initial_bps: int, base_unit: int) -> int:
    """What a routed child of `size` reserves: ceil(size · p · initialMargin), p a buy's limit or the higher of a sell's
    limit and the mark."""
    return ceil_div(size * price * initial_bps, WAD * BPS * base_unit)


def remaining_reservation(reserved: int, size: int, filled: int) -> int:
    """rem(f) = ceil(reservation · (S - f) / S)."""
    return ceil_div(reserved * (size - filled), size)


# ---------------------------------------------------------------------------------------------------------- interest


@dataclass(frozen=True)
class RateModel:
    """Annual WAD rates as governance sets them, the kink as WAD utilization, the reserve factor in whole bps."""

    base_per_year: int
    slope_low_per_year: int
    slope_high_per_year: int
    kink: int
    reserve_factor_bps: int

    def borrow_rate(self, utilization: int) -> int:
        """Per second, WAD: base + slopeLow · min(U, kink) + slopeHigh · max(U - kink, 0), each annual rate kept per
        second rounded down, each product rounded down."""
        base, low, high = (r // SECONDS_PER_YEAR for r in self.rate_terms())
        return base + low * min(utilization, self.kink) // WAD + high * max(utilization - self.kink, 0) // WAD

    def supply_rate(self, utilization: int) -> int:
        """borrow · U · (1 - reserveFactor), rounded down."""
        return self.borrow_rate(utilization) * utilization * (BPS - self.reserve_factor_bps) // (WAD * BPS)

    def rate_terms(self) -> tuple[int, int, int]:
        return self.base_per_year, self.slope_low_per_year, self.slope_high_per_year


def present_value(principal: int, supply_index: int, borrow_index: int) -> int:
    """balance = P ≥ 0 ? floor(P · supplyIndex / 1e15) : -ceil(|P| · borrowIndex / 1e15)."""
    if principal >= 0:
        return principal * supply_index // INDEX_SCALE
    return -ceil_div(-principal * borrow_index, INDEX_SCALE)


def principal_of(balance: int, supply_index: int, borrow_index: int) -> int:
    """The principal booked for a new balance: supply rounded down, debt rounded up."""
    if balance >= 0:
        return balance * INDEX_SCALE // supply_index
    return -ceil_div(-balance * INDEX_SCALE, borrow_index)


@dataclass(frozen=True)
class Pool:
    """The base market: indexes, the time they were accrued to, and the principals of suppliers and borrowers."""

    model: RateModel
    supply_index: int = INDEX_SCALE
    borrow_index: int = INDEX_SCALE
    accrued_at: int = 0
    supply_principal: int = 0
    borrow_principal: int = 0

    @property
    def total_supply(self) -> int:
        return present_value(self.supply_principal, self.supply_index, self.borrow_index)

    @property
    def total_borrow(self) -> int:
        return -present_value(-self.borrow_principal, self.supply_index, self.borrow_index)

    @property
    def utilization(self) -> int:
        """totalBorrow / totalSupply, WAD, rounded down; 0 with nothing supplied."""
        supply = self.total_supply
        return self.total_borrow * WAD // supply if supply else 0

    def accrue(self, now: int) -> Pool:
        """index += floor(index · rate · elapsed / WAD), both indexes at the utilization before the step."""
        if now <= self.accrued_at:
            return self
        elapsed, u = now - self.accrued_at, self.utilization
        return replace(
            self,
            supply_index=self.supply_index + self.supply_index * self.model.supply_rate(u) * elapsed // WAD,
            borrow_index=self.borrow_index + self.borrow_index * self.model.borrow_rate(u) * elapsed // WAD,
            accrued_at=now,
        )

    def rebook(self, old_principal: int, new_balance: int) -> tuple[Pool, int]:
        """Books an account's new balance (at the current indexes): its new principal and the pool's totals."""
        new = principal_of(new_balance, self.supply_index, self.borrow_index)
        supply = self.supply_principal + max(new, 0) - max(old_principal, 0)
        borrow = self.borrow_principal + max(-new, 0) - max(-old_principal, 0)
        return replace(self, supply_principal=supply, borrow_principal=borrow), new

    def balance(self, principal: int) -> int:
        return present_value(principal, self.supply_index, self.borrow_index)

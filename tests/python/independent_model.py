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


# ------------------------------------------------------------------------------ collateral, portfolio rule, liquidation


@dataclass(frozen=True)
class Asset:
    """A collateral asset: its feed's price, `value = floor(b · price / 10^scale)`, its haircuts and penalty (bps)."""

    price: int
    scale: int
    initial_bps: int
    maintenance_bps: int
    penalty_bps: int

    def value(self, balance: int) -> int:
        return balance * self.price // 10**self.scale


def collateral_requirements(balances: list[int], assets: list[Asset]) -> tuple[int, int, int]:
    """(value, initial, maintenance): Σ value_i and Σ ceil(value_i · haircut_i / 10,000), each rounded per asset."""
    values = [a.value(b) for a, b in zip(assets, balances, strict=True)]
    initial = sum(ceil_div(v * a.initial_bps, BPS) for v, a in zip(values, assets, strict=True))
    maintenance = sum(ceil_div(v * a.maintenance_bps, BPS) for v, a in zip(values, assets, strict=True))
    return sum(values), initial, maintenance


@dataclass(frozen=True)
class Underlying:
    """One underlying's grid and charges (bps): shock S, tail T at weight w, the three charges, its group."""

    shock: int
    tail: int
    weight: int
    net: int
    hedged: int
    basis: int
    group: int

    def moves(self) -> list[int]:
        """The nine moves as numerators over 3 · 10^8: j · S · 10^4 for j = -3..3, then -3·T·w and +3·T·w."""
        tail = 3 * self.tail * self.weight
        return [j * self.shock * BPS for j in range(-3, 4)] + [-tail, tail]


@dataclass(frozen=True)
class Leg:
    """A leg of a book: its underlying (-1: an asset mapped to none), its venue (None for collateral), its signed
    notional in base units (collateral: its value; a position: sign(s) · floor(|s| · m / 10^30)) and, for collateral,
    its asset's liquidation penalty (bps)."""

    underlying: int
    venue: int | None
    notional: int
    penalty_bps: int = 0


def portfolio_requirements(
    legs: list[Leg], underlyings: list[Underlying], maintenance_bps: int, credit_bps: int, reserved: int = 0
) -> tuple[int, int]:
    """(initial, maintenance) of the portfolio rule (docs/risk.md, "Portfolio margin"): per underlying the worst of
    nine scenario losses (each leg's loss ceil(-n · move)), correlation credit floor((independent - together) · credit)
    per group, charges ceil(|net| · c) + ceil(hedged · c) + ceil(basis · c); maintenance = ceil((scan + charges) ·
    fraction); an unmapped asset's value added to both, reserved margin to the initial one."""
    unmapped = sum(leg.notional for leg in legs if leg.underlying < 0)
    by_underlying: dict[int, list[Leg]] = {}
    for leg in legs:
        if leg.underlying >= 0:
            by_underlying.setdefault(leg.underlying, []).append(leg)
    losses: dict[int, list[int]] = {}
    charges = 0
    for u, members in by_underlying.items():
        p = underlyings[u]
        losses[u] = [sum(ceil_div(-leg.notional * move, 3 * 10**8) for leg in members) for move in p.moves()]
        collateral = sum(leg.notional for leg in members if leg.venue is None)
        venues: dict[int, int] = {}
        for leg in members:
            if leg.venue is not None:
                venues[leg.venue] = venues.get(leg.venue, 0) + leg.notional
        venue_long = sum(max(e, 0) for e in venues.values())
        short = sum(max(-e, 0) for e in venues.values())
        long = collateral + venue_long
        basis = min(venue_long, max(short - collateral, 0))
        charges += ceil_div(abs(long - short) * p.net, BPS) + ceil_div(min(long, short) * p.hedged, BPS)
        charges += ceil_div(basis * p.basis, BPS)
    scan = 0
    for g in {underlyings[u].group for u in losses}:
        group = [u for u in losses if underlyings[u].group == g]
        independent = sum(max(losses[u]) for u in group)
        together = max(sum(losses[u][k] for u in group) for k in range(9))
        scan += independent - (independent - together) * credit_bps // BPS
    return scan + charges + unmapped + reserved, ceil_div((scan + charges) * maintenance_bps, BPS) + unmapped


def liquidation_terms(legs: list[Leg], maintenance: int) -> tuple[int, int]:
    """(maxDiscountBps, hedgedBps) of `liquidationTerms`: floor(M · 20% / gross) in bps over the legs' absolute
    values (no cap, 100%, without legs), and the share of the collateral that net perp shorts of its own underlying
    cover, each asset weighted by its value times its penalty (unmapped ones uncovered), rounded down: per underlying
    floor(covered · weight / collateral), over the whole weight."""
    gross = sum(abs(leg.notional) for leg in legs)
    collateral: dict[int, int] = {}
    weight: dict[int, int] = {}
    perps: dict[int, int] = {}
    for leg in legs:
        if leg.venue is None:
            weight[leg.underlying] = weight.get(leg.underlying, 0) + leg.notional * leg.penalty_bps
        if leg.underlying >= 0:
            into = collateral if leg.venue is None else perps
            into[leg.underlying] = into.get(leg.underlying, 0) + leg.notional
    covered = sum(min(c, max(-perps.get(u, 0), 0)) * weight[u] // c for u, c in collateral.items() if c)
    total = sum(weight.values())
    return maintenance * 2000 // gross if gross else BPS, covered * BPS // total if total else 0


@dataclass(frozen=True)
class Absorption:
    share: int  # the WAD fraction of every asset taken (1e18: all of it)
    absorbed: list[int]
    credited: int  # base units credited against the debt (the debt cleared, before any shortfall)
    seized_value: int  # the absorbed collateral's value


def absorb_collateral(
    base: int,
    balances: list[int],
    assets: list[Asset],
    equity: int,
    maintenance: int,
    liquidator_bps: int,
    store_front_bps: int,
    buffer_bps: int,
    min_borrow: int,
) -> Absorption:
    """A liquidation of an account without positions under the standard rule (docs/risk.md, "Liquidation"): depth
    in whole bps rounded up (1 at E ≤ 0), each discount min(penalty, max(ceil(penalty · (shares)), depth)); relief
    per asset floor(value · (haircut · (1 + buffer) - discount)) with the haircut's product in hundredths of a bps;
    f = ceil((target - E) / Σ relief) as a WAD fraction, all when ≥ 1 (or under water); absorbed ceil(b · f), credits
    floor(value · (1 - discount)); a cut that would leave debt below `min_borrow` absorbs the rest as a second step."""
    depth = BPS if equity <= 0 else min(BPS, ceil_div((maintenance - equity) * BPS, maintenance))
    discounts = [
        min(a.penalty_bps, max(ceil_div(a.penalty_bps * (store_front_bps + liquidator_bps), BPS), depth))
        for a in assets
    ]
    target = maintenance + ceil_div(maintenance * buffer_bps, BPS)
    relief = sum(
        a.value(b) * (a.maintenance_bps * (BPS + buffer_bps) // 100 - d * 100) // (BPS * 100)
        for a, b, d in zip(assets, balances, discounts, strict=True)
    )
    share = WAD if equity < 0 or target - equity >= relief else ceil_div((target - equity) * WAD, relief)

    def credits(amounts: list[int]) -> int:
        return sum(a.value(x) * (BPS - d) // BPS for a, x, d in zip(assets, amounts, discounts, strict=True))

    absorbed = [ceil_div(b * share, WAD) for b in balances]
    credited = credits(absorbed)
    if share < WAD and 0 < -(base + credited) < min_borrow:
        rest = [b - x for b, x in zip(balances, absorbed, strict=True)]
        share, absorbed, credited = WAD, balances, credited + credits(rest)
    seized = sum(a.value(x) for a, x in zip(assets, absorbed, strict=True))
    return Absorption(share, absorbed, credited, seized)

"""Portfolio margin (issue 13): one requirement for a whole book, from a scenario grid per underlying.

The standard rule charges every leg alone (a haircut per collateral asset, a margin per perp slot), so a hedged book
pays for both of its legs. Here the legs of an account are grouped by underlying (WETH and every ETH market at every
venue are one underlying), each underlying is moved over a small fixed grid of price scenarios, and the requirement
is the worst loss plus charges that keep a perfect hedge from needing nothing. The rule is written for the chain as
much as for the keeper: integer arithmetic, a fixed grid of nine scenarios, nothing read but the account's own legs
and the prices, so the vault can evaluate it in its health check (docs/risk.md, "Portfolio margin").

Two implementations that agree to the unit: `exact_portfolio` (one account, Python integers, the protocol's rounding:
values down, losses and requirements up), the twin of what the contract will compute, and `compute_portfolio`
(every account at once, numpy int64 over accounts x legs x scenarios), the keeper's. Amounts are in base-token
units, as in `keeper/risk/health.py`, whose prices and marks (`RiskParameters`) both take.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from keeper.exceptions import ConfigError, InputError
from keeper.risk.haircuts import haircut_bps
from keeper.risk.health import MAX_VENUES, WAD, WAD_TO_BASE, ExactHealth, RiskParameters, exact_health
from keeper.units import format_exact

BPS = 10_000
# Scenario k of an underlying with shock S and tail T at weight w moves its price by MOVES[k] / MOVE_DENOMINATOR:
# -S, -2S/3, -S/3, 0, +S/3, +2S/3, +S (SPAN's thirds of the range), then -T and +T with the loss weighted by w.
# One denominator for all nine keeps every loss a single floor division.
SCENARIO_LABELS = ("-S", "-2S/3", "-S/3", "0", "+S/3", "+2S/3", "+S", "-T", "+T")
SCENARIOS = len(SCENARIO_LABELS)
STEPS = (-3, -2, -1, 0, 1, 2, 3)
MOVE_DENOMINATOR = 3 * BPS * BPS
PERP_NOTIONAL_DIVISOR = WAD * WAD_TO_BASE  # size (WAD) x mark (USD WAD) -> base units
# The vectorized engine works in int64: an account whose legs add up to more than this many base units (4.6e12 USD
# for a 6-decimal base) is refused rather than overflowed; the exact engine has no limit.
NOTIONAL_LIMIT = 2**62
# What governance may set at all (the contract's constants when the rule moves on chain); each underlying then has
# its own [min, max] for the shock, inside which the keeper's volatility estimates move it.
SHOCK_BPS_RANGE = (100, 5000)
TAIL_BPS_RANGE = (100, 9000)
NET_CHARGE_BPS_RANGE = (100, 2000)
HEDGED_CHARGE_BPS_RANGE = (50, 1000)
BASIS_CHARGE_BPS_RANGE = (50, 1000)
MAINTENANCE_BPS_RANGE = (2500, 9000)
# At most half: with a larger credit, cutting one underlying's net exposure could raise the requirement (its
# correlated offset against another underlying is worth more than its own loss), and deleveraging must only lower it.
CORRELATION_CREDIT_BPS_MAX = 5000
# PortfolioMargin.MAX_UNDERLYINGS: the underlyings (and groups, 0 to 15) a rule can hold on chain.
MAX_UNDERLYINGS = 16

IntArray = npt.NDArray[np.int64]


def _within(name: str, value: int, bounds: tuple[int, int]) -> None:
    if not bounds[0] <= value <= bounds[1]:
        raise ConfigError(f"portfolio parameter {name} = {value} is outside [{bounds[0]}, {bounds[1]}]")


@dataclass(frozen=True)
class UnderlyingParams:
    """Governance's parameters of one underlying, in basis points; `shock_bps` is the one the keeper moves with
    volatility, within [min_shock_bps, max_shock_bps]. `group`: underlyings of one group move together in the
    correlated scenarios (and earn the correlation credit against each other)."""

    shock_bps: int
    min_shock_bps: int
    max_shock_bps: int
    max_shock_step_bps: int
    tail_bps: int
    tail_weight_bps: int
    net_charge_bps: int
    hedged_charge_bps: int
    basis_charge_bps: int
    group: int = 0

    def __post_init__(self) -> None:
        _within("min_shock_bps", self.min_shock_bps, SHOCK_BPS_RANGE)
        _within("max_shock_bps", self.max_shock_bps, (self.min_shock_bps, SHOCK_BPS_RANGE[1]))
        _within("shock_bps", self.shock_bps, (self.min_shock_bps, self.max_shock_bps))
        _within("max_shock_step_bps", self.max_shock_step_bps, (1, SHOCK_BPS_RANGE[1]))
        _within("tail_bps", self.tail_bps, TAIL_BPS_RANGE)
        _within("tail_weight_bps", self.tail_weight_bps, (0, BPS))
        _within("net_charge_bps", self.net_charge_bps, NET_CHARGE_BPS_RANGE)
        _within("hedged_charge_bps", self.hedged_charge_bps, HEDGED_CHARGE_BPS_RANGE)
        _within("basis_charge_bps", self.basis_charge_bps, BASIS_CHARGE_BPS_RANGE)
        _within("group", self.group, (0, MAX_UNDERLYINGS - 1))

    def moves(self) -> tuple[int, ...]:
        """The nine scenario moves as numerators over MOVE_DENOMINATOR (the tails with their weight folded in)."""
        steps = tuple(j * self.shock_bps * BPS for j in STEPS)
        tail = 3 * self.tail_bps * self.tail_weight_bps
        return (*steps, -tail, tail)


@dataclass(frozen=True)
class PortfolioParams:
    """The rule's parameters: one `UnderlyingParams` per underlying of the layout, the maintenance requirement as a
    fraction of the initial one, and the share of the gap between independent and correlated losses credited."""

    underlyings: tuple[UnderlyingParams, ...]
    maintenance_bps: int = 5000
    correlation_credit_bps: int = 5000

    def __post_init__(self) -> None:
        _within("maintenance_bps", self.maintenance_bps, MAINTENANCE_BPS_RANGE)
        _within("correlation_credit_bps", self.correlation_credit_bps, (0, CORRELATION_CREDIT_BPS_MAX))
        count = len(self.underlyings)
        if count > MAX_UNDERLYINGS:
            raise ConfigError(f"a portfolio rule holds at most {MAX_UNDERLYINGS} underlyings, not {count}")


# The defaults the tests and docs/risk.md use. ETH's weighted tail (30% at 35%: 10.5%) is larger than its step
# shock (10%), BTC's (20% at 35%: 7%) smaller than its (8%), so either end of the grid can be the worst.
DEFAULT_UNDERLYINGS: Mapping[str, UnderlyingParams] = {
    "ETH": UnderlyingParams(1000, 500, 3000, 250, 3000, 3500, 200, 100, 125),
    "BTC": UnderlyingParams(800, 400, 2500, 200, 2000, 3500, 200, 100, 125),
}


UNMAPPED = -1
"""`Layout.asset_underlying` of a collateral asset governance listed and has not mapped yet: the rule gives its
balances no credit (their value is added to both requirements), as the contract does."""


@dataclass(frozen=True)
class Layout:
    """How the vault's collateral assets (in `collateralAssets()` order) and perp markets (in market order) map to
    underlyings. Every market maps to one, and every collateral asset but those not mapped yet (`UNMAPPED`): a
    stablecoin collateral is an underlying with a small shock."""

    underlyings: tuple[str, ...]
    asset_symbols: tuple[str, ...]
    market_tickers: tuple[str, ...]
    asset_underlying: tuple[int, ...]
    market_underlying: tuple[int, ...]
    venue_names: tuple[str, ...] = ()  # by venue id, for what `explain` prints ("venue 1" where not given)

    @classmethod
    def from_symbols(
        cls, asset_symbols: Sequence[str], market_tickers: Sequence[str], wrapped: Mapping[str, str] | None = None
    ) -> Layout:
        """WETH -> ETH and WBTC -> BTC (or `wrapped`); a market "ETH-USD" is the underlying before the dash."""
        aliases = {"WETH": "ETH", "WBTC": "BTC"} if wrapped is None else wrapped
        of_assets = [aliases.get(s.upper(), s.upper()) for s in asset_symbols]
        of_markets = [t.upper().split("-")[0] for t in market_tickers]
        names = tuple(dict.fromkeys([*of_assets, *of_markets]))
        return cls(
            names,
            tuple(asset_symbols),
            tuple(market_tickers),
            tuple(names.index(u) for u in of_assets),
            tuple(names.index(u) for u in of_markets),
        )

    def params(self, table: Mapping[str, UnderlyingParams] = DEFAULT_UNDERLYINGS, **rule: int) -> PortfolioParams:
        """`PortfolioParams` for this layout's underlyings from a table by name (`rule`: maintenance_bps,
        correlation_credit_bps)."""
        missing = [u for u in self.underlyings if u not in table]
        if missing:
            raise ConfigError(f"no portfolio parameters for {', '.join(missing)}")
        return PortfolioParams(tuple(table[u] for u in self.underlyings), **rule)

    def __post_init__(self) -> None:
        if any(u < 0 or u >= len(self.underlyings) for u in self.market_underlying) or any(
            u != UNMAPPED and not 0 <= u < len(self.underlyings) for u in self.asset_underlying
        ):
            raise InputError("a layout maps every market, and every asset but unmapped ones, to one of its underlyings")

    def leg_underlyings(self) -> tuple[int, ...]:
        """The underlying of every leg (`UNMAPPED` for an unmapped asset): collateral assets first, then every
        (market, venue) slot."""
        return self.asset_underlying + tuple(u for u in self.market_underlying for _ in range(MAX_VENUES))

    def leg_name(self, leg: int) -> str:
        assets = len(self.asset_symbols)
        if leg < assets:
            return f"{self.asset_symbols[leg]} collateral"
        market, venue = divmod(leg - assets, MAX_VENUES)
        where = self.venue_names[venue] if venue < len(self.venue_names) else f"venue {venue}"
        return f"{self.market_tickers[market]} at {where}"


@dataclass(frozen=True)
class LegRisk:
    leg: int  # collateral asset index, or number of assets + slot
    notional: int  # signed base units: collateral value (down), perp |size| x mark (down) with the size's sign
    losses: tuple[int, ...]  # per scenario, rounded up (a gain is a negative loss rounded toward zero)


@dataclass(frozen=True)
class UnderlyingRisk:
    underlying: int
    legs: tuple[LegRisk, ...]  # the legs the account holds in it
    losses: tuple[int, ...]  # per scenario: the legs' sum
    worst: int  # scenario index of the largest loss (the first one on a tie)
    net: int  # signed: long - short
    hedged: int  # min(long, short)
    basis: int  # hedged across venues: venue longs against venue shorts the collateral does not cover
    net_charge: int
    hedged_charge: int
    basis_charge: int

    @property
    def worst_loss(self) -> int:
        return self.losses[self.worst]

    @property
    def charges(self) -> int:
        return self.net_charge + self.hedged_charge + self.basis_charge


@dataclass(frozen=True)
class GroupRisk:
    group: int
    independent: int  # sum of its underlyings' worst losses, each moved alone
    correlated: tuple[int, ...]  # per scenario, every underlying of the group moved by its own scenario at once
    worst: int
    credit: int  # correlation credit, rounded down
    scan: int  # independent - credit

    @property
    def correlated_loss(self) -> int:
        return self.correlated[self.worst]


@dataclass(frozen=True)
class ExactPortfolio:
    """One account's requirement with every intermediate figure, which is also what `explain_lines` prints."""

    underlyings: tuple[UnderlyingRisk, ...]  # the ones the account holds
    groups: tuple[GroupRisk, ...]
    scan: int
    charges: int
    unmapped: tuple[tuple[int, int], ...]  # (leg, value) of each unmapped asset held: counted for nothing
    initial: int  # scan + charges + the unmapped value
    maintenance: int  # (scan + charges) x maintenance bps, rounded up, + the unmapped value

    @property
    def unmapped_value(self) -> int:
        return sum(value for _, value in self.unmapped)


@dataclass(frozen=True)
class PortfolioArrays:
    """The requirement of n accounts over U underlyings, int64 base units, equal to `exact_portfolio`'s."""

    losses: IntArray  # (n, U, SCENARIOS)
    worst: IntArray  # (n, U) scenario index
    net: IntArray  # (n, U)
    hedged: IntArray  # (n, U)
    basis: IntArray  # (n, U)
    charges: IntArray  # (n,)
    scan: IntArray  # (n,)
    unmapped: IntArray  # (n,) value of the unmapped assets held
    initial: IntArray  # (n,)
    maintenance: IntArray  # (n,)


def collateral_value(balance: int, price: int, scale_exponent: int) -> int:
    """ValueLib's value of a balance, rounded down: the same figure the standard rule counts."""
    return balance * price // int(10**scale_exponent)


def perp_notional(size: int, mark: int) -> int:
    """The signed notional of a position (size and mark WAD) in base units, its magnitude rounded down."""
    magnitude = abs(size) * mark // PERP_NOTIONAL_DIVISOR
    return magnitude if size >= 0 else -magnitude


def exact_portfolio(
    balances: Sequence[int],
    positions: Sequence[tuple[int, int, int, int]],
    params: RiskParameters,
    layout: Layout,
    portfolio: PortfolioParams,
) -> ExactPortfolio:
    """One account's portfolio requirement with the protocol's rounding, as the contract will compute it.
    `positions` are (slot, size, entry price, funding index at entry) as for `exact_health`; only slot and size
    count here (the requirement moves with exposure, not with PnL, which is in the equity)."""
    notionals = _leg_notionals(balances, positions, params)
    leg_underlying = layout.leg_underlyings()
    by_underlying: dict[int, list[LegRisk]] = {}
    unmapped = []
    for leg, notional in sorted(notionals.items()):
        u = leg_underlying[leg]
        if u == UNMAPPED:
            unmapped.append((leg, notional))
            continue
        moves = portfolio.underlyings[u].moves()
        losses = tuple(-_floor_mul_div(notional, move, MOVE_DENOMINATOR) for move in moves)
        by_underlying.setdefault(u, []).append(LegRisk(leg, notional, losses))
    assets = len(layout.asset_symbols)
    risks = []
    for u, legs in sorted(by_underlying.items()):
        p = portfolio.underlyings[u]
        losses = tuple(sum(leg.losses[k] for leg in legs) for k in range(SCENARIOS))
        collateral = sum(leg.notional for leg in legs if leg.leg < assets)
        net, hedged, basis = _exposures(collateral, _venue_nets(legs, assets))
        risks.append(
            UnderlyingRisk(
                u,
                tuple(legs),
                losses,
                losses.index(max(losses)),
                net,
                hedged,
                basis,
                _ceil_mul_div(abs(net), p.net_charge_bps, BPS),
                _ceil_mul_div(hedged, p.hedged_charge_bps, BPS),
                _ceil_mul_div(basis, p.basis_charge_bps, BPS),
            )
        )
    groups = []
    for g in sorted({portfolio.underlyings[r.underlying].group for r in risks}):
        members = [r for r in risks if portfolio.underlyings[r.underlying].group == g]
        independent = sum(r.worst_loss for r in members)
        correlated = tuple(sum(r.losses[k] for r in members) for k in range(SCENARIOS))
        worst = correlated.index(max(correlated))
        credit = _floor_mul_div(independent - correlated[worst], portfolio.correlation_credit_bps, BPS)
        groups.append(GroupRisk(g, independent, correlated, worst, credit, independent - credit))
    scan = sum(g.scan for g in groups)
    charges = sum(r.charges for r in risks)
    credited = sum(value for _, value in unmapped)
    maintenance = _ceil_mul_div(scan + charges, portfolio.maintenance_bps, BPS) + credited
    return ExactPortfolio(
        tuple(risks), tuple(groups), scan, charges, tuple(unmapped), scan + charges + credited, maintenance
    )


def portfolio_health(
    base: int,
    balances: Sequence[int],
    params: RiskParameters,
    positions: Sequence[tuple[int, int, int, int]],
    layout: Layout,
    portfolio: PortfolioParams,
) -> ExactHealth:
    """An account's health in portfolio mode: the standard rule's equity (collateral value, base balance, PnL less
    funding, all as `exact_health` rounds them) against the portfolio requirements."""
    standard = exact_health(base, balances, params, positions)
    book = exact_portfolio(balances, positions, params, layout, portfolio)
    due = base < 0 or bool(positions)
    return replace(
        standard,
        initial_requirement=book.initial,
        maintenance_requirement=book.maintenance,
        liquidatable=due and standard.equity < book.maintenance,
    )


def compute_portfolio(
    collateral: Sequence[Sequence[int]],
    sizes: Sequence[Sequence[int]],
    params: RiskParameters,
    layout: Layout,
    portfolio: PortfolioParams,
) -> PortfolioArrays:
    """Every account's portfolio requirement at once. `collateral` is (n, assets) token balances and `sizes` (n,
    slots) signed WAD sizes, both as Python integers (they exceed int64); the leg notionals are computed exactly
    from them once, and the grid, the charges and the credit run in int64 over accounts x legs x scenarios."""
    n = len(collateral)
    assets, slots = len(params.prices), params.slots
    balances = np.asarray(collateral, dtype=object).reshape(n, assets)
    positions = np.asarray(sizes, dtype=object).reshape(n, slots)
    values = np.frompyfunc(collateral_value, 3, 1)(
        balances, np.asarray(params.prices, dtype=object), np.asarray(params.scale_exponents, dtype=object)
    )
    marks = np.repeat(np.asarray(params.perp_marks, dtype=object), MAX_VENUES)
    perps = np.frompyfunc(perp_notional, 2, 1)(positions, marks)
    legs_object = np.concatenate([values, perps], axis=1)
    if n and int(np.abs(legs_object).sum(axis=1).max()) >= NOTIONAL_LIMIT:
        raise InputError(f"an account's legs add up to {NOTIONAL_LIMIT} base units or more: use exact_portfolio")
    legs = legs_object.astype(np.int64)  # (n, L)
    underlyings = len(layout.underlyings)
    leg_of = np.asarray(layout.leg_underlyings(), dtype=np.int64)
    # An unmapped asset's row is all zeros: none of its legs' losses or exposures reach an underlying.
    one_hot = (leg_of[:, None] == np.arange(underlyings)[None, :]).astype(np.int64)  # (L, U)
    moves = np.asarray([p.moves() for p in portfolio.underlyings], dtype=np.int64)  # (U, K)
    leg_moves = moves[np.maximum(leg_of, 0)] * (leg_of >= 0)[:, None]
    leg_losses = -_floor_mul_div_array(legs[:, :, None], leg_moves[None, :, :], MOVE_DENOMINATOR)  # (n, L, K)
    unmapped = legs[:, :assets][:, leg_of[:assets] == UNMAPPED].sum(axis=1)
    losses = np.einsum("nlk,lu->nuk", leg_losses, one_hot)
    worst_loss = losses.max(axis=2)
    # Exposures: collateral per underlying, and each venue's net perp exposure per underlying.
    col = values.astype(np.int64) @ one_hot[:assets]
    market_one_hot = one_hot[assets::MAX_VENUES]  # (markets, U)
    venues = np.einsum("nmv,mu->nuv", perps.astype(np.int64).reshape(n, -1, MAX_VENUES), market_one_hot)
    venue_long = np.clip(venues, 0, None).sum(axis=2)
    venue_short = np.clip(-venues, 0, None).sum(axis=2)
    long, short = col + venue_long, venue_short
    net = long - short
    hedged = np.minimum(long, short)
    basis = np.minimum(venue_long, np.clip(venue_short - col, 0, None))
    rates = np.asarray(
        [(p.net_charge_bps, p.hedged_charge_bps, p.basis_charge_bps) for p in portfolio.underlyings], dtype=np.int64
    )
    per_underlying = (
        _ceil_mul_div_array(np.abs(net), rates[:, 0], BPS)
        + _ceil_mul_div_array(hedged, rates[:, 1], BPS)
        + _ceil_mul_div_array(basis, rates[:, 2], BPS)
    )
    charges = per_underlying.sum(axis=1)
    group_of = np.asarray([p.group for p in portfolio.underlyings], dtype=np.int64)
    scan = np.zeros(n, dtype=np.int64)
    for g in np.unique(group_of):
        members = group_of == g
        independent = worst_loss[:, members].sum(axis=1)
        correlated = losses[:, members, :].sum(axis=1).max(axis=1)
        credit = _floor_mul_div_array(independent - correlated, np.int64(portfolio.correlation_credit_bps), BPS)
        scan += independent - credit
    covered = scan + charges
    return PortfolioArrays(
        losses=losses,
        worst=losses.argmax(axis=2),
        net=net,
        hedged=hedged,
        basis=basis,
        charges=charges,
        scan=scan,
        unmapped=unmapped,
        initial=covered + unmapped,
        maintenance=_ceil_mul_div_array(covered, np.int64(portfolio.maintenance_bps), BPS) + unmapped,
    )


def with_volatility(
    params: UnderlyingParams, daily_vol: float, horizon_days: float = 2.0, confidence: float = 0.99
) -> UnderlyingParams:
    """`params` with the shock moved toward z x sigma x sqrt(horizon) (rounded up to a basis point, as haircuts
    are), by at most one step and within the underlying's [min, max]: what the risk manager's key may push, so a
    stolen key can widen or narrow the grid only inside governance's bounds."""
    target = min(max(haircut_bps(daily_vol, horizon_days, confidence, 0), params.min_shock_bps), params.max_shock_bps)
    step = max(min(target - params.shock_bps, params.max_shock_step_bps), -params.max_shock_step_bps)
    return replace(params, shock_bps=params.shock_bps + step)


def explain_lines(book: ExactPortfolio, layout: Layout, portfolio: PortfolioParams, decimals: int = 6) -> list[str]:
    """What `primevault risk explain` prints: per underlying the worst scenario and what each leg loses in it,
    the charges, the correlation credit and the totals (amounts in whole base tokens, exactly: rounded to the cent,
    legs whose losses fall between cents would not add up to their underlying's, nor the totals to their parts)."""

    def amount(units: int) -> str:
        return format_exact(units, decimals)

    lines = []
    for r in book.underlyings:
        p = portfolio.underlyings[r.underlying]
        label = SCENARIO_LABELS[r.worst]
        lines.append(
            f"{layout.underlyings[r.underlying]}: worst {label} ({_move_text(p, r.worst)}), loss {amount(r.worst_loss)}"
        )
        lines.extend(
            f"  {layout.leg_name(leg.leg)}: notional {amount(leg.notional)}, loses {amount(leg.losses[r.worst])}"
            for leg in r.legs
        )
        lines.append(
            f"  net {amount(r.net)} x {p.net_charge_bps} bps = {amount(r.net_charge)}; "
            f"hedged {amount(r.hedged)} x {p.hedged_charge_bps} bps = {amount(r.hedged_charge)}; "
            f"across venues {amount(r.basis)} x {p.basis_charge_bps} bps = {amount(r.basis_charge)}"
        )
    for g in book.groups:
        lines.append(
            f"group {g.group}: independent {amount(g.independent)}, together {amount(g.correlated_loss)} "
            f"at {SCENARIO_LABELS[g.worst]}, credit {amount(g.credit)}, scan {amount(g.scan)}"
        )
    lines.extend(
        f"{layout.leg_name(leg)}: {amount(value)} counts for nothing (its asset is mapped to no underlying)"
        for leg, value in book.unmapped
    )
    unmapped = f" + unmapped collateral {amount(book.unmapped_value)}" if book.unmapped else ""
    lines.append(
        f"initial {amount(book.initial)} = scan {amount(book.scan)} + charges {amount(book.charges)}{unmapped}; "
        f"maintenance {amount(book.maintenance)}"
    )
    return lines


@dataclass(frozen=True)
class Cut:
    """Reduce one leg: `amount` token units of collateral asset `asset`, or `amount` (WAD, a magnitude) of the
    position in `slot`. `hedge`: False while the cut reduces net exposure, True once it unwinds a hedged pair."""

    asset: int | None
    slot: int | None
    amount: int
    hedge: bool


def deleverage(
    balances: Sequence[int],
    positions: Sequence[tuple[int, int, int, int]],
    params: RiskParameters,
    layout: Layout,
    portfolio: PortfolioParams,
    target: int,
) -> tuple[Cut, ...]:
    """The least cut, along a fixed order, that brings the maintenance requirement to `target` or below. The order
    takes net exposure away first (per underlying, riskiest first: perp legs at venues on the net's side, then
    collateral, never a leg of the other side), and only then unwinds hedged pairs, both sides by the same notional
    (cross-venue pairs first, since they carry the basis charge): a hedge leg is never cut while the exposure it
    hedges is still open, so deleverage cannot leave collateral naked by closing its short. Along the order the
    requirement only falls (the correlation credit is at most half for this), so the least cut is found by
    bisection on the notional cut, each candidate evaluated with `exact_portfolio`."""
    book = exact_portfolio(balances, positions, params, layout, portfolio)
    if book.maintenance <= target:
        return ()
    plan = _plan(book, len(layout.asset_symbols))
    lo, hi = 0, sum(amount for _, _, amount in plan)
    while lo < hi:
        mid = (lo + hi) // 2
        cut_balances, cut_positions, _ = _apply(plan, mid, balances, positions, params, len(layout.asset_symbols))
        if exact_portfolio(cut_balances, cut_positions, params, layout, portfolio).maintenance <= target:
            hi = mid
        else:
            lo = mid + 1
    return _apply(plan, hi, balances, positions, params, len(layout.asset_symbols))[2]


# A plan step: (legs cut together, hedge?, notional of each). A net step cuts one leg, a hedge step a long and a short.
_Step = tuple[tuple[int, ...], bool, int]


def _plan(book: ExactPortfolio, assets: int) -> list[_Step]:
    # Collateral the rule gives no credit first: all of its value is requirement.
    steps: list[_Step] = [((leg,), False, value) for leg, value in book.unmapped if value]
    left = {leg.leg: abs(leg.notional) for r in book.underlyings for leg in r.legs}
    by_risk = sorted(book.underlyings, key=lambda r: (-(r.worst_loss + r.net_charge), r.underlying))
    for r in by_risk:
        sign = 1 if r.net > 0 else -1
        venue_net = _venue_nets(r.legs, assets)
        # On the net's side: perp legs at venues whose own exposure has the net's sign, then collateral, then the rest.
        side = sorted(
            (leg for leg in r.legs if leg.notional * sign > 0),
            key=lambda leg: (
                leg.leg < assets or venue_net[(leg.leg - assets) % MAX_VENUES] * sign <= 0,
                leg.leg >= assets,
                -abs(leg.notional),
                leg.leg,
            ),
        )
        remaining = abs(r.net)
        for leg in side:
            take = min(remaining, left[leg.leg])
            if take:
                steps.append(((leg.leg,), False, take))
                left[leg.leg] -= take
                remaining -= take
    for r in sorted(book.underlyings, key=lambda r: (-(r.hedged_charge + r.basis_charge), r.underlying)):
        longs = sorted((leg for leg in r.legs if leg.notional > 0), key=lambda leg: (leg.leg < assets, leg.leg))
        shorts = sorted((leg for leg in r.legs if leg.notional < 0), key=lambda leg: (-abs(leg.notional), leg.leg))
        i = j = 0
        while i < len(longs) and j < len(shorts):
            a, b = longs[i].leg, shorts[j].leg
            take = min(left[a], left[b])
            if take:
                steps.append(((a, b), True, take))
                left[a] -= take
                left[b] -= take
            i += left[a] == 0
            j += left[b] == 0
    return steps


def _venue_nets(legs: Sequence[LegRisk], assets: int) -> list[int]:
    """Each venue's net perp notional over the legs of one underlying (its markets netted at the venue)."""
    nets = [0] * MAX_VENUES
    for leg in legs:
        if leg.leg >= assets:
            nets[(leg.leg - assets) % MAX_VENUES] += leg.notional
    return nets


def _apply(
    plan: Sequence[_Step],
    notional: int,
    balances: Sequence[int],
    positions: Sequence[tuple[int, int, int, int]],
    params: RiskParameters,
    assets: int,
) -> tuple[list[int], list[tuple[int, int, int, int]], tuple[Cut, ...]]:
    """The book after cutting the first `notional` of the plan, and the cuts in native units (a cut of a leg's
    whole notional takes the whole leg; a partial one is rounded up, so at least that notional goes)."""
    new_balances = list(balances)
    sizes = {slot: size for slot, size, _, _ in positions}
    cuts = []
    for legs, hedge, amount in plan:
        if notional <= 0:
            break
        take = min(amount, notional)
        notional -= take
        for leg in legs:
            if leg < assets:
                whole = collateral_value(new_balances[leg], params.prices[leg], params.scale_exponents[leg]) <= take
                units = _ceil_mul_div(take, 10 ** params.scale_exponents[leg], params.prices[leg])
                units = new_balances[leg] if whole else min(units, new_balances[leg])
                new_balances[leg] -= units
                cuts.append(Cut(leg, None, units, hedge))
            else:
                slot = leg - assets
                mark = params.perp_marks[slot // MAX_VENUES]
                size = sizes[slot]
                whole = abs(perp_notional(size, mark)) <= take
                units = abs(size) if whole else min(_ceil_mul_div(take, PERP_NOTIONAL_DIVISOR, mark), abs(size))
                sizes[slot] = size - units if size > 0 else size + units
                cuts.append(Cut(None, slot, units, hedge))
    new_positions = [(slot, sizes[slot], entry, funding) for slot, _, entry, funding in positions if sizes[slot]]
    return new_balances, new_positions, tuple(cuts)


def _leg_notionals(
    balances: Sequence[int], positions: Sequence[tuple[int, int, int, int]], params: RiskParameters
) -> dict[int, int]:
    assets = len(balances)
    legs = {i: collateral_value(b, params.prices[i], params.scale_exponents[i]) for i, b in enumerate(balances) if b}
    for slot, size, _, _ in positions:
        if size:
            legs[assets + slot] = perp_notional(size, params.perp_marks[slot // MAX_VENUES])
    return legs


def _exposures(collateral: int, venues: Sequence[int]) -> tuple[int, int, int]:
    """Net, hedged and cross-venue hedged exposure of one underlying. Collateral sits in the vault and offsets any
    venue's short without a transfer; a venue long offsets a short at another venue only through the venues (the
    losing one is topped up while the winning one's margin is withdrawn, which takes hours), so that part is the
    basis exposure, counted after the collateral has covered what it can."""
    venue_long = sum(e for e in venues if e > 0)
    venue_short = sum(-e for e in venues if e < 0)
    long = collateral + venue_long
    return long - venue_short, min(long, venue_short), min(venue_long, max(venue_short - collateral, 0))


def _move_text(params: UnderlyingParams, scenario: int) -> str:
    move = params.moves()[scenario]
    if scenario >= len(STEPS):
        sign = "-" if move < 0 else "+"
        return f"{sign}{params.tail_bps / 100:g}% at weight {params.tail_weight_bps / 100:g}%"
    return f"{move / MOVE_DENOMINATOR * 100:+.2f}%"


def _floor_mul_div(a: int, b: int, d: int) -> int:
    return a * b // d


def _ceil_mul_div(a: int, b: int, d: int) -> int:
    return -(-a * b // d)


def _floor_mul_div_array(a: IntArray, b: IntArray | np.int64, d: int) -> IntArray:
    """floor(a x b / d) in int64 without forming a x b: a = q d + r with 0 <= r < d, so the result is
    q b + floor(r b / d), and r b stays below d x max|b| (under 2^57 for the grid's d and moves)."""
    q, r = np.divmod(a, d)
    return np.asarray(q * b + (r * b) // d, dtype=np.int64)


def _ceil_mul_div_array(a: IntArray, b: IntArray | np.int64, d: int) -> IntArray:
    return -_floor_mul_div_array(-a, b, d)

"""Portfolio margin (issue 13): the vectorized engine against its exact integer twin on random books, the figures
of issue 13 section 2 under the default parameters (against the standard rule of the local deployment), explain,
the parameters' bounds and volatility moves, and the deleverage order."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from keeper.devnet.deploy import LOCAL_COLLATERAL, LOCAL_MARKETS
from keeper.exceptions import ConfigError, InputError
from keeper.risk.health import MAX_VENUES, RiskParameters, exact_health
from keeper.risk.portfolio import (
    DEFAULT_UNDERLYINGS,
    NOTIONAL_LIMIT,
    SCENARIO_LABELS,
    UNMAPPED,
    Cut,
    ExactPortfolio,
    Layout,
    PortfolioParams,
    UnderlyingParams,
    compute_portfolio,
    deleverage,
    exact_portfolio,
    explain_lines,
    portfolio_health,
    with_volatility,
)

W = 10**18
USDC = 10**6
FEED_DECIMALS = 8
LAYOUT = Layout.from_symbols([c.symbol for c in LOCAL_COLLATERAL], [m.ticker for m in LOCAL_MARKETS])
PORTFOLIO = LAYOUT.params()
# The local deployment's standard rule (keeper/devnet/deploy.py): haircuts 20% / 15%, perp margins 10% / 5%.
PARAMS = RiskParameters(
    prices=[c.price * 10**FEED_DECIMALS for c in LOCAL_COLLATERAL],
    scale_exponents=[c.decimals + FEED_DECIMALS - 6 for c in LOCAL_COLLATERAL],
    initial_haircut_bps=[c.initial_haircut_bps for c in LOCAL_COLLATERAL],
    maintenance_haircut_bps=[c.maintenance_haircut_bps for c in LOCAL_COLLATERAL],
    perp_marks=[3000 * W if m.feed_symbol == "WETH" else 60_000 * W for m in LOCAL_MARKETS],
    perp_initial_bps=[m.initial_margin_bps for m in LOCAL_MARKETS],
    perp_maintenance_bps=[m.maintenance_margin_bps for m in LOCAL_MARKETS],
    funding_indexes=[0] * (len(LOCAL_MARKETS) * MAX_VENUES),
)
WETH, WBTC = 0, 1
BTC_MARKET, ETH_MARKET = (next(i for i, m in enumerate(LOCAL_MARKETS) if m.ticker == t) for t in ("BTC-USD", "ETH-USD"))
ETH, BTC = LAYOUT.underlyings.index("ETH"), LAYOUT.underlyings.index("BTC")

Position = tuple[int, int, int, int]


def _slot(market: int, venue: int) -> int:
    return market * MAX_VENUES + venue


def _position(market: int, venue: int, size: int) -> Position:
    return (_slot(market, venue), size, PARAMS.perp_marks[market], 0)


def _sizes(positions: list[Position]) -> list[int]:
    sizes = [0] * PARAMS.slots
    for slot, size, _, _ in positions:
        sizes[slot] = size
    return sizes


def _both(balances: list[int], positions: list[Position], params: RiskParameters = PARAMS) -> ExactPortfolio:
    """The exact requirement, checked against the vectorized one on the same book."""
    exact = exact_portfolio(balances, positions, params, LAYOUT, PORTFOLIO)
    arrays = compute_portfolio([balances], [_sizes(positions)], params, LAYOUT, PORTFOLIO)
    assert (int(arrays.initial[0]), int(arrays.maintenance[0])) == (exact.initial, exact.maintenance)
    return exact


# A hedged basket: 10 WETH and 1 WBTC of collateral, ETH short 12 at venue 0 and long 4 at venue 1, BTC short 1.2
# at venue 1 and long 0.3 at venue 0: 2 ETH and 0.1 BTC net long, the rest hedged, part of it across venues.
BASKET_BALANCES = [10 * W, 10**8]
BASKET = [
    _position(ETH_MARKET, 0, -12 * W),
    _position(ETH_MARKET, 1, 4 * W),
    _position(BTC_MARKET, 1, -12 * W // 10),
    _position(BTC_MARKET, 0, 3 * W // 10),
]


def _amount(rng: np.random.Generator, high: int) -> int:
    """A uniform integer in [0, high) beyond int64, from two draws."""
    return (int(rng.integers(0, 2**62)) * 2**62 + int(rng.integers(0, 2**62))) % high


def _random_underlying(rng: np.random.Generator, group: int) -> UnderlyingParams:
    low = int(rng.integers(100, 2000))
    high = int(rng.integers(low, 5001))
    return UnderlyingParams(
        shock_bps=int(rng.integers(low, high + 1)),
        min_shock_bps=low,
        max_shock_bps=high,
        max_shock_step_bps=500,
        tail_bps=int(rng.integers(100, 9001)),
        tail_weight_bps=int(rng.integers(0, 10_001)),
        net_charge_bps=int(rng.integers(100, 2001)),
        hedged_charge_bps=int(rng.integers(50, 1001)),
        basis_charge_bps=int(rng.integers(50, 1001)),
        group=group,
    )


@pytest.mark.parametrize(
    ("seed", "layout"), [(1, LAYOUT), (2, LAYOUT), (3, replace(LAYOUT, asset_underlying=(0, UNMAPPED)))]
)
def test_vectorized_engine_equals_the_exact_twin_on_random_books(seed: int, layout: Layout) -> None:
    """Seed 3's WBTC is listed but not mapped: it counts for nothing in both engines."""
    rng = np.random.default_rng(seed)
    n = 1500
    # Odd prices and marks, so that values, notionals and losses round.
    params = replace(
        PARAMS,
        prices=[int(rng.integers(1_000, 5_000) * 10**8 + rng.integers(0, 10**8)) for _ in LOCAL_COLLATERAL],
        perp_marks=[int(rng.integers(1_000, 70_000)) * W + int(rng.integers(0, W)) for _ in LOCAL_MARKETS],
    )
    portfolio = PortfolioParams(
        (_random_underlying(rng, 0), _random_underlying(rng, int(rng.integers(0, 2)))),
        maintenance_bps=int(rng.integers(2500, 9001)),
        correlation_credit_bps=int(rng.integers(0, 5001)),
    )
    balances = [
        [_amount(rng, 50 * 10**c.decimals) if rng.random() < 0.6 else 0 for c in LOCAL_COLLATERAL] for _ in range(n)
    ]
    # Up to 20 ETH or 1 BTC a slot, long or short, in a third of the slots.
    sizes = [
        [
            _amount(rng, (20 if s // MAX_VENUES == ETH_MARKET else 1) * W) * int(rng.choice([-1, 1]))
            for s in range(PARAMS.slots)
        ]
        for _ in range(n)
    ]
    sizes = [[x if rng.random() < 0.35 else 0 for x in row] for row in sizes]
    arrays = compute_portfolio(balances, sizes, params, layout, portfolio)
    hedged_books = 0
    for i in range(n):
        positions = [(slot, size, 0, 0) for slot, size in enumerate(sizes[i]) if size]
        exact = exact_portfolio(balances[i], positions, params, layout, portfolio)
        assert (exact.initial, exact.maintenance, exact.scan, exact.charges, exact.unmapped_value) == (
            arrays.initial[i],
            arrays.maintenance[i],
            arrays.scan[i],
            arrays.charges[i],
            arrays.unmapped[i],
        ), f"account {i}"
        for r in exact.underlyings:
            u = r.underlying
            assert list(r.losses) == arrays.losses[i, u].tolist()
            assert (r.worst, r.net, r.hedged, r.basis) == (
                arrays.worst[i, u],
                arrays.net[i, u],
                arrays.hedged[i, u],
                arrays.basis[i, u],
            )
            hedged_books += r.hedged > 0 and r.basis > 0
    assert hedged_books > n // 4, "the sample has books hedged across venues"


def test_an_unmapped_asset_counts_for_nothing_and_is_cut_first() -> None:
    """WBTC listed but not mapped: its value is added to both requirements (the contract's
    `test_unmappedCollateralCountsForNothing`), `explain` says so, and deleverage takes it before any hedge."""
    layout = replace(LAYOUT, asset_underlying=(LAYOUT.asset_underlying[WETH], UNMAPPED))
    hedge = [_position(ETH_MARKET, 0, -10 * W)]
    without = exact_portfolio([10 * W, 0], hedge, PARAMS, layout, PORTFOLIO)
    book = exact_portfolio([10 * W, 10**8], hedge, PARAMS, layout, PORTFOLIO)
    wbtc = 60_000 * USDC
    assert book.unmapped == ((WBTC, wbtc),)
    assert (book.initial, book.maintenance) == (without.initial + wbtc, without.maintenance + wbtc)
    arrays = compute_portfolio([[10 * W, 10**8]], [_sizes(hedge)], PARAMS, layout, PORTFOLIO)
    assert (int(arrays.initial[0]), int(arrays.maintenance[0])) == (book.initial, book.maintenance)
    assert "WBTC collateral: 60,000.00 counts for nothing (its asset is mapped to no underlying)" in explain_lines(
        book, layout, PORTFOLIO
    )
    cuts = deleverage([10 * W, 10**8], hedge, PARAMS, layout, PORTFOLIO, target=without.maintenance)
    assert cuts == (Cut(WBTC, None, 10**8, hedge=False),), "the WBTC goes, the hedged WETH stays"
    with pytest.raises(InputError, match="maps every market"):
        replace(LAYOUT, market_underlying=(UNMAPPED,) * len(LOCAL_MARKETS))


def test_the_vectorized_engine_refuses_books_beyond_int64() -> None:
    huge = (NOTIONAL_LIMIT // (3000 * USDC) + 1) * W  # WETH worth just over the limit
    with pytest.raises(InputError, match="exact_portfolio"):
        compute_portfolio([[huge, 0]], [[0] * PARAMS.slots], PARAMS, LAYOUT, PORTFOLIO)
    assert exact_portfolio([huge, 0], [], PARAMS, LAYOUT, PORTFOLIO).initial > NOTIONAL_LIMIT // 10


def test_collateral_hedged_by_a_short_perp_needs_half_a_percent() -> None:
    """Issue 13 section 2: 10 WETH with a 10 ETH short perp, maintenance at most 1.25% of notional."""
    balances, positions = [10 * W, 0], [_position(ETH_MARKET, 0, -10 * W)]
    book = _both(balances, positions)
    notional = 30_000 * USDC
    assert book.scan == 0, "no scenario loses: the legs offset exactly"
    assert book.initial == 300 * USDC  # the 1% hedged charge on 30,000
    assert book.maintenance == 150 * USDC  # 0.5% of notional
    assert book.maintenance * 10_000 <= 125 * notional
    standard = exact_health(0, balances, PARAMS, positions)
    assert standard.maintenance_requirement == 6_000 * USDC  # 15% haircut + 5% perp margin
    assert standard.initial_requirement == 9_000 * USDC


def test_offsetting_perps_at_two_venues_pay_the_basis_charge_and_stay_under_one_and_a_quarter_percent() -> None:
    """Issue 13 section 2: a BTC long at one venue and the same short at another."""
    positions = [_position(BTC_MARKET, 0, W), _position(BTC_MARKET, 1, -W)]
    book = _both([0, 0], positions)
    (btc,) = book.underlyings
    assert (btc.net, btc.hedged, btc.basis) == (0, 60_000 * USDC, 60_000 * USDC)
    assert (btc.hedged_charge, btc.basis_charge) == (600 * USDC, 750 * USDC)
    assert book.initial == 1_350 * USDC  # 2.25% of one leg's notional
    assert book.maintenance == 675 * USDC  # 1.125%
    assert book.maintenance * 10_000 <= 125 * 60_000 * USDC
    standard = exact_health(0, [0, 0], PARAMS, positions)
    assert standard.initial_requirement == 12_000 * USDC  # each venue margins its leg alone: 10% of each


def test_a_hedged_basket_needs_over_ninety_percent_less_than_the_standard_rule() -> None:
    """Issue 13 section 2: ETH and BTC legs with partial offsets, at least 75% below the standard rule."""
    book = _both(BASKET_BALANCES, BASKET)
    eth, btc = (next(r for r in book.underlyings if r.underlying == u) for u in (ETH, BTC))
    assert (eth.net, eth.hedged, eth.basis) == (6_000 * USDC, 36_000 * USDC, 6_000 * USDC)
    assert (btc.net, btc.hedged, btc.basis) == (6_000 * USDC, 72_000 * USDC, 12_000 * USDC)
    assert (SCENARIO_LABELS[eth.worst], eth.worst_loss) == ("-T", 630 * USDC)  # 6,000 x 30% x 35%
    assert (SCENARIO_LABELS[btc.worst], btc.worst_loss) == ("-S", 480 * USDC)  # 6,000 x 8%
    assert (eth.charges, btc.charges) == (555 * USDC, 990 * USDC)
    (group,) = book.groups
    assert (group.independent, group.correlated_loss, group.credit) == (1_110 * USDC, 1_080 * USDC, 15 * USDC)
    assert (book.scan, book.initial, book.maintenance) == (1_095 * USDC, 2_640 * USDC, 1_320 * USDC)
    standard = exact_health(0, BASKET_BALANCES, PARAMS, BASKET)
    assert (standard.initial_requirement, standard.maintenance_requirement) == (31_800 * USDC, 20_400 * USDC)
    assert book.maintenance * 4 <= standard.maintenance_requirement  # at least 75% less (93.5%)
    assert book.initial * 4 <= standard.initial_requirement  # (91.7%)


def test_a_naked_position_pays_its_worst_scenario_and_the_net_charge() -> None:
    book = _both([10 * W, 0], [])
    (eth,) = book.underlyings
    assert (SCENARIO_LABELS[eth.worst], eth.worst_loss, eth.net_charge) == ("-T", 3_150 * USDC, 600 * USDC)
    assert (book.initial, book.maintenance) == (3_750 * USDC, 1_875 * USDC)  # 12.5% and 6.25% of 30,000
    standard = exact_health(0, [10 * W, 0], PARAMS)
    assert (standard.initial_requirement, standard.maintenance_requirement) == (6_000 * USDC, 4_500 * USDC)
    short_book = [_position(BTC_MARKET, 2, -W)]
    short = _both([0, 0], short_book)
    assert (SCENARIO_LABELS[short.underlyings[0].worst], short.initial) == ("+S", 6_000 * USDC)  # 8% + 2%
    assert short.maintenance == exact_health(0, [0, 0], PARAMS, short_book).maintenance_requirement == 3_000 * USDC


def test_rounding_favours_the_protocol() -> None:
    """Each leg's loss rounds up and its gain down, so a hedge at a price that does not divide evenly needs a
    little more, never less, and no scenario of an exact hedge shows a gain."""
    price = 3_000 * 10**8 - 1  # 2,999.99999999 in the feed's 8 decimals, the same mark in WAD
    params = replace(PARAMS, prices=[price, PARAMS.prices[1]], perp_marks=[PARAMS.perp_marks[0], price * 10**10])
    book = _both([W + 7, 0], [(_slot(ETH_MARKET, 0), -(W + 7), 0, 0)], params)
    (eth,) = book.underlyings
    assert min(eth.losses) >= 0 and max(eth.losses) > 0


def test_correlation_credit_offsets_opposite_underlyings_partly() -> None:
    """Long ETH, short BTC: moved alone each loses; moved together they offset, and half the difference is
    credited. Without the credit the scan is the sum of the worst losses."""
    positions = [_position(ETH_MARKET, 0, 10 * W), _position(BTC_MARKET, 1, -W // 2)]
    book = _both([0, 0], positions)
    (group,) = book.groups
    assert group.independent == 3_150 * USDC + 2_400 * USDC  # ETH's tail, BTC's +8% on 30,000
    assert group.correlated_loss == 3_150 * USDC - 2_100 * USDC  # both tails down: BTC's short gains 7%
    assert group.credit == (group.independent - group.correlated_loss) // 2 == 2_250 * USDC
    assert (book.scan, book.initial, book.maintenance) == (3_300 * USDC, 4_500 * USDC, 2_250 * USDC)
    standard = exact_health(0, [0, 0], PARAMS, positions)
    assert (standard.initial_requirement, standard.maintenance_requirement) == (6_000 * USDC, 3_000 * USDC)
    apart = replace(PORTFOLIO, correlation_credit_bps=0)
    assert exact_portfolio([0, 0], positions, PARAMS, LAYOUT, apart).scan == group.independent
    split = replace(PORTFOLIO, underlyings=(PORTFOLIO.underlyings[ETH], replace(PORTFOLIO.underlyings[BTC], group=1)))
    assert exact_portfolio([0, 0], positions, PARAMS, LAYOUT, split).scan == group.independent


def test_a_book_long_in_every_underlying_is_credited_where_their_worst_scenarios_differ() -> None:
    """docs/risk.md: 10 WETH and 1 WBTC, long in both. Alone ETH's worst is its weighted tail (3,150) and BTC's its
    -S (4,800); moved together no scenario has both at their worst (-S: 3,000 + 4,800), so 75 is credited. With
    both worst at -S (ETH's tail weight lowered to 30%: 9% < 10%) the long book gets no credit."""
    book = _both([10 * W, 10**8], [])
    (group,) = book.groups
    assert (group.independent, group.correlated_loss, group.credit) == (7_950 * USDC, 7_800 * USDC, 75 * USDC)
    assert (book.scan, book.initial) == (7_875 * USDC, 9_675 * USDC)
    eth_at_s = replace(PORTFOLIO.underlyings[ETH], tail_weight_bps=3000)
    aligned = replace(PORTFOLIO, underlyings=(eth_at_s, PORTFOLIO.underlyings[BTC]))
    (group,) = exact_portfolio([10 * W, 10**8], [], PARAMS, LAYOUT, aligned).groups
    assert (group.independent, group.credit) == (7_800 * USDC, 0)


def test_portfolio_health_uses_the_standard_equity_against_the_portfolio_requirement() -> None:
    base = -(90_000 - 1_320) * USDC  # equity exactly at the basket's maintenance requirement
    at = portfolio_health(base, BASKET_BALANCES, PARAMS, BASKET, LAYOUT, PORTFOLIO)
    assert (at.equity, at.maintenance_requirement, at.liquidatable) == (1_320 * USDC, 1_320 * USDC, False)
    assert portfolio_health(base - 1, BASKET_BALANCES, PARAMS, BASKET, LAYOUT, PORTFOLIO).liquidatable
    assert exact_health(base, BASKET_BALANCES, PARAMS, BASKET).liquidatable, "the standard rule liquidates it"


def test_explain_names_the_worst_scenario_and_each_legs_part() -> None:
    book = exact_portfolio(BASKET_BALANCES, BASKET, PARAMS, LAYOUT, PORTFOLIO)
    for r in book.underlyings:
        assert sum(leg.losses[r.worst] for leg in r.legs) == r.worst_loss
    lines = explain_lines(book, LAYOUT, PORTFOLIO)
    assert lines[0] == "ETH: worst -T (-30% at weight 35%), loss 630.00"
    assert "  WETH collateral: notional 30,000.00, loses 3,150.00" in lines
    assert "  ETH-USD at venue 0: notional -36,000.00, loses -3,780.00" in lines
    assert "BTC: worst -S (-8.00%), loss 480.00" in lines
    assert lines[-1] == "initial 2,640.00 = scan 1,095.00 + charges 1,545.00; maintenance 1,320.00"


def test_explain_prints_each_legs_loss_exactly_so_they_add_up() -> None:
    """Legs whose losses fall between cents: printed to the cent, the two legs' 4,674.285 and 1,909.215 read 4,674.28
    and 1,909.21, which add up to a cent less than the underlying's 6,583.50 printed beside them."""
    short = [_position(ETH_MARKET, 0, -14_839 * W // 1000), _position(ETH_MARKET, 1, -6_061 * W // 1000)]
    book = _both([0, 0], short)
    lines = explain_lines(book, LAYOUT, PORTFOLIO)
    assert lines[0] == "ETH: worst +T (+30% at weight 35%), loss 6,583.50"
    assert "  ETH-USD at venue 0: notional -44,517.00, loses 4,674.285" in lines
    assert "  ETH-USD at venue 1: notional -18,183.00, loses 1,909.215" in lines


def test_parameters_outside_their_bounds_are_refused() -> None:
    eth = DEFAULT_UNDERLYINGS["ETH"]
    with pytest.raises(ConfigError, match="shock_bps = 400"):
        replace(eth, shock_bps=400)
    with pytest.raises(ConfigError, match="hedged_charge_bps = 0"):
        replace(eth, hedged_charge_bps=0)  # a perfect hedge must pay something
    with pytest.raises(ConfigError, match="correlation_credit_bps"):
        PortfolioParams(PORTFOLIO.underlyings, correlation_credit_bps=6000)
    with pytest.raises(ConfigError, match="no portfolio parameters for SOL"):
        Layout.from_symbols(["WETH"], ["SOL-USD"]).params()


def test_groups_and_the_number_of_underlyings_are_bounded_as_on_chain() -> None:
    """PortfolioMargin.setUnderlying refuses a group above 15 and a 17th underlying (MAX_UNDERLYINGS = 16): the
    keeper's parameters are checked against the same bounds, so a rule the chain cannot hold is refused when built."""
    eth = DEFAULT_UNDERLYINGS["ETH"]
    assert replace(eth, group=15).group == 15
    with pytest.raises(ConfigError, match="group = 16"):
        replace(eth, group=16)
    with pytest.raises(ConfigError, match="group = -1"):
        replace(eth, group=-1)
    assert len(PortfolioParams((eth,) * 16).underlyings) == 16
    with pytest.raises(ConfigError, match="at most 16 underlyings, not 17"):
        PortfolioParams((eth,) * 17)


def test_volatility_moves_the_shock_by_a_step_within_the_bounds() -> None:
    eth = DEFAULT_UNDERLYINGS["ETH"]  # 10% now, [5%, 30%], 2.5% a step
    assert with_volatility(eth, 0.05).shock_bps == 1250  # z x 5% x sqrt(2) = 16.45%: one step up
    assert with_volatility(eth, 0.03).shock_bps == 987  # 9.87% is within a step
    calm = eth
    for _ in range(10):
        calm = with_volatility(calm, 0.001)
    assert calm.shock_bps == eth.min_shock_bps
    wild = eth
    for _ in range(10):
        wild = with_volatility(wild, 0.5)
    assert wild.shock_bps == eth.max_shock_bps


def _cut_book(
    balances: list[int], positions: list[Position], cuts: tuple[Cut, ...]
) -> tuple[list[int], list[Position]]:
    new_balances, sizes = list(balances), {slot: size for slot, size, _, _ in positions}
    for cut in cuts:
        if cut.asset is not None:
            new_balances[cut.asset] -= cut.amount
        else:
            assert cut.slot is not None
            size = sizes[cut.slot]
            assert 0 < cut.amount <= abs(size)
            sizes[cut.slot] = size - cut.amount if size > 0 else size + cut.amount
    return new_balances, [(slot, sizes[slot], e, f) for slot, _, e, f in positions if sizes[slot]]


def test_deleverage_cuts_net_exposure_and_leaves_the_hedge() -> None:
    """Collateral hedged by a short plus an unhedged ETH long at another venue: the long goes first, by just
    enough, and the short that hedges the collateral is not touched."""
    balances = [10 * W, 0]
    positions = [_position(ETH_MARKET, 0, -10 * W), _position(ETH_MARKET, 1, 5 * W)]
    target = 500 * USDC
    assert exact_portfolio(balances, positions, PARAMS, LAYOUT, PORTFOLIO).maintenance > target
    cuts = deleverage(balances, positions, PARAMS, LAYOUT, PORTFOLIO, target)
    assert exact_portfolio(balances, positions, PARAMS, LAYOUT, PORTFOLIO).maintenance == 1_087_500_000
    # 1.8667 ETH of net left: 5,600 x 10.5% + 2% of it + 1% of the 30,000 hedged = 1,000 initial, 500 maintenance.
    assert cuts == (Cut(None, _slot(ETH_MARKET, 1), 3_133_333_333_333_333_334, False),)
    after = _cut_book(balances, positions, cuts)
    assert exact_portfolio(*after, PARAMS, LAYOUT, PORTFOLIO).maintenance <= target
    fewer = replace(cuts[0], amount=cuts[0].amount - 10**15)  # a thousandth of an ETH less would not do
    assert exact_portfolio(*_cut_book(balances, positions, (fewer,)), PARAMS, LAYOUT, PORTFOLIO).maintenance > target
    assert deleverage(*after, PARAMS, LAYOUT, PORTFOLIO, target) == ()


def test_deleverage_unwinds_hedges_only_after_the_net_and_both_legs_together() -> None:
    cuts = deleverage(BASKET_BALANCES, BASKET, PARAMS, LAYOUT, PORTFOLIO, 200 * USDC)
    kinds = [c.hedge for c in cuts]
    assert kinds == sorted(kinds), "every net cut comes before any hedge cut"
    net_cuts = [c for c in cuts if not c.hedge]
    # ETH's net (2 ETH) first, from the long at venue 1; then BTC's (0.1 BTC) from the long at venue 0.
    assert [(c.slot, c.amount) for c in net_cuts] == [(_slot(ETH_MARKET, 1), 2 * W), (_slot(BTC_MARKET, 0), W // 10)]
    balances, positions = _cut_book(BASKET_BALANCES, BASKET, cuts)
    book = exact_portfolio(balances, positions, PARAMS, LAYOUT, PORTFOLIO)
    assert (book.initial, book.maintenance) == (400 * USDC, 200 * USDC)
    assert all(r.net == 0 for r in book.underlyings), "unwinding pairs keeps the book flat"
    assert [c for c in cuts if c.hedge][-2:] == [
        Cut(None, _slot(ETH_MARKET, 1), 518_518_533_333_333_334, True),
        Cut(None, _slot(ETH_MARKET, 0), 518_518_533_333_333_334, True),
    ], "ETH's cross-venue pair last, both sides alike"
    assert (balances, [p[:2] for p in positions]) == (
        [10 * W, 0],
        [
            (_slot(ETH_MARKET, 0), -12 * W + 518_518_533_333_333_334),
            (_slot(ETH_MARKET, 1), 2 * W - 518_518_533_333_333_334),
        ],
    ), "BTC unwound whole (WBTC with its short), the WETH and most of its short kept"
    # Everything cut: the whole book goes, net first.
    everything = deleverage(BASKET_BALANCES, BASKET, PARAMS, LAYOUT, PORTFOLIO, -1)
    assert _cut_book(BASKET_BALANCES, BASKET, everything) == ([0, 0], [])

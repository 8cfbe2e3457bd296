"""The vectorized risk engine against the exact integer reference, on random and on-threshold portfolios."""

from __future__ import annotations

import numpy as np

from keeper.risk.health import RiskParameters, compute_health, exact_health

PARAMS = RiskParameters(
    prices=[3000 * 10**8, 60_000 * 10**8],
    scale_exponents=[18 + 8 - 6, 8 + 8 - 6],
    initial_haircut_bps=[2000, 2000],
    maintenance_haircut_bps=[1500, 1500],
)


def _random_portfolios(rng: np.random.Generator, n: int) -> tuple[list[int], list[list[int]]]:
    weth = rng.integers(0, 50 * 10**6, n).astype(object) * 10**12
    wbtc = rng.integers(0, 3 * 10**8, n).astype(object)
    balances = [[int(a), int(b)] for a, b in zip(weth, wbtc, strict=True)]
    base = [int(x) for x in rng.integers(-400_000 * 10**6, 50_000 * 10**6, n)]
    return base, balances


def _on_threshold(balances: list[list[int]]) -> list[int]:
    """Base balances that put each portfolio exactly at its maintenance requirement (equity == requirement)."""
    result = []
    for b in balances:
        h = exact_health(0, b, PARAMS)
        result.append(h.maintenance_requirement - h.collateral_value)
    return result


def test_vectorized_matches_exact_on_random_portfolios() -> None:
    rng = np.random.default_rng(1)
    base, balances = _random_portfolios(rng, 5000)
    health = compute_health(np.array(base, dtype=float), np.array(balances, dtype=float), PARAMS)
    exact = [exact_health(b, bal, PARAMS) for b, bal in zip(base, balances, strict=True)]
    screened = health.liquidatable.copy()
    for i in np.flatnonzero(health.near_threshold):
        screened[i] = exact[i].liquidatable
    assert list(screened) == [e.liquidatable for e in exact]
    assert 0 < screened.sum() < len(base), "the sample has both healthy and liquidatable accounts"
    np.testing.assert_allclose(health.equity, [e.equity for e in exact], rtol=1e-9, atol=2)


def test_accounts_exactly_at_the_threshold_are_not_liquidatable() -> None:
    rng = np.random.default_rng(2)
    _, balances = _random_portfolios(rng, 500)
    balances = [b for b in balances if sum(b) > 0]
    at = _on_threshold(balances)
    for base, bal in zip(at, balances, strict=True):
        assert not exact_health(base, bal, PARAMS).liquidatable
        assert exact_health(base - 1, bal, PARAMS).liquidatable
    health = compute_health(np.array(at, dtype=float), np.array(balances, dtype=float), PARAMS)
    assert health.near_threshold.all(), "every on-threshold account is sent to exact confirmation"


def test_accounts_without_debt_are_never_liquidatable() -> None:
    health = compute_health(np.array([0.0, 5.0]), np.array([[0.0, 0.0], [1e18, 0.0]]), PARAMS)
    assert not health.liquidatable.any()


def test_a_perp_requirement_is_never_below_its_exact_value() -> None:
    # 0.5 BTC at a mark one wei above 60,000: the exact maintenance is 1,500 USDC and 2.5e-14 of a unit. A notional
    # rounded down to the wei (as the contract once did) lost that fraction and asked exactly 1,500.000000.
    mark = 60_000 * 10**18 + 1
    params = RiskParameters([], [], [], [], [mark], [1000], [500], [0] * 4)
    health = exact_health(0, [], params, [(0, 5 * 10**17, mark, 0)])
    assert health.maintenance_requirement == 1_500_000_001
    assert health.initial_requirement == 3_000_000_001

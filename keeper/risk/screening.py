"""Which accounts of a book are due for liquidation at given prices: the vectorized health pass, accounts that cannot
be priced left out, and exact integer confirmation of the few near the threshold. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from keeper.risk.account_book import AccountBook
from keeper.risk.health import MAX_VENUES, HealthArrays, RiskParameters, compute_health, exact_health

IndexArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class Screen:
    health: HealthArrays
    due: IndexArray  # rows below maintenance, most underwater first
    unpriced: IndexArray  # rows left out: they hold an asset or trade a market without a usable price


def screen(
    book: AccountBook,
    params: RiskParameters,
    bad_assets: Sequence[int] = (),
    bad_markets: Collection[int] = (),
    interest_indexes: tuple[int, int] | None = None,
) -> Screen:
    """Screens every account of `book` at `params`; `bad_assets` (collateral indexes) and `bad_markets` (market ids)
    have no usable price, so the accounts holding or trading them cannot be judged (the vault skips them too).
    With `interest_indexes` (the vault's supply and borrow index now), base balances read at earlier indexes are
    brought to them first."""
    n = len(book)
    collateral = book.collateral_floats
    base = book.base_floats if interest_indexes is None else book.present_base_floats(*interest_indexes)
    health = compute_health(base, collateral, params, book.perp(params.slots))
    unpriced = collateral[:, list(bad_assets)].sum(axis=1) > 0 if bad_assets else np.zeros(n, dtype=bool)
    if bad_markets:
        markets = book.position_slots // MAX_VENUES
        unpriced[book.position_rows[np.isin(markets, list(bad_markets))]] = True
    due = health.liquidatable & ~unpriced
    # Judged exactly: those near the line, and those trading where a venue cannot report its funding index (the
    # vectorized pass cannot leave out their funding, which the vault's liquidation does).
    exact = health.near_threshold.copy()
    if params.unreadable_funding:
        exact[book.position_rows[np.isin(book.position_slots, list(params.unreadable_funding))]] = True
    for row in np.flatnonzero(exact & ~unpriced).tolist():
        exact_base, balances, positions = book.exact_row(row)
        if interest_indexes is not None:
            exact_base = book.present_base(row, *interest_indexes)
        judged = exact_health(exact_base, balances, params, positions)
        due[row] = judged.liquidatable
        # The exact figures replace the floats, which the order below and the reports read.
        health.unrealized_pnl[row] = judged.unrealized_pnl
        health.equity[row] = judged.equity
        health.initial_requirement[row] = judged.initial_requirement
        health.maintenance_requirement[row] = judged.maintenance_requirement
        health.liquidatable[row] = judged.liquidatable
    rows = np.flatnonzero(due)
    order = np.argsort((health.equity - health.maintenance_requirement)[rows], kind="stable")
    return Screen(health, rows[order].astype(np.intp), np.flatnonzero(unpriced).astype(np.intp))


def closest_to_liquidation(
    book: AccountBook, health: HealthArrays, limit: int, judged: Mapping[int, tuple[int, int]] | None = None
) -> list[tuple[int, float]]:
    """The `limit` accounts that borrow or hold positions with the lowest equity over maintenance requirement (1 is
    the liquidation line), as (row, ratio), lowest first: what a risk desk watches. `judged` gives, by row, the
    (equity, maintenance requirement) of the accounts another rule judges (portfolio mode) in place of `health`'s."""
    equity, maintenance = health.equity, health.maintenance_requirement
    if judged:
        equity, maintenance = equity.copy(), maintenance.copy()
        for row, (row_equity, row_maintenance) in judged.items():
            equity[row], maintenance[row] = row_equity, row_maintenance
    exposed = (book.base_floats < 0) | (book.slot_counts() > 0)
    rows = np.flatnonzero(exposed & (maintenance > 0))
    ratios = equity[rows] / maintenance[rows]
    order = np.argsort(ratios, kind="stable")[:limit]
    return [(int(rows[i]), float(ratios[i])) for i in order]

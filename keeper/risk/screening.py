"""Which accounts of a book are due for liquidation at given prices: the vectorized health pass, accounts that cannot
be priced left out, and exact integer confirmation of the few near the threshold. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from keeper.risk.account_book import AccountBook
from keeper.risk.health import MAX_VENUES, BoolArray, HealthArrays, RiskParameters, compute_health, exact_health

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
    collateral = book.collateral_floats
    base = book.base_floats if interest_indexes is None else book.present_base_floats(*interest_indexes)
    health = compute_health(base, collateral, params, book.perp(params.slots))
    unpriced = _unpriced(book, bad_assets, bad_markets)
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


def _unpriced(book: AccountBook, bad_assets: Sequence[int], bad_markets: Collection[int]) -> BoolArray:
    """The rows that hold a collateral asset of `bad_assets` or trade a market of `bad_markets`."""
    unpriced = book.collateral_floats[:, list(bad_assets)].sum(axis=1) > 0 if bad_assets else np.zeros(len(book), bool)
    if bad_markets:
        markets = book.position_slots // MAX_VENUES
        unpriced[book.position_rows[np.isin(markets, list(bad_markets))]] = True
    return unpriced


@dataclass(frozen=True)
class Unpriced:
    """An account that borrows or trades but whose health cannot be computed: it holds collateral or trades a market
    without a usable price (the vault cannot judge it either)."""

    row: int
    assets: tuple[int, ...]  # collateral indexes it holds without a usable price
    markets: tuple[int, ...]  # market ids it trades without a usable mark


@dataclass(frozen=True)
class Watchlist:
    """What a risk desk watches: the accounts nearest the liquidation line, and those that cannot be valued."""

    closest: list[tuple[int, float]]  # (row, equity over maintenance requirement), lowest first
    unpriced: list[Unpriced]  # largest debt first
    unpriced_count: int  # of every exposed account that cannot be valued, `unpriced` being the first few


def closest_to_liquidation(
    book: AccountBook,
    health: HealthArrays,
    limit: int,
    judged: Mapping[int, tuple[int, int]] | None = None,
    bad_assets: Sequence[int] = (),
    bad_markets: Collection[int] = (),
) -> Watchlist:
    """What a risk desk watches among the accounts that borrow or hold positions: the `limit` with the lowest equity
    over maintenance requirement (1 is the liquidation line), and, apart, the `limit` that cannot be valued because
    they hold one of `bad_assets` or trade one of `bad_markets` (no usable price: `health` read it as 0, so their
    figures there are not their health). `judged` gives, by row, the (equity, maintenance requirement) of the
    accounts another rule judges (portfolio mode) in place of `health`'s."""
    equity, maintenance = health.equity, health.maintenance_requirement
    if judged:
        equity, maintenance = equity.copy(), maintenance.copy()
        for row, (row_equity, row_maintenance) in judged.items():
            equity[row], maintenance[row] = row_equity, row_maintenance
    exposed = (book.base_floats < 0) | (book.slot_counts() > 0)
    unpriced = _unpriced(book, bad_assets, bad_markets)
    rows = np.flatnonzero(exposed & ~unpriced & (maintenance > 0))
    ratios = equity[rows] / maintenance[rows]
    order = np.argsort(ratios, kind="stable")[:limit]
    blind = np.flatnonzero(exposed & unpriced)
    blind = blind[np.argsort(book.base_floats[blind], kind="stable")]
    return Watchlist(
        [(int(rows[i]), float(ratios[i])) for i in order],
        [_holding(book, int(row), bad_assets, bad_markets) for row in blind[:limit]],
        len(blind),
    )


def _holding(book: AccountBook, row: int, bad_assets: Sequence[int], bad_markets: Collection[int]) -> Unpriced:
    held = tuple(asset for asset in bad_assets if book.collateral_floats[row, asset] > 0)
    traded = {slot // MAX_VENUES for slot, *_ in book.positions_of(row)} & set(bad_markets)
    return Unpriced(row, held, tuple(sorted(traded)))

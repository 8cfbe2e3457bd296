"""Finding and liquidating unhealthy accounts: one paged read of every account, a vectorized health pass,
exact confirmation near the threshold, and liquidation batches sized to a gas budget."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from web3.types import BlockIdentifier

from keeper.client.clients import Clients
from keeper.client.lens import DEFAULT_PAGE_SIZE, AccountSnapshot, RiskState, follow_page_size, snapshots
from keeper.portfolio_rule import PortfolioRule
from keeper.risk.account_book import AccountBook
from keeper.risk.health import HealthArrays, RiskParameters
from keeper.risk.liquidation_gas import LiquidationGasModel
from keeper.risk.portfolio import Layout, PortfolioParams, portfolio_health
from keeper.risk.screening import screen

# What a batch is budgeted besides its accounts, and its transaction's limit includes: 21,000 intrinsic, the vault's
# dispatch, the first account's reads of a feed and a config, the batch's totals, reward and write-off, and the
# interest accrual that the mined block's first transaction writes but a simulation at the latest block may not.
LIQUIDATION_GAS_BASE = 140_000


@dataclass(frozen=True)
class Scan:
    """The outcome of one risk scan, all read at `block`."""

    block: int
    block_time: int
    book: AccountBook  # every account scanned, as columns
    params: RiskParameters
    health: HealthArrays
    liquidatable: list[str]  # most underwater first
    open_slots: Mapping[str, int]  # of each account in `liquidatable`, its open perp (market, venue) slots
    unusable_assets: tuple[str, ...] = ()  # collateral and perp markets whose price is unusable at `block`
    unpriced: frozenset[str] = frozenset()  # accounts left out because they hold or trade one of those
    # Row -> (equity, maintenance requirement), base units, of each account judged by the portfolio rule, whose
    # requirement is not the one in `health` (the standard rule's, for every row).
    portfolio_health: Mapping[int, tuple[int, int]] = field(default_factory=dict)

    @property
    def accounts(self) -> list[AccountSnapshot]:
        """Every account scanned as objects: for reports and tests, not for the per-block path."""
        return snapshots(self.book)


def risk_parameters(clients: Clients, block: BlockIdentifier = "latest") -> RiskParameters:
    """Prices (an unusable one reads as 0), haircuts, perp marks, margins and funding indexes at `block`, in one
    call of the lens."""
    return parameters(clients.lens.risk_state(block))


def parameters(state: RiskState) -> RiskParameters:
    """The health computation's inputs from the lens's risk state."""
    unreadable = state.unreadable_funding
    return RiskParameters(
        prices=state.prices,
        scale_exponents=state.scale_exponents,
        initial_haircut_bps=state.initial_haircut_bps,
        maintenance_haircut_bps=state.maintenance_haircut_bps,
        perp_marks=state.marks,
        perp_initial_bps=state.perp_initial_bps,
        perp_maintenance_bps=state.perp_maintenance_bps,
        funding_indexes=tuple(0 if slot in unreadable else i for slot, i in enumerate(state.funding_indexes)),
        unreadable_funding=unreadable,
    )


def scan(
    clients: Clients,
    shard: tuple[int, int] = (0, 1),
    page_size: int = DEFAULT_PAGE_SIZE,
    block: BlockIdentifier = "latest",
    portfolio: PortfolioRule | None = None,
) -> Scan:
    """Reads every account (of this shard) at one block and returns those below their maintenance
    requirement, most underwater first: the risk state and the first half page in one call at `block`, the other
    pages at the block that call read. Shard i of n takes the accounts whose list index is i mod n. Accounts in
    portfolio mode are judged by the portfolio rule (`portfolio`, or one built here when the deployment has the
    rule), read only if the book holds such an account."""
    state, book = read_book(clients, page_size, block)
    if portfolio is None and clients.deployment.portfolio is not None:
        portfolio = PortfolioRule(clients)
    return assess(clients, state, book.shard(*shard), portfolio)


def read_book(
    clients: Clients, page_size: int = DEFAULT_PAGE_SIZE, block: BlockIdentifier = "latest"
) -> tuple[RiskState, AccountBook]:
    """The risk state and every account at one block: the state and the first half page in one call at `block`, the
    other pages at the block that call read; each account's base balance marked with the interest indexes read."""
    state, first, total = clients.lens.follow([], 0, follow_page_size(page_size), block)
    book = first
    if len(first) < total:
        book = clients.lens.book(
            state.block, page_size, assets=len(state.prices), start=len(first), first=first, total=total
        )
    return state, book.read_at(state.supply_index, state.borrow_index)


def assess(
    clients: Clients,
    state: RiskState,
    book: AccountBook,
    portfolio: PortfolioRule | None = None,
    params: RiskParameters | None = None,
) -> Scan:
    """The scan of `book` at `state` (the accounts read at the same block): due accounts, most underwater first, and
    those left out because they hold an asset or trade a market without a usable price. The accounts in portfolio
    mode are judged by `portfolio`'s rule instead (read at `state`'s block if it has not been), exactly (they are
    few), and follow the others; without a rule (a deployment file that names none) by the standard one. `params`
    replaces the prices and risk parameters of `state` (a stress test's shocked prices)."""
    params = parameters(state) if params is None else params
    bad, bad_markets = state.unusable_assets, state.unusable_markets
    found = screen(book, params, bad, bad_markets, (state.supply_index, state.borrow_index))
    due = found.due
    judged: dict[int, tuple[int, int]] = {}
    if portfolio is not None and book.portfolio.any():
        due, judged = _portfolio_due(
            book, params, portfolio.at(state.block), due, found.unpriced, (state.supply_index, state.borrow_index)
        )
    candidates: list[str] = [*book.address_list(due)]
    counts = book.slot_counts()[due].tolist()
    symbols = tuple(clients.deployment.collateral[i].symbol for i in bad) + tuple(
        clients.deployment.markets[m].ticker for m in sorted(bad_markets)
    )
    unpriced = frozenset(book.address_list(found.unpriced))
    return Scan(
        state.block,
        state.timestamp,
        book,
        params,
        found.health,
        candidates,
        dict(zip(candidates, counts, strict=True)),
        symbols,
        unpriced,
        judged,
    )


def _portfolio_due(
    book: AccountBook,
    params: RiskParameters,
    rule: tuple[PortfolioParams, Layout],
    due: npt.NDArray[np.intp],
    unpriced: npt.NDArray[np.intp],
    indexes: tuple[int, int],
) -> tuple[npt.NDArray[np.intp], dict[int, tuple[int, int]]]:
    """`due` without the accounts in portfolio mode, then those of them below the portfolio rule's maintenance
    requirement, most underwater first, each computed with the contract's integers (`portfolio_health`); and each
    portfolio account's (equity, maintenance requirement) by row."""
    portfolio_params, layout = rule
    rows = np.setdiff1d(np.flatnonzero(book.portfolio), unpriced)
    shortfalls = []
    judged = {}
    for row in rows.tolist():
        _, balances, positions = book.exact_row(row)
        health = portfolio_health(
            book.present_base(row, *indexes), balances, params, positions, layout, portfolio_params
        )
        judged[row] = (health.equity, health.maintenance_requirement)
        if health.liquidatable:
            shortfalls.append((health.equity - health.maintenance_requirement, row))
    kept = due[~np.isin(due, rows)]
    due = np.concatenate([kept, np.asarray([row for _, row in sorted(shortfalls)], dtype=np.intp)]).astype(np.intp)
    return due, judged


def batches(accounts: Sequence[str], gas_budget: int, gas: Sequence[int] | int | None = None) -> list[list[str]]:
    """Splits `accounts` (in order) into batches whose estimated gas stays within `gas_budget`: `gas` is each
    account's figure (one for all, or one per account; default a lending account's before any measurement). Every
    account is in some batch, even one whose own figure exceeds the budget."""
    if gas is None or isinstance(gas, int):
        figures = [LiquidationGasModel().gas() if gas is None else gas] * len(accounts)
    else:
        figures = list(gas)
    if len(figures) != len(accounts):
        raise ValueError(f"{len(figures)} gas figures for {len(accounts)} accounts")
    result: list[list[str]] = []
    current: list[str] = []
    used = LIQUIDATION_GAS_BASE
    for account, cost in zip(accounts, figures, strict=True):
        if current and used + cost > gas_budget:
            result.append(current)
            current, used = [], LIQUIDATION_GAS_BASE
        current.append(account)
        used += cost
    if current:
        result.append(current)
    return result

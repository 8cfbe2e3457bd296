"""Finding and liquidating unhealthy accounts: one paged read of every account, a vectorized health pass,
exact confirmation near the threshold, and liquidation batches sized to a gas budget."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from web3.types import BlockIdentifier

from keeper.client.clients import Clients
from keeper.client.lens import AccountSnapshot, snapshots
from keeper.exceptions import TransactionReverted
from keeper.risk.account_book import AccountBook
from keeper.risk.health import MAX_VENUES, WAD, HealthArrays, PerpArrays, RiskParameters
from keeper.risk.screening import screen

# Gas of one account in a liquidation batch and of the batch itself, with margin. The gas snapshot
# (snapshots/PrimeVault.json) has a partial liquidation of a lending account at 38,144 per account in a batch
# of 50; moving positions to the backstop book adds about 80,000 per open (market, venue) slot (measured on
# anvil: 10 accounts with 4 slots each, 353,000 per account), so an account's figure grows with its slots.
LIQUIDATION_GAS_PER_ACCOUNT = 45_000
LIQUIDATION_GAS_PER_SLOT = 90_000
LIQUIDATION_GAS_BASE = 120_000


def liquidation_gas(open_slots: int = 0) -> int:
    """Gas budgeted for one account in a liquidation batch: the collateral part, plus the backstop takeover
    of each open perp slot."""
    return LIQUIDATION_GAS_PER_ACCOUNT + LIQUIDATION_GAS_PER_SLOT * open_slots


@dataclass(frozen=True)
class Scan:
    """The outcome of one risk scan, all read at `block`."""

    block: int
    book: AccountBook  # every account scanned, as columns
    params: RiskParameters
    health: HealthArrays
    liquidatable: list[str]  # most underwater first
    open_slots: Mapping[str, int]  # of each account in `liquidatable`, its open perp (market, venue) slots
    unusable_assets: tuple[str, ...] = ()  # collateral and perp markets whose price is unusable at `block`
    unpriced: frozenset[str] = frozenset()  # accounts left out because they hold or trade one of those

    @property
    def accounts(self) -> list[AccountSnapshot]:
        """Every account scanned as objects: for reports and tests, not for the per-block path."""
        return snapshots(self.book)


@dataclass(frozen=True)
class PerpReads:
    """The trading module's markets at one block: marks (USD WAD, 0 if unusable), margins and funding."""

    marks: list[int]
    initial_bps: list[int]
    maintenance_bps: list[int]
    funding_indexes: list[int]  # per slot, market x MAX_VENUES + venue
    unusable: frozenset[int]  # markets whose feed is stale, non-positive, or whose venues cannot read it


def read_perp(clients: Clients, block: BlockIdentifier = "latest") -> PerpReads:
    """Every perp market's mark, margins and funding indexes at `block`. A market whose price is unusable
    is reported in `unusable` (the vault skips accounts trading it) instead of stopping the read."""
    trading = clients.trading
    if trading is None:
        return PerpReads([], [], [], [], frozenset())
    now = int(clients.w3.eth.get_block(block)["timestamp"])
    marks, initial, maintenance, unusable = [], [], [], set()
    for market_id, market in enumerate(trading.markets(block)):
        round_data = clients.feed(market.feed).latest_round(block)
        if round_data.answer <= 0 or now > round_data.updated_at + market.max_staleness:
            unusable.add(market_id)
        # Marks are WAD whatever the feed's decimals (the module reads them from the feed at listing).
        marks.append(round_data.answer * 10 ** (18 - market.feed_decimals) if market_id not in unusable else 0)
        initial.append(market.initial_margin_bps)
        maintenance.append(market.maintenance_margin_bps)
    try:
        funding = trading.funding_indexes(block)
    except TransactionReverted:
        # A venue refuses to read a bad price; read slot by slot and mark the markets it cannot read.
        funding = [0] * (len(marks) * MAX_VENUES)
        adapters = trading.adapters()
        for market_id in range(len(marks)):
            for venue_id, adapter in enumerate(adapters):
                try:
                    funding[market_id * MAX_VENUES + venue_id] = adapter.funding_index(market_id, block)
                except TransactionReverted:
                    unusable.add(market_id)
    return PerpReads(marks, initial, maintenance, funding[: len(marks) * MAX_VENUES], frozenset(unusable))


def risk_parameters(
    clients: Clients,
    block: BlockIdentifier = "latest",
    prices: list[int] | None = None,
    perp: PerpReads | None = None,
) -> RiskParameters:
    """Prices (unless given: an unusable one reads as 0), haircuts, perp marks, margins and funding indexes,
    read at `block`."""
    if prices is None:
        prices = clients.lens.prices(block).prices
    if perp is None:
        perp = read_perp(clients, block)
    configs = clients.vault.asset_configs(block)
    return RiskParameters(
        prices=prices,
        scale_exponents=[c.scale_exponent for c in configs],
        initial_haircut_bps=[c.initial_haircut_bps for c in configs],
        maintenance_haircut_bps=[c.maintenance_haircut_bps for c in configs],
        perp_marks=perp.marks,
        perp_initial_bps=perp.initial_bps,
        perp_maintenance_bps=perp.maintenance_bps,
        funding_indexes=perp.funding_indexes,
    )


def arrays(accounts: Sequence[AccountSnapshot], params: RiskParameters) -> tuple[np.ndarray, np.ndarray, PerpArrays]:
    """Base balances (n,), collateral (n, assets) and positions (n, slots) as float64 arrays."""
    n = len(accounts)
    base = np.fromiter((a.base_balance for a in accounts), dtype=np.float64, count=n)
    collateral = np.array([a.collateral for a in accounts], dtype=np.float64).reshape(n, len(params.prices))
    sizes, entries, funding = (np.zeros((n, params.slots)) for _ in range(3))
    for i, account in enumerate(accounts):
        for p in account.positions:
            sizes[i, p.slot] = p.size / WAD
            entries[i, p.slot] = p.entry_price / WAD
            funding[i, p.slot] = p.funding_index / WAD
    return base, collateral, PerpArrays.build(sizes, entries, funding)


def scan(clients: Clients, shard: tuple[int, int] = (0, 1), page_size: int = 1000) -> Scan:
    """Reads every account (of this shard) at one block and returns those below their maintenance
    requirement, most underwater first. Shard i of n takes the accounts whose list index is i mod n."""
    block = clients.w3.eth.block_number
    prices, usable = clients.lens.prices(block)
    markets = read_perp(clients, block)
    params = risk_parameters(clients, block, prices, markets)
    book = clients.lens.book(block, page_size, assets=len(prices)).shard(*shard)
    return assess(clients, block, book, params, usable, markets.unusable)


def assess(
    clients: Clients,
    block: int,
    book: AccountBook,
    params: RiskParameters,
    usable: Sequence[bool],
    unusable_markets: frozenset[int] = frozenset(),
) -> Scan:
    """The scan of `book` at `params` (read at `block`): due accounts, most underwater first, and those left out
    because they hold an asset or trade a market without a usable price."""
    bad = [i for i, ok in enumerate(usable) if not ok]
    found = screen(book, params, bad, unusable_markets)
    candidates: list[str] = [*book.address_list(found.due)]
    counts = book.slot_counts()[found.due].tolist()
    symbols = tuple(clients.deployment.collateral[i].symbol for i in bad) + tuple(
        clients.deployment.markets[m].ticker for m in sorted(unusable_markets)
    )
    unpriced = frozenset(book.address_list(found.unpriced))
    return Scan(
        block, book, params, found.health, candidates, dict(zip(candidates, counts, strict=True)), symbols, unpriced
    )


def batches(accounts: Sequence[str], gas_budget: int, gas: Sequence[int] | int | None = None) -> list[list[str]]:
    """Splits `accounts` (in order) into batches whose estimated gas stays within `gas_budget`: `gas` is each
    account's figure (one for all, or one per account; default a lending account's). Every account is in
    some batch, even one whose own figure exceeds the budget."""
    if gas is None or isinstance(gas, int):
        figures = [liquidation_gas() if gas is None else gas] * len(accounts)
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

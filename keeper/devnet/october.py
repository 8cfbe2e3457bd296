"""The 10-11 October 2025 crash replayed on books in portfolio mode at their maximum leverage (issue 13).

Within about an hour BTC fell 14%, ETH 16% and many smaller assets 70% to 90%, with gas near $600 a transaction.
Here three smaller assets are listed next to WETH and WBTC, each its own underlying in the portfolio rule (a 90%
tail at full weight: what such an asset can do in an hour), and one owner's sub-accounts hold every shape of book:
hedged, across venues, a basket, a pair, naked in each asset. Each is switched to portfolio mode and borrows until
its equity is its initial requirement. The prices then move in twelve five-minute steps to the crash's lows; after
each step the keeper's scan (which judges portfolio accounts by the portfolio rule) finds the due accounts and the
vault liquidates them in one transaction. The report says what each book lost, how often it was liquidated, and
the bad debt: none is the figure to reach.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from web3 import Web3

from keeper.chain.anvil import Anvil
from keeper.chain.deployment import Deployment
from keeper.chain.keys import dev_account
from keeper.chain.revert import error_decoder
from keeper.chain.transactions import Sender
from keeper.client.clients import Clients
from keeper.client.feeds import FeedClient
from keeper.client.portfolio import PortfolioMarginClient
from keeper.client.trading import TradingClient
from keeper.client.vault import VaultClient, sub_account
from keeper.devnet.deploy import (
    CollateralSpec,
    deploy_local_system,
    list_local_asset,
    seed_local_liquidity,
)
from keeper.exceptions import TransactionReverted
from keeper.liquidator import risk_parameters, scan
from keeper.risk.health import ExactHealth, exact_health
from keeper.risk.portfolio import UnderlyingParams

# Three smaller assets: the standard rule's haircuts for long-tail collateral, and a portfolio underlying each.
SMALL_ASSETS = (
    CollateralSpec("SUI", "Sui", 9, 3, 5000, 4000, 1000, 10_000_000, 3000, 8000, 1000, 3600),
    CollateralSpec("ENA", "Ethena", 18, 1, 5000, 4000, 1000, 10_000_000, 3000, 8000, 1000, 3600),
    CollateralSpec("ATOM", "Cosmos", 6, 4, 5000, 4000, 1000, 10_000_000, 3000, 8000, 1000, 3600),
)
# Shock 30% (bounds 10-50%), tail 90% at full weight, the usual charges; one group of their own, apart from ETH
# and BTC, so a hedge in ETH earns them no correlation credit.
SMALL_ASSET_RULE = UnderlyingParams(3000, 1000, 5000, 500, 9000, 10_000, 200, 100, 125, group=1)
# Where each price ends, as a fraction of its start.
CRASH = {
    "WETH": Decimal("0.84"),
    "WBTC": Decimal("0.86"),
    "SUI": Decimal("0.30"),
    "ENA": Decimal("0.20"),
    "ATOM": Decimal("0.10"),
}
STEPS = 12
STEP_SECONDS = 300
GAS_DOLLARS_PER_TRANSACTION = 600
OWNER_DEV_ACCOUNT = 1


@dataclass(frozen=True)
class Book:
    name: str
    deposits: dict[str, Decimal]  # symbol -> whole tokens
    orders: tuple[tuple[str, Decimal, int], ...] = ()  # (market, signed size, venue index)


BOOKS = (
    Book("10 WETH hedged by a 10 ETH short", {"WETH": Decimal(10)}, (("ETH-USD", Decimal(-10), 0),)),
    Book(
        "BTC long and short at two venues",
        {"USDC": Decimal(20_000)},
        (("BTC-USD", Decimal(1), 0), ("BTC-USD", Decimal(-1), 1)),
    ),
    Book(
        "hedged basket (docs/risk.md)",
        {"WETH": Decimal(10), "WBTC": Decimal(1)},
        (
            ("ETH-USD", Decimal(-12), 0),
            ("ETH-USD", Decimal(4), 1),
            ("BTC-USD", Decimal("-1.2"), 1),
            ("BTC-USD", Decimal("0.3"), 0),
        ),
    ),
    Book(
        "pair: ETH long, BTC short",
        {"USDC": Decimal(10_000)},
        (("ETH-USD", Decimal(10), 0), ("BTC-USD", Decimal("-0.5"), 1)),
    ),
    Book("10 WETH alone", {"WETH": Decimal(10)}),
    Book("1 WBTC alone", {"WBTC": Decimal(1)}),
    Book("SUI alone", {"SUI": Decimal(10_000)}),
    Book("ENA alone", {"ENA": Decimal(30_000)}),
    Book("ATOM alone", {"ATOM": Decimal(7_500)}),
    Book(
        "small assets with WETH, ETH short",
        {"SUI": Decimal(2_000), "ENA": Decimal(6_000), "ATOM": Decimal(1_500), "WETH": Decimal(5)},
        (("ETH-USD", Decimal(-5), 0),),
    ),
)


@dataclass
class BookOutcome:
    name: str
    account: str
    equity_before: int  # base units
    initial_before: int  # portfolio rule, at maximum leverage: equity_before - 1 USDC
    maintenance_before: int
    standard_initial_before: int  # what the standard rule would have asked of the same book
    standard_maintenance_before: int
    liquidations: int = 0
    equity_after: int = 0
    maintenance_after: int = 0
    liquidatable_after: bool = False


@dataclass
class OctoberReport:
    books: list[BookOutcome]
    steps: int
    base_decimals: int
    base_symbol: str
    liquidation_transactions: int = 0
    liquidation_gas: int = 0
    bad_debt: int = 0  # base units written off against suppliers
    reverted: list[str] = field(default_factory=list)

    @property
    def gas_dollars(self) -> int:
        return self.liquidation_transactions * GAS_DOLLARS_PER_TRANSACTION


def replay_october(progress: Callable[[str, int], Any] | None = None) -> OctoberReport:
    """The replay on a local chain it starts and deploys itself."""
    with Anvil(accounts=10) as node:
        w3 = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 60}))
        admin = Sender(w3, dev_account(0), error_decoder())
        deployment = dataclasses.replace(deploy_local_system(admin), rpc_url=node.url)
        seed_local_liquidity(admin, deployment)
        return run_october(admin, deployment, progress)


def run_october(
    admin: Sender, deployment: Deployment, progress: Callable[[str, int], Any] | None = None
) -> OctoberReport:
    """The replay on `deployment` (local: mock feeds the admin sets), whose admin also executes orders."""
    tick = progress or (lambda label, n: None)
    deployment = _list_small_assets(admin, deployment)
    owner = Sender(admin.w3, dev_account(OWNER_DEV_ACCOUNT), error_decoder())
    outcomes = [_open(admin, owner, deployment, sub_id, book) for sub_id, book in enumerate(BOOKS)]
    tick("books opened", len(BOOKS))
    clients = Clients.build(admin.w3, deployment, admin)
    report = OctoberReport(outcomes, STEPS, deployment.base.decimals, deployment.base.symbol)
    starts = {symbol: _price(clients, deployment, symbol) for symbol in CRASH}
    accounts = {o.account: o for o in outcomes}
    for step in range(1, STEPS + 1):
        admin.w3.provider.make_request("evm_increaseTime", [STEP_SECONDS])  # type: ignore[arg-type]
        _set_prices(admin, deployment, {s: starts[s] * CRASH[s] ** (Decimal(step) / STEPS) for s in CRASH})
        for _ in range(3):  # a partial liquidation restores its target: one round clears a step
            due = scan(clients, block=clients.w3.eth.block_number).liquidatable
            if not due:
                break
            try:
                result = clients.vault.liquidate(due)
            except TransactionReverted as exc:
                report.reverted.append(str(exc))
                break
            report.liquidation_transactions += 1
            report.liquidation_gas += result.gas_used
            report.bad_debt += result.bad_debt
            for event in result.liquidated:
                if event.account in accounts:
                    accounts[event.account].liquidations += 1
        tick(f"price step {step} of {STEPS}", 1)
    for outcome in outcomes:
        health = clients.vault.health(outcome.account)
        outcome.equity_after = health.equity
        outcome.maintenance_after = health.maintenance_requirement
        outcome.liquidatable_after = health.liquidatable
    return report


def _list_small_assets(admin: Sender, deployment: Deployment) -> Deployment:
    rule = PortfolioMarginClient(admin.w3, deployment, admin)
    for spec in SMALL_ASSETS:
        deployment = list_local_asset(admin, deployment, spec)
        index = len(rule.underlyings())
        rule.set_underlying(index, spec.symbol, SMALL_ASSET_RULE)
        rule.map_asset(deployment.token(spec.symbol).address, index)
    return deployment


def _open(admin: Sender, owner: Sender, deployment: Deployment, sub_id: int, book: Book) -> BookOutcome:
    """Funds and opens `book` in sub-account `sub_id` of the owner, in portfolio mode, at maximum leverage."""
    account = sub_account(owner.address, sub_id)
    vault = VaultClient(owner.w3, deployment, owner)
    minter = VaultClient(admin.w3, deployment, admin)
    for symbol, whole in book.deposits.items():
        units = int(whole * 10 ** deployment.token(symbol).decimals)
        minter.token(symbol).mint(owner.address, units)
        vault.deposit(account, symbol, units)
    vault.set_portfolio_mode(account, True)
    trader, executor = TradingClient(owner.w3, deployment, owner), TradingClient(admin.w3, deployment, admin)
    deadline = int(owner.w3.eth.get_block("latest")["timestamp"]) + 3600
    for ticker, size, venue in book.orders:
        mark = FeedClient(owner.w3, deployment.market(ticker).feed).price()
        limit = mark * (Decimal("1.05") if size > 0 else Decimal("0.95"))
        order_id = trader.submit(account, ticker, size, limit, deadline)
        [outcome] = executor.execute([order_id], at_venue=venue)
        if not outcome.executed:
            raise RuntimeError(f"{book.name}: the {ticker} order did not execute ({outcome.reason})")
    health = vault.health(account)
    one = 10**deployment.base.decimals
    room = health.equity - health.initial_requirement - one
    if room > 0:
        vault.withdraw(account, deployment.base.symbol, room, owner.address)
    health = vault.health(account)
    standard = _standard_rule(vault, account)
    return BookOutcome(
        book.name,
        account,
        health.equity,
        health.initial_requirement,
        health.maintenance_requirement,
        standard.initial_requirement,
        standard.maintenance_requirement,
    )


def _standard_rule(vault: VaultClient, account: str) -> ExactHealth:
    """The account's book under the standard rule, by the keeper's exact twin of the vault."""
    clients = Clients.build(vault.w3, vault.deployment)
    assert clients.trading is not None
    entries = clients.trading.book_entries(account)
    positions = [(slot, e.size, e.entry_price, e.funding_index) for slot, e in entries]
    balances = [vault.collateral_balance(account, t.symbol) for t in vault.deployment.collateral]
    return exact_health(vault.base_balance(account), balances, risk_parameters(clients), positions)


def _price(clients: Clients, deployment: Deployment, symbol: str) -> Decimal:
    feed = deployment.token(symbol).feed
    assert feed is not None
    return clients.feed(feed).price()


def _set_prices(admin: Sender, deployment: Deployment, prices: dict[str, Decimal]) -> None:
    """Every feed's answer in one batch of transactions (one block on a chain that mines on a timer)."""
    updates = []
    for symbol, price in prices.items():
        feed = deployment.token(symbol).feed
        assert feed is not None
        updates.append(FeedClient(admin.w3, feed, admin).set_answer_call(price.quantize(Decimal("1e-8"))))
    outcomes: Sequence[object] = admin.transact_all("set prices", updates)
    failed = [o for o in outcomes if isinstance(o, TransactionReverted)]
    if failed:
        raise RuntimeError(f"price updates failed: {failed}")

"""Portfolio margin on a real anvil: the contract and the keeper's exact engine agree unit for unit on books of
every shape, and the keeper finds, and the vault liquidates, an account that only the portfolio rule makes due."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from web3 import Web3

from keeper.client.clients import Clients
from keeper.client.portfolio import PortfolioMarginClient
from keeper.client.trading import TradingClient
from keeper.devnet.deploy import seed_local_liquidity
from keeper.exceptions import ConfigError
from keeper.liquidator import scan
from keeper.risk.portfolio import exact_portfolio
from tests.python.conftest import Chain
from tests.python.test_cli import assert_one_line_error, run
from tests.python.test_follower import CountingProvider, counted

# (collateral to deposit, orders to fill): ETH and BTC legs at either venue, hedged, partly hedged and naked.
BOOKS = {
    1: ({"WETH": 10}, [("ETH-USD", Decimal(-10))]),
    2: ({"USDC": 20_000}, [("BTC-USD", Decimal(1)), ("BTC-USD", Decimal("-0.5"))]),
    3: ({"WETH": 10, "WBTC": 1}, [("ETH-USD", Decimal(-8)), ("BTC-USD", Decimal("0.3"))]),
    4: ({"WBTC": 2}, []),
    5: ({"USDC": 50_000}, [("ETH-USD", Decimal("2.5"))]),
}


@pytest.fixture
def books(chain: Chain) -> Chain:
    admin = chain.client(0)
    assert admin.sender is not None
    seed_local_liquidity(admin.sender, chain.deployment)
    keeper = TradingClient(chain.w3, chain.deployment, admin.sender)
    for index, (deposits, orders) in BOOKS.items():
        vault, me = chain.client(index), chain.account(index).address
        for symbol, whole in deposits.items():
            chain.mint(index, symbol, whole)
            vault.deposit(me, symbol, whole * 10 ** chain.deployment.token(symbol).decimals)
        vault.set_portfolio_mode(me, True)
        trader = TradingClient(chain.w3, chain.deployment, vault.sender)
        deadline = int(chain.w3.eth.get_block("latest")["timestamp"]) + 600
        for ticker, size in orders:
            mark = Decimal(3000) if ticker == "ETH-USD" else Decimal(60_000)
            limit = mark * (Decimal("1.05") if size > 0 else Decimal("0.95"))
            [outcome] = keeper.execute([trader.submit(me, ticker, size, limit, deadline)])
            assert outcome.executed, outcome.reason
    return chain


def test_the_contract_and_the_keepers_engine_agree_on_every_book(books: Chain) -> None:
    clients = Clients.build(books.w3, books.deployment)
    rule = PortfolioMarginClient(books.w3, books.deployment)
    params, layout = rule.rule()
    found = scan(clients)
    for row in range(len(found.book)):
        account = found.book.address(row)
        _, balances, positions = found.book.exact_row(row)
        if not any(balances) and not positions:
            continue
        book = exact_portfolio(balances, positions, found.params, layout, params)
        assert rule.requirements(account) == (book.initial, book.maintenance), account
    for index in BOOKS:
        health = books.client(0).health(books.account(index).address)
        assert (health.initial_requirement, health.maintenance_requirement) == rule.requirements(
            books.account(index).address
        )


def test_the_keeper_liquidates_an_account_only_the_portfolio_rule_makes_due(books: Chain) -> None:
    """Account 5: a naked 2.5 ETH long on 1,500 USDC of its own. Its portfolio maintenance (the 10.5% tail plus the
    2% net charge, half of it: 6.25% of the notional) is above the standard rule's 5%. At ETH 2,558 the equity
    (about 390) lies between the two lines (320 and 400): due under the rule the account chose, not the other."""
    me = books.account(5).address
    vault = books.client(0)
    books.client(5).withdraw(me, "USDC", 48_500 * 10**6, me)
    books.set_price("WETH", 2558)
    health = vault.health(me)
    notional = Decimal("2.5") * 2558 * 10**6
    assert notional * Decimal("0.05") < health.equity < health.maintenance_requirement, "only the portfolio rule"
    found = scan(Clients.build(books.w3, books.deployment))
    assert me in found.liquidatable
    result = vault.liquidate([me])
    assert [e.account for e in result.liquidated] == [me]
    assert not vault.health(me).liquidatable


def test_the_cli_switches_the_rule_and_explains_a_refusal(chain: Chain) -> None:
    """10 WETH alone: the portfolio rule asks 12.5% initial (the 10.5% tail and the 2% net charge) where the
    standard rule asks 20%, so 25,000 borrowed fits only the first, and leaving it is refused in one line."""
    chain.seed_pool()
    me = chain.fund(1, "WETH", 10)
    switched = run(chain, "account", "portfolio", "on")
    assert switched.exit_code == 0, switched.output
    assert "margined by the portfolio rule: initial requirement 3,750.00 USDC" in switched.output
    assert "margin     portfolio rule" in run(chain, "account", "show").output
    chain.client(1).withdraw(me, "USDC", 25_000 * 10**6, me)
    assert_one_line_error(
        run(chain, "account", "portfolio", "off"), "would make the account unhealthy", "6,000.00 USDC"
    )
    assert chain.client(1).portfolio_mode(me)


def test_the_rule_is_read_in_one_call_and_a_stale_deployment_file_is_named(chain: Chain) -> None:
    provider = CountingProvider(chain.url)
    w3 = Web3(provider)
    rule = PortfolioMarginClient(w3, chain.deployment)
    block = w3.eth.block_number
    with counted(provider) as methods:
        params, layout = rule.rule(block)
    # web3 asks the chain id once per provider; the rule itself is one lens call, where PortfolioMargin's own views
    # take one per underlying, asset and market.
    assert [m for m in methods if m != "eth_chainId"] == ["eth_call"]
    assert layout.underlyings == ("ETH", "BTC")
    assert layout.asset_underlying == (0, 1), "WETH, WBTC"
    assert [p.shock_bps for p in params.underlyings] == [u.shock_bps for _, u in rule.underlyings(block)]

    moved = dataclasses.replace(chain.deployment, portfolio=chain.deployment.vault)
    with pytest.raises(ConfigError, match=r"the vault's portfolio rule is .* set `portfolio` in the deployment file"):
        PortfolioMarginClient(w3, moved).rule(block)

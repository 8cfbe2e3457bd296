"""Portfolio margin on a real anvil: the contract and the keeper's exact engine agree unit for unit on books of
every shape, and the keeper finds, and the vault liquidates, an account that only the portfolio rule makes due; it
learns an account's mode from the lens's pages, not from the chain's history of logs, so a provider that limits the
block range of `eth_getLogs` does not stop its full loads."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from eth_utils import function_abi_to_4byte_selector
from web3 import Web3
from web3.exceptions import Web3RPCError
from web3.types import RPCEndpoint

from keeper.client.clients import Clients
from keeper.client.portfolio import PortfolioMarginClient
from keeper.client.trading import TradingClient
from keeper.devnet.deploy import CollateralSpec, list_local_asset, seed_local_liquidity
from keeper.exceptions import ConfigError, InputError, TransactionReverted
from keeper.follower import AccountFollower
from keeper.liquidator import scan
from keeper.risk.portfolio import UNMAPPED, exact_portfolio
from keeper.units import format_exact
from keeper.web.server import order_check
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


def test_an_asset_listed_and_not_mapped_counts_for_nothing_for_the_contract_and_the_keeper(books: Chain) -> None:
    """Governance lists LINK and has not mapped it into the rule yet, and a stranger deposits some into account 1
    (10 WETH hedged by a 10 ETH short). It counts for nothing, on chain and in the keeper alike: both requirements
    grow by its value, no health check reverts, and the hedged book is not made due (it was liquidatable by anyone
    who sent dust while the rule refused an unmapped asset)."""
    admin = books.client(0)
    assert admin.sender is not None
    link = CollateralSpec("LINK", "Chainlink", 18, 15, 3000, 2500, 1000, 1_000_000, 1000, 5000, 500, 3600)
    listed = dataclasses.replace(books, deployment=list_local_asset(admin.sender, books.deployment, link))
    me = listed.account(1).address
    rule = PortfolioMarginClient(listed.w3, listed.deployment)
    initial, maintenance = rule.requirements(me)
    listed.mint(2, "LINK", 100)
    listed.client(2).deposit(me, "LINK", 100 * 10**18)
    assert rule.requirements(me) == (initial + 1_500 * 10**6, maintenance + 1_500 * 10**6)
    params, layout = rule.rule()
    assert layout.asset_underlying[-1] == UNMAPPED
    found = scan(listed.clients(0))
    row = next(r for r in range(len(found.book)) if found.book.address(r) == me)
    _, balances, positions = found.book.exact_row(row)
    book = exact_portfolio(balances, positions, found.params, layout, params)
    assert (book.initial, book.maintenance) == rule.requirements(me)
    assert me not in found.liquidatable and not listed.client(0).health(me).liquidatable


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


def test_risk_stress_judges_portfolio_accounts_by_their_rule(books: Chain) -> None:
    """`risk stress` runs a shock through the keeper's engine: account 5 (the naked ETH long above) after ETH -14.73%
    is due under the portfolio rule it chose, though the standard rule would leave it alone; the hedged books are
    not due under either."""
    me = books.account(5).address
    books.client(5).withdraw(me, "USDC", 48_500 * 10**6, me)
    shown = run(books, "--rpc-url", books.url, "risk", "stress", "--shock", "ETH=-14.73%", "--json", dev=None)
    assert shown.exit_code == 0, shown.output
    document = json.loads(shown.output)
    assert (document["liquidatable_now"], document["liquidatable_after_shock"]) == (0, 1)
    books.set_price("WETH", 2558)  # the shock, for real: the vault agrees
    assert [a for a in scan(Clients.build(books.w3, books.deployment)).liquidatable] == [me]


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
        run(chain, "account", "portfolio", "off"),
        "under the standard rule",
        "would need 6,000.00 USDC of initial margin",
        "deposit collateral, repay or reduce positions first",
    )
    assert chain.client(1).portfolio_mode(me)


def test_a_switch_prints_the_requirements_as_account_show_does(chain: Chain) -> None:
    """1 WETH at 3,001.37: the portfolio rule's initial requirement is 375.17125, which `account show` prints as
    375.18 (what an account needs, rounded up) and the switch printed as 375.17."""
    chain.seed_pool()
    chain.fund(1, "WETH", 1)
    chain.set_price("WETH", 3001.37)
    switched = run(chain, "account", "portfolio", "on")
    assert switched.exit_code == 0, switched.output
    assert "initial requirement 375.18 USDC, maintenance 187.59 USDC" in switched.output, switched.output
    assert "initial requirement      375.18 USDC" in run(chain, "account", "show").output


def test_a_refused_switch_says_both_amounts_exactly(chain: Chain) -> None:
    """1 WETH in portfolio mode (375 of initial margin) with 2,400.000001 borrowed: its equity is a unit or two below
    the standard rule's 600.00, and the refusal to leave portfolio mode said "would need 600.00 USDC of initial
    margin and has 600.00" (both rounded half to even): the amounts it compares, exactly."""
    chain.seed_pool()
    me = chain.fund(1, "WETH", 1)
    client = chain.client(1)
    client.set_portfolio_mode(me, True)
    client.withdraw(me, "USDC", 2_400_000_001, me)
    equity = client.health(me).equity
    assert 599_999_990 < equity < 600_000_000
    assert_one_line_error(
        run(chain, "account", "portfolio", "off"),
        f"would need 600.00 USDC of initial margin and has {format_exact(equity, 6)}:",
    )
    assert client.portfolio_mode(me)


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


class LensCallsProvider(CountingProvider):
    """The keeper's provider, recording the JSON-RPC methods with the name of the lens function each `eth_call`
    calls (`eth_call portfolioRule`)."""

    def __init__(self, url: str, names: dict[str, str]) -> None:
        super().__init__(url)
        self.names = names  # selector (0x and eight hex digits) -> the lens's function

    def _request_with_retries(self, method: Any, params: Any) -> Any:
        response = super()._request_with_retries(method, params)
        if method == "eth_call":
            self.methods[-1] = f"eth_call {self.names.get(str(params[0]['data'])[:10], 'other')}"
        return response


def test_a_full_load_asks_for_no_logs_and_for_the_rule_only_with_a_portfolio_account(chain: Chain) -> None:
    """The accounts' modes come with the pages: no `eth_getLogs` at all, and the rule's one call only once some account
    is in portfolio mode."""
    chain.seed_pool()
    me = chain.fund(1, "WETH", 10)
    lens = chain.clients(0).lens
    functions = [item for item in lens.contract.abi if item["type"] == "function"]
    names = {"0x" + function_abi_to_4byte_selector(f).hex(): str(f["name"]) for f in functions}
    provider = LensCallsProvider(chain.url, names)
    clients = Clients.build(Web3(provider), chain.deployment)

    with counted(provider) as methods:
        found = AccountFollower(clients).update()
    assert me in found.book.address_list() and not found.book.portfolio.any()
    assert "eth_getLogs" not in methods
    assert [m for m in methods if m.startswith("eth_call")] == ["eth_call follow"], "the rule is not read"

    chain.client(1).set_portfolio_mode(me, True)
    with counted(provider) as methods:
        found = AccountFollower(clients).update()
    assert found.book.address_list(found.book.portfolio.nonzero()[0]) == [me]
    assert "eth_getLogs" not in methods
    assert [m for m in methods if m.startswith("eth_call")] == ["eth_call follow", "eth_call portfolioRule"]


class RangeLimitedNode:
    """A real JSON-RPC proxy in front of anvil that refuses `eth_getLogs` over more than `max_blocks` blocks, as hosted
    providers do (2,000 to 10,000 blocks are common limits); every other request, batches too, goes through."""

    def __init__(self, upstream: str, max_blocks: int) -> None:
        self.upstream = upstream
        self.max_blocks = max_blocks
        self.refused = 0
        node = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                answer = [node.answer(r) for r in body] if isinstance(body, list) else node.answer(body)
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:  # quiet: the test's output is pytest's
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, request: dict[str, Any]) -> Any:
        if request["method"] == "eth_getLogs":
            query = request["params"][0]
            if self._block(query.get("toBlock", "latest")) - self._block(query.get("fromBlock", "latest")) >= (
                self.max_blocks
            ):
                self.refused += 1
                message = f"query exceeds max block range {self.max_blocks}"
                return {"jsonrpc": "2.0", "id": request["id"], "error": {"code": -32600, "message": message}}
        return requests.post(self.upstream, json=request, timeout=30).json()

    def _block(self, tag: str) -> int:
        if tag == "earliest":
            return 0
        if tag.startswith("0x"):
            return int(tag, 16)
        head = requests.post(self.upstream, json={"jsonrpc": "2.0", "id": 0, "method": "eth_blockNumber"}, timeout=30)
        return int(head.json()["result"], 16)


@contextmanager
def range_limited(upstream: str, max_blocks: int) -> Iterator[RangeLimitedNode]:
    node = RangeLimitedNode(upstream, max_blocks)
    thread = threading.Thread(target=node.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield node
    finally:
        node.server.shutdown()
        node.server.server_close()


def test_a_provider_limiting_log_ranges_still_gets_portfolio_accounts_judged_by_their_rule(books: Chain) -> None:
    """1,000 blocks after the deployment, behind a provider that refuses logs over more than 250 blocks: the full
    load needs no logs, and account 5 (due under the portfolio rule only, as in the test above) is found due, then
    followed block by block (a one-block log query each), as the vault judges it."""
    me = books.account(5).address
    books.client(5).withdraw(me, "USDC", 48_500 * 10**6, me)
    books.w3.provider.make_request(RPCEndpoint("anvil_mine"), [hex(1_000)])
    books.set_price("WETH", 2558)  # a fresh answer after the blocks mined
    assert books.client(0).health(me).liquidatable
    with range_limited(books.url, max_blocks=250) as node:
        w3 = Web3(CountingProvider(node.url))
        with pytest.raises(Web3RPCError, match="max block range"):
            w3.eth.get_logs({"fromBlock": books.deployment.block, "toBlock": "latest"})
        follower = AccountFollower(Clients.build(w3, books.deployment))
        assert me in follower.update().liquidatable
        books.set_price("WETH", 2559)
        assert me in follower.update().liquidatable
        assert follower.full_loads == 1, "the next block followed through its logs"
        assert node.refused == 1, "only the whole-history query above"


def test_the_order_check_leaves_a_portfolio_account_to_the_contract(chain: Chain) -> None:
    """The standard rule's margin estimate refused a short that hedges a portfolio account's collateral (which
    lowers its requirement under the portfolio rule, as the chain then accepted): such accounts are left to the
    contract's own check, in the CLI and over `/api/order-check`."""
    admin = chain.client(0)
    assert admin.sender is not None
    seed_local_liquidity(admin.sender, chain.deployment)
    standard, portfolio = chain.fund(1, "WETH", 10), chain.fund(2, "WETH", 10)
    chain.client(2).set_portfolio_mode(portfolio, True)
    for index, account in ((1, standard), (2, portfolio)):
        health = chain.client(index).health(account)
        chain.client(index).borrow(account, health.equity - health.initial_requirement - 10**6)
    with pytest.raises(InputError, match="initial margin"):
        order_check(chain.w3, chain.deployment, standard, "ETH-USD", "sell", Decimal(10))
    order_check(chain.w3, chain.deployment, portfolio, "ETH-USD", "sell", Decimal(10))


def test_account_show_offers_what_the_portfolio_rule_lets_leave(books: Chain) -> None:
    """Account 1: 10 WETH hedged by a 10 ETH short, initial 300 under the portfolio rule. A WETH withdrawn unhedges
    the short, so the rule's requirement rises (10.5% tail, 2% net, 1.25% basis) while the equity falls: what
    `account show` offers must be what the vault lets leave, to the unit, not what the standard rule's haircut
    would (it offered all 10 WETH, which the vault refuses)."""
    me = books.account(1).address
    shown = run(books, "account", "show", "--json")
    assert shown.exit_code == 0, shown.output
    offered = int(Decimal(json.loads(shown.output)["collateral"]["WETH"]["withdrawable"]) * 10**18)
    assert 0 < offered < 10 * 10**18
    with pytest.raises(TransactionReverted, match="InsufficientEquity"):
        books.client(1).withdraw(me, "WETH", offered + 1, me)
    books.client(1).withdraw(me, "WETH", offered, me)
    health = books.client(0).health(me)
    assert health.initial_requirement <= health.equity


def test_a_bundle_counts_a_portfolio_accounts_deposit_by_the_rule(chain: Chain) -> None:
    """An empty account in portfolio mode deposits 10 WETH, borrows 25,000 and sells 1 ETH in one bundle. The rule
    asks 12.5% of the WETH's 30,000 (and less once the short hedges some of it), so the vault carries 25,000 where
    the standard rule's 20% haircut (24,000 at most) would not: the CLI must not refuse it by the standard rule."""
    chain.seed_pool()
    me = chain.account(1).address
    chain.client(1).set_portfolio_mode(me, True)
    chain.mint(1, "WETH", 10)
    bundled = run(
        chain, "account", "bundle", "10", "WETH", "--borrow", "25000", "--market", "ETH-USD", "--size", "1",
        "--side", "sell",
    )  # fmt: skip
    assert bundled.exit_code == 0, bundled.output
    assert "borrowed 25,000 USDC" in bundled.output
    assert -25_000 * 10**6 - 1 <= chain.client(1).base_balance(me) <= -25_000 * 10**6  # debt rounded up a unit

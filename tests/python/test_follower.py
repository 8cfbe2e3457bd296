"""The follower against anvil: after one full load each block costs three JSON-RPC calls, and what it judges from
memory and the block's logs equals a full scan and the vault, through deposits, new accounts, interest, price
moves, liquidations and a reorganisation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from web3 import Web3

from keeper.chain.provider import RotatingHTTPProvider
from keeper.client.clients import Clients
from keeper.client.trading import TradingClient
from keeper.client.vault import sub_account
from keeper.follower import AccountFollower
from keeper.liquidator import Scan, scan
from tests.python.conftest import Chain
from tests.python.test_scan_chain import _book_of_lenders_and_traders

pytestmark = pytest.mark.chain


class CountingProvider(RotatingHTTPProvider):
    """The keeper's provider, recording the JSON-RPC methods that reach the node."""

    def __init__(self, url: str) -> None:
        super().__init__([url])
        self.methods: list[str] = []

    def _request_with_retries(self, method: Any, params: Any) -> Any:
        self.methods.append(str(method))
        return super()._request_with_retries(method, params)

    def make_batch_request(self, batch_requests: Any) -> Any:
        self.methods.append(f"batch of {len(batch_requests)} {batch_requests[0][0]}")
        return super().make_batch_request(batch_requests)


def counting_clients(chain: Chain) -> tuple[Clients, CountingProvider]:
    provider = CountingProvider(chain.url)
    return Clients.build(Web3(provider), chain.deployment), provider


@contextmanager
def counted(provider: CountingProvider) -> Iterator[list[str]]:
    """The JSON-RPC methods sent while inside."""
    provider.methods = []
    yield provider.methods


def assert_same(followed: Scan, clients: Clients) -> None:
    """The followed scan judges as a full scan at its block and as the vault (base balances brought forward by
    interest agree within two base units: each was rounded once when read)."""
    full = scan(clients, block=followed.block)
    assert len(followed.book) == len(full.book)
    assert np.array_equal(followed.book.indexes, full.book.indexes)
    np.testing.assert_allclose(followed.health.equity, full.health.equity, rtol=1e-12, atol=2)
    np.testing.assert_allclose(
        followed.health.maintenance_requirement, full.health.maintenance_requirement, rtol=1e-12, atol=2
    )
    assert followed.liquidatable == full.liquidatable
    for account in followed.book.address_list():
        assert (account in followed.liquidatable) == clients.vault.is_liquidatable(account, followed.block)


def test_each_block_costs_three_calls_and_judges_as_a_full_scan(chain: Chain, tmp_path: Path) -> None:
    _book_of_lenders_and_traders(chain, tmp_path)
    clients, provider = counting_clients(chain)
    follower = AccountFollower(clients)
    first = follower.update()
    assert follower.full_loads == 1
    assert_same(first, clients)

    owner = chain.account(4).address
    chain.mint(4, "WETH", 2)
    chain.client(4).deposit(owner, "WETH", 10**18)  # a new account
    chain.client(3).withdraw(sub_account(chain.account(3).address, 0), "USDC", 500 * 10**6)  # an old one borrows
    with counted(provider) as methods:
        followed = follower.update()
    assert follower.full_loads == 1, "followed, not read again"
    # The head, the logs, the lens, and the last block's header again: several blocks came since.
    assert methods == ["eth_getBlockByNumber", "eth_getBlockByNumber", "eth_getLogs", "eth_call"]
    assert owner in followed.book.address_list()
    assert_same(followed, clients)

    chain.set_price("WETH", 2_900)
    with counted(provider) as methods:
        moved = follower.update()
    assert methods == ["eth_getBlockByNumber", "eth_getLogs", "eth_call"], "one block: three calls"
    assert moved.block == followed.block + 1
    assert_same(moved, clients)

    with counted(provider) as methods:
        assert follower.update() is moved, "no new block: the same scan"
    assert methods == ["eth_getBlockByNumber"]


def test_interest_and_prices_move_health_in_memory(chain: Chain, tmp_path: Path) -> None:
    lenders = _book_of_lenders_and_traders(chain, tmp_path)[1:]
    clients = chain.clients(0)
    follower = AccountFollower(clients)
    follower.update()
    chain.w3.provider.make_request("evm_increaseTime", [200 * 86_400])  # type: ignore[arg-type]
    chain.set_price("WETH", 3000)  # a fresh answer after the jump (and a block with no account log)
    chain.set_price("WBTC", 49_000)
    followed = follower.update()
    assert follower.full_loads == 1
    assert_same(followed, clients)
    assert set(lenders) & set(followed.liquidatable), "the price drop and the interest make some due"


def test_liquidations_are_followed(chain: Chain, tmp_path: Path) -> None:
    _book_of_lenders_and_traders(chain, tmp_path)
    clients = chain.clients(0)
    follower = AccountFollower(clients)
    chain.set_price("WBTC", 45_000)
    due = follower.update().liquidatable
    assert due
    chain.client(0).liquidate_batches([due])
    after = follower.update()
    assert follower.full_loads == 1
    assert_same(after, clients)
    assert len(after.liquidatable) < len(due)


def test_a_reorganisation_reads_everything_again(chain: Chain, tmp_path: Path) -> None:
    _book_of_lenders_and_traders(chain, tmp_path)
    clients = chain.clients(0)
    follower = AccountFollower(clients)
    follower.update()
    before = chain.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    ghost = chain.account(5).address
    chain.mint(5, "WETH", 1)
    chain.client(5).deposit(ghost, "WETH", 10**18)
    assert ghost in follower.update().book.address_list()
    chain.w3.provider.make_request("evm_revert", [before])  # type: ignore[arg-type]
    for _ in range(3):  # a longer chain without the deposit
        chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    after = follower.update()
    assert follower.full_loads == 2
    assert ghost not in after.book.address_list()
    assert_same(after, clients)


class NextBlockEnvironment(RotatingHTTPProvider):
    """The keeper's provider, answering every `eth_call` at a block number as anvil answers one at its head while the
    next block is being mined: in that next block's environment (`block.number` one higher)."""

    def _request_with_retries(self, method: Any, params: Any) -> Any:
        if method == "eth_call" and str(params[1]).startswith("0x"):
            params = [params[0], "pending"]
        return super()._request_with_retries(method, params)


def test_a_call_run_in_the_next_blocks_environment_is_no_reorganisation(chain: Chain, tmp_path: Path) -> None:
    _book_of_lenders_and_traders(chain, tmp_path)
    clients = Clients.build(Web3(NextBlockEnvironment([chain.url])), chain.deployment)
    follower = AccountFollower(clients)
    head = chain.w3.eth.block_number
    assert clients.lens.risk_state(head).block == head, "the block asked for, not the call's block.number"
    assert follower.update().block == head
    chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    assert follower.update().block == head + 1
    assert follower.full_loads == 1, "followed through the logs, not read again as after a reorganisation"


def test_a_full_load_runs_every_rescan_interval(chain: Chain, tmp_path: Path) -> None:
    _book_of_lenders_and_traders(chain, tmp_path)
    follower = AccountFollower(chain.clients(0), rescan_blocks=2)
    follower.update()
    chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    follower.update()
    assert follower.full_loads == 1
    chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    follower.update()
    assert follower.full_loads == 2


def test_portfolio_mode_is_followed_within_the_same_three_calls(chain: Chain) -> None:
    """A naked 2.5 ETH long on 1,500 USDC of its own: at ETH 2,558 its equity (about 390) is above the standard
    rule's maintenance (320) and below the portfolio rule's (400). The switch to portfolio mode arrives with the
    block's other logs, and the follower judges the account by the rule it chose, as a full scan and the vault do."""
    chain.seed_pool()
    admin = chain.client(0)
    me = chain.fund(5, "USDC", 50_000)
    trader = TradingClient(chain.w3, chain.deployment, chain.client(5).sender)
    deadline = int(chain.w3.eth.get_block("latest")["timestamp"]) + 600
    order_id = trader.submit(me, "ETH-USD", Decimal("2.5"), Decimal(3150), deadline)
    assert TradingClient(chain.w3, chain.deployment, admin.sender).execute([order_id])[0].executed
    chain.client(5).withdraw(me, "USDC", 48_500 * 10**6, me)
    clients, provider = counting_clients(chain)
    follower = AccountFollower(clients)
    follower.update()

    chain.client(5).set_portfolio_mode(me, True)
    chain.set_price("WETH", 2_558)
    follower.update()
    with counted(provider) as methods:
        chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        followed = follower.update()
    assert methods == ["eth_getBlockByNumber", "eth_getLogs", "eth_call"], "one block: three calls"
    assert me in followed.liquidatable
    assert_same(followed, clients)

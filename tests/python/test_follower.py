"""The follower against anvil: after one full load each block costs three JSON-RPC calls, and what it judges from
memory and the block's logs equals a full scan and the vault, through deposits, new accounts, interest, price
moves, liquidations and a reorganisation."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from eth_account import Account
from web3 import Web3

from keeper.chain.provider import RotatingHTTPProvider
from keeper.client.clients import Clients
from keeper.client.trading import ChildSpec, FillReport, TradingClient
from keeper.client.vault import sub_account
from keeper.devnet.deploy import SEAT_VENUE, CollateralSpec, add_rabbitx_seat, deploy_rabbitx_custody, list_local_asset
from keeper.devnet.rabbitx.exchange import ExchangeConfig
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


def rpc(chain: Chain, method: str, *params: Any) -> Any:
    return chain.w3.provider.make_request(method, list(params))["result"]  # type: ignore[arg-type]


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


def test_a_shard_judges_only_its_accounts_on_full_loads_too(chain: Chain, tmp_path: Path) -> None:
    """The full load (at start, every rescan, after a reorganisation) judged every account whatever the shard, so two
    keepers run as 0/2 and 1/2 both sent every due account's liquidation at each one; only the blocks followed in
    between were sharded."""
    _book_of_lenders_and_traders(chain, tmp_path)
    clients = chain.clients(0)
    chain.set_price("WBTC", 45_000)
    everyone = scan(clients)
    assert len(everyone.liquidatable) >= 2
    halves = [AccountFollower(clients, shard=(i, 2)) for i in range(2)]
    loaded = [follower.update() for follower in halves]
    assert all(follower.full_loads == 1 for follower in halves)
    assert sorted(loaded[0].liquidatable + loaded[1].liquidatable) == sorted(everyone.liquidatable)
    assert not set(loaded[0].liquidatable) & set(loaded[1].liquidatable), "each account in one shard"
    assert len(loaded[0].book) + len(loaded[1].book) == len(everyone.book)
    chain.set_price("WBTC", 44_000)
    followed = [follower.update() for follower in halves]
    assert all(follower.full_loads == 1 for follower in halves), "followed, not read again"
    assert sorted(followed[0].liquidatable + followed[1].liquidatable) == sorted(scan(clients).liquidatable)


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


def with_seat(chain: Chain) -> Chain:
    """The chain with the pool lent and a RabbitX seat venue: an asynchronous venue, whose fills are reported on chain
    in `ChildFilled` logs that name only the order."""
    admin = chain.client(0)
    assert admin.sender is not None
    chain.seed_pool()
    exchange = ExchangeConfig(signer_key="0x" + "11" * 32)
    custody = deploy_rabbitx_custody(admin.sender, chain.deployment, Account.from_key(exchange.signer_key).address)
    deployment = add_rabbitx_seat(admin.sender, chain.deployment, custody, exchange.markets, exchange.default_leverage)
    return dataclasses.replace(chain, deployment=deployment)


def order_at_the_seat(chain: Chain, index: int, size: Decimal) -> tuple[int, int]:
    """Dev account `index` orders `size` ETH-USD, routed whole to the seat: the order's and the child's ids."""
    now = int(chain.w3.eth.get_block("latest")["timestamp"])
    trader = TradingClient(chain.w3, chain.deployment, chain.client(index).sender)
    order_id = trader.submit(chain.account(index).address, "ETH-USD", size, Decimal(3100), now + 600)
    executor = TradingClient(chain.w3, chain.deployment, chain.client(0).sender)
    spec = ChildSpec(executor.venue_id(SEAT_VENUE), abs(size), Decimal(3100), now + 300)
    return order_id, executor.commit_split(order_id, [spec])


def test_a_reorganisation_forgets_which_account_each_order_named(chain: Chain) -> None:
    """Order ids are given again on the new branch of a reorganisation: order K, account 1's on the dropped branch,
    is account 2's on the kept one. A seat fill without a fee logs `ChildFilled(K)` and no `Settled`, so only the
    order names its account: the follower reads account 2 again, whose 2 ETH long on 1,200 USDC is due at ETH 2,500,
    not account 1."""
    seat = with_seat(chain)
    seat.fund(1, "USDC", 20_000)
    two = seat.fund(2, "USDC", 1_200)
    clients = Clients.build(seat.w3, seat.deployment)
    follower = AccountFollower(clients)
    follower.update()
    before = rpc(seat, "evm_snapshot")
    dropped, _ = order_at_the_seat(seat, 1, Decimal(1))
    follower.update()
    rpc(seat, "evm_revert", before)
    kept, child = order_at_the_seat(seat, 2, Decimal(2))
    assert kept == dropped
    rpc(seat, "evm_mine")
    follower.update()
    assert follower.full_loads == 2, "the reorganisation read everything again"

    executor = TradingClient(seat.w3, seat.deployment, seat.client(0).sender)
    executor.report_fills([FillReport(child, b"\x01" * 32, Decimal(3000), Decimal(2), 0)])  # no fee: no `Settled`
    seat.set_price("WETH", 2_500)  # 1,200 - 2 x 500 = 200 of equity against 250 of maintenance
    followed = follower.update()
    assert follower.full_loads == 2, "followed through the logs"
    assert two in followed.liquidatable
    assert_same(followed, clients)


def behind(node_url: str, chain: Chain) -> Clients:
    return Clients.build(Web3(RotatingHTTPProvider([node_url])), chain.deployment)


def test_a_node_limiting_log_ranges_is_asked_for_ranges_it_takes(chain: Chain) -> None:
    """Behind a node that answers `eth_getLogs` over at most 10 blocks (some hosted tiers do), a follower 21 blocks
    behind (the keeper busy, or its node late) reads their logs in ranges halved until the node takes them, and keeps
    that size: 15 blocks later it asks for two ranges, none refused. A gap that would take more queries than a full
    load is worth is read in full."""
    from tests.python.test_portfolio_chain import range_limited  # it imports this module

    chain.seed_pool()
    me = chain.fund(1, "WETH", 1)
    with range_limited(chain.url, max_blocks=10) as node:
        clients = behind(node.url, chain)
        follower = AccountFollower(clients)
        loaded = follower.update().block
        chain.client(1).borrow(me, 1_000 * 10**6)  # in the first block missed
        rpc(chain, "anvil_mine", hex(20))
        followed = follower.update()
        assert followed.block == loaded + 21
        assert (follower.full_loads, node.refused) == (1, 1), "followed through the logs: 21 blocks refused, 10 taken"
        assert_same(followed, clients)

        chain.client(1).withdraw(me, "WETH", 10**17, me)
        rpc(chain, "anvil_mine", hex(14))
        followed = follower.update()
        assert (follower.full_loads, node.refused) == (1, 1)
        assert_same(followed, clients)

        rpc(chain, "anvil_mine", hex(150))
        assert follower.update().block == followed.block + 150
        assert (follower.full_loads, node.refused) == (2, 1), "15 queries: read in full instead"
        # A full load forgets the range (a refusal may have been passing trouble): the next gap is asked for whole.
        assert follower.events.max_range is None
        rpc(chain, "anvil_mine", hex(5))
        follower.update()
        assert (follower.full_loads, node.refused) == (2, 1)


def test_a_node_refusing_logs_of_one_block_gets_full_loads(chain: Chain) -> None:
    from tests.python.test_portfolio_chain import range_limited  # it imports this module

    chain.seed_pool()
    me = chain.fund(1, "WETH", 1)
    with range_limited(chain.url, max_blocks=0) as node:
        clients = behind(node.url, chain)
        follower = AccountFollower(clients)
        follower.update()
        chain.client(1).borrow(me, 1_000 * 10**6)
        followed = follower.update()
        assert (follower.full_loads, node.refused) == (2, 1)
        assert_same(followed, clients)


LINK = CollateralSpec("LINK", "Chainlink", 18, 15, 3000, 2500, 1000, 1_000_000, 1000, 5000, 500, 3600)


def test_an_asset_listed_while_following_is_read_in_full(chain: Chain) -> None:
    """Governance lists LINK while the keeper follows (its deployment file the one it started with) and an account
    deposits some: the rows read next have a column more than the book, which is read again in full."""
    chain.seed_pool()
    chain.fund(1, "WETH", 1)
    clients = Clients.build(chain.w3, chain.deployment)
    follower = AccountFollower(clients)
    follower.update()
    admin = chain.client(0)
    assert admin.sender is not None
    listed = dataclasses.replace(chain, deployment=list_local_asset(admin.sender, chain.deployment, LINK))
    listed.mint(2, "LINK", 100)
    listed.client(2).deposit(listed.account(2).address, "LINK", 100 * 10**18)
    followed = follower.update()
    assert follower.full_loads == 2
    assert followed.book.assets == len(listed.deployment.collateral)
    assert_same(followed, clients)
    rpc(chain, "evm_mine")
    assert_same(follower.update(), clients)
    assert follower.full_loads == 2, "followed again"


def test_an_update_that_fails_is_followed_by_a_full_load(chain: Chain, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever broke an update (here every follow call of the logs' accounts), the next one reads everything."""
    chain.seed_pool()
    me = chain.fund(1, "WETH", 1)
    clients = chain.clients(0)
    follower = AccountFollower(clients)
    follower.update()

    def broken(*args: Any) -> Scan:
        raise ValueError("broken")

    monkeypatch.setattr(follower, "_follow", broken)
    chain.client(1).borrow(me, 1_000 * 10**6)
    with pytest.raises(ValueError, match="broken"):
        follower.update()
    rpc(chain, "evm_mine")
    followed = follower.update()
    assert follower.full_loads == 2
    assert_same(followed, clients)


def test_the_daemons_pages_are_sized_to_its_call_gas_cap(chain: Chain, tmp_path: Path) -> None:
    """`call_gas_cap` is the gas the daemon's lens calls name and what its pages are sized to (10,000 an account)."""
    from tests.python.test_keeper_jobs import keeper_for

    default = keeper_for(chain, tmp_path / "default", jobs=("liquidation",)).jobs.liquidation.follower
    assert (default.clients.lens.call_gas, default.page_size) == (50_000_000, 5_000)
    low = keeper_for(chain, tmp_path / "low", jobs=("liquidation",), call_gas_cap=3_000_000).jobs.liquidation.follower
    assert (low.clients.lens.call_gas, low.page_size) == (3_000_000, 300)

"""The column scan against the real lens on anvil: pages decoded straight into columns equal web3's decoding (accounts
with perp positions, pages that split the list), the scan's decisions equal the object path's and the vault's, and
everything, asset configs included, is read at the scan's block."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import BadResponseFormat, Web3RPCError

from keeper.client.clients import Clients
from keeper.client.lens import snapshots
from keeper.client.page_decoder import accounts_calldata
from keeper.client.vault import sub_account
from keeper.devnet.deploy import seed_local_liquidity
from keeper.liquidator import risk_parameters, scan
from keeper.risk.health import MAX_VENUES, compute_health
from tests.python.conftest import Chain
from tests.python.test_keeper_jobs import deadline, keeper_for, trading
from tests.python.test_scan_decoder import arrays


def _book_of_lenders_and_traders(chain: Chain, tmp_path: Path) -> list[str]:
    admin = chain.client(0)
    assert admin.sender is not None
    seed_local_liquidity(admin.sender, chain.deployment)
    chain.mint(1, "WETH", 20)
    me = chain.account(1).address
    chain.client(1).deposit(me, "WETH", 20 * 10**18)
    trading(chain, 1).submit(me, "BTC-USD", Decimal(6), Decimal(61_500), deadline(chain))
    trading(chain, 1).submit(me, "ETH-USD", Decimal(-3), Decimal(2_900), deadline(chain))
    keeper_for(chain, tmp_path).jobs.orders.run()
    owner = chain.account(3).address
    borrower = chain.client(3)
    chain.mint(3, "WBTC", 1)
    chain.mint(3, "WETH", 10)
    lenders = [sub_account(owner, i) for i in range(7)]
    for k, account in enumerate(lenders):  # 0.1 WBTC (6,000) borrowing 4,000 to 4,600
        borrower.deposit(account, "WBTC", 10**7)
        if k % 2:
            borrower.deposit(account, "WETH", 10**17 * k)
        borrower.withdraw(account, "USDC", (4_000 + 100 * k) * 10**6)
    return [me, *lenders]


def test_pages_decoded_into_columns_equal_web3s_decoding(chain: Chain, tmp_path: Path) -> None:
    accounts = _book_of_lenders_and_traders(chain, tmp_path)
    lens = chain.clients(0).lens
    block = chain.w3.eth.block_number
    for page_size in (3, 1000):
        book = lens.book(block, page_size=page_size)
        old = list(lens.iter_accounts(page_size=page_size, block=block))
        assert snapshots(book) == old
    assert set(accounts) <= {a.account for a in old}
    trader = next(a for a in old if a.account == accounts[0])
    assert {p.slot // MAX_VENUES for p in trader.positions} == {0, 1}, (
        "the trader's positions in both markets came through"
    )


def test_the_column_scan_decides_as_the_object_path_and_the_vault(chain: Chain, tmp_path: Path) -> None:
    _book_of_lenders_and_traders(chain, tmp_path)
    clients = chain.clients(0)
    decided = 0
    for wbtc in (60_000, 52_000, 49_000, 45_000):
        chain.set_price("WBTC", wbtc)
        found = scan(clients, page_size=4)
        old = list(clients.lens.iter_accounts(block=found.block))
        base, collateral, perp = arrays(old, found.params)
        old_health = compute_health(base, collateral, found.params, perp)
        assert np.array_equal(found.health.liquidatable, old_health.liquidatable)
        for snapshot in old:
            due = snapshot.account in found.liquidatable
            assert due == clients.vault.is_liquidatable(snapshot.account, found.block), (wbtc, snapshot.account)
            decided += due
    assert decided >= 7, "the lenders fall due as the price drops"


def test_asset_configs_are_read_at_the_scans_block(chain: Chain) -> None:
    clients = chain.clients(0)
    before = chain.w3.eth.block_number
    clients.vault.update_haircuts("WETH", 2500, 2000)
    assert risk_parameters(clients, before).maintenance_haircut_bps[0] == 1500
    assert risk_parameters(clients, chain.w3.eth.block_number).maintenance_haircut_bps[0] == 2000


def test_a_full_read_asks_for_its_pages_in_one_batch_request(chain: Chain, tmp_path: Path) -> None:
    """Nine accounts in pages of two: the first page alone (it says how many there are), the other four in one
    JSON-RPC batch, the same columns as reading the pages one by one."""
    from tests.python.test_follower import counted, counting_clients

    _book_of_lenders_and_traders(chain, tmp_path)
    clients, provider = counting_clients(chain)
    block = chain.w3.eth.block_number
    with counted(provider) as methods:
        book = clients.lens.book(block, page_size=2)
    assert [m for m in methods if m != "eth_chainId"] == ["eth_call", "batch of 4 eth_call"]
    pages = [clients.lens.book_page(offset, 2, block)[0] for offset in range(0, len(book), 2)]
    assert [s.account for s in snapshots(book)] == [s.account for p in pages for s in snapshots(p)]
    assert snapshots(book) == [s for p in pages for s in snapshots(p)]


def test_a_node_without_batches_gets_the_pages_one_by_one(chain: Chain, tmp_path: Path) -> None:
    from tests.python.test_follower import counted, counting_clients

    _book_of_lenders_and_traders(chain, tmp_path)
    clients, provider = counting_clients(chain)
    refused = {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "batch requests are not supported"}}
    provider.make_batch_request = lambda batch_requests: refused  # type: ignore[method-assign]
    block = chain.w3.eth.block_number
    with counted(provider) as methods:
        book = clients.lens.book(block, page_size=2)
    assert [m for m in methods if m != "eth_chainId"] == ["eth_call"] * 5
    assert len(book) == 9


def test_a_page_that_runs_out_of_gas_is_read_again_in_halves(chain: Chain, tmp_path: Path) -> None:
    """A call's gas that holds half the page but not all of it (a node capping calls below the gas the lens names):
    the page is read again as two halves, in a batch and one call at a time, the book is the same, and the pages
    that follow are no larger than the halves that fit."""
    from tests.python.test_follower import counted, counting_clients

    _book_of_lenders_and_traders(chain, tmp_path)
    clients, provider = counting_clients(chain)
    lens = clients.lens
    assert len(lens.book(chain.w3.eth.block_number, page_size=9)) == 9

    def page_gas(limit: int) -> int:
        calldata = accounts_calldata(lens._accounts_selector, lens.vault, 0, limit)
        return int(chain.w3.eth.estimate_gas({"to": lens.address, "data": HexBytes(calldata)}))

    cap = (page_gas(9) + page_gas(5)) // 2
    lens.call_gas = cap
    block = chain.w3.eth.block_number
    # The reference is read at the same block (balances accrue interest block by block) in pages that fit the cap.
    whole = lens.book(block, page_size=4)
    assert len(whole) == 9
    with counted(provider) as methods:
        book = lens.book(block, page_size=9)
    assert [m for m in methods if m != "eth_chainId"] == ["eth_call", "batch of 2 eth_call"]
    assert snapshots(book) == snapshots(whole)
    assert lens.page_size == 5, "later pages are no larger than the half that fitted"
    provider.make_batch_request = lambda batch_requests: {"error": {"message": "no batches"}}  # type: ignore[method-assign]
    with counted(provider) as methods:
        book = lens.book(block, page_size=9)
    assert [m for m in methods if m != "eth_chainId"] == ["eth_call"] * 3
    assert snapshots(book) == snapshots(whole)


def test_a_follow_that_runs_out_of_gas_reads_fewer_listed_accounts(chain: Chain, tmp_path: Path) -> None:
    """`follow` under a call gas that holds the risk state and four listed accounts but not nine: it reads the four
    (the follower reads the rest next), says the vault lists nine, and later pages shrink to what fitted."""
    from tests.python.test_follower import counted, counting_clients

    _book_of_lenders_and_traders(chain, tmp_path)
    clients, provider = counting_clients(chain)
    lens = clients.lens
    block = chain.w3.eth.block_number
    _, reference, total = lens.follow([], 0, 9, block)
    assert (len(reference), total) == (9, 9)

    def follow_gas(limit: int) -> int:
        calldata = lens.contract.functions.follow(lens.vault, [], 0, limit).build_transaction({"gas": 0})["data"]
        return int(chain.w3.eth.estimate_gas({"to": lens.address, "data": calldata}, block))

    lens.call_gas = (follow_gas(9) + follow_gas(4)) // 2
    with counted(provider) as methods:
        _, rows, total = lens.follow([], 0, 9, block)
    assert [m for m in methods if m != "eth_chainId"] == ["eth_call"] * 2
    assert (len(rows), total) == (4, 9)
    assert rows.addresses.tolist() == reference.addresses[:4].tolist()
    assert lens.page_size == 8


def test_a_node_that_takes_less_call_gas_than_the_lens_names(chain: Chain, tmp_path: Path) -> None:
    """Behind a node that refuses calls naming more gas than it takes (Hardhat, Besu: "exceeds block gas limit"), the
    lens's calls halve their gas until taken and the book is whole; behind one that caps it silently (geth), the
    pages that stop short are read again in halves."""
    from tests.python.fault_proxy import rpc_faults

    _book_of_lenders_and_traders(chain, tmp_path)
    block = chain.w3.eth.block_number
    whole = snapshots(Clients.build(chain.w3, chain.deployment).lens.book(block))
    with rpc_faults(chain.url) as (faults, url):
        refusing = Clients.build(Web3(Web3.HTTPProvider(url)), chain.deployment).lens
        faults.cap_call_gas(20_000_000, refuse=True)
        _, rows, total = refusing.follow([], 0, 4, block)
        assert (len(rows), total) == (4, 9)
        assert refusing.call_gas == 12_500_000, "50,000,000 refused, then 25,000,000, then taken"
        assert faults.served == ["eth_call", "eth_call"]
        assert snapshots(refusing.book(block, page_size=4)) == whole
        faults.heal()
        capping = Clients.build(Web3(Web3.HTTPProvider(url)), chain.deployment).lens
        faults.cap_call_gas(120_000, refuse=False)
        assert snapshots(capping.book(block, page_size=9)) == whole
        assert capping.call_gas == 50_000_000 and capping.page_size < 9, "pages shrank to what fits the cap"
    faults.heal()
    refusing.call_gas = 2_000_000
    with rpc_faults(chain.url) as (faults, url), pytest.raises(Web3RPCError, match="exceeds block gas limit"):
        faults.cap_call_gas(1_000_000, refuse=True)
        Clients.build(Web3(Web3.HTTPProvider(url)), chain.deployment).lens.follow([], 0, 4, block)


def test_a_null_where_a_page_was_due_is_the_nodes_garbled_answer(chain: Chain, tmp_path: Path) -> None:
    """A page's `eth_call` answered with a null result (a broken gateway) is the node's garbled answer, which the
    daemon says in one line, not a TypeError of the keeper's own (a traceback every cycle)."""
    from keeper.daemon.chain_watch import garbled_request
    from tests.python.fault_proxy import rpc_faults

    _book_of_lenders_and_traders(chain, tmp_path)
    with rpc_faults(chain.url) as (faults, url):
        lens = Clients.build(Web3(Web3.HTTPProvider(url)), chain.deployment).lens
        faults.break_answers("eth_call", "null")
        with pytest.raises(BadResponseFormat) as raised:
            lens.raw_pages([(0, 4)], chain.w3.eth.block_number)
    assert garbled_request(raised.value) is not None

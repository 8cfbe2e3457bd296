"""The keeper daemon against a real anvil: liquidation in the next block (1 and 300 accounts, and several
batches sent together into one block), competing keepers, bad prices, a dropping RPC, a reorg, a stuck or
dropped transaction, haircut bounds, SIGTERM, config errors, and exact confirmation against the contract on thousands
of portfolios."""

from __future__ import annotations

import contextlib
import dataclasses
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from web3.exceptions import TransactionNotFound
from web3.types import TxReceipt

from keeper.chain.artifacts import load_artifact
from keeper.chain.keys import dev_account
from keeper.client.portfolio import PortfolioMarginClient
from keeper.client.vault import sub_account
from keeper.daemon.config import KeeperConfig, load_config
from keeper.daemon.metrics import Health, KeeperMetrics, serve
from keeper.daemon.runner import Keeper
from keeper.devnet.deploy import seed_local_liquidity
from keeper.exceptions import ConfigError, PriceHistoryError, TransactionReverted
from keeper.jobs.context import PRICE_FILE
from keeper.liquidator import LIQUIDATION_GAS_BASE, scan
from keeper.risk.liquidation_gas import LiquidationGasModel
from tests.python.conftest import Chain

OWNER = 3  # dev account whose sub-accounts are the borrowers

TWO_PER_BATCH = LIQUIDATION_GAS_BASE + 2 * LiquidationGasModel().gas()  # a budget for two lending accounts


def open_loans(chain: Chain, count: int, debt: int = 2300, weth: int = 10**18, owner: int = OWNER) -> list[str]:
    """`count` sub-accounts (up to 256 per owner), each 1 WETH borrowing `debt` USDC, sent straight to the
    unlocked dev account so seeding 300 accounts takes seconds."""
    admin = chain.client(0)
    assert admin.sender is not None
    seed_local_liquidity(admin.sender, chain.deployment)
    w3, d = chain.w3, chain.deployment
    sender = dev_account(owner).address
    weth_token = admin.token("WETH").contract
    vault = admin.contract
    weth_token.functions.mint(sender, weth * count).transact({"from": sender})
    weth_token.functions.approve(d.vault, 2**256 - 1).transact({"from": sender})
    accounts = []
    for i in range(count):
        account = (
            sub_account(sender, i % 256)
            if owner == OWNER or i < 256
            else sub_account(dev_account(owner + 1).address, i - 256)
        )
        accounts.append(account)
    for account in accounts:
        vault.functions.deposit(account, weth_token.address, weth).transact({"from": sender, "gas": 300_000})
        vault.functions.withdraw(account, d.base.address, debt * 10**6, sender).transact(
            {"from": sender, "gas": 400_000}
        )
    assert w3.eth.get_transaction_count(sender) > 0
    return accounts


def keeper_for(chain: Chain, tmp_path: Path, **overrides: Any) -> Keeper:
    config = KeeperConfig(
        rpc_urls=(chain.url,),
        deployment=chain.deployment_file,
        data_dir=tmp_path / "keeper",
        dev_account=9,  # holds no role in the test deployment: the jobs that need none
        jobs=("liquidation", "reconcile"),
        metrics_port=None,
        replace_after=5.0,
        receipt_timeout=30.0,
    )
    return Keeper(dataclasses.replace(config, **overrides))


def with_manual_mining(chain: Chain, cycle: Callable[[], list[Any]], meanwhile: Callable[[], None]) -> list[Any]:
    """Runs the keeper's `cycle` in a thread with automine off while `meanwhile` drives the chain, then mines
    one block and returns what the cycle returned."""
    w3 = chain.w3
    outcome: dict[str, Any] = {}
    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        worker = threading.Thread(target=lambda: outcome.update(results=cycle()))
        worker.start()
        meanwhile()
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        worker.join(timeout=30)
    finally:
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    return list(outcome["results"])


def wait_for_sends(keeper: Keeper, count: int, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while len(keeper.sender.sent) < count and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.parametrize("count", [1, 300])
def test_liquidation_lands_in_the_block_after_the_price_drop(chain: Chain, tmp_path: Path, count: int) -> None:
    accounts = open_loans(chain, min(count, 256)) + (open_loans_more(chain, count - 256) if count > 256 else [])
    # One batch for all 300 (automine gives every transaction a block of its own; batches sharing a block
    # are the next test's subject).
    keeper = keeper_for(chain, tmp_path, gas_budget=15_000_000)
    assert keeper.jobs.liquidation.run() == []
    chain.set_price("WETH", 2700)  # 1 WETH, 2,300 debt: equity 400 < maintenance 405
    price_block = chain.w3.eth.block_number
    results = keeper.jobs.liquidation.run()
    assert sum(len(r.liquidated) for r in results) == count
    assert {r.block for r in results} == {price_block + 1}, "one batch, in the very next block"
    assert scan(keeper.clients).liquidatable == []
    assert set(accounts) == {e.account for r in results for e in r.liquidated}


def open_loans_more(chain: Chain, count: int) -> list[str]:
    w3, d = chain.w3, chain.deployment
    admin = chain.client(0)
    sender = dev_account(OWNER + 1).address
    weth_token = admin.token("WETH").contract
    weth_token.functions.mint(sender, 10**18 * count).transact({"from": sender})
    weth_token.functions.approve(d.vault, 2**256 - 1).transact({"from": sender})
    accounts = [sub_account(sender, i) for i in range(count)]
    for account in accounts:
        admin.contract.functions.deposit(account, weth_token.address, 10**18).transact({"from": sender, "gas": 300_000})
        admin.contract.functions.withdraw(account, d.base.address, 2300 * 10**6, sender).transact(
            {"from": sender, "gas": 400_000}
        )
    assert w3.eth.block_number > 0
    return accounts


def test_the_batches_of_one_cycle_are_sent_together_and_share_a_block(chain: Chain, tmp_path: Path) -> None:
    accounts = open_loans(chain, 8)
    keeper = keeper_for(chain, tmp_path, gas_budget=TWO_PER_BATCH, replace_after=60.0)
    chain.set_price("WETH", 2700)
    price_block = chain.w3.eth.block_number
    blocks_when_sent: list[int] = []

    def meanwhile() -> None:
        wait_for_sends(keeper, 4)
        blocks_when_sent.append(chain.w3.eth.block_number)

    results = with_manual_mining(chain, keeper.jobs.liquidation.run, meanwhile)
    assert blocks_when_sent == [price_block], "all four were sent before any was mined"
    assert [len(r.liquidated) for r in results] == [2, 2, 2, 2]
    assert {r.block for r in results} == {price_block + 1}
    first = keeper.sender.sent[0].nonce
    assert [t.nonce for t in keeper.sender.sent] == [first, first + 1, first + 2, first + 3]
    assert {e.account for r in results for e in r.liquidated} == set(accounts)


def test_a_dry_run_simulates_every_batch_and_sends_nothing(chain: Chain, tmp_path: Path, caplog: Any) -> None:
    accounts = open_loans(chain, 4)
    keeper = keeper_for(chain, tmp_path, gas_budget=TWO_PER_BATCH, dry_run=True)
    chain.set_price("WETH", 2700)
    block = chain.w3.eth.block_number
    with caplog.at_level("INFO", logger="primevault.keeper"):
        assert keeper.jobs.liquidation.run() == []
    assert keeper.sender.sent == []
    assert chain.w3.eth.block_number == block
    assert sorted(scan(keeper.clients).liquidatable) == sorted(accounts)
    assert "dry run: 2 x liquidate simulated (0 would revert), not sent" in caplog.text
    assert keeper.metrics.liquidations_sent._value.get() == 0, "simulated is not sent"


def test_a_price_history_that_cannot_be_written_holds_no_liquidation_up(
    chain: Chain, tmp_path: Path, caplog: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A data directory turned read-only (or a full disk) made each block's price row raise before the liquidations,
    every block, while /healthz said ok: the liquidations go first, and the failure is said once, counted, and
    unhealthy until a row is written again."""
    accounts = open_loans(chain, 2)
    keeper = keeper_for(chain, tmp_path, price_record_interval=0)
    unwritable = PriceHistoryError("price history prices.sqlite: cannot record (attempt to write a readonly database)")

    def refuse(*_: object) -> None:
        raise unwritable

    monkeypatch.setattr(keeper.context.prices, "record", refuse)
    chain.set_price("WETH", 2700)
    with caplog.at_level("INFO", logger="primevault.keeper"):
        results = keeper.jobs.liquidation.run()
        chain.set_price("WETH", 2699)
        keeper.jobs.liquidation.run()
    assert {e.account for r in results for e in r.liquidated} == set(accounts)
    assert keeper.metrics.job_failures.labels("price history")._value.get() == 2
    assert caplog.text.count("attempt to write a readonly database") == 1, "said once"
    ok, reason = keeper.health.status()
    assert not ok and "the price history cannot be written" in reason

    monkeypatch.undo()
    chain.set_price("WETH", 2698)
    with caplog.at_level("INFO", logger="primevault.keeper"):
        keeper.jobs.liquidation.run()
    assert "price history: written again" in caplog.text
    assert "price history" not in keeper.health.status()[1]


def test_the_haircuts_in_force_are_published_from_the_first_block(chain: Chain, tmp_path: Path) -> None:
    """`primevault_haircut_bps` stayed empty for the first hour: only the haircuts job, every `haircut_interval`,
    set it. Each scan publishes the haircuts it judged with."""
    keeper = keeper_for(chain, tmp_path)
    keeper.jobs.liquidation.run()
    configs = keeper.clients.vault.asset_configs("latest")
    for token, config in zip(chain.deployment.collateral, configs, strict=True):
        assert keeper.metrics.haircut_bps.labels(token.symbol, "initial")._value.get() == config.initial_haircut_bps
        published = keeper.metrics.haircut_bps.labels(token.symbol, "maintenance")._value.get()
        assert published == config.maintenance_haircut_bps


def test_a_failing_job_is_counted(chain: Chain, tmp_path: Path) -> None:
    keeper = keeper_for(chain, tmp_path)

    def fails() -> None:
        raise RuntimeError("boom")

    keeper._guarded("reconcile", fails)
    keeper._guarded("reconcile", lambda: None)
    assert keeper.metrics.job_failures.labels("reconcile")._value.get() == 1


def test_a_competing_keeper_takes_part_of_the_batch(chain: Chain, tmp_path: Path) -> None:
    accounts = open_loans(chain, 10)
    keeper = keeper_for(chain, tmp_path)
    chain.set_price("WETH", 2700)
    found = scan(keeper.clients)
    assert len(found.liquidatable) == 10
    chain.client(8).liquidate(accounts[:4])
    results = keeper.jobs.liquidation.liquidate(found)
    assert [len(r.liquidated) for r in results] == [6]
    assert keeper.metrics.reverts.labels("liquidate")._value.get() == 0


def test_a_bad_price_leaves_out_only_the_accounts_that_hold_it(chain: Chain, tmp_path: Path) -> None:
    weth_loans = open_loans(chain, 3)
    btc_borrower = chain.account(5).address
    chain.mint(5, "WBTC", 1)
    chain.client(5).deposit(btc_borrower, "WBTC", 10**7)  # 0.1 WBTC: 6,000
    chain.client(5).withdraw(btc_borrower, "USDC", 4_700 * 10**6)
    keeper = keeper_for(chain, tmp_path, price_record_interval=0)  # the price history takes every scan's prices
    keeper.jobs.liquidation.run()
    assert keeper.health.status() == (True, "ok")

    chain.set_price("WETH", 2700)  # every WETH loan is due, but ...
    chain.set_price("WETH", 0)  # ... its feed breaks before the keeper sees it
    chain.set_price("WBTC", 55_000)  # the WBTC loan: equity 800 < maintenance 825
    results = keeper.jobs.liquidation.run()
    assert [e.account for r in results for e in r.liquidated] == [btc_borrower], "the rest of the book goes on"
    healthy, reason = keeper.health.status()
    assert not healthy and "WETH" in reason
    assert keeper.jobs.liquidation.last_scan is not None and keeper.jobs.liquidation.last_scan.unpriced == frozenset(
        weth_loans
    )
    for account in weth_loans:
        assert chain.client(0).collateral_balance(account, "WETH") == 10**18, "nothing sent on a bad price"

    stale_at = int(chain.w3.eth.get_block("latest")["timestamp"]) - 8 * 86_400
    feed = chain.w3.eth.contract(address=chain.deployment.token("WETH").feed, abi=load_artifact("MockPriceFeed").abi)
    admin = chain.client(0)
    assert admin.sender is not None
    admin.sender.transact("stale", feed.functions.setRoundData(2700 * 10**8, stale_at))
    assert keeper.jobs.liquidation.run() == []
    assert "WETH" in keeper.health.status()[1], "a stale feed is as unusable as a zero one"
    # The price history never takes the 0 an unusable feed reads as: it stopped the haircut model for good.
    with contextlib.closing(sqlite3.connect(tmp_path / "keeper" / PRICE_FILE)) as db:
        recorded = db.execute("SELECT symbol, price FROM prices").fetchall()
    assert ("WETH", 2700.0) not in recorded and all(price > 0 for _, price in recorded), recorded
    assert {symbol for symbol, _ in recorded} == {"WETH", "WBTC"}


class DroppingProxy:
    """A loopback TCP proxy to anvil that, while `down`, accepts and immediately drops connections."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.down = False
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            client, _ = self.server.accept()
            if self.down:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


def test_the_keeper_rides_out_a_dropping_rpc_without_duplicate_sends(chain: Chain, tmp_path: Path) -> None:
    open_loans(chain, 5)
    port = int(chain.url.rsplit(":", 1)[1])
    proxy = DroppingProxy(port)
    keeper = keeper_for(chain, tmp_path, rpc_urls=(proxy.url,))
    keeper.jobs.liquidation.run()
    chain.set_price("WETH", 2700)
    proxy.down = True
    threading.Timer(1.0, lambda: setattr(proxy, "down", False)).start()
    results = keeper.jobs.liquidation.run()
    assert sum(len(r.liquidated) for r in results) == 5
    assert len(keeper.sender.sent) == 1, "one batch, sent once"


def test_a_reorg_that_undoes_a_liquidation_is_followed_by_a_resend(chain: Chain, tmp_path: Path) -> None:
    [account] = open_loans(chain, 1)
    keeper = keeper_for(chain, tmp_path)
    chain.set_price("WETH", 2700)
    assert sum(len(r.liquidated) for r in keeper.jobs.liquidation.run()) == 1
    chain.w3.provider.make_request("anvil_reorg", [1, []])  # type: ignore[arg-type]
    assert chain.client(0).collateral_balance(account, "WETH") == 10**18, "the reorg undid it"
    results = keeper.jobs.liquidation.run()
    assert sum(len(r.liquidated) for r in results) == 1
    assert 0 < chain.client(0).collateral_balance(account, "WETH") < 10**18, "partially liquidated again"


def _receipt(chain: Chain, tx_hash: str) -> TxReceipt | None:
    try:
        return chain.w3.eth.get_transaction_receipt(tx_hash)
    except TransactionNotFound:
        return None


def test_a_stuck_transaction_is_replaced_with_the_same_nonce(chain: Chain, tmp_path: Path) -> None:
    open_loans(chain, 2)
    keeper = keeper_for(chain, tmp_path, replace_after=0.5)
    chain.set_price("WETH", 2700)
    found = scan(keeper.clients)
    results = with_manual_mining(
        chain, lambda: keeper.jobs.liquidation.liquidate(found), lambda: wait_for_sends(keeper, 2)
    )
    sent = keeper.sender.sent
    assert len(sent) >= 2, "the first send was replaced"
    assert {s.nonce for s in sent} == {sent[0].nonce}
    assert sent[1].max_fee_per_gas > sent[0].max_fee_per_gas
    # One of the replacements was mined (a slow machine may send one more just as the block comes: that one is
    # refused for its nonce and never lands), never the first send.
    landed = [s for s in sent if _receipt(chain, s.tx_hash) is not None]
    assert len(landed) == 1 and landed[0] is not sent[0], "a replacement is the one that was mined"
    assert chain.w3.eth.get_transaction_receipt(landed[0].tx_hash)["status"] == 1
    assert sum(len(r.liquidated) for r in results) == 2


def test_a_transaction_dropped_by_the_node_is_sent_again_unchanged(chain: Chain, tmp_path: Path) -> None:
    open_loans(chain, 2)
    keeper = keeper_for(chain, tmp_path, replace_after=60.0)  # only the pool lookup can resend it in time
    chain.set_price("WETH", 2700)
    found = scan(keeper.clients)

    def meanwhile() -> None:
        wait_for_sends(keeper, 1)
        chain.w3.provider.make_request("anvil_dropTransaction", [keeper.sender.sent[0].tx_hash])  # type: ignore[arg-type]
        wait_for_sends(keeper, 2)

    results = with_manual_mining(chain, lambda: keeper.jobs.liquidation.liquidate(found), meanwhile)
    first, again = keeper.sender.sent
    assert again == first, "the same signed transaction: same hash, nonce and fee"
    assert sum(len(r.liquidated) for r in results) == 2


def test_a_liquidation_is_not_held_back_by_another_jobs_wait_for_its_receipt(chain: Chain, tmp_path: Path) -> None:
    # The seat job tops up a venue's margin and waits for its block; a price step's liquidations, sent meanwhile
    # from the same key, must go out at once (the next nonce), share that block, and never replace the wait's own
    # transaction as a stuck lower nonce, however soon that one is due for a fee bump.
    open_loans(chain, 2)
    keeper = keeper_for(chain, tmp_path, replace_after=0.3)
    chain.set_price("WETH", 2700)
    found = scan(keeper.clients)
    token = chain.client(0).token("USDC").contract
    w3 = chain.w3
    outcome: dict[str, Any] = {}
    other_job = threading.Thread(
        target=lambda: keeper.sender.transact("approve", token.functions.approve(chain.deployment.vault, 1))
    )
    liquidation = threading.Thread(target=lambda: outcome.update(results=keeper.jobs.liquidation.liquidate(found)))
    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        other_job.start()
        wait_for_sends(keeper, 1)
        liquidation.start()
        wait_for_sends(keeper, 2 + 1)  # the liquidation, and at least one fee bump of the waiting approval
        sent_before_the_block = sorted({s.nonce for s in keeper.sender.sent})
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        other_job.join(timeout=30)
        liquidation.join(timeout=30)
    finally:
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    results = outcome["results"]
    first = sent_before_the_block[0]
    assert sent_before_the_block == [first, first + 1], "the liquidation went out while the approval waited"
    assert sum(len(r.liquidated) for r in results) == 2
    block = chain.w3.eth.get_block(results[0].block, full_transactions=True)
    assert [tx["to"] for tx in block["transactions"]] == [token.address, chain.deployment.vault], (
        "both in one block, the approval itself (not a transfer replacing it)"
    )
    assert token.functions.allowance(keeper.sender.address, chain.deployment.vault).call() == 1


def test_a_transaction_dropped_while_another_thread_sends_keeps_its_nonce(chain: Chain, tmp_path: Path) -> None:
    # The node drops one job's transaction from its pool (anvil drops one that does not fit a block), which lowers
    # the key's pending count; another job sending meanwhile must take the nonce after it, not the same one, so that
    # the first job's wait can send it again and both land.
    keeper = keeper_for(chain, tmp_path, replace_after=60.0)
    token = chain.client(0).token("USDC").contract
    w3, sender, vault = chain.w3, keeper.sender, chain.deployment.vault
    receipts: dict[int, TxReceipt] = {}

    def approve(amount: int) -> threading.Thread:
        job = threading.Thread(
            target=lambda: receipts.update({amount: sender.transact("approve", token.functions.approve(vault, amount))})
        )
        job.start()
        return job

    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        first = approve(1)
        wait_for_sends(keeper, 1)
        w3.provider.make_request("anvil_dropTransaction", [sender.sent[0].tx_hash])  # type: ignore[arg-type]
        second = approve(2)
        wait_for_sends(keeper, 3)  # the second approval, and the first one again once its wait finds it dropped
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        first.join(timeout=30)
        second.join(timeout=30)
    finally:
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    assert receipts[2]["transactionIndex"] == 1 and receipts[1]["blockNumber"] == receipts[2]["blockNumber"]
    assert [s.nonce for s in sender.sent] == [sender.sent[0].nonce, sender.sent[0].nonce + 1, sender.sent[0].nonce]
    assert token.functions.allowance(sender.address, vault).call() == 2, "both landed, in nonce order"


def test_haircut_updates_stay_within_the_onchain_bounds(chain: Chain, tmp_path: Path) -> None:
    keeper = keeper_for(chain, tmp_path, dev_account=0)  # the deployer holds the risk-manager role
    rng = random.Random(1)
    now = int(time.time())
    price = 3000.0
    for k in range(60):  # hourly samples of a very volatile asset: about 8% an hour
        price *= 1 + rng.gauss(0, 0.08)
        keeper.context.prices.record("WETH", now - (60 - k) * 3600, price)
    [weth, _] = keeper.jobs.haircuts.run(apply=True)
    assert weth.target_maintenance_bps > 5000, "the formula asks for more than the bounds allow"
    config = keeper.clients.vault.asset_configs()[0]
    assert (config.initial_haircut_bps, config.maintenance_haircut_bps) == (2500, 2000), "one 500 bp step"
    # The same estimate moves the portfolio rule's ETH shock (10%) one 2.5% step toward its target; BTC, with no
    # history, keeps its own.
    rule = PortfolioMarginClient(chain.w3, chain.deployment)
    shocks = {name: params.shock_bps for name, params in rule.underlyings()}
    assert (shocks["ETH"], shocks["BTC"]) == (1250, 800)
    [again, _] = keeper.jobs.haircuts.run(apply=True)
    assert not again.allowed_now
    assert keeper.clients.vault.asset_configs()[0].maintenance_haircut_bps == 2000
    assert dict(rule.underlyings())["ETH"].shock_bps == 1250, "a shock moves once an hour (the rule's interval)"
    assert keeper.jobs.haircuts.shocks["ETH"] == (1250, 1500), "the next step, shown and not sent"
    chain.advance(3600)
    keeper.jobs.haircuts.run(apply=True)
    assert dict(rule.underlyings())["ETH"].shock_bps == 1500, "a step a run once the interval has passed"
    from keeper.exceptions import TransactionReverted

    with pytest.raises(TransactionReverted) as refused:
        fn = keeper.clients.vault.contract.functions.updateHaircuts(config.address, 6000, 5500)
        keeper.sender.transact("beyond bounds", fn)
    assert refused.value.error.name in ("HaircutUpdateTooSoon", "HaircutOutOfBounds", "HaircutStepTooLarge")


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_stops_the_daemon_cleanly(chain: Chain, tmp_path: Path, stop: signal.Signals) -> None:
    """SIGTERM, and SIGHUP (a closed terminal or SSH session), which killed the keeper at once, mid-transaction."""
    open_loans(chain, 2)
    command = [
        sys.executable,
        "-c",
        "from keeper.cli.main import main; main()",
        "--deployment",
        str(chain.deployment_file),
        "--rpc-url",
        chain.url,
        "--dev-account",
        "9",
        "keeper",
        "run",
        "--jobs",
        "liquidation,reconcile",
        "--metrics-port",
        "off",
        "--data-dir",
        str(tmp_path / "d"),
    ]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    assert process.stderr is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        lines.append(line)
        if "keeper running" in line:
            break
    chain.set_price("WETH", 2700)  # give it work mid-cycle
    time.sleep(0.5)
    process.send_signal(stop)
    rest = process.communicate(timeout=30)[1]
    assert process.returncode == 0, "".join(lines) + rest
    assert "keeper stopped" in rest


def test_each_timed_job_run_is_measured(chain: Chain, tmp_path: Path) -> None:
    # A run longer than its interval makes the scheduler skip the next one: the operator sees it in this histogram.
    keeper = keeper_for(chain, tmp_path)
    keeper._timed("reconcile", lambda: time.sleep(0.2))
    [sample] = [
        s for s in keeper.metrics.job_seconds.collect()[0].samples if s.name.endswith("_sum") and s.labels["job"]
    ]
    assert sample.labels == {"job": "reconcile"} and 0.2 <= sample.value < 5


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in list(__import__("os").environ):
        if key.startswith("PRIMEVAULT_"):
            monkeypatch.delenv(key)
    yield


def test_config_errors_are_all_reported_in_one_line(tmp_path: Path, no_env: None) -> None:
    path = tmp_path / "keeper.toml"
    path.write_text(
        '[keeper]\nrpc_urls = ["ftp://x"]\norders_interval = 0\nshard = "3/2"\ndeployment = "missing.json"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, {"dev_account": 1})
    assert len(str(caught.value).splitlines()) == 1
    lines = str(caught.value).split("; ")
    assert any("rpc_urls: 'ftp://x' is not an http(s) URL" in line for line in lines)
    assert any("orders_interval: must be greater than zero" in line for line in lines)
    assert any("shard: 3/2" in line for line in lines)
    assert any("deployment: missing.json does not exist" in line for line in lines)
    with pytest.raises(ConfigError, match="unknown setting"):
        load_config(None, {"orders_intreval": 1})
    with pytest.raises(ConfigError, match="jobs: unknown deleverage"):
        load_config(None, {"dev_account": 1, "deployment": str(path), "jobs": "liquidation,deleverage"})


def test_jobs_come_from_the_environment_as_a_list(chain: Chain, no_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRIMEVAULT_JOBS", "Liquidation, backstop,liquidation")
    config = load_config(None, {"dev_account": 1, "deployment": str(chain.deployment_file)})
    assert config.jobs == ("liquidation", "backstop")


def test_exact_confirmation_agrees_with_the_contract_on_thousands_of_portfolios(chain: Chain, tmp_path: Path) -> None:
    rng = random.Random(7)
    admin = chain.client(0)
    assert admin.sender is not None
    seed_local_liquidity(admin.sender, chain.deployment)
    owner = dev_account(OWNER).address
    for symbol in ("WETH", "WBTC"):
        admin.token(symbol).contract.functions.mint(owner, 10**30).transact({"from": owner})
        admin.token(symbol).contract.functions.approve(chain.deployment.vault, 2**256 - 1).transact({"from": owner})
    vault = admin.contract
    accounts = []
    for i in range(250):
        account = sub_account(owner, i)
        weth, wbtc = rng.randrange(0, 5 * 10**18), rng.randrange(0, 10**7)
        if weth:
            vault.functions.deposit(account, chain.deployment.token("WETH").address, weth).transact(
                {"from": owner, "gas": 300_000}
            )
        if wbtc:
            vault.functions.deposit(account, chain.deployment.token("WBTC").address, wbtc).transact(
                {"from": owner, "gas": 300_000}
            )
        capacity = (weth * 3000 // 10**18 + wbtc * 60_000 // 10**8) * 8 // 10
        debt = int(capacity * rng.uniform(0.5, 0.999)) * 10**6
        if debt >= 100 * 10**6:
            vault.functions.withdraw(account, chain.deployment.base.address, debt, owner).transact(
                {"from": owner, "gas": 400_000}
            )
        accounts.append(account)
    keeper = keeper_for(chain, tmp_path)
    compared = 0
    for step in range(10):
        eth = rng.uniform(1800, 3200)
        chain.set_price("WETH", eth)
        chain.set_price("WBTC", rng.uniform(40_000, 62_000))
        found = scan(keeper.clients)
        due = set(found.liquidatable)
        for account in found.accounts:
            assert (account.account in due) == keeper.clients.vault.is_liquidatable(account.account), (step, account)
            compared += 1
    assert compared >= 2500


def test_the_daemon_keeps_every_account_healthy_or_liquidated_through_a_crash(chain: Chain, tmp_path: Path) -> None:
    accounts = open_loans(chain, 40)
    vault = chain.client(0)
    owner = dev_account(OWNER).address
    rng = random.Random(3)
    for account in accounts:  # spread the loans from 1,200 to 2,300 USDC of debt per WETH
        repay = rng.randrange(0, 1100) * 10**6
        if repay:
            vault.token("USDC").contract.functions.mint(owner, repay).transact({"from": owner})
            vault.token("USDC").contract.functions.approve(chain.deployment.vault, 2**256 - 1).transact({"from": owner})
            vault.contract.functions.repay(account, repay).transact({"from": owner, "gas": 300_000})
    keeper = keeper_for(
        chain,
        tmp_path,
        poll_interval=0.05,
        orders_interval=3600.0,
        margin_interval=3600.0,
        reconcile_interval=3600.0,
        haircut_interval=3600.0,
    )
    runner = threading.Thread(target=keeper.run)
    runner.start()
    try:
        for price in (2800, 2600, 2400, 2200, 2000, 2300):
            chain.set_price("WETH", price)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and scan(chain.clients(0)).liquidatable:
                time.sleep(0.1)
            assert scan(chain.clients(0)).liquidatable == [], f"accounts left unhealthy at {price}"
    finally:
        keeper.stop.set()
        runner.join(timeout=30)
    assert keeper.metrics.liquidations_mined._value.get() > 0
    assert keeper.metrics.reverts.labels("liquidate")._value.get() == 0, "no reverted liquidation"


def test_a_batch_goes_out_at_the_gas_it_was_sized_to_or_is_estimated(chain: Chain) -> None:
    """`transact_all` with gas hints: a call that runs within its hint is sent with exactly that limit (one
    simulation at it, no estimate); one that does not fit is estimated and still goes through."""
    accounts = open_loans(chain, 4)
    chain.set_price("WETH", 2700)
    vault = chain.client(0)
    sender = vault.sender
    assert sender is not None
    fits = vault.contract.functions.liquidate(accounts[:2])
    short = vault.contract.functions.liquidate(accounts[2:])
    first, second = sender.transact_all("liquidate", [fits, short], gas=[2_000_000, 60_000])
    assert not isinstance(first, TransactionReverted) and not isinstance(second, TransactionReverted)
    assert first["status"] == 1 and second["status"] == 1
    assert chain.w3.eth.get_transaction(first["transactionHash"])["gas"] == 2_000_000
    limit = chain.w3.eth.get_transaction(second["transactionHash"])["gas"]
    assert limit > 60_000 and second["gasUsed"] > 60_000, "estimated, not sent at a limit it cannot run within"
    assert all(not chain.client(0).health(a).liquidatable for a in accounts)


def test_encoded_batches_are_simulated_together_in_one_request(chain: Chain) -> None:
    """Encoded calls with gas hints are simulated in one JSON-RPC batch request before any is signed: one that runs
    within its hint goes out at exactly that limit, one that does not is estimated and still goes through, one that
    reverts is reported with its decoded reason and not sent; the set's nonces after the first are not asked for."""
    from keeper.chain.revert import error_decoder
    from keeper.chain.transactions import EncodedCall, Sender
    from tests.python.test_follower import counted, counting_clients

    accounts = open_loans(chain, 4)
    chain.set_price("WETH", 2700)
    clients, provider = counting_clients(chain)
    sender = Sender(clients.w3, dev_account(0), error_decoder())
    vault = chain.client(0).contract
    to = vault.address

    def liquidate(batch: list[str]) -> EncodedCall:
        return EncodedCall(to, bytes.fromhex(vault.encode_abi("liquidate", [batch])[2:]))

    broken = EncodedCall(to, bytes.fromhex("deadbeef"))  # no such function: the vault reverts
    with counted(provider) as methods:
        fits, short, reverted = sender.transact_all(
            "liquidate", [liquidate(accounts[:2]), liquidate(accounts[2:]), broken], gas=[2_000_000, 60_000, 100_000]
        )
    assert methods.count("batch of 3 eth_call") == 1
    assert methods.count("eth_getTransactionCount") == 1, "one nonce asked for the whole set"
    assert isinstance(reverted, TransactionReverted)
    assert not isinstance(fits, TransactionReverted) and not isinstance(short, TransactionReverted)
    assert fits["status"] == 1 and short["status"] == 1
    assert chain.w3.eth.get_transaction(fits["transactionHash"])["gas"] == 2_000_000
    assert chain.w3.eth.get_transaction(short["transactionHash"])["gas"] > 60_000
    assert short["transactionIndex"] == 1 or short["blockNumber"] > fits["blockNumber"], "sent in order"
    assert all(not chain.client(0).health(a).liquidatable for a in accounts)


def test_metrics_and_healthz_answer_a_path_with_a_query_string() -> None:
    """Prometheus sends a scrape job's `params` as a query string (/metrics?module=keeper), and a probe may add one
    to /healthz: both were 404s, a keeper whose metrics were never scraped."""
    server = serve(KeeperMetrics(), Health(stale_after=60.0), 0)

    def status(path: str) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{server.server_address[1]}{path}", timeout=10) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as refused:
            return refused.code

    try:
        assert status("/metrics?module=keeper") == 200
        assert status("/healthz?verbose=1") == status("/healthz") != 404
        assert status("/nothing?module=keeper") == 404
    finally:
        server.shutdown()
        server.server_close()

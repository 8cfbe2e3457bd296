"""The sender and its node connection across restarts and faults, against real anvils: a nonce file that cannot be
written after a broadcast, a restart after kill -9 while a liquidation waits in the node's pool, a second process on
the same key and data_dir, and a node that stops answering for a while."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from web3.types import RPCEndpoint

from keeper.chain import transactions
from keeper.chain.keys import dev_account
from keeper.chain.provider import RotatingHTTPProvider, connect
from keeper.chain.revert import error_decoder
from keeper.chain.transactions import FeePolicy, Sender
from keeper.client.clients import Clients
from keeper.exceptions import PrimeVaultError, TransactionFateUnknown
from tests.python.conftest import Chain
from tests.python.fault_proxy import node_switch, rpc_faults
from tests.python.test_daemon_faults import poll
from tests.python.test_keeper import keeper_for, open_loans

pytestmark = pytest.mark.chain

KEEPER_KEY = 9  # keeper_for's dev account


def keeper_command(chain: Chain, data_dir: Path) -> list[str]:
    """`primevault keeper run` with the liquidation job, as an operator starts it."""
    return [
        sys.executable, "-c", "from keeper.cli.main import main; main()",
        "--deployment", str(chain.deployment_file), "--rpc-url", chain.url, "--dev-account", str(KEEPER_KEY),
        "keeper", "run", "--jobs", "liquidation,reconcile", "--metrics-port", "off", "--data-dir", str(data_dir),
    ]  # fmt: skip


def test_a_nonce_file_that_cannot_be_written_after_a_broadcast_is_one_line_and_the_liquidation_counts(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The data_dir turned unwritable under a running keeper: its transaction was broadcast (and is mined), so the
    failed write is said with what was sent and what it risks, and the job carries on with the transaction's wait."""
    open_loans(chain, 2)
    keeper = keeper_for(chain, tmp_path)
    assert keeper.sender is not None and keeper.sender.nonces.state_file is not None
    nonce_file = keeper.sender.nonces.state_file
    # A directory in the way of the file's partial copy fails the write as a read-only data_dir does, for root too
    # (whom file modes do not stop).
    nonce_file.with_name(nonce_file.name + ".partial").mkdir(parents=True)
    chain.set_price("WETH", 2700)
    caplog.clear()

    results = keeper.jobs.liquidation.run()

    assert sum(len(r.liquidated) for r in results) == 2, "the liquidation's receipt was awaited"
    assert keeper.metrics.liquidations_mined._value.get() == 2
    assert keeper.health.status() == (True, "ok"), "a sent transaction is no failed send"
    [sent] = keeper.sender.sent
    assert [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.WARNING] == [
        (
            "ERROR",
            f"liquidate: sent as {sent.tx_hash} with nonce {sent.nonce}, but the nonce file {nonce_file} could not be "
            f"written (Is a directory): a restart before it is written again may reuse nonce {sent.nonce}; make "
            "data_dir writable",
        )
    ]
    assert all(r.exc_info is None for r in caplog.records), "no traceback"


def test_a_restart_after_kill_9_waits_for_the_liquidation_left_in_the_pool_and_sends_nothing_twice(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A keeper killed while its liquidation waits in the node's pool: restarted, it scanned the account as still due
    and liquidated it again under the next nonce (both mined, the second skipping every account). It waits for what
    the pool holds of its key first, so its first scan finds the account liquidated."""
    open_loans(chain, 2)
    chain.set_price("WETH", 2700)  # due from the first block the keeper scans
    key = dev_account(KEEPER_KEY).address
    mined_before = chain.w3.eth.get_transaction_count(key)
    data_dir = tmp_path / "keeper"
    node = chain.w3.provider
    outcome: dict[str, Any] = {}

    def restart() -> None:
        keeper = keeper_for(chain, tmp_path, replace_after=20.0)
        outcome["results"] = keeper.jobs.liquidation.run()

    node.make_request(RPCEndpoint("evm_setAutomine"), [False])
    restarted = threading.Thread(target=restart)
    try:
        with (tmp_path / "killed.log").open("w") as killed_log:
            process = subprocess.Popen(keeper_command(chain, data_dir), stderr=killed_log)
            try:
                poll(lambda: chain.w3.eth.get_transaction_count(key, "pending") > mined_before, timeout=60)
            finally:
                process.kill()  # SIGKILL: no handler runs, the lock file and the nonce file stay behind
                process.wait(timeout=10)
        caplog.clear()
        restarted.start()
        poll(lambda: any("pending in the node's pool" in r.getMessage() for r in caplog.records))
        node.make_request(RPCEndpoint("evm_mine"), [])  # the killed run's liquidation, mined while the restart waits
    finally:
        node.make_request(RPCEndpoint("evm_setAutomine"), [True])
        if restarted.ident is not None:
            restarted.join(timeout=30)
    assert outcome["results"] == [], "nothing due any more: liquidated once, by the killed run"
    assert chain.w3.eth.get_transaction_count(key) == mined_before + 1, "one liquidation sent in all"
    [said] = [r for r in caplog.records if "pending in the node's pool" in r.getMessage()]
    assert said.getMessage() == (
        f"1 transaction(s) of {key} (nonces {mined_before} to {mined_before}) are pending in the node's pool, not "
        "sent by this process (an earlier run's, or another process's with this key): waiting up to 20s for them to "
        "be mined before sending, so that their work is not sent twice"
    )


def test_a_second_process_on_the_same_key_and_data_dir_is_refused_at_start_in_one_line(
    chain: Chain, tmp_path: Path
) -> None:
    """Two processes sending with one key from one data_dir each take nonces the other does not know of and send
    again what the other sent: the second is refused at start, naming the first."""
    running = keeper_for(chain, tmp_path)  # holds the key's lock file in data_dir for this process's life
    assert running.sender is not None
    done = subprocess.run(keeper_command(chain, tmp_path / "keeper"), capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if not line.startswith("{")]  # JSON lines are logs
    assert errors == [
        f"Error: process {os.getpid()} on {socket.gethostname()} already sends with key {running.sender.address} "
        f"from {tmp_path / 'keeper'} (it holds nonce-{running.sender.address}.lock): stop it, or give this one "
        "another key or data_dir"
    ]


def test_a_node_that_stops_answering_is_one_line_each_way_not_one_per_retry(
    chain: Chain, caplog: pytest.LogCaptureFixture
) -> None:
    """A daemon checks the node every cycle, each check retried six times: while the node was away every retry was a
    warning, continuously. Its absence is said once, its return once, the retries in between at debug level."""
    caplog.set_level(logging.DEBUG, logger="keeper.chain.provider")
    with node_switch(chain.url) as node:
        w3 = connect([node.url])
        provider = w3.provider
        assert isinstance(provider, RotatingHTTPProvider)
        provider.retries, provider.backoff = 3, 0.01
        assert provider.fresh_chain_id() == chain.w3.eth.chain_id
        node.switch(up=False)
        for _ in range(3):  # three cycles' checks
            with pytest.raises(requests.ConnectionError):
                provider.fresh_chain_id()
        node.switch(up=True)
        for _ in range(3):
            assert provider.fresh_chain_id() == chain.w3.eth.chain_id
    said = [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.INFO]
    assert len(said) == 2, said
    assert said[0] == (
        "WARNING",
        f"rpc eth_chainId failed: the node at {node.url} does not answer (ConnectionError); retrying, said again once "
        "it answers",
    )
    assert said[1][0] == "INFO" and said[1][1].startswith(f"the node at {node.url} answers again, after ")
    retries = [r for r in caplog.records if r.levelno == logging.DEBUG and "retry" in r.getMessage()]
    assert len(retries) == 3 * 3, "every retry is still there, at debug level"


# ---------------------------------------------------------------- a JSON-RPC node whose answers break after the send


def _minting(chain: Chain, url: str) -> tuple[Any, int]:
    """A mint of 1 unit of the first token, signed by dev account 0 through `url`, and the balance before it."""
    w3 = connect([url], 5)
    sender = Sender(w3, dev_account(0), error_decoder(), fees=FeePolicy(replace_after=2, receipt_timeout=20))
    token = Clients.build(w3, chain.deployment, sender).vault.token(chain.deployment.base.symbol)
    return token, _balance(chain)


def _balance(chain: Chain) -> int:
    return int(chain.client(0).token(chain.deployment.base.symbol).balance_of(dev_account(1).address))


@pytest.fixture
def quick_silence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transactions, "NODE_SILENT_SECONDS", 1.0)
    monkeypatch.setattr(transactions, "POOL_CHECK_SECONDS", 0.2)


@pytest.mark.parametrize("fault", ["error", "502", "garbage", "null"])
def test_a_receipt_answer_broken_after_the_send_is_a_fate_unknown_naming_the_mined_transaction(
    chain: Chain, fault: str, quick_silence: None
) -> None:
    with rpc_faults(chain.url) as (faults, url):
        token, before = _minting(chain, url)
        faults.break_answers("eth_getTransactionReceipt", fault)
        faults.break_answers("eth_getTransactionByHash", fault)
        with pytest.raises(TransactionFateUnknown) as raised:
            token.mint(dev_account(1).address, 1)
    [sent] = token.sender.sent
    assert raised.value.tx_hash == sent.tx_hash and raised.value.nonce == sent.nonce
    assert sent.tx_hash in str(raised.value) and f"nonce {sent.nonce}" in str(raised.value)
    assert chain.w3.eth.get_transaction_receipt(sent.tx_hash)["status"] == 1, "it was mined"
    assert _balance(chain) == before + 1
    assert len(token.sender.sent) == 1, "nothing was sent again"


@pytest.mark.parametrize("fault", ["502", "garbage", "null"])
def test_a_broken_answer_to_the_send_itself_is_no_failure_the_receipt_decides(
    chain: Chain, fault: str, quick_silence: None
) -> None:
    with rpc_faults(chain.url) as (faults, url):
        token, before = _minting(chain, url)
        faults.break_answers("eth_sendRawTransaction", fault)
        receipt = token.mint(dev_account(1).address, 1)
    assert faults.served == ["eth_sendRawTransaction"]
    assert receipt["status"] == 1
    assert _balance(chain) == before + 1


def test_a_send_answer_and_every_receipt_broken_is_a_fate_unknown(chain: Chain, quick_silence: None) -> None:
    with rpc_faults(chain.url) as (faults, url):
        token, before = _minting(chain, url)
        faults.break_answers("eth_sendRawTransaction", "garbage")
        faults.break_answers("eth_getTransactionReceipt", "garbage")
        with pytest.raises(TransactionFateUnknown) as raised:
            token.mint(dev_account(1).address, 1)
    assert raised.value.tx_hash == token.sender.sent[0].tx_hash
    assert _balance(chain) == before + 1


def test_a_transaction_the_node_keeps_losing_is_sent_again_a_few_times_then_a_fate_unknown(
    chain: Chain, quick_silence: None
) -> None:
    with rpc_faults(chain.url) as (faults, url):
        token, before = _minting(chain, url)
        faults.break_answers("eth_sendRawTransaction", "502", unsent=True)  # never reaches the node
        started = time.monotonic()
        with pytest.raises(TransactionFateUnknown) as raised:
            token.mint(dev_account(1).address, 1)
    assert time.monotonic() - started < 15
    assert faults.served.count("eth_sendRawTransaction") == 1 + transactions.MAX_RESENDS_AFTER_DROP
    assert f"nonce {raised.value.nonce}" in str(raised.value)
    assert _balance(chain) == before


def test_a_transaction_mined_just_after_the_last_receipt_poll_is_no_fate_unclear(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wait's window ends (`replace_after`, or the pool check) just before the block that mines the transaction:
    the chain's count then says its nonce is used, and its receipt is there. It is returned, not raised as
    `TransactionFateUnclear` ("nonce N is used on chain, but the node gives no receipt")."""
    sender = Sender(chain.w3, dev_account(0), error_decoder(), fees=FeePolicy(replace_after=2, receipt_timeout=20))
    token = Clients.build(chain.w3, chain.deployment, sender).vault.token(chain.deployment.base.symbol)
    before = _balance(chain)
    real = Sender._wait_any
    calls = {"n": 0}

    def wait_any(self: Sender, hashes: Any, seconds: float) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            # The window reached its end just before the block that mined it: the block comes (the real wait sees
            # it), and this poll is made to have given up all the same.
            real(self, hashes, seconds)
            return None
        return real(self, hashes, seconds)

    monkeypatch.setattr(Sender, "_wait_any", wait_any)
    receipt = token.mint(dev_account(1).address, 1)
    assert receipt["status"] == 1
    assert len(sender.sent) == 1, "nothing was sent again"
    assert _balance(chain) == before + 1


@pytest.mark.parametrize("status", ["429", "401", "403", "413"])
def test_a_send_the_provider_refuses_with_an_http_4xx_is_a_refusal(
    chain: Chain, status: str, quick_silence: None
) -> None:
    """A provider's 429 (rate limit), 401/403 (a key it refuses) or 413 (too large) to eth_sendRawTransaction says
    the transaction was not taken: one line naming the status, nothing recorded as sent nor sent again, and the next
    send takes the same nonce. Not "fate unknown ... it may be mined"."""
    with rpc_faults(chain.url) as (faults, url):
        token, before = _minting(chain, url)
        nonce = chain.w3.eth.get_transaction_count(dev_account(0).address)
        faults.break_answers("eth_sendRawTransaction", status, unsent=True)
        with pytest.raises(PrimeVaultError) as raised:
            token.mint(dev_account(1).address, 1)
        assert not isinstance(raised.value, TransactionFateUnknown), str(raised.value)
        assert f"HTTP {status}" in str(raised.value) and "\n" not in str(raised.value)
        assert faults.served == ["eth_sendRawTransaction"], "sent once, never again"
        assert token.sender.sent == []
        faults.heal()
        receipt = token.mint(dev_account(1).address, 1)
    assert receipt["status"] == 1
    assert token.sender.sent[0].nonce == nonce, "the refused send used no nonce"
    assert _balance(chain) == before + 1


def test_bytes_the_node_already_holds_sent_again_are_no_error(chain: Chain) -> None:
    """anvil answers a second copy of a transaction in its pool with "transaction already imported" (geth: "already
    known"): the node holds it, so a resend of the same bytes is no failure, and the first copy is mined."""
    me = dev_account(0).address
    sender = Sender(chain.w3, dev_account(0), error_decoder())
    node = chain.w3.provider
    nonce = chain.w3.eth.get_transaction_count(me)
    fee = 2 * int(chain.w3.eth.get_block("latest")["baseFeePerGas"]) + 10**9
    tx: Any = {
        "type": 2, "chainId": chain.w3.eth.chain_id, "nonce": nonce, "to": dev_account(1).address, "value": 1,
        "gas": 21_000, "maxFeePerGas": fee, "maxPriorityFeePerGas": 10**9,
    }  # fmt: skip
    node.make_request(RPCEndpoint("evm_setAutomine"), [False])
    try:
        first = sender._broadcast("send", tx, first=True)
        assert sender._broadcast("send", tx) == first, "the same bytes, the same hash, and no error"
    finally:
        node.make_request(RPCEndpoint("evm_setAutomine"), [True])
    node.make_request(RPCEndpoint("evm_mine"), [])
    assert chain.w3.eth.get_transaction_receipt(first)["status"] == 1
    assert chain.w3.eth.get_transaction_count(me) == nonce + 1

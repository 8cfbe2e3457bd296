"""The keeper daemon under faults, against real anvils: a wrong chain at start and under it, a node that does not
answer, a node that goes away while the keeper runs and comes back, a chain that goes back behind the scanned head,
unreadable state files, failed sends and a second SIGINT."""

from __future__ import annotations

import dataclasses
import json
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from eth_typing import HexStr
from web3 import Web3
from web3.types import RPCEndpoint

from keeper.chain.anvil import Anvil
from keeper.chain.keys import dev_account
from keeper.chain.provider import connect
from keeper.chain.revert import error_decoder
from keeper.chain.transactions import NODE_SILENT_SECONDS, EncodedCall, FeePolicy, NonceManager, Sender
from keeper.client.tokens import TokenClient
from keeper.daemon.chain_watch import garbled_request
from keeper.daemon.config import KeeperConfig
from keeper.daemon.runner import Keeper
from keeper.exceptions import ConfigError, TransactionFateUnknown, TransactionReverted
from tests.python.conftest import Chain
from tests.python.fault_proxy import node_switch, rpc_faults

pytestmark = pytest.mark.chain  # the session's anvil, and anvils of their own

GWEI = 10**9


def config_for(chain: Chain, tmp_path: Path, **overrides: Any) -> KeeperConfig:
    config = KeeperConfig(
        rpc_urls=(chain.url,),
        deployment=chain.deployment_file,
        data_dir=tmp_path / "keeper",
        dev_account=9,
        jobs=("liquidation", "reconcile"),
        metrics_port=None,
        start_timeout=3.0,
    )
    return dataclasses.replace(config, **overrides)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP server that accepts connections and never answers: an RPC slower than any read timeout."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


def test_a_node_slower_than_the_read_timeout_at_start_is_one_line(
    chain: Chain, tmp_path: Path, silent_server: str
) -> None:
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        Keeper(config_for(chain, tmp_path, rpc_urls=(silent_server,), rpc_timeout=0.3, start_timeout=1.0))
    assert f"the RPC at {silent_server} did not answer within 1s (ReadTimeout)" in str(caught.value)
    assert len(str(caught.value).splitlines()) == 1
    assert time.monotonic() - started < 10


def test_a_node_that_comes_up_late_is_waited_for(chain: Chain, tmp_path: Path) -> None:
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    free = port.getsockname()[1]
    port.close()
    late = Anvil(port=free)
    threading.Timer(1.0, late.start).start()
    try:
        with pytest.raises(ConfigError, match=r"no contract at the vault"):
            # It answers after a second: the keeper waits, then finds no vault there (a fresh chain).
            Keeper(config_for(chain, tmp_path, rpc_urls=(late.url,), start_timeout=20.0))
    finally:
        late.stop()


def test_a_wrong_chain_at_start_stops_with_one_line(chain: Chain, tmp_path: Path) -> None:
    with Anvil(chain_id=999) as other, pytest.raises(ConfigError) as caught:
        Keeper(config_for(chain, tmp_path, rpc_urls=(other.url,)))
    assert str(caught.value) == (
        "the RPC is chain 999 but the deployment is on chain 31337: point rpc_urls at the deployment's chain or "
        "use its deployment file"
    )


def test_a_chain_id_change_under_the_keeper_makes_it_unhealthy_and_idle(chain: Chain, tmp_path: Path) -> None:
    keeper = Keeper(config_for(chain, tmp_path))
    keeper._on_new_block()
    assert keeper.health.status()[0], keeper.health.status()[1]
    scanned = keeper.jobs.liquidation.last_scan
    with Anvil(chain_id=999) as other:
        keeper.w3.provider.endpoint_uri = other.url  # type: ignore[union-attr]  # the node behind the URL changed
        keeper._on_new_block()
        healthy, reason = keeper.health.status()
        assert not healthy
        assert reason == "the RPC is now chain 999, not the deployment's chain 31337"
        assert keeper.jobs.liquidation.last_scan is scanned, "nothing is scanned or sent on the wrong chain"
    keeper.w3.provider.endpoint_uri = chain.url  # type: ignore[union-attr]
    keeper._on_new_block()
    assert keeper.health.status()[0], "healthy again once the node is right"


def test_the_keeper_scans_again_when_the_head_goes_back(chain: Chain, tmp_path: Path) -> None:
    keeper = Keeper(config_for(chain, tmp_path))
    snapshot = chain.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    for _ in range(3):
        chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    keeper._on_new_block()
    assert keeper.jobs.liquidation.last_scan is not None
    high = keeper.jobs.liquidation.last_scan.block
    keeper.jobs.liquidation.last_scan = None
    keeper._on_new_block()
    assert keeper.jobs.liquidation.last_scan is None, "the same head is not scanned twice"

    chain.w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]  # a node restarted behind
    keeper._on_new_block()
    assert keeper.jobs.liquidation.last_scan is not None and keeper.jobs.liquidation.last_scan.block == high - 3, (
        "rescanned at once, no new block"
    )

    for _ in range(3):  # back to the same height, with other blocks: their hashes differ
        chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    keeper.jobs.liquidation.last_scan = None
    keeper._on_new_block()
    assert keeper.jobs.liquidation.last_scan is not None and keeper.jobs.liquidation.last_scan.block == high


def test_unreadable_state_files_are_set_aside(chain: Chain, tmp_path: Path) -> None:
    data = tmp_path / "keeper"
    data.mkdir()
    (data / "prices.sqlite").write_text("not a database")
    (data / "nonce-0xa0Ee7A142d267C1f36714E4a8F75612F20a79720.json").write_text('{"last_used": ')
    keeper = Keeper(config_for(chain, tmp_path))
    keeper.run_once()
    names = sorted(p.name for p in data.iterdir())
    assert any(n.startswith("prices.sqlite.corrupt-") for n in names), names
    assert any(n.startswith("nonce-0xa0Ee7A142d267C1f36714E4a8F75612F20a79720.json.corrupt-") for n in names), names


def test_a_send_that_fails_makes_the_keeper_unhealthy_until_one_succeeds(chain: Chain, tmp_path: Path) -> None:
    keeper = Keeper(config_for(chain, tmp_path))
    keeper._on_new_block()

    def down(*_: object) -> None:
        raise requests.ConnectionError("node went away")

    with pytest.raises(requests.ConnectionError):
        keeper.context.send("liquidate", down)
    healthy, reason = keeper.health.status()
    assert not healthy and reason == "liquidate could not be sent: ConnectionError: node went away"
    keeper._on_new_block()
    assert not keeper.health.status()[0], "a good scan does not hide a failing send"
    keeper.context.send("liquidate", lambda: "sent")
    assert keeper.health.status() == (True, "ok")


def test_a_transaction_whose_fate_is_unknown_is_the_node_away_for_a_job(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A job's transaction sent just before the node went away ends as `TransactionFateUnknown` (a PrimeVaultError,
    which jobs said as an ERROR every time): for the daemon it is the node's absence, which the chain watch says once;
    the job's line, a warning, names the transaction, which is mined when the node is back or replaced as stuck."""
    keeper = Keeper(config_for(chain, tmp_path))
    caplog.set_level(logging.INFO, logger="primevault.keeper")
    caplog.clear()  # the start-up lines

    def sent_then_node_gone() -> None:
        try:
            raise requests.ConnectionError("node went away")
        except requests.ConnectionError as exc:
            raise TransactionFateUnknown("liquidate", "0x" + "ab" * 32, 7) from exc

    keeper._guarded("liquidation", sent_then_node_gone)
    assert [r.levelname for r in caplog.records] == ["WARNING"], "no ERROR, no traceback"
    assert caplog.records[0].getMessage() == (
        "liquidation: interrupted, the node did not answer (ConnectionError) once liquidate was sent as "
        f"0x{'ab' * 32} (nonce 7)"
    )


def test_a_second_sigint_exits_at_once(chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keeper = Keeper(config_for(chain, tmp_path))
    exits: list[int] = []
    monkeypatch.setattr("keeper.daemon.runner.os._exit", exits.append)
    keeper._on_signal(signal.SIGINT, None)
    assert keeper.stop.is_set() and exits == []
    keeper._on_signal(signal.SIGINT, None)
    assert exits == [128 + signal.SIGINT]


def test_a_node_that_goes_away_and_comes_back_is_one_line_each_way_and_the_keeper_resumes(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The node's connections are cut while the daemon runs (its process gone, a load balancer without a backend),
    then it answers again: the daemon keeps running, says so once each way, reports itself unhealthy meanwhile and
    scans the new head once the node is back."""
    caplog.set_level(logging.INFO, logger="primevault.keeper")
    with node_switch(chain.url) as node:
        keeper = Keeper(config_for(chain, tmp_path, rpc_urls=(node.url,), poll_interval=0.05, reconcile_interval=0.2))
        keeper.w3.provider.retries = 0  # type: ignore[attr-defined]  # each cycle tries once: the test runs fast
        running = threading.Thread(target=keeper.run)
        running.start()
        try:
            poll(lambda: keeper.jobs.liquidation.last_scan is not None)
            node.switch(up=False)
            poll(lambda: not keeper.health.status()[0])
            time.sleep(0.5)  # several cycles and reconciliations against the missing node
            assert keeper.health.status() == (False, f"the node at {node.url} does not answer (ConnectionError)")
            node.switch(up=True)
            chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
            head = chain.w3.eth.block_number
            poll(lambda: (scan := keeper.jobs.liquidation.last_scan) is not None and scan.block == head)
            assert keeper.health.status()[0]
        finally:
            keeper.stop.set()
            running.join(timeout=10)
    assert not running.is_alive()
    problems = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in problems] == [
        f"not acting on this node: the node at {node.url} does not answer (ConnectionError)"
    ]
    assert all(r.exc_info is None for r in caplog.records), "no traceback"
    assert any(r.getMessage().startswith("the node is right again") for r in caplog.records)


def test_a_receipt_awaited_while_the_node_is_away_ends_as_its_absence(chain: Chain, tmp_path: Path) -> None:
    """A transaction broadcast just before the node went away: its receipt was awaited, every poll failing, for the
    whole receipt timeout, then reported as not mined (an ERROR naming a nonce, while the job that sent it said
    nothing of the node for that long). The wait ends as the node's absence once it has answered nothing for
    `NODE_SILENT_SECONDS`, naming the transaction (a CLI user must not send it again: it may be mined), and the
    transaction is mined when the node is back."""
    account = chain.account(7)
    node = chain.w3.provider
    with node_switch(chain.url) as switch:
        w3 = connect([switch.url])
        w3.provider.retries = 0  # type: ignore[attr-defined]
        sender = Sender(w3, account, error_decoder(), fees=FeePolicy(receipt_timeout=60.0), nonce_file=tmp_path / "n")
        approve = TokenClient(w3, chain.deployment.base, sender).contract.functions.approve(account.address, 1)
        node.make_request(RPCEndpoint("evm_setAutomine"), [False])
        try:
            tx = sender._prepare("approve", approve, None, sender._fee_fields())
            sent = sender._first_broadcast("approve", tx)
            switch.switch(up=False)
            started = time.monotonic()
            with pytest.raises(TransactionFateUnknown) as raised:
                sender._await("approve", tx, [sent])
            assert NODE_SILENT_SECONDS <= time.monotonic() - started < NODE_SILENT_SECONDS + 5
            assert isinstance(raised.value.__cause__, requests.ConnectionError), "the node's absence, as the cause"
            assert str(raised.value).startswith(f"approve: sent as 0x{sent.hex()} (nonce {tx['nonce']}); the node")
        finally:
            node.make_request(RPCEndpoint("evm_setAutomine"), [True])
        switch.switch(up=True)
    node.make_request(RPCEndpoint("evm_mine"), [])
    assert chain.w3.eth.get_transaction_receipt(sent)["status"] == 1


def poll(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_anvil_leaves_no_state_files_behind() -> None:
    """Anvil keeps the states of older blocks in files under $HOME/.foundry and leaves them there when it stops (about a
    gigabyte a long test run, every run, and every `primevault demo`): each node gets a home of its own, removed with
    it."""
    with Anvil() as node:
        Web3(Web3.HTTPProvider(node.url)).provider.make_request(RPCEndpoint("anvil_mine"), [hex(1_000)])
        assert node.home is not None
        home = Path(node.home)
        assert any(home.rglob("*")), "anvil wrote its states there"
    assert not home.exists()


def test_the_nonce_file_stays_whole_and_keeps_the_highest_nonce_under_concurrent_sends(tmp_path: Path) -> None:
    """The keeper's jobs send from threads of their own, and a replacement of a lower nonce is recorded while later
    ones are in flight: the file must always parse and never go back to a lower nonce."""
    nonce_file = tmp_path / "nonce.json"
    address = dev_account(8).address
    nonces = NonceManager(Web3(), address, nonce_file)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(nonces.used, [n % 997 for n in range(4_000)]))
    assert json.loads(nonce_file.read_text()) == {"address": address, "last_used": 996}
    assert NonceManager(Web3(), address, nonce_file)._last_used == 996, "a restart reads it back"
    assert [p.name for p in tmp_path.iterdir()] == ["nonce.json"], "no partial file left beside it"


@pytest.mark.parametrize("left_behind", ["forgotten by the node", "still in the pool"])
def test_a_restart_takes_the_next_nonce_without_a_gap_or_a_replacement(
    chain: Chain, tmp_path: Path, left_behind: str
) -> None:
    """A keeper killed right after broadcasting leaves its nonce file naming that nonce. Restarted, its next
    transaction takes the nonce after it if the node still holds the transaction (replacing it could undo what it
    did), and that same nonce if the node has forgotten it (the next one would leave a gap nothing fills)."""
    account = chain.account(8)
    nonce_file = tmp_path / f"nonce-{account.address}.json"
    node = chain.w3.provider
    token = chain.deployment.base
    n = chain.w3.eth.get_transaction_count(account.address)
    node.make_request(RPCEndpoint("evm_setAutomine"), [False])
    try:
        before_kill = Sender(chain.w3, account, error_decoder(), nonce_file=nonce_file)
        approve = TokenClient(chain.w3, token, before_kill).contract.functions.approve(account.address, 1)
        tx = before_kill._prepare("approve", approve, None, before_kill._fee_fields())
        before_kill._first_broadcast("approve", tx)  # sent as `transact` sends; the process dies before the receipt
        if left_behind == "forgotten by the node":
            node.make_request(RPCEndpoint("anvil_dropAllTransactions"), [])
    finally:
        node.make_request(RPCEndpoint("evm_setAutomine"), [True])
    # A gap would leave the transaction unmined: it fails in seconds, not after the default two minutes.
    fees = FeePolicy(replace_after=2.0, receipt_timeout=5.0)
    restarted = Sender(chain.w3, account, error_decoder(), fees=fees, nonce_file=nonce_file)
    receipt = TokenClient(chain.w3, token, restarted).approve(account.address, 2)
    expected = n if left_behind == "forgotten by the node" else n + 1
    assert chain.w3.eth.get_transaction(receipt["transactionHash"])["nonce"] == expected
    assert chain.w3.eth.get_transaction_count(account.address) == expected + 1, "every nonce up to it is mined"


@pytest.mark.parametrize("stuck", ["still in the pool", "evicted by the next block"])
def test_a_restart_behind_a_transaction_below_the_base_fee_replaces_it(tmp_path: Path, stuck: str) -> None:
    """A keeper killed while its transaction waits at a max fee the base fee has since passed leaves the nonce file
    naming it, and its restart sends the next nonce behind it, which no fee of its own can get mined. The restarted
    sender replaces the stuck nonce with a zero-value transfer to itself, and both are mined.

    anvil refuses a transaction below the base fee and evicts one when it mines a block (geth keeps it pending), so
    the base fee is raised after the first send and blocks are mined from the moment under test on: once the
    replacement is sent (the stuck transaction still in the pool) or once the restart has sent (the node forgot it)."""
    account = dev_account(8)
    nonce_file = tmp_path / f"nonce-{account.address}.json"
    high_base_fee = hex(5 * GWEI // 2)  # above the stuck transaction's 2 gwei, below the restart's quote
    with Anvil() as node:
        w3 = Web3(Web3.HTTPProvider(node.url))

        def rpc(method: str, *params: object) -> None:
            w3.provider.make_request(RPCEndpoint(method), list(params))

        rpc("evm_setAutomine", False)
        before_kill = Sender(w3, account, error_decoder(), fees=FeePolicy(max_fee_cap=2 * GWEI), nonce_file=nonce_file)
        transfer = EncodedCall(dev_account(7).address, b"")
        tx = before_kill._prepare("transfer", transfer, None, before_kill._fee_fields())
        before_kill._first_broadcast("transfer", tx)  # sent as `transact` sends; the process dies before the receipt
        rpc("anvil_setNextBlockBaseFeePerGas", high_base_fee)

        fees = FeePolicy(replace_after=0.5, receipt_timeout=5.0)
        restarted = Sender(w3, account, error_decoder(), fees=fees, nonce_file=nonce_file)
        with ThreadPoolExecutor(1) as pool:
            sending = pool.submit(restarted.transact_all, "transfer", [transfer])
            if stuck == "still in the pool":
                poll(lambda: any(s.nonce == 0 for s in restarted.sent), timeout=5.0)
            else:
                poll(lambda: bool(restarted.sent), timeout=5.0)
            deadline = time.monotonic() + 10.0
            while not sending.done() and time.monotonic() < deadline:
                rpc("anvil_setNextBlockBaseFeePerGas", high_base_fee)  # it stays above the stuck transaction's fee
                rpc("evm_mine")
                time.sleep(0.1)
            [receipt] = sending.result(timeout=0)
        assert not isinstance(receipt, TransactionReverted) and receipt["status"] == 1
        assert w3.eth.get_transaction(receipt["transactionHash"])["nonce"] == 1, "the next nonce, from the file"
        [replacement] = [s for s in restarted.sent if s.nonce == 0]
        mined = w3.eth.get_transaction(HexStr(replacement.tx_hash))
        assert (mined["to"], mined["value"]) == (account.address, 0) and mined["blockNumber"] is not None
        assert w3.eth.get_transaction_count(account.address) == 2


def test_a_stuck_nonce_that_the_fee_cap_cannot_replace_is_said_once(caplog: pytest.LogCaptureFixture) -> None:
    """With the base fee above `max_fee_gwei` no replacement could be mined: nothing is sent, and the operator reads
    one line however many times the sender comes back to it."""
    with Anvil() as node:
        w3 = Web3(Web3.HTTPProvider(node.url))
        w3.provider.make_request(RPCEndpoint("anvil_setNextBlockBaseFeePerGas"), [hex(5 * GWEI)])
        w3.provider.make_request(RPCEndpoint("evm_mine"), [])
        sender = Sender(w3, dev_account(8), error_decoder(), fees=FeePolicy(max_fee_cap=3 * GWEI))
        for _ in range(3):
            sender._replace_stuck("transfer", 0)
    assert sender.sent == []
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        (
            "ERROR",
            "transfer: nonce 0 holds this key's transactions back and replacing it takes more than max_fee_gwei "
            "(3.00 gwei; the base fee is 5.00 gwei): waiting for the base fee to fall",
        )
    ]


def venue_margins(chain: Chain) -> list[int]:
    trading = chain.clients(0).trading
    assert trading is not None
    return [a.margin().net_collateral for a in trading.adapters() if not a.venue.fills_off_chain]


def test_after_sigterm_the_transaction_in_flight_finishes_and_no_new_one_starts(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SIGTERM said "stopping after the transaction in flight", yet a job deposited margin at a venue 17 s later. Here
    the margin job wants a deposit at each venue; the signal comes while the first is being sent (its
    eth_sendRawTransaction answered late): it lands, the second is not sent, and no job starts afterwards."""
    caplog.set_level(logging.INFO, logger="primevault.keeper")
    chain.seed_pool()
    before = venue_margins(chain)
    assert len(before) == 2
    with rpc_faults(chain.url) as (faults, url):
        keeper = Keeper(
            config_for(chain, tmp_path, rpc_urls=(url,), dev_account=0, jobs=("margin",), margin_minimum=400_000)
        )
        faults.slow["eth_sendRawTransaction"] = 1.5
        running = threading.Thread(target=keeper._guarded, args=("margin", keeper.jobs.margin.run))
        running.start()
        poll(lambda: "eth_sendRawTransaction" in faults.asked)
        keeper._on_signal(signal.SIGTERM, None)
        running.join(timeout=30)
        assert not running.is_alive()
        keeper._timed("margin", keeper.jobs.margin.run)  # a timer that fires after the signal
        keeper._guarded("liquidation", keeper.jobs.liquidation.run)
        assert faults.asked.count("eth_sendRawTransaction") == 1
    after = venue_margins(chain)
    assert after[0] > before[0], "the deposit in flight landed"
    assert after[1] == before[1], "no deposit after the signal"
    messages = [r.getMessage() for r in caplog.records]
    assert "margin: deposit margin not sent: the keeper is stopping" in messages
    assert len([m for m in messages if "depositing" in m]) == 2, "the second was decided, not sent"
    assert keeper.metrics.job_failures.labels("margin")._value.get() == 0, "stopping is no failure"


def _cycles(keeper: Keeper, jobs: list[tuple[str, Callable[[], object]]], count: int) -> None:
    """`count` daemon cycles of `jobs`, each job guarded as the daemon guards it."""
    for _ in range(count):
        for name, job in jobs:
            keeper._guarded(name, job)


@pytest.mark.parametrize(
    ("method", "fault", "decoded"),
    [
        ("eth_call", "html", "JSONDecodeError"),
        ("eth_getBlockByNumber", "html", "JSONDecodeError"),
        # a null where eth_call's data was due: web3's result formatter raised a TypeError, a traceback every cycle
        ("eth_call", "null", "TypeError"),
    ],
)
def test_a_node_answering_garbage_is_one_line_when_it_starts_and_one_when_it_ends(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture, method: str, fault: str, decoded: str
) -> None:
    """A node (or the proxy before it) answering an HTML page to eth_call logged a full traceback from every job every
    cycle ("orders failed" every 2 s) and never said the node was the trouble, nor when it recovered. (A garbled
    answer to eth_sendRawTransaction is the sender's: it waits for the receipt of what it sent, one warning.)"""
    caplog.set_level(logging.DEBUG, logger="primevault.keeper")
    chain.seed_pool()
    with rpc_faults(chain.url) as (faults, url):
        keeper = Keeper(
            config_for(
                chain,
                tmp_path,
                rpc_urls=(url,),
                dev_account=0,
                jobs=("liquidation", "margin", "reconcile"),
                margin_minimum=400_000,
            )
        )
        jobs = [("liquidation", keeper.jobs.liquidation.run), ("margin", keeper.jobs.margin.run)]
        jobs += [("reconcile", keeper.jobs.reconcile.run)]
        caplog.clear()
        faults.break_answers(method, fault)
        _cycles(keeper, jobs, 3)
        words = f"the node at {url} answers {method} with something that is not JSON-RPC ({decoded})"
        healthy, reason = keeper.health.status()
        assert not healthy and reason.startswith(words), reason
        assert "<html>" not in reason, "the node's fault in words, not the page it sent"
        faults.heal()
        _cycles(keeper, jobs, 2)
        assert keeper.health.status()[0], keeper.health.status()[1]
    said = [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.INFO]
    garbled = [m for _, m in said if "not JSON-RPC" in m or "JSON-RPC again" in m]
    assert garbled == [
        f"{words}: the jobs that need it wait; said again once it answers",
        f"the node at {url} answers JSON-RPC again ({method})",
    ]
    assert [level for level, m in said if level == "ERROR"] == ["ERROR"], said
    assert all(r.exc_info is None for r in caplog.records), "no traceback"
    assert not any("Traceback" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(("method", "fault"), [("eth_call", "429"), ("eth_getBlockByNumber", "502")])
def test_a_node_answering_an_http_error_is_one_line_when_it_starts_and_one_when_it_ends(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture, method: str, fault: str
) -> None:
    """A provider's rate limit (HTTP 429) or a gateway's 502 in place of a read's answer logged a traceback from every
    job every cycle, and from the block poll every poll, each ending in requests' "for url: <the URL whole>" (the
    provider's key with it)."""
    caplog.set_level(logging.DEBUG, logger="primevault.keeper")
    chain.seed_pool()
    with rpc_faults(chain.url) as (faults, url):
        keeper = Keeper(config_for(chain, tmp_path, rpc_urls=(url,), dev_account=0, jobs=("liquidation", "reconcile")))
        jobs = [("liquidation", keeper.jobs.liquidation.run), ("reconcile", keeper.jobs.reconcile.run)]
        jobs += [("new block", lambda: keeper.watch.new_head())]
        caplog.clear()
        faults.break_answers(method, fault, unsent=True)
        _cycles(keeper, jobs, 3)
        words = f"the node at {url} answers {method} with HTTP {fault}"
        healthy, reason = keeper.health.status()
        assert not healthy and reason.startswith(words), reason
        faults.heal()
        _cycles(keeper, jobs, 2)
        assert keeper.health.status()[0], keeper.health.status()[1]
    said = [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.INFO]
    assert not [m for _, m in said if "for url" in m], said  # requests' own message, the URL whole in it
    assert [m for _, m in said if m.startswith("the node at")] == [
        f"{words}: the jobs that need it wait; said again once it answers",
        f"the node at {url} answers JSON-RPC again ({method})",
    ], said
    assert all(r.exc_info is None for r in caplog.records), "no traceback"


def test_a_type_error_of_the_keepers_own_request_is_not_the_nodes() -> None:
    """A null result formatted by web3 raises a TypeError that is the node's; params that do not encode raise one in
    making the request, before any node answers: the keeper's own, never said as the node's."""
    w3 = Web3(Web3.HTTPProvider("http://127.0.0.1:9"))
    with pytest.raises(TypeError) as raised:
        w3.provider.make_request(RPCEndpoint("eth_call"), [{"data": object()}, "latest"])
    assert garbled_request(raised.value) is None


def test_a_node_answering_errors_is_one_line_when_it_starts_and_one_when_it_ends(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A node answering eth_call with JSON-RPC errors (a provider's rate limit) logged a full traceback from every job
    every cycle ("orders failed" every second), as a garbled answer once did."""
    caplog.set_level(logging.DEBUG, logger="primevault.keeper")
    with rpc_faults(chain.url) as (faults, url):
        keeper = Keeper(config_for(chain, tmp_path, rpc_urls=(url,), dev_account=0, jobs=("liquidation", "reconcile")))
        jobs = [("liquidation", keeper.jobs.liquidation.run), ("reconcile", keeper.jobs.reconcile.run)]
        caplog.clear()
        faults.break_answers("eth_call", "error")
        _cycles(keeper, jobs, 3)
        words = f"the node at {url} answers eth_call with an error: rate limited"
        healthy, reason = keeper.health.status()
        assert not healthy and reason == words, reason
        # Another fault met meanwhile is said too (once), not hidden behind the first.
        faults.break_answers("eth_getBlockByNumber", "html")
        for _ in range(2):
            keeper._guarded("liquidation", keeper.jobs.liquidation.run)
        garbled = (
            f"the node at {url} answers eth_getBlockByNumber with something that is not JSON-RPC (JSONDecodeError)"
        )
        faults.heal()
        for name, job in jobs:
            keeper._guarded(name, job)
        assert keeper.health.status()[0], keeper.health.status()[1]
    said = [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.INFO]
    assert [m for _, m in said if m.startswith("the node at")] == [
        f"{words}: the jobs that need it wait; said again once it answers",
        f"{garbled}: the jobs that need it wait; said again once it answers",
        f"the node at {url} answers JSON-RPC again (eth_call)",
    ]
    assert all(r.exc_info is None for r in caplog.records), "no traceback"
    assert keeper.metrics.job_failures.labels("reconcile")._value.get() == 3, "each failure still counted"


def test_a_node_answering_garbage_to_the_cycles_check_is_the_watchs_problem(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The check before each cycle (eth_chainId past the cache) answered with an HTML page: one line, the keeper idle
    and unhealthy, one line when the node answers again."""
    caplog.set_level(logging.INFO, logger="primevault.keeper")
    with rpc_faults(chain.url) as (faults, url):
        keeper = Keeper(config_for(chain, tmp_path, rpc_urls=(url,)))
        keeper._guarded("new block", keeper._on_new_block)
        scanned = keeper.jobs.liquidation.last_scan
        caplog.clear()
        faults.break_answers("eth_chainId", "html")
        for _ in range(3):
            chain.w3.provider.make_request(RPCEndpoint("evm_mine"), [])
            keeper._guarded("new block", keeper._on_new_block)
        words = f"the node at {url} answers eth_chainId with something that is not JSON-RPC (JSONDecodeError)"
        assert keeper.health.status() == (False, words)
        assert keeper.jobs.liquidation.last_scan is scanned, "nothing scanned on a node that answers garbage"
        faults.heal()
        keeper._guarded("new block", keeper._on_new_block)
        assert keeper.health.status()[0]
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("ERROR", f"not acting on this node: {words}"),
        ("INFO", f"the node is right again: {words} resolved"),
    ]
    assert all(r.exc_info is None for r in caplog.records)

"""The long-running and key-handling commands: devnet as a real subprocess, deploy, keystores, the demo."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from eth_account import Account
from web3 import Web3

from keeper.chain.anvil import Anvil
from keeper.chain.deployment import Deployment
from keeper.cli.main import cli
from keeper.devnet.crash import run_crash
from keeper.devnet.deploy import DYDX_SEAT_VENUE, SEAT_VENUE

pytestmark = pytest.mark.chain  # every test here starts its own anvil


def test_devnet_deploys_writes_the_file_and_stops_on_sigterm(tmp_path: Path) -> None:
    path = tmp_path / "local.json"
    command = [sys.executable, "-c", "from keeper.cli.main import main; main()", "--deployment", str(path), "devnet"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 60
        while not path.exists() and time.monotonic() < deadline:
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            time.sleep(0.2)
        time.sleep(1)  # funding of the dev wallets follows the file
        deployment = Deployment.load(path)
        assert deployment.rpc_url is not None
        w3 = Web3(Web3.HTTPProvider(deployment.rpc_url))
        assert w3.eth.get_code(deployment.vault) != b""
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=20)[0].decode()
    assert process.returncode == 0, output
    assert "stopping anvil" in output


def test_deploy_with_a_keystore(tmp_path: Path) -> None:
    account = Account.create()
    keystore = tmp_path / "key.json"
    keystore.write_text(json.dumps(Account.encrypt(account.key, "s3cret")))
    password = tmp_path / "password.txt"
    password.write_text("s3cret\n")
    output = tmp_path / "deployment.json"
    with Anvil(chain_id=4242) as node:
        w3 = Web3(Web3.HTTPProvider(node.url))
        w3.provider.make_request("anvil_setBalance", [account.address, hex(10**20)])  # type: ignore[arg-type]
        base = ["--rpc-url", node.url, "--deployment", str(output)]
        keys = ["--keystore", str(keystore), "--password-file", str(password)]
        result = CliRunner().invoke(cli, [*base, *keys, "deploy"])
        assert result.exit_code == 0, result.output
        deployment = Deployment.load(output)
        assert deployment.chain_id == 4242
        assert deployment.roles["admin"] == account.address

        wrong = tmp_path / "wrong.txt"
        wrong.write_text("nope")
        refused = CliRunner().invoke(cli, [*base, "--keystore", str(keystore), "--password-file", str(wrong), "deploy"])
        assert refused.exit_code == 1
        assert "could not decrypt" in refused.output

        dev = CliRunner().invoke(cli, [*base, "--dev-account", "1", "account", "deposit", "1", "WETH"])
        assert dev.exit_code == 1
        assert "only allowed on a local chain" in dev.output


def test_the_crash_run_ends_with_every_account_healthy_or_liquidated_and_no_bad_debt(tmp_path: Path) -> None:
    report = run_crash(depositors=30, seed=3, report_dir=tmp_path)
    assert report.orders_executed > 0, "traders hold perp positions through the crash"
    assert set(report.children_filled) == {SEAT_VENUE, DYDX_SEAT_VENUE}, "orders split across both venues' books"
    assert report.liquidations, "a 35% crash liquidates someone"
    assert any(share < 1 for share in report.taken_per_liquidation), "liquidations are partial"
    assert all(step.liquidatable_after == 0 for step in report.steps)
    # Blocks on a 1-second timer: a step's batches land together in the block after it (under automine they spread
    # over five blocks; while the keeper's transactions queued behind each other's receipts, 3 to 4 blocks after it).
    # The keeper runs in its own process: on a loaded machine its batches may straddle a block's tick, so the block
    # after that is allowed too.
    for label, delays in report.blocks_to_liquidation():
        assert not delays or (max(delays) - min(delays) <= 1 and max(delays) <= 2), (label, delays)
    keeper_log = (tmp_path / "keeper.log").read_text()
    assert "reorganised" not in keeper_log, "no reorganisation on a chain that has none"
    assert "ALERT" not in keeper_log, "no alert when nothing is wrong (a fill on its way to its block is no mismatch)"
    assert report.bad_debt == 0
    assert report.reconciliation == [], "venue positions match the books"
    assert report.keeper_exit_code == 0, "the keeper stopped cleanly on SIGTERM"
    assert report.png is not None and report.png.stat().st_size > 10_000

"""The long-running and key-handling commands: devnet as a real subprocess, deploy, keystores, the demo."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner
from eth_account import Account
from web3 import Web3

from keeper.chain.anvil import Anvil
from keeper.chain.deployment import Deployment
from keeper.chain.keys import dev_account
from keeper.cli.devnet import running_devnet
from keeper.cli.main import cli
from keeper.client.trading import TradingClient
from keeper.connectors.rabbitx.client import Credentials, RabbitXClient
from keeper.devnet.crash import run_crash
from keeper.devnet.deploy import DYDX_SEAT_VENUE, SEAT_VENUE
from keeper.exceptions import ConfigError
from tests.python.conftest import Chain
from tests.python.processes import children_of, is_anvil, kill_child, runs_module

pytestmark = pytest.mark.chain  # every test here starts its own anvil or uses the session's


def test_devnet_deploys_writes_the_file_and_stops_on_sigterm(tmp_path: Path) -> None:
    path = tmp_path / "local.json"
    process = _devnet_process(path)
    try:
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
        wrong_keys = ["--keystore", str(keystore), "--password-file", str(wrong)]
        refused = CliRunner().invoke(cli, [*base, *wrong_keys, "deploy", "--output", str(tmp_path / "second.json")])
        assert refused.exit_code == 1
        assert "could not decrypt" in refused.output

        dev = CliRunner().invoke(cli, [*base, "--dev-account", "1", "account", "deposit", "1", "WETH"])
        assert dev.exit_code == 1
        assert "only allowed on a local chain" in dev.output


def _devnet_process(path: Path, *options: str, seen: list[str] | None = None) -> subprocess.Popen[bytes]:
    """`primevault devnet` (with `options`) in a subprocess, once it is up: deployed to `path`, the dev wallets funded,
    waiting (its "try: ..." line; a fixed wait after the file appeared was too short for the funding on a busy
    machine). The lines it printed go to `seen`."""
    command = [sys.executable, "-c", "from keeper.cli.main import main; main()", "--deployment", str(path), "devnet"]
    process = subprocess.Popen(
        [*command, *options], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=os.environ.copy()
    )
    assert process.stdout is not None
    seen = [] if seen is None else seen
    while not (seen and seen[-1].startswith("try: ")):
        line = process.stdout.readline().decode()  # ends at the process's exit, should it fail to start
        assert line, "".join(seen)
        seen.append(line)
    return process


def test_a_devnet_with_the_seat_trades_a_depositors_order_through_the_exchanges_api(tmp_path: Path) -> None:
    """`primevault devnet --seat`, then the keeper it names with the settings it wrote, then a depositor's CLI order:
    the order fills at the RabbitX-style exchange (its own fills say so) and is booked on chain at its price."""
    path, seen = tmp_path / "local.json", []
    # Left by an earlier devnet and made readable by all since (a copy, a checkout): written over, its owner's alone.
    stale = tmp_path / "local-keeper.toml"
    stale.write_text('[rabbitx]\nbase_url = "http://127.0.0.1:1"\n')
    stale.chmod(0o644)
    devnet = _devnet_process(path, "--seat", seen=seen)
    keeper = None
    try:
        [keeper_line] = [line for line in seen if line.startswith("seat keeper")]
        config = Path(keeper_line.split("--config ")[1].strip())
        assert config == stale
        assert keeper_line.split()[2:] == ["primevault", "--dev-account", "9", "keeper", "run", "--config", str(config)]
        assert config.stat().st_mode & 0o777 == 0o600, "the exchange's API secret is its owner's alone"
        table = tomllib.loads(config.read_text())
        assert table["keeper"]["seat_venues"] == [SEAT_VENUE]
        # The command as printed, from another folder: the devnet's deployment (given with --deployment) is the one
        # its settings name, not deployments/local.json there.
        command = [sys.executable, "-c", "from keeper.cli.main import main; main()"]
        keeper = subprocess.Popen(
            [*command, "--dev-account", "9", "keeper", "run", "--config", str(config), "--data-dir", str(tmp_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=tmp_path,
        )
        base = ["--deployment", str(path), "--dev-account", "1"]
        assert CliRunner().invoke(cli, [*base, "account", "deposit", "10", "WETH"]).exit_code == 0
        submitted = CliRunner().invoke(cli, [*base, "trade", "submit", "ETH-USD", "1", "--side", "buy"])
        assert submitted.exit_code == 0, submitted.output
        deployment = Deployment.load(path)
        trading = TradingClient(Web3(Web3.HTTPProvider(deployment.rpc_url)), deployment)
        me = dev_account(1).address
        deadline = time.monotonic() + 60
        while not trading.positions(me):
            assert time.monotonic() < deadline, "the order never filled"
            time.sleep(0.5)
        [position] = trading.positions(me)

        async def exchange_fills() -> list[Any]:
            rabbitx = table["rabbitx"]
            credentials = Credentials(
                rabbitx["api_key"], rabbitx["api_secret"], rabbitx["jwt"], int(rabbitx["profile_id"])
            )
            async with aiohttp.ClientSession() as session:
                return await RabbitXClient(session, rabbitx["base_url"], credentials).fills()

        [fill] = asyncio.run(exchange_fills())
        assert (position.market, position.venue, position.size) == ("ETH-USD", SEAT_VENUE, Decimal(1))
        assert (fill["market_id"], fill["side"], Decimal(fill["size"])) == ("ETH-USD", "long", Decimal(1))
        assert position.entry_price == Decimal(fill["price"]), "booked at the exchange's price"
    finally:
        if keeper is not None:
            keeper.send_signal(signal.SIGTERM)
            keeper.wait(timeout=30)
        devnet.send_signal(signal.SIGTERM)
        devnet.communicate(timeout=30)
    assert devnet.returncode == 0


def test_a_devnet_with_the_seat_that_cannot_write_its_keeper_settings_stops_with_one_line(tmp_path: Path) -> None:
    """Something in the way of `local-keeper.toml` (here a folder; a file of another user's would do too) was a
    traceback; it is one line, and the devnet stops with its exchange and anvil."""
    (tmp_path / "local-keeper.toml").mkdir()
    command = [sys.executable, "-c", "from keeper.cli.main import main; main()", "--deployment"]
    run = subprocess.run(
        [*command, str(tmp_path / "local.json"), "devnet", "--seat"], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 1, run.stderr
    assert run.stderr.splitlines() == [
        f"Error: cannot write the keeper's settings to {tmp_path / 'local-keeper.toml'} (Is a directory): the devnet "
        "stopped"
    ]


def test_ctrl_c_while_a_devnet_opens_its_seat_stops_it_without_an_error(tmp_path: Path) -> None:
    """Ctrl-C in a terminal signals the devnet, its anvil and its exchange together. Pressed while the devnet was
    still opening the seat, the devnet carried on after its anvil and exchange had stopped and ended with whatever
    failed first ("RabbitX POST /onboarding: HTTP 401: signature does not recover...", "the devnet exchange did not
    start", "lost the connection"), exit 1; a stop asked for is a stop, with nothing left running."""
    command = [sys.executable, "-c", "from keeper.cli.main import main; main()", "--deployment"]
    process = subprocess.Popen(
        [*command, str(tmp_path / "local.json"), "devnet", "--seat"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # a process group of its own, as a terminal's foreground job has
    )
    try:
        log = tmp_path / "local-exchange.log"
        deadline = time.monotonic() + 60
        while not (log.exists() and "rabbitx devnet at" in log.read_text()):  # the exchange is up; the seat is not
            assert time.monotonic() < deadline and process.poll() is None, "the exchange never started"
            time.sleep(0.01)
        os.killpg(process.pid, signal.SIGINT)
        output = process.communicate(timeout=30)[0].decode()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    assert "try: " not in output, "stopped while opening the seat"
    assert process.returncode == 0, output
    assert output.splitlines()[-1] == "stopped while starting"


def test_a_devnet_with_the_seat_stops_with_one_line_when_its_exchange_dies(tmp_path: Path) -> None:
    """The exchange is the seat's venue: a devnet left up after it died looked alive while the keeper it printed could
    reach no exchange and every order at the seat failed. It stops as it does when its anvil dies, naming the log."""
    process = _devnet_process(tmp_path / "local.json", "--seat")
    output = kill_child(process, runs_module("keeper.devnet.rabbitx"))
    assert process.returncode == 1, output
    log = tmp_path / "local-exchange.log"
    assert output.splitlines()[-1] == (
        f"Error: the devnet exchange stopped (killed by SIGKILL): the seat cannot trade; see {log}, and start the "
        "devnet again"
    )


def test_devnet_stops_with_one_line_when_its_anvil_dies(tmp_path: Path) -> None:
    process = _devnet_process(tmp_path / "local.json")
    assert len(children_of(process)) == 1, "anvil, the devnet's only child"
    output = kill_child(process, is_anvil, timeout=20)
    assert process.returncode == 1, output
    assert output.splitlines()[-1] == "Error: anvil stopped (killed by SIGKILL): the devnet is gone; start it again"


def test_a_second_devnet_leaves_the_file_of_one_still_running(tmp_path: Path) -> None:
    """`make devnet` in one terminal, then `make app` (`web --devnet`) in another: both write deployments/local.json.
    The second took the file over, so the first terminal's CLI commands acted on the other chain, and once the app
    stopped every command failed with "cannot reach the RPC" while the first devnet still ran."""
    path = tmp_path / "local.json"
    process = _devnet_process(path)
    try:
        first = path.read_text()
        url = Deployment.load(path).rpc_url
        with pytest.raises(ConfigError) as refused, running_devnet(path, None, fund=False):
            pass
        assert str(refused.value) == (
            f"{path} is the deployment of a devnet still running at {url}: stop it first (Ctrl-C where it runs), "
            "or give this one its own file with --deployment"
        )
        assert path.read_text() == first
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)
    # Once that devnet has stopped, its file is stale and a new devnet writes over it.
    with running_devnet(path, None, fund=False) as (node, _):
        assert Deployment.load(path).rpc_url == node.url


def test_deploy_keeps_an_existing_deployment_file_unless_forced(tmp_path: Path) -> None:
    path = tmp_path / "local.json"
    with Anvil() as node:
        deploy = ["--rpc-url", node.url, "--deployment", str(path), "--dev-account", "0", "deploy"]
        assert CliRunner().invoke(cli, deploy).exit_code == 0
        first = path.read_text()
        sent = Web3(Web3.HTTPProvider(node.url)).eth.get_transaction_count(dev_account(0).address)

        refused = CliRunner().invoke(cli, deploy)
        assert refused.exit_code == 1
        assert refused.output == (
            f"Error: {path} exists and may hold a live deployment's addresses: pass --output NEW.json, or --force to "
            "replace it (the old file is kept as a .bak beside it)\n"
        )
        assert path.read_text() == first
        assert Web3(Web3.HTTPProvider(node.url)).eth.get_transaction_count(dev_account(0).address) == sent

        forced = CliRunner().invoke(cli, [*deploy, "--force"])
        assert forced.exit_code == 0, forced.output
    (backup,) = tmp_path.glob("local.json.*.bak")
    assert forced.output.splitlines()[0] == f"kept the previous {path} as {backup}"
    assert backup.read_text() == first
    assert Deployment.load(path).vault != Deployment.load(backup).vault


def test_deploy_does_not_read_the_deployment_file_in_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with Anvil() as node:
        deploy = ["--rpc-url", node.url, "--dev-account", "0", "deploy", "--output"]
        assert CliRunner().invoke(cli, [*deploy, "first.json"]).exit_code == 0
        first = json.loads(Path("first.json").read_text())
        other_chain = {**first, "chain_id": 4242}
        other_node = {**first, "vault": "0x00000000000000000000000000000000000000aa"}
        Path("deployments").mkdir()
        for name, stale in (("other-chain", other_chain), ("other-node", other_node), ("broken", None)):
            Path("deployments/local.json").write_text(json.dumps(stale) if stale else "{not json")
            result = CliRunner().invoke(cli, [*deploy, f"{name}.json"])
            assert result.exit_code == 0, f"{name}: {result.output}"
            assert Deployment.load(f"{name}.json").chain_id == 31337


def _tampered(chain: Chain, tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    data = json.loads(chain.deployment_file.read_text())
    edit(data)
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(data))
    return path


def _swap_symbols(data: dict[str, Any]) -> None:
    weth, wbtc = data["collateral"][0], data["collateral"][1]
    weth["symbol"], wbtc["symbol"] = wbtc["symbol"], weth["symbol"]


def test_a_deployment_file_whose_tokens_differ_from_the_chain_is_refused(chain: Chain, tmp_path: Path) -> None:
    usdc, weth = chain.deployment.base.address, chain.deployment.collateral[0].address
    assert [chain.deployment.collateral[0].symbol, chain.deployment.collateral[1].symbol] == ["WETH", "WBTC"]
    cases = (
        (lambda data: data["base"].update(decimals=18), f"base.decimals is 18 but the token at {usdc} has 6"),
        (_swap_symbols, f"collateral[0].symbol is 'WBTC' but the token at {weth} has 'WETH'"),
    )
    for edit, wrong in cases:
        path = _tampered(chain, tmp_path, edit)
        refusal = (
            f"Error: {path} says {wrong} on chain: the file was edited or is from another deployment; pass the file "
            "`deploy` wrote\n"
        )
        base = ["--rpc-url", chain.url, "--deployment", str(path)]
        shown = CliRunner().invoke(cli, [*base, "--dev-account", "1", "account", "show"])
        assert (shown.exit_code, shown.output) == (1, refusal)
        keeper = CliRunner().invoke(cli, [*base, "risk", "venues"])  # the keeper's commands check at `wire`
        assert (keeper.exit_code, keeper.output) == (1, refusal)


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


def test_deploy_to_a_path_that_cannot_be_written_is_refused_before_anything_is_sent() -> None:
    with Anvil() as node:
        result = CliRunner().invoke(
            cli, ["--rpc-url", node.url, "--dev-account", "0", "deploy", "--output", "/proc/x.json"]
        )
        assert result.exit_code == 1, result.output
        assert result.output.strip().splitlines() == [
            "Error: --output: cannot write to /proc (No such file or directory): give a folder you can write to"
        ]
        assert Web3(Web3.HTTPProvider(node.url)).eth.get_transaction_count(dev_account(0).address) == 0


def test_a_deployment_that_cannot_be_saved_after_deploying_is_printed_not_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(self: Deployment, path: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Deployment, "save", full_disk)
    output = tmp_path / "d.json"
    with Anvil() as node:
        result = CliRunner().invoke(
            cli, ["--rpc-url", node.url, "--dev-account", "0", "deploy", "--output", str(output)]
        )
        assert result.exit_code == 1, result.output
        printed = json.loads(result.stdout)
        w3 = Web3(Web3.HTTPProvider(node.url))
        assert w3.eth.get_code(Web3.to_checksum_address(printed["vault"])), "the printed vault is the deployed one"
    assert result.stderr.strip().splitlines() == [
        f"Error: deployed, but could not write {output} (No space left on device): the deployment is printed above; "
        "save it as a file to use it"
    ]


def test_demo_with_a_report_dir_that_cannot_be_made_is_one_line_before_any_work() -> None:
    result = CliRunner().invoke(cli, ["demo", "--report-dir", "/proc/x"])
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines() == [
        "Error: --report-dir: cannot write to /proc/x (No such file or directory): give a folder you can write to"
    ]

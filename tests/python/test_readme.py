"""The README's commands, run as written against a devnet as `make devnet` starts it: every `primevault` line of the
depositor guide, of the perp trading section and of the keeper operator guide (all but the daemons that run until
stopped), each section from the same fresh chain, the `cast` block with the Foundry binary the project installs, and
the integrator notes' Python example.
A command the README shows must work as shown; a change that breaks one (a renamed option, a new required argument,
an amount the dev accounts cannot afford) fails here instead of in a newcomer's terminal."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from web3 import Web3
from web3.types import RPCEndpoint

from keeper.chain.deployment import Deployment
from keeper.chain.keys import dev_account
from keeper.cli.devnet import running_devnet
from keeper.cli.main import cli
from keeper.client.sessions import SessionKeysClient
from keeper.client.vault import VaultClient
from keeper.toolchain import find_tool, project_root

pytestmark = pytest.mark.chain  # starts its own devnet

README = project_root() / "README.md"
BOT = 4  # the README's bot signs with dev account 4 (`--dev-account 4 session trade`)


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.index("\n## ", start)
    return text[start:end]


def _sh_blocks(section: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)


def _primevault_lines(blocks: list[str], deployment: Deployment) -> list[str]:
    """The `primevault` commands, comments and optional `[--json]` dropped, the placeholders filled in (the bot's key,
    dev account 1 and its sub-account 0, the bot's acceptance of dev account 1's grant, which `session accept`
    prints); daemons that run until stopped are left out."""
    owner = dev_account(1).address
    placeholders = {"0xBOT...": dev_account(BOT).address, "0xSUBACCOUNT": owner, "0xYOU...": owner, " [--json]": ""}
    if deployment.sessions is not None:
        w3 = Web3(Web3.HTTPProvider(deployment.rpc_url))
        placeholders["0xACCEPTANCE..."] = "0x" + SessionKeysClient(w3, deployment).accept(dev_account(BOT), owner).hex()
    lines = []
    for block in blocks:
        for line in block.splitlines():
            command = line.split("  #", 1)[0].split(" # ", 1)[0].strip()
            if not command.startswith("primevault ") or (" keeper run" in command and "--once" not in command):
                continue
            for placeholder, value in placeholders.items():
                command = command.replace(placeholder, value)
            lines.append(command)
    return lines


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("readme") / "deployments" / "local.json"
    path.parent.mkdir()
    with running_devnet(path, port=None, fund=True):
        yield path


@pytest.mark.parametrize(
    ("heading", "at_least"),
    [("### From the command line", 20), ("## Perp trading across venues", 7), ("## Keeper operator guide", 6)],
)
def test_every_primevault_command_of_a_section_runs_as_written(
    devnet: Path, monkeypatch: pytest.MonkeyPatch, heading: str, at_least: int
) -> None:
    monkeypatch.chdir(devnet.parent.parent)  # where `> permit.json` writes and `relay permit.json` reads
    monkeypatch.setenv("PRIMEVAULT_DEPLOYMENT", str(devnet))
    deployment = Deployment.load(devnet)
    commands = _primevault_lines(_sh_blocks(_section(README.read_text(), heading)), deployment)
    assert len(commands) >= at_least, "the section's commands were found"
    w3 = Web3(Web3.HTTPProvider(deployment.rpc_url))
    snapshot = w3.provider.make_request(RPCEndpoint("evm_snapshot"), [])["result"]
    try:
        order = None  # the id the last `trade submit` printed, which the README's `N` stands for
        for command in commands:
            words = [order if word == "N" and order else word for word in shlex.split(command)]
            target = words.index(">") if ">" in words else None
            result = CliRunner().invoke(cli, words[1:target], prog_name="primevault")
            assert result.exit_code == 0, f"{command}\n{result.output}"
            if submitted := re.match(r"order (\d+): ", result.output):
                order = submitted.group(1)
            if target is not None:
                Path(words[target + 1]).write_text(result.stdout)
    finally:
        w3.provider.make_request(RPCEndpoint("evm_revert"), [snapshot])


def test_the_cast_block_runs_as_written(devnet: Path) -> None:
    section = _section(README.read_text(), "### From the command line")
    block = next(b for b in _sh_blocks(section) if "cast send" in b)
    home = devnet.parent.parent
    venv = home / ".venv"
    if not venv.exists():
        venv.symlink_to(sys.prefix)  # the virtualenv running the tests, as `.venv/bin/python`
    env = os.environ | {"PATH": f"{Path(find_tool('cast')).parent}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block], cwd=home, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    # The health tuple `cast call` prints last: (baseBalance, debt, ...), the 3,000 USDC borrowed as its debt.
    health = run.stdout.strip().splitlines()[-1]
    base, debt = (int(x.split()[0]) for x in health.strip("()").split(", ")[:2])
    assert base <= -3_000 * 10**6 and debt >= 3_000 * 10**6, health


def test_the_python_example_runs_as_written(devnet: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The integrator notes' Python block, run with dev account 1's key as `private_key`, from the folder `make
    devnet` writes `deployments/local.json` in."""
    monkeypatch.chdir(devnet.parent.parent)
    section = _section(README.read_text(), "## Integrator notes")
    [block] = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    w3 = Web3(Web3.HTTPProvider(Deployment.load(devnet).rpc_url))
    snapshot = w3.provider.make_request(RPCEndpoint("evm_snapshot"), [])["result"]
    namespace: dict[str, object] = {"private_key": dev_account(1).key}
    try:
        exec(compile(block, "README.md", "exec"), namespace)
        client, account = namespace["client"], namespace["account"]
        assert isinstance(client, VaultClient) and isinstance(account, str)
        assert client.collateral_balance(account, "WETH") == 10 * 10**18
        assert isinstance(namespace["order_id"], int)
    finally:
        w3.provider.make_request(RPCEndpoint("evm_revert"), [snapshot])


def test_the_error_the_readme_quotes_is_what_the_command_prints(devnet: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line section's example of a refusal, run as it describes it: a fresh sub-account holding 1 WETH."""
    monkeypatch.setenv("PRIMEVAULT_DEPLOYMENT", str(devnet))
    text = " ".join(_section(README.read_text(), "### From the command line").split())
    example = re.search(r"e\.g\. `(account withdraw [^`]+)` from a fresh .*?: `(Error: [^`]+)`", text)
    assert example is not None, "the section quotes a refusal with the command that gives it"
    command, quoted = example.groups()
    w3 = Web3(Web3.HTTPProvider(Deployment.load(devnet).rpc_url))
    snapshot = w3.provider.make_request(RPCEndpoint("evm_snapshot"), [])["result"]
    # Interest since the devnet's last accrual decides whether the debt's rounding up shows: the blocks are put a fixed
    # hour after it, one second apart, so the figure does not depend on how long the tests before this one took.
    accrued = VaultClient(w3, Deployment.load(devnet)).market().last_accrual_time
    w3.provider.make_request(RPCEndpoint("evm_setNextBlockTimestamp"), [accrued + 3600])
    w3.provider.make_request(RPCEndpoint("anvil_setBlockTimestampInterval"), [1])
    try:
        deposit = CliRunner().invoke(cli, ["--dev-account", "2", "account", "deposit", "1", "WETH"])
        assert deposit.exit_code == 0, deposit.output
        refused = CliRunner().invoke(cli, ["--dev-account", "2", *shlex.split(command)])
        assert (refused.exit_code, refused.output.strip()) == (1, quoted)
    finally:
        w3.provider.make_request(RPCEndpoint("anvil_removeBlockTimestampInterval"), [])
        w3.provider.make_request(RPCEndpoint("evm_revert"), [snapshot])

"""The keeper's configuration order (defaults < TOML < environment < flags) and where `.env` is read from; no
chain needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from keeper.cli.main import cli
from keeper.daemon.config import load_config
from keeper.exceptions import ConfigError


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("PRIMEVAULT_"):
            monkeypatch.delenv(key)


def deployment_file(path: Path, rpc_url: str = "http://127.0.0.1:1111") -> Path:
    path.write_text(json.dumps({"rpc_url": rpc_url}))
    return path


def test_file_then_environment_then_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "keeper.toml"
    from_file = deployment_file(tmp_path / "file.json")
    toml.write_text(f'[keeper]\ndeployment = "{from_file}"\nrpc_urls = ["http://file:1"]\ngas_budget = 300000\n')
    config = load_config(toml, {"dev_account": 1})
    assert (config.deployment, config.rpc_urls, config.gas_budget) == (from_file, ("http://file:1",), 300_000)

    monkeypatch.setenv("PRIMEVAULT_RPC_URLS", "http://env:1,http://env:2")
    monkeypatch.setenv("PRIMEVAULT_GAS_BUDGET", "400000")
    config = load_config(toml, {"dev_account": 1})
    assert (config.rpc_urls, config.gas_budget) == (("http://env:1", "http://env:2"), 400_000)

    config = load_config(toml, {"dev_account": 1, "gas_budget": 500_000, "rpc_urls": None})
    assert (config.rpc_urls, config.gas_budget) == (("http://env:1", "http://env:2"), 500_000), "None is not a flag"


def test_rpc_url_defaults_to_the_deployments(tmp_path: Path) -> None:
    path = deployment_file(tmp_path / "d.json", "http://127.0.0.1:2222")
    assert load_config(None, {"dev_account": 1, "deployment": path}).rpc_urls == ("http://127.0.0.1:2222",)


def test_a_field_that_does_not_parse_hides_no_other(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(None, {"gas_budget": "lots", "shard": "0/x", "orders_interval": 0, "deployment": tmp_path / "no"})
    message = str(caught.value)
    assert len(message.splitlines()) == 1
    for fragment in (
        "gas_budget: 'lots' is not a whole number",
        "shard: '0/x' is not i/n",
        "orders_interval: must be greater than zero",
        "does not exist",
        "key: set keystore",
    ):
        assert fragment in message


def test_the_cli_keeps_the_files_deployment_unless_the_flag_is_given(tmp_path: Path) -> None:
    toml = tmp_path / "keeper.toml"
    toml.write_text('[keeper]\ndeployment = "/nowhere/file.json"\n')
    result = CliRunner().invoke(cli, ["--dev-account", "9", "keeper", "run", "--config", str(toml)])
    assert "deployment: /nowhere/file.json does not exist" in result.output, result.output
    flagged = ["--deployment", "/nowhere/flag.json", "--dev-account", "9", "keeper", "run", "--config", str(toml)]
    assert "deployment: /nowhere/flag.json does not exist" in CliRunner().invoke(cli, flagged).output


def test_dotenv_is_read_from_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PRIMEVAULT_DEPLOYMENT=/from/dotenv.json\n")
    result = subprocess.run(
        [sys.executable, "-c", "from keeper.cli.main import main; main()", "account", "show"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("PRIMEVAULT_")},
    )
    assert result.stderr.strip() == (
        "Error: deployment file /from/dotenv.json does not exist: start `primevault devnet` or run `primevault deploy`"
    )


def test_every_subcommand_option_has_an_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRIMEVAULT_RISK_STRESS_SHOCK", "ETH=-150%")
    result = CliRunner().invoke(cli, ["risk", "stress"], auto_envvar_prefix="PRIMEVAULT")
    assert "shock 'ETH=-150%' takes the price to zero or below" in result.output, result.output

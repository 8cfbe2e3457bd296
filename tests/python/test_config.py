"""The keeper's configuration order (defaults < TOML < environment < flags) and where `.env` is read from; no
chain needed."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from dotenv import dotenv_values
from eth_account import Account

from keeper.chain.keys import keystore_account
from keeper.cli.main import cli
from keeper.daemon.config import KeeperConfig, load_config
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
        load_config(
            None,
            {
                "gas_budget": "lots",
                "call_gas_cap": 30_000,
                "shard": "0/x",
                "orders_interval": 0,
                "deployment": tmp_path / "no",
            },
        )
    message = str(caught.value)
    assert len(message.splitlines()) == 1
    for fragment in (
        "gas_budget: 'lots' is not a whole number",
        "call_gas_cap: 30000 cannot read the lens's risk state and a page of accounts in one call (at least 2000000",
        "shard: '0/x' is not i/n",
        "orders_interval: must be greater than zero",
        "does not exist",
        "key: set keystore",
    ):
        assert fragment in message


def test_intervals_and_fees_must_be_finite(tmp_path: Path) -> None:
    toml = tmp_path / "keeper.toml"
    # TOML has nan and inf literals; every comparison with nan is false, so no range check would catch it.
    toml.write_text("[keeper]\npoll_interval = nan\nmax_fee_gwei = inf\n")
    with pytest.raises(ConfigError) as caught:
        load_config(toml, {"dev_account": 1, "deployment": deployment_file(tmp_path / "d.json")})
    assert "poll_interval: nan is not a number" in str(caught.value)
    assert "max_fee_gwei: inf is not a number" in str(caught.value)


def test_intervals_and_timeouts_are_at_most_a_year(tmp_path: Path) -> None:
    """poll_interval, orders_interval or rpc_timeout of 1e80 passed the checks, then stopped the daemon at start with
    an OverflowError traceback (a lock's wait, the scheduler's timedelta, a socket's timeout)."""
    toml = tmp_path / "keeper.toml"
    toml.write_text("[keeper]\npoll_interval = 1e80\norders_interval = 1e80\nrpc_timeout = 31536001\n")
    with pytest.raises(ConfigError) as caught:
        load_config(toml, {"dev_account": 1, "deployment": deployment_file(tmp_path / "d.json")})
    message = str(caught.value)
    assert len(message.splitlines()) == 1
    assert "poll_interval: 1e+80 seconds is more than a year: give at most 31536000" in message
    assert "orders_interval: 1e+80 seconds is more than a year" in message
    assert "rpc_timeout: 31536001.0 seconds is more than a year" in message
    toml.write_text("[keeper]\nhaircut_interval = 31536000\n")
    config = load_config(toml, {"dev_account": 1, "deployment": deployment_file(tmp_path / "d.json")})
    assert config.haircut_interval == 31_536_000


def test_the_seat_is_off_by_default_and_reads_the_rabbitx_table_then_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = deployment_file(tmp_path / "d.json")
    monkeypatch.setenv("PRIMEVAULT_RABBITX_API_KEY", "ignored without a seat")
    config = load_config(None, {"dev_account": 1, "deployment": path})
    assert (config.seat_venues, config.rabbitx, config.dydx) == ((), None, None)
    assert "seat" in config.jobs and "seat" not in config.enabled_jobs

    toml = tmp_path / "keeper.toml"
    toml.write_text(
        f'[keeper]\ndeployment = "{path}"\nseat_venues = ["rabbitx-seat"]\nchild_ttl = 30\n'
        f'data_dir = "{tmp_path / "d"}"\n'
        '[rabbitx]\nbase_url = "http://127.0.0.1:9"\napi_key = "k"\napi_secret = "s"\njwt = "j"\nprofile_id = 7\n'
    )
    monkeypatch.setenv("PRIMEVAULT_RABBITX_API_KEY", "from-env")
    config = load_config(toml, {"dev_account": 1})
    assert (config.seat_venues, config.child_ttl, config.seat_interval) == (("rabbitx-seat",), 30.0, 1.0)
    assert config.rabbitx is not None and config.dydx is None and config.enabled_jobs[-1] == "seat"
    assert (config.rabbitx.base_url, config.rabbitx.credentials.api_key) == ("http://127.0.0.1:9", "from-env")
    assert config.rabbitx.credentials.profile_id == 7
    assert config.rabbitx.data_dir == tmp_path / "d", "the fill store goes in the keeper's data_dir"


def test_bad_seat_settings_are_one_line_with_the_rest(tmp_path: Path) -> None:
    toml = tmp_path / "keeper.toml"
    toml.write_text(
        '[keeper]\nseat_venues = "rabbitx-seat,dydx-seat,gmx-seat"\nseat_interval = 0\n[rabbitx]\nprofile_id = "x"\n'
        "[dydx]\ngood_til_blocks = 30\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(toml, {"dev_account": 1, "deployment": deployment_file(tmp_path / "d.json")})
    message = str(caught.value)
    assert len(message.splitlines()) == 1
    for fragment in (
        "seat rabbitx-seat: rabbitx.base_url is required",
        "rabbitx.profile_id must be an integer",
        "seat dydx-seat: dydx.indexer_url is required",
        "seat_venues: 'gmx-seat' is not a seat venue (rabbitx-seat, dydx-seat)",
    ):
        assert fragment in message
    assert "seat_interval: must be greater than zero" in message


def test_the_cli_keeps_the_files_deployment_unless_the_flag_is_given(tmp_path: Path) -> None:
    toml = tmp_path / "keeper.toml"
    toml.write_text('[keeper]\ndeployment = "/nowhere/file.json"\n')
    result = CliRunner().invoke(cli, ["--dev-account", "9", "keeper", "run", "--config", str(toml)])
    assert "deployment: /nowhere/file.json does not exist" in result.output, result.output
    flagged = ["--deployment", "/nowhere/flag.json", "--dev-account", "9", "keeper", "run", "--config", str(toml)]
    assert "deployment: /nowhere/flag.json does not exist" in CliRunner().invoke(cli, flagged).output


def _account_show_in(folder: Path) -> subprocess.CompletedProcess[str]:
    """`primevault account show` run in `folder`, with no PRIMEVAULT_* variable of this process's environment."""
    return subprocess.run(
        [sys.executable, "-c", "from keeper.cli.main import main; main()", "account", "show"],
        cwd=folder,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("PRIMEVAULT_")},
    )


def test_dotenv_is_read_from_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PRIMEVAULT_DEPLOYMENT=/from/dotenv.json\n")
    result = _account_show_in(tmp_path)
    assert result.stderr.strip() == (
        "Error: deployment file /from/dotenv.json does not exist: start `primevault devnet` or run `primevault deploy`"
    )


def test_a_dotenv_in_a_folder_above_the_working_directory_is_not_read(tmp_path: Path) -> None:
    """Anyone can write /tmp/.env: read from a folder above, it chose the node, the deployment file (a "vault" of
    its own to approve and deposit to) and the keystore of a command run anywhere below it."""
    (tmp_path / ".env").write_text("PRIMEVAULT_DEPLOYMENT=/from/parent/dotenv.json\n")
    below = tmp_path / "work"
    below.mkdir()
    result = _account_show_in(below)
    assert "/from/parent/dotenv.json" not in result.stderr, result.stderr
    assert "deployments/local.json does not exist" in result.stderr, result.stderr


def test_every_subcommand_option_has_an_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRIMEVAULT_RISK_STRESS_SHOCK", "ETH=-150%")
    result = CliRunner().invoke(cli, ["risk", "stress"])
    assert "shock 'ETH=-150%' takes the price to zero or below" in result.output, result.output


def test_version_and_help_are_never_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Left in a shell, PRIMEVAULT_VERSION=1 would otherwise turn every command into a version print.
    monkeypatch.setenv("PRIMEVAULT_VERSION", "1")
    monkeypatch.setenv("PRIMEVAULT_RISK_HELP", "1")
    result = CliRunner().invoke(cli, ["risk", "stress", "--shock", "ETH=-150%"])
    assert "version" not in result.output
    assert "shock 'ETH=-150%' takes the price to zero or below" in result.output, result.output
    assert "env var: PRIMEVAULT_VERSION" not in CliRunner().invoke(cli, ["--help"]).output


def test_each_option_has_its_own_environment_variable_named_after_it() -> None:
    seen: dict[str, str] = {}
    shared = {"PRIMEVAULT_CONFIG"}  # the keeper's configuration file, for `keeper run` and `keeper onboard-seat`

    def walk(command: click.Command, path: str) -> None:
        for param in command.params:
            if isinstance(param, click.Option) and param.allow_from_autoenv:
                assert isinstance(param.envvar, str), f"{path} {param.opts}"
                assert param.envvar in shared or param.envvar not in seen, (
                    f"{param.envvar}: {seen.get(param.envvar)} and {path} {param.opts}"
                )
                seen[param.envvar] = f"{path} {param.opts}"
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, f"{path} {name}")

    walk(cli, "primevault")
    assert seen["PRIMEVAULT_ACCOUNT_SHOW_SUB"] == "primevault account show ['--sub']"
    assert seen["PRIMEVAULT_SESSION_TRADE_LIMIT"] == "primevault session trade ['--limit']"


def test_keeper_run_flags_read_the_configurations_own_variables() -> None:
    # One variable per setting: `--data-dir` and the configuration's `data_dir` are both PRIMEVAULT_DATA_DIR.
    text = CliRunner().invoke(cli, ["keeper", "run", "--help"], terminal_width=200).output
    for name in ("DATA_DIR", "JOBS", "METRICS_PORT", "SHARD", "DRY_RUN", "ONCE"):
        assert f"PRIMEVAULT_{name}" in text and f"PRIMEVAULT_KEEPER_RUN_{name}" not in text, name


def test_no_help_text_is_cut_short() -> None:
    # Click cuts a command's description at the terminal's width with '...' unless it is given whole.
    def walk(command: click.Command, path: list[str]) -> None:
        text = CliRunner().invoke(cli, [*path, "--help"], terminal_width=80).output
        cut = [line for line in text.splitlines() if line.endswith("...") and not line.startswith("Usage:")]
        assert not cut, f"{' '.join(path)} --help: {cut}"
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])

    walk(cli, [])
    lend = CliRunner().invoke(cli, ["lend", "--help"], terminal_width=80).output
    assert "Lend AMOUNT of the base asset, e.g. `lend deposit 1000`." in lend, "a sentence ends at its period"


def test_every_option_says_what_it_does() -> None:
    def walk(command: click.Command, path: str) -> list[str]:
        bare = [
            f"{path} {max(p.opts, key=len)}"
            for p in command.params
            if isinstance(p, click.Option) and p.allow_from_autoenv and not p.help
        ]
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                bare += walk(sub, f"{path} {name}")
        return bare

    assert walk(cli, "primevault") == []


def test_a_data_dir_that_is_a_file_is_reported(tmp_path: Path) -> None:
    a_file = tmp_path / "passwd"
    a_file.write_text("not a directory\n")
    path = deployment_file(tmp_path / "d.json")
    for data_dir, fragment in (
        (a_file, f"data_dir: {a_file} is a file, not a directory"),
        (a_file / "keeper", f"data_dir: {a_file} is a file, so {a_file / 'keeper'} cannot be made"),
    ):
        with pytest.raises(ConfigError) as caught:
            load_config(None, {"dev_account": 1, "deployment": path, "data_dir": data_dir})
        assert fragment in str(caught.value)
    assert load_config(None, {"dev_account": 1, "deployment": path, "data_dir": tmp_path / "new"}).data_dir.parent


def test_a_value_of_the_wrong_type_says_what_was_expected(tmp_path: Path) -> None:
    toml = tmp_path / "keeper.toml"
    toml.write_text(
        "[keeper]\nrpc_urls = [1, 2]\njobs = 5\ndeployment = 5\ndata_dir = 5\nmargin_minimum = -5\n"
        "gas_budget = 1.5\nseat_venues = 3\n"
        '[keeper.liquidity_addon_bps]\nWETH = 200\nWBTC = "lots"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(toml, {"dev_account": 1})
    message = str(caught.value)
    assert len(message.splitlines()) == 1
    for fragment in (
        "rpc_urls: [1, 2] is not a URL or a list of URLs",
        "jobs: 5 is not a list of job names",
        "deployment: 5 is not a path",
        "data_dir: 5 is not a path",
        "margin_minimum: must be zero or more, got -5",
        "gas_budget: 1.5 is not a whole number",
        "seat_venues: 3 is not a list of seat venues",
        "liquidity_addon_bps: WBTC='lots' is not a whole number of basis points",
    ):
        assert fragment in message
    assert "is not a number" not in message
    assert "'WETH': 200" not in message, "the whole table is not printed, only its bad entry"


def test_unknown_keys_are_reported_in_every_table(tmp_path: Path) -> None:
    toml = tmp_path / "keeper.toml"
    toml.write_text(
        'foo = 1\ndry_run = true\n[keeper]\nmargin_target = 5.0\n[kepper]\nx = 1\n[rabbitx]\nbase_url = "http://x"\n'
        "bar = 2\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(toml, {"dev_account": 1, "deployment": deployment_file(tmp_path / "d.json")})
    message = str(caught.value)
    for fragment in (
        "foo: unknown setting",
        "kepper: unknown setting",
        "rabbitx.bar: unknown setting",
        "dry_run: outside the [keeper] table: move it under [keeper]",
    ):
        assert fragment in message
    # Said once, in the same words, with the seat configured too (the connector's own check is not repeated).
    toml.write_text(
        '[keeper]\nseat_venues = ["rabbitx-seat"]\n[rabbitx]\nbase_url = "http://x"\napi_key = "k"\n'
        'api_secret = "s"\njwt = "j"\nprofile_id = 1\nbar = 2\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(toml, {"dev_account": 1, "deployment": deployment_file(tmp_path / "d.json")})
    assert str(caught.value) == "invalid keeper configuration: rabbitx.bar: unknown setting"


def test_a_missing_keystore_is_reported_before_any_rpc_is_tried(tmp_path: Path) -> None:
    # The example configuration names a keystore that is not on this machine: say so, not wait on its RPC first.
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["keeper", "run", "--config", "docs/keeper.example.toml"])
    assert "keystore: /secrets/keeper.json does not exist" in result.output, result.output
    assert "password_file: /secrets/keeper.password does not exist" in result.output
    assert time.monotonic() - started < 10
    # Its deployment file is the devnet's, absent from a fresh clone: one of this test's own stands in for it.
    example = load_config(
        Path("docs/keeper.example.toml"), {"deployment": deployment_file(tmp_path / "d.json")}, need_key=False
    )
    assert example.start_timeout == 60.0


def test_the_example_configuration_lists_every_number_with_its_default() -> None:
    # `.env.example` sends readers to docs/keeper.example.toml for every [keeper] setting and its default: an interval,
    # timeout, gas figure or margin multiple the code takes must be there, at the code's value.
    listed = tomllib.loads(Path("docs/keeper.example.toml").read_text())["keeper"]
    numbers = {
        f.name: f.default
        for f in dataclasses.fields(KeeperConfig)
        if isinstance(f.default, int | float) and not isinstance(f.default, bool)
    }
    assert "rpc_timeout" in numbers and "price_record_interval" in numbers
    assert {name: listed.get(name) for name in numbers} == numbers


def test_two_keys_are_refused(tmp_path: Path) -> None:
    keystore, password = tmp_path / "ks.json", tmp_path / "pw"
    keystore.write_text("{}")
    password.write_text("secret\n")
    result = CliRunner().invoke(
        cli, ["--keystore", str(keystore), "--password-file", str(password), "--dev-account", "2", "account", "show"]
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: two keys given: --keystore {keystore} and --dev-account 2 (or PRIMEVAULT_KEYSTORE and "
        "PRIMEVAULT_DEV_ACCOUNT): give one"
    ]
    toml = tmp_path / "keeper.toml"
    toml.write_text(f'[keeper]\nkeystore = "{keystore}"\npassword_file = "{password}"\ndev_account = 2\n')
    with pytest.raises(ConfigError, match=r"key: both keystore \(.*\) and dev_account \(2\) are set"):
        load_config(toml, {"deployment": deployment_file(tmp_path / "d.json")})


def test_the_example_env_file_leaves_the_rpc_url_to_the_deployment_file() -> None:
    # `make devnet` picks a free port and writes it into the deployment file: a copied .env must not override it.
    values = dotenv_values(".env.example")
    assert "PRIMEVAULT_RPC_URL" not in values, values
    assert all(not key.startswith("PRIMEVAULT_RPC") for key in values)


def _envvars(command: click.Command) -> set[str]:
    names = {p.envvar for p in command.params if isinstance(p.envvar, str)}
    for sub in getattr(command, "commands", {}).values():
        names |= _envvars(sub)
    return names


def test_the_example_env_file_names_only_variables_the_code_reads() -> None:
    from keeper.connectors.dydx.settings import KNOWN_SETTINGS as DYDX
    from keeper.connectors.rabbitx.settings import KNOWN_SETTINGS as RABBITX
    from keeper.daemon.config import KeeperConfig

    read = _envvars(cli) | {"PRIMEVAULT_ANVIL", "PRIMEVAULT_CHROMIUM"}  # the latter two: keeper/toolchain.py
    read |= {f"PRIMEVAULT_{f.name.upper()}" for f in dataclasses.fields(KeeperConfig)}
    read |= {f"PRIMEVAULT_RABBITX_{name.upper()}" for name in RABBITX}
    read |= {f"PRIMEVAULT_DYDX_{name.upper()}" for name in DYDX}
    named = set(re.findall(r"^#? ?(PRIMEVAULT_[A-Z_]+)=", Path(".env.example").read_text(), flags=re.MULTILINE))
    assert len(named) >= 30, named
    assert named <= read, named - read


def test_the_example_env_files_keeper_values_are_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = re.findall(
        r"^# (PRIMEVAULT_(?:DATA_DIR|JOBS|METRICS_PORT|SHARD))=(.*)$", Path(".env.example").read_text(), re.M
    )
    assert len(lines) == 4
    deployment = deployment_file(tmp_path / "d.json")
    default = load_config(None, {"deployment": deployment}, need_key=False)
    for name, value in lines:
        monkeypatch.setenv(name, value)
    assert load_config(None, {"deployment": deployment}, need_key=False) == default


@pytest.mark.parametrize(
    "content",
    [
        '"abc"',  # a JSON string: eth_account parsed it as JSON once more, and that failure read as a wrong password
        "{}",
        "[1, 2]",
        '{"version": 5, "crypto": {}}',  # a version eth_account does not know: a traceback
        '{"version": 3, "crypto": "abc"}',
        # The outline of a V3 keystore with fields that are not hex: read as a wrong password too.
        '{"version": 3, "crypto": {"kdf": "pbkdf2", "kdfparams": {"c": 2, "dklen": 32, "prf": "hmac-sha256", '
        '"salt": "zz"}, "ciphertext": "zz", "mac": "zz", "cipher": "aes-128-ctr", "cipherparams": {"iv": "zz"}}}',
    ],
)
def test_a_json_file_that_is_not_a_v3_keystore_is_said_as_such(tmp_path: Path, content: str) -> None:
    keystore, password = tmp_path / "ks.json", tmp_path / "pw"
    keystore.write_text(content)
    password.write_text("secret\n")
    with pytest.raises(ConfigError) as caught:
        keystore_account(keystore, password)
    assert str(caught.value) == (
        f"keystore {keystore} is not an encrypted Ethereum keystore (V3 JSON, as geth or `cast wallet` write)"
    )


def test_a_v3_keystore_with_another_password_is_a_wrong_password(tmp_path: Path) -> None:
    keystore, password = tmp_path / "ks.json", tmp_path / "pw"
    created = Account.create()
    # pbkdf2 with few iterations: the same keystore format, decrypted in no time.
    keystore.write_text(json.dumps(Account.encrypt(created.key, "secret", kdf="pbkdf2", iterations=2)))
    password.write_text("not the secret\n")
    with pytest.raises(ConfigError) as caught:
        keystore_account(keystore, password)
    assert str(caught.value) == f"could not decrypt {keystore}: wrong password in {password}?"
    password.write_text("secret\n")
    assert keystore_account(keystore, password).address == created.address
    # Older geth files write "Crypto": still a V3 keystore.
    encrypted = Account.encrypt(created.key, "secret", kdf="pbkdf2", iterations=2)
    encrypted["Crypto"] = encrypted.pop("crypto")
    keystore.write_text(json.dumps(encrypted))
    assert keystore_account(keystore, password).address == created.address


def test_a_password_file_other_users_can_read_is_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The password file with the keystore beside it is the key: one that other users of the machine can read (the
    umask's 644, a secret mounted world-readable) is said, so that the operator restricts it."""
    keystore, password = tmp_path / "ks.json", tmp_path / "pw"
    created = Account.create()
    keystore.write_text(json.dumps(Account.encrypt(created.key, "secret", kdf="pbkdf2", iterations=2)))
    password.write_text("secret\n")
    password.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        assert keystore_account(keystore, password).address == created.address
    assert [r.getMessage() for r in caplog.records] == [
        f"password file {password} can be read by other users of this machine (mode 644): chmod 600 it"
    ]
    caplog.clear()
    password.chmod(0o600)
    with caplog.at_level(logging.WARNING):
        assert keystore_account(keystore, password).address == created.address
    assert caplog.records == []


def collateral_deployment(path: Path) -> Path:
    """A deployment file listing WETH and WBTC as collateral (the fields the config reads)."""
    path.write_text(
        json.dumps({"rpc_url": "http://127.0.0.1:1111", "collateral": [{"symbol": "WETH"}, {"symbol": "WBTC"}]})
    )
    return path


def test_liquidity_addons_must_name_the_deployments_collateral(tmp_path: Path) -> None:
    """`DOGE = 100` and `weth = 5000` were taken: the haircuts job looks each add-on up by the asset's symbol, so WETH's
    became 0 and the job pushed lower haircuts than intended. Every key must be a listed collateral symbol."""
    deployment = collateral_deployment(tmp_path / "d.json")
    toml = tmp_path / "keeper.toml"
    toml.write_text(f'[keeper]\ndeployment = "{deployment}"\n[keeper.liquidity_addon_bps]\nDOGE = 100\nweth = 5000\n')
    with pytest.raises(ConfigError) as caught:
        load_config(toml, {"dev_account": 1})
    assert str(caught.value) == (
        "invalid keeper configuration: "
        "liquidity_addon_bps: 'DOGE' is not a collateral asset of the deployment; it lists WETH, WBTC; "
        "liquidity_addon_bps: 'weth' is not a collateral asset of the deployment (spelled WETH); it lists WETH, WBTC"
    )
    with pytest.raises(ConfigError, match=r"'ETH' is not a collateral asset of the deployment; it lists WETH, WBTC"):
        load_config(None, {"dev_account": 1, "deployment": deployment, "liquidity_addon_bps": "ETH=50,WBTC=80"})
    with pytest.raises(ConfigError, match=r"liquidity_addon_bps: WETH is given twice"):
        load_config(None, {"dev_account": 1, "deployment": deployment, "liquidity_addon_bps": "WETH=50,WETH=80"})
    toml.write_text(f'[keeper]\ndeployment = "{deployment}"\n[keeper.liquidity_addon_bps]\nWETH = 300\nWBTC = 0\n')
    assert load_config(toml, {"dev_account": 1}).liquidity_addon_bps == {"WETH": 300, "WBTC": 0}
    # The defaults need no check, and a deployment file that cannot say is checked when the keeper starts.
    assert load_config(None, {"dev_account": 1, "deployment": deployment}).liquidity_addon_bps == {
        "WETH": 200,
        "WBTC": 250,
    }
    bare = deployment_file(tmp_path / "bare.json")
    assert load_config(None, {"dev_account": 1, "deployment": bare, "liquidity_addon_bps": "DOGE=1"})


def test_the_addon_example_names_the_deployments_assets() -> None:
    from keeper.daemon.config import _KINDS

    assert "WETH=200,WBTC=250" in _KINDS["liquidity_addon_bps"]
    assert "ETH=50" not in _KINDS["liquidity_addon_bps"]


def test_margin_min_move_is_a_share_of_the_target(tmp_path: Path) -> None:
    deployment = deployment_file(tmp_path / "d.json")
    assert load_config(None, {"dev_account": 1, "deployment": deployment}).margin_min_move == 0.1
    assert load_config(None, {"dev_account": 1, "deployment": deployment, "margin_min_move": "0"}).margin_min_move == 0
    with pytest.raises(ConfigError, match=r"margin_min_move: must be a share of the target from 0 to below 1, got 1.5"):
        load_config(None, {"dev_account": 1, "deployment": deployment, "margin_min_move": 1.5})


def test_a_whole_number_from_the_environment_may_be_written_as_toml_writes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`gas_budget = 1e7` in the file is 10,000,000; so is PRIMEVAULT_GAS_BUDGET=1e7 (it was "not a whole number")."""
    deployment = deployment_file(tmp_path / "d.json")
    monkeypatch.setenv("PRIMEVAULT_GAS_BUDGET", "1e7")
    assert load_config(None, {"dev_account": 1, "deployment": deployment}).gas_budget == 10_000_000
    for text in ("1.5", "2.5e-1", "inf", "lots"):
        monkeypatch.setenv("PRIMEVAULT_GAS_BUDGET", text)
        with pytest.raises(ConfigError, match=f"gas_budget: '{text}' is not a whole number"):
            load_config(None, {"dev_account": 1, "deployment": deployment})


def test_a_fee_cap_no_fee_reaches_is_refused(tmp_path: Path) -> None:
    """`max_fee_gwei = 1e80` was taken: its wei (1e89) is past what a transaction's fee field holds, and no cap."""
    with pytest.raises(ConfigError, match=re.escape("max_fee_gwei: 1e+80 is no cap at all")):
        load_config(None, {"dev_account": 1, "deployment": deployment_file(tmp_path / "d.json"), "max_fee_gwei": 1e80})
    assert load_config(None, {"dev_account": 1, "deployment": deployment_file(tmp_path / "e.json")}).max_fee_gwei == 500

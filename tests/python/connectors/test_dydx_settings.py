"""The dYdX connector's settings: every bad field named in one line, the mnemonic kept out of reprs, the validator's
scheme choosing TLS, and the keeper's core loading without the dydx extra's client."""

from __future__ import annotations

import subprocess
import sys

import pytest

from keeper.connectors.dydx.settings import DydxSettings
from keeper.exceptions import ConfigError

MNEMONIC = "abandon " * 11 + "about"
REQUIRED = {
    "indexer_url": "https://indexer.dydx.trade",
    "validator_url": "https://dydx-grpc.example:443",
    "chain_id": "dydx-mainnet-1",
    "mnemonic": MNEMONIC,
}


def test_settings_from_a_table_and_from_the_environment() -> None:
    settings = DydxSettings.from_mapping({**REQUIRED, "subaccount_number": "3", "good_til_blocks": 20})
    assert (settings.subaccount_number, settings.good_til_blocks, settings.request_timeout) == (3, 20, 10.0)
    assert (settings.validator_target, settings.validator_tls) == ("dydx-grpc.example:443", True)
    env = {f"PRIMEVAULT_DYDX_{k.upper()}": v for k, v in REQUIRED.items()} | {"PATH": "/bin"}
    env["PRIMEVAULT_DYDX_VALIDATOR_URL"] = "http://127.0.0.1:9090"
    from_env = DydxSettings.from_env(env)
    assert (from_env.validator_target, from_env.validator_tls, from_env.mnemonic) == ("127.0.0.1:9090", False, MNEMONIC)
    assert "abandon" not in repr(from_env)


def test_every_bad_field_is_named_in_one_error() -> None:
    with pytest.raises(ConfigError) as caught:
        DydxSettings.from_mapping({"indexer_url": "x", "good_til_blocks": "ten", "colour": "red"})
    message = str(caught.value)
    for part in (
        "dydx.validator_url is required",
        "dydx.mnemonic or dydx.trading_key is required",
        "dydx.colour is not a setting",
        "dydx.good_til_blocks must be an integer",
    ):
        assert part in message


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"good_til_blocks": 21}, "good_til_blocks must be 1..20"),
        ({"good_til_blocks": 0}, "good_til_blocks must be 1..20"),
        ({"subaccount_number": 128_001}, "subaccount_number must be 0..128000"),
        ({"validator_url": "dydx-grpc.example:443"}, "validator_url must be http(s)://host:port"),
        ({"validator_url": "https://dydx-grpc.example"}, "validator_url must be http(s)://host:port"),
        ({"noble_url": "noble-grpc.example:443"}, "noble_url must be http(s)://host:port"),
    ],
)
def test_values_outside_dydx_limits_are_refused(change: dict[str, object], complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint.replace("(", r"\(").replace(")", r"\)")):
        DydxSettings.from_mapping({**REQUIRED, **change})


def test_the_keeper_core_does_not_import_the_dydx_client() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, keeper.cli.main, keeper.daemon.runner; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'dydx_v4_client', 'v4_proto', 'grpc'}))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_noble_settings_are_read_with_mainnets_channels_by_default() -> None:
    settings = DydxSettings.from_env(
        {
            "PRIMEVAULT_DYDX_INDEXER_URL": REQUIRED["indexer_url"],
            "PRIMEVAULT_DYDX_VALIDATOR_URL": REQUIRED["validator_url"],
            "PRIMEVAULT_DYDX_CHAIN_ID": "dydx-mainnet-1",
            "PRIMEVAULT_DYDX_MNEMONIC": "abandon " * 11 + "about",
            "PRIMEVAULT_DYDX_NOBLE_URL": "https://noble-grpc.example:443",
        }
    )
    assert (settings.noble_url, settings.noble_chain_id) == ("https://noble-grpc.example:443", "noble-1")
    assert (settings.noble_channel, settings.dydx_noble_channel) == ("channel-33", "channel-0")
    assert DydxSettings.from_mapping({**REQUIRED, "mnemonic": "abandon " * 11 + "about"}).noble_url is None

"""The connector's configuration: where the indexer and the validator are, which chain, the wallet's mnemonic and
subaccount, and how orders are timed. Pointing the keeper at the real dYdX changes only these values."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from keeper.exceptions import ConfigError

ENV_PREFIX = "PRIMEVAULT_DYDX_"

SHORT_BLOCK_WINDOW = 20
"""dYdX's ShortBlockWindow: a short-term order's goodTilBlock may be at most this many blocks past the latest."""

MAX_SUBACCOUNT_NUMBER = 128_000

CIRCLE_ATTESTATION_URL = "https://iris-api.circle.com"

MAINNET_USDC_DENOM = "ibc/8E27BA2D5493AF5636760E354E46004562C46AB7EC0CC4C1CA14E9E20E2545B5"


@dataclass(frozen=True)
class DydxSettings:
    indexer_url: str
    """Indexer REST base URL: ``https://indexer.dydx.trade`` for mainnet, the printed URL for the devnet."""
    validator_url: str
    """A validator's gRPC endpoint with its scheme: ``https://host:443`` is TLS, ``http://host:9090`` plaintext."""
    chain_id: str
    """Signed into every transaction: ``dydx-mainnet-1``, ``dydx-testnet-4``, or the devnet's."""
    mnemonic: str = field(repr=False)
    """The wallet's BIP-39 phrase; whoever holds it controls the subaccount outright (trading and withdrawals)."""
    subaccount_number: int = 0
    usdc_denom: str = MAINNET_USDC_DENOM
    """The denomination fees are paid in (the client's builder prices simulated transactions in it)."""
    attestation_url: str = CIRCLE_ATTESTATION_URL
    """Circle's attestation service, which signs the CCTP messages of withdrawals from Noble (the devnet replica
    serves its route beside the indexer)."""
    good_til_blocks: int = 10
    """How many blocks past the latest a short-term order lives (1..20). Short windows settle IOC orders sooner; the
    order must still reach a block proposer before the window closes."""
    request_timeout: float = 10.0
    """Seconds an indexer request or a validator call may take."""
    poll_interval: float = 0.5
    """Seconds between indexer reads while waiting for an order's fills."""

    def __post_init__(self) -> None:
        if not 1 <= self.good_til_blocks <= SHORT_BLOCK_WINDOW:
            raise ConfigError(f"dydx.good_til_blocks must be 1..{SHORT_BLOCK_WINDOW}, got {self.good_til_blocks}")
        if not 0 <= self.subaccount_number <= MAX_SUBACCOUNT_NUMBER:
            raise ConfigError(
                f"dydx.subaccount_number must be 0..{MAX_SUBACCOUNT_NUMBER}, got {self.subaccount_number}"
            )
        if urlsplit(self.validator_url).scheme not in ("http", "https") or not urlsplit(self.validator_url).port:
            raise ConfigError(f"dydx.validator_url must be http(s)://host:port, got {self.validator_url!r}")

    @property
    def validator_target(self) -> str:
        """``host:port``, as grpc channels take it."""
        return urlsplit(self.validator_url).netloc

    @property
    def validator_tls(self) -> bool:
        return urlsplit(self.validator_url).scheme == "https"

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> DydxSettings:
        """Settings from a flat mapping (a TOML ``[dydx]`` table): indexer_url, validator_url, chain_id and mnemonic
        are required; one ConfigError lists every field that is missing or malformed."""
        problems = [f"dydx.{name} is required" for name in _REQUIRED if values.get(name) in (None, "")]
        problems += [f"dydx.{name} is not a setting" for name in sorted(set(values) - _KNOWN)]
        changes: dict[str, Any] = {}
        for name in _STRINGS:
            if values.get(name):
                changes[name] = str(values[name])
        for name, kind in _NUMBERS.items():
            if values.get(name) not in (None, ""):
                changes[name] = _number(values[name], name, kind, problems)
        if problems:
            raise ConfigError("; ".join(problems))
        settings = cls(
            indexer_url=str(values["indexer_url"]),
            validator_url=str(values["validator_url"]),
            chain_id=str(values["chain_id"]),
            mnemonic=str(values["mnemonic"]),
        )
        return dataclasses.replace(settings, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> DydxSettings:
        """Settings from ``PRIMEVAULT_DYDX_<NAME>`` variables (``PRIMEVAULT_DYDX_MNEMONIC``, ...)."""
        return cls.from_mapping(
            {key[len(ENV_PREFIX) :].lower(): value for key, value in environ.items() if key.startswith(ENV_PREFIX)}
        )


_REQUIRED = ("indexer_url", "validator_url", "chain_id", "mnemonic")
_NUMBERS: dict[str, type[int] | type[float]] = {
    "subaccount_number": int,
    "good_til_blocks": int,
    "request_timeout": float,
    "poll_interval": float,
}
_STRINGS = ("usdc_denom", "attestation_url")
_KNOWN = {*_REQUIRED, *_NUMBERS, *_STRINGS}


def _number(value: object, name: str, kind: type[int] | type[float], problems: list[str]) -> float:
    try:
        number = kind(str(value))
    except ValueError:
        problems.append(f"dydx.{name} must be {'an integer' if kind is int else 'a number'}, got {value!r}")
        return 0
    if number < 0:
        problems.append(f"dydx.{name} must not be negative, got {value!r}")
    return number

"""The connector's configuration: where the indexer and the validator are, which chain, the keys (the owner's
mnemonic, and/or a trading key with the authenticator the owner granted it) and subaccount, and how orders are timed.
Pointing the keeper at the real dYdX changes only these values."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import bech32
from Crypto.Hash import RIPEMD160
from dydx_v4_client.key_pair import KeyPair

from keeper.connectors.dydx.noble import DYDX_TO_NOBLE_CHANNEL, NOBLE_CHAIN_ID, NOBLE_TO_DYDX_CHANNEL
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
    mnemonic: str | None = field(default=None, repr=False)
    """The owner's BIP-39 phrase; whoever holds it controls the subaccount outright (trading and withdrawals). Optional
    with a `trading_key`: without it the connector trades but cannot withdraw."""
    subaccount_number: int = 0
    trading_key: str | None = field(default=None, repr=False)
    """A permissioned trading key (hex secp256k1 private key, or a BIP-39 phrase): orders and cancels are signed with it
    and name `authenticator_id`, an authenticator of the owner's account that lets this key place and cancel orders
    only (``primevault keeper dydx-grant-trading-key``). It cannot withdraw or transfer."""
    authenticator_id: int | None = None
    """The id dYdX gave the owner's authenticator for `trading_key` (required with it)."""
    address: str | None = None
    """The owner's ``dydx1...`` address (the subaccount's owner). Required with a trading key and no mnemonic; with a
    mnemonic it is derived from it (and must match if given)."""
    usdc_denom: str = MAINNET_USDC_DENOM
    """The denomination fees are paid in (the client's builder prices simulated transactions in it)."""
    attestation_url: str = CIRCLE_ATTESTATION_URL
    """Circle's attestation service, which signs the CCTP messages of withdrawals from Noble (the devnet replica
    serves its route beside the indexer)."""
    noble_url: str | None = None
    """A Noble node's gRPC endpoint (``https://host:443`` TLS, ``http://host:port`` plaintext): margin reaches the
    subaccount and leaves it through Noble (CCTP there, IBC to and from dYdX). Without it the keeper trades but moves
    no margin."""
    noble_chain_id: str = NOBLE_CHAIN_ID
    """Signed into Noble transactions: ``noble-1`` on mainnet, the devnet replica's as it prints it."""
    noble_channel: str = NOBLE_TO_DYDX_CHANNEL
    """Noble's IBC transfer channel to dYdX (mainnet: channel-33)."""
    dydx_noble_channel: str = DYDX_TO_NOBLE_CHANNEL
    """dYdX's IBC transfer channel to Noble (mainnet: channel-0)."""
    good_til_blocks: int = 10
    """How many blocks past the latest a short-term order lives (1..20). Short windows settle IOC orders sooner; the
    order must still reach a block proposer before the window closes."""
    request_timeout: float = 10.0
    """Seconds an indexer request or a validator call may take."""
    poll_interval: float = 0.5
    """Seconds between indexer reads while waiting for an order's fills."""
    fee_reserve: Decimal = Decimal(0)
    """USDC the keeper keeps, on each chain, in the owner's dYdX bank balance and at its Noble address to pay the
    route's transaction fees (gas in USDC): margin moves only what is above it, so the float is neither swept into
    the subaccount nor counted as a deposit. 0 for the devnet replicas, which charge no fees; on mainnet a few USDC
    on each (Noble's and dYdX's gas is in uusdc)."""

    def __post_init__(self) -> None:
        problems = _key_problems(self)
        if problems:
            raise ConfigError("; ".join(problems))
        if not 1 <= self.good_til_blocks <= SHORT_BLOCK_WINDOW:
            raise ConfigError(f"dydx.good_til_blocks must be 1..{SHORT_BLOCK_WINDOW}, got {self.good_til_blocks}")
        if not 0 <= self.subaccount_number <= MAX_SUBACCOUNT_NUMBER:
            raise ConfigError(
                f"dydx.subaccount_number must be 0..{MAX_SUBACCOUNT_NUMBER}, got {self.subaccount_number}"
            )
        if urlsplit(self.validator_url).scheme not in ("http", "https") or not urlsplit(self.validator_url).port:
            raise ConfigError(f"dydx.validator_url must be http(s)://host:port, got {self.validator_url!r}")
        if not (isinstance(self.fee_reserve, Decimal) and self.fee_reserve.is_finite() and self.fee_reserve >= 0):
            raise ConfigError(f"dydx.fee_reserve must be a non-negative amount of USDC, got {self.fee_reserve!r}")
        if self.noble_url is not None and (
            urlsplit(self.noble_url).scheme not in ("http", "https") or not urlsplit(self.noble_url).port
        ):
            raise ConfigError(f"dydx.noble_url must be http(s)://host:port, got {self.noble_url!r}")

    @property
    def owner_address(self) -> str:
        """The subaccount owner's ``dydx1...`` address: `address`, or the mnemonic's."""
        if self.address:
            return self.address
        assert self.mnemonic is not None  # __post_init__: a mnemonic or an address
        return mnemonic_address(self.mnemonic)

    @property
    def can_withdraw(self) -> bool:
        """Whether the owner's key is here: withdrawals and transfers need it, trading with a trading key does not."""
        return self.mnemonic is not None

    @property
    def validator_target(self) -> str:
        """``host:port``, as grpc channels take it."""
        return urlsplit(self.validator_url).netloc

    @property
    def validator_tls(self) -> bool:
        return urlsplit(self.validator_url).scheme == "https"

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> DydxSettings:
        """Settings from a flat mapping (a TOML ``[dydx]`` table): indexer_url, validator_url, chain_id, and a mnemonic
        or a trading key (with authenticator_id, and address without a mnemonic) are required; one ConfigError lists
        every field that is missing or malformed."""
        problems = [f"dydx.{name} is required" for name in _REQUIRED if values.get(name) in (None, "")]
        problems += [f"dydx.{name} is not a setting" for name in sorted(set(values) - KNOWN_SETTINGS)]
        changes: dict[str, Any] = {}
        for name in _STRINGS:
            if values.get(name):
                changes[name] = str(values[name])
        for name, kind in _NUMBERS.items():
            if values.get(name) not in (None, ""):
                changes[name] = _number(values[name], name, kind, problems)
        if values.get("fee_reserve") not in (None, ""):
            changes["fee_reserve"] = _amount(values["fee_reserve"], "fee_reserve", problems)
        keys = _KeyFields(
            changes.get("mnemonic"),
            changes.get("trading_key"),
            int(changes["authenticator_id"]) if "authenticator_id" in changes else None,
            changes.get("address"),
        )
        problems += _key_problems(keys)
        if problems:
            raise ConfigError("; ".join(problems))
        return cls(
            indexer_url=str(values["indexer_url"]),
            validator_url=str(values["validator_url"]),
            chain_id=str(values["chain_id"]),
            **changes,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> DydxSettings:
        """Settings from ``PRIMEVAULT_DYDX_<NAME>`` variables (``PRIMEVAULT_DYDX_MNEMONIC``, ...)."""
        return cls.from_mapping(
            {key[len(ENV_PREFIX) :].lower(): value for key, value in environ.items() if key.startswith(ENV_PREFIX)}
        )


_REQUIRED = ("indexer_url", "validator_url", "chain_id")
_NUMBERS: dict[str, type[int] | type[float]] = {
    "subaccount_number": int,
    "authenticator_id": int,
    "good_til_blocks": int,
    "request_timeout": float,
    "poll_interval": float,
}
_STRINGS = (
    "usdc_denom",
    "attestation_url",
    "mnemonic",
    "trading_key",
    "address",
    "noble_url",
    "noble_chain_id",
    "noble_channel",
    "dydx_noble_channel",
)
KNOWN_SETTINGS = {*_REQUIRED, *_NUMBERS, *_STRINGS, "fee_reserve"}


class _KeyFields(NamedTuple):
    mnemonic: str | None
    trading_key: str | None
    authenticator_id: int | None
    address: str | None


def _key_problems(keys: _KeyFields | DydxSettings) -> list[str]:
    """What is wrong with the keys: a mnemonic or a trading key is needed; a trading key needs its authenticator id,
    and the owner's address unless the mnemonic gives it; each must parse; a given address must be the mnemonic's."""
    problems = []
    derived = None
    if keys.mnemonic is None and keys.trading_key is None:
        problems.append("dydx.mnemonic or dydx.trading_key is required")
    if keys.mnemonic is not None:
        try:
            derived = mnemonic_address(keys.mnemonic)
        except ValueError:
            problems.append("dydx.mnemonic is not a valid BIP-39 phrase")
    if keys.trading_key is not None:
        try:
            trading_key_pair(keys.trading_key)
        except ValueError:
            problems.append("dydx.trading_key must be a hex secp256k1 private key or a BIP-39 phrase")
        if keys.authenticator_id is None:
            problems.append("dydx.authenticator_id is required with dydx.trading_key")
        if keys.mnemonic is None and not keys.address:
            problems.append("dydx.address (the owner's dydx1 address) is required with a trading key and no mnemonic")
    elif keys.authenticator_id is not None:
        problems.append("dydx.authenticator_id is set without dydx.trading_key")
    if keys.address:
        if not _is_dydx_address(keys.address):
            problems.append(f"dydx.address must be a dydx1... address, got {keys.address!r}")
        elif derived is not None and derived != keys.address:
            problems.append(f"dydx.address {keys.address} is not the mnemonic's address {derived}")
    return problems


def mnemonic_address(mnemonic: str) -> str:
    """The ``dydx1...`` address of `mnemonic`'s first key, as dYdX's wallets derive it; ValueError if it is not a
    BIP-39 phrase."""
    return _address(KeyPair.from_mnemonic(mnemonic).public_key_bytes)


def trading_key_pair(trading_key: str) -> KeyPair:
    """The trading key: a BIP-39 phrase (several words), else a 32-byte hex private key (``0x`` optional)."""
    text = trading_key.strip()
    if len(text.split()) > 1:
        return KeyPair.from_mnemonic(text)
    hex_key = text.removeprefix("0x")
    if len(hex_key) != 64:
        raise ValueError("a private key is 32 bytes (64 hex digits)")
    return KeyPair.from_hex(hex_key)


def _address(public_key: bytes) -> str:
    digest = RIPEMD160.new(hashlib.sha256(public_key).digest()).digest()
    words = bech32.convertbits(digest, 8, 5)
    assert words is not None  # 20 bytes always convert
    return str(bech32.bech32_encode("dydx", words))


def _is_dydx_address(address: str) -> bool:
    prefix, words = bech32.bech32_decode(address)
    data = bech32.convertbits(words, 5, 8, False) if words is not None else None
    return prefix == "dydx" and data is not None and len(data) == 20


def _number(value: object, name: str, kind: type[int] | type[float], problems: list[str]) -> float:
    try:
        number = kind(str(value))
    except ValueError:
        problems.append(f"dydx.{name} must be {'an integer' if kind is int else 'a number'}, got {value!r}")
        return 0
    if number < 0:
        problems.append(f"dydx.{name} must not be negative, got {value!r}")
    return number


def _amount(value: object, name: str, problems: list[str]) -> Decimal:
    """A USDC amount (written as its decimal text, so 0.1 is exact), not negative."""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or amount < 0:
        problems.append(f"dydx.{name} must be a non-negative amount of USDC, got {value!r}")
        return Decimal(0)
    return amount

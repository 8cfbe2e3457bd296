"""dYdX v4's permissioned keys (x/accountplus) as the replica's chain runs them: an account's authenticators, each a
tree of SignatureVerification, MessageFilter, SubaccountFilter and ClobPairIdFilter under AllOf / AnyOf, stored as
MsgAddAuthenticator sent them (a composite's config is a JSON array of ``{"type", "config"}`` with each config in
base64, as Go encodes bytes) and judged per message of a transaction that selects them.

What a refusal says follows the chain: SignatureVerification ``accountplus`` 100, MessageFilter 101, ClobPairIdFilter
102, SubaccountFilter 103, an AllOf the first failing part's error, an AnyOf whose parts all fail ``sdk`` 4, an id the
account does not hold ``accountplus`` 1, a config that does not initialize ``accountplus`` 5.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from v4_proto.dydxprotocol.clob.tx_pb2 import MsgBatchCancel, MsgCancelOrder, MsgPlaceOrder

from keeper.devnet.dydx.chain import Rejected

SECP256K1_PUBKEY_SIZE = 33
SEPARATOR = ","
COMPOSITES = ("AllOf", "AnyOf")
FILTERS = ("MessageFilter", "SubaccountFilter", "ClobPairIdFilter")
SIGNATURE = "SignatureVerification"


@dataclass(frozen=True)
class Node:
    """One initialized authenticator: its type and either its parsed config or its parts."""

    type: str
    key: bytes = b""
    allowed: frozenset[str] = frozenset()
    numbers: frozenset[int] = frozenset()
    parts: tuple[Node, ...] = ()


def initialize(kind: str, config: bytes) -> Node:
    """The authenticator of type `kind` over `config`, as the chain initializes it when it is added or selected;
    `accountplus` 5 when the config does not parse."""
    try:
        return _initialize(kind, config)
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise Rejected("accountplus", 5, f"Error initializing authenticator: {kind}: {error}") from None


def _initialize(kind: str, config: bytes) -> Node:
    if kind == SIGNATURE:
        if len(config) != SECP256K1_PUBKEY_SIZE:
            raise ValueError(f"invalid secp256k1 public key size, expected {SECP256K1_PUBKEY_SIZE}, got {len(config)}")
        return Node(kind, key=bytes(config))
    if kind == "MessageFilter":
        return Node(kind, allowed=frozenset(config.decode().split(SEPARATOR)))
    if kind in ("SubaccountFilter", "ClobPairIdFilter"):
        return Node(kind, numbers=frozenset(int(part) for part in config.decode().split(SEPARATOR)))
    if kind in COMPOSITES:
        entries = json.loads(config.decode())
        if not isinstance(entries, list) or len(entries) <= 1:
            raise ValueError(f"{kind.lower()} must have at least 2 sub-authenticators")
        parts = tuple(_initialize(str(e["type"]), base64.b64decode(str(e["config"]), validate=True)) for e in entries)
        return Node(kind, parts=parts)
    raise ValueError(f"authenticator type {kind} is not registered")


def has_signature(node: Node) -> bool:
    """Whether passing `node` takes a signature (the client refuses to add an authenticator that does not)."""
    if node.type == SIGNATURE:
        return True
    if node.type == "AllOf":
        return any(has_signature(part) for part in node.parts)
    if node.type == "AnyOf":
        return all(has_signature(part) for part in node.parts)
    return False


def authenticate(node: Node, message: Any, verify: Callable[[bytes], bool] | None) -> None:
    """Raises `Rejected` unless `node` lets `message` through. `verify(public_key)` checks the transaction's
    signature against a key (None in a simulation, which verifies no signature, as the chain's)."""
    if node.type == SIGNATURE:
        if verify is not None and not verify(node.key):
            raise Rejected("accountplus", 100, "Signature verification failed")
    elif node.type == "MessageFilter":
        url = type_url(message)
        if url not in node.allowed:
            expected = sorted(node.allowed)
            raise Rejected(
                "accountplus", 101, f"message types do not match. Got {url}, Expected {expected}: "
                "Message type verification failed"
            )  # fmt: skip
    elif node.type in _NUMBER_FILTERS:
        numbers_of, code, what, failed = _NUMBER_FILTERS[node.type]
        for number in numbers_of(message):
            if number not in node.numbers:
                raise Rejected(
                    "accountplus", code, f"{what} {number} not in whitelist {sorted(node.numbers)}: {failed}"
                )
    elif node.type == "AllOf":
        for part in node.parts:
            authenticate(part, message, verify)
    else:
        failures = []
        for part in node.parts:
            try:
                authenticate(part, message, verify)
                return
            except Rejected as error:
                failures.append(f"[{part.type}] {error}")
        raise Rejected("sdk", 4, f"all sub-authenticators failed to authenticate: {'; '.join(failures)}: unauthorized")


def type_url(message: Any) -> str:
    return f"/{message.DESCRIPTOR.full_name}"


def _subaccounts(message: Any) -> list[int]:
    if isinstance(message, MsgPlaceOrder):
        return [int(message.order.order_id.subaccount_id.number)]
    if isinstance(message, MsgCancelOrder):
        return [int(message.order_id.subaccount_id.number)]
    if isinstance(message, MsgBatchCancel):
        return [int(message.subaccount_id.number)]
    return []  # other messages pass the filter, as on the chain


def _clob_pairs(message: Any) -> list[int]:
    if isinstance(message, MsgPlaceOrder):
        return [int(message.order.order_id.clob_pair_id)]
    if isinstance(message, MsgCancelOrder):
        return [int(message.order_id.clob_pair_id)]
    if isinstance(message, MsgBatchCancel):
        return [int(batch.clob_pair_id) for batch in message.short_term_cancels]
    return []


_NUMBER_FILTERS: dict[str, tuple[Callable[[Any], list[int]], int, str, str]] = {
    "SubaccountFilter": (_subaccounts, 103, "subaccount number", "Subaccount verification failed"),
    "ClobPairIdFilter": (_clob_pairs, 102, "order clob pair id", "Clob pair id verification failed"),
}
"""The filters over numbers a message names: what they read, their code and their words on the chain."""

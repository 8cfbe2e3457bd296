"""dYdX v4's permissioned keys (authenticators, x/accountplus) for the seat: the authenticator that lets a trading key
place and cancel the subaccount's short-term orders and nothing else, built with the official client's helpers.

``AllOf(SignatureVerification(trading key), AnyOf(MessageFilter(MsgPlaceOrder), MessageFilter(MsgCancelOrder)),
SubaccountFilter(n)[, ClobPairIdFilter(markets)])``: the chain lets a transaction that selects it through only if the
trading key signed it, every message is an order placement or a cancel, on subaccount `n` (and, if given, those
markets). A withdrawal or a transfer signed by the trading key is refused; the owner's mnemonic still can do both, and
removes the authenticator to revoke the key.
"""

from __future__ import annotations

from collections.abc import Sequence

from dydx_v4_client.node.authenticators import Authenticator, AuthenticatorType
from dydx_v4_client.node.message import convert_nested_config_to_base64

from keeper.connectors.dydx.settings import trading_key_pair

PLACE_ORDER = "/dydxprotocol.clob.MsgPlaceOrder"
CANCEL_ORDER = "/dydxprotocol.clob.MsgCancelOrder"


def trading_public_key(trading_key: str) -> bytes:
    """The compressed secp256k1 public key (33 bytes) of a trading key (hex private key or BIP-39 phrase)."""
    return bytes(trading_key_pair(trading_key).public_key_bytes)


def trading_authenticator(
    public_key: bytes, subaccount_number: int, clob_pair_ids: Sequence[int] | None = None
) -> Authenticator:
    """The authenticator granting `public_key` orders and cancels on `subaccount_number` (on `clob_pair_ids` only, if
    given), as the official client composes it."""
    parts = [
        Authenticator.signature_verification(public_key),
        Authenticator.compose(
            AuthenticatorType.AnyOf,
            [Authenticator.message_filter(PLACE_ORDER), Authenticator.message_filter(CANCEL_ORDER)],
        ),
        Authenticator.subaccount_filter([subaccount_number]),
    ]
    if clob_pair_ids:
        parts.append(Authenticator.clob_pair_id_filter(sorted(clob_pair_ids)))
    return Authenticator.compose(AuthenticatorType.AllOf, parts)


def stored_config(authenticator: Authenticator) -> bytes:
    """The config the chain stores for `authenticator` (the client sends nested configs in base64)."""
    return bytes(convert_nested_config_to_base64(authenticator.config))

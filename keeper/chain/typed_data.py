"""EIP-712 signing with eth-account: the domain every PrimeVault and OpenZeppelin contract uses (name, version,
chain id, verifying contract), one place."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.datastructures import SignedMessage
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount

EIP712_DOMAIN = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


def sign_typed(
    signer: LocalAccount,
    domain: dict[str, Any],
    primary_type: str,
    fields: list[dict[str, str]],
    message: dict[str, Any],
) -> SignedMessage:
    """`signer`'s EIP-712 signature of `message`, a `primary_type` with `fields`, under `domain`."""
    typed = encode_typed_data(
        full_message={
            "types": {"EIP712Domain": EIP712_DOMAIN, primary_type: fields},
            "primaryType": primary_type,
            "domain": domain,
            "message": message,
        }
    )
    signed: SignedMessage = Account.sign_message(typed, signer.key)
    return signed

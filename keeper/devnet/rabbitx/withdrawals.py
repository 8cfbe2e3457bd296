"""EIP-712 withdrawal authorisations the devnet exchange signs, in RabbitX's own shape, for its custody contract.

Domain: ``EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)`` with name
``"RabbitXWithdrawal"``, version ``"1"``, the chain id and the custody contract's address.

Struct: ``withdrawal(uint256 id,address trader,uint256 amount)`` (lower-case, as RabbitX's contract spells it) —
`id` the exchange's withdrawal id (each payable once), `trader` the wallet paid, `amount` in the collateral token's
base units.

The contract that pays them is ``contracts/devnet/venues/RabbitXCustody.sol``:
``withdraw(uint256 id, address trader, uint256 amount, uint8 v, bytes32 r, bytes32 s)``, the signature of RabbitX's
``IRabbitX.withdraw`` (see API_NOTES.md), which checks the digest with OpenZeppelin's ``EIP712._hashTypedDataV4``
and ``ECDSA``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

DOMAIN_NAME = "RabbitXWithdrawal"
DOMAIN_VERSION = "1"
WITHDRAWAL_TYPE = "withdrawal(uint256 id,address trader,uint256 amount)"
WITHDRAWAL_TYPEHASH = keccak(text=WITHDRAWAL_TYPE)

_TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "withdrawal": [
        {"name": "id", "type": "uint256"},
        {"name": "trader", "type": "address"},
        {"name": "amount", "type": "uint256"},
    ],
}


@dataclass(frozen=True)
class SignedWithdrawal:
    id: int
    trader: str
    amount: int
    signature: str
    """65 bytes r || s || v (v 27 or 28) as 0x-hex."""
    v: int
    r: str
    s: str


def withdrawal_typed_data(
    withdrawal_id: int, trader: str, amount: int, chain_id: int, verifying_contract: str
) -> dict[str, Any]:
    """The full EIP-712 typed-data message (what eth_signTypedData_v4 takes)."""
    for name, value in (("id", withdrawal_id), ("amount", amount), ("chainId", chain_id)):
        if value < 0 or value >= 2**256:
            raise ValueError(f"{name} {value} does not fit uint256")
    return {
        "types": _TYPES,
        "primaryType": "withdrawal",
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": chain_id,
            "verifyingContract": to_checksum_address(verifying_contract),
        },
        "message": {"id": withdrawal_id, "trader": to_checksum_address(trader), "amount": amount},
    }


def sign_withdrawal(
    private_key: str | bytes,
    withdrawal_id: int,
    trader: str,
    amount: int,
    chain_id: int,
    verifying_contract: str,
) -> SignedWithdrawal:
    data = withdrawal_typed_data(withdrawal_id, trader, amount, chain_id, verifying_contract)
    signed = Account.sign_message(encode_typed_data(full_message=data), private_key=private_key)
    return SignedWithdrawal(
        id=withdrawal_id,
        trader=data["message"]["trader"],
        amount=amount,
        signature="0x" + bytes(signed.signature).hex(),
        v=signed.v,
        r="0x" + signed.r.to_bytes(32, "big").hex(),
        s="0x" + signed.s.to_bytes(32, "big").hex(),
    )


def recover_withdrawal_signer(
    signature: str,
    withdrawal_id: int,
    trader: str,
    amount: int,
    chain_id: int,
    verifying_contract: str,
) -> str:
    """The address that signed this withdrawal (what the contract's ECDSA.recover yields)."""
    data = withdrawal_typed_data(withdrawal_id, trader, amount, chain_id, verifying_contract)
    return str(Account.recover_message(encode_typed_data(full_message=data), signature=signature))

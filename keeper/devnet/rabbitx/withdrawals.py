"""EIP-712 withdrawal authorisations the devnet exchange signs, for a Solidity contract to verify.

Domain: ``EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)`` with name
``"RabbitXExchange"``, version ``"1"``, the chain id and the custody contract's address.

Struct: ``Withdrawal(address trader,uint256 amount,uint256 id,uint256 deadline)`` — `amount` in the collateral
token's base units, `id` the exchange's withdrawal id (each payable once), `deadline` a UNIX second after which the
contract must refuse it.

A contract verifies it with OpenZeppelin::

    contract Custody is EIP712 {
        bytes32 constant WITHDRAWAL_TYPEHASH =
            keccak256("Withdrawal(address trader,uint256 amount,uint256 id,uint256 deadline)");
        constructor() EIP712("RabbitXExchange", "1") {}
        function withdraw(address trader, uint256 amount, uint256 id, uint256 deadline, bytes calldata sig) external {
            require(block.timestamp <= deadline, "expired");
            require(!used[id], "used"); used[id] = true;
            bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(WITHDRAWAL_TYPEHASH, trader, amount, id, deadline)));
            require(ECDSA.recover(digest, sig) == exchangeSigner, "bad signature");
            token.safeTransfer(trader, amount);
        }
    }

(RabbitX's own contract signs ``withdrawal(uint256 id,address trader,uint256 amount)`` under domain name
``"RabbitXWithdrawal"`` with no deadline; the devnet uses the struct above, see API_NOTES.md.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

DOMAIN_NAME = "RabbitXExchange"
DOMAIN_VERSION = "1"
WITHDRAWAL_TYPE = "Withdrawal(address trader,uint256 amount,uint256 id,uint256 deadline)"
WITHDRAWAL_TYPEHASH = keccak(text=WITHDRAWAL_TYPE)

_TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "Withdrawal": [
        {"name": "trader", "type": "address"},
        {"name": "amount", "type": "uint256"},
        {"name": "id", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
}


@dataclass(frozen=True)
class SignedWithdrawal:
    trader: str
    amount: int
    id: int
    deadline: int
    signature: str
    """65 bytes r || s || v (v 27 or 28) as 0x-hex, what OpenZeppelin's ECDSA.recover takes."""
    v: int
    r: str
    s: str


def withdrawal_typed_data(
    trader: str, amount: int, withdrawal_id: int, deadline: int, chain_id: int, verifying_contract: str
) -> dict[str, Any]:
    """The full EIP-712 typed-data message (what eth_signTypedData_v4 takes)."""
    for name, value in (("amount", amount), ("id", withdrawal_id), ("deadline", deadline), ("chainId", chain_id)):
        if value < 0 or value >= 2**256:
            raise ValueError(f"{name} {value} does not fit uint256")
    return {
        "types": _TYPES,
        "primaryType": "Withdrawal",
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": chain_id,
            "verifyingContract": to_checksum_address(verifying_contract),
        },
        "message": {
            "trader": to_checksum_address(trader),
            "amount": amount,
            "id": withdrawal_id,
            "deadline": deadline,
        },
    }


def sign_withdrawal(
    private_key: str | bytes,
    trader: str,
    amount: int,
    withdrawal_id: int,
    deadline: int,
    chain_id: int,
    verifying_contract: str,
) -> SignedWithdrawal:
    data = withdrawal_typed_data(trader, amount, withdrawal_id, deadline, chain_id, verifying_contract)
    signed = Account.sign_message(encode_typed_data(full_message=data), private_key=private_key)
    return SignedWithdrawal(
        trader=data["message"]["trader"],
        amount=amount,
        id=withdrawal_id,
        deadline=deadline,
        signature="0x" + bytes(signed.signature).hex(),
        v=signed.v,
        r="0x" + signed.r.to_bytes(32, "big").hex(),
        s="0x" + signed.s.to_bytes(32, "big").hex(),
    )


def recover_withdrawal_signer(
    signature: str,
    trader: str,
    amount: int,
    withdrawal_id: int,
    deadline: int,
    chain_id: int,
    verifying_contract: str,
) -> str:
    """The address that signed this withdrawal (what the contract's ECDSA.recover yields)."""
    data = withdrawal_typed_data(trader, amount, withdrawal_id, deadline, chain_id, verifying_contract)
    return str(Account.recover_message(encode_typed_data(full_message=data), signature=signature))

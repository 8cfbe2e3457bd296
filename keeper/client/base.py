"""What every contract client shares: one contract bound to its shipped ABI, reads whose reverts come back as
decoded custom errors, writes through a `Sender`, and structs read by the ABI's own field names."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.types import BlockIdentifier, TxReceipt

from keeper.chain.artifacts import load_artifact
from keeper.chain.revert import error_decoder, revert_data
from keeper.chain.transactions import Call, Sender
from keeper.exceptions import PrimeVaultError, TransactionReverted

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


class ContractClient:
    """One deployed contract, read at any block and written through an optional `Sender`."""

    def __init__(self, w3: Web3, address: str, artifact: str, sender: Sender | None = None) -> None:
        self.w3 = w3
        self.address: ChecksumAddress = Web3.to_checksum_address(address)
        self.sender = sender
        self.contract: Contract = w3.eth.contract(address=self.address, abi=load_artifact(artifact).abi)
        self.decoder = error_decoder()

    def read(self, action: str, fn: ContractFunction, block: BlockIdentifier = "latest") -> Any:
        """Calls `fn` at `block`; a revert raises `TransactionReverted` with the decoded error."""
        try:
            return fn.call(block_identifier=block)
        except (ContractLogicError, Web3RPCError) as exc:
            data = revert_data(exc)
            if data is None:
                raise
            raise TransactionReverted(action, self.decoder.decode(data)) from None

    def send(self, action: str, fn: ContractFunction, gas: int | None = None) -> TxReceipt:
        return self.signer().transact(action, fn, gas=gas)

    def send_all(
        self, action: str, fns: Sequence[Call], gas: Sequence[int | None] | None = None
    ) -> list[TxReceipt | TransactionReverted]:
        """Sends every call before waiting for any (consecutive nonces, so that they can share a block); `gas` is a
        limit per call to try first (`Sender.transact_all`)."""
        return self.signer().transact_all(action, fns, gas)

    def signer(self) -> Sender:
        if self.sender is None:
            raise PrimeVaultError("this action sends a transaction: give a key (--keystore or --dev-account)")
        return self.sender


class AccessControlledClient(ContractClient):
    """A contract with OpenZeppelin roles (the vault, the trading module)."""

    def has_role(self, role: str, account: str) -> bool:
        """Whether `account` holds `role`, named as the contract's constant (e.g. "EXECUTOR_ROLE")."""
        return bool(self.contract.functions.hasRole(self._role_id(role), Web3.to_checksum_address(account)).call())

    def grant_role(self, role: str, account: str) -> TxReceipt:
        """Grants `role` to `account` (the sender must be the role's admin)."""
        fn = self.contract.functions.grantRole(self._role_id(role), Web3.to_checksum_address(account))
        return self.send(f"grant {role}", fn)

    def _role_id(self, role: str) -> bytes:
        return bytes(self.contract.functions[role]().call())


def struct(cls: type[T], fn: ContractFunction, raw: Sequence[Any], **extra: Any) -> T:
    """`raw`, the tuple a call of `fn` returned, as the dataclass `cls`: each field is taken by its name in the
    ABI (camelCase there, snake_case here), so a reordered or grown struct cannot shift a value into the wrong
    field. Fields the ABI does not have come from `extra`."""
    outputs = fn.abi["outputs"]
    # web3 unwraps a single struct output (an array of them is read element by element); several come as a tuple.
    components = outputs[0]["components"] if len(outputs) == 1 and outputs[0]["type"].startswith("tuple") else outputs
    by_name = {_snake(c["name"]): value for c, value in zip(components, raw, strict=True)}
    by_name.update(extra)
    return cls(**{f.name: by_name[f.name] for f in fields(cls)})


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()

"""The CCTP-shaped bridge that carries the vault's USDC to and from dYdX (`DevnetCctpBridge` on the devnet): the seat
submits each attested message that pays a withdrawal back to the seat adapter; anyone may."""

from __future__ import annotations

from dataclasses import dataclass

from eth_abi.abi import decode as abi_decode
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.types import TxReceipt

from keeper.chain.transactions import Sender
from keeper.client.base import ContractClient


@dataclass(frozen=True)
class CctpMessage:
    """A message the bridge pays: ``abi.encode(uint64 nonce, uint32 sourceDomain, uint32 destinationDomain, address
    recipient, uint256 amount)``."""

    nonce: int
    source_domain: int
    destination_domain: int
    recipient: str
    amount: int

    @classmethod
    def decode(cls, message: bytes) -> CctpMessage:
        nonce, source, destination, recipient, amount = abi_decode(
            ["uint64", "uint32", "uint32", "address", "uint256"], message
        )
        return cls(int(nonce), int(source), int(destination), to_checksum_address(recipient), int(amount))


class CctpBridgeClient(ContractClient):
    def __init__(self, w3: Web3, address: str, sender: Sender | None = None) -> None:
        super().__init__(w3, address, "DevnetCctpBridge", sender)

    def is_paid(self, message: CctpMessage) -> bool:
        fn = self.contract.functions.usedNonces(message.source_domain, message.nonce)
        return bool(self.read("read a message's nonce", fn))

    def receive_message(self, message: bytes, attestation: bytes) -> TxReceipt:
        """Pays `message` to its recipient on the attester's signature."""
        fn = self.contract.functions.receiveMessage(message, attestation)
        return self.send("submit an attested bridge message", fn)

"""The CCTP-shaped bridge that carries the vault's USDC to and from dYdX (`DevnetCctpBridge` on the devnet): the seat
submits each attested message that pays a withdrawal back to the seat adapter; anyone may."""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.types import TxReceipt

from keeper.chain.transactions import Sender
from keeper.client.base import ContractClient
from keeper.exceptions import InputError


@dataclass(frozen=True)
class CctpMessage:
    """A CCTP v1 message carrying a v1 burn message, as Circle's MessageTransmitter emits it and the bridge pays it:
    packed and big-endian, version 0, source domain, destination domain, nonce, sender and recipient (the two token
    messengers), destination caller (zero: anyone may submit it), then the burn message: version 0, burn token, mint
    recipient, amount, message sender. 248 bytes."""

    nonce: int
    source_domain: int
    destination_domain: int
    recipient: str  # the mint recipient: who is paid on the destination chain
    amount: int
    burn_token: bytes = bytes(32)  # the source chain's token id
    message_sender: bytes = bytes(32)  # who burned on the source chain
    sender: bytes = bytes(32)  # the source's token messenger
    destination_messenger: bytes = bytes(32)
    destination_caller: bytes = bytes(32)

    LENGTH = 248
    BODY = 116

    @classmethod
    def decode(cls, message: bytes) -> CctpMessage:
        if len(message) != cls.LENGTH or message[:4] != bytes(4) or message[cls.BODY : cls.BODY + 4] != bytes(4):
            raise InputError(f"not a CCTP v1 message carrying a v1 burn message ({len(message)} bytes)")
        body = message[cls.BODY :]
        return cls(
            nonce=int.from_bytes(message[12:20]),
            source_domain=int.from_bytes(message[4:8]),
            destination_domain=int.from_bytes(message[8:12]),
            recipient=to_checksum_address(body[48:68]),
            amount=int.from_bytes(body[68:100]),
            burn_token=body[4:36],
            message_sender=body[100:132],
            sender=message[20:52],
            destination_messenger=message[52:84],
            destination_caller=message[84:116],
        )

    def encode(self) -> bytes:
        body = bytes(4) + self.burn_token + bytes(12) + bytes.fromhex(self.recipient[2:])
        body += self.amount.to_bytes(32) + self.message_sender
        header = bytes(4) + self.source_domain.to_bytes(4) + self.destination_domain.to_bytes(4)
        header += self.nonce.to_bytes(8) + self.sender + self.destination_messenger + self.destination_caller
        return header + body


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

"""The Noble replica: the chain between Ethereum's CCTP and dYdX, as the keeper's route uses it.

- Bank balances of ``noble1...`` accounts in ``uusdc`` (``cosmos.bank.v1beta1.Query/Balance``, ``/AllBalances``) and
  their accounts (``cosmos.auth.v1beta1.Query/Account``), created by their first USDC.
- CCTP in: `mint` credits a burn on Ethereum towards Noble's domain (the bridge watcher's deposits) to the
  ``noble1...`` address with the mint recipient's last 20 bytes, once per nonce.
- ``cosmos.tx.v1beta1.Service/Simulate``, ``/BroadcastTx``: transactions signed by one ``noble1...`` key (signature
  over the SignDoc with its account number and Noble's chain id, its sequence), carrying
  - IBC's MsgTransfer on ``transfer``/``channel-33`` (mainnet's channel to dYdX): the USDC leaves the sender and is
    in flight until the relayer delivers it with the next block to the receiver's bank on dYdX (refunded if dYdX
    cannot take it);
  - Circle's MsgDepositForBurn to Ethereum's domain 0: the USDC is burned and a CCTP message from Noble's domain
    4 pays the mint recipient's 20 bytes on Ethereum (`burns`; the indexer's copy of Circle's attestation route
    attests it from the next dYdX block).
- ``cosmos.tx.v1beta1.Service/GetTxsEvent``: the transactions a ``message.sender='noble1...'`` query names (and
  ``message.action='/circle.cctp.v1.MsgDepositForBurn'``), so that a keeper restarted finds its burns again; a
  transaction applies when broadcast here, and is found from then on.

Noble's blocks are the dYdX replica's (one height, one lock): the replicas run together. No fees are charged.
"""

from __future__ import annotations

from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from eth_utils.address import to_checksum_address
from google.protobuf.message import DecodeError
from v4_proto.cosmos.auth.v1beta1 import query_pb2_grpc as auth_grpc
from v4_proto.cosmos.bank.v1beta1 import query_pb2_grpc as bank_grpc
from v4_proto.cosmos.tx.v1beta1 import service_pb2_grpc
from v4_proto.cosmos.tx.v1beta1.tx_pb2 import Tx

from keeper.connectors.dydx.cctp import NOBLE_DOMAIN
from keeper.connectors.dydx.noble import (
    ETHEREUM_DOMAIN,
    NOBLE_CHAIN_ID,
    NOBLE_DENOM,
    NOBLE_PREFIX,
    NOBLE_TO_DYDX_CHANNEL,
    TRANSFER_PORT,
    address_bytes,
    encode_address,
)
from keeper.connectors.dydx.noble_messages import MsgDepositForBurn, MsgTransfer
from keeper.devnet.dydx.chain import Account, CctpBurn, Chain, Packet, Rejected
from keeper.devnet.dydx.cosmos import (
    Auth,
    Bank,
    TxService,
    check_sequence,
    decode_message,
    tx_hash_of,
    tx_signer,
)

MESSAGES = (MsgTransfer, MsgDepositForBurn)


@dataclass(frozen=True)
class NobleTx:
    tx_hash: str
    tx_bytes: bytes
    sender: str
    actions: tuple[str, ...]  # its messages' type urls
    height: int


@dataclass
class Noble:
    """Noble's state, linked to the dYdX replica `dydx` across the IBC channel (and sharing its lock and height)."""

    dydx: Chain
    chain_id: str = NOBLE_CHAIN_ID
    accounts: dict[str, Account] = field(default_factory=dict)
    balances: dict[str, int] = field(default_factory=dict)
    """uusdc by address."""
    minted: set[int] = field(default_factory=set)
    """CCTP nonces from Ethereum already minted."""
    burns: list[CctpBurn] = field(default_factory=list)
    txs: list[NobleTx] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.dydx.noble = self

    @property
    def lock(self) -> Any:
        return self.dydx.lock

    def credit(self, address: str, quantums: int) -> None:
        with self.lock:
            if address not in self.accounts:
                self.accounts[address] = Account(address, len(self.accounts) + 1)
            self.balances[address] = self.balances.get(address, 0) + quantums

    def mint(self, nonce: int, mint_recipient: bytes, quantums: int) -> str | None:
        """CCTP's receiveMessage of Ethereum's burn `nonce`: `quantums` to the ``noble1...`` address of the
        recipient's last 20 bytes, once; returns that address (None if the nonce was minted)."""
        with self.lock:
            if nonce in self.minted:
                return None
            self.minted.add(nonce)
            address = encode_address(mint_recipient[-20:], NOBLE_PREFIX)
            self.credit(address, quantums)
            return address

    def ibc_receive(self, receiver: str, quantums: int) -> bool:
        """An IBC transfer from dYdX arriving; False (refunded there) if `receiver` is not a Noble address."""
        with self.lock:
            if address_bytes(receiver, NOBLE_PREFIX) is None:
                return False
            self.credit(receiver, quantums)
            return True

    def balance(self, address: str) -> int:
        with self.lock:
            return self.balances.get(address, 0)

    def apply(self, tx_bytes: bytes, *, execute: bool) -> str:
        tx_hash = tx_hash_of(tx_bytes)
        try:
            tx = Tx.FromString(tx_bytes)
            messages = [
                decode_message(message, MESSAGES, "IBC transfers and CCTP burns") for message in tx.body.messages
            ]
        except DecodeError:
            raise Rejected("sdk", 2, "tx parse error") from None
        with self.lock:
            account, signer = tx_signer(tx, tx_bytes, self.accounts, self.chain_id, NOBLE_PREFIX, verify=execute)
            check_sequence(tx, account)
            spend = 0
            for message in messages:
                sender = str(message.sender if isinstance(message, MsgTransfer) else getattr(message, "from"))
                if sender != signer:
                    raise Rejected("sdk", 4, f"{signer} signed for {sender}: unauthorized")
                spend += self._check(message)
            if spend > self.balances.get(signer, 0):
                raise Rejected("sdk", 5, f"spendable balance {self.balances.get(signer, 0)}uusdc is smaller than "
                               f"{spend}uusdc: insufficient funds")  # fmt: skip
            if not execute:
                return tx_hash
            for message in messages:
                self._run(message, tx_hash)
            account.sequence += 1
            actions = tuple(f"/{m.DESCRIPTOR.full_name}" for m in messages)
            self.txs.append(NobleTx(tx_hash, tx_bytes, signer, actions, self.dydx.height + 1))
        return tx_hash

    def _check(self, message: Any) -> int:
        """A message's checks; returns the uusdc it spends."""
        if isinstance(message, MsgTransfer):
            if (message.source_port, message.source_channel) != (TRANSFER_PORT, NOBLE_TO_DYDX_CHANNEL):
                raise Rejected(
                    "channel", 1, f"channel not found: port ID ({message.source_port}) channel ID "
                    f"({message.source_channel})"
                )  # fmt: skip
            if message.token.denom != NOBLE_DENOM:
                raise Rejected("transfer", 2, f"invalid token denomination {message.token.denom!r}")
            return _amount(message.token.amount)
        if int(message.destination_domain) != ETHEREUM_DOMAIN:
            raise Rejected("cctp", 20, f"destination domain {message.destination_domain} has no remote token messenger")
        if message.burn_token != NOBLE_DENOM:
            raise Rejected("cctp", 14, f"burning and minting of {message.burn_token!r} is not supported")
        if len(message.mint_recipient) != 32 or not any(message.mint_recipient):
            raise Rejected("cctp", 8, "mint recipient must be 32 nonzero bytes")
        return _amount(message.amount)

    def _run(self, message: Any, tx_hash: str) -> None:
        if isinstance(message, MsgTransfer):
            quantums = _amount(message.token.amount)
            self.balances[message.sender] -= quantums
            self.dydx.packets.append(Packet(False, str(message.sender), str(message.receiver), quantums))
            return
        quantums = _amount(message.amount)
        sender = str(getattr(message, "from"))
        self.balances[sender] -= quantums
        recipient = to_checksum_address(bytes(message.mint_recipient)[-20:])
        self.burns.append(CctpBurn(len(self.burns), recipient, quantums, tx_hash, self.dydx.height + 1))

    def search(self, sender: str, action: str | None) -> list[NobleTx]:
        with self.lock:
            return [t for t in self.txs if t.sender == sender and (action is None or action in t.actions)]

    def search_txs(self, sender: str, action: str | None) -> list[tuple[bytes, int, str]]:
        """`search`'s transactions as GetTxsEvent pages them: bytes, height and hash."""
        return [(entry.tx_bytes, entry.height, entry.tx_hash) for entry in self.search(sender, action)]


def _amount(value: str) -> int:
    try:
        amount = int(value)
    except ValueError:
        raise Rejected("sdk", 10, f"invalid coins {value!r}") from None
    if amount <= 0:
        raise Rejected("sdk", 10, f"invalid amount {value!r}: must be positive")
    return amount


def serve_noble(noble: Noble, host: str = "127.0.0.1", port: int = 0) -> tuple[Any, int]:
    """Starts Noble's gRPC server on `port` (0: a free one); returns the server and the port it took."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    auth_grpc.add_QueryServicer_to_server(Auth(noble.accounts), server)
    bank_grpc.add_QueryServicer_to_server(Bank(lambda: noble.balances, NOBLE_DENOM, NOBLE_PREFIX), server)
    service_pb2_grpc.add_ServiceServicer_to_server(TxService(noble.apply, noble.search_txs), server)
    bound = server.add_insecure_port(f"{host}:{port}")
    server.start()
    return server, bound


__all__ = ["NOBLE_DOMAIN", "Noble", "NobleTx", "serve_noble"]

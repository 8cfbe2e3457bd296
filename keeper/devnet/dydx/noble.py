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
from v4_proto.cosmos.auth.v1beta1 import query_pb2 as auth_query
from v4_proto.cosmos.auth.v1beta1 import query_pb2_grpc as auth_grpc
from v4_proto.cosmos.auth.v1beta1.auth_pb2 import BaseAccount
from v4_proto.cosmos.bank.v1beta1 import query_pb2_grpc as bank_grpc
from v4_proto.cosmos.base.abci.v1beta1.abci_pb2 import TxResponse
from v4_proto.cosmos.crypto.secp256k1.keys_pb2 import PubKey
from v4_proto.cosmos.tx.v1beta1 import service_pb2, service_pb2_grpc
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
)
from keeper.connectors.dydx.noble_messages import MsgDepositForBurn, MsgTransfer
from keeper.devnet.dydx.chain import Account, CctpBurn, Chain, Packet, Rejected
from keeper.devnet.dydx.validator import (
    GAS_USED,
    Bank,
    address_of,
    search_conditions,
    search_page,
    signature_check,
    tx_hash_of,
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
            address = _bech32(NOBLE_PREFIX, mint_recipient[-20:])
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
            messages = [_decode(message) for message in tx.body.messages]
        except DecodeError:
            raise Rejected("sdk", 2, "tx parse error") from None
        with self.lock:
            account, signer = self._signer(tx, tx_bytes, verify=execute)
            if tx.auth_info.signer_infos[0].sequence != account.sequence:
                raise Rejected(
                    "sdk", 32, f"account sequence mismatch, expected {account.sequence}, got "
                    f"{tx.auth_info.signer_infos[0].sequence}: incorrect account sequence"
                )  # fmt: skip
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

    def _signer(self, tx: Any, tx_bytes: bytes, *, verify: bool) -> tuple[Account, str]:
        if len(tx.auth_info.signer_infos) != 1 or len(tx.signatures) != 1:
            raise Rejected("sdk", 4, "expected one signer and one signature")
        key = PubKey()
        if not tx.auth_info.signer_infos[0].public_key.Unpack(key):
            raise Rejected("sdk", 8, "signer's public key is not secp256k1")
        signer = address_of(bytes(key.key), NOBLE_PREFIX)
        account = self.accounts.get(signer)
        if account is None:
            raise Rejected("sdk", 9, f"account {signer} not found")
        if verify and not signature_check(tx, tx_bytes, self.chain_id, account.account_number)(bytes(key.key)):
            raise Rejected(
                "sdk", 4, f"signature verification failed; please verify account number ({account.account_number}) "
                f"and chain-id ({self.chain_id}): unauthorized"
            )  # fmt: skip
        return account, signer

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


def _amount(value: str) -> int:
    try:
        amount = int(value)
    except ValueError:
        raise Rejected("sdk", 10, f"invalid coins {value!r}") from None
    if amount <= 0:
        raise Rejected("sdk", 10, f"invalid amount {value!r}: must be positive")
    return amount


def _decode(message: Any) -> Any:
    for kind in MESSAGES:
        if message.type_url == f"/{kind.DESCRIPTOR.full_name}":
            return kind.FromString(message.value)
    raise Rejected("sdk", 6, f"unknown message {message.type_url}: the replica runs IBC transfers and CCTP burns only")


def _bech32(prefix: str, data: bytes) -> str:
    import bech32

    words = bech32.convertbits(data, 8, 5)
    assert words is not None
    return str(bech32.bech32_encode(prefix, words))


class _Auth(auth_grpc.QueryServicer):  # type: ignore[misc]
    def __init__(self, noble: Noble) -> None:
        self.noble = noble

    def Account(self, request: Any, context: Any) -> Any:
        account = self.noble.accounts.get(request.address)
        if account is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"account {request.address} not found")
            raise AssertionError("abort raises")
        response = auth_query.QueryAccountResponse()
        response.account.Pack(
            BaseAccount(address=account.address, account_number=account.account_number, sequence=account.sequence)
        )
        return response


class _Tx(service_pb2_grpc.ServiceServicer):  # type: ignore[misc]
    def __init__(self, noble: Noble) -> None:
        self.noble = noble

    def Simulate(self, request: Any, context: Any) -> Any:
        tx_bytes = request.tx_bytes or request.tx.SerializeToString()
        try:
            self.noble.apply(tx_bytes, execute=False)
        except Rejected as error:
            context.abort(grpc.StatusCode.UNKNOWN, f"{error} [{error.codespace} code {error.code}]")
        response = service_pb2.SimulateResponse()
        response.gas_info.gas_used = GAS_USED
        response.gas_info.gas_wanted = GAS_USED
        return response

    def BroadcastTx(self, request: Any, context: Any) -> Any:
        result = TxResponse(txhash=tx_hash_of(request.tx_bytes))
        try:
            self.noble.apply(request.tx_bytes, execute=True)
        except Rejected as error:
            result.code, result.codespace, result.raw_log = error.code, error.codespace, str(error)
        return service_pb2.BroadcastTxResponse(tx_response=result)

    def GetTxsEvent(self, request: Any, context: Any) -> Any:
        sender, action = search_conditions(request, context)
        found = self.noble.search(sender, action)
        return search_page(request, [(entry.tx_bytes, entry.height, entry.tx_hash) for entry in found])


def serve_noble(noble: Noble, host: str = "127.0.0.1", port: int = 0) -> tuple[Any, int]:
    """Starts Noble's gRPC server on `port` (0: a free one); returns the server and the port it took."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    auth_grpc.add_QueryServicer_to_server(_Auth(noble), server)
    bank_grpc.add_QueryServicer_to_server(Bank(lambda: noble.balances, NOBLE_DENOM), server)
    service_pb2_grpc.add_ServiceServicer_to_server(_Tx(noble), server)
    bound = server.add_insecure_port(f"{host}:{port}")
    server.start()
    return server, bound


__all__ = ["NOBLE_DOMAIN", "Noble", "NobleTx", "serve_noble"]

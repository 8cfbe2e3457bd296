"""What the dYdX validator replica (`validator.py`) and the Noble replica (`noble.py`) share as Cosmos chains: their
addresses, transaction hashes, signatures and account sequences as cosmos-sdk checks them, and the gRPC servicers of
``cosmos.auth.v1beta1.Query/Account``, ``cosmos.bank.v1beta1.Query`` and ``cosmos.tx.v1beta1.Service`` (Simulate,
BroadcastTx, GetTxsEvent's search and page), each replica giving its accounts, balances and apply function.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

import grpc
from coincurve import PublicKey
from coincurve.ecdsa import cdata_to_der, deserialize_compact
from Crypto.Hash import RIPEMD160
from v4_proto.cosmos.auth.v1beta1 import query_pb2 as auth_query
from v4_proto.cosmos.auth.v1beta1 import query_pb2_grpc as auth_grpc
from v4_proto.cosmos.auth.v1beta1.auth_pb2 import BaseAccount
from v4_proto.cosmos.bank.v1beta1 import query_pb2 as bank_query
from v4_proto.cosmos.bank.v1beta1 import query_pb2_grpc as bank_grpc
from v4_proto.cosmos.base.abci.v1beta1.abci_pb2 import TxResponse
from v4_proto.cosmos.base.v1beta1.coin_pb2 import Coin
from v4_proto.cosmos.crypto.secp256k1.keys_pb2 import PubKey
from v4_proto.cosmos.tx.v1beta1 import service_pb2, service_pb2_grpc
from v4_proto.cosmos.tx.v1beta1.tx_pb2 import SignDoc, Tx, TxRaw

from keeper.connectors.dydx.noble import address_bytes, encode_address
from keeper.devnet.dydx.chain import Account, Rejected

GAS_USED = 120_000
DENOM = re.compile(r"[a-zA-Z][a-zA-Z0-9/:._-]{2,127}")
"""A denomination as cosmos-sdk's ValidateDenom takes one."""


def address_of(public_key: bytes, prefix: str = "dydx") -> str:
    """A secp256k1 public key's ``dydx1...`` (or `prefix`) address: bech32 of RIPEMD160(SHA256(compressed key))."""
    return encode_address(RIPEMD160.new(hashlib.sha256(public_key).digest()).digest(), prefix)


def tx_hash_of(tx_bytes: bytes) -> str:
    """A transaction's hash as CometBFT gives it: SHA-256 of its bytes, upper-case hex."""
    return hashlib.sha256(tx_bytes).hexdigest().upper()


def decode_message(message: Any, kinds: tuple[Any, ...], runs: str) -> Any:
    """A transaction's packed message as the one of `kinds` its type url names; refused as unknown otherwise (the
    replica `runs` those messages only)."""
    for kind in kinds:
        if message.type_url == f"/{kind.DESCRIPTOR.full_name}":
            return kind.FromString(message.value)
    raise Rejected("sdk", 6, f"unknown message {message.type_url}: the replica runs {runs} only")


def signature_check(tx: Any, tx_bytes: bytes, chain_id: str, account_number: int) -> Callable[[bytes], bool]:
    """Whether a public key made the transaction's signature over its SignDoc (the bytes as signed, not a
    re-serialization) with `account_number` and `chain_id`."""
    raw = TxRaw.FromString(tx_bytes)
    document = SignDoc(
        body_bytes=raw.body_bytes,
        auth_info_bytes=raw.auth_info_bytes,
        chain_id=chain_id,
        account_number=account_number,
    ).SerializeToString()
    try:
        der = cdata_to_der(deserialize_compact(bytes(tx.signatures[0])))
    except Exception:  # coincurve's bare Exception: not 64 bytes of r and s, so signed by no key
        return lambda public_key: False

    def signed_by(public_key: bytes) -> bool:
        try:
            return bool(PublicKey(public_key).verify(der, document))
        except ValueError:
            return False

    return signed_by


def tx_signer(
    tx: Any, tx_bytes: bytes, accounts: Mapping[str, Account], chain_id: str, prefix: str, *, verify: bool
) -> tuple[Account, str]:
    """The one account (of `accounts`) that signed the transaction with its own secp256k1 key, and its `prefix`
    address; with `verify`, its signature checked over the SignDoc with its account number and `chain_id`."""
    if len(tx.auth_info.signer_infos) != 1 or len(tx.signatures) != 1:
        raise Rejected("sdk", 4, "expected one signer and one signature")
    key = PubKey()
    if not tx.auth_info.signer_infos[0].public_key.Unpack(key):
        raise Rejected("sdk", 8, "signer's public key is not secp256k1")
    address = address_of(bytes(key.key), prefix)
    account = accounts.get(address)
    if account is None:
        raise Rejected("sdk", 9, f"account {address} not found")
    if verify and not signature_check(tx, tx_bytes, chain_id, account.account_number)(bytes(key.key)):
        raise Rejected(
            "sdk", 4, f"signature verification failed; please verify account number ({account.account_number}) "
            f"and chain-id ({chain_id}): unauthorized"
        )  # fmt: skip
    return account, address


def check_sequence(tx: Any, account: Account) -> None:
    """The transaction's signer sequence must be the account's."""
    if tx.auth_info.signer_infos[0].sequence != account.sequence:
        raise Rejected(
            "sdk", 32, f"account sequence mismatch, expected {account.sequence}, got "
            f"{tx.auth_info.signer_infos[0].sequence}: incorrect account sequence"
        )  # fmt: skip


def search_conditions(request: Any, context: Any) -> tuple[str, str | None]:
    """The ``message.sender`` and ``message.action`` a GetTxsEvent request asks for (in `query`, cosmos-sdk 0.50's, or
    its older `events`); the replicas search by sender only."""
    conditions = dict(re.findall(r"([\w.]+)\s*=\s*'([^']*)'", " AND ".join([*request.events, request.query])))
    sender = conditions.get("message.sender")
    if sender is None:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the replica searches by message.sender only")
        raise AssertionError("abort raises")
    return str(sender), conditions.get("message.action")


def search_page(request: Any, found: list[tuple[bytes, int, str]]) -> Any:
    """GetTxsEvent's answer: the page `request` asks for (1-based `page`, `limit`, 100 by default, as cosmos-sdk)
    of `found` (transaction bytes, height, hash), oldest first, with the total."""
    limit = int(request.limit) or 100
    page = max(int(request.page), 1)
    response = service_pb2.GetTxsEventResponse(total=len(found))
    for tx_bytes, height, tx_hash in found[(page - 1) * limit : page * limit]:
        response.txs.append(Tx.FromString(tx_bytes))
        response.tx_responses.append(TxResponse(height=height, txhash=tx_hash))
    return response


def abort_not_found(context: Any, message: str) -> NoReturn:
    """Ends a gRPC call with NOT_FOUND and `message`."""
    context.abort(grpc.StatusCode.NOT_FOUND, message)
    raise AssertionError("abort raises")


class Auth(auth_grpc.QueryServicer):  # type: ignore[misc]
    """``cosmos.auth.v1beta1.Query/Account``: an account's number and sequence, of the `accounts` a replica keeps."""

    def __init__(self, accounts: Mapping[str, Account]) -> None:
        self.accounts = accounts

    def Account(self, request: Any, context: Any) -> Any:
        account = self.accounts.get(request.address)
        if account is None:
            abort_not_found(context, f"account {request.address} not found")
        response = auth_query.QueryAccountResponse()
        response.account.Pack(
            BaseAccount(address=account.address, account_number=account.account_number, sequence=account.sequence)
        )
        return response


class Bank(bank_grpc.QueryServicer):  # type: ignore[misc]
    """x/bank's balances, of Noble's uusdc or (as `denom`, `balances`) of the dYdX replica's USDC, for the chain's
    account addresses (bech32 with `prefix`)."""

    def __init__(self, balances: Any, denom: str, prefix: str) -> None:
        self.balances = balances
        self.denom = denom
        self.prefix = prefix

    def Balance(self, request: Any, context: Any) -> Any:
        if not DENOM.fullmatch(request.denom):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"invalid denom: {request.denom}")
        self._check_address(request.address, context)
        amount = self.balances().get(request.address, 0) if request.denom == self.denom else 0
        return bank_query.QueryBalanceResponse(balance=Coin(denom=request.denom, amount=str(amount)))

    def AllBalances(self, request: Any, context: Any) -> Any:
        self._check_address(request.address, context)
        amount = self.balances().get(request.address, 0)
        coins = [Coin(denom=self.denom, amount=str(amount))] if amount else []
        return bank_query.QueryAllBalancesResponse(balances=coins)

    def _check_address(self, address: str, context: Any) -> None:
        """cosmos-sdk's bank queries decode the address first: one of another chain, or none, is not a zero
        balance."""
        if address_bytes(address, self.prefix) is None:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"invalid address: {address!r} is not a {self.prefix}1 address"
            )


class TxService(service_pb2_grpc.ServiceServicer):  # type: ignore[misc]
    """``cosmos.tx.v1beta1.Service``'s Simulate, BroadcastTx and GetTxsEvent over a replica's `apply` (which checks a
    transaction and, with `execute`, applies it, or raises Rejected) and `search` (the transactions, as bytes, height
    and hash, oldest first, with a message signed by a sender, of an action if not None): a refusal is an UNKNOWN
    status from a simulation, a CheckTx code in the broadcast's answer, as cosmos-sdk answers."""

    def __init__(
        self, apply: Callable[..., str], search: Callable[[str, str | None], list[tuple[bytes, int, str]]]
    ) -> None:
        self.apply = apply
        self.search = search

    def Simulate(self, request: Any, context: Any) -> Any:
        tx_bytes = request.tx_bytes or request.tx.SerializeToString()
        try:
            self.apply(tx_bytes, execute=False)
        except Rejected as error:
            context.abort(grpc.StatusCode.UNKNOWN, f"{error} [{error.codespace} code {error.code}]")
        response = service_pb2.SimulateResponse()
        response.gas_info.gas_used = GAS_USED
        response.gas_info.gas_wanted = GAS_USED
        return response

    def BroadcastTx(self, request: Any, context: Any) -> Any:
        result = TxResponse(txhash=tx_hash_of(request.tx_bytes))
        try:
            self.apply(request.tx_bytes, execute=True)
        except Rejected as error:
            result.code, result.codespace, result.raw_log = error.code, error.codespace, str(error)
        return service_pb2.BroadcastTxResponse(tx_response=result)

    def GetTxsEvent(self, request: Any, context: Any) -> Any:
        sender, action = search_conditions(request, context)
        return search_page(request, self.search(sender, action))

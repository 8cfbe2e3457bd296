"""The replica's validator: the gRPC services the official client's `NodeClient` calls to trade, over v4-proto's
generated stubs.

- ``cosmos.auth.v1beta1.Query/Account``: the wallet's account number and sequence (`Wallet.from_mnemonic`, and
  before every transaction).
- ``cosmos.base.tendermint.v1beta1.Service/GetLatestBlock``: the height orders are timed against; ``/GetNodeInfo``:
  the chain id as the node's network, the application as ``dydxprotocold``.
- ``dydxprotocol.accountplus.Query/GetAuthenticators`` (and ``/GetAuthenticator``): an account's permissioned keys.
- ``cosmos.bank.v1beta1.Query/Balance`` (and ``/AllBalances``): an account's USDC outside its subaccounts.
- The chain-state queries of `queries.py` (subaccounts, withdrawal gating, clob pairs, perpetuals, prices, equity
  tiers, fee tiers, user stats, withdrawal capacity).
- ``cosmos.tx.v1beta1.Service/Simulate`` and ``/BroadcastTx``: a signed transaction, decoded and checked as the chain
  checks it (signature over the SignDoc with the account number and chain id, the signer owning the subaccount,
  the sequence for transactions that are not short-term orders), then its MsgPlaceOrder, MsgCancelOrder,
  MsgBatchCancel, MsgWithdrawFromSubaccount (to a ``dydx1...`` bank balance), MsgDepositToSubaccount (from one),
  MsgCreateTransfer, IBC's MsgTransfer (to Noble, rate-limited), MsgAddAuthenticator or MsgRemoveAuthenticator
  applied to the `Chain`. A transaction that selects authenticators (a TxExtension among its non-critical extension
  options) is judged as x/accountplus judges it instead: each message by the selected authenticator of its owner's
  account, the signature by the key the authenticator names, over the SignDoc with the owner's account number
  (`accountplus.py`).
  A refusal is a CheckTx code in the broadcast's answer, or an UNKNOWN status from a simulation, as cosmos-sdk
  answers.
- ``cosmos.tx.v1beta1.Service/GetTxsEvent``: the transactions a ``message.sender`` (and ``message.action``) query
  names, from their broadcast on (the keeper finds its withdrawals there, without waiting for the indexer).
- ``cosmos.tx.v1beta1.Service/GetTx`` (`query_transaction`): a transaction the replica included, once its block is
  produced. As on dYdX, short-term orders and cancels (a batch cancel too) never enter a block: their hashes, like
  those of refused transactions, are not found.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import DecodeError
from v4_proto.cosmos.auth.v1beta1 import query_pb2_grpc as auth_grpc
from v4_proto.cosmos.bank.v1beta1 import query_pb2_grpc as bank_grpc
from v4_proto.cosmos.base.abci.v1beta1.abci_pb2 import TxResponse
from v4_proto.cosmos.base.tendermint.v1beta1 import query_pb2 as tendermint_query
from v4_proto.cosmos.base.tendermint.v1beta1 import query_pb2_grpc as tendermint_grpc
from v4_proto.cosmos.tx.v1beta1 import service_pb2, service_pb2_grpc
from v4_proto.cosmos.tx.v1beta1.tx_pb2 import Tx
from v4_proto.dydxprotocol.accountplus import query_pb2 as accountplus_query
from v4_proto.dydxprotocol.accountplus import query_pb2_grpc as accountplus_grpc
from v4_proto.dydxprotocol.accountplus.models_pb2 import AccountAuthenticator
from v4_proto.dydxprotocol.accountplus.tx_pb2 import MsgAddAuthenticator, MsgRemoveAuthenticator, TxExtension
from v4_proto.dydxprotocol.clob.order_pb2 import Order
from v4_proto.dydxprotocol.clob.tx_pb2 import MsgBatchCancel, MsgCancelOrder, MsgPlaceOrder
from v4_proto.dydxprotocol.sending.transfer_pb2 import MsgDepositToSubaccount, MsgWithdrawFromSubaccount
from v4_proto.dydxprotocol.sending.tx_pb2 import MsgCreateTransfer

from keeper.connectors.dydx.noble import DYDX_PREFIX
from keeper.connectors.dydx.noble_messages import MsgTransfer
from keeper.connectors.dydx.settings import MAX_SUBACCOUNT_NUMBER
from keeper.devnet.dydx import accountplus
from keeper.devnet.dydx.chain import Account, Chain, PlaceOrder, Rejected, is_dydx_address
from keeper.devnet.dydx.cosmos import (
    GAS_USED,
    Auth,
    Bank,
    TxService,
    abort_not_found,
    check_sequence,
    decode_message,
    signature_check,
    tx_hash_of,
    tx_signer,
)
from keeper.devnet.dydx.queries import add_query_services

SHORT_TERM_FLAGS = 0
MAX_BATCH_CANCELS = 100
"""x/clob's MaxMsgBatchCancelBatchSize: the most orders one MsgBatchCancel may cancel."""
APP_NAME = "dydxprotocold"
"""The dYdX Chain's daemon, as its nodes name their application."""
BLOCK_PROTOCOL = 11
"""CometBFT's block protocol version (0.38), which dYdX's nodes run."""
MESSAGES = (
    MsgPlaceOrder,
    MsgCancelOrder,
    MsgBatchCancel,
    MsgWithdrawFromSubaccount,
    MsgDepositToSubaccount,
    MsgCreateTransfer,
    MsgTransfer,
    MsgAddAuthenticator,
    MsgRemoveAuthenticator,
)


@dataclass(frozen=True)
class IncludedTx:
    """A transaction the replica applied that goes into a block (it is not a short-term order or cancel)."""

    tx_bytes: bytes
    height: int
    gas_wanted: int


class Validator:
    """Decodes, checks and applies transactions against `chain`; the gRPC servicers below call it."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.included: dict[str, IncludedTx] = {}
        """By hash: what GetTx finds once its block is produced (guarded by the chain's lock)."""

    def apply(self, tx_bytes: bytes, *, execute: bool) -> str:
        """Checks a transaction and, with `execute`, applies it (a simulation checks only, as far as it can without
        the signature, which a simulation does not carry valid). Returns the transaction's hash."""
        tx_hash = tx_hash_of(tx_bytes)
        try:
            return self._apply(tx_bytes, tx_hash, execute=execute)
        except DecodeError:
            # Bytes that are not a transaction, or a message, key or extension inside it that does not decode: the
            # chain's ErrTxDecode, in its words. Everything is decoded before any message runs: nothing was applied.
            raise Rejected("sdk", 2, "tx parse error") from None

    def _apply(self, tx_bytes: bytes, tx_hash: str, *, execute: bool) -> str:
        tx = Tx.FromString(tx_bytes)
        with self.chain.lock:
            selected = _selected_authenticators(tx)
            if selected is None:
                account, signer = self._signer(tx, tx_bytes, verify=execute)
                messages = [self._decode(message) for message in tx.body.messages]
                for message in messages:
                    self._check_signer(message, signer)
            else:
                messages = [self._decode(message) for message in tx.body.messages]
                account = self._authenticate(tx, tx_bytes, messages, selected, verify=execute)
            for message in messages:
                validate_basic(message)
            short_term = all(self._short_term(message) for message in messages)
            if not short_term:
                check_sequence(tx, account)
            for message in messages:
                self._run(message, execute, tx_hash)
            if execute and not short_term:
                account.sequence += 1
                self.included[tx_hash] = IncludedTx(tx_bytes, self.chain.height + 1, int(tx.auth_info.fee.gas_limit))
        return tx_hash

    def included_tx(self, tx_hash: str) -> IncludedTx | None:
        """The transaction with `tx_hash` (hex, any case) if a produced block holds it."""
        with self.chain.lock:
            found = self.included.get(tx_hash.upper())
            return found if found is not None and found.height <= self.chain.height else None

    def search(self, sender: str, action: str | None) -> list[tuple[bytes, int, str]]:
        """The transactions that went into blocks (not short-term orders) with a message of `action` (any if None)
        signed by `sender`, as bytes, height and hash; found from their broadcast on, as the replica applies them
        then."""
        found = []
        with self.chain.lock:
            for tx_hash, included in self.included.items():
                tx = Tx.FromString(included.tx_bytes)
                if any(
                    (action is None or packed.type_url == action) and _signer_of(self._decode(packed)) == sender
                    for packed in tx.body.messages
                ):
                    found.append((included.tx_bytes, included.height, tx_hash))
        return found

    def _signer(self, tx: Any, tx_bytes: bytes, *, verify: bool) -> tuple[Account, str]:
        return tx_signer(tx, tx_bytes, self.chain.accounts, self.chain.chain_id, "dydx", verify=verify)

    def _signed_by(self, tx: Any, tx_bytes: bytes, account: Account) -> Callable[[bytes], bool]:
        """Whether a public key made the transaction's signature with `account`'s number and the chain id."""
        return signature_check(tx, tx_bytes, self.chain.chain_id, account.account_number)

    def _authenticate(
        self, tx: Any, tx_bytes: bytes, messages: list[Any], selected: list[int], *, verify: bool
    ) -> Account:
        """x/accountplus's ante handler: each message judged by the authenticator the transaction selects for it, of
        the account that signs the message (its owner); a signature is checked against the key a
        SignatureVerification names, over the SignDoc with that account's number (its sequence is in the signed
        auth info). Returns the account."""
        if len(selected) != len(messages):
            raise Rejected(
                "sdk", 18, "Mismatch between the number of selected authenticators and messages, "
                f"msg count {len(messages)}, got {len(selected)} selected authenticators: invalid request"
            )  # fmt: skip
        owners = {_signer_of(message) for message in messages}
        if len(owners) != 1 or len(tx.auth_info.signer_infos) != 1 or len(tx.signatures) != 1:
            raise Rejected("accountplus", 6, "The transaction has multiple signers")
        (owner,) = owners
        account = self.chain.accounts.get(owner)
        if account is None:
            raise Rejected("sdk", 9, f"account {owner} not found")
        signed_by = self._signed_by(tx, tx_bytes, account)

        for index, (message, authenticator_id) in enumerate(zip(messages, selected, strict=True)):
            try:
                stored = self.chain.authenticator(owner, authenticator_id)
            except Rejected as error:
                raise Rejected(
                    error.codespace, error.code, "failed to get initialized authenticator (account = "
                    f"{owner}, authenticator id = {authenticator_id}, msg index = {index}, msg type url = "
                    f"{accountplus.type_url(message)}): {error}"
                ) from None  # fmt: skip
            try:
                accountplus.authenticate(
                    accountplus.initialize(stored.type, stored.config), message, signed_by if verify else None
                )
            except Rejected as error:
                raise Rejected(
                    error.codespace, error.code, f"authentication failed for message {index}, authenticator id "
                    f"{authenticator_id}, type {stored.type}: {error}"
                ) from None  # fmt: skip
        return account

    @staticmethod
    def _decode(message: Any) -> Any:
        return decode_message(message, MESSAGES, "orders, transfers, withdrawals and authenticators")

    @staticmethod
    def _short_term(message: Any) -> bool:
        """Short-term order placements and cancels skip the sequence check (dYdX's ante handler); a batch cancel
        cancels short-term orders only, and is one of them."""
        if isinstance(message, MsgBatchCancel):
            return True
        return (
            isinstance(message, MsgPlaceOrder | MsgCancelOrder) and _order_id(message).order_flags == SHORT_TERM_FLAGS
        )

    @staticmethod
    def _check_signer(message: Any, signer: str) -> None:
        owner = _signer_of(message)
        if owner != signer:
            raise Rejected("sdk", 4, f"{signer} signed for {owner}'s subaccount: unauthorized")

    def _run(self, message: Any, execute: bool, tx_hash: str) -> None:
        if isinstance(message, MsgAddAuthenticator):
            node = accountplus.initialize(message.authenticator_type, bytes(message.data))
            if not accountplus.has_signature(node):
                raise Rejected("accountplus", 5, "Error initializing authenticator: it verifies no signature")
            if execute:
                self.chain.add_authenticator(message.sender, message.authenticator_type, bytes(message.data))
            return
        if isinstance(message, MsgRemoveAuthenticator):
            self.chain.remove_authenticator(message.sender, int(message.id), execute=execute)
            return
        if isinstance(message, MsgCreateTransfer):
            sender, recipient = message.transfer.sender, message.transfer.recipient
            args3 = (sender.owner, int(sender.number), int(message.transfer.amount))
            if execute:
                self.chain.transfer(*args3, (recipient.owner, int(recipient.number)))
            else:
                self.chain.check_transfer(*args3)
            return
        if isinstance(message, MsgBatchCancel):
            if execute:
                owner, number = message.subaccount_id.owner, int(message.subaccount_id.number)
                for batch in message.short_term_cancels:
                    for client_id in batch.client_ids:
                        key = (owner, number, int(client_id), SHORT_TERM_FLAGS, int(batch.clob_pair_id))
                        self.chain.cancel_order(key, int(message.good_til_block))
            return
        if isinstance(message, MsgWithdrawFromSubaccount):
            args = (message.sender.owner, message.sender.number, int(message.quantums), message.recipient)
            if execute:
                self.chain.withdraw(*args, tx_hash)
            else:
                self.chain.check_withdrawal(*args)
            return
        if isinstance(message, MsgDepositToSubaccount):
            recipient, quantums = message.recipient, int(message.quantums)
            if execute:
                self.chain.deposit_to_subaccount(
                    message.sender, recipient.owner, int(recipient.number), quantums, tx_hash
                )
            else:
                self.chain.check_deposit(message.sender, recipient.owner, quantums)
            return
        if isinstance(message, MsgTransfer):
            try:
                quantums = int(message.token.amount)
            except ValueError:
                raise Rejected("sdk", 10, f"invalid coins {message.token.amount!r}") from None
            args2 = (message.sender, message.source_port, message.source_channel, message.token.denom, quantums)
            if execute:
                self.chain.ibc_send(*args2, message.receiver)
            else:
                self.chain.check_ibc_send(*args2)
            return
        order_id = _order_id(message)
        if order_id.order_flags != SHORT_TERM_FLAGS:
            raise Rejected("clob", 3000, "Invalid order flags: the replica takes short-term orders only")
        key = (
            order_id.subaccount_id.owner,
            int(order_id.subaccount_id.number),
            int(order_id.client_id),
            int(order_id.order_flags),
            int(order_id.clob_pair_id),
        )
        if isinstance(message, MsgCancelOrder):
            if execute:
                self.chain.cancel_order(key, int(message.good_til_block))
            return
        order = message.order
        placed = PlaceOrder(
            key=key,
            side=int(order.side),
            quantums=int(order.quantums),
            subticks=int(order.subticks),
            good_til_block=int(order.good_til_block),
            time_in_force=int(order.time_in_force),
            reduce_only=bool(order.reduce_only),
            client_metadata=int(order.client_metadata),
        )
        self.chain.place_order(placed) if execute else self.chain.check_order(placed)


def validate_basic(message: Any) -> None:
    """The ValidateBasic of x/clob's MsgPlaceOrder (`_validate_order`) and of x/sending's messages, which the chain
    runs on every message before any of them: subaccounts named by an address and a number up to 128,000, a transfer
    between two different subaccounts, USDC (asset 0) only, and an amount above 0."""
    if isinstance(message, MsgPlaceOrder):
        _validate_order(message.order)
        return
    if isinstance(message, MsgCancelOrder):
        _validate_subaccount(message.order_id.subaccount_id)
        if message.order_id.order_flags == SHORT_TERM_FLAGS and message.good_til_block == 0:
            raise Rejected("clob", 5, "cancellation goodTilBlock cannot be 0: Invalid order goodTilBlock")
        return
    if isinstance(message, MsgBatchCancel):
        _validate_batch_cancel(message)
        return
    if isinstance(message, MsgCreateTransfer):
        transfer = message.transfer
        _validate_subaccount(transfer.sender)
        _validate_subaccount(transfer.recipient)
        if transfer.sender == transfer.recipient:
            raise Rejected("sending", 1, f"Sender is the same as recipient ({transfer.sender.owner}/"
                           f"{transfer.sender.number}): Sender is the same as recipient")  # fmt: skip
        asset, amount = transfer.asset_id, transfer.amount
    elif isinstance(message, MsgWithdrawFromSubaccount):
        _validate_subaccount(message.sender)
        if not is_dydx_address(message.recipient):
            raise Rejected("sending", 6, f"Account address is invalid: {message.recipient!r}")
        asset, amount = message.asset_id, message.quantums
    elif isinstance(message, MsgDepositToSubaccount):
        if not is_dydx_address(message.sender):
            raise Rejected("sending", 6, f"Account address is invalid: {message.sender!r}")
        _validate_subaccount(message.recipient)
        asset, amount = message.asset_id, message.quantums
    else:
        return
    if asset != 0:
        raise Rejected("sending", 1101, "Non-USDC asset transfer not implemented")
    if amount == 0:
        raise Rejected("sending", 2, "Invalid transfer amount")


def _validate_batch_cancel(message: Any) -> None:
    """MsgBatchCancel.ValidateBasic: at least one order, each clob pair in one batch, no client id twice in a batch,
    at most `MAX_BATCH_CANCELS` orders in all (``clob`` 45)."""
    _validate_subaccount(message.subaccount_id)
    batches = message.short_term_cancels
    if not batches:
        raise Rejected("clob", 45, "Batch cancel cannot have zero orders specified.: Invalid batch cancel message")
    pairs = [batch.clob_pair_id for batch in batches]
    if len(set(pairs)) != len(pairs):
        raise Rejected("clob", 45, "Batch cancel cannot have 2 order batches with the same clob pair id: "
                       "Invalid batch cancel message")  # fmt: skip
    for batch in batches:
        if not batch.client_ids:
            raise Rejected("clob", 45, "Order Batch cannot have zero client ids.: Invalid batch cancel message")
        if len(set(batch.client_ids)) != len(batch.client_ids):
            raise Rejected("clob", 45, f"Batch Cancel Clob pair id {batch.clob_pair_id} has duplicate client ids: "
                           "Invalid batch cancel message")  # fmt: skip
    count = sum(len(batch.client_ids) for batch in batches)
    if count > MAX_BATCH_CANCELS:
        raise Rejected("clob", 45, f"Batch cancel cannot have over {MAX_BATCH_CANCELS} orders. Order count: {count}: "
                       "Invalid batch cancel message")  # fmt: skip


def _validate_order(order: Any) -> None:
    """MsgPlaceOrder.ValidateBasic's checks, in its order and with its codes, for the orders the replica takes
    (short-term: the flags are checked where the order runs). Without them a side outside the enum traded as a sell
    and a fill-or-kill remainder rested."""
    tif = order.time_in_force
    if tif == Order.TimeInForce.TIME_IN_FORCE_FILL_OR_KILL:
        raise Rejected("clob", 48, "Fill-or-kill has been deprecated: This field has been deprecated")
    _validate_subaccount(order.order_id.subaccount_id)
    if order.side not in Order.Side.values():
        raise Rejected("clob", 3, f"invalid order side ({order.side}): Invalid order side")
    if tif not in Order.TimeInForce.values():
        raise Rejected("clob", 44, f"invalid time in force ({tif}): invalid time in force")
    if order.condition_type not in Order.ConditionType.values():
        raise Rejected("clob", 6000, f"invalid condition type ({order.condition_type}): Conditional type is invalid")
    if order.side == Order.Side.SIDE_UNSPECIFIED:
        raise Rejected("clob", 3, "UNSPECIFIED is not a valid order side: Invalid order side")
    if order.quantums == 0:
        raise Rejected("clob", 4, "order size quantums cannot be 0: Invalid order quantums")
    if order.order_id.order_flags == SHORT_TERM_FLAGS and order.good_til_block == 0:
        raise Rejected("clob", 5, "order goodTilBlock cannot be 0: Invalid order goodTilBlock")
    if order.reduce_only and tif != Order.TimeInForce.TIME_IN_FORCE_IOC:
        raise Rejected("clob", 9003, "reduce only orders must be short term IOC orders: "
                       "Reduce-only is currently disabled for non-IOC orders")  # fmt: skip
    if order.subticks == 0:
        raise Rejected("clob", 6, "order subticks cannot be 0 for this order type: Invalid order subticks")
    if order.order_id.order_flags != SHORT_TERM_FLAGS:
        return  # conditional and long-term orders are refused where they run (`Validator._run`)
    if order.condition_type != Order.ConditionType.CONDITION_TYPE_UNSPECIFIED:
        raise Rejected("clob", 6000, "condition type specified for non-conditional order: Conditional type is invalid")
    if order.conditional_order_trigger_subticks != 0:
        raise Rejected("clob", 6001, "conditional order trigger subticks greater than 0 for non-conditional order: "
                       "Conditional order trigger subticks is invalid")  # fmt: skip


def _validate_subaccount(subaccount: Any) -> None:
    """SubaccountId.Validate: its owner an account address, its number at most 128,000."""
    if not is_dydx_address(subaccount.owner):
        raise Rejected("subaccounts", 201, f"invalid SubaccountId Owner address ({subaccount.owner}): "
                       "subaccount id owner is an invalid address")  # fmt: skip
    if subaccount.number > MAX_SUBACCOUNT_NUMBER:
        raise Rejected("subaccounts", 200, f"subaccount id number cannot exceed {MAX_SUBACCOUNT_NUMBER}")


def _selected_authenticators(tx: Any) -> list[int] | None:
    """The authenticators a transaction selects (TxExtension in its non-critical extension options), or None for a
    transaction signed by its account's own key."""
    for option in tx.body.non_critical_extension_options:
        if option.type_url == f"/{TxExtension.DESCRIPTOR.full_name}":
            return [int(i) for i in TxExtension.FromString(option.value).selected_authenticators]
    return None


def _signer_of(message: Any) -> str:
    """The address that must authorize `message` (cosmos-sdk's GetSigners)."""
    if isinstance(message, MsgWithdrawFromSubaccount):
        return str(message.sender.owner)
    if isinstance(message, MsgDepositToSubaccount | MsgTransfer):
        return str(message.sender)
    if isinstance(message, MsgCreateTransfer):
        return str(message.transfer.sender.owner)
    if isinstance(message, MsgAddAuthenticator | MsgRemoveAuthenticator):
        return str(message.sender)
    if isinstance(message, MsgBatchCancel):
        return str(message.subaccount_id.owner)
    return str(_order_id(message).subaccount_id.owner)


def _order_id(message: Any) -> Any:
    """The OrderId a MsgPlaceOrder (in its order) or a MsgCancelOrder names."""
    return message.order.order_id if isinstance(message, MsgPlaceOrder) else message.order_id


class _AccountPlus(accountplus_grpc.QueryServicer):  # type: ignore[misc]
    """``dydxprotocol.accountplus.Query``: an account's authenticators (the client's `get_authenticators`)."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain

    def GetAuthenticators(self, request: Any, context: Any) -> Any:
        return accountplus_query.GetAuthenticatorsResponse(
            account_authenticators=[_proto(a) for a in self.chain.account_authenticators(request.account)]
        )

    def GetAuthenticator(self, request: Any, context: Any) -> Any:
        try:
            found = self.chain.authenticator(request.account, int(request.authenticator_id))
        except Rejected as error:
            abort_not_found(context, str(error))
        return accountplus_query.GetAuthenticatorResponse(account_authenticator=_proto(found))


def _proto(stored: Any) -> Any:
    return AccountAuthenticator(id=stored.id, type=stored.type, config=stored.config)


class _Tendermint(tendermint_grpc.ServiceServicer):  # type: ignore[misc]
    def __init__(self, chain: Chain) -> None:
        self.chain = chain

    def GetLatestBlock(self, request: Any, context: Any) -> Any:
        response = tendermint_query.GetLatestBlockResponse()
        with self.chain.lock:
            response.block.header.height = self.chain.height
            response.block.header.chain_id = self.chain.chain_id
        return response

    def GetNodeInfo(self, request: Any, context: Any) -> Any:
        response = tendermint_query.GetNodeInfoResponse()
        node = response.default_node_info
        node.network = self.chain.chain_id
        node.moniker = "dydx-replica"
        node.protocol_version.block = BLOCK_PROTOCOL
        node.other.tx_index = "on"  # GetTx finds what the replica included
        response.application_version.name = "dydxprotocol"
        response.application_version.app_name = APP_NAME
        response.application_version.version = "replica"
        return response


class _Tx(TxService):
    def __init__(self, validator: Validator) -> None:
        super().__init__(validator.apply, validator.search)
        self.validator = validator

    def GetTx(self, request: Any, context: Any) -> Any:
        found = self.validator.included_tx(request.hash)
        if found is None:
            abort_not_found(context, f"tx not found: {request.hash}")
        tx = Tx.FromString(found.tx_bytes)
        result = TxResponse(
            height=found.height,
            txhash=tx_hash_of(found.tx_bytes),
            gas_wanted=found.gas_wanted,
            gas_used=GAS_USED,
            timestamp=self.validator.chain.block_times.get(found.height, ""),
        )
        result.tx.Pack(tx, type_url_prefix="/")  # cosmos-sdk names its Any types "/package.Message"
        return service_pb2.GetTxResponse(tx=tx, tx_response=result)


def serve_validator(chain: Chain, host: str = "127.0.0.1", port: int = 0) -> tuple[Any, int]:
    """Starts the validator's gRPC server on `port` (0: a free one); returns the server and the port it took."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    auth_grpc.add_QueryServicer_to_server(Auth(chain.accounts), server)
    tendermint_grpc.add_ServiceServicer_to_server(_Tendermint(chain), server)
    accountplus_grpc.add_QueryServicer_to_server(_AccountPlus(chain), server)
    service_pb2_grpc.add_ServiceServicer_to_server(_Tx(Validator(chain)), server)
    add_query_services(chain, server)
    bank_grpc.add_QueryServicer_to_server(Bank(lambda: chain.bank, chain.usdc_denom, DYDX_PREFIX), server)
    bound = server.add_insecure_port(f"{host}:{port}")
    server.start()
    return server, bound

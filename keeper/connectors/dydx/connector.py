"""`DydxConnector`: what the keeper calls to trade at dYdX v4, through the official client (``dydx-v4-client``).

``async with DydxConnector(settings) as dydx:`` opens a gRPC channel to the validator (the client's `NodeClient`),
the indexer's REST client (`IndexerClient`), the owner's wallet from the mnemonic (its account number read from the
validator) and, with a trading key, the trading wallet: orders and cancels are then signed by the trading key and
select the owner's authenticator that grants it (`authenticators.py`), with the owner's account number and
sequence, as dYdX's permissioned keys work. Moving margin needs the owner's mnemonic, and with `noble_url` the
client's `NobleClient` reaches Noble, where the same key's ``noble1...`` address holds USDC between Ethereum and
dYdX (see README.md, "Custody"). Orders are Cosmos transactions
the validator accepts into its mempool; whether and how they fill is read back from the indexer (`order_result`),
as dYdX's own clients do.

The client's node calls are synchronous gRPC calls inside ``async def``s without deadlines: the connector runs them
on a worker thread (the caller's event loop keeps running) over a channel that gives every call `request_timeout`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from decimal import Decimal
from types import TracebackType
from typing import Any, NamedTuple, Protocol, TypeVar
from urllib.parse import urlsplit

import grpc
import httpx
from dydx_v4_client.config import GAS_MULTIPLIER
from dydx_v4_client.indexer.rest.indexer_client import IndexerClient
from dydx_v4_client.indexer.rest.noble_client import NobleClient
from dydx_v4_client.key_pair import KeyPair
from dydx_v4_client.network import NodeConfig, insecure_channel, secure_channel
from dydx_v4_client.node.builder import Builder, TxOptions, as_any
from dydx_v4_client.node.client import NodeClient
from dydx_v4_client.node.market import Market as ClientMarket
from dydx_v4_client.wallet import Wallet
from v4_proto.cosmos.base.v1beta1.coin_pb2 import Coin
from v4_proto.cosmos.tx.v1beta1 import service_pb2, service_pb2_grpc
from v4_proto.cosmos.tx.v1beta1.tx_pb2 import Fee
from v4_proto.dydxprotocol.subaccounts.subaccount_pb2 import SubaccountId

from keeper.connectors.dydx.authenticators import stored_config, trading_authenticator
from keeper.connectors.dydx.errors import (
    DydxAccountNotFoundError,
    DydxAuthenticatorError,
    DydxConnectionError,
    DydxError,
    DydxOrderUnknownError,
    DydxOwnerKeyMissingError,
    DydxRequestError,
    DydxResponseError,
    DydxTxRejectedError,
    UnknownMarketError,
)
from keeper.connectors.dydx.models import (
    QUOTE_ATOMIC_RESOLUTION,
    Fill,
    FundingRate,
    IndexedOrder,
    Market,
    OrderBook,
    OrderRequest,
    OrderResult,
    PlacedOrder,
    Subaccount,
    Transfer,
    indexer_order_id,
)
from keeper.connectors.dydx.noble import (
    ETHEREUM_DOMAIN,
    IBC_TIMEOUT_SECONDS,
    NOBLE_DENOM,
    NOBLE_PREFIX,
    TRANSFER_PORT,
    NobleBurn,
    rebech,
)
from keeper.connectors.dydx.noble_messages import MsgDepositForBurn, MsgTransfer
from keeper.connectors.dydx.orders import SHORT_TERM, ClientIds, build_order, check_grid
from keeper.connectors.dydx.settings import DydxSettings, mnemonic_address, trading_key_pair
from keeper.connectors.refusals import RefusedRows
from keeper.exceptions import ConfigError, InputError

T = TypeVar("T")


class _ByHeight(Protocol):
    @property
    def created_at_height(self) -> int: ...


Row = TypeVar("Row", bound=_ByHeight)

log = logging.getLogger(__name__)

INDEXER_PAGE = 1000
"""Rows per indexer request of fills and transfers (the indexer's largest page)."""

USDC_ASSET_ID = 0
HTTP_NOT_FOUND = 404
NOBLE_GAS_PRICE = 0.025
"""uusdc per gas offered on Noble (the client's `NobleClient` default)."""
BURN_ACTION = f"/{MsgDepositForBurn.DESCRIPTOR.full_name}"
SEARCH_PAGE = 100
"""Transactions per search request (cosmos-sdk's largest page)."""
RECENT_BURNS = 50
"""How many of Noble's latest burns the seat reads to find those the bridge has not paid yet."""
INCLUSION_TIMEOUT = 30.0
"""Seconds a withdrawal's transaction may take to reach a block before its outcome is called unknown."""


def dydx_address(mnemonic: str) -> str:
    """The ``dydx1...`` address of `mnemonic`'s first key, as dYdX's wallets derive it (the seat's bridge recipient)."""
    try:
        return mnemonic_address(mnemonic)
    except ValueError as error:
        raise ConfigError(f"dydx.mnemonic is not a valid BIP-39 phrase: {error}") from None


class DydxConnector:
    def __init__(self, settings: DydxSettings, page_size: int = INDEXER_PAGE) -> None:
        """`page_size` is the rows asked for per indexer request of fills and transfers (tests page with fewer)."""
        self.settings = settings
        self.page_size = page_size
        self._channel: Any = None
        self._node: Any = None
        self._indexer: Any = None
        self._wallet: Any = None
        """The owner's wallet (None without the mnemonic: no withdrawals)."""
        self._trader: Any = None
        """The trading key's wallet (None without a trading key: the owner's wallet trades)."""
        self._owner = ""
        self._markets: dict[str, Market] = {}
        self._client_ids = ClientIds()
        self.refused_fills = RefusedRows("dYdX fill", log)
        """The indexer's fills (their ids, or the rows without one) refused as wrong answers, each said once."""
        self._signing = asyncio.Lock()
        """One signed transaction at a time: the client keeps the wallet's sequence on the shared `Wallet`."""
        self._placing = asyncio.Lock()
        """One order from its height read to its broadcast: orders placed together would otherwise count their
        goodTilBlock from before they waited for each other's broadcasts, and the later ones reach dYdX expired."""
        self._noble: Any = None
        """The client's `NobleClient` (None without `noble_url`)."""
        self._noble_signing = asyncio.Lock()
        self._noble_next_sequence: int | None = None
        """The Noble sequence after the last transaction this connector broadcast there: a node answers the committed
        sequence until the block, so a second transaction before it must not reuse the first's."""
        self._account_unread = False
        """The owner's dYdX account did not exist when the connector opened: its number is read before signing."""

    async def __aenter__(self) -> DydxConnector:
        settings = self.settings
        address = self._owner = settings.owner_address
        make_channel = secure_channel if settings.validator_tls else insecure_channel
        self._channel = grpc.intercept_channel(
            make_channel(settings.validator_target), _Deadline(settings.request_timeout)
        )
        self._node = await NodeClient.connect(NodeConfig(settings.chain_id, "", settings.usdc_denom, self._channel))
        self._indexer = IndexerClient(settings.indexer_url, api_timeout=settings.request_timeout)
        if settings.noble_url is not None:
            # The client's `connect` opens a TLS channel to the endpoint it was given; the connector gives it its own
            # channel (TLS or plaintext, as the URL says, with the deadline), the same way as the validator's.
            self._noble = NobleClient(settings.noble_url)
            noble_target = urlsplit(settings.noble_url)
            make_noble = secure_channel if noble_target.scheme == "https" else insecure_channel
            self._noble.channel = grpc.intercept_channel(
                make_noble(noble_target.netloc), _Deadline(settings.request_timeout)
            )
        mnemonic, trading_key = settings.mnemonic, settings.trading_key
        if mnemonic is not None:
            try:
                self._wallet = await self._node_call(
                    "the wallet's account", lambda: Wallet.from_mnemonic(self._node, mnemonic, address)
                )
            except DydxAccountNotFoundError:
                # A new key: dYdX has no account for it until its first USDC arrives (by IBC from Noble, where the
                # first deposit waits). Its number is read before its first transaction (`_signer`).
                self._wallet = Wallet(KeyPair.from_mnemonic(mnemonic), 0, 0)
                self._account_unread = True
        if trading_key is not None:
            self._trader = Wallet(trading_key_pair(trading_key), 0, 0)
            granted = {entry.id for entry in await self.authenticators()}
            if settings.authenticator_id not in granted:
                raise DydxAuthenticatorError(
                    f"authenticator {settings.authenticator_id} is not on {address}'s account (it holds "
                    f"{sorted(granted) or 'none'}): grant the trading key with the owner's mnemonic first"
                )
        await self.refresh_markets()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._channel is not None:
            self._channel.close()
        if self._noble is not None:
            self._noble.channel.close()
        self._channel = self._node = self._indexer = self._wallet = self._trader = self._noble = None

    @property
    def address(self) -> str:
        """The ``dydx1...`` address owning the subaccount (the mnemonic's, or the `address` setting)."""
        self._open(self._node)
        return self._owner

    @property
    def noble_address(self) -> str:
        """The owner's ``noble1...`` address: the same key's 20 bytes, where USDC waits between Ethereum and dYdX."""
        return rebech(self.address, NOBLE_PREFIX)

    @property
    def can_move_margin(self) -> bool:
        """Whether margin can move: the owner's key is here, and a Noble node (`noble_url`)."""
        return self._wallet is not None and self.settings.noble_url is not None

    @property
    def can_withdraw(self) -> bool:
        """Whether the owner's key is here: without it the connector trades (with the trading key) but cannot
        withdraw."""
        return self._wallet is not None

    @property
    def subaccount_number(self) -> int:
        return self.settings.subaccount_number

    @property
    def markets(self) -> Mapping[str, Market]:
        return self._markets

    def market(self, ticker: str) -> Market:
        try:
            return self._markets[ticker]
        except KeyError:
            raise UnknownMarketError(f"{ticker} is not a perpetual market on this dYdX indexer") from None

    async def refresh_markets(self) -> None:
        """Reads every perpetual market's units from the indexer (done at start; markets rarely change)."""
        indexer = self._open(self._indexer)
        answer = await self._get("/v4/perpetualMarkets", lambda: indexer.markets.get_perpetual_markets())
        self._markets = {market.ticker: market for market in map(Market.from_json, _field(answer, "markets").values())}

    # Orders

    async def height(self) -> int:
        """The validator's latest block: a short-term order placed now may live to this + 20."""
        return int(await self._node_call("the latest block", lambda: self._node.latest_block_height()))

    async def place_order(self, request: OrderRequest) -> PlacedOrder:
        """Signs and broadcasts a short-term order living from the next block to `good_til_blocks` past the latest.
        Returns once the validator accepted it into its mempool; `order_result` says what it filled. Raises
        `DydxTxRejectedError` when the validator refused it, and `DydxOrderUnknownError` when its answer was lost (the
        validator may have taken the order: its client id stays taken until its goodTilBlock)."""
        market = self.market(request.ticker)
        check_grid(market, request.size, request.price)
        async with self._placing:
            height = await self.height()
            good_til_block = height + self.settings.good_til_blocks
            client_id = self._client_ids.take(request.client_id, good_til_block, height)
            order = build_order(market, request, self.address, self.subaccount_number, client_id, good_til_block)
            action = f"the {request.side.value} order {client_id} on {request.ticker}"
            try:
                tx_hash = await self._broadcast(
                    action,
                    lambda: self._as_trader(lambda wallet, options: self._node.place_order(wallet, order, options)),
                )
            except DydxTxRejectedError:
                self._client_ids.release(client_id)
                raise
            except DydxConnectionError as error:
                raise DydxOrderUnknownError(
                    f"{error}; the order may live until block {good_til_block}", good_til_block
                ) from None
        return PlacedOrder(
            ticker=request.ticker,
            side=request.side,
            client_id=client_id,
            clob_pair_id=market.clob_pair_id,
            order_flags=SHORT_TERM,
            quantums=int(order.quantums),
            subticks=int(order.subticks),
            size=market.quantums_to_size(int(order.quantums)),
            price=market.subticks_to_price(int(order.subticks)),
            reduce_only=request.reduce_only,
            time_in_force=request.time_in_force,
            good_til_block=good_til_block,
            placed_at_height=height,
            tx_hash=tx_hash,
            indexer_order_id=indexer_order_id(
                self.address, self.subaccount_number, client_id, market.clob_pair_id, SHORT_TERM
            ),
        )

    async def cancel_order(self, order: PlacedOrder) -> bool:
        """Cancels what is left of `order`. False when its goodTilBlock has passed already (it can no longer fill, so
        there is nothing to cancel); a cancel only removes what has not filled yet."""
        if await self.height() >= order.good_til_block:
            return False
        order_id = ClientMarket(dict(self.market(order.ticker).row)).order_id(
            self.address, self.subaccount_number, order.client_id, order.order_flags
        )
        await self._broadcast(
            f"the cancel of order {order.client_id}",
            lambda: self._as_trader(
                lambda wallet, options: self._node.cancel_order(
                    wallet, order_id, good_til_block=order.good_til_block, tx_options=options
                )
            ),
        )
        return True

    async def order_result(self, order: PlacedOrder) -> OrderResult:
        """The order's fills once it can no longer fill: filled in full, or the indexer past its goodTilBlock. Polls
        the indexer every `poll_interval`; bound the wait with ``asyncio.wait_for`` if the indexer may stall."""
        while True:
            indexed = await self.indexer_height()
            since = await self.fills(since_height=order.placed_at_height + 1)
            fills = tuple(fill for fill in since if fill.order_id == order.indexer_order_id)
            if sum((f.size for f in fills), Decimal(0)) >= order.size or indexed >= order.good_til_block:
                return OrderResult(order, fills)
            await asyncio.sleep(self.settings.poll_interval)

    # Funds

    async def withdraw(self, amount: Decimal) -> str:
        """MsgWithdrawFromSubaccount: `amount` USDC from the subaccount to the owner's own ``dydx1...`` bank balance
        (dYdX takes a ``dydx1...`` recipient only: any other is refused, sending code 6); returns the transaction
        hash. dYdX refuses it while withdrawals are gated (`DydxTxRejectedError`)."""
        wallet = await self._signer(f"withdrawing {amount} USDC")
        quantums = _quantums(amount, "a withdrawal")
        sender = SubaccountId(owner=self.address, number=self.subaccount_number)
        action = f"the withdrawal of {amount} USDC"
        tx_hash = await self._broadcast(
            action, lambda: self._node.withdraw(wallet, sender, self.address, USDC_ASSET_ID, quantums)
        )
        await self.wait_included(tx_hash, action)
        return tx_hash

    async def wait_included(self, tx_hash: str, action: str, timeout: float = INCLUSION_TIMEOUT) -> None:
        """Waits for transaction `tx_hash` to be in a block (GetTx, every `poll_interval`) and returns if it
        succeeded there: a SYNC broadcast's answer is only CheckTx, and a transaction that passed it may still fail
        in its block (a withdrawal the collateral check refuses after a price move). Raises DydxTxRejectedError
        with the block's code if it failed, DydxConnectionError if no block has it within `timeout` seconds (its
        outcome is then unknown: it may still be included)."""
        stub = service_pb2_grpc.ServiceStub(self._open(self._channel))
        request = service_pb2.GetTxRequest(hash=tx_hash)
        deadline = time.monotonic() + timeout
        while True:
            try:
                answer = await self._node_call(f"{action}'s transaction", lambda: _unary(stub.GetTx, request))
            except (DydxAccountNotFoundError, DydxConnectionError):  # not in a block yet, or the node away
                answer = None
            if answer is not None and answer.tx_response.txhash:
                result = answer.tx_response
                if result.code:
                    raise DydxTxRejectedError(
                        f"{action} (in block {result.height})", str(result.raw_log), int(result.code),
                        str(result.codespace),
                    )  # fmt: skip
                return
            if time.monotonic() >= deadline:
                raise DydxConnectionError(
                    f"{action}: transaction {tx_hash} is in no block after {timeout:g} s: its outcome is unknown"
                )
            await asyncio.sleep(self.settings.poll_interval)

    async def deposit(self, amount: Decimal) -> str:
        """MsgDepositToSubaccount: `amount` USDC of the owner's bank balance into the subaccount (signed by the owner's
        key: a trading key's authenticator does not allow it)."""
        wallet = await self._signer(f"depositing {amount} USDC")
        quantums = _quantums(amount, "a deposit")
        recipient = SubaccountId(owner=self.address, number=self.subaccount_number)
        return await self._broadcast(
            f"the deposit of {amount} USDC",
            lambda: self._node.deposit(wallet, self.address, recipient, USDC_ASSET_ID, quantums),
        )

    async def bank_balance(self) -> Decimal:
        """The owner's USDC in its dYdX bank balance (outside every subaccount)."""
        answer = await self._node_call(
            "the bank balance", lambda: self._node.get_account_balance(self.address, self.settings.usdc_denom)
        )
        return Decimal(int(answer.balance.amount or 0)).scaleb(QUOTE_ATOMIC_RESOLUTION)

    async def send_to_noble(self, amount: Decimal) -> str:
        """IBC MsgTransfer of `amount` USDC from the owner's dYdX bank balance to its Noble address, on
        `dydx_noble_channel`; x/ratelimit caps what leaves dYdX this way in an hour (``ratelimit`` code 1001)."""
        wallet = await self._signer(f"sending {amount} USDC to Noble")
        message = MsgTransfer(
            source_port=TRANSFER_PORT,
            source_channel=self.settings.dydx_noble_channel,
            token=Coin(amount=str(_quantums(amount, "an IBC transfer")), denom=self.settings.usdc_denom),
            sender=self.address,
            receiver=self.noble_address,
            timeout_timestamp=_ibc_timeout(),
        )
        return await self._broadcast(
            f"the IBC transfer of {amount} USDC to Noble", lambda: self._node.send_message(wallet, message)
        )

    # Noble

    async def noble_balance(self) -> Decimal:
        """The USDC (uusdc) at the owner's Noble address."""
        noble = self._noble_client("reading Noble's balance")
        answer = await self._node_call(
            "the balance", lambda: noble.get_account_balance(self.noble_address, NOBLE_DENOM), "Noble"
        )
        return Decimal(int(answer.balance.amount or 0)).scaleb(QUOTE_ATOMIC_RESOLUTION)

    async def noble_to_dydx(self, amount: Decimal) -> str:
        """IBC MsgTransfer on Noble of `amount` USDC from the owner's Noble address to its dYdX bank balance, on
        `noble_channel`."""
        message = MsgTransfer(
            source_port=TRANSFER_PORT,
            source_channel=self.settings.noble_channel,
            token=Coin(amount=str(_quantums(amount, "an IBC transfer")), denom=NOBLE_DENOM),
            sender=self.noble_address,
            receiver=self.address,
            timeout_timestamp=_ibc_timeout(),
        )
        return await self._noble_send(f"the IBC transfer of {amount} USDC to dYdX", message)

    async def burn_to_ethereum(self, amount: Decimal, recipient: str) -> str:
        """Circle's MsgDepositForBurn on Noble: `amount` USDC burned towards Ethereum's domain, minted there to
        `recipient` (an Ethereum address) once Circle attests the message. Returns the Noble transaction's hash, by
        which the attestation service finds the message."""
        message = MsgDepositForBurn(
            amount=str(_quantums(amount, "a burn")),
            destination_domain=ETHEREUM_DOMAIN,
            mint_recipient=bytes.fromhex(recipient.removeprefix("0x")).rjust(32, b"\0"),
            burn_token=NOBLE_DENOM,
        )
        setattr(message, "from", self.noble_address)
        return await self._noble_send(f"the burn of {amount} USDC towards {recipient}", message)

    async def noble_burns(self, recent: int | None = RECENT_BURNS) -> list[NobleBurn]:
        """The `recent` latest MsgDepositForBurn the owner's Noble address sent (every one if None), oldest first,
        found by Noble's transaction search (a keeper restarted finds its burns there, and their messages at the
        attestation service by their hashes). Only the latest are read: a node whose index starts later (pruned,
        state-synced, another provider) lists the recent ones alike."""
        noble = self._noble_client("reading Noble's burns")
        found = await self._search(noble.channel, "Noble", "the burns", self.noble_address, BURN_ACTION, recent)
        burns = []
        for tx, result in found:
            for packed in tx.body.messages:
                if packed.type_url != BURN_ACTION:
                    continue
                burn = MsgDepositForBurn.FromString(packed.value)
                recipient = "0x" + bytes(burn.mint_recipient)[-20:].hex()
                amount = Decimal(int(burn.amount)).scaleb(QUOTE_ATOMIC_RESOLUTION)
                burns.append(NobleBurn(str(result.txhash), amount, recipient, int(result.height)))
        return burns

    async def _search(
        self, channel: Any, where: str, what: str, sender: str, action: str, last: int | None = None
    ) -> list[tuple[Any, Any]]:
        """The transactions with a message of `action` signed by `sender` (cosmos-sdk's GetTxsEvent, oldest first):
        (transaction, its response) pairs; every one a page of SEARCH_PAGE at a time, or only the `last` latest
        (pages of `last`: the first answers the total, the last two pages hold the latest)."""
        conditions = [f"message.sender='{sender}'", f"message.action='{action}'"]
        stub = service_pb2_grpc.ServiceStub(channel)
        limit = SEARCH_PAGE if last is None else max(last, 1)

        async def page(number: int) -> Any:
            request = service_pb2.GetTxsEventRequest(
                events=conditions, query=" AND ".join(conditions), page=number, limit=limit
            )
            return await self._node_call(what, lambda: _unary(stub.GetTxsEvent, request), where)

        answer = await page(1)
        found: list[tuple[Any, Any]] = list(zip(answer.txs, answer.tx_responses, strict=False))
        total = int(answer.total)
        if last is not None:
            if total <= limit:
                return found
            final = math.ceil(total / limit)
            found = []
            for number in (final - 1, final):
                answer = await page(number)
                found += list(zip(answer.txs, answer.tx_responses, strict=False))
            return found[-limit:]
        number = 1
        while len(answer.txs) >= limit and len(found) < total:
            number += 1
            answer = await page(number)
            found += list(zip(answer.txs, answer.tx_responses, strict=False))
        return found

    async def _noble_send(self, action: str, message: Any) -> str:
        """Signs `message` with the owner's key for its Noble address, with the client's `Builder` (account number
        and sequence read from Noble now; the sequence at least the one after this connector's last transaction
        there, which a node answers only once its block is made), its fee from a simulation at NOBLE_GAS_PRICE, and
        broadcasts it. The client's `NobleClient.send` cannot be used: it reads its account without awaiting it and
        signs with a chain id it never sets (dydx-v4-client 1.1.5)."""
        noble = self._noble_client(action)
        key = self._owner_wallet(action).key
        builder = Builder(self.settings.noble_chain_id, NOBLE_DENOM)

        used: list[int] = []

        async def send() -> Any:
            account = await noble.get_account(self.noble_address)
            sequence = max(int(account.sequence), self._noble_next_sequence or 0)
            used.append(sequence)
            wallet = Wallet(key, account.account_number, sequence)
            stub = service_pb2_grpc.ServiceStub(noble.channel)
            draft = builder.build_transaction(wallet, [as_any(message)], Fee(gas_limit=0))
            simulated = stub.Simulate(service_pb2.SimulateRequest(tx=draft))
            gas_limit = int(simulated.gas_info.gas_used * GAS_MULTIPLIER)
            fee = Fee(
                gas_limit=gas_limit,
                amount=[Coin(amount=str(math.ceil(gas_limit * NOBLE_GAS_PRICE)), denom=NOBLE_DENOM)],
            )
            tx = builder.build_transaction(wallet, [as_any(message)], fee)
            request = service_pb2.BroadcastTxRequest(
                tx_bytes=tx.SerializeToString(), mode=service_pb2.BroadcastMode.BROADCAST_MODE_SYNC
            )
            return stub.BroadcastTx(request)

        async with self._noble_signing:
            try:
                response = await self._node_call(action, send, "Noble")
            except DydxError:
                self._noble_next_sequence = None  # read the node's again next time
                raise
            result = response.tx_response
            if result.code:
                # Refused at CheckTx: the sequence was not taken (a mismatch: a transaction before it never made a
                # block), so the next one starts again from the node's.
                self._noble_next_sequence = None
                raise DydxTxRejectedError(action, str(result.raw_log), int(result.code), str(result.codespace))
            self._noble_next_sequence = used[-1] + 1
        return str(result.txhash)

    def _noble_client(self, action: str) -> Any:
        self._open(self._node)
        if self._noble is None:
            raise DydxError(f"{action} needs a Noble node (dydx.noble_url): margin crosses Noble to and from dYdX")
        return self._noble

    # Permissioned keys (authenticators)

    async def authenticators(self) -> list[Any]:
        """The owner's authenticators as the validator lists them (``AccountAuthenticator``: id, type, config)."""
        answer = await self._node_call("the authenticators", lambda: self._node.get_authenticators(self._owner))
        return list(answer.account_authenticators)

    async def grant_trading_key(self, public_key: bytes, clob_pair_ids: Sequence[int] | None = None) -> int:
        """Adds the owner's authenticator that lets `public_key` place and cancel orders on this subaccount (on
        `clob_pair_ids` only, if given) and nothing else; returns its id, the trading key's `authenticator_id`.
        Needs the owner's mnemonic."""
        wallet = await self._signer("granting a trading key")
        authenticator = trading_authenticator(public_key, self.subaccount_number, clob_pair_ids)
        await self._broadcast(
            "the trading key's authenticator", lambda: self._node.add_authenticator(wallet, authenticator)
        )
        config = stored_config(authenticator)
        ids = [entry.id for entry in await self.authenticators() if bytes(entry.config) == config]
        if not ids:
            raise DydxAuthenticatorError(f"the validator accepted the authenticator but {self._owner} does not list it")
        return int(max(ids))

    async def remove_authenticator(self, authenticator_id: int) -> None:
        """Removes the owner's authenticator `authenticator_id`: the key it granted can no longer trade. Needs the
        owner's mnemonic."""
        wallet = await self._signer(f"removing authenticator {authenticator_id}")
        await self._broadcast(
            f"the removal of authenticator {authenticator_id}",
            lambda: self._node.remove_authenticator(wallet, authenticator_id),
        )

    # Indexer reads

    async def indexer_height(self) -> int:
        """The latest block the indexer has processed: its fills and positions are as of this block."""
        answer = await self._get("/v4/height", lambda: self._open(self._indexer).utility.get_height())
        return _int(_field(answer, "height"), "height")

    async def fills(self, ticker: str | None = None, since_height: int = 0) -> list[Fill]:
        """The subaccount's fills from block `since_height` on, oldest first, read newest first a page at a time.
        The market is filtered here: the client sends it as ``ticker``, which the indexer's /v4/fills ignores."""
        found = await self._pages("fills", self._fills_page, lambda fill: fill.fill_id, since_height)
        chosen = [fill for fill in found if ticker in (None, fill.ticker)]
        return sorted(chosen, key=lambda fill: fill.created_at_height)

    async def _fills_page(self, before_or_at_height: int | None) -> tuple[int, list[Fill]]:
        answer = await self._get(
            "/v4/fills",
            lambda: self._open(self._indexer).account.get_subaccount_fills(
                self.address,
                self.subaccount_number,
                limit=self.page_size,
                created_before_or_at_height=before_or_at_height,
            ),
        )
        rows = _rows(answer, "/v4/fills", "fills")
        fills = []
        for row in rows:
            try:
                fills.append(Fill.from_json(row))
            except DydxResponseError as error:  # one fill that cannot be is left out, not the page
                self.refused_fills.refuse(row, error)
        return len(rows), fills

    async def _pages(
        self,
        what: str,
        read_page: Callable[[int | None], Awaitable[tuple[int, list[Row]]]],
        key: Callable[[Row], str],
        since_height: int,
    ) -> list[Row]:
        """Every row from block `since_height` on, read newest first a page at a time: the next page ends at the
        lowest block of the one before (the client offers the indexer's height cursor, not its page numbers), so
        that block's rows come twice and are kept once, by `key`. `read_page` answers how many rows the indexer
        sent (a full page means there may be more) and the ones read."""
        found: dict[str, Row] = {}
        cursor: int | None = None
        while True:
            sent, page = await read_page(cursor)
            found.update((key(row), row) for row in page)
            if sent < self.page_size or not page:
                break
            lowest = min(row.created_at_height for row in page)
            if lowest < since_height:
                break
            if lowest == cursor:
                raise DydxResponseError(
                    f"more than {self.page_size} {what} at block {lowest}: the indexer cannot page them"
                )
            cursor = lowest
        return [row for row in found.values() if row.created_at_height >= since_height]

    async def order(self, order_id: str) -> IndexedOrder | None:
        """The order with the indexer's id `order_id` (`PlacedOrder.indexer_order_id`, a fill's ``orderId``), or None
        while the indexer has not seen it."""
        try:
            answer = await self._get(
                "/v4/orders/{orderId}", lambda: self._open(self._indexer).account.get_order(order_id)
            )
        except DydxRequestError as error:
            if error.status == HTTP_NOT_FOUND:
                return None
            raise
        return IndexedOrder.from_json(answer)

    async def transfers(self) -> list[Transfer]:
        """Every transfer of the subaccount (deposits, withdrawals), newest first, read a page at a time: the seat
        sums every deposit ever credited, so none may drop off the end of one page."""
        found = await self._pages("transfers", self._transfers_page, lambda transfer: transfer.transfer_id, 0)
        return sorted(found, key=lambda transfer: -transfer.created_at_height)

    async def _transfers_page(self, before_or_at_height: int | None) -> tuple[int, list[Transfer]]:
        answer = await self._get(
            "/v4/transfers",
            lambda: self._open(self._indexer).account.get_subaccount_transfers(
                self.address,
                self.subaccount_number,
                limit=self.page_size,
                created_before_or_at_height=before_or_at_height,
            ),
        )
        rows = _rows(answer, "/v4/transfers", "transfers")
        return len(rows), [Transfer.from_json(row) for row in rows]

    async def subaccount(self) -> Subaccount:
        """Equity, free collateral, USDC and open positions, as of the indexer's latest block."""
        answer = await self._get(
            "/v4/addresses/{address}/subaccountNumber/{n}",
            lambda: self._open(self._indexer).account.get_subaccount(self.address, self.subaccount_number),
        )
        return Subaccount.from_json(_field(answer, "subaccount"))

    async def funding_rates(self, ticker: str, limit: int | None = None) -> list[FundingRate]:
        """The market's funding rates, newest first (the indexer's order)."""
        self.market(ticker)
        answer = await self._get(
            f"/v4/historicalFunding/{ticker}",
            lambda: self._open(self._indexer).markets.get_perpetual_market_historical_funding(ticker, limit=limit),
        )
        return [FundingRate.from_json(row) for row in _field(answer, "historicalFunding")]

    async def order_book(self, ticker: str) -> OrderBook:
        self.market(ticker)
        answer = await self._get(
            f"/v4/orderbooks/perpetualMarket/{ticker}",
            lambda: self._open(self._indexer).markets.get_perpetual_market_orderbook(ticker),
        )
        return OrderBook.from_json(ticker, answer)

    # Plumbing

    async def _signer(self, action: str) -> Any:
        """The owner's wallet for a dYdX transaction, its account number read now if the account was new."""
        wallet = self._owner_wallet(action)
        if self._account_unread:
            account = await self._node_call("the wallet's account", lambda: self._node.get_account(self._owner))
            wallet.account_number, wallet.sequence = account.account_number, account.sequence
            self._account_unread = False
        return wallet

    def _owner_wallet(self, action: str) -> Any:
        self._open(self._node)
        if self._wallet is None:
            raise DydxOwnerKeyMissingError(
                f"{action} needs the dYdX owner's key (dydx.mnemonic of {self._owner}); this keeper holds only the "
                "trading key, which dYdX lets place and cancel orders only"
            )
        return self._wallet

    async def _as_trader(self, send: Callable[[Any, TxOptions | None], Coroutine[Any, Any, T]]) -> T:
        """Sends an order or a cancel with the trading key, selecting the owner's authenticator and signing with the
        owner's account number and sequence (read now), or with the owner's wallet when there is no trading key."""
        if self._trader is None:
            return await send(self._wallet, None)
        account = await self._node.get_account(self._owner)
        options = TxOptions([self.settings.authenticator_id], account.sequence, account.account_number)
        return await send(self._trader, options)

    def _open(self, part: T | None) -> T:
        if part is None:
            raise DydxError("the dYdX connector is not open: use it inside 'async with'")
        return part

    async def _get(self, path: str, request: Callable[[], Awaitable[Any]]) -> Mapping[str, Any]:
        """One indexer request through the client, its failures as the connector's errors."""
        try:
            answer = await request()
        except httpx.HTTPStatusError as error:
            raise DydxRequestError(path, error.response.status_code, error.response.text) from None
        except httpx.HTTPError as error:
            raise DydxConnectionError(f"dYdX indexer {path}: {error!r}") from None
        except (ValueError, RecursionError) as error:  # the client's response.json(): not JSON, not text, too nested
            raise DydxResponseError(f"dYdX indexer {path} answered something that is not JSON: {error}") from None
        if not isinstance(answer, Mapping):
            raise DydxResponseError(f"dYdX indexer {path} answered {answer!r}, not an object")
        return answer

    async def _node_call(
        self, action: str, call: Callable[[], Coroutine[Any, Any, T]], where: str = "dYdX validator"
    ) -> T:
        """Runs one of the client's node coroutines on a worker thread (its gRPC calls block), failures mapped."""
        self._open(self._node)
        try:
            return await asyncio.to_thread(lambda: asyncio.run(call()))
        except grpc.RpcError as error:
            status, details = error.code(), error.details()
            if status in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise DydxConnectionError(f"{where}, {action}: {status.name}: {details}") from None
            if status is grpc.StatusCode.NOT_FOUND:
                raise DydxAccountNotFoundError(f"{where}, {action}: {details}") from None
            raise DydxTxRejectedError(action, f"{status.name}: {details}") from None

    async def _broadcast(self, action: str, call: Callable[[], Coroutine[Any, Any, Any]]) -> str:
        """Signs and broadcasts through the client; a CheckTx refusal raises with the chain's code and log."""
        async with self._signing:
            response = await self._node_call(action, call)
        result = response.tx_response
        if result.code:
            raise DydxTxRejectedError(action, str(result.raw_log), int(result.code), str(result.codespace))
        return str(result.txhash)


class _CallDetails(NamedTuple):
    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: bool | None
    compression: Any


class _Deadline(grpc.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Gives every unary call on the channel a deadline: the client makes its calls without one."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        if details.timeout is None:
            details = _CallDetails(
                details.method,
                self._seconds,
                details.metadata,
                details.credentials,
                details.wait_for_ready,
                details.compression,
            )
        return continuation(details, request)


def _field(answer: Mapping[str, Any], name: str) -> Any:
    try:
        return answer[name]
    except KeyError:
        raise DydxResponseError(f"dYdX indexer answer without {name!r}: {dict(answer)}") from None


def _rows(answer: Mapping[str, Any], path: str, name: str) -> list[Any]:
    rows = _field(answer, name)
    if not isinstance(rows, list):
        raise DydxResponseError(f"dYdX indexer {path}: {name} is not a list: {str(rows)[:200]!r}")
    return rows


def _quantums(amount: Decimal, what: str) -> int:
    quantums = amount.scaleb(-QUOTE_ATOMIC_RESOLUTION)
    if quantums <= 0 or quantums != quantums.to_integral_value():
        raise InputError(f"{what} must be a positive amount of whole USDC quantums (1e-6), got {amount}")
    return int(quantums)


def _ibc_timeout() -> int:
    """An IBC transfer's timeout: IBC_TIMEOUT_SECONDS from now, in nanoseconds since the epoch."""
    return time.time_ns() + IBC_TIMEOUT_SECONDS * 10**9


async def _unary(method: Callable[[Any], T], request: Any) -> T:
    return method(request)


def _int(value: object, name: str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise DydxResponseError(f"dYdX indexer {name} is not an integer: {value!r}") from None

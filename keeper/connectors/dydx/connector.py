"""`DydxConnector`: what the keeper calls to trade at dYdX v4, through the official client (``dydx-v4-client``).

``async with DydxConnector(settings) as dydx:`` opens a gRPC channel to the validator (the client's `NodeClient`),
the indexer's REST client (`IndexerClient`), and the wallet from the mnemonic (its account number read from the
validator). Orders are Cosmos transactions the validator accepts into its mempool; whether and how they fill is
read back from the indexer (`order_result`), as dYdX's own clients do.

The client's node calls are synchronous gRPC calls inside ``async def``s without deadlines: the connector runs them
on a worker thread (the caller's event loop keeps running) over a channel that gives every call `request_timeout`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from decimal import Decimal
from types import TracebackType
from typing import Any, NamedTuple, TypeVar

import grpc
import httpx
from dydx_v4_client.indexer.rest.indexer_client import IndexerClient
from dydx_v4_client.key_pair import KeyPair
from dydx_v4_client.network import NodeConfig, insecure_channel, secure_channel
from dydx_v4_client.node.client import NodeClient
from dydx_v4_client.node.market import Market as ClientMarket
from dydx_v4_client.wallet import Wallet
from v4_proto.dydxprotocol.subaccounts.subaccount_pb2 import SubaccountId

from keeper.connectors.dydx.errors import (
    DydxAccountNotFoundError,
    DydxConnectionError,
    DydxError,
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
from keeper.connectors.dydx.orders import SHORT_TERM, ClientIds, build_order, check_grid
from keeper.connectors.dydx.settings import DydxSettings
from keeper.exceptions import ConfigError, InputError

T = TypeVar("T")

FILLS_PAGE = 1000
"""Fills per indexer request (the indexer's largest page)."""

USDC_ASSET_ID = 0
HTTP_NOT_FOUND = 404


def dydx_address(mnemonic: str) -> str:
    """The ``dydx1...`` address of `mnemonic`'s first key, as dYdX's wallets derive it (the seat's bridge recipient)."""
    try:
        return str(Wallet(KeyPair.from_mnemonic(mnemonic), 0, 0).address)
    except ValueError as error:
        raise ConfigError(f"dydx.mnemonic is not a valid BIP-39 phrase: {error}") from None


class DydxConnector:
    def __init__(self, settings: DydxSettings) -> None:
        self.settings = settings
        self._channel: Any = None
        self._node: Any = None
        self._indexer: Any = None
        self._wallet: Any = None
        self._markets: dict[str, Market] = {}
        self._client_ids = ClientIds()
        self._signing = asyncio.Lock()
        """One signed transaction at a time: the client keeps the wallet's sequence on the shared `Wallet`."""

    async def __aenter__(self) -> DydxConnector:
        settings = self.settings
        address = dydx_address(settings.mnemonic)
        make_channel = secure_channel if settings.validator_tls else insecure_channel
        self._channel = grpc.intercept_channel(
            make_channel(settings.validator_target), _Deadline(settings.request_timeout)
        )
        self._node = await NodeClient.connect(NodeConfig(settings.chain_id, "", settings.usdc_denom, self._channel))
        self._indexer = IndexerClient(settings.indexer_url, api_timeout=settings.request_timeout)
        self._wallet = await self._node_call(
            "the wallet's account", lambda: Wallet.from_mnemonic(self._node, settings.mnemonic, address)
        )
        await self.refresh_markets()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._channel is not None:
            self._channel.close()
        self._channel = self._node = self._indexer = self._wallet = None

    @property
    def address(self) -> str:
        """The wallet's ``dydx1...`` address, owner of the subaccount."""
        return str(self._open(self._wallet).address)

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
        Returns once the validator accepted it into its mempool; `order_result` says what it filled."""
        market = self.market(request.ticker)
        check_grid(market, request.size, request.price)
        height = await self.height()
        good_til_block = height + self.settings.good_til_blocks
        client_id = self._client_ids.take(request.client_id, good_til_block, height)
        order = build_order(market, request, self.address, self.subaccount_number, client_id, good_til_block)
        action = f"the {request.side.value} order {client_id} on {request.ticker}"
        try:
            tx_hash = await self._broadcast(action, lambda: self._node.place_order(self._wallet, order))
        except DydxTxRejectedError:
            self._client_ids.release(client_id)
            raise
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
            lambda: self._node.cancel_order(self._wallet, order_id, good_til_block=order.good_til_block),
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

    async def withdraw(self, amount: Decimal, recipient: str | None = None) -> str:
        """Withdraws `amount` USDC from the subaccount to `recipient` (the wallet itself by default); returns the
        transaction hash. dYdX refuses it while withdrawals are gated (`DydxTxRejectedError`)."""
        quantums = amount.scaleb(-QUOTE_ATOMIC_RESOLUTION)
        if quantums <= 0 or quantums != quantums.to_integral_value():
            raise InputError(f"a withdrawal must be a positive amount of whole USDC quantums (1e-6), got {amount}")
        sender = SubaccountId(owner=self.address, number=self.subaccount_number)
        return await self._broadcast(
            f"the withdrawal of {amount} USDC",
            lambda: self._node.withdraw(self._wallet, sender, recipient or self.address, USDC_ASSET_ID, int(quantums)),
        )

    # Indexer reads

    async def indexer_height(self) -> int:
        """The latest block the indexer has processed: its fills and positions are as of this block."""
        answer = await self._get("/v4/height", lambda: self._open(self._indexer).utility.get_height())
        return _int(_field(answer, "height"), "height")

    async def fills(self, ticker: str | None = None, since_height: int = 0) -> list[Fill]:
        """The subaccount's fills from block `since_height` on, oldest first, read newest first a page at a time.
        The market is filtered here: the client sends it as ``ticker``, which the indexer's /v4/fills ignores."""
        found: dict[str, Fill] = {}
        cursor: int | None = None
        while True:
            page = await self._fills_page(cursor)
            found.update((fill.fill_id, fill) for fill in page)
            if len(page) < FILLS_PAGE or min(f.created_at_height for f in page) < since_height:
                break
            lowest = min(f.created_at_height for f in page)
            if lowest == cursor:
                raise DydxResponseError(f"more than {FILLS_PAGE} fills at block {lowest}: the indexer cannot page them")
            cursor = lowest
        chosen = [f for f in found.values() if f.created_at_height >= since_height and ticker in (None, f.ticker)]
        return sorted(chosen, key=lambda fill: fill.created_at_height)

    async def _fills_page(self, before_or_at_height: int | None) -> list[Fill]:
        answer = await self._get(
            "/v4/fills",
            lambda: self._open(self._indexer).account.get_subaccount_fills(
                self.address, self.subaccount_number, limit=FILLS_PAGE, created_before_or_at_height=before_or_at_height
            ),
        )
        return [Fill.from_json(row) for row in _field(answer, "fills")]

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
        """The subaccount's transfers (deposits, withdrawals), the newest `FILLS_PAGE` of them, newest first."""
        answer = await self._get(
            "/v4/transfers",
            lambda: self._open(self._indexer).account.get_subaccount_transfers(
                self.address, self.subaccount_number, limit=FILLS_PAGE
            ),
        )
        return [Transfer.from_json(row) for row in _field(answer, "transfers")]

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
        if not isinstance(answer, Mapping):
            raise DydxResponseError(f"dYdX indexer {path} answered {answer!r}, not an object")
        return answer

    async def _node_call(self, action: str, call: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Runs one of the client's node coroutines on a worker thread (its gRPC calls block), failures mapped."""
        self._open(self._node)
        try:
            return await asyncio.to_thread(lambda: asyncio.run(call()))
        except grpc.RpcError as error:
            status, details = error.code(), error.details()
            if status in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise DydxConnectionError(f"dYdX validator, {action}: {status.name}: {details}") from None
            if status is grpc.StatusCode.NOT_FOUND:
                raise DydxAccountNotFoundError(f"dYdX validator, {action}: {details}") from None
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


def _int(value: object, name: str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise DydxResponseError(f"dYdX indexer {name} is not an integer: {value!r}") from None

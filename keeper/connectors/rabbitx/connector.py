"""`RabbitXConnector`: what the keeper calls to trade at RabbitX, in typed records.

``async with RabbitXConnector(settings) as rabbitx:`` opens an HTTP session and the durable store; every method
is one or a few calls of RabbitX's public API. Orders answer `OrderStatus.PROCESSING` and are decided later:
their fills come out of `fill_feed`, their final state from `order`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from types import TracebackType
from typing import Any

import aiohttp

from keeper.connectors.rabbitx.client import RabbitXClient
from keeper.connectors.rabbitx.errors import (
    CLIENT_ORDER_ID_DUPLICATE,
    DuplicateClientOrderIdError,
    RabbitXError,
    RabbitXRateLimitError,
    RabbitXRequestError,
    RabbitXResponseError,
)
from keeper.connectors.rabbitx.fills import PAGE_SIZE, FillFeed, fetch_fills_since
from keeper.connectors.rabbitx.models import (
    Balance,
    BalanceOperation,
    Fill,
    FundingRate,
    Order,
    OrderBook,
    OrderRequest,
    Position,
    Withdrawal,
)
from keeper.connectors.rabbitx.settings import RabbitXSettings
from keeper.connectors.rabbitx.store import ConnectorStore
from keeper.connectors.rabbitx.vocabulary import OrderStatus, OrderType


class RabbitXConnector:
    def __init__(self, settings: RabbitXSettings) -> None:
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._client: RabbitXClient | None = None
        self._store: ConnectorStore | None = None

    async def __aenter__(self) -> RabbitXConnector:
        self._store = ConnectorStore(self.settings.store_path, self.settings.base_url)
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.settings.request_timeout))
        self._client = RabbitXClient(
            self._session, self.settings.base_url, self.settings.credentials, self.settings.exchange_id
        )
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
        if self._store is not None:
            self._store.close()
        self._session = self._client = self._store = None

    @property
    def client(self) -> RabbitXClient:
        """The JSON-level client under the typed API, for endpoints the connector does not wrap."""
        if self._client is None:
            raise RabbitXError("the RabbitX connector is not open: use it inside 'async with'")
        return self._client

    @property
    def store(self) -> ConnectorStore:
        if self._store is None:
            raise RabbitXError("the RabbitX connector is not open: use it inside 'async with'")
        return self._store

    # ------------------------------------------------------------------ orders

    async def place_order(self, request: OrderRequest) -> Order:
        """Send `request`; the answer is the order as the exchange accepted it, usually still processing.

        What the exchange refuses outright (an unknown market; a price or size that is not positive or off the
        market's min_tick / min_order, as `bad_price has=X required=Y`) raises RabbitXRequestError; the rest is decided
        after the answer (`order(...).status` REJECTED with its `reason`). The client_order_id is reserved in the
        store before the request leaves, so a second order with it is refused here; if the request's fate is
        unknown (a timeout), `find_order` with the same id tells whether it arrived. The exchange's own
        CLIENT_ORDER_ID_DUPLICATE (a store that lost the id) is a DuplicateClientOrderIdError too, `at_exchange`: it
        holds that order. A rate limit (RabbitXRateLimitError) frees the id again: the order was not carried out.
        """
        if not request.client_order_id:
            raise RabbitXError("an order needs a client_order_id (unique per account)")
        if request.size <= 0:
            raise RabbitXError(f"order size must be positive, got {request.size}")
        if request.order_type is OrderType.LIMIT and (request.price is None or request.price <= 0):
            raise RabbitXError(f"a limit order needs a positive price, got {request.price}")
        self.store.claim_client_order_id(request.client_order_id, request.market_id)
        try:
            row = await self.client.create_order(
                request.market_id,
                request.side.value,
                request.size,
                request.price,
                request.order_type.value,
                request.time_in_force.value if request.time_in_force else None,
                request.client_order_id,
            )
        except RabbitXRateLimitError:
            self.store.release_client_order_id(request.client_order_id)
            raise
        except RabbitXRequestError as exc:
            if exc.code == CLIENT_ORDER_ID_DUPLICATE:
                raise DuplicateClientOrderIdError(
                    f"RabbitX holds an order with client_order_id {request.client_order_id!r} already ({exc})",
                    at_exchange=True,
                ) from exc
            raise
        return Order.from_json(row)

    async def cancel_order(self, market_id: str, order_id: str) -> None:
        """Ask the exchange to cancel; it answers "canceling" and decides later (a fill may still win the race)."""
        await self.client.cancel_order(market_id, order_id)

    async def order(self, order_id: str) -> Order:
        return Order.from_json(await self.client.order(order_id))

    async def find_order(self, market_id: str, client_order_id: str) -> Order | None:
        """The account's order with `client_order_id` on `market_id`, or None if the exchange never received it.
        (RabbitX answers a look-up by client_order_id only with its market_id, since 13 December 2024.)"""
        rows = await self.client.orders(market_id=market_id, client_order_id=client_order_id)
        return Order.from_json(rows[0]) if rows else None

    async def open_orders(self, market_id: str | None = None) -> list[Order]:
        """The account's resting orders (status open), on one market or all."""
        params = {"status": OrderStatus.OPEN.value}
        if market_id is not None:
            params["market_id"] = market_id
        return [Order.from_json(row) for row in await self._pages(self._private_get("/orders"), params)]

    # ------------------------------------------------------------------ fills

    async def fills_since(self, start_time: int, market_id: str | None = None) -> list[Fill]:
        """The account's fills at or after `start_time` (microseconds), oldest first, read over REST (no store)."""
        return await fetch_fills_since(self.client, start_time, market_id)

    def fill_feed(self, start_time: int = 0) -> FillFeed:
        """The account's fills as they happen, each once across reconnects and restarts (see `FillFeed`).
        `start_time` (microseconds) is where the first run ever starts reading; later runs go on from the store."""
        if self._session is None:
            raise RabbitXError("the RabbitX connector is not open: use it inside 'async with'")
        return FillFeed(self.client, self.settings, self.store, start_time)

    # ------------------------------------------------------------------ account

    async def positions(self) -> list[Position]:
        return [Position.from_json(row) for row in await self.client.positions()]

    async def balance(self) -> Balance:
        return Balance.from_json(await self.client.account())

    async def balance_operations(self, ops_type: str) -> list[BalanceOperation]:
        """Every balance operation of one type (``deposit``, ``withdrawal``, ``funding``, ...), oldest first."""
        rows = await self._pages(self._private_get("/balanceops"), {"ops_type": ops_type})
        return sorted((BalanceOperation.from_json(row) for row in rows), key=lambda op: op.timestamp)

    async def withdrawals(self) -> list[Withdrawal]:
        """Every withdrawal the account asked for, with its signed claim where the exchange has made it."""
        rows = await self._pages(self._private_get("/balanceops"), {"ops_type": "withdrawal"})
        return [Withdrawal.from_json(row) for row in rows]

    async def funding_rates(self, market_id: str, start_time: int = 0) -> list[FundingRate]:
        """The funding periods of `market_id` at or after `start_time` (microseconds; 0: all), oldest first, each
        once. Read oldest first, so a period paid while the pages are read lands after them, not between them (newest
        first, it would push one row onto the next page, read twice); a period that still comes twice is kept once,
        by its time (the market pays one period at a time)."""
        params = {"market_id": market_id, "p_order": "ASC"}
        if start_time:
            params["start_time"] = str(start_time)
        rows = await self._pages(lambda p: self.client.public("/markets/fundingrate", p), params)
        periods: dict[int, FundingRate] = {}
        for row in rows:
            rate = FundingRate.from_json(row)
            periods.setdefault(rate.timestamp, rate)
        return sorted(periods.values(), key=lambda r: r.timestamp)

    async def order_book(self, market_id: str) -> OrderBook:
        """The market's book as the exchange publishes it (public, unsigned)."""
        rows = await self.client.public("/markets/orderbook", {"market_id": market_id})
        if len(rows) != 1:
            raise RabbitXResponseError(f"the order book of {market_id} came as {len(rows)} rows, not one")
        return OrderBook.from_json(rows[0])

    def _private_get(self, path: str) -> Callable[[dict[str, str]], Awaitable[list[Any]]]:
        return lambda params: self.client.private("GET", path, params=params)

    @staticmethod
    async def _pages(fetch: Callable[[dict[str, str]], Awaitable[list[Any]]], params: dict[str, str]) -> list[Any]:
        """Every row of a paged listing (RabbitX's ``p_limit`` and ``p_page``)."""
        rows: list[Any] = []
        page = 0
        while True:
            batch = await fetch({**params, "p_limit": str(PAGE_SIZE), "p_page": str(page)})
            rows.extend(batch)
            if len(batch) < PAGE_SIZE:
                return rows
            page += 1

    async def request_withdrawal(self, amount: Decimal) -> Withdrawal:
        """Ask the exchange to pay `amount` of collateral out: it is debited at once, "pending" for the processing
        blocks its amount's tier takes, then "claimable" and claimed on chain with the exchange's signature."""
        if amount <= 0:
            raise RabbitXError(f"withdrawal amount must be positive, got {amount}")
        return Withdrawal.from_json(await self.client.withdraw(amount))

    async def withdrawal_claim(self, withdrawal: Withdrawal) -> Withdrawal:
        """`withdrawal` with its signed claim: as listed if the listing carried it, else asked for
        (``POST /balanceops/claim``). Only a claimable withdrawal has one."""
        if withdrawal.claim is not None or not withdrawal.claimable:
            return withdrawal
        claimed = Withdrawal.from_json(await self.client.claim_withdrawal(withdrawal.withdrawal_id))
        if claimed.withdrawal_id != withdrawal.withdrawal_id:
            raise RabbitXResponseError(
                f"asked for the claim of withdrawal {withdrawal.withdrawal_id}, got {claimed.withdrawal_id}'s"
            )
        return claimed

    async def cancel_withdrawal(self, withdrawal_id: str) -> Withdrawal:
        """Cancel a withdrawal not yet claimed (``POST /balanceops/cancel``): its amount goes back to the balance."""
        return Withdrawal.from_json(await self.client.cancel_withdrawal(withdrawal_id))

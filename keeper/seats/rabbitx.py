"""The keeper's seat at a RabbitX-style exchange, over order protocol v2.

Children the executor routed to the seat's venue (`commitSplit`) are placed through the exchange's API as
immediate-or-cancel limit orders at the child's limit; fills come back over the exchange's WebSocket (REST on gaps,
see the connector) and are booked on chain once each (`reportFills`, the fill id hashed into 32 bytes); a child
whose order the exchange closed with a remainder is rejected on chain with the exchange's reason, and one past its
deadline is cancelled at the exchange and expired on chain. The trading module decides where each fill goes: to the
account while its child is open, to the backstop book after.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from web3 import Web3

from keeper.client.trading import ChildOrderView, FillReport, TradingClient
from keeper.connectors.rabbitx.connector import RabbitXConnector
from keeper.connectors.rabbitx.errors import DuplicateClientOrderIdError, RabbitXError
from keeper.connectors.rabbitx.models import Fill, Order, OrderRequest
from keeper.connectors.rabbitx.vocabulary import OrderStatus, OrderType, Side, TimeInForce
from keeper.exceptions import TransactionReverted

log = logging.getLogger("primevault.keeper")

FINAL = frozenset({OrderStatus.CLOSED, OrderStatus.REJECTED, OrderStatus.CANCELED})


@dataclass(frozen=True)
class SeatReport:
    """What one cycle of the seat did."""

    placed: tuple[int, ...] = ()  # child ids
    rejected: tuple[int, ...] = ()
    expired: tuple[int, ...] = ()


class RabbitXSeat:
    def __init__(
        self,
        trading: TradingClient,
        connector: RabbitXConnector,
        venue_id: int,
        base_decimals: int,
        market_ids: Mapping[str, str] | None = None,
    ) -> None:
        """`market_ids` maps the deployment's tickers to the exchange's market ids where they differ."""
        self.trading = trading
        self.connector = connector
        self.venue_id = venue_id
        self.base_decimals = base_decimals
        self.market_ids = dict(market_ids or {})
        self.chain_id = int(trading.w3.eth.chain_id)
        self._orders: dict[int, Order] = {}  # child id -> the exchange's order, as last seen
        self._next_child = 0  # children below this id are finished

    def client_order_id(self, child_id: int) -> str:
        """Unique per exchange account and derived from the child, so that after a restart or a timeout
        `find_order` says whether the child's order arrived."""
        return f"pv{self.chain_id}-v{self.venue_id}-c{child_id}"

    def child_id(self, client_order_id: str) -> int | None:
        prefix = f"pv{self.chain_id}-v{self.venue_id}-c"
        if not client_order_id.startswith(prefix) or not client_order_id[len(prefix) :].isdigit():
            return None
        return int(client_order_id[len(prefix) :])

    def venue_fill_id(self, fill: Fill) -> bytes:
        """32 bytes for the exchange's fill id, as the contract books each id once."""
        return bytes(Web3.keccak(text=f"rabbitx:{fill.fill_id}"))

    # ------------------------------------------------------------------ the cycle

    async def cycle(self, now: int) -> SeatReport:
        """Places new children, then closes the ones the exchange finished or whose deadline passed. Fills are
        reported by `report` as the fill feed passes them on, so run `forward_fills` alongside."""
        children = await asyncio.to_thread(self.trading.child_orders, self._next_child, self.venue_id)
        open_children = [c for c in children if c.status == "open"]
        placed, rejected, expired = [], [], []
        for child in open_children:
            if child.deadline < now:
                await self._expire(child)
                expired.append(child.child_id)
            elif child.child_id not in self._orders:
                if await self._place(child) is not None:
                    placed.append(child.child_id)
            elif await self._finished_with_remainder(child):
                rejected.append(child.child_id)
        # Every child below the lowest one still open is finished: the next cycle reads from there, not from 0.
        if children:
            self._next_child = min((c.child_id for c in open_children), default=children[-1].child_id + 1)
        return SeatReport(tuple(placed), tuple(rejected), tuple(expired))

    async def forward_fills(self, start_time_us: int = 0) -> None:
        """Reports every fill of the seat's account on chain as it arrives, each once, until cancelled."""
        async with self.connector.fill_feed(start_time_us) as feed:
            await feed.forward(self.report)

    async def report(self, fill: Fill) -> None:
        """Books one fill on chain. A fill the account cannot take (its checks fail) closes the child first, so the
        fill goes to the backstop book, which the keeper unwinds: a fill the venue made is never dropped."""
        child_id = self.child_id(fill.client_order_id)
        if child_id is None:
            log.warning(
                "fill %s of order %s is not one of this seat's children: not reported", fill.fill_id, fill.order_id
            )
            return
        # A rebate (negative fee) is not credited on chain: the protocol's side of the rounding.
        fee = max(int((fill.fee.scaleb(self.base_decimals)).to_integral_value(ROUND_CEILING)), 0)
        report = FillReport(child_id, self.venue_fill_id(fill), fill.price, fill.size, fee)
        try:
            await asyncio.to_thread(self.trading.report_fills, [report])
        except TransactionReverted as exc:
            log.error(
                "fill %s of child %d refused for its account (%s): closing the child", fill.fill_id, child_id, exc.error
            )
            await asyncio.to_thread(self.trading.reject_child, child_id, str(exc.error).encode())
            await asyncio.to_thread(self.trading.report_fills, [report])
        log.info(
            "child %d: %s %s at %s reported (venue fill %s)", child_id, fill.side, fill.size, fill.price, fill.fill_id
        )

    # ------------------------------------------------------------------ steps

    async def _place(self, child: ChildOrderView) -> Order | None:
        cid = self.client_order_id(child.child_id)
        market = self.market_ids.get(child.market, child.market)
        request = OrderRequest(
            market,
            Side.LONG if child.size > 0 else Side.SHORT,
            abs(child.size) - child.filled,
            child.limit_price,
            cid,
            OrderType.LIMIT,
            TimeInForce.IMMEDIATE_OR_CANCEL,
        )
        try:
            order: Order | None = await self.connector.place_order(request)
        except DuplicateClientOrderIdError:
            order = await self.connector.find_order(market, cid)  # placed before a restart
            if order is None:
                log.error(
                    "child %d: its order id %s was used but the exchange never got it; it will expire",
                    child.child_id,
                    cid,
                )
                return None
        except RabbitXError as exc:
            log.error("child %d refused by the exchange: %s", child.child_id, exc)
            await asyncio.to_thread(self.trading.reject_child, child.child_id, str(exc).encode())
            return None
        assert order is not None
        self._orders[child.child_id] = order
        return order

    async def _finished_with_remainder(self, child: ChildOrderView) -> bool:
        """Rejects the child on chain once the exchange has closed its order and every fill it made is booked
        (reporting a fill after the rejection would send it to the backstop)."""
        order = await self.connector.order(self._orders[child.child_id].order_id)
        self._orders[child.child_id] = order
        if order.status not in FINAL or order.filled_size > child.filled:
            return False
        reason = order.reason or f"the exchange {order.status} the order with {abs(child.size) - child.filled} unfilled"
        await asyncio.to_thread(self.trading.reject_child, child.child_id, reason.encode())
        return True

    async def _expire(self, child: ChildOrderView) -> None:
        order = self._orders.get(child.child_id)
        if order is not None and order.status not in FINAL:
            try:
                await self.connector.cancel_order(order.market_id, order.order_id)
            except RabbitXError as exc:
                log.warning("child %d: cancelling its order at the exchange failed: %s", child.child_id, exc)
        await asyncio.to_thread(self.trading.expire_child, child.child_id)

    async def reconcile(self) -> list[str]:
        """Mismatches between the exchange's positions and the trading module's netted book at this venue."""
        held = {p.market_id: p.signed_size for p in await self.connector.positions()}
        mismatches = []
        for market_id, market in enumerate(self.trading.deployment.markets):
            exchange_market = self.market_ids.get(market.ticker, market.ticker)
            booked = Decimal(await asyncio.to_thread(self.trading.net_position, market_id, self.venue_id)) / 10**18
            at_exchange = held.get(exchange_market, Decimal(0))
            if booked != at_exchange:
                mismatches.append(f"{market.ticker}: books {booked}, exchange {at_exchange}")
        return mismatches

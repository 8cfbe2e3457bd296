"""The orders job: executes open orders with the router's split, or commits them to the keeper's seat when one is
configured (order protocol v2), and cancels expired ones."""

from __future__ import annotations

import logging

from keeper.chain.revert import DecodedError
from keeper.client.trading import ChildSpec, OrderView, TradingClient
from keeper.exceptions import DryRun, TransactionReverted
from keeper.jobs.context import JobContext

log = logging.getLogger("primevault.keeper")

MAX_ORDERS_PER_BATCH = 20


class OrdersJob:
    name = "orders"

    def __init__(self, context: JobContext) -> None:
        self.context = context
        self._next_order = 0  # orders below it are closed
        self._trading_paused = False

    def run(self) -> None:
        """Executes open orders with the router's split and cancels expired ones. An order the contract refuses
        (reduce-only larger than the position, a limit the venues cannot meet, a revoked operator) is cancelled
        on chain with its reason and the rest of its batch executes. While trading is paused the contract
        executes nothing, so the job is skipped (one log line when the pause starts, one when it ends)."""
        c = self.context
        trading = c.trading
        if trading is None or not c.runs(self.name):
            return
        if c.vault.trading_paused():
            if not self._trading_paused:
                log.info("trading is paused: the orders job is skipped and open orders wait")
            self._trading_paused = True
            return
        if self._trading_paused:
            log.info("trading resumed: executing open orders")
            self._trading_paused = False
        count = trading.order_count()
        now = int(c.w3.eth.get_block("latest")["timestamp"])
        open_orders = []
        for order_id in range(self._next_order, count):
            order = trading.order(order_id)
            if order.status != "open":
                continue
            if order.deadline < now:
                c.send("cancel expired order", trading.cancel, order_id)
            else:
                open_orders.append(order)
        open_ids = [order.order_id for order in open_orders]
        self._next_order = min(open_ids, default=count)
        if c.config.seat_venue:
            self._commit_to_seat(trading, open_orders, now)
            return
        for start in range(0, len(open_ids), MAX_ORDERS_PER_BATCH):
            self._execute(trading, open_ids[start : start + MAX_ORDERS_PER_BATCH])

    def _commit_to_seat(self, trading: TradingClient, orders: list[OrderView], now: int) -> None:
        """Routes each order whole to the seat's venue as one child (`commitSplit`) at the order's limit, living
        `child_ttl` seconds at most; the seat job trades it at the exchange. Orders the contract refuses to commit
        are cancelled on chain in one transaction (`cancel_unroutable`), each logged and counted with the reason
        the commit was refused for."""
        c = self.context
        config = c.config
        assert config.seat_venue is not None
        venue_id = trading.venue_id(config.seat_venue)
        refused: dict[int, DecodedError] = {}
        for order in orders:
            spec = ChildSpec(
                venue_id, abs(order.size), order.limit_price, min(order.deadline, now + int(config.child_ttl))
            )
            try:
                child_id = trading.commit_split(order.order_id, [spec])
            except DryRun as exc:
                log.info("%s", exc)
                continue
            except TransactionReverted as exc:
                if self._paused_meanwhile(exc):
                    return
                if exc.error.name != "OrderNotOpen":  # closed since it was listed
                    refused[order.order_id] = exc.error
                continue
            c.metrics.orders_routed.inc()
            log.info("order %d committed to the seat at %s as child %d", order.order_id, config.seat_venue, child_id)
        if not refused:
            return
        try:
            outcomes = trading.cancel_unroutable(list(refused))
        except DryRun as exc:
            log.info("%s", exc)
            return
        except TransactionReverted as exc:
            c.count_revert("cancel unroutable orders", exc)
            return
        for outcome in outcomes:
            reason = refused[outcome.order_id]
            c.metrics.orders_cancelled.labels(reason.name).inc()
            log.warning("order %d cannot be committed to the seat (%s): cancelled", outcome.order_id, reason)

    def _execute(self, trading: TradingClient, order_ids: list[int]) -> None:
        """Executes `order_ids` in one transaction. The contract cancels an order that fails inside it, so only
        a pause (the orders wait) or something unforeseen reverts the whole batch; then each order is sent
        alone, so that one cannot hold up the others."""
        c = self.context
        try:
            outcomes = trading.execute(order_ids, skip_closed=True)
        except DryRun as exc:
            log.info("%s", exc)
            return
        except TransactionReverted as exc:
            if self._paused_meanwhile(exc):
                return
            c.count_revert("execute orders", exc)
            if len(order_ids) > 1:
                for order_id in order_ids:
                    self._execute(trading, [order_id])
            return
        for outcome in outcomes:
            if outcome.executed:
                c.metrics.orders_executed.inc()
            else:
                c.metrics.orders_cancelled.labels(outcome.reason.name if outcome.reason else "unknown").inc()
                log.warning("order %d cancelled: %s", outcome.order_id, outcome.reason)

    def _paused_meanwhile(self, exc: TransactionReverted) -> bool:
        """Whether `exc` is trading paused after the job looked: the orders wait (one log line)."""
        if exc.error.name != "Paused":
            return False
        log.info("trading was paused before the orders landed: they wait")
        self._trading_paused = True
        return True

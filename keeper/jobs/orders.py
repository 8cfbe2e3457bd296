"""The orders job: executes open orders with the router's split, or routes them across the keeper's seats when seats
are configured (order protocol v2, over the order books the seats read), and cancels expired ones."""

from __future__ import annotations

import dataclasses
import logging
from decimal import Decimal

from keeper.chain.revert import DecodedError
from keeper.client.trading import ChildSpec, OrderView, TradingClient
from keeper.client.venues import VENUE_FAILURES, failure_reason, node_failure
from keeper.exceptions import DryRun, PrimeVaultError, TransactionReverted
from keeper.jobs.context import JobContext
from keeper.risk.band import child_limit
from keeper.routing import BUY, SELL, BookOrder, reduce_only_split, reducible, route_books

log = logging.getLogger("primevault.keeper")

MAX_ORDERS_PER_BATCH = 20
# Commit refusals that pass, after which an order waits for the next round (or its deadline) instead of being
# cancelled: its mark unusable (a feed stale or invalid) or moved past the band since the keeper read it.
WAITS_ON = frozenset({"OracleStalePrice", "OracleInvalidPrice", "PriceOutsideBand"})
# A reduce-only child past what its seat's position leaves after the account's other open reduce-only children
# there: it passes when they end (immediate-or-cancel, within `child_ttl`), if the positions hold the order.
REDUCE_ONLY_HELD = "AsyncOrderReduceOnlyBeyondPosition"
WAD = Decimal(10) ** 18


def _wad(amount: Decimal) -> int:
    return int(amount.scaleb(18))


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
        if c.config.seat_venues:
            self._commit_to_seats(trading, open_orders, now)
            return
        for start in range(0, len(open_ids), MAX_ORDERS_PER_BATCH):
            self._execute(trading, open_ids[start : start + MAX_ORDERS_PER_BATCH])

    def _commit_to_seats(self, trading: TradingClient, orders: list[OrderView], now: int) -> None:
        """Routes each order across the seats (`commitSplit`, one child per seat at the order's limit cut to the price
        band, living `child_ttl` seconds at most); the seat job trades the children at the venues. A reduce-only order
        whose positions are only at venues that fill on chain executes there. Orders the contract refuses to commit
        are cancelled on chain in one transaction (`cancel_unroutable`), each logged and counted with the reason the
        commit was refused for, but for refusals that pass (`WAITS_ON`): those orders wait for the next round."""
        c = self.context
        refused: dict[int, DecodedError] = {}
        steps: dict[str, list[Decimal]] = {}  # each seat's size step per market, read once a run where needed
        for order in orders:
            mark = self._mark(order)
            if mark is None:
                continue
            held = {p.venue: p.size for p in trading.positions(order.account) if p.market == order.market}
            split, fits = self._seat_split(trading, order, mark, held, steps)
            if order.reduce_only and not split:
                self._execute(trading, [order.order_id])  # its positions are at venues that fill on chain
                continue
            deadline = min(order.deadline, now + int(c.config.child_ttl))
            limit = child_limit(order.limit_price, mark, BUY if order.size > 0 else SELL)
            specs = [ChildSpec(v, size, limit, deadline) for v, size in split]
            c.may_send("commit order to the seats")
            try:
                first = trading.commit_split(order.order_id, specs)
            except DryRun as exc:
                log.info("%s", exc)
                continue
            except TransactionReverted as exc:
                if self._paused_meanwhile(exc):
                    return
                name = exc.error.name
                # Closed since it was listed, or a refusal that passes: the mark unusable or moved past the band
                # since it was read, a position held by the account's other reduce-only children until they end.
                if name != "OrderNotOpen" and name not in WAITS_ON and not (name == REDUCE_ONLY_HELD and fits):
                    refused[order.order_id] = exc.error
                continue
            c.metrics.orders_routed.inc()
            parts = ", ".join(f"{trading.venue_name(s.venue_id)} {s.size}" for s in specs)
            log.info("order %d committed to the seats as children from %d: %s", order.order_id, first, parts)
        if not refused:
            return
        c.may_send("cancel unroutable orders")
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
            log.warning("order %d cannot be committed to the seats (%s): cancelled", outcome.order_id, reason)

    def _mark(self, order: OrderView) -> Decimal | None:
        """The order's market mark, or None (the order waits) where its feed cannot price it now: the contract reads
        the mark at every commit."""
        c = self.context
        try:
            mark = c.clients.feed(c.deployment.market(order.market).feed).price()
        except VENUE_FAILURES as exc:
            if node_failure(exc):
                raise
            log.debug("order %d waits: its mark cannot be read (%s)", order.order_id, failure_reason(exc))
            return None
        return mark if mark > 0 else None

    def _seat_split(
        self,
        trading: TradingClient,
        order: OrderView,
        mark: Decimal,
        held: dict[str, Decimal],
        steps: dict[str, list[Decimal]],
    ) -> tuple[list[tuple[int, Decimal]], bool]:
        """The order's size per seat venue, and whether it fits what the seats can take: the book router's split over
        the books the seats last read, the account's positions (`held`, by venue name) closed first
        (`keeper.routing.route_books`). With one seat, or no books read yet, or books too thin for the whole order, it
        goes whole to one seat (the deepest), whose venue fills what it can within the limit; the rest of an IOC child
        is rejected there, never filled worse. A reduce-only order goes where the positions it reduces are, each
        rounded up onto the seat's step (`keeper.routing.reduce_only_split`; `steps` keeps each market's seat steps
        for the run); none when no seat holds any of them."""
        c = self.context
        seats = [trading.venue_id(name) for name in c.config.seat_venues]
        if order.reduce_only:
            if order.market not in steps:
                market_id, adapters = trading.market_id(order.market), trading.adapters()
                steps[order.market] = [Decimal(adapters[v].market(market_id).step_size) / WAD for v in seats]
            at_seats = [
                (v, held.get(trading.venue_name(v), Decimal(0)), step)
                for v, step in zip(seats, steps[order.market], strict=True)
            ]
            room = sum(reducible(p, step, order.size) for _, p, step in at_seats)
            if room == 0 and any(reducible(p, Decimal(0), order.size) for p in held.values()):
                return [], False
            return reduce_only_split(order.size, at_seats), room >= abs(order.size)
        books = [(v, c.books.get(v, order.market)) for v in seats]
        known = [(v, b) for v, b in books if b is not None]
        if len(seats) == 1 or not known:
            return [(seats[0], abs(order.size))], True
        side = BUY if order.size > 0 else SELL
        venues = [dataclasses.replace(b, position=_wad(held.get(trading.venue_name(v), Decimal(0)))) for v, b in known]
        try:
            split = route_books(BookOrder(_wad(abs(order.size)), side, _wad(mark)), venues)
        except PrimeVaultError as exc:
            deepest = max(known, key=lambda vb: sum(level.size for level in vb[1].levels(side)))[0]
            log.warning("order %d: %s; sent whole to %s", order.order_id, exc, trading.venue_name(deepest))
            return [(deepest, abs(order.size))], True
        return [(v, Decimal(f.size) / WAD) for (v, _), f in zip(known, split.fills, strict=True) if f.size], True

    def _execute(self, trading: TradingClient, order_ids: list[int]) -> None:
        """Executes `order_ids` in one transaction. The contract cancels an order that fails inside it, so only
        a pause (the orders wait) or something unforeseen reverts the whole batch; then each order is sent
        alone, so that one cannot hold up the others."""
        c = self.context
        c.may_send("execute orders")
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

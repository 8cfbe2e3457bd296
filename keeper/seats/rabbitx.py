"""The seat's venue side at a RabbitX-style exchange (`RabbitXVenue`), and `RabbitXSeat`, the seat wired to it.

The seat's account at the exchange is the seat adapter's (`RabbitXSeatAdapter`, onboarded with the keeper's key,
which the adapter names in `isValidSigner`). Orders go through the exchange's API with a client order id derived from
the child (so a restart finds an order placed before it); fills come over the exchange's WebSocket with REST on gaps
(the connector passes each on once); margin is deposited into the exchange's custody contract by the adapter, and
comes back through a withdrawal requested over the API and paid out of custody with the exchange's signed claim.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from decimal import ROUND_FLOOR, Decimal

from keeper.client.custody import CustodyClient
from keeper.client.trading import TradingClient
from keeper.connectors.rabbitx.connector import RabbitXConnector
from keeper.connectors.rabbitx.errors import (
    ORDER_NOT_FOUND,
    DuplicateClientOrderIdError,
    RabbitXError,
    RabbitXRateLimitError,
    RabbitXRequestError,
)
from keeper.connectors.rabbitx.models import Fill, Order, OrderRequest, Withdrawal
from keeper.connectors.rabbitx.vocabulary import OrderStatus, OrderType, Side, TimeInForce
from keeper.seats.seat import (
    BookSide,
    FundingPeriod,
    Seat,
    SeatBalance,
    SeatFill,
    SeatOrder,
    SeatOrderRefusedError,
    SeatOrderRequest,
    SeatOrderUnknownError,
    SeatPosition,
)

log = logging.getLogger("primevault.keeper")

FINAL = frozenset({OrderStatus.CLOSED, OrderStatus.REJECTED, OrderStatus.CANCELED})
FUNDING_PERIOD_SECONDS = 3600  # RabbitX pays funding hourly
FUNDING_REFRESH = 60.0
"""Seconds between reads of a market's new funding periods: RabbitX pays one an hour, and each read costs 10 of the
1,200 request tokens a minute RabbitX allows an IP (rabbitx-docs `rate-limits.md`)."""
KEEP_ORDER_CHILDREN = 10_000
"""How many exchange order ids the venue remembers the child of, for fills that name only their order."""
UNLISTED_ORDER_PATIENCE = 300.0
"""Seconds a fill's order may go unlisted at the exchange (its REST listing lagging its WebSocket: an IOC order filled
before `place_order` returned) before its fills are given up as childless, with an ALERT: until then each look-up that
finds no order raises, so the fills are passed on again."""


class RabbitXVenue:
    name = "rabbitx"
    funding_period_seconds = FUNDING_PERIOD_SECONDS

    def __init__(
        self,
        connector: RabbitXConnector,
        custody: CustodyClient,
        order_prefix: str,
        base_decimals: int,
        market_ids: Mapping[str, str] | None = None,
        funding_refresh: float = FUNDING_REFRESH,
    ) -> None:
        """`order_prefix` makes the client order ids unique to one deployment's seat (an exchange account could serve
        more than one); `base_decimals` are the collateral's (the vault's base token's); `market_ids` maps the
        deployment's tickers to the exchange's market ids where they differ; `funding_refresh` is how often (seconds)
        a market's new funding periods are read."""
        self.connector = connector
        self.custody = custody
        self.order_prefix = order_prefix
        self.market_ids = dict(market_ids or {})
        self.funding_refresh = funding_refresh
        self._child_id = re.compile(re.escape(order_prefix) + r"(\d+)")
        self._paid: set[str] = set()  # withdrawals (the exchange's balance-op ids) custody has paid
        self._waiting: set[str] = set()  # pending withdrawals already logged
        self._canceled: set[str] = set()  # cancelled withdrawals already raised
        self.canceled_withdrawals: list[Withdrawal] = []
        """Withdrawals the exchange cancelled, as raised (ALERT) in this run."""
        self.base_decimals = base_decimals
        # Exchange order id -> its child (None: not the seat's): RabbitX's fills name their order, and need not carry
        # its client order id (its docs' fill rows have none).
        self._order_children: OrderedDict[str, int | None] = OrderedDict()
        # Exchange order id -> when (time.monotonic) a fill's look-up of it first found it unlisted.
        self._unlisted: OrderedDict[str, float] = OrderedDict()
        # Market -> its funding periods read so far, oldest first, and when they were last read (time.monotonic).
        self._funding: dict[str, list[FundingPeriod]] = {}
        self._funding_read_at: dict[str, float] = {}

    def market(self, ticker: str) -> str:
        return self.market_ids.get(ticker, ticker)

    def client_order_id(self, child_id: int) -> str:
        return f"{self.order_prefix}{child_id}"

    def child_id(self, client_order_id: str) -> int | None:
        match = self._child_id.fullmatch(client_order_id)
        return int(match.group(1)) if match else None

    async def place(self, request: SeatOrderRequest) -> SeatOrder | None:
        cid = self.client_order_id(request.child_id)
        order_request = OrderRequest(
            request.market,
            Side.LONG if request.size > 0 else Side.SHORT,
            abs(request.size),
            request.limit,
            cid,
            OrderType.LIMIT,
            TimeInForce.IMMEDIATE_OR_CANCEL,
        )
        try:
            order: Order | None = await self.connector.place_order(order_request)
        except DuplicateClientOrderIdError as exc:
            order = await self._find_order(request.market, cid)  # placed before a restart, or its answer was lost
            if order is None and exc.at_exchange:
                # The exchange said it holds the order: not listed yet is no "never got it", which would let it expire.
                raise SeatOrderUnknownError(f"rabbitx holds order {cid} but did not list it yet") from None
        except RabbitXRateLimitError as exc:
            # Not carried out, and no refusal of the order (rejecting the child would send the fills of a later
            # placing to the backstop): the next cycle places it again, once the exchange's wait is over.
            wait = exc.retry_after
            raise SeatOrderUnknownError(f"rabbitx rate-limited its order, placed again in {wait:g}s") from None
        except RabbitXError as exc:
            if exc.answer_lost:
                raise SeatOrderUnknownError(f"rabbitx's answer to its order was lost ({exc})") from None
            raise SeatOrderRefusedError(str(exc)) from None
        return None if order is None else self._seat_order(request.child_id, order)

    async def _find_order(self, market: str, cid: str) -> Order | None:
        """The order sent with client id `cid`, None if the exchange never got it; any failure to look leaves it
        unknown (never refused: the exchange may hold it)."""
        try:
            return await self.connector.find_order(market, cid)
        except RabbitXError as exc:
            raise SeatOrderUnknownError(f"rabbitx did not say whether it holds order {cid} ({exc})") from None

    async def order_status(self, order: SeatOrder) -> SeatOrder:
        return self._seat_order(order.child_id, await self.connector.order(order.order_id))

    async def find(self, child_id: int, market: str) -> SeatOrder | None:
        order = await self._find_order(market, self.client_order_id(child_id))
        return None if order is None else self._seat_order(child_id, order)

    async def cancel(self, order: SeatOrder) -> None:
        await self.connector.cancel_order(order.market, order.order_id)

    async def forward_fills(self, report: Callable[[list[SeatFill]], Awaitable[None]]) -> None:
        async def forward(fills: list[Fill]) -> None:
            await report(await self.seat_fills(fills))

        async with self.connector.fill_feed() as feed:
            await feed.forward(forward)

    async def seat_fills(self, fills: list[Fill]) -> list[SeatFill]:
        """`fills` as the seat books them, each with its child (`seat_fill`), looking up the orders it needs."""
        for fill in fills:
            await self._learn_order(fill)
        return [self.seat_fill(fill) for fill in fills]

    async def _learn_order(self, fill: Fill) -> None:
        """Makes sure the child of a fill without a client order id is known: its order, read from the exchange
        unless the seat placed or looked at it in this run. A failed read raises, so the fills are passed on again
        (never reported without their child). An order the exchange does not list is one it has not listed yet
        (every fill of the account's channel is of one of the account's orders): that raises too, for
        `UNLISTED_ORDER_PATIENCE` seconds, and then the fill is given up as childless, with an ALERT (the
        reconciliation of the positions raises the difference it leaves)."""
        if fill.client_order_id or not fill.order_id or fill.order_id in self._order_children:
            return
        try:
            order = await self.connector.order(fill.order_id)
        except RabbitXRequestError as exc:
            if exc.code != ORDER_NOT_FOUND:
                raise
            first = self._unlisted.setdefault(fill.order_id, time.monotonic())
            while len(self._unlisted) > KEEP_ORDER_CHILDREN:
                self._unlisted.popitem(last=False)
            if time.monotonic() - first < UNLISTED_ORDER_PATIENCE:
                raise  # not listed yet: the fills come again
            del self._unlisted[fill.order_id]
            log.error(
                "ALERT seat at %s: fill %s (%s %s %s at %s) is of order %s, which the exchange has not listed for %.0f"
                " s: the fill is not reported (no child known), and the venue's position differs from the books by it",
                self.name, fill.fill_id, fill.market_id, fill.side, fill.size, fill.price, fill.order_id,
                UNLISTED_ORDER_PATIENCE,
            )  # fmt: skip
            self._remember_order(fill.order_id, None)
        else:
            self._unlisted.pop(fill.order_id, None)
            self._remember_order(order.order_id, self.child_id(order.client_order_id))

    def _remember_order(self, order_id: str, child_id: int | None) -> None:
        self._order_children[order_id] = child_id
        while len(self._order_children) > KEEP_ORDER_CHILDREN:
            self._order_children.popitem(last=False)

    def seat_fill(self, fill: Fill) -> SeatFill:
        """`fill` as the seat books it: its child from its client order id, else from its order (`_learn_order`)."""
        if fill.client_order_id:
            child_id = self.child_id(fill.client_order_id)
        else:
            child_id = self._order_children.get(fill.order_id)
        return SeatFill(
            f"{self.name}:{fill.fill_id}", child_id, fill.price, fill.size, fill.fee, fill.market_id, fill.side.sign
        )

    async def positions(self) -> list[SeatPosition]:
        return [SeatPosition(p.market_id, p.signed_size, abs(p.notional)) for p in await self.connector.positions()]

    async def balance(self) -> SeatBalance:
        balance = await self.connector.balance()
        deposits = await self.connector.balance_operations("deposit")
        return SeatBalance(
            equity=balance.equity,
            initial_margin=balance.position_margin + balance.order_margin,
            withdrawable=balance.withdrawable,
            credited_deposits=sum((d.amount for d in deposits if d.status == "success"), Decimal(0)),
        )

    async def funding(self, market: str) -> list[FundingPeriod]:
        """The market's funding periods, oldest first: the whole history once, then only the periods after the newest
        one read, at most every `funding_refresh` seconds (the seat uses the newest for the book and those after the
        ones it posted for the account, on every cycle)."""
        periods = self._funding.setdefault(market, [])
        read_at = self._funding_read_at.get(market)
        if read_at is not None and time.monotonic() - read_at < self.funding_refresh:
            return list(periods)
        # From after the newest period not dated ahead of the clock: one dated ahead (a wrong answer, which the seat
        # leaves out) would hide every real period before its date.
        now_us = time.time() * 10**6
        since = max((p.at_us + 1 for p in periods if p.at_us <= now_us), default=0)
        known = {p.at_us for p in periods}
        rates = await self.connector.funding_rates(market, since)
        periods.extend(FundingPeriod(r.timestamp, r.funding_rate) for r in rates if r.timestamp not in known)
        periods.sort(key=lambda p: p.at_us)
        self._funding_read_at[market] = time.monotonic()
        return list(periods)

    async def order_book(self, market: str) -> tuple[BookSide, BookSide]:
        book = await self.connector.order_book(market)
        return book.bids, book.asks

    async def withdraw(self, amount: Decimal) -> None:
        await self.connector.request_withdrawal(amount)

    async def pay_withdrawals(self) -> None:
        """Pays every claimable withdrawal out of custody to the seat adapter with the exchange's signed claim (anyone
        may submit it). A pending one (its processing blocks not passed) waits: it stays pending on chain, where
        `requestMarginWithdrawal` recorded it. A cancelled one is raised once as an ALERT: its amount is back in the
        account's balance but still pending on chain, where only the admin writes it off."""
        for withdrawal in await self.connector.withdrawals():
            if withdrawal.canceled:
                self._alert_canceled(withdrawal)
                continue
            if withdrawal.withdrawal_id in self._paid or withdrawal.paid or not withdrawal.claimable:
                if withdrawal.pending and withdrawal.withdrawal_id not in self._waiting:
                    self._waiting.add(withdrawal.withdrawal_id)
                    log.info(
                        "seat at %s: withdrawal %s of %s pending at the exchange (its processing blocks): claimed once"
                        " claimable", self.name, withdrawal.withdrawal_id, withdrawal.amount,
                    )  # fmt: skip
                continue
            claim = (await self.connector.withdrawal_claim(withdrawal)).claim
            if claim is None:
                log.warning("seat at %s: withdrawal %s is claimable but came without its signed claim",
                            self.name, withdrawal.withdrawal_id)  # fmt: skip
                continue
            if not await asyncio.to_thread(self.custody.is_paid, claim.withdrawal_id):
                await asyncio.to_thread(self.custody.withdraw, claim)
            self._paid.add(withdrawal.withdrawal_id)

    def _alert_canceled(self, withdrawal: Withdrawal) -> None:
        """Raises a withdrawal cancelled at the exchange, once a run: the seat adapter still counts it pending (in the
        vault's venue assets and against the margin cap) though it will never be paid, and the exchange's balance,
        which the seat posts, holds it again."""
        if withdrawal.withdrawal_id in self._canceled:
            return
        self._canceled.add(withdrawal.withdrawal_id)
        units = withdrawal.amount.scaleb(self.base_decimals).to_integral_value(ROUND_FLOOR)
        self.canceled_withdrawals.append(withdrawal)
        log.error(
            "ALERT seat at %s: withdrawal %s of %s was cancelled at the exchange (status %r): its amount is back in the"
            " account's balance there and will never be paid, but the seat adapter still counts it pending: the admin"
            " writes it off with writeOffPendingWithdrawals(%d, reason) on the seat adapter (if it was recorded on"
            " chain by requestMarginWithdrawal), and the seat asks for margin back again if it still holds too much",
            self.name, withdrawal.withdrawal_id, withdrawal.amount, withdrawal.status, units,
        )  # fmt: skip

    def _seat_order(self, child_id: int, order: Order) -> SeatOrder:
        self._remember_order(order.order_id, child_id)
        done = order.status in FINAL
        return SeatOrder(child_id, order.market_id, order.order_id, done, order.filled_size, order.reason)


class RabbitXSeat(Seat):
    """The seat at a RabbitX-style exchange: a `Seat` over a `RabbitXVenue` on `connector`, with the exchange's custody
    contract from the deployment's venue `venue_id`."""

    def __init__(
        self,
        trading: TradingClient,
        connector: RabbitXConnector,
        venue_id: int,
        market_ids: Mapping[str, str] | None = None,
        unwind_ttl: int = 60,
        funding_refresh: float = FUNDING_REFRESH,
    ) -> None:
        custody = CustodyClient(trading.w3, trading.deployment.venues[venue_id].address, trading.sender)
        prefix = f"pv{int(trading.w3.eth.chain_id)}-v{venue_id}-c"
        venue = RabbitXVenue(connector, custody, prefix, trading.deployment.base.decimals, market_ids, funding_refresh)
        super().__init__(trading, venue, venue_id, unwind_ttl)
        self.rabbitx = venue  # the venue's own side, typed: what only RabbitX has (its cancelled withdrawals)

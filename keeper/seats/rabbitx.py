"""The keeper's seat at a RabbitX-style exchange, over order protocol v2.

Children the executor routed to the seat's venue (`commitSplit`) are placed through the exchange's API as
immediate-or-cancel limit orders at the child's limit; fills come back over the exchange's WebSocket (REST on gaps,
see the connector) and are booked on chain once each (`reportFills`, the fill id hashed into 32 bytes); a child
whose order the exchange closed with a remainder is rejected on chain with the exchange's reason, and one past its
deadline is cancelled at the exchange and expired on chain. The trading module decides where each fill goes: to the
account while its child is open, to the backstop book after.

The seat's account at the exchange is the seat adapter's (`RabbitXSeatAdapter`, onboarded with the keeper's key, which
the adapter names in `isValidSigner`). Each cycle the seat also posts the exchange's view of that account on chain
(`post_account`: positions, funding, margin, credited deposits), keeps its margin between a floor and a ceiling
(`manage_margin`: deposits into custody; withdrawals requested through the API, recorded on chain, paid out of custody
with the exchange's signature and collected into the vault), and closes the backstop book at its venue
(`unwind_backstop`: a child committed with `commitBackstopUnwind`, placed as an IOC order, its fills booked to the
backstop).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from web3 import Web3

from keeper.client.adapters import SeatAccountReport
from keeper.client.custody import CustodyClient
from keeper.client.feeds import FeedClient
from keeper.client.tokens import TokenClient
from keeper.client.trading import ChildOrderView, FillReport, TradingClient
from keeper.connectors.rabbitx.connector import RabbitXConnector
from keeper.connectors.rabbitx.errors import DuplicateClientOrderIdError, RabbitXError
from keeper.connectors.rabbitx.models import BalanceOperation, Fill, Order, OrderRequest
from keeper.connectors.rabbitx.vocabulary import OrderStatus, OrderType, Side, TimeInForce
from keeper.exceptions import TransactionReverted
from keeper.risk.backstop import unwind_limit
from keeper.risk.margin import MarginPolicy, venue_requirement

log = logging.getLogger("primevault.keeper")

FINAL = frozenset({OrderStatus.CLOSED, OrderStatus.REJECTED, OrderStatus.CANCELED})
WAD = Decimal(10) ** 18
PPM = Decimal(10) ** 6


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
        market_ids: Mapping[str, str] | None = None,
        unwind_ttl: int = 60,
    ) -> None:
        """`market_ids` maps the deployment's tickers to the exchange's market ids where they differ; `unwind_ttl`
        is how long a backstop unwind child lives (seconds)."""
        self.trading = trading
        self.connector = connector
        self.venue_id = venue_id
        deployment = trading.deployment
        self.base_decimals = deployment.base.decimals
        self.market_ids = dict(market_ids or {})
        self.unwind_ttl = unwind_ttl
        self.chain_id = int(trading.w3.eth.chain_id)
        self.adapter = trading.seat_adapter(venue_id)
        self.custody = CustodyClient(trading.w3, deployment.venues[venue_id].address, trading.sender)
        self.base_token = TokenClient(trading.w3, deployment.base)
        self.feeds = [FeedClient(trading.w3, m.feed) for m in deployment.markets]
        self._orders: dict[int, Order] = {}  # child id -> the exchange's order, as last seen
        self._next_child = 0  # children below this id are finished
        self._posted: SeatAccountReport | None = None
        self._funding_seen: dict[int, int] = {}  # market id -> newest funding period folded into the posted index
        self._paid: set[int] = set()  # withdrawal ids custody has paid
        self._unwinds: dict[int, tuple[int, int]] = {}  # market id -> (unwind child id, its deadline)
        self._ticks: dict[str, Decimal] = {}  # ticker -> the exchange's price tick, as the seat adapter has it

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

    async def _place(self, child: ChildOrderView, reject_refused: bool = True) -> Order | None:
        cid = self.client_order_id(child.child_id)
        market = self._exchange_market(child.market)
        # The exchange takes prices on its tick only: a buy's limit rounds down, a sell's up, never past the child's.
        tick = await self._tick(child.market)
        limit = (child.limit_price / tick).to_integral_value(ROUND_FLOOR if child.size > 0 else ROUND_CEILING) * tick
        request = OrderRequest(
            market,
            Side.LONG if child.size > 0 else Side.SHORT,
            abs(child.size) - child.filled,
            limit,
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
            if reject_refused:
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
            exchange_market = self._exchange_market(market.ticker)
            booked = Decimal(await asyncio.to_thread(self.trading.net_position, market_id, self.venue_id)) / 10**18
            at_exchange = held.get(exchange_market, Decimal(0))
            if booked != at_exchange:
                mismatches.append(f"{market.ticker}: books {booked}, exchange {at_exchange}")
        return mismatches

    # ------------------------------------------------------------------ the account on chain

    async def post_account(self) -> SeatAccountReport | None:
        """Posts the exchange's view of the seat's account on chain when it changed since the last post: positions,
        funding indexes (the on-chain index plus rate x oracle mark of each funding period since), equity (rounded
        down), margins (rounded up) and the deposits the exchange credited. Returns what was posted, or None."""
        positions = {p.market_id: p for p in await self.connector.positions()}
        balance = await self.connector.balance()
        deposits = await self.connector.balance_operations("deposit")
        sizes, indexes, newest = [], [], {}
        maintenance = Decimal(0)
        for market_id, market in enumerate(self.trading.deployment.markets):
            exchange_market = self._exchange_market(market.ticker)
            position = positions.get(exchange_market)
            sizes.append(int(position.signed_size.scaleb(18)) if position else 0)
            if position is not None:
                params = await asyncio.to_thread(self.adapter.market, market_id)
                maintenance += abs(position.notional) * params.maintenance_margin_ppm / PPM
            index, newest[market_id] = await self._funding_index(market_id, exchange_market)
            indexes.append(index)
        report = SeatAccountReport(
            positions=tuple(sizes),
            funding_indexes=tuple(indexes),
            net_collateral=self._units(balance.equity, ROUND_FLOOR),
            initial_margin=self._units(balance.position_margin + balance.order_margin, ROUND_CEILING),
            maintenance_margin=self._units(maintenance, ROUND_CEILING),
            credited_deposits=self._units(_credited(deposits)),
        )
        if report == self._posted:
            return None
        await asyncio.to_thread(self.adapter.report, report)
        self._posted = report
        self._funding_seen.update(newest)
        return report

    async def _funding_index(self, market_id: int, exchange_market: str) -> tuple[int, int]:
        """The market's funding index with every funding period the posted index lacks, and the newest period's
        time (microseconds). A period is valued at the oracle mark when the seat sees it: the exchange's record
        carries no price."""
        index = await asyncio.to_thread(self.adapter.funding_index, market_id)
        if market_id not in self._funding_seen:
            # Periods up to the last post are in the index on chain already.
            self._funding_seen[market_id] = (await asyncio.to_thread(self.adapter.last_report)).reported_at * 10**6
        seen = self._funding_seen[market_id]
        periods = [r for r in await self.connector.funding_rates(exchange_market) if r.timestamp > seen]
        if not periods:
            return index, seen
        mark = await asyncio.to_thread(self.feeds[market_id].price)
        step = sum((r.funding_rate * mark for r in periods), Decimal(0))
        return index + int(step.scaleb(18).to_integral_value(ROUND_CEILING)), periods[-1].timestamp

    # ------------------------------------------------------------------ margin

    async def manage_margin(self, policy: MarginPolicy, legs: Mapping[int, int] | None = None) -> int:
        """Keeps the seat's margin between the policy's floor and ceiling of what the vault's positions at the
        exchange need (its gross `legs` from the last scan, else the netted book; see `slot_exposure`): a deposit
        goes into custody (credited after the exchange's confirmations), a withdrawal starts at the exchange
        (`withdraw_margin`). Returns the base units moved in (positive) or out (negative)."""
        marks = [await asyncio.to_thread(feed.price) for feed in self.feeds]
        exposures = await asyncio.to_thread(self.trading.venue_exposures, self.venue_id, legs)
        ppms = [(await asyncio.to_thread(self.adapter.market, m)).initial_margin_ppm for m in range(len(marks))]
        need = venue_requirement(exposures, marks, ppms, self.base_decimals)
        net = await self._margin_now()
        pending = await asyncio.to_thread(self.adapter.pending_withdrawals)
        move = policy.move(need, net, pending)
        if move > 0:
            log.info("seat: margin %d below its floor: depositing %d into custody", net, move)
            await asyncio.to_thread(self.trading.deposit_margin, self.venue_id, move)
        elif move < 0:
            move = -await self.withdraw_margin(-move)
        await self.collect_withdrawals()
        return move

    async def _margin_now(self) -> int:
        """The seat's margin as the exchange has it now (equity, rounded down) plus the deposits it has not credited
        yet: read from the exchange, not from the last post, which a withdrawal just made stale."""
        equity = self._units((await self.connector.balance()).equity)
        credited = _credited(await self.connector.balance_operations("deposit"))
        last = await asyncio.to_thread(self.adapter.last_report)
        deposited = last.credited_deposits + await asyncio.to_thread(self.adapter.deposits_in_flight)
        return equity + max(deposited - self._units(credited), 0)

    async def withdraw_margin(self, amount: int) -> int:
        """Asks the exchange for `amount` base units of margin back, capped at what it lets the account withdraw,
        then records the request on chain (`requestMarginWithdrawal`: the amount is pending, not yet the vault's) and
        collects it if the exchange signed it at once. Exchange first: it may refuse or cap, and the request on chain
        must match what it debited. Returns the base units asked for."""
        withdrawable = self._units((await self.connector.balance()).withdrawable)
        amount = min(amount, withdrawable)
        if amount <= 0:
            return 0
        log.info("seat: asking the exchange for %d of margin back", amount)
        await self.connector.request_withdrawal(Decimal(amount).scaleb(-self.base_decimals))
        await asyncio.to_thread(self.trading.request_margin_withdrawal, self.venue_id, amount)
        await self.collect_withdrawals()
        return amount

    async def collect_withdrawals(self) -> int:
        """Pays every withdrawal the exchange has signed out of custody to the seat (anyone may submit the signed
        claim) and collects the seat's tokens into the vault. Returns the base units collected."""
        for withdrawal in await self.connector.withdrawals():
            claim = withdrawal.claim
            if claim is None or claim.withdrawal_id in self._paid:
                continue
            if not await asyncio.to_thread(self.custody.is_paid, claim.withdrawal_id):
                await asyncio.to_thread(self.custody.withdraw, claim)
            self._paid.add(claim.withdrawal_id)
        if not await asyncio.to_thread(self.base_token.balance_of, self.adapter.address):
            return 0
        vault = self.trading.deployment.vault
        before = await asyncio.to_thread(self.base_token.balance_of, vault)
        await asyncio.to_thread(self.trading.claim_margin_withdrawals, self.venue_id)
        return await asyncio.to_thread(self.base_token.balance_of, vault) - before

    # ------------------------------------------------------------------ the backstop book

    async def unwind_backstop(self, now: int) -> list[int]:
        """Closes the backstop book at the seat's venue: for each market with a book here and no unwind in flight,
        commits an unwind child for the book (rounded down to the exchange's step, its limit inside the band) and
        places it as an IOC order. Its fills come back through `report` and book to the backstop. Returns the
        children placed."""
        busy = {m for m in list(self._unwinds) if not await self._unwind_finished(m, now)}
        books = [b for b in await asyncio.to_thread(self.trading.backstop) if b.venue_id == self.venue_id]
        placed = []
        for book in books:
            if book.market_id in busy:
                continue
            step = Decimal((await asyncio.to_thread(self.adapter.market, book.market_id)).step_size) / WAD
            size = (abs(book.size) / step).to_integral_value(ROUND_FLOOR) * step
            if size == 0:
                continue
            side = 1 if book.size < 0 else -1
            limit = unwind_limit(await asyncio.to_thread(self.feeds[book.market_id].price), side)
            deadline = now + self.unwind_ttl
            child_id = await asyncio.to_thread(
                self.trading.commit_backstop_unwind, book.market_id, self.venue_id, size, limit, deadline
            )
            self._unwinds[book.market_id] = (child_id, deadline)
            child = await asyncio.to_thread(self.trading.child_order, child_id)
            if await self._place(child, reject_refused=False) is not None:
                placed.append(child_id)
                log.info("seat: unwinding %s %s of the backstop book (child %d)", book.size, book.market, child_id)
        return placed

    async def _unwind_finished(self, market_id: int, now: int) -> bool:
        """Whether the market's unwind is over: its order closed at the exchange with every fill booked on chain (so
        the book read next is the book left), or its deadline passed (its order is then cancelled; a fill after that
        still books to the backstop)."""
        child_id, deadline = self._unwinds[market_id]
        order = self._orders.get(child_id)
        if order is not None and order.status not in FINAL:
            order = self._orders[child_id] = await self.connector.order(order.order_id)
        if order is None:
            del self._unwinds[market_id]
            return True
        if order.status in FINAL:
            if order.status is OrderStatus.REJECTED:
                log.warning("backstop unwind child %d: the exchange rejected its order: %s", child_id, order.reason)
            booked = (await asyncio.to_thread(self.trading.child_order, child_id)).filled
            if booked < order.filled_size and deadline >= now:
                return False
            del self._unwinds[market_id]
            return True
        if deadline >= now:
            return False
        try:
            await self.connector.cancel_order(order.market_id, order.order_id)
        except RabbitXError as exc:
            log.warning("backstop unwind child %d: cancelling its order failed: %s", child_id, exc)
        del self._unwinds[market_id]
        return True

    # ------------------------------------------------------------------ units

    async def _tick(self, ticker: str) -> Decimal:
        if ticker not in self._ticks:
            market_id = self.trading.market_id(ticker)
            self._ticks[ticker] = Decimal((await asyncio.to_thread(self.adapter.market, market_id)).tick_size) / WAD
        return self._ticks[ticker]

    def _exchange_market(self, ticker: str) -> str:
        return self.market_ids.get(ticker, ticker)

    def _units(self, amount: Decimal, rounding: str = ROUND_FLOOR) -> int:
        """`amount` of the base token in its base units."""
        return int(amount.scaleb(self.base_decimals).to_integral_value(rounding))


def _credited(deposits: list[BalanceOperation]) -> Decimal:
    """What the exchange has credited of the account's deposits."""
    return sum((d.amount for d in deposits if d.status == "success"), Decimal(0))

"""The keeper's seat at a venue that matches off chain, over order protocol v2: the logic every venue shares, written
once, over a small protocol each venue implements (`SeatVenue`; `keeper/seats/rabbitx.py`, `keeper/seats/dydx.py`).

Children the executor routed to the seat's venue (`commitSplit`) are placed at the venue as immediate-or-cancel limit
orders at the child's limit (rounded onto the venue's tick, never past the child's limit); fills come back from the
venue (RabbitX's WebSocket, dYdX's indexer) and are booked on chain once each (`reportFills`, the venue's fill id
hashed into 32 bytes with the venue's name as prefix; the contract refuses an id twice, so a restart re-reports
nothing); a child whose order the venue closed with a remainder is rejected on chain, and one past its deadline is
cancelled at the venue and expired on chain. The trading module decides where each fill goes: to the account while
its child is open, to the backstop book after.

The seat also closes the backstop book at its venue (`unwind_backstop`) and, from its account at the venue as read
once (`account`, shared by the steps that need it: each read spends the venue's request budget), reads its order book
for the orders job's router (`book`), posts the venue's view of its account on chain (`post_account`: positions,
funding, margin, credited deposits) and keeps its margin between a floor and a ceiling (`manage_margin`: deposits
through the trading module, which the seat adapter sends the venue's way; withdrawals asked of the venue, recorded on
chain, paid to the adapter the venue's way and collected into the vault).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Protocol

from web3 import Web3

from keeper.backstop import books_to_unwind, portfolio_rule_of, say_kept
from keeper.client.adapters import SeatAccountReport
from keeper.client.feeds import FeedClient
from keeper.client.tokens import TokenClient
from keeper.client.trading import ChildOrderView, FillReport, TradingClient
from keeper.exceptions import PrimeVaultError, TransactionFateUnknown, TransactionReverted
from keeper.risk.band import band_limit
from keeper.risk.margin import MarginPolicy, venue_requirement
from keeper.routing import Level, MarginLimit, VenueBook

log = logging.getLogger("primevault.keeper")

WAD = Decimal(10) ** 18
PPM = Decimal(10) ** 6

MAX_FILLS_PER_REPORT = 50
"""Fills booked in one `reportFills` transaction: about 4.1 million gas at 81,500 a fill, well within a block."""
KEEP_CHILD_SIDES = 10_000
"""How many recent children the seat remembers the market and side of, for the fills it is still reporting."""
PLACE_CONCURRENCY = 8
"""Children a cycle places at once: a burst reaches the venue together, within what its request limits take."""
FUNDING_CLOCK_AHEAD_US = 300 * 10**6
"""How far ahead of this machine's clock a venue's funding period may be dated (clocks differ a little)."""
MAX_FILL_FEE_BPS = 50
"""The trading module's bound on a fill's fee, in bps of its notional rounded up (`ConstantsLib.MAX_FILL_FEE_BPS`)."""
CHILD_EXPIRY_GRACE = 3600
"""Seconds after a child's deadline during which only the executor may expire it (`ConstantsLib.CHILD_EXPIRY_GRACE`):
the time it has to book the fills its venue made before the deadline, which expiring first would send to the
backstop book."""
REFUSED_EVEN_LATE = frozenset({"AsyncOrderUnknownChild", "AsyncOrderOverfill", "AsyncOrderFillOutsideLimit"})
"""The contract's refusals of a fill that apply to a late fill too (no such child, more than its size, outside its
limit): closing the child would not book the fill, only send the child's real fills after it to the backstop."""


class SeatOrderRefusedError(PrimeVaultError):
    """The venue refused a child's order; the message is the venue's reason, recorded on chain with the rejection."""


class SeatOrderUnknownError(PrimeVaultError):
    """The venue's answer to a child's order was lost (a timeout, a gateway error, an answer that cannot be read): the
    venue may hold the order or not, so the child stays open and the next cycle looks for the order by its client id
    (rejecting it would send the fills the venue may still make to the backstop book instead of the account)."""


@dataclass(frozen=True)
class SeatOrderRequest:
    """A child's order as the seat asks the venue for it: IOC, sized and priced on the venue's grid."""

    child_id: int
    market: str  # the venue's market id
    size: Decimal  # signed: positive buys
    limit: Decimal  # on the venue's tick, never worse than the child's limit
    reduce_only: bool  # the order only shrinks the seat's position at the venue


@dataclass(frozen=True)
class SeatOrder:
    """A child's order at the venue, as last seen."""

    child_id: int
    market: str
    order_id: str  # the venue's id of the order
    done: bool  # the venue will fill no more of it
    filled: Decimal  # absolute
    reason: str = ""  # why the venue closed it, when it says


@dataclass(frozen=True)
class SeatFill:
    """One venue fill of the seat's account."""

    fill_id: str  # unique at the venue, prefixed with the venue's name ("rabbitx:...", "dydx:...")
    child_id: int | None  # None: not one of the seat's children (a venue liquidation, another client's order)
    price: Decimal
    size: Decimal  # absolute
    fee: Decimal  # base token, positive when paid
    market: str = ""  # the venue's market, as the venue says (empty: not said)
    side: int = 0  # +1 a buy, -1 a sell, as the venue says (0: not said)


@dataclass(frozen=True)
class SeatPosition:
    market: str
    size: Decimal  # signed
    notional: Decimal  # absolute, at the venue's mark


@dataclass(frozen=True)
class SeatBalance:
    """The seat's account as the venue values it, in the base token."""

    equity: Decimal
    initial_margin: Decimal  # what the positions and open orders hold
    withdrawable: Decimal  # what the venue lets leave now
    credited_deposits: Decimal  # every deposit the venue has credited from the seat adapter, ever


@dataclass(frozen=True)
class SeatAccount:
    """The seat's account at the venue as read at one time: its positions and balance."""

    positions: tuple[SeatPosition, ...]
    balance: SeatBalance


@dataclass(frozen=True)
class FundingPeriod:
    at_us: int  # when it was paid, microseconds since the epoch
    rate: Decimal  # per period; positive: longs pay


BookSide = tuple[tuple[Decimal, Decimal], ...]
"""(price, size) levels, best first."""


class SeatVenue(Protocol):
    """What the seat needs of a venue: each implementation translates one venue's API into these calls."""

    name: str  # the fill ids' prefix
    funding_period_seconds: int

    def market(self, ticker: str) -> str:
        """The venue's market id for a deployment ticker."""
        ...

    async def place(self, request: SeatOrderRequest) -> SeatOrder | None:
        """Places the child's order, once: a child placed before a restart is found again, not placed twice. None
        when its client id was used but the venue never got the order. Raises `SeatOrderRefusedError`, or
        `SeatOrderUnknownError` when the venue's answer was lost."""
        ...

    async def order_status(self, order: SeatOrder) -> SeatOrder: ...

    async def find(self, child_id: int, market: str) -> SeatOrder | None:
        """The child's order on the venue's `market` if the venue got one (placed before a restart, or its answer
        lost), without placing it; None if it never did. Raises `SeatOrderUnknownError` while the venue cannot say."""
        ...

    async def cancel(self, order: SeatOrder) -> None:
        """Cancels what is left of the order; a fill may still win the race."""
        ...

    async def forward_fills(self, report: Callable[[list[SeatFill]], Awaitable[None]]) -> None:
        """Passes every fill of the seat's account to `report` as the venue shows it, those that arrive together in one
        list, until cancelled. A fill may come twice (after a restart): the contract books each id once."""
        ...

    async def positions(self) -> list[SeatPosition]: ...

    async def balance(self) -> SeatBalance: ...

    async def funding(self, market: str) -> list[FundingPeriod]:
        """The market's funding periods, oldest first."""
        ...

    async def order_book(self, market: str) -> tuple[BookSide, BookSide]:
        """Bids and asks, best first."""
        ...

    async def withdraw(self, amount: Decimal) -> None:
        """Asks the venue to send `amount` of the base token back to the seat adapter."""
        ...

    async def pay_withdrawals(self) -> None:
        """Completes on chain every withdrawal the venue has released (a signed claim, an attested bridge message),
        each once, so that the tokens reach the seat adapter."""
        ...


@dataclass(frozen=True)
class SeatReport:
    """What one cycle of the seat did."""

    placed: tuple[int, ...] = ()  # child ids
    rejected: tuple[int, ...] = ()
    expired: tuple[int, ...] = ()


class Seat:
    def __init__(self, trading: TradingClient, venue: SeatVenue, venue_id: int, unwind_ttl: int = 60) -> None:
        """`venue` is the venue's side of the seat; `venue_id` the seat adapter's venue id in the trading module;
        `unwind_ttl` how long a backstop unwind child lives (seconds)."""
        self.trading = trading
        self.venue = venue
        self.venue_id = venue_id
        self.unwind_ttl = unwind_ttl
        deployment = trading.deployment
        self.base = deployment.base
        self.base_decimals = deployment.base.decimals
        self.adapter = trading.seat_adapter(venue_id)
        self.base_token = TokenClient(trading.w3, deployment.base)
        self.feeds = [FeedClient(trading.w3, m.feed) for m in deployment.markets]
        self.rule = portfolio_rule_of(trading)
        self._kept: set[tuple[int, int]] = set()  # the slots here whose short is kept as a hedge, as last said
        self._orders: dict[int, SeatOrder] = {}  # child id -> its order at the venue, as last seen
        # Children whose order's answer was lost: the venue may hold the order, so it is looked for by its client id.
        self._lost: set[int] = set()
        # Child id -> (market id, buys, size) of an order sent reduce-only, while its child is open or its unwind
        # watched (`_place`).
        self._reducing: dict[int, tuple[int, bool, Decimal]] = {}
        self._next_child = 0  # children below this id are finished
        self._posted: SeatAccountReport | None = None
        self._funding_seen: dict[int, int] = {}  # market id -> newest funding period folded into the posted index
        # A report sent as the node stopped answering, with the newest period of each market it folded in: it may be
        # mined yet, and is looked for on chain until it is, or until a later report is.
        self._unconfirmed: tuple[SeatAccountReport, dict[int, int]] | None = None
        self._funding_refused: set[tuple[str, int]] = set()  # (venue market, time) of periods dated in the future
        self._unwinds: dict[int, tuple[int, int]] = {}  # market id -> (unwind child id, its deadline)
        self._unwinds_recovered = False  # the unwinds a previous run left were taken on (`_recover_unwinds`)
        # Child id -> (the venue's market, +1 buys or -1 sells), recorded as it is placed.
        self._sides: OrderedDict[int, tuple[str, int]] = OrderedDict()
        # Fill id -> (its 32-byte id on chain, the venue's market, signed size) of the fills being reported: the venue
        # holds them and the books may not yet, which is no mismatch.
        self._reporting: dict[str, tuple[bytes, str, Decimal]] = {}
        self._expiry_said: set[int] = set()  # children past their deadline whose wait for their venue was said
        self._capped = False  # the last margin check wanted a deposit the seat's margin cap held back (said once)

    @staticmethod
    def venue_fill_id(fill: SeatFill) -> bytes:
        """32 bytes for the venue's fill id, as the contract books each id once."""
        return bytes(Web3.keccak(text=fill.fill_id))

    # ------------------------------------------------------------------ the cycle

    async def cycle(self, now: int) -> SeatReport:
        """Places new children, then closes the ones the venue finished or whose deadline passed. Fills are reported
        by `report` as the venue passes them on, so run `forward_fills` alongside."""
        children = await asyncio.to_thread(self.trading.child_orders, self._next_child, self.venue_id)
        open_children = [c for c in children if c.status == "open"]
        # A backstop unwind is closed on chain from the start: its order counts while the seat watches it.
        still_open = {c.child_id for c in open_children} | {child_id for child_id, _ in self._unwinds.values()}
        self._reducing = {i: r for i, r in self._reducing.items() if i in still_open}
        new, rejected, expired = [], [], []
        for child in open_children:
            if child.deadline < now:
                if await self._expire(child, now):
                    expired.append(child.child_id)
            elif child.child_id not in self._orders:
                new.append(child)
            elif await self._finished_with_remainder(child):
                rejected.append(child.child_id)
        placed = [c.child_id for c, order in zip(new, await self._place_all(new), strict=True) if order is not None]
        # Every child below the lowest one still open is finished: the next cycle reads from there, not from 0.
        if children:
            self._next_child = min((c.child_id for c in open_children), default=children[-1].child_id + 1)
            unwinding = {child_id for child_id, _ in self._unwinds.values()}  # closed on chain, watched here
            for child_id in [i for i in self._orders if i < self._next_child and i not in unwinding]:
                del self._orders[child_id]
        return SeatReport(tuple(placed), tuple(rejected), tuple(expired))

    async def _child_side(self, child_id: int) -> tuple[str, int] | None:
        """The venue's market and the side (+1 a buy) of child `child_id`'s order: remembered from its placing, or
        read from the chain (after a restart), or None for an id the trading module does not know (which refuses
        its fills anyway)."""
        if (side := self._sides.get(child_id)) is not None:
            return side
        if child_id >= await asyncio.to_thread(self.trading.child_order_count):
            return None
        child = await asyncio.to_thread(self.trading.child_order, child_id)
        side = (self.venue.market(child.market), 1 if child.size > 0 else -1)
        self._remember_side(child_id, side)
        return side

    def _remember_side(self, child_id: int, side: tuple[str, int]) -> None:
        self._sides[child_id] = side
        while len(self._sides) > KEEP_CHILD_SIDES:
            self._sides.popitem(last=False)

    async def forward_fills(self, reported: Callable[[], object] = lambda: None) -> None:
        """Reports every fill of the seat's account on chain as the venue passes it on, until cancelled; `reported` is
        called after each report that went through (the feed and the chain both work, for a caller that never sees
        this return)."""

        async def report(fills: list[SeatFill]) -> None:
            await self.report(fills)
            reported()

        await self.venue.forward_fills(report)

    async def report(self, fills: Sequence[SeatFill]) -> None:
        """Books fills on chain, up to MAX_FILLS_PER_REPORT in one transaction (`reportFills`: in a batch of ten a fill
        costs about 81,000 gas, alone 143,000), skipping ids booked already (a restart passes fills on again).
        If a batch is refused its fills are booked one by one (`_book_alone`): a fill the account cannot take (its
        checks fail) closes the child first, so the fill goes to the backstop book, which the keeper unwinds; one the
        contract refuses even there is raised as an ALERT, and the others are booked."""
        ours: list[tuple[SeatFill, int]] = []
        for fill in fills:
            if fill.child_id is None:
                log.warning(
                    "%s fill %s is not one of this seat's children: not reported", self.venue.name, fill.fill_id
                )
                continue
            side = await self._child_side(fill.child_id)
            if side is not None and (fill.market not in ("", side[0]) or fill.side not in (0, side[1])):
                log.error(
                    "ALERT %s fill %s (child %d, %s at %s) is on %s %s, but the child's order is on %s %s: not"
                    " reported; the venue's position differs from the books by it",
                    self.venue.name, fill.fill_id, fill.child_id, fill.size, fill.price,
                    fill.market or "?", _side_name(fill.side), side[0], _side_name(side[1]),
                )  # fmt: skip
                continue
            ours.append((fill, fill.child_id))
        ids = [self.venue_fill_id(fill) for fill, _ in ours]
        used = await asyncio.to_thread(self.trading.fill_ids_used, ids)
        pending: list[tuple[SeatFill, FillReport]] = []
        for (fill, child_id), venue_fill_id, booked in zip(ours, ids, used, strict=True):
            if booked:
                continue
            # A rebate (negative fee) is not credited on chain: the protocol's side of the rounding.
            fee = max(self._units(fill.fee, ROUND_CEILING), 0)
            if fee > (bound := self._fee_bound(fill)):
                # The contract refuses a fee past its bound, which would move the child's trade, this fill and the
                # ones after it, onto the backstop book: the account is charged the bound, the venue's excess is
                # the protocol's, and an operator looks at why the venue charged it.
                log.error(
                    "ALERT %s fill %s charged a fee of %s, above the %d bps the vault books: booked at %s",
                    self.venue.name, fill.fill_id, fill.fee, MAX_FILL_FEE_BPS,
                    Decimal(bound).scaleb(-self.base_decimals),
                )  # fmt: skip
                fee = bound
            pending.append((fill, FillReport(child_id, venue_fill_id, fill.price, fill.size, fee)))
        for start in range(0, len(pending), MAX_FILLS_PER_REPORT):
            batch = pending[start : start + MAX_FILLS_PER_REPORT]
            for fill, report in batch:
                if (side := self._sides.get(report.child_id)) is not None:
                    self._reporting[fill.fill_id] = (report.venue_fill_id, side[0], fill.size * side[1])
            try:
                reported = await self._report_batch(batch)
            finally:
                for fill, _ in batch:
                    self._reporting.pop(fill.fill_id, None)
            for fill, report in reported:
                log.info("child %d: %s at %s reported (%s)", report.child_id, fill.size, fill.price, fill.fill_id)

    async def _report_batch(self, batch: list[tuple[SeatFill, FillReport]]) -> list[tuple[SeatFill, FillReport]]:
        """Books `batch` in one transaction, or one by one if it is refused; returns the fills booked."""
        try:
            await asyncio.to_thread(self.trading.report_fills, [report for _, report in batch])
        except TransactionReverted as exc:
            if len(batch) > 1:
                log.warning("a batch of %d fills was refused (%s): booking them one by one", len(batch), exc.error)
            refused = exc if len(batch) == 1 else None  # a fill alone was refused already
            return [(fill, report) for fill, report in batch if await self._book_alone(fill, report, refused)]
        return batch

    async def _book_alone(self, fill: SeatFill, report: FillReport, refused: TransactionReverted | None = None) -> bool:
        """Books one fill (`refused`: the error it was refused with already). A fill its account refuses closes its
        child first, so that it books to the backstop book. One that cannot be booked even there (no such child,
        more than the child's size, outside its limit: nothing a retry changes once the child is closed) is an ALERT
        and is left out, so that it never holds up the fills after it; for those refusals the child is not closed
        (`REFUSED_EVEN_LATE`), or a wrong fill would send the child's real ones to the backstop. Returns whether it
        was booked."""
        child_id = report.child_id
        try:
            if refused is None:
                try:
                    await asyncio.to_thread(self.trading.report_fills, [report])
                    return True
                except TransactionReverted as exc:
                    refused = exc
            if refused.error.name in REFUSED_EVEN_LATE:
                raise refused
            await asyncio.to_thread(self.trading.reject_child, child_id, str(refused.error).encode())
            await asyncio.to_thread(self.trading.report_fills, [report])
        except TransactionReverted as exc:
            log.error(
                "ALERT %s fill %s (child %d, %s at %s) cannot be booked, not even to the backstop book (%s): the"
                " venue's position differs from the books by it",
                self.venue.name, fill.fill_id, child_id, fill.size, fill.price, exc.error,
            )  # fmt: skip
            return False
        log.error(
            "fill %s of child %d refused for its account (%s): child closed, the fill booked to the backstop book",
            fill.fill_id, child_id, refused.error,
        )  # fmt: skip
        return True

    # ------------------------------------------------------------------ steps

    async def _place_all(self, children: Sequence[ChildOrderView]) -> list[SeatOrder | None]:
        """`_place` of each child, PLACE_CONCURRENCY at a time: a burst of orders reaches the venue together, so their
        fills come together and go out in one report (placed one after the other, each child's fill would come after
        the report of the one before). Every placing ends before a failure is raised (the first; any other is logged),
        so none is left running into the next cycle, and the orders placed beside a failure are recorded as usual."""
        slots = asyncio.Semaphore(PLACE_CONCURRENCY)

        async def place(child: ChildOrderView) -> SeatOrder | None:
            async with slots:
                return await self._place(child)

        outcomes = await asyncio.gather(*(place(child) for child in children), return_exceptions=True)
        placed: list[SeatOrder | None] = []
        failures: list[BaseException] = []
        for child, outcome in zip(children, outcomes, strict=True):
            if not isinstance(outcome, BaseException):
                placed.append(outcome)
                continue
            if failures:  # the first is raised, and said by whoever catches it
                log.error("child %d: placing it failed too (%s); placed again next cycle", child.child_id, outcome)
            failures.append(outcome)
        if failures:
            raise failures[0]
        return placed

    async def _place(self, child: ChildOrderView, reject_refused: bool = True) -> SeatOrder | None:
        """Places the child's order, reduce-only if it fits in what the position on chain holds on the other side
        beyond the reduce-only orders of the children still open or unwinding (`_reducing`): their fills, made at the
        venue or still to come, may not be booked yet, and the venue cuts a reduce-only order to the position."""
        market_id = self.trading.market_id(child.market)
        params = await asyncio.to_thread(self.adapter.market, market_id)
        tick, step = Decimal(params.tick_size) / WAD, Decimal(params.step_size) / WAD
        buy = child.size > 0
        # The venue takes prices on its tick: a buy's limit rounds down, a sell's up, never past the child's.
        limit = (child.limit_price / tick).to_integral_value(ROUND_FLOOR if buy else ROUND_CEILING) * tick
        size = ((abs(child.size) - child.filled) / step).to_integral_value(ROUND_FLOOR) * step
        held = Decimal(await asyncio.to_thread(self.trading.net_position, market_id, self.venue_id)) / WAD
        self._reducing.pop(child.child_id, None)  # placed again (its answer lost): its own order counts once
        reduced = sum((s for m, b, s in self._reducing.values() if (m, b) == (market_id, buy)), Decimal(0))
        reduce_only = (held < 0 if buy else held > 0) and reduced + size <= abs(held)
        if reduce_only:
            self._reducing[child.child_id] = (market_id, buy, size)
        request = SeatOrderRequest(
            child.child_id, self.venue.market(child.market), size if buy else -size, limit, reduce_only
        )
        self._lost.discard(child.child_id)
        self._remember_side(child.child_id, (request.market, 1 if buy else -1))
        try:
            order = await self.venue.place(request)
        except SeatOrderRefusedError as exc:
            log.error("child %d refused by %s: %s", child.child_id, self.venue.name, exc)
            if reject_refused:
                await asyncio.to_thread(self.trading.reject_child, child.child_id, str(exc).encode())
            return None
        except SeatOrderUnknownError as exc:
            log.warning("child %d: %s; looking for its order next cycle", child.child_id, exc)
            self._lost.add(child.child_id)
            return None
        if order is None:
            name = self.venue.name
            log.error("child %d: its order id was used but %s never got it: it will expire", child.child_id, name)
            return None
        self._orders[child.child_id] = order
        return order

    async def _finished_with_remainder(self, child: ChildOrderView) -> bool:
        """Rejects the child on chain once the venue has closed its order and every fill it made is booked (reporting
        a fill after the rejection would send it to the backstop)."""
        order = self._orders[child.child_id] = await self.venue.order_status(self._orders[child.child_id])
        if not order.done or order.filled > child.filled:
            return False
        unfilled = abs(child.size) - child.filled
        reason = order.reason or f"{self.venue.name} closed the order with {unfilled} unfilled"
        await asyncio.to_thread(self.trading.reject_child, child.child_id, reason.encode())
        return True

    async def _expire(self, child: ChildOrderView, now: int) -> bool:
        """Cancels the order of a child past its deadline and expires the child on chain, once every fill the venue
        says its order made is booked: those fills were made while the child was live (they reach the keeper late
        when its feed dropped or the venue stopped answering), and after the expiry they would book to the backstop
        book instead of the account. It waits for them, or for the venue to answer, within `CHILD_EXPIRY_GRACE`, when
        only the executor may expire the child. Returns whether the child was expired."""
        order = self._orders.get(child.child_id)
        waiting = now <= child.deadline + CHILD_EXPIRY_GRACE
        try:
            if order is None and waiting:
                # Placed before a restart, or its answer lost: the venue may hold it under the child's client id.
                order = await self.venue.find(child.child_id, self.venue.market(child.market))
            if order is not None and not order.done:
                try:
                    await self.venue.cancel(order)
                except PrimeVaultError as exc:
                    if child.child_id not in self._expiry_said:  # tried every cycle while it waits: said once
                        log.warning("child %d: cancelling its order at %s failed: %s", child.child_id,
                                    self.venue.name, exc)  # fmt: skip
            if order is not None and waiting:
                order = self._orders[child.child_id] = await self.venue.order_status(order)
        except PrimeVaultError as exc:
            if child.child_id not in self._expiry_said:
                log.warning("child %d past its deadline: %s did not say what its order filled (%s): expired once it"
                            " does", child.child_id, self.venue.name, exc)  # fmt: skip
            self._expiry_said.add(child.child_id)
            return False
        if order is not None and waiting and (not order.done or order.filled > child.filled):
            self._expiry_said.add(child.child_id)
            return False
        self._expiry_said.discard(child.child_id)
        self._lost.discard(child.child_id)  # past its deadline the child ends, found or not
        await asyncio.to_thread(self.trading.expire_child, child.child_id)
        return True

    async def reconcile(self) -> list[str]:
        """Mismatches between the venue's positions and the trading module's netted book at this venue, counting the
        fills being reported that the book does not hold yet (the venue made them, their transaction is on its way).
        The book and the fills it holds are read at one block."""
        reporting = list(self._reporting.values())  # before the venue's positions, which hold them
        held = {p.market: p.size for p in await self.venue.positions()}
        block = await asyncio.to_thread(lambda: self.trading.w3.eth.block_number)
        booked_already = await asyncio.to_thread(self.trading.fill_ids_used, [key for key, _, _ in reporting], block)
        on_their_way = [(m, size) for (_, m, size), used in zip(reporting, booked_already, strict=True) if not used]
        mismatches = []
        for market_id, market in enumerate(self.trading.deployment.markets):
            venue_market = self.venue.market(market.ticker)
            booked = Decimal(await asyncio.to_thread(self.trading.net_position, market_id, self.venue_id, block)) / WAD
            coming = sum((size for m, size in on_their_way if m == venue_market), Decimal(0))
            at_venue = held.get(venue_market, Decimal(0))
            if booked + coming != at_venue:
                in_flight = f" (+ {coming} being reported)" if coming else ""
                mismatches.append(f"{market.ticker}: books {booked}{in_flight}, exchange {at_venue}")
        return mismatches

    # ------------------------------------------------------------------ the account at the venue

    async def account(self) -> SeatAccount:
        """The seat's account at the venue, read once for the steps that take it (`book`, `post_account`,
        `manage_margin`): each read of it spends the venue's request budget (RabbitX: 40 of 1,200 tokens a minute)."""
        positions = tuple(await self.venue.positions())
        return SeatAccount(positions, await self.venue.balance())

    # ------------------------------------------------------------------ the order book

    async def book(self, ticker: str, account: SeatAccount | None = None) -> VenueBook:
        """The venue's book for `ticker` as the book router reads it: levels in WAD, the seat adapter's taker fee and
        step, the latest funding rate spread over its period, and the margin free at the venue with its leverage
        (from `account`, else the balance read now)."""
        market_id = self.trading.market_id(ticker)
        market = self.venue.market(ticker)
        params = await asyncio.to_thread(self.adapter.market, market_id)
        bids, asks = await self.venue.order_book(market)
        periods = await self.venue.funding(market)
        rate = periods[-1].rate if periods else Decimal(0)
        balance = account.balance if account is not None else await self.venue.balance()
        free = max(balance.equity - balance.initial_margin, Decimal(0))
        return VenueBook(
            self.venue.name,
            _levels(bids),
            _levels(asks),
            params.taker_fee_ppm,
            int(rate.scaleb(18) / self.venue.funding_period_seconds),
            params.step_size,
            margin=MarginLimit(int(free.scaleb(18)), params.initial_margin_ppm),
        )

    # ------------------------------------------------------------------ the account on chain

    async def post_account(self, account: SeatAccount | None = None) -> SeatAccountReport | None:
        """Posts the venue's view of the seat's account (`account`, else read now) on chain when it changed since the
        last post: positions, funding indexes (the on-chain index plus rate x oracle mark of each funding period
        since), equity (rounded down), margins (rounded up) and the deposits the venue credited. Returns what was
        posted, or None."""
        await self._settle_unconfirmed_report()
        if account is None:
            account = await self.account()
        positions = {p.market: p for p in account.positions}
        balance = account.balance
        sizes, indexes, newest = [], [], {}
        maintenance = Decimal(0)
        for market_id, market in enumerate(self.trading.deployment.markets):
            venue_market = self.venue.market(market.ticker)
            position = positions.get(venue_market)
            sizes.append(int(position.size.scaleb(18)) if position else 0)
            if position is not None:
                params = await asyncio.to_thread(self.adapter.market, market_id)
                maintenance += position.notional * params.maintenance_margin_ppm / PPM
            index, newest[market_id] = await self._funding_index(market_id, venue_market)
            indexes.append(index)
        report = SeatAccountReport(
            positions=tuple(sizes),
            funding_indexes=tuple(indexes),
            net_collateral=self._units(balance.equity, ROUND_FLOOR),
            initial_margin=self._units(balance.initial_margin, ROUND_CEILING),
            maintenance_margin=self._units(maintenance, ROUND_CEILING),
            credited_deposits=self._units(balance.credited_deposits),
        )
        if report == self._posted:
            return None
        try:
            await asyncio.to_thread(self.adapter.report, report)
        except TransactionFateUnknown:
            self._unconfirmed = (report, newest)
            raise
        self._unconfirmed = None  # mined after it or never: its nonce is taken
        self._posted = report
        self._funding_seen.update(newest)
        return report

    async def _settle_unconfirmed_report(self) -> None:
        """Looks on chain for the report sent as the node stopped answering: with every index the one it posted, its
        funding periods are in, which the next report must not post again (the index it posts is the one on chain
        plus the periods after those seen). Not there yet, it may still be mined: looked for again by the next post,
        whose own report, once mined, ends the wait (its nonce comes after)."""
        if self._unconfirmed is None:
            return
        report, newest = self._unconfirmed
        for market_id, index in enumerate(report.funding_indexes):
            if await asyncio.to_thread(self.adapter.funding_index, market_id) != index:
                return
        self._unconfirmed = None
        self._posted = report
        self._funding_seen.update(newest)

    async def _funding_index(self, market_id: int, venue_market: str) -> tuple[int, int]:
        """The market's funding index with every funding period the posted index lacks, and the newest period's
        time (microseconds). A period is valued at the oracle mark when the seat sees it, as the index on chain is.
        The periods wait for a later post, the index unchanged, while their step is more than the seat lets a
        report move it yet (its cap per second times the time since the index last moved): a report that asked
        for more would be refused whole, positions and margins with it."""
        index = await asyncio.to_thread(self.adapter.funding_index, market_id)
        bound = None  # read when needed: once at start, then only for a step to post
        if market_id not in self._funding_seen:
            bound = await asyncio.to_thread(self.adapter.funding_step_bound, market_id)
            # Periods up to the index's last move are in it already.
            self._funding_seen[market_id] = bound.moved_at * 10**6
        seen = self._funding_seen[market_id]
        periods = [p for p in await self.venue.funding(venue_market) if p.at_us > seen]
        # A period dated ahead of the clock is a wrong answer: taken, its time would become the one seen and hide
        # every real period before it.
        ahead = time.time() * 10**6 + FUNDING_CLOCK_AHEAD_US
        for p in periods:
            if p.at_us > ahead and (venue_market, p.at_us) not in self._funding_refused:
                self._funding_refused.add((venue_market, p.at_us))
                log.error("ALERT %s funding period of %s dated in the future (%d us): left out", self.venue.name,
                          venue_market, p.at_us)  # fmt: skip
        periods = [p for p in periods if p.at_us <= ahead]
        if not periods:
            return index, seen
        if bound is None:
            bound = await asyncio.to_thread(self.adapter.funding_step_bound, market_id)
        mark = await asyncio.to_thread(self.feeds[market_id].price)
        step = int(sum((p.rate * mark for p in periods), Decimal(0)).scaleb(18).to_integral_value(ROUND_CEILING))
        # All the periods after the index's last move go in one post or none: a part of them would date the move
        # after the rest, which a restart (counting from the last move) would then take as posted.
        if abs(step) > bound.max_step:
            # In the second the index last moved nothing fits: the next post, a block later, takes the step. The
            # bound counts at most MAX_FUNDING_WINDOW (8 hours) of time: funding past it waits for a raised cap.
            log.log(
                logging.WARNING if bound.max_step else logging.DEBUG,
                "%s: %d funding period(s) of market %d move its index by %s, more than the seat's cap allows yet (%s):"
                " posted once it does; if funding stays this fast, the admin raises it (setFundingCap)",
                self.venue.name, len(periods), market_id, step, bound.max_step,
            )  # fmt: skip
            return index, seen
        return index + step, periods[-1].at_us

    # ------------------------------------------------------------------ margin

    async def manage_margin(
        self, policy: MarginPolicy, legs: Mapping[int, int] | None = None, account: SeatAccount | None = None
    ) -> int:
        """Keeps the seat's margin between the policy's floor and ceiling of what the vault's positions at the venue
        need (its gross `legs` from the last scan, else the netted book; see `slot_exposure`): a deposit goes the
        venue's way through the seat adapter (credited when the venue sees it), a withdrawal starts at the venue
        (`withdraw_margin`). The margin held is the venue's balance in `account`, else read now: not the last post,
        which a withdrawal since made stale. Returns the base units moved in (positive) or out (negative)."""
        marks = [await asyncio.to_thread(feed.price) for feed in self.feeds]
        exposures = await asyncio.to_thread(self.trading.venue_exposures, self.venue_id, legs)
        ppms = [(await asyncio.to_thread(self.adapter.market, m)).initial_margin_ppm for m in range(len(marks))]
        need = venue_requirement(exposures, marks, ppms, self.base_decimals)
        net = await self._margin_now(account.balance if account is not None else await self.venue.balance())
        pending = await asyncio.to_thread(self.adapter.pending_withdrawals)
        move = policy.move(need, net, pending)
        capped = False
        if move > 0:
            room = await asyncio.to_thread(self.adapter.margin_room)
            capped = room < move
            # Said once while the cap holds deposits back, not at every margin check (every seat_state_interval).
            if capped and not self._capped:
                log.warning(
                    "seat at %s: margin %s below its floor, but its cap leaves room for %s of the %s wanted (what it"
                    " holds, or the vault's net margin sent it, is near the cap): the admin raises it (setMarginCap)",
                    self.venue.name, self.base.format(net), self.base.format(room), self.base.format(move),
                )  # fmt: skip
            move = min(move, room)
        self._capped = capped
        if move > 0:
            log.info(
                "seat at %s: margin %s below its floor: depositing %s",
                self.venue.name,
                self.base.format(net),
                self.base.format(move),
            )
            await asyncio.to_thread(self.trading.deposit_margin, self.venue_id, move)
        elif move < 0:
            move = -await self.withdraw_margin(-move)
        if pending:
            # Only a withdrawal recorded on chain is waiting to be paid and collected (one made now collected itself):
            # with none, the venue's list of withdrawals is not read, which would spend its request budget for nothing.
            await self.collect_withdrawals()
        return move

    async def _margin_now(self, balance: SeatBalance) -> int:
        """The seat's margin as the venue's `balance` has it (equity, rounded down) plus the deposits it has not
        credited yet."""
        last = await asyncio.to_thread(self.adapter.last_report)
        deposited = last.credited_deposits + await asyncio.to_thread(self.adapter.deposits_in_flight)
        return self._units(balance.equity) + max(deposited - self._units(balance.credited_deposits), 0)

    async def withdraw_margin(self, amount: int) -> int:
        """Asks the venue for `amount` base units of margin back, capped at what it lets the account withdraw, then
        records the request on chain (`requestMarginWithdrawal`: the amount is pending, not yet the vault's) and
        collects it if the venue released it at once. Venue first: it may refuse or cap, and the request on chain
        must match what it debited. Returns the base units asked for."""
        amount = min(amount, self._units((await self.venue.balance()).withdrawable))
        if amount <= 0:
            return 0
        log.info("seat at %s: asking for %s of margin back", self.venue.name, self.base.format(amount))
        await self.venue.withdraw(Decimal(amount).scaleb(-self.base_decimals))
        await asyncio.to_thread(self.trading.request_margin_withdrawal, self.venue_id, amount)
        # The request lowered the collateral the adapter holds as reported: the next post is due whatever the venue
        # shows (a withdrawal the venue cancels puts its equity back exactly where it was last posted).
        self._posted = None
        await self.collect_withdrawals()
        return amount

    async def collect_withdrawals(self) -> int:
        """Completes every withdrawal the venue has released (anyone may) and collects what reached the seat adapter
        into the vault. Returns the base units collected."""
        await self.venue.pay_withdrawals()
        if not await asyncio.to_thread(self.base_token.balance_of, self.adapter.address):
            return 0
        vault = self.trading.deployment.vault
        before = await asyncio.to_thread(self.base_token.balance_of, vault)
        await asyncio.to_thread(self.trading.claim_margin_withdrawals, self.venue_id)
        return await asyncio.to_thread(self.base_token.balance_of, vault) - before

    # ------------------------------------------------------------------ the backstop book

    async def unwind_backstop(self, now: int) -> list[int]:
        """Closes the backstop book at the seat's venue: for each market with a book here and no unwind in flight,
        commits an unwind child for the book (rounded down to the venue's step, its limit inside the band) and places
        it as an IOC order. Its fills come back through `report` and book to the backstop. Returns the children
        placed."""
        if not self._unwinds_recovered:
            await self._recover_unwinds(now)
            self._unwinds_recovered = True
        busy = {m for m in list(self._unwinds) if not await self._unwind_finished(m, now)}
        books, kept = await asyncio.to_thread(books_to_unwind, self.trading, self.rule, self._mark)
        books = [b for b in books if b.venue_id == self.venue_id]
        self._kept = say_kept(self.trading, {s: k for s, k in kept.items() if s[1] == self.venue_id}, self._kept)
        placed = []
        for book in books:
            if book.market_id in busy:
                continue
            step = Decimal((await asyncio.to_thread(self.adapter.market, book.market_id)).step_size) / WAD
            size = (abs(book.size) / step).to_integral_value(ROUND_FLOOR) * step
            if size == 0:
                continue
            side = 1 if book.size < 0 else -1
            limit = band_limit(await asyncio.to_thread(self.feeds[book.market_id].price), side)
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

    def _mark(self, market_id: int) -> Decimal:
        return self.feeds[market_id].price()

    async def _recover_unwinds(self, now: int) -> None:
        """Takes on the unwinds a previous run of the seat left, whose orders the venue may still be filling or whose
        fills may not all be booked (the record of unwinds is this run's memory, empty at start; the book on chain
        does not show their unbooked fills, and a second unwind would close it twice): the newest unwind child of
        each market at this venue within `CHILD_EXPIRY_GRACE` of its deadline is watched as if its order's answer was
        lost (`_unwind_finished` looks the order up by its client id). Children are read from the newest back to the
        first whose deadline is too old for any unwind committed before it to matter."""
        module = self.trading.address
        child_id = await asyncio.to_thread(self.trading.child_order_count)
        while child_id > 0:
            child_id -= 1
            child = await asyncio.to_thread(self.trading.child_order, child_id)
            if child.deadline + CHILD_EXPIRY_GRACE + self.unwind_ttl < now:
                break
            if child.venue_id != self.venue_id or child.account != module:
                continue  # not an unwind here: an unwind's order is the trading module's own
            market_id = self.trading.market_id(child.market)
            if market_id in self._unwinds or child.deadline + CHILD_EXPIRY_GRACE < now:
                continue
            self._unwinds[market_id] = (child_id, child.deadline)
            self._lost.add(child_id)
            self._remember_side(child_id, (self.venue.market(child.market), 1 if child.size > 0 else -1))

    async def _unwind_finished(self, market_id: int, now: int) -> bool:
        """Whether the market's unwind is over: its order closed at the venue with every fill booked on chain (so the
        book read next is the book left). Past its deadline its order is cancelled, and still waited for within
        `CHILD_EXPIRY_GRACE`; after that it is over (a fill that comes later still books to the backstop)."""
        child_id, deadline = self._unwinds[market_id]
        order = self._orders.get(child_id)
        if order is None and child_id in self._lost:
            # An unwind child is closed on chain from the start (its fills are the backstop's), so the cycle never
            # looks for it: looked for here. Until it is found the venue may be filling it, and a second unwind
            # would close the book twice. Past its deadline it is only looked up, never placed.
            child = await asyncio.to_thread(self.trading.child_order, child_id)
            if deadline >= now:
                order = await self._place(child, reject_refused=False)
                if order is None:
                    return child_id not in self._lost
            elif now <= deadline + CHILD_EXPIRY_GRACE:
                order = await self.venue.find(child_id, self.venue.market(child.market))
                if order is not None:
                    self._orders[child_id] = order
        if order is not None and not order.done:
            if deadline < now:
                try:
                    await self.venue.cancel(order)
                except PrimeVaultError as exc:
                    log.warning("backstop unwind child %d: cancelling its order failed: %s", child_id, exc)
            order = self._orders[child_id] = await self.venue.order_status(order)
        if order is None:
            self._lost.discard(child_id)
            del self._unwinds[market_id]
            return True
        # While the venue may still fill the order, or has filled more than the books hold (its fills on their way: a
        # feed that dropped, a venue that stopped answering), the book read next still holds what they close, and a
        # second unwind would close it twice: waited for, past the deadline too, within CHILD_EXPIRY_GRACE.
        booked = (await asyncio.to_thread(self.trading.child_order, child_id)).filled
        if (not order.done or booked < order.filled) and now <= deadline + CHILD_EXPIRY_GRACE:
            return False
        if order.reason:
            log.warning("backstop unwind child %d: its order closed: %s", child_id, order.reason)
        del self._unwinds[market_id]
        return True

    # ------------------------------------------------------------------ units

    def _units(self, amount: Decimal, rounding: str = ROUND_FLOOR) -> int:
        """`amount` of the base token in its base units."""
        return int(amount.scaleb(self.base_decimals).to_integral_value(rounding))

    def _fee_bound(self, fill: SeatFill) -> int:
        """The most fee the contract books for `fill`, base units: its notional times `MAX_FILL_FEE_BPS`, rounded up
        as the contract rounds it (size and price are WAD there, at most 18 decimals, as the connectors check)."""
        size, price = int(fill.size.scaleb(18)), int(fill.price.scaleb(18))
        per_unit: int = 10 ** (18 + 4 + 18 - self.base_decimals)  # WAD x bps x WAD per base unit
        return -(-size * MAX_FILL_FEE_BPS * price // per_unit)


def _side_name(side: int) -> str:
    return {1: "buy", -1: "sell"}.get(side, "?")


def _levels(side: BookSide) -> tuple[Level, ...]:
    return tuple(Level(int(price.scaleb(18)), int(size.scaleb(18))) for price, size in side if size > 0)

"""The seat job: the keeper's seats at venues that match off chain (`keeper.seats`), run on one thread with its own
asyncio event loop beside the threaded daemon. Each seat's fills are forwarded on chain by a long-running task; each
seat's cycle (place the children the orders job committed to its venue, close finished and expired ones; unwind the
backstop book there) runs every `seat_interval` seconds, costing the venue requests only when there is something to
place or look at; the steps that read the venue's state (its order book of every market for the orders job's router;
the account's state posted on chain; its margin kept between floor and ceiling) run every `seat_state_interval`, over
one read of the venue's account; and each venue's positions are reconciled against the vault's books every
`reconcile_interval`. The venues limit requests (RabbitX: 1,200 request tokens a minute per IP, a read of the account
40 of them), so reading their state every cycle would be refused most of the time. Errors are logged by name and never
stop the job: a step's error skips that step, and a seat that cannot be opened or fails as a whole (its venue or the
node away) is opened again after a growing delay while the other seats go on; `stop()` ends it cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from keeper.chain.provider import NODE_AWAY, node_away
from keeper.client.trading import TradingClient
from keeper.connectors.rabbitx.connector import RabbitXConnector
from keeper.exceptions import ConfigError, PrimeVaultError, TransactionFateUnknown, TransactionReverted
from keeper.jobs.context import JobContext
from keeper.jobs.margin import margin_policy
from keeper.seats.rabbitx import RabbitXSeat
from keeper.seats.seat import Seat, SeatAccount

log = logging.getLogger("primevault.keeper")

# A mismatch can be a fill the exchange made and the keeper has not booked yet: it is raised only if it is still
# there this many seconds later.
RECONCILE_RECHECK = 2.0
# The longest wait before a seat that failed is opened again (the wait starts at `seat_interval` and doubles).
MAX_REOPEN_DELAY = 60.0
# A step that goes on failing the same way is said once, and again every this many seconds while it lasts (a fill feed
# whose every reconnection fails alike, a venue's answer that stays unreadable).
REMIND_EVERY = 600.0
_FIGURES = re.compile(r"0x[0-9a-fA-F]+|\d+")


@dataclasses.dataclass
class _Failing:
    """How a step last failed (`failure_kind`), when that was last said, and how often it failed so since."""

    kind: str
    said_at: float
    unsaid: int = 0


def failure_kind(exc: PrimeVaultError) -> str:
    """What makes two failures of a step the same one: a revert's decoded error by name, anything else's type and
    message with its numbers and hashes taken out (an age, a time, the venue's answer quoted whole: they move from one
    cycle to the next while the failure stays the same)."""
    if isinstance(exc, TransactionReverted):
        return f"{type(exc).__name__}: {exc.action}: {exc.error.name}"
    return f"{type(exc).__name__}: {_FIGURES.sub('#', str(exc))}"


class SeatJob:
    name = "seat"

    def __init__(self, context: JobContext) -> None:
        self.context = context
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._stop_requested = threading.Event()
        self._node_away = False  # the node stopped answering the seats (read and written on the seat's thread only)
        self._node_back_at = 0.0  # monotonic time the node last answered again after being away
        self._unreadable_books: set[tuple[str, str]] = set()  # (venue, market) whose last read failed
        # Step name (each names its seat: "rabbitx-seat fills") -> how it is failing, said once.
        self._failing: dict[str, _Failing] = {}

    @property
    def enabled(self) -> bool:
        c = self.context
        return c.runs(self.name) and c.trading is not None and bool(c.config.seat_venues)

    def start(self) -> None:
        """Starts the seat's thread (nothing in dry-run mode: the seat would trade at the exchange)."""
        if not self.enabled or self._thread is not None:
            return
        if self.context.config.dry_run:
            log.info("dry run: the seat job is not started (it would place orders at the exchange)")
            return
        self._stop_requested.clear()
        self._thread = threading.Thread(target=self._run_thread, name="seat", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Asks the seat to stop after its step in flight and waits for its thread."""
        self._stop_requested.set()
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(stopping.set)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run_thread(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception:
            log.exception("seat failed")

    async def _main(self) -> None:
        c = self.context
        trading = c.trading
        assert trading is not None
        self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        if self._stop_requested.is_set():
            return
        # Each seat on its own: a venue that cannot be reached (at start, or after a failure) does not stop the
        # others, and is opened again until it answers.
        await asyncio.gather(*(self._supervise(trading, name) for name in c.config.seat_venues))
        log.info("seats stopped")

    def _stopped(self) -> bool:
        """The keeper is stopping (`JobContext.stopping`, set by the signal: the flag the other jobs' `may_send`
        checks) or this job was asked to stop: no new step starts, so nothing new is sent (the step in flight
        finishes)."""
        return (
            self.context.stopping.is_set()
            or self._stop_requested.is_set()
            or (self._stopping is not None and self._stopping.is_set())
        )

    async def _pause(self, seconds: float) -> None:
        """Waits `seconds`, or less if the job is asked to stop."""
        assert self._stopping is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _supervise(self, trading: TradingClient, name: str) -> None:
        """Opens the seat at `name` and runs it until the job stops; if opening it or running it fails, logs why
        and opens it again after a delay that doubles up to `MAX_REOPEN_DELAY` (fills passed on but not
        acknowledged come out again, and the contract books each fill id once)."""
        delay = self.context.config.seat_interval
        while not self._stopped():
            try:
                async with open_seat(self.context, trading, name) as seat:
                    delay = self.context.config.seat_interval
                    await self._serve(seat, name)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: logged by name, and the seat is opened again
                log.error(
                    "seat at %s failed (%s: %s); opening it again in %.1f s", name, type(exc).__name__, exc, delay
                )
                await self._pause(delay)
                delay = min(2 * delay, MAX_REOPEN_DELAY)

    async def _serve(self, seat: Seat, name: str) -> None:
        """The seat's cycles, every `seat_interval` seconds until the job stops, with its fills forwarded beside; the
        first cycle reads the venue's state, and one every `seat_state_interval` after."""
        c = self.context
        fills = asyncio.create_task(self._forward_fills(seat, name))
        next_state = time.monotonic()
        next_reconcile = time.monotonic() + c.config.reconcile_interval
        try:
            while not self._stopped():
                started = time.monotonic()
                try:
                    block = await asyncio.to_thread(seat.trading.w3.eth.get_block, "latest")
                except NODE_AWAY as exc:  # this cycle waits for the node
                    self._node_lost(exc, started)
                except Exception as exc:
                    log.error("%s: cannot read the chain's time (%s: %s)", name, type(exc).__name__, exc)
                else:
                    self._node_back()
                    state = time.monotonic() >= next_state
                    reconcile = time.monotonic() >= next_reconcile
                    await self._run_seat(seat, int(block["timestamp"]), state, reconcile)
                    if state:
                        next_state = time.monotonic() + c.config.seat_state_interval
                    if reconcile:
                        next_reconcile = time.monotonic() + c.config.reconcile_interval
                await self._pause(c.config.seat_interval)
        finally:
            fills.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await fills

    async def _run_seat(self, seat: Seat, now: int, state: bool, reconcile: bool) -> None:
        """One cycle of one seat, each step guarded on its own: children and the backstop; with `state` the books,
        the account posted and margin; with `reconcile` the venue's positions against the books. Once the keeper is
        stopping no further step starts (`_stopped`): they send orders to the venue and transactions on chain."""
        name = self.context.deployment.venues[seat.venue_id].name
        await self._step(f"{name} cycle", lambda: self._cycle(seat, name, now))
        await self._step(f"{name} backstop", lambda: self._unwind_backstop(seat, now))
        if state and not self._stopped():
            await self._run_state(seat, name)
        if reconcile:
            await self._step(f"{name} reconcile", lambda: self._reconcile(seat, name))

    async def _step(self, name: str, step: Callable[[], Awaitable[object]]) -> None:
        """`step`, guarded (`_guarded`), unless the keeper is stopping: then it is skipped, and said so."""
        if self._stopped():
            log.info("%s: not started, the keeper is stopping", name)
            return
        await self._guarded(name, step)

    async def _run_state(self, seat: Seat, name: str) -> None:
        """The steps over the venue's state: the books, the account posted, margin. They share one read of the
        venue's account, begun as they start; a read that failed fails each of them alike, as their own reads would
        have (the books are withdrawn, the post and margin wait for the next time)."""
        c = self.context
        account = asyncio.ensure_future(seat.account())
        try:
            await self._step(f"{name} books", lambda: self._read_books(seat, account))

            async def post() -> None:
                await seat.post_account(await account)

            async def margin() -> None:
                await seat.manage_margin(margin_policy(c), c.legs.get(), await account)

            await self._step(f"{name} account", post)
            await self._step(f"{name} margin", margin)
        finally:
            account.cancel()  # still reading if the job stopped meanwhile

    async def _cycle(self, seat: Seat, name: str, now: int) -> None:
        report = await seat.cycle(now)
        if report.placed or report.rejected or report.expired:
            log.info(
                "%s: children placed %s, rejected %s, expired %s",
                name,
                list(report.placed),
                list(report.rejected),
                list(report.expired),
            )

    async def _unwind_backstop(self, seat: Seat, now: int) -> None:
        """Closes the backstop book at the seat's venue, each unwind child placed counted as the backstop job counts
        its slices (`primevault_backstop_unwinds`)."""
        placed = await seat.unwind_backstop(now)
        self.context.metrics.backstop_unwound.inc(len(placed))

    async def _read_books(self, seat: Seat, account: asyncio.Future[SeatAccount]) -> None:
        """Publishes the venue's book of every market, with the margin free in `account` (the venue's account as
        read for these steps), for the orders job's router (`JobContext.books`). A book that cannot be read (the
        venue away, or its answer wrong: out of order, crossed) is said in one line when it stops reading right and
        in one when it reads right again, and the one read before is withdrawn (published empty), so that the router
        never routes over a book the venue no longer shows; the other markets' books are read on."""
        books = self.context.books
        for market in self.context.deployment.markets:
            key = (seat.venue.name, market.ticker)
            try:
                book = await seat.book(market.ticker, await account)
            except PrimeVaultError as exc:
                if key not in self._unreadable_books:
                    self._unreadable_books.add(key)
                    log.error("%s book of %s: %s: not routed over until it reads right", *key, exc)
                last = books.get(seat.venue_id, market.ticker)
                if last is not None and (last.bids or last.asks):
                    books.set(seat.venue_id, market.ticker, dataclasses.replace(last, bids=(), asks=()))
                continue
            if key in self._unreadable_books:
                self._unreadable_books.discard(key)
                log.info("%s book of %s reads right again", *key)
            books.set(seat.venue_id, market.ticker, book)

    async def _forward_fills(self, seat: Seat, name: str) -> None:
        """Forwards fills until cancelled; a failure is logged and the feed opened again (fills it passed on but
        never acknowledged come out again, and the contract books each fill id once). The step never returns: a fill
        booked is what says it works again."""
        step = f"{name} fills"
        while True:
            await self._guarded(step, lambda: seat.forward_fills(reported=lambda: self._works_again(step)))
            await asyncio.sleep(self.context.config.seat_interval)

    async def _reconcile(self, seat: Seat, name: str) -> int:
        """Logs as ALERT and counts the positions the venue and the vault's books still disagree on after
        `RECONCILE_RECHECK` seconds (a fill in flight between the venue and its report is no mismatch)."""
        first = await seat.reconcile()
        if not first:
            return 0
        await asyncio.sleep(RECONCILE_RECHECK)
        lasting = [m for m in await seat.reconcile() if m in first]
        for mismatch in lasting:
            self.context.metrics.mismatches.labels(name, "seat position").inc()
            log.error("ALERT reconciliation: seat at %s: %s", name, mismatch)
        return len(lasting)

    async def _guarded(self, name: str, step: Callable[[], Awaitable[object]]) -> None:
        """Runs one step; an error is logged by name and counted (`primevault_job_failures`), never fatal (the daemon's
        `_guarded`, for coroutines). The same
        error again, cycle after cycle (a venue's answer that cannot be read, while it lasts), is said once and then
        every `REMIND_EVERY` seconds; another error of the step is said at once, and its recovery in one more line."""
        started = time.monotonic()
        try:
            await step()
            self._works_again(name)
        except asyncio.CancelledError:
            raise
        except TransactionFateUnknown as exc:  # the node went away with a transaction on its way: as below
            # Said as the node's absence (once for every step); what was sent is mined when the node is back, or its
            # nonce replaced as stuck by the next send.
            log.info(
                "%s: %s was sent as %s (nonce %d) when the node stopped answering",
                name,
                exc.action,
                exc.tx_hash,
                exc.nonce,
            )
            self._node_lost(exc.__cause__ or exc, started)
        except PrimeVaultError as exc:
            self._failed(name, exc)
        except NODE_AWAY as exc:
            self._node_lost(exc, started)
        except Exception:
            log.exception("%s failed", name)
        else:
            return
        self.context.metrics.job_failures.labels(name).inc()

    def _failed(self, name: str, exc: PrimeVaultError) -> None:
        kind, now = failure_kind(exc), time.monotonic()
        failing = self._failing.get(name)
        if failing is None or failing.kind != kind:
            self._failing[name] = _Failing(kind, now)
            log.error("%s: %s", name, exc)
        elif now - failing.said_at >= REMIND_EVERY:
            log.error("%s: %s (still failing: %d times since last said)", name, exc, failing.unsaid + 1)
            failing.said_at, failing.unsaid = now, 0
        else:
            failing.unsaid += 1

    def _works_again(self, name: str) -> None:
        if self._failing.pop(name, None) is not None:
            log.info("%s: works again", name)

    def _node_lost(self, exc: BaseException, started: float) -> None:
        """Says once that the node does not answer: every step of every seat fails the same way until it is back. A
        step begun before the node last answered again failed on the old outage (a fill forwarded beside the cycle):
        it says nothing new."""
        if started < self._node_back_at:
            return
        if not self._node_away:
            self._node_away = True
            log.error("seats: %s; they wait for it", node_away(self.context.w3.provider, exc))

    def _node_back(self) -> None:
        if self._node_away:
            self._node_away = False
            self._node_back_at = time.monotonic()
            log.info("seats: the node answers again")


@contextlib.asynccontextmanager
async def open_seat(c: JobContext, trading: TradingClient, name: str) -> AsyncIterator[Seat]:
    """The seat at venue `name` ("rabbitx-seat", "dydx-seat") with its connector open, from the keeper's settings
    for that kind of venue."""
    venue_id = trading.venue_id(name)
    ttl = int(c.config.child_ttl)
    if name == "dydx-seat" and c.config.dydx is not None:
        # Imported here: the official dYdX client is the dydx extra, needed only by a keeper with that seat.
        from keeper.connectors.dydx import DydxConnector
        from keeper.seats.dydx import DydxSeat

        async with DydxConnector(c.config.dydx) as dydx:
            log.info("seat at %s (venue %d) running against %s", name, venue_id, c.config.dydx.indexer_url)
            yield DydxSeat(trading, dydx, venue_id, unwind_ttl=ttl)
    elif name == "rabbitx-seat" and c.config.rabbitx is not None:
        async with RabbitXConnector(c.config.rabbitx) as rabbitx:
            log.info("seat at %s (venue %d) running against %s", name, venue_id, c.config.rabbitx.base_url)
            yield RabbitXSeat(trading, rabbitx, venue_id, unwind_ttl=ttl)
    else:
        raise ConfigError(f"no connector settings for the seat at {name}")

"""Following the account's fills: the WebSocket first, REST whenever the socket may have missed something, each fill
passed on once.

RabbitX pushes fills on the ``account@<profile>`` channel, but a socket can drop, and a push can be lost without the
socket dropping. So REST (``GET /fills`` from the newest stored fill, less an overlap) runs after every (re)subscribe,
on a gap in the channel's offsets, after a quiet spell, and every `reconnect_delay` while the socket is down. All
three sources feed one durable store (`ConnectorStore`) keyed by the venue's fill id, which decides what is new.

An exchange that answers nothing (down, unreachable) or refuses the account is tried again less and less often, the
delay doubling up to `RETRY_DELAY_CAP`; each failure is said once, reminded every `REMIND_EVERY`, and its end said once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from keeper.connectors.rabbitx.client import AccountStream, RabbitXClient
from keeper.connectors.rabbitx.errors import RabbitXAuthError, RabbitXError, RabbitXRequestError, RabbitXResponseError
from keeper.connectors.rabbitx.models import Fill
from keeper.connectors.rabbitx.settings import RabbitXSettings
from keeper.connectors.rabbitx.store import ConnectorStore
from keeper.connectors.refusals import RefusedRows

log = logging.getLogger(__name__)

PAGE_SIZE = 1000
"""RabbitX's largest ``p_limit``."""

MICROS = 1_000_000


MAX_CLOCK_AHEAD = 300 * MICROS
"""How far past the keeper's clock a fill's time may be: one later is a wrong answer, and stored it would move the
start of every later REST recovery past the fills it must find."""

RETRY_DELAY_CAP = 60.0
"""The longest wait, in seconds, between two tries at an exchange that answers nothing or refuses the account: the
wait doubles from `reconnect_delay` up to it, so that a seat whose exchange is gone for hours costs a request a minute,
not one a second."""

REMIND_EVERY = 600.0
"""Seconds between two reminders of a failure that goes on: it is said when it starts, then only counted."""

WEBSOCKET = "the WebSocket"
REST = "REST recovery"


async def fetch_fills_since(client: RabbitXClient, start_time: int, market_id: str | None = None) -> list[Fill]:
    """Every fill of the account at or after `start_time` (microseconds), oldest first, over as many pages as it
    takes."""
    return [Fill.from_json(row) for row in await fetch_fill_rows(client, start_time, market_id)]


async def fetch_fill_rows(client: RabbitXClient, start_time: int, market_id: str | None = None) -> list[Any]:
    """`fetch_fills_since`'s rows as the exchange sent them, unread."""
    rows: list[Any] = []
    page = 0
    while True:
        params = {"start_time": str(start_time), "p_order": "ASC", "p_limit": str(PAGE_SIZE), "p_page": str(page)}
        if market_id is not None:
            params["market_id"] = market_id
        batch = await client.fills(**params)
        rows.extend(batch)
        if len(batch) < PAGE_SIZE:
            return rows
        page += 1


@dataclass
class _Failing:
    """A failure of one step that goes on: what kind, since when, how often, and when it was last said."""

    kind: str
    since: float
    said_at: float
    times: int = 1


def _failure_kind(exc: BaseException) -> str:
    """What makes two failures the same one for the log: their class, and an HTTP status (a message may differ in
    details, a port or a request id, between two tries that meet the same fault)."""
    status = f" {exc.status}" if isinstance(exc, RabbitXRequestError) else ""
    return type(exc).__name__ + status


class _FailureLog:
    """The feed's failures as an operator reads them: each said when it starts (a refused account, which needs the
    operator, as such, and once for both steps), reminded every `REMIND_EVERY` while it goes on, and its end said once;
    the tries in between are counted, not logged."""

    def __init__(self) -> None:
        self._failing: dict[str, _Failing] = {}  # by step: `WEBSOCKET`, `REST`

    def failed(self, step: str, exc: BaseException, retry_in: float) -> None:
        kind, now = _failure_kind(exc), time.monotonic()
        failing = self._failing.get(step)
        if failing is not None and failing.kind == kind:
            failing.times += 1
            if now - failing.said_at >= REMIND_EVERY:
                failing.said_at = now
                log.warning(
                    "RabbitX fills: %s still fails (%d times in %s; now %s)%s; trying again every %gs at most",
                    step,
                    failing.times,
                    _duration(now - failing.since),
                    exc or "timed out",
                    ": onboard the seat again" if isinstance(exc, RabbitXAuthError) else "",
                    RETRY_DELAY_CAP,
                )
            return
        said_by_other_step = any(f.kind == kind for f in self._failing.values())
        self._failing[step] = _Failing(kind, now, now)
        if isinstance(exc, RabbitXAuthError):
            if not said_by_other_step:
                log.error(
                    "RabbitX fills: the exchange refuses the account's credentials (%s): this needs the operator, who "
                    "onboards the seat again (`primevault keeper onboard-seat`) and configures the new API key, secret "
                    "and JWT; trying again with a delay doubling up to %gs meanwhile",
                    exc,
                    RETRY_DELAY_CAP,
                )
            return
        then = "following over REST" if step == WEBSOCKET else f"trying again in {retry_in:g}s"
        if isinstance(exc, (RabbitXError, TimeoutError)):
            log.warning("RabbitX fills: %s failed (%s); %s", step, exc or "timed out", then)
        else:  # not a fault of the exchange's: its traceback, once
            log.exception("RabbitX fills: %s failed; %s", step, then)

    def succeeded(self, step: str) -> None:
        failing = self._failing.pop(step, None)
        if failing is not None:
            log.info(
                "RabbitX fills: %s works again, after %d failed tries in %s",
                step,
                failing.times,
                _duration(time.monotonic() - failing.since),
            )


def _duration(seconds: float) -> str:
    return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.0f} min"


class FillFeed:
    """The account's fills as an async iterator of `Fill`, each passed on once; `acknowledge` each after reporting
    it. One feed per account and store at a time.

    ``async with connector.fill_feed() as feed: async for fill in feed: report(fill); await feed.acknowledge(fill)``
    """

    def __init__(
        self,
        client: RabbitXClient,
        settings: RabbitXSettings,
        store: ConnectorStore,
        start_time: int = 0,
    ) -> None:
        """`start_time` (microseconds) is where REST recovery begins while the store holds no fill yet."""
        self._client = client
        self._settings = settings
        self._store = store
        self._start_time = start_time
        self._ready: asyncio.Queue[Fill] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        """Set while the account channel is subscribed; cleared when the socket is down."""
        self.delivered_from_stream = 0
        """Fills passed on because a WebSocket push (or subscription snapshot) carried them first."""
        self.delivered_from_rest = 0
        """Fills passed on because REST recovery found them first."""
        self.refused = RefusedRows("RabbitX fill", log)
        """The fills (their ids, or the rows without one) refused as wrong answers, each said once."""
        self.retry_delay = settings.reconnect_delay
        """Seconds between tries while the socket is down: `reconnect_delay` while the exchange answers REST, doubling
        up to `RETRY_DELAY_CAP` while it answers nothing or refuses the account."""
        self._failures = _FailureLog()
        self._reached = False  # whether the exchange answered (a subscription, a REST recovery) since the last try

    async def __aenter__(self) -> FillFeed:
        for fill in self._store.unacknowledged():
            self._ready.put_nowait(fill)
        self._task = asyncio.create_task(self._follow(), name="rabbitx-fill-feed")
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def __aiter__(self) -> FillFeed:
        return self

    async def __anext__(self) -> Fill:
        if self._task is None:
            raise RabbitXError("the fill feed is not running: use it inside 'async with'")
        return await self._ready.get()

    async def acknowledge(self, fill: Fill) -> None:
        """`fill` is reported: it never comes out of this store again, not even after a restart."""
        self._store.acknowledge(fill.fill_id)

    async def forward(self, handler: Callable[[list[Fill]], Awaitable[None]]) -> None:
        """Pass the fills to `handler` in batches, each the next fill with every other one already waiting (so fills
        that arrive together are reported together), and acknowledge a batch once `handler` returns; runs until
        cancelled. A batch whose handler raised stays unacknowledged and comes out again after a restart."""
        async for fill in self:
            batch = [fill]
            while not self._ready.empty():
                batch.append(self._ready.get_nowait())
            await handler(batch)
            for done in batch:
                await self.acknowledge(done)

    async def recover(self) -> int:
        """Read the fills since the newest stored one (less the overlap) over REST; how many were new."""
        newest = self._store.newest_fill_timestamp()
        overlap = int(self._settings.recovery_overlap * MICROS)
        since = self._start_time if newest is None else max(newest - overlap, 0)
        new = sum(self._accept_row(row) for row in await fetch_fill_rows(self._client, since))
        self.delivered_from_rest += new
        self._answered(REST)
        return new

    def _answered(self, step: str) -> None:
        """`step` reached the exchange: the usual pace again (REST keeps the fills coming at it while the socket is
        down), and the end of its failure said."""
        self._reached = True
        self.retry_delay = self._settings.reconnect_delay
        self._failures.succeeded(step)

    def _accept(self, fill: Fill) -> bool:
        # A subscription snapshot carries recent fills whatever `start_time` says; those before it are not wanted.
        if fill.timestamp < self._start_time or not self._store.record_fill(fill):
            return False
        self._ready.put_nowait(fill)
        return True

    def _accept_row(self, row: Any) -> bool:
        """Reads and accepts one fill row; a row that cannot be a fill is refused (an ALERT, once) and the rows
        beside it go on."""
        try:
            fill = Fill.from_json(row)
            if fill.timestamp > time.time() * MICROS + MAX_CLOCK_AHEAD:
                raise RabbitXResponseError(f"RabbitX fill {fill.fill_id} is dated in the future: {fill.timestamp} us")
        except RabbitXResponseError as exc:
            self.refused.refuse(row, exc)
            return False
        return self._accept(fill)

    def _accept_rows(self, rows: Any) -> None:
        if rows is None:
            return
        if not isinstance(rows, list):
            raise RabbitXResponseError(f"RabbitX account push: fills is not a list: {str(rows)[:200]!r}")
        for row in rows:
            self.delivered_from_stream += self._accept_row(row)

    async def _follow(self) -> None:
        while True:
            self._reached = False
            await self._trying(WEBSOCKET, self._follow_stream)
            self.connected.clear()
            await self._trying(REST, self.recover)
            await asyncio.sleep(self.retry_delay)

    async def _trying(self, step: str, run: Callable[[], Awaitable[object]]) -> None:
        """Runs one step; its failure is logged (`_FailureLog`) and sets the delay before the next try."""
        # Only cancellation may end the feed's loop: a consumer waiting on the feed must not wait on a dead task.
        try:
            await run()
        except Exception as exc:
            if step == REST and not self._reached:  # nothing reached the exchange this time: less often, each time
                self.retry_delay = min(max(2 * self.retry_delay, self._settings.reconnect_delay), RETRY_DELAY_CAP)
            self._failures.failed(step, exc, self.retry_delay)

    async def _follow_stream(self) -> None:
        credentials = self._client.credentials
        if credentials is None:
            raise RabbitXError("no RabbitX credentials: configure an API key, secret and JWT")
        stream = await AccountStream.open(
            self._settings.websocket_url, credentials, self._client.refresh_jwt, self._settings.request_timeout
        )
        try:
            self.connected.set()
            self._answered(WEBSOCKET)
            self._accept_rows(stream.snapshot.get("fills"))
            # The subscription starts now: whatever filled while there was none is read over REST.
            await self.recover()
            while True:
                offset_before = stream.offset
                try:
                    update = await stream.next_update(timeout=self._settings.quiet_reconcile)
                except TimeoutError:
                    await self.recover()
                    continue
                if offset_before is not None and stream.offset is not None and stream.offset > offset_before + 1:
                    log.warning("RabbitX fills: pushes %d..%d missed; reading REST", offset_before + 1, stream.offset)
                    await self.recover()
                self._accept_rows(update.get("fills"))
        finally:
            await stream.close()

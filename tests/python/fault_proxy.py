"""A real HTTP proxy in front of a venue's REST API that breaks chosen answers, for fault tests: the keeper reaches
the venue through it over the network as it would through a load balancer, and the venue itself stays correct.

Each fault is for one method and path and a number of requests; the request is always forwarded first, so the venue
acts on it and only its answer is lost (a gateway's 502, a body cut off, an answer later than the keeper waits)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

import aiohttp
from aiohttp import web


class Fault(Enum):
    BAD_GATEWAY = "502"  # the venue acted; the gateway answers 502 with an HTML page
    MALFORMED = "malformed"  # the venue acted; the answer is 200 with its JSON cut in half
    SLOW = "slow"  # the venue acted; the answer comes after `FaultProxy.delay` seconds


@dataclass
class _Armed:
    method: str
    path: str
    fault: Fault
    left: int


class FaultProxy:
    def __init__(self, upstream: str, delay: float) -> None:
        self.upstream = upstream.rstrip("/")
        self.delay = delay
        self.url = ""
        self.hits: list[tuple[str, str, Fault]] = []  # the faults served, in order
        self._armed: list[_Armed] = []
        self._lock = threading.Lock()

    def inject(self, method: str, path: str, fault: Fault, times: int = 1) -> None:
        with self._lock:
            self._armed.append(_Armed(method, path, fault, times))

    def _take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for armed in self._armed:
                if armed.left and (armed.method, armed.path) == (method, path):
                    armed.left -= 1
                    self.hits.append((method, path, armed.fault))
                    return armed.fault
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        fault = self._take(request.method, request.path)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method,
                self.upstream + request.path_qs,
                data=await request.read(),
                headers=headers,
            ) as answer,
        ):
            status, body = answer.status, await answer.read()
        if fault is Fault.BAD_GATEWAY:
            return web.Response(status=502, text="<html><body>502 Bad Gateway</body></html>")
        if fault is Fault.MALFORMED:
            return web.Response(status=200, body=body[: len(body) // 2], content_type="application/json")
        if fault is Fault.SLOW:
            await asyncio.sleep(self.delay)
        return web.Response(status=status, body=body, content_type="application/json")


@contextlib.contextmanager
def fault_proxy(upstream: str, delay: float = 1.0) -> Iterator[FaultProxy]:
    """A `FaultProxy` to `upstream` served on a free port on its own thread until the block exits."""
    proxy = FaultProxy(upstream, delay)
    loop = asyncio.new_event_loop()
    started: concurrent.futures.Future[asyncio.Event] = concurrent.futures.Future()

    async def run() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", proxy._handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        proxy.url = f"http://127.0.0.1:{port}"
        stop = asyncio.Event()
        started.set_result(stop)
        await stop.wait()
        await runner.cleanup()

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), name="fault-proxy", daemon=True)
    thread.start()
    stop = started.result(timeout=10)
    try:
        yield proxy
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
        loop.close()

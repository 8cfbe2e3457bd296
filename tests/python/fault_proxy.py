"""A real HTTP proxy in front of a venue's REST API that breaks chosen answers, for fault tests: the keeper reaches
the venue through it over the network as it would through a load balancer, and the venue itself stays correct.

Each fault is for one method and path and a number of requests; the request is forwarded first (but for `UNSENT`), so
the venue acts on it and only its answer is lost (a gateway's 502, a body cut off, an answer later than the keeper
waits).
`RpcFaults` breaks a JSON-RPC node's answers per method, `GrpcFaultProxy` does the same in front of a validator's gRPC
services, and `NodeSwitch` cuts a node's connections."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any

import aiohttp
import grpc
from aiohttp import web


class Fault(Enum):
    BAD_GATEWAY = "502"  # the venue acted; the gateway answers 502 with an HTML page
    MALFORMED = "malformed"  # the venue acted; the answer is 200 with its JSON cut in half
    SLOW = "slow"  # the venue acted; the answer comes after `FaultProxy.delay` seconds
    UNSENT = "unsent"  # the gateway fails as for BAD_GATEWAY, but before the venue got the request


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
        if fault is Fault.UNSENT:
            return web.Response(status=502, text="<html><body>502 Bad Gateway</body></html>")
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
    with serving(proxy._handle) as proxy.url:
        yield proxy


class RpcFaults:
    """A JSON-RPC proxy in front of a real node that breaks the answers to chosen methods after forwarding them (the
    node acts; only the answer is lost), or without forwarding (`unsent`). A fault is one of "error" (a JSON-RPC error:
    rate limited), "502" (a gateway's HTML page), "401", "403", "413" or "429" (the provider's refusal of the request,
    as its HTTP status; with `unsent`, as a provider that refuses it does), "html" (an HTML page with status 200),
    "garbage" (a body that is not JSON), "nested" (JSON nested deeper than the parser recurses) and "null" (a null
    result); `slow` delays a method's answer; `cap_call_gas` caps the gas an `eth_call` may name as a node does. Records
    every method asked (`asked`) and every one answered with a fault (`served`)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.faults: dict[str, tuple[str, bool]] = {}  # method -> (fault, unsent)
        self.slow: dict[str, float] = {}
        self.call_gas_cap: tuple[int, bool] | None = None
        self.asked: list[str] = []
        self.served: list[str] = []
        self.error_message = "rate limited"  # what an "error" fault says

    def break_answers(self, method: str, fault: str, unsent: bool = False) -> None:
        self.faults[method] = (fault, unsent)

    def cap_call_gas(self, cap: int, refuse: bool) -> None:
        """An `eth_call` naming more gas than `cap` runs with `cap` (geth's `--rpc.gascap`), or with `refuse` is
        refused as Hardhat and Besu refuse more than the block gas limit."""
        self.call_gas_cap = (cap, refuse)

    def heal(self) -> None:
        self.faults.clear()
        self.slow.clear()
        self.call_gas_cap = None

    def _over_cap(self, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The calls a refusing cap refuses; a silent cap lowers their gas in place."""
        if self.call_gas_cap is None:
            return []
        cap, refuse = self.call_gas_cap
        over = [c for c in calls if c.get("method") == "eth_call" and int(c["params"][0].get("gas", "0x0"), 16) > cap]
        if not refuse:
            for c in over:
                c["params"][0]["gas"] = hex(cap)
            return []
        return over

    async def handle(self, request: web.Request) -> web.Response:
        call = json.loads(await request.read())
        calls = call if isinstance(call, list) else [call]
        methods = [str(c.get("method")) for c in calls]
        self.asked += methods
        refused = self._over_cap(calls)
        if refused:
            self.served += ["eth_call"] * len(refused)
            message = (
                f"Transaction gas limit exceeds block gas limit of {self.call_gas_cap[0] if self.call_gas_cap else 0}"
            )
            answers = [
                {"jsonrpc": "2.0", "id": c.get("id"), "error": {"code": -32000, "message": message}} for c in refused
            ]
            rest = [c for c in calls if c not in refused]
            if rest:
                async with aiohttp.ClientSession() as session, session.post(self.upstream, json=rest) as answer:
                    answers += await answer.json()
            return web.json_response(answers if isinstance(call, list) else answers[0])
        body = json.dumps(call).encode()
        fault, unsent = next((self.faults[m] for m in methods if m in self.faults), ("", False))
        if fault:
            self.served.append(next(m for m in methods if m in self.faults))
        if not unsent:
            async with (
                aiohttp.ClientSession() as session,
                session.post(self.upstream, data=body, headers={"Content-Type": "application/json"}) as answer,
            ):
                text = await answer.read()
        await asyncio.sleep(max((self.slow.get(m, 0.0) for m in methods), default=0.0))
        request_id = call.get("id") if isinstance(call, dict) else None
        if fault == "error":
            error = {"code": -32005, "message": self.error_message}
            return web.json_response({"jsonrpc": "2.0", "id": request_id, "error": error})
        if fault in ("401", "403", "413", "429"):  # the provider refuses the request itself (a rate limit, a key)
            return web.Response(status=int(fault), text=f"{fault} refused by the provider", content_type="text/plain")
        if fault == "502" or unsent:
            return web.Response(status=502, text="<html><body>502 Bad Gateway</body></html>")
        if fault == "html":
            return web.Response(
                status=200, text="<html><body>upstream overloaded</body></html>", content_type="text/html"
            )
        if fault == "garbage":
            return web.Response(status=200, text="{garbage", content_type="application/json")
        if fault == "nested":  # deeper than the JSON parser recurses
            return web.Response(status=200, text='{"result": ' + "[" * 100_000, content_type="application/json")
        if fault == "null":
            return web.json_response({"jsonrpc": "2.0", "id": request_id, "result": None})
        return web.Response(status=200, body=text, content_type="application/json")


@contextlib.contextmanager
def rpc_faults(upstream: str) -> Iterator[tuple[RpcFaults, str]]:
    """An `RpcFaults` proxy to `upstream` served on a free port on its own thread: it and its URL."""
    faults = RpcFaults(upstream)
    with serving(faults.handle) as url:
        yield faults, url


@contextlib.contextmanager
def serving(handle: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Iterator[str]:
    """`handle` answering every method and path on a free port, on its own thread until the block exits: its URL."""
    url = ""

    async def start() -> Callable[[], Awaitable[None]]:
        nonlocal url
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        return runner.cleanup

    with _on_thread(start):
        yield url


@contextlib.contextmanager
def _on_thread(start: Callable[[], Awaitable[Callable[[], Awaitable[None]]]]) -> Iterator[None]:
    """Runs `start` on an event loop of its own thread, then the shutdown it returns when the block exits."""
    loop = asyncio.new_event_loop()
    started: concurrent.futures.Future[asyncio.Event] = concurrent.futures.Future()

    async def run() -> None:
        shutdown = await start()
        stop = asyncio.Event()
        started.set_result(stop)
        await stop.wait()
        await shutdown()

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), name="fault-service", daemon=True)
    thread.start()
    stop = started.result(timeout=10)
    try:
        yield
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
        loop.close()


class NodeSwitch:
    """A TCP relay in front of a node that can be switched off: then every connection, new or open, is cut, as when
    the node's process is gone; switched on, it relays again."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.url = ""
        self.up = True
        self._open: set[asyncio.StreamWriter] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def switch(self, up: bool) -> None:
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(self._switch(up), self._loop).result(timeout=10)

    async def _switch(self, up: bool) -> None:
        self.up = up
        if not up:
            for writer in list(self._open):
                writer.transport.abort()

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if not self.up:
            client_writer.transport.abort()
            return
        node_reader, node_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        if not self.up:
            # Switched off while the node's connection opened: not yet among the open ones `_switch` cut, so cut here,
            # or a kept-alive connection would go on answering through the outage.
            client_writer.transport.abort()
            node_writer.transport.abort()
            return
        self._open.update((client_writer, node_writer))

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            writer.transport.abort()

        await asyncio.gather(pipe(client_reader, node_writer), pipe(node_reader, client_writer))
        self._open.difference_update((client_writer, node_writer))


@contextlib.contextmanager
def node_switch(upstream_url: str) -> Iterator[NodeSwitch]:
    """A `NodeSwitch` in front of the node at `upstream_url`, served on its own thread until the block exits."""
    switch = NodeSwitch(int(upstream_url.rsplit(":", 1)[1]))

    async def start() -> Callable[[], Awaitable[None]]:
        server = await asyncio.start_server(switch._relay, "127.0.0.1", 0)
        switch.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        switch._loop = asyncio.get_running_loop()

        async def shutdown() -> None:
            await switch._switch(False)
            server.close()
            # The relays end by themselves once their connections are cut: waited for, not left to the loop's close.
            await asyncio.gather(*(t for t in asyncio.all_tasks() if t is not asyncio.current_task()))

        return shutdown

    with _on_thread(start):
        yield switch


class GrpcFaultProxy:
    """A real gRPC proxy in front of a node's unary services (a validator's), for fault tests: every call is forwarded
    as raw bytes, and an armed method's answer is lost after the node acted on the call (`Fault.BAD_GATEWAY`: the
    caller gets UNAVAILABLE, as from a load balancer without a backend; `Fault.SLOW`: the answer comes `delay`
    seconds late, past the caller's deadline), or the call never reaches the node (`Fault.UNSENT`: UNAVAILABLE too,
    so the caller cannot tell the two apart)."""

    def __init__(self, upstream: str, delay: float) -> None:
        self.delay = delay
        self.url = ""
        self.calls: list[str] = []  # every method forwarded, in order
        self.hits: list[tuple[str, Fault]] = []  # the faults served, in order
        self._upstream = grpc.insecure_channel(upstream)
        self._armed: list[_Armed] = []
        self._lock = threading.Lock()

    def inject(self, method: str, fault: Fault, times: int = 1) -> None:
        with self._lock:
            self._armed.append(_Armed("grpc", method, fault, times))

    def count(self, method: str) -> int:
        with self._lock:
            return self.calls.count(method)

    def _take(self, method: str) -> Fault | None:
        with self._lock:
            self.calls.append(method)
            for armed in self._armed:
                if armed.left and armed.path == method:
                    armed.left -= 1
                    self.hits.append((method, armed.fault))
                    return armed.fault
        return None

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method = details.method
        forward = self._upstream.unary_unary(method)  # no (de)serializers: the bytes pass as they are

        def handle(request: bytes, context: grpc.ServicerContext) -> bytes:
            fault = self._take(method)
            if fault is Fault.UNSENT:
                context.abort(grpc.StatusCode.UNAVAILABLE, "upstream connect error or disconnect/reset")
            try:
                answer: bytes = forward(request, metadata=context.invocation_metadata())
            except grpc.RpcError as error:
                context.abort(error.code(), error.details())
            if fault is Fault.BAD_GATEWAY:
                context.abort(grpc.StatusCode.UNAVAILABLE, "upstream connect error or disconnect/reset")
            if fault is Fault.SLOW:
                time.sleep(self.delay)
            return answer

        return grpc.unary_unary_rpc_method_handler(handle)


@contextlib.contextmanager
def grpc_fault_proxy(upstream_url: str, delay: float = 1.0) -> Iterator[GrpcFaultProxy]:
    """A `GrpcFaultProxy` to the plaintext gRPC node at `upstream_url` (``http://host:port``), served until the block
    exits; its `url` has the same form."""
    proxy = GrpcFaultProxy(upstream_url.removeprefix("http://"), delay)
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=8), handlers=[proxy])
    proxy.url = f"http://127.0.0.1:{server.add_insecure_port('127.0.0.1:0')}"
    server.start()
    try:
        yield proxy
    finally:
        server.stop(grace=None)
        proxy._upstream.close()

"""The replica as running services: the validator's gRPC server, Noble's gRPC server (`noble.py`, across the IBC
channel), the indexer's HTTP server on its own thread and event loop, and a block ticker, all over one `Chain`. Used
by `python -m keeper.devnet.dydx` and the tests, which reach it only through the URLs, as the connector would reach
dYdX and Noble."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from aiohttp import web

from keeper.devnet.dydx.bridge import BridgeConfig, BridgeWatcher
from keeper.devnet.dydx.chain import Chain
from keeper.devnet.dydx.indexer import indexer_app
from keeper.devnet.dydx.indexer_socket import IndexerSocket
from keeper.devnet.dydx.noble import Noble, serve_noble
from keeper.devnet.dydx.validator import serve_validator


@dataclass
class DydxReplica:
    chain: Chain
    indexer_url: str
    validator_url: str
    """``http://host:port``: plaintext gRPC."""
    noble: Noble
    noble_url: str
    """Noble's gRPC, ``http://host:port``."""
    _ticking: threading.Event

    def pause_blocks(self) -> None:
        """Stops the ticker: the height stays where it is until `resume_blocks` or `produce_blocks`."""
        self._ticking.clear()

    def resume_blocks(self) -> None:
        self._ticking.set()

    def produce_blocks(self, count: int = 1) -> int:
        for _ in range(count):
            height = self.chain.produce_block()
        return height


@contextlib.contextmanager
def run_replica(
    chain: Chain,
    block_interval: float = 0.2,
    host: str = "127.0.0.1",
    indexer_port: int = 0,
    grpc_port: int = 0,
    bridge: BridgeConfig | None = None,
    noble_port: int = 0,
) -> Iterator[DydxReplica]:
    """Serves `chain` until the block exits, producing a block every `block_interval` seconds; with `bridge`, also
    minting the bridge's deposits on Noble and attesting Noble's burns to Ethereum with its attester key."""
    noble = chain.noble if chain.noble is not None else Noble(chain)
    server, bound = serve_validator(chain, host, grpc_port)
    noble_server, noble_bound = serve_noble(noble, host, noble_port)
    loop = asyncio.new_event_loop()
    started: concurrent.futures.Future[tuple[str, asyncio.Event]] = concurrent.futures.Future()

    async def serve_indexer() -> None:
        app = indexer_app(chain, bridge.attester_key if bridge else None)
        IndexerSocket(chain).install(app)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, indexer_port)
        try:
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            stop = asyncio.Event()
            started.set_result((f"http://{host}:{port}", stop))
            await stop.wait()
        except BaseException as error:
            if not started.done():
                started.set_exception(error)
            raise
        finally:
            await runner.cleanup()

    indexer = threading.Thread(
        target=loop.run_until_complete, args=(serve_indexer(),), name="dydx-indexer", daemon=True
    )
    indexer.start()
    ticking, stopped = threading.Event(), threading.Event()
    ticking.set()

    def tick() -> None:
        while not stopped.wait(block_interval):
            if ticking.is_set():
                chain.produce_block()

    ticker = threading.Thread(target=tick, name="dydx-blocks", daemon=True)
    ticker.start()
    watcher = None
    if bridge is not None:
        watcher = threading.Thread(
            target=BridgeWatcher(noble, bridge).run, args=(stopped,), name="dydx-bridge", daemon=True
        )
        watcher.start()
    try:
        indexer_url = started.result(timeout=10)[0]
        yield DydxReplica(chain, indexer_url, f"http://{host}:{bound}", noble, f"http://{host}:{noble_bound}", ticking)
    finally:
        stopped.set()
        ticker.join(timeout=5)
        if watcher is not None:
            watcher.join(timeout=5)
        if started.done() and not started.exception():
            loop.call_soon_threadsafe(started.result()[1].set)
        indexer.join(timeout=10)
        loop.close()
        server.stop(grace=None)
        noble_server.stop(grace=None)

"""The devnet RabbitX as a real HTTP/WebSocket server on a free port, run on its own thread and event loop, so the
connector under test reaches it only over the network, as it would the real exchange."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from keeper.devnet.rabbitx.app import DevnetConfig, RabbitXDevnet, serve
from keeper.devnet.rabbitx.exchange import ExchangeConfig

from .rabbitx_service import CUSTODY, SIGNER_KEY, RabbitXService


@pytest.fixture
def rabbitx(tmp_path: Path) -> Iterator[RabbitXService]:
    loop = asyncio.new_event_loop()
    started: concurrent.futures.Future[tuple[RabbitXService, asyncio.Event]] = concurrent.futures.Future()

    async def run() -> None:
        devnet = RabbitXDevnet(
            DevnetConfig(
                ExchangeConfig(signer_key=SIGNER_KEY, custody_address=CUSTODY),
                funding_interval=0,
                liquidation_interval=0,
            )
        )
        async with serve(devnet) as running:
            stop = asyncio.Event()
            started.set_result((RabbitXService(devnet, running.url, loop, tmp_path / "keeper-data"), stop))
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), name="rabbitx-devnet", daemon=True)
    thread.start()
    service, stop = started.result(timeout=10)
    try:
        yield service
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
        loop.close()

"""The venues' replicas as real servers on free ports, each run on its own thread and event loop, so the connector
under test reaches them only over the network, as it would the real venues: the devnet RabbitX (HTTP/WebSocket) and
the dYdX replica (the validator's gRPC, the indexer's HTTP, a block ticker)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from keeper.devnet.dydx.chain import Chain
from keeper.devnet.dydx.service import run_replica
from keeper.devnet.rabbitx.app import DevnetConfig, RabbitXDevnet, serve
from keeper.devnet.rabbitx.exchange import ExchangeConfig

from .dydx_replica import ADDRESS, MAKER, Bench
from .rabbitx_service import CUSTODY, SIGNER_KEY, RabbitXService


@contextlib.contextmanager
def service_on_thread(config: DevnetConfig, data_dir: Path) -> Iterator[RabbitXService]:
    """Serve a devnet with `config` on its own thread until the block exits."""
    loop = asyncio.new_event_loop()
    started: concurrent.futures.Future[tuple[RabbitXService, asyncio.Event]] = concurrent.futures.Future()

    async def run() -> None:
        try:
            devnet = RabbitXDevnet(config)
            async with serve(devnet) as running:
                stop = asyncio.Event()
                started.set_result((RabbitXService(devnet, running.url, loop, data_dir), stop))
                await stop.wait()
        except BaseException as exc:
            if not started.done():
                started.set_exception(exc)
            raise

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), name="rabbitx-devnet", daemon=True)
    thread.start()
    service, stop = started.result(timeout=10)
    try:
        yield service
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
        loop.close()


def _rabbitx_config(**overrides: Any) -> DevnetConfig:
    exchange = ExchangeConfig(signer_key=SIGNER_KEY, custody_address=CUSTODY)
    return DevnetConfig(exchange, funding_interval=0, liquidation_interval=0, **overrides)


@pytest.fixture
def rabbitx(tmp_path: Path) -> Iterator[RabbitXService]:
    with service_on_thread(_rabbitx_config(), tmp_path / "keeper-data") as service:
        yield service


@pytest.fixture
def rabbitx_pinging_every_second(tmp_path: Path) -> Iterator[RabbitXService]:
    """The devnet RabbitX pinging its WebSockets every second (RabbitX's own interval is 25)."""
    with service_on_thread(_rabbitx_config(ping_interval=1.0), tmp_path / "keeper-data") as service:
        yield service


@pytest.fixture
def rabbitx_short_jwt(tmp_path: Path) -> Iterator[RabbitXService]:
    """The devnet RabbitX issuing JWTs that expire two seconds after they are issued."""
    with service_on_thread(_rabbitx_config(jwt_lifetime=2), tmp_path / "keeper-data") as service:
        yield service


@pytest.fixture
def dydx() -> Iterator[Bench]:
    chain = Chain()
    chain.fund(ADDRESS, Decimal(100_000))
    chain.fund(MAKER, Decimal(10_000_000))
    with run_replica(chain, block_interval=0.05) as replica:
        yield Bench(replica)

"""Run the devnet RabbitX on a free localhost port and talk to it over real HTTP/WebSocket with aiohttp."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

import aiohttp
from eth_account import Account

from keeper.connectors.rabbitx.client import AccountStream, RabbitXClient
from keeper.devnet.rabbitx.app import DevnetConfig, RabbitXDevnet, RunningDevnet, serve
from keeper.devnet.rabbitx.exchange import ExchangeConfig

T = TypeVar("T")

SIGNER_KEY = "0x" + "5e" * 32
CUSTODY = "0x00000000000000000000000000000000000c0dE5"


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def wallet_key(index: int) -> tuple[str, str]:
    key = "0x" + (1000 + index).to_bytes(32, "big").hex()
    return key, str(Account.from_key(key).address)


@dataclass
class Harness:
    running: RunningDevnet
    session: aiohttp.ClientSession
    streams: list[AccountStream] = field(default_factory=list)

    @property
    def devnet(self) -> RabbitXDevnet:
        return self.running.devnet

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def ws_url(self) -> str:
        return self.running.ws_url

    async def trader(self, index: int, deposit: Decimal = Decimal(10_000)) -> RabbitXClient:
        """A wallet onboarded over REST and funded through `credit_deposit` (as the chain watcher would)."""
        key, address = wallet_key(index)
        client = RabbitXClient(self.session, self.url)
        await client.onboard(key, address)
        if deposit > 0:
            units = int(deposit.scaleb(self.devnet.exchange.config.collateral_decimals))
            assert self.devnet.credit_deposit(address, units, f"deposit-{index}")
        return client

    async def stream(self, client: RabbitXClient) -> AccountStream:
        assert client.credentials is not None
        stream = await AccountStream.open(self.ws_url, client.credentials)
        self.streams.append(stream)
        return stream


async def wait_for(check: Callable[[], Awaitable[T | None]], timeout: float = 5.0, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def wait_order(client: RabbitXClient, order_id: str, *statuses: str, timeout: float = 5.0) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        order = await client.order(order_id)
        return order if order["status"] in statuses else None

    return await wait_for(check, timeout, f"{order_id} to be {'/'.join(statuses)}")


@contextlib.asynccontextmanager
async def harness(**overrides: Any) -> AsyncIterator[Harness]:
    exchange_fields = {k: overrides.pop(k) for k in list(overrides) if k in ExchangeConfig.__dataclass_fields__}
    config = DevnetConfig(
        exchange=ExchangeConfig(signer_key=SIGNER_KEY, custody_address=CUSTODY, **exchange_fields),
        funding_interval=overrides.pop("funding_interval", 0),
        liquidation_interval=overrides.pop("liquidation_interval", 0),
        **overrides,
    )
    devnet = RabbitXDevnet(config)
    async with serve(devnet) as running, aiohttp.ClientSession() as session:
        h = Harness(running, session)
        try:
            yield h
        finally:
            for stream in h.streams:
                await stream.close()

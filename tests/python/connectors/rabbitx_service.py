"""The devnet RabbitX service as the connector tests see it (a real server on its own thread; see conftest.py), and
waiting helpers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from eth_account import Account

from keeper.connectors.rabbitx.client import Credentials, RabbitXClient
from keeper.connectors.rabbitx.connector import RabbitXConnector
from keeper.connectors.rabbitx.models import Fill, Order
from keeper.connectors.rabbitx.settings import RabbitXSettings
from keeper.devnet.rabbitx.app import RabbitXDevnet

T = TypeVar("T")

SIGNER_KEY = "0x" + "5e" * 32
CUSTODY = "0x00000000000000000000000000000000000c0dE5"


@dataclass
class RabbitXService:
    devnet: RabbitXDevnet
    url: str
    loop: asyncio.AbstractEventLoop
    data_dir: Path

    async def on_service(self, action: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run `action` on the service's own loop (the devnet is single-threaded), from the test's loop."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(action(), self.loop))

    async def deposit(self, wallet: str, amount: Decimal) -> None:
        """Credit collateral as the exchange's chain watcher would after a deposit on chain."""
        units = int(amount.scaleb(self.devnet.exchange.config.collateral_decimals))

        async def credit() -> bool:
            return self.devnet.credit_deposit(wallet, units, f"deposit-{wallet}-{units}-{time.monotonic_ns()}")

        assert await self.on_service(credit)

    async def drop_websockets(self, refuse_for: float) -> None:
        await self.on_service(lambda: self.devnet.drop_websockets(refuse_for))

    async def stop_pinging(self, stopped: bool = True) -> None:
        async def stop() -> None:
            self.devnet.stop_pinging(stopped)

        await self.on_service(stop)

    async def lose_account_pushes(self, credentials: Credentials, count: int) -> None:
        async def lose() -> None:
            self.devnet.lose_pushes(f"account@{credentials.profile_id}", count)

        await self.on_service(lose)

    async def trader(
        self, session: aiohttp.ClientSession, index: int, deposit: Decimal = Decimal(10_000)
    ) -> Credentials:
        """A wallet onboarded over HTTP (as the keeper does once, to get its API key and secret), then funded."""
        key = "0x" + (2000 + index).to_bytes(32, "big").hex()
        wallet = str(Account.from_key(key).address)
        credentials = await RabbitXClient(session, self.url).onboard(key, wallet)
        if deposit > 0:
            await self.deposit(wallet, deposit)
        return credentials

    def settings(self, credentials: Credentials, **overrides: Any) -> RabbitXSettings:
        """Connector settings as the keeper's configuration would give them: only the URL and the credentials
        point at the devnet."""
        values: dict[str, Any] = {"data_dir": self.data_dir, "reconnect_delay": 0.05, "quiet_reconcile": 5.0}
        values.update(overrides)
        return RabbitXSettings(base_url=self.url, credentials=credentials, **values)


async def next_fills(fills: AsyncIterator[Fill], count: int, timeout: float = 5.0) -> list[Fill]:
    return [await asyncio.wait_for(anext(fills), timeout) for _ in range(count)]


async def assert_no_more_fills(fills: AsyncIterator[Fill], wait: float = 0.5) -> None:
    try:
        extra = await asyncio.wait_for(anext(fills), wait)
    except TimeoutError:
        return
    raise AssertionError(f"fill {extra.fill_id} came out twice or unexpectedly")


async def wait_order(
    connector: RabbitXConnector, order_id: str, until: Callable[[Order], bool], timeout: float = 5.0
) -> Order:
    deadline = time.monotonic() + timeout
    while True:
        order = await connector.order(order_id)
        if until(order):
            return order
        if time.monotonic() > deadline:
            raise AssertionError(f"order {order_id} still {order.status} after {timeout}s")
        await asyncio.sleep(0.02)


async def final_order(connector: RabbitXConnector, order_id: str) -> Order:
    return await wait_order(connector, order_id, lambda order: order.status.is_final)

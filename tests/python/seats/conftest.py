"""The seat tests' fixtures: the devnet RabbitX exchange served on a thread, and a chain with liquidity and a
depositor (dev account 1, 20 WETH in the vault)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from keeper.connectors.rabbitx.client import Credentials, RabbitXClient
from keeper.devnet.deploy import seed_local_liquidity
from keeper.devnet.rabbitx.app import DevnetConfig
from keeper.devnet.rabbitx.exchange import ExchangeConfig
from tests.python.conftest import Chain
from tests.python.connectors.conftest import service_on_thread
from tests.python.connectors.rabbitx_service import CUSTODY, SIGNER_KEY, RabbitXService


@pytest.fixture
def exchange(tmp_path: Path) -> Iterator[RabbitXService]:
    config = DevnetConfig(
        ExchangeConfig(signer_key=SIGNER_KEY, custody_address=CUSTODY), funding_interval=0, liquidation_interval=0
    )
    with service_on_thread(config, tmp_path / "keeper-data") as service:
        yield service


@pytest.fixture
def market(chain: Chain) -> Chain:
    admin = chain.client(0)
    assert admin.sender is not None
    seed_local_liquidity(admin.sender, chain.deployment)
    chain.mint(1, "WETH", 20)
    chain.client(1).deposit(chain.account(1).address, "WETH", 20 * 10**18)
    return chain


async def seat_account_with_resting_asks(exchange: RabbitXService, session: aiohttp.ClientSession) -> Credentials:
    """The seat's exchange account (funded), and a maker's asks resting on ETH-USD: 0.6 at 3,000 and 0.2 at
    3,001.5, so that a 1 ETH IOC buy fills 0.8 in two fills and leaves 0.2."""
    seat = await exchange.trader(session, 1, deposit=Decimal(100_000))
    maker = RabbitXClient(session, exchange.url, await exchange.trader(session, 2, deposit=Decimal(100_000)))
    await maker.create_order("ETH-USD", "short", Decimal("0.6"), Decimal(3000), "limit", None, "ask-1")
    await maker.create_order("ETH-USD", "short", Decimal("0.2"), Decimal("3001.5"), "limit", None, "ask-2")
    await asyncio.sleep(0.3)  # the asks rest on the book
    return seat

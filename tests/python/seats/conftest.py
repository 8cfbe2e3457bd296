"""The seat tests' fixtures: the devnet RabbitX exchange served on a thread, and a chain with liquidity and a
depositor (dev account 1, 20 WETH in the vault)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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

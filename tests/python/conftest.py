"""Fixtures: one anvil per test session on a free port with PrimeVault deployed; every test runs inside an
`evm_snapshot`/`evm_revert` pair so tests see the same fresh deployment and cannot leak state."""

from __future__ import annotations

import dataclasses
import logging
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from keeper.chain.anvil import Anvil
from keeper.chain.deployment import Deployment
from keeper.chain.keys import dev_account
from keeper.chain.revert import error_decoder
from keeper.chain.transactions import Sender
from keeper.client.clients import Clients
from keeper.client.feeds import FeedClient
from keeper.client.vault import VaultClient
from keeper.devnet.deploy import deploy_local_system, seed_local_liquidity


@pytest.fixture(autouse=True)
def process_settings_put_back() -> Iterator[None]:
    """What a test that runs a command in this process changes for the whole process is put back after it: the root
    logger's level (`keeper run --log-level`) and the signal handlers (`keeper run` takes SIGINT, SIGTERM and SIGHUP),
    so that a later test sees Python's own (Ctrl-C raising KeyboardInterrupt, warnings reaching caplog)."""
    level = logging.getLogger().level
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    yield
    logging.getLogger().setLevel(level)
    for sig, handler in handlers.items():
        signal.signal(sig, handler)


@dataclass
class Chain:
    w3: Web3
    url: str
    deployment: Deployment
    deployment_file: Path

    def client(self, index: int) -> VaultClient:
        """A vault client signing with anvil dev account `index`."""
        return self.clients(index).vault

    def clients(self, index: int) -> Clients:
        """Every client of the deployment, signing with anvil dev account `index`."""
        return Clients.build(self.w3, self.deployment, Sender(self.w3, dev_account(index), error_decoder()))

    def account(self, index: int) -> LocalAccount:
        return dev_account(index)

    def mint(self, index: int, symbol: str, whole: int) -> None:
        amount = whole * 10 ** self.deployment.token(symbol).decimals
        self.client(0).token(symbol).mint(dev_account(index).address, amount)

    def seed_pool(self) -> None:
        """The local pool lent and margin posted at every venue, by the deployer (dev account 0)."""
        admin = self.client(0)
        assert admin.sender is not None
        seed_local_liquidity(admin.sender, self.deployment)

    def fund(self, index: int, symbol: str, whole: int) -> str:
        """Mints `whole` tokens to dev account `index` and deposits them into its sub-account 0, which it returns."""
        me = dev_account(index).address
        self.mint(index, symbol, whole)
        self.client(index).deposit(me, symbol, whole * 10 ** self.deployment.token(symbol).decimals)
        return me

    def set_price(self, symbol: str, whole: float) -> None:
        feed = self.deployment.token(symbol).feed
        assert feed is not None
        FeedClient(self.w3, feed, self.client(0).sender).set_answer(Decimal(whole))

    def advance(self, seconds: int) -> None:
        self.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses the session's anvil, through any fixture, is a chain test; tests that start their own
    anvil are marked where they are written."""
    for item in items:
        if "_session_chain" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.chain)


@pytest.fixture(scope="session")
def _session_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    with Anvil() as node:
        w3 = Web3(Web3.HTTPProvider(node.url))
        deployment = deploy_local_system(Sender(w3, dev_account(0), error_decoder()))
        deployment = dataclasses.replace(deployment, rpc_url=node.url)
        path = tmp_path_factory.mktemp("deployment") / "local.json"
        deployment.save(path)
        yield Chain(w3, node.url, deployment, path)


@pytest.fixture
def chain(_session_chain: Chain) -> Iterator[Chain]:
    w3 = _session_chain.w3
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    # A fresh head at the wall clock's time: after a revert anvil's clock carries on from the snapshot's block, which
    # is as old as the session, and a keeper reads a head older than its stale_after as a stale chain.
    latest = int(w3.eth.get_block("latest")["timestamp"])
    w3.provider.make_request("evm_setTime", [max(int(time.time()), latest + 1)])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    try:
        yield _session_chain
    finally:
        reverted = w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]
        assert reverted["result"] is True

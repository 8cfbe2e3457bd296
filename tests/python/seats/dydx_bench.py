"""The dYdX seat's test bench: a chain (the seat tests' `market`) with a CCTP bridge and the dYdX seat, the dYdX
replica (dYdX and Noble) served for real and watching the bridge, and the seat's margin sent across it, minted on
Noble and moved into the subaccount by the seat's route."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from dydx_v4_client.key_pair import KeyPair
from dydx_v4_client.wallet import Wallet
from eth_account import Account

from keeper.client.trading import TradingClient
from keeper.connectors.dydx import DydxConnector, DydxSettings
from keeper.connectors.dydx.authenticators import trading_public_key
from keeper.connectors.dydx.noble import rebech
from keeper.devnet.deploy import DYDX_SEAT_VENUE, add_dydx_seat, deploy_cctp_bridge
from keeper.devnet.dydx.bridge import BridgeConfig
from keeper.devnet.dydx.chain import MAINNET_LIKE_MARKETS, Chain
from keeper.devnet.dydx.noble import Noble
from keeper.devnet.dydx.service import DydxReplica, run_replica
from keeper.seats.dydx import DydxSeat, DydxVenue
from tests.python.conftest import Chain as Anvil

D = Decimal
MNEMONIC = "abandon " * 11 + "about"
ADDRESS = Wallet(KeyPair.from_mnemonic(MNEMONIC), 0, 0).address
NOBLE_ADDRESS = rebech(ADDRESS, "noble")
TRADING_KEY = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
"""A permissioned trading key the owner grants (`Bench.trading_seat`)."""
MAKER = "dydx1replicamaker"
SEAT_MARGIN = 50_000  # whole USDC sent to the seat's subaccount over the bridge


@dataclass
class Bench:
    chain: Anvil
    replica: DydxReplica
    attester: str

    @property
    def dydx(self) -> Chain:
        return self.replica.chain

    @property
    def keeper(self) -> TradingClient:
        return TradingClient(self.chain.w3, self.chain.deployment, self.chain.client(0).sender)

    @property
    def venue(self) -> int:
        return self.keeper.venue_id(DYDX_SEAT_VENUE)

    def settings(self) -> DydxSettings:
        """The replica makes a block every 50 ms: orders live its longest window (20 blocks, 1 s), which leaves a
        busy keeper on a slow machine room between reading the height and the validator's check."""
        r = self.replica
        return DydxSettings(r.indexer_url, r.validator_url, self.dydx.chain_id, MNEMONIC, good_til_blocks=20,
                            poll_interval=0.05, request_timeout=5.0, attestation_url=r.indexer_url,
                            noble_url=r.noble_url, noble_chain_id=r.noble.chain_id)  # fmt: skip

    @property
    def noble(self) -> Noble:
        return self.replica.noble

    async def move(self, timeout: float = 10.0) -> None:
        """What the owner's seat does first at each margin check, until nothing waits on Noble, in the bank or in
        flight: the route's legs one step on (a deposit on Noble across IBC, then into the subaccount)."""
        deadline = time.monotonic() + timeout
        async with self.seat() as seat:
            assert isinstance(seat.venue, DydxVenue)
            while True:
                await seat.venue.move_funds()
                waiting = self.noble.balance(NOBLE_ADDRESS) + self.dydx.bank.get(ADDRESS, 0) + len(self.dydx.packets)
                if not waiting:
                    return
                assert time.monotonic() < deadline, "the route never finished moving the margin"
                await asyncio.sleep(0.05)

    def move_funds(self) -> None:
        asyncio.run(self.move())

    @contextlib.asynccontextmanager
    async def seat(self, settings: DydxSettings | None = None) -> AsyncIterator[DydxSeat]:
        async with DydxConnector(settings or self.settings()) as connector:
            yield DydxSeat(self.keeper, connector, self.venue)

    @contextlib.asynccontextmanager
    async def trading_seat(self) -> AsyncIterator[DydxSeat]:
        """The seat of a keeper given only `TRADING_KEY`, which the owner's mnemonic grants first."""
        async with DydxConnector(self.settings()) as owner:
            authenticator_id = await owner.grant_trading_key(trading_public_key(TRADING_KEY))
        settings = dataclasses.replace(
            self.settings(), mnemonic=None, trading_key=TRADING_KEY, authenticator_id=authenticator_id, address=ADDRESS
        )
        async with self.seat(settings) as seat:
            yield seat


@contextlib.contextmanager
def dydx_bench(market: Anvil, deployment_file: Path | None = None) -> Iterator[Bench]:
    """`market` with a CCTP bridge and the dYdX seat (the keeper's dYdX address as recipient), saved to
    `deployment_file` if given, the replica watching the bridge, and the seat's margin sent across it and credited."""
    admin = market.client(0)
    assert admin.sender is not None
    attester = Account.create()
    bridge = deploy_cctp_bridge(admin.sender, market.deployment, attester.address)
    deployment = add_dydx_seat(admin.sender, market.deployment, bridge, ADDRESS, MAINNET_LIKE_MARKETS, D("0.0005"))
    chain = dataclasses.replace(market, deployment=deployment)
    if deployment_file is not None:
        deployment.save(deployment_file)
        chain = dataclasses.replace(chain, deployment_file=deployment_file)
    dydx = Chain()
    dydx.fund(MAKER, D(10_000_000))
    watch = BridgeConfig(
        market.url, bridge, attester.key.hex(), poll_interval=0.05, from_block=market.w3.eth.block_number
    )
    with run_replica(dydx, block_interval=0.05, bridge=watch) as replica:
        bench = Bench(chain, replica, attester.address)
        bench.keeper.deposit_margin(bench.venue, SEAT_MARGIN * 10**6)
        wait(lambda: bench.noble.balance(NOBLE_ADDRESS) > 0, "Noble never minted the bridge deposit")
        bench.move_funds()
        wait(lambda: (ADDRESS, 0) in dydx.subaccounts, "the seat never moved the deposit into its subaccount")
        yield bench


def wait(check: Callable[[], bool], message: str = "timed out", timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, message
        time.sleep(0.05)

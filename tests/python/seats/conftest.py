"""The seat tests' fixtures: a chain with liquidity, a depositor (dev account 1, 20 WETH in the vault) and the vault's
seat at the devnet RabbitX exchange (its custody contract and `RabbitXSeatAdapter`, the trading module's last venue);
the exchange served on a thread, watching that custody contract on the chain."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
from eth_account import Account

from keeper.chain.keys import dev_account
from keeper.client.trading import ChildSpec, TradingClient
from keeper.connectors.rabbitx.client import Credentials, RabbitXClient
from keeper.connectors.rabbitx.connector import RabbitXConnector
from keeper.devnet.deploy import SEAT_VENUE, add_rabbitx_seat, deploy_rabbitx_custody, seed_local_liquidity
from keeper.devnet.rabbitx.app import DevnetConfig
from keeper.devnet.rabbitx.chain_watcher import ChainWatchConfig
from keeper.devnet.rabbitx.exchange import ExchangeConfig
from keeper.seats.rabbitx import RabbitXSeat
from keeper.seats.seat import Seat
from tests.python.conftest import Chain
from tests.python.connectors.conftest import service_on_thread
from tests.python.connectors.rabbitx_service import SIGNER_KEY, RabbitXService

KEEPER = 0  # the dev account that is the test deployment's executor
SEAT_MARGIN = 100_000  # whole USDC the seat's account at the exchange is funded with


@pytest.fixture
def market(chain: Chain, tmp_path: Path) -> Chain:
    admin = chain.client(0)
    assert admin.sender is not None
    seed_local_liquidity(admin.sender, chain.deployment)
    chain.mint(1, "WETH", 20)
    chain.client(1).deposit(chain.account(1).address, "WETH", 20 * 10**18)
    custody = deploy_rabbitx_custody(admin.sender, chain.deployment, Account.from_key(SIGNER_KEY).address)
    exchange = ExchangeConfig(signer_key=SIGNER_KEY)
    deployment = add_rabbitx_seat(admin.sender, chain.deployment, custody, exchange.markets, exchange.default_leverage)
    path = tmp_path / "deployment.json"
    deployment.save(path)
    return dataclasses.replace(chain, deployment=deployment, deployment_file=path)


@contextlib.contextmanager
def serve_exchange(market: Chain, tmp_path: Path, fill_client_order_ids: bool = True) -> Iterator[RabbitXService]:
    custody = market.deployment.venues[-1].address
    watch = ChainWatchConfig(
        market.url, custody, confirmations=1, poll_interval=0.05, from_block=market.w3.eth.block_number
    )
    exchange = ExchangeConfig(
        signer_key=SIGNER_KEY,
        custody_address=custody,
        chain_id=market.w3.eth.chain_id,
        fill_client_order_ids=fill_client_order_ids,
    )
    config = DevnetConfig(exchange, funding_interval=0, liquidation_interval=0, chain=watch)
    with service_on_thread(config, tmp_path / "keeper-data") as service:
        yield service


@pytest.fixture
def exchange(market: Chain, tmp_path: Path) -> Iterator[RabbitXService]:
    with serve_exchange(market, tmp_path) as service:
        yield service


@pytest.fixture
def exchange_without_fill_client_order_ids(market: Chain, tmp_path: Path) -> Iterator[RabbitXService]:
    """The exchange sending fills as RabbitX documents them: without their order's client_order_id."""
    with serve_exchange(market, tmp_path, fill_client_order_ids=False) as service:
        yield service


@contextlib.asynccontextmanager
async def forwarding(seat: Seat) -> AsyncIterator[None]:
    """The seat forwarding its venue's fills on chain for the block's duration."""
    task = asyncio.create_task(seat.forward_fills())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def cycle_until_rejected(seat: Seat, now: int, timeout: float = 5.0) -> None:
    """Runs the seat's cycle until one rejects a child (an IOC remainder, once the seat knows the order is done and its
    fills are booked), or `timeout` seconds pass; the caller checks the child."""
    deadline = time.monotonic() + timeout
    while not (await seat.cycle(now)).rejected and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


def executor(chain: Chain) -> TradingClient:
    return TradingClient(chain.w3, chain.deployment, chain.client(KEEPER).sender)


async def onboard_seat(exchange: RabbitXService, session: aiohttp.ClientSession, chain: Chain) -> Credentials:
    """The seat's exchange account, the seat adapter's own: onboarded with the keeper's key (which the adapter names
    in `isValidSigner`), funded through the custody contract and credited by the exchange's chain watcher."""
    trading = executor(chain)
    venue = trading.venue_id(SEAT_VENUE)
    adapter = trading.seat_adapter(venue)
    credentials = await RabbitXClient(session, exchange.url).onboard(dev_account(KEEPER).key.hex(), adapter.address)
    await asyncio.to_thread(trading.deposit_margin, venue, SEAT_MARGIN * 10**6)
    deadline = time.monotonic() + 10
    client = RabbitXClient(session, exchange.url, credentials)
    while Decimal((await client.account())["balance"]) < SEAT_MARGIN:
        assert time.monotonic() < deadline, "the exchange never credited the seat's deposit"
        await asyncio.sleep(0.05)
    return credentials


async def seat_account_with_resting_asks(
    exchange: RabbitXService, session: aiohttp.ClientSession, chain: Chain
) -> Credentials:
    """The seat's exchange account (funded), and a maker's asks resting on ETH-USD: 0.6 at 3,000 and 0.2 at
    3,001.5, so that a 1 ETH IOC buy fills 0.8 in two fills and leaves 0.2."""
    seat = await onboard_seat(exchange, session, chain)
    maker = RabbitXClient(session, exchange.url, await exchange.trader(session, 2, deposit=Decimal(100_000)))
    await maker.create_order("ETH-USD", "short", Decimal("0.6"), Decimal(3000), "limit", None, "ask-1")
    await maker.create_order("ETH-USD", "short", Decimal("0.2"), Decimal("3001.5"), "limit", None, "ask-2")
    await asyncio.sleep(0.3)  # the asks rest on the book
    return seat


@dataclass
class SeatRun:
    """A seat trading at the exchange: dev account 1's 1 ETH buy (limit 3,030) committed to the seat as one child
    and placed there as an IOC order against the resting asks (0.8 fills)."""

    keeper: TradingClient
    seat: RabbitXSeat
    connector: RabbitXConnector
    session: aiohttp.ClientSession
    account: Credentials
    venue: int
    order_id: int
    child_id: int

    async def child_filled(self, size: Decimal) -> bool:
        return await asyncio.to_thread(lambda: self.keeper.child_order(self.child_id).filled == size)


@contextlib.asynccontextmanager
async def seat_with_child(chain: Chain, exchange: RabbitXService, forward_fills: bool = True) -> AsyncIterator[SeatRun]:
    """A `SeatRun`, its fills forwarded on chain as they come (unless `forward_fills` is off) until the block ends."""
    keeper, depositor = executor(chain), chain.account(1).address
    venue = keeper.venue_id(SEAT_VENUE)
    now = int(chain.w3.eth.get_block("latest")["timestamp"])
    order_id = TradingClient(chain.w3, chain.deployment, chain.client(1).sender).submit(
        depositor, "ETH-USD", Decimal(1), Decimal(3030), now + 600
    )
    child_id = keeper.commit_split(order_id, [ChildSpec(venue, Decimal(1), Decimal(3030), now + 300)])
    async with aiohttp.ClientSession() as session:
        account = await seat_account_with_resting_asks(exchange, session, chain)
        async with RabbitXConnector(exchange.settings(account)) as connector:
            seat = RabbitXSeat(keeper, connector, venue)
            forwarding = asyncio.create_task(seat.forward_fills()) if forward_fills else None
            await seat.cycle(now)
            try:
                yield SeatRun(keeper, seat, connector, session, account, venue, order_id, child_id)
            finally:
                if forwarding is not None:
                    forwarding.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await forwarding

"""The orders job across two seats (RabbitX and dYdX) on anvil: each order is split by the book router over the
books the seats last read, one child per seat; without books the order goes whole to one seat. The venues themselves
are not needed here: the children are what the job decides."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest
from eth_account import Account

from keeper.client.trading import TradingClient
from keeper.daemon.config import KeeperConfig
from keeper.daemon.runner import Keeper
from keeper.devnet.deploy import DYDX_SEAT_VENUE, SEAT_VENUE, add_dydx_seat, deploy_cctp_bridge
from keeper.devnet.dydx.chain import MAINNET_LIKE_MARKETS
from keeper.routing import Level, VenueBook
from tests.python.conftest import Chain

D = Decimal
WAD = 10**18


@pytest.fixture
def two_seats(market: Chain, tmp_path: Path) -> Chain:
    admin = market.client(0)
    assert admin.sender is not None
    bridge = deploy_cctp_bridge(admin.sender, market.deployment, Account.create().address)
    deployment = add_dydx_seat(
        admin.sender, market.deployment, bridge, "dydx199tqg4wdlnu4qjlxchpd7seg454937hjrknju4", MAINNET_LIKE_MARKETS,
        D("0.0005"),
    )  # fmt: skip
    path = tmp_path / "two-seats.json"
    deployment.save(path)
    return dataclasses.replace(market, deployment=deployment, deployment_file=path)


def orders_keeper(chain: Chain, tmp_path: Path) -> Keeper:
    return Keeper(
        KeeperConfig(
            rpc_urls=(chain.url,),
            deployment=chain.deployment_file,
            data_dir=tmp_path / "keeper",
            dev_account=0,
            metrics_port=None,
            jobs=("orders",),
            seat_venues=(SEAT_VENUE, DYDX_SEAT_VENUE),
        )
    )


def book(name: str, asks: list[tuple[int, str]]) -> VenueBook:
    """A book of asks only, 5 bps taker fee, no funding, a 0.001 step."""
    return VenueBook(
        name, (), tuple(Level(price * WAD, int(D(size) * WAD)) for price, size in asks), 500, 0, WAD // 1000
    )


def children(trading: TradingClient, order_id: int) -> dict[str, Decimal]:
    return {trading.venue_name(c.venue_id): c.size for c in trading.child_orders() if c.order_id == order_id}


def test_an_order_is_split_across_the_seats_books(two_seats: Chain, tmp_path: Path) -> None:
    keeper = orders_keeper(two_seats, tmp_path)
    trading = TradingClient(two_seats.w3, two_seats.deployment, two_seats.client(1).sender)
    rabbitx, dydx = trading.venue_id(SEAT_VENUE), trading.venue_id(DYDX_SEAT_VENUE)
    # RabbitX has 0.6 ETH at 3,000 and then 3,010; dYdX 1 ETH at 3,004: a 1.5 ETH buy takes RabbitX's best level,
    # then 0.9 of dYdX's, before RabbitX's dearer one.
    keeper.context.books.set(rabbitx, "ETH-USD", book("rabbitx", [(3000, "0.6"), (3010, "5")]))
    keeper.context.books.set(dydx, "ETH-USD", book("dydx", [(3004, "1")]))
    me = two_seats.account(1).address
    now = int(two_seats.w3.eth.get_block("latest")["timestamp"])
    order_id = trading.submit(me, "ETH-USD", D("1.5"), D(3030), now + 600)
    keeper.jobs.orders.run()
    assert children(trading, order_id) == {SEAT_VENUE: D("0.6"), DYDX_SEAT_VENUE: D("0.9")}
    assert trading.order(order_id).status == "routed"


def test_without_books_an_order_goes_whole_to_one_seat(two_seats: Chain, tmp_path: Path) -> None:
    keeper = orders_keeper(two_seats, tmp_path)
    trading = TradingClient(two_seats.w3, two_seats.deployment, two_seats.client(1).sender)
    me = two_seats.account(1).address
    now = int(two_seats.w3.eth.get_block("latest")["timestamp"])
    order_id = trading.submit(me, "ETH-USD", D("1.5"), D(3030), now + 600)
    keeper.jobs.orders.run()
    assert children(trading, order_id) == {SEAT_VENUE: D("1.5")}

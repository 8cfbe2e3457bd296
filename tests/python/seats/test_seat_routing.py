"""The orders job across two seats (RabbitX and dYdX) on anvil: each order is split by the book router over the
books the seats last read, one child per seat; without books the order goes whole to one seat. The venues themselves
are not needed here: the children are what the job decides."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest
from eth_account import Account

from keeper.client.trading import ChildSpec, FillReport, TradingClient
from keeper.daemon.config import KeeperConfig
from keeper.daemon.runner import Keeper
from keeper.devnet.deploy import (
    DYDX_SEAT_VENUE,
    LOCAL_MAX_STALENESS,
    SEAT_VENUE,
    add_dydx_seat,
    deploy_cctp_bridge,
)
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


def _open_at(chain: Chain, venue: str, size: Decimal, fill_id: bytes) -> None:
    """Dev account 1 holds `size` ETH at seat `venue`: a child committed there and its fill reported."""
    me = chain.account(1).address
    now = int(chain.w3.eth.get_block("latest")["timestamp"])
    trader = TradingClient(chain.w3, chain.deployment, chain.client(1).sender)
    executor = TradingClient(chain.w3, chain.deployment, chain.client(0).sender)
    order_id = trader.submit(me, "ETH-USD", size, D(3100), now + 600)
    child = executor.commit_split(order_id, [ChildSpec(executor.venue_id(venue), abs(size), D(3100), now + 300)])
    executor.report_fills([FillReport(child, fill_id * 32, D(3000), abs(size), 0)])


def test_a_reduce_only_order_waits_for_the_position_another_holds_and_closes_dust(
    two_seats: Chain, tmp_path: Path
) -> None:
    """Long 1 ETH at RabbitX and 0.0004 at dYdX (a position off its 0.001 step). A reduce-only sell of 1.001 closes
    both, dYdX's rounded up onto its step (the child was capped at the position, and the order cancelled). A second
    reduce-only sell of the same long, while the first's children still hold it, waits for them to end (it was
    cancelled for good)."""
    _open_at(two_seats, SEAT_VENUE, D(1), b"\x01")
    _open_at(two_seats, DYDX_SEAT_VENUE, D("0.0004"), b"\x02")
    trading = TradingClient(two_seats.w3, two_seats.deployment, two_seats.client(1).sender)
    keeper = orders_keeper(two_seats, tmp_path)
    me = two_seats.account(1).address
    now = int(two_seats.w3.eth.get_block("latest")["timestamp"])
    first = trading.submit(me, "ETH-USD", D("-1.001"), D(2900), now + 600, reduce_only=True)
    keeper.jobs.orders.run()
    assert trading.order(first).status == "routed"
    assert children(trading, first) == {SEAT_VENUE: D(-1), DYDX_SEAT_VENUE: D("-0.001")}, "sells"
    second = trading.submit(me, "ETH-USD", D(-1), D(2900), now + 600, reduce_only=True)
    keeper.jobs.orders.run()
    assert trading.order(second).status == "open", "held by the first order's children: it waits"


def test_an_order_waits_while_its_mark_cannot_be_used(two_seats: Chain, tmp_path: Path) -> None:
    """The contract reads the mark at every commit: a stale feed cancelled every order for good, and a feed that
    answered a negative price stopped the job with a traceback before any later order."""
    trading = TradingClient(two_seats.w3, two_seats.deployment, two_seats.client(1).sender)
    keeper = orders_keeper(two_seats, tmp_path)
    me = two_seats.account(1).address
    now = int(two_seats.w3.eth.get_block("latest")["timestamp"])
    stale = trading.submit(me, "ETH-USD", D(1), D(3030), now + LOCAL_MAX_STALENESS + 3600)
    two_seats.advance(LOCAL_MAX_STALENESS + 60)
    keeper.jobs.orders.run()
    assert trading.order(stale).status == "open", "waits for a fresh price"
    two_seats.set_price("WETH", -1)
    keeper.jobs.orders.run()
    assert trading.order(stale).status == "open"
    two_seats.set_price("WETH", 3000)
    keeper.jobs.orders.run()
    assert trading.order(stale).status == "routed", "committed once the price is usable"


def test_a_reduce_only_order_for_a_position_at_an_on_chain_venue_executes_there(
    two_seats: Chain, tmp_path: Path
) -> None:
    """With seats configured every order went to a seat, where a reduce-only order for a position held at a venue
    that fills on chain was refused and cancelled."""
    trading = TradingClient(two_seats.w3, two_seats.deployment, two_seats.client(1).sender)
    executor = TradingClient(two_seats.w3, two_seats.deployment, two_seats.client(0).sender)
    me = two_seats.account(1).address
    now = int(two_seats.w3.eth.get_block("latest")["timestamp"])
    opened = trading.submit(me, "ETH-USD", D(1), D(3100), now + 600)
    assert executor.execute([opened])[0].executed
    keeper = orders_keeper(two_seats, tmp_path)
    close = trading.submit(me, "ETH-USD", D(-1), D(2900), now + 600, reduce_only=True)
    keeper.jobs.orders.run()
    assert trading.order(close).status == "executed"
    assert sum(p.size for p in trading.positions(me) if p.market == "ETH-USD") == 0

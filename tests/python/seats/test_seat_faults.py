"""The RabbitX seat under faults, end to end: real anvil, the devnet exchange served for real, and a real proxy in
front of its REST API that loses answers (a gateway's 502, a body cut in half, an answer later than the keeper waits)
or a fill no child of the seat's can take arriving in one batch with the child's own."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
from web3.types import RPCEndpoint

from keeper.client.trading import ChildSpec, TradingClient
from keeper.connectors.rabbitx.client import RabbitXClient
from keeper.connectors.rabbitx.connector import RabbitXConnector
from keeper.connectors.rabbitx.models import OrderRequest
from keeper.connectors.rabbitx.settings import RabbitXSettings
from keeper.connectors.rabbitx.vocabulary import Side, TimeInForce
from keeper.devnet.deploy import SEAT_VENUE
from keeper.seats.rabbitx import RabbitXSeat, RabbitXVenue
from keeper.seats.seat import SeatReport
from tests.python.conftest import Chain
from tests.python.connectors.rabbitx_service import RabbitXService
from tests.python.fault_proxy import Fault, FaultProxy, fault_proxy
from tests.python.seats.conftest import (
    KEEPER,
    cycle_until_rejected,
    executor,
    forwarding,
    seat_account_with_resting_asks,
    seat_with_child,
)
from tests.python.seats.seat_process import SeatProcess

D = Decimal


async def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(check):
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


def child_for_one_eth(chain: Chain) -> tuple[int, int]:
    """Dev account 1's 1 ETH buy (limit 3,030) committed to the seat as one child: (child id, chain time)."""
    keeper = executor(chain)
    now = int(chain.w3.eth.get_block("latest")["timestamp"])
    trader = TradingClient(chain.w3, chain.deployment, chain.client(1).sender)
    order_id = trader.submit(chain.account(1).address, "ETH-USD", D(1), D(3030), now + 600)
    return keeper.commit_split(order_id, [ChildSpec(keeper.venue_id(SEAT_VENUE), D(1), D(3030), now + 300)]), now


@pytest.mark.parametrize("fault", [Fault.BAD_GATEWAY, Fault.MALFORMED, Fault.SLOW])
def test_an_order_whose_answer_is_lost_is_found_again_not_rejected(
    market: Chain, exchange: RabbitXService, fault: Fault
) -> None:
    """The exchange takes the child's order but its answer is lost: the seat does not know whether the order is
    there, so it must not reject the child (its fills would then go to the backstop book, not to the account); the
    next cycle finds the order by its client id and the fills book on the account."""
    keeper, me = executor(market), market.account(1).address
    child_id, now = child_for_one_eth(market)

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            account = await seat_account_with_resting_asks(exchange, session, market)
            with fault_proxy(exchange.url, delay=1.0) as proxy:
                direct = exchange.settings(account, request_timeout=0.5)
                settings = dataclasses.replace(direct, base_url=proxy.url, ws_url=direct.websocket_url)
                proxy.inject("POST", "/orders", fault)
                async with RabbitXConnector(settings) as connector:
                    seat = RabbitXSeat(keeper, connector, keeper.venue_id(SEAT_VENUE))
                    forwarding = asyncio.create_task(seat.forward_fills())
                    try:
                        first = await seat.cycle(now)
                        assert proxy.hits == [("POST", "/orders", fault)]
                        assert first.placed == () and first.rejected == ()
                        assert keeper.child_order(child_id).status == "open", "a lost answer is no refusal"
                        await until(lambda: keeper.child_order(child_id).filled == D("0.8"))
                        await cycle_until_rejected(seat, now)
                    finally:
                        forwarding.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await forwarding
        assert keeper.child_order(child_id).status == "rejected"
        [position] = keeper.positions(me)
        assert (position.venue, position.size) == (SEAT_VENUE, D("0.8")), "the fills are the account's"
        assert keeper.backstop() == [], "nothing went to the backstop book"

    asyncio.run(scenario())


def test_a_fill_no_child_can_take_is_an_alert_and_the_fills_beside_it_are_booked(
    market: Chain, exchange: RabbitXService, caplog: pytest.LogCaptureFixture
) -> None:
    """A fill under the seat's client order ids for a child the trading module never committed (another deployment's
    keeper on the same account, a child id from a store left over) arrives in one batch with the real child's fills,
    first. The contract refuses it even as a late fill: it is one ALERT line, and the child's fills are booked."""
    keeper, me = executor(market), market.account(1).address
    child_id, now = child_for_one_eth(market)

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            account = await seat_account_with_resting_asks(exchange, session, market)
            async with RabbitXConnector(exchange.settings(account)) as connector:
                seat = RabbitXSeat(keeper, connector, keeper.venue_id(SEAT_VENUE))
                assert isinstance(seat.venue, RabbitXVenue)
                stray = seat.venue.client_order_id(999)
                request = OrderRequest(
                    "ETH-USD", Side.LONG, D("0.1"), D(3030), stray, time_in_force=TimeInForce.IMMEDIATE_OR_CANCEL
                )
                await connector.place_order(request)
                assert (await seat.cycle(now)).placed == (child_id,)
                while len(await connector.fills_since(0)) < 3:  # the stray 0.1, then the child's 0.5 and 0.2
                    await asyncio.sleep(0.05)
                forwarding = asyncio.create_task(seat.forward_fills())
                try:
                    await until(lambda: keeper.child_order(child_id).filled == D("0.7"))
                finally:
                    forwarding.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await forwarding
                assert await seat.reconcile() == ["ETH-USD: books 0.7, exchange 0.8"], "the stray fill stays visible"

    asyncio.run(scenario())
    [position] = keeper.positions(me)
    assert position.size == D("0.7") and keeper.backstop() == []
    [problem] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert problem.startswith("ALERT rabbitx fill rabbitx:") and "(child 999, 0.1 at 3000)" in problem, problem
    assert "AsyncOrderUnknownChild" in problem, problem
    assert all(r.exc_info is None for r in caplog.records), "no traceback"


def test_fills_whose_report_is_not_mined_yet_are_no_mismatch(market: Chain, exchange: RabbitXService) -> None:
    """Between a fill at the exchange and the block that books it (12 s on mainnet), the exchange holds a position
    the books do not: reconciliation counts the fills being reported, so that it raises no ALERT for them, and still
    sees what is really missing."""
    keeper = executor(market)
    child_id, now = child_for_one_eth(market)
    w3 = market.w3

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            account = await seat_account_with_resting_asks(exchange, session, market)
            async with RabbitXConnector(exchange.settings(account)) as connector:
                seat = RabbitXSeat(keeper, connector, keeper.venue_id(SEAT_VENUE))
                w3.provider.make_request(RPCEndpoint("evm_setAutomine"), [False])
                try:
                    assert (await seat.cycle(now)).placed == (child_id,)
                    while len(await connector.fills_since(0)) < 2:  # 0.5 and 0.3 against the resting asks
                        await asyncio.sleep(0.05)
                    assert keeper.sender is not None
                    sent = len(keeper.sender.sent)
                    forwarding = asyncio.create_task(seat.forward_fills())
                    try:
                        await until(lambda: len(keeper.sender.sent) > sent)  # the report is sent, not mined
                        assert keeper.child_order(child_id).filled == 0
                        assert await seat.reconcile() == [], "the fills on their way are counted"
                        w3.provider.make_request(RPCEndpoint("evm_mine"), [])
                        await until(lambda: keeper.child_order(child_id).filled == D("0.8"))
                        assert await seat.reconcile() == []
                    finally:
                        forwarding.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await forwarding
                finally:
                    w3.provider.make_request(RPCEndpoint("evm_setAutomine"), [True])

    asyncio.run(scenario())


@pytest.mark.parametrize("mined_before_restart", [False, True], ids=["still-pending", "mined"])
def test_a_seat_killed_between_sending_a_fill_report_and_its_receipt_books_each_fill_once(
    market: Chain, exchange: RabbitXService, tmp_path: Path, mined_before_restart: bool
) -> None:
    """The seat's process is killed (SIGKILL) while its `reportFills` waits in the node's pool for a block: the fills
    were never acknowledged, so the restarted seat passes them on again. If the report was mined meanwhile the fill
    ids are used and nothing is sent; if it is still pending the restart waits for the key's transactions in the pool
    (a block comes meanwhile) before it sends anything, and then finds the ids used. Either way each fill is booked
    once, none is lost, and no report is sent twice (a restart used to send its own behind the pending one)."""
    keeper, me = executor(market), market.account(1).address
    child_id, now = child_for_one_eth(market)
    node = market.w3.provider
    fills_sender = market.account(KEEPER).address

    def pending_reports() -> int:
        pending = market.w3.eth.get_block("pending", full_transactions=True)["transactions"]
        return sum(tx["from"] == fills_sender for tx in pending)  # type: ignore[index]

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            account = await seat_account_with_resting_asks(exchange, session, market)
        seat = SeatProcess(market.url, market.deployment_file, tmp_path / "keeper", exchange.settings(account))
        async with RabbitXConnector(seat.rabbitx) as connector:
            assert (await RabbitXSeat(keeper, connector, keeper.venue_id(SEAT_VENUE)).cycle(now)).placed == (child_id,)
        sent = market.w3.eth.get_transaction_count(fills_sender)
        node.make_request(RPCEndpoint("evm_setAutomine"), [False])  # a report waits in the pool until a block
        try:
            process = seat.start()
            try:
                await until(lambda: pending_reports() == 1, timeout=30)
            finally:
                process.kill()
                process.wait(timeout=10)
            if mined_before_restart:
                node.make_request(RPCEndpoint("evm_mine"), [])
            else:
                # The restart waits at start for the report in the pool (blocking its loop): a block in a second.
                threading.Timer(1.0, node.make_request, (RPCEndpoint("evm_mine"), [])).start()
            restarted = asyncio.create_task(seat.forward_fills())
            try:
                await until(lambda: seat.unacknowledged() == 0)  # the restart has passed the fills on
            finally:
                restarted.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await restarted
        finally:
            node.make_request(RPCEndpoint("evm_setAutomine"), [True])
        reports = market.w3.eth.get_transaction_count(fills_sender) - sent
        assert reports == 1, "the report is never sent twice"

    asyncio.run(scenario())
    assert keeper.child_order(child_id).filled == D("0.8"), "each fill booked once"
    [position] = keeper.positions(me)
    assert (position.venue, position.size) == (SEAT_VENUE, D("0.8"))
    assert keeper.backstop() == []


def test_fills_recovered_over_rest_and_pushed_again_over_the_websocket_are_booked_once(
    market: Chain, exchange: RabbitXService, caplog: pytest.LogCaptureFixture
) -> None:
    """The exchange's WebSocket is closed and refused (a network fault, an exchange restart) while the child's order
    fills in two partial fills: REST recovery passes them on and they are booked. Let in again, the socket's
    subscription snapshot carries the same two fills: the seat knows them by their venue ids and sends nothing."""
    caplog.set_level(logging.INFO, logger="primevault.keeper")
    sender = market.account(KEEPER).address

    async def scenario() -> None:
        async with seat_with_child(market, exchange, forward_fills=False) as run:
            await exchange.drop_websockets(refuse_for=60.0)  # let in again explicitly below
            forwarding = asyncio.create_task(run.seat.forward_fills())
            try:
                await until(lambda: run.keeper.child_order(run.child_id).filled == D("0.8"))
                sent = market.w3.eth.get_transaction_count(sender)
                await exchange.drop_websockets(refuse_for=0)
                await until(lambda: len(exchange.devnet._clients) == 1)  # subscribed again: the snapshot has the fills
                await asyncio.sleep(0.3)  # and the seat has read it
            finally:
                forwarding.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await forwarding
            assert market.w3.eth.get_transaction_count(sender) == sent, "nothing sent for fills booked already"

    asyncio.run(scenario())
    reported = [
        r.getMessage() for r in caplog.records if r.getMessage().startswith("child ") and "reported" in r.getMessage()
    ]
    assert len(reported) == 2, reported
    [position] = executor(market).positions(market.account(1).address)
    assert position.size == D("0.8") and executor(market).backstop() == []


def test_a_backstop_unwind_whose_answer_is_lost_is_not_doubled(market: Chain, exchange: RabbitXService) -> None:
    """The exchange takes the backstop unwind's order and fills it, but the answer is lost, and so is the answer to the
    seat's next look for it; its fills are not booked yet. While that child is open the seat must not commit a second
    unwind of the same book: both orders would fill, turning the book around instead of closing it. Once the fills
    are booked the book is closed, once."""
    keeper = executor(market)
    child_id, now = child_for_one_eth(market)
    venue = keeper.venue_id(SEAT_VENUE)

    def unwinds() -> list[int]:
        return [c.child_id for c in keeper.child_orders(child_id + 1, venue)]

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            account = await seat_account_with_resting_asks(exchange, session, market)
            with fault_proxy(exchange.url) as proxy:
                direct = exchange.settings(account)
                settings = dataclasses.replace(direct, base_url=proxy.url, ws_url=direct.websocket_url)
                async with RabbitXConnector(settings) as connector:
                    seat = RabbitXSeat(keeper, connector, venue)
                    assert (await seat.cycle(now)).placed == (child_id,)
                    while len(await connector.fills_since(0)) < 2:
                        await asyncio.sleep(0.05)
                    keeper.reject_child(child_id, b"keeper restarted")  # its 0.8 ETH of fills are the protocol's
                    await seat.report([seat.venue.seat_fill(f) for f in await connector.fills_since(0)])
                    assert [b.size for b in keeper.backstop()] == [D("0.8")]
                    maker = RabbitXClient(session, exchange.url, await exchange.trader(session, 3, D(100_000)))
                    await maker.create_order("ETH-USD", "long", D(2), D(2990), "limit", None, "bid-1")
                    await asyncio.sleep(0.3)
                    later = int(market.w3.eth.get_block("latest")["timestamp"])
                    proxy.inject("POST", "/orders", Fault.BAD_GATEWAY)
                    proxy.inject("GET", "/orders", Fault.BAD_GATEWAY)
                    assert await seat.unwind_backstop(later) == [], "its answer was lost"
                    [unwind] = unwinds()
                    # The next pass looks for it by its client id, and that answer is lost too: still in flight.
                    assert await seat.unwind_backstop(later) == [], "one unwind in flight, not two"
                    assert [hit[:2] for hit in proxy.hits] == [("POST", "/orders"), ("GET", "/orders")]
                    assert unwinds() == [unwind]
                    assert await seat.unwind_backstop(later) == [], "found: it filled, its fills not booked yet"
                    assert unwinds() == [unwind]
                    await seat.cycle(later)  # forgets the finished children's orders, not the unwind it watches
                    assert await seat.unwind_backstop(later) == [], "still waiting for its fills to be booked"
                    assert unwinds() == [unwind]
                    forwarding = asyncio.create_task(seat.forward_fills())
                    try:
                        await until(lambda: keeper.backstop() == [])
                    finally:
                        forwarding.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await forwarding
                    assert await seat.unwind_backstop(later) == [] and unwinds() == [unwind]
        assert keeper.child_order(unwind).filled == D("0.8")
        assert keeper.net_position(1, venue) == 0, "closed, not turned around"

    asyncio.run(scenario())


def through(proxy: FaultProxy, settings: RabbitXSettings) -> RabbitXSettings:
    """`settings` with the exchange's REST API reached through `proxy` (its WebSocket directly)."""
    return dataclasses.replace(settings, base_url=proxy.url, ws_url=settings.websocket_url)


@contextlib.asynccontextmanager
async def seat_that_placed_the_child(
    keeper: TradingClient, settings: RabbitXSettings, child_id: int, now: int
) -> AsyncIterator[RabbitXSeat]:
    """A seat at the exchange (over `settings`) that placed `child_for_one_eth`'s child at `now`: the exchange filled
    0.8 of its order in two fills, not reported yet. The seat's connector closes with the block."""
    async with RabbitXConnector(settings) as connector:
        seat = RabbitXSeat(keeper, connector, keeper.venue_id(SEAT_VENUE))
        assert (await seat.cycle(now)).placed == (child_id,)
        while len(await connector.fills_since(0)) < 2:
            await asyncio.sleep(0.05)
        yield seat


async def cycle_once_the_fills_are_booked(
    seat: RabbitXSeat, keeper: TradingClient, child_id: int, now: int
) -> SeatReport:
    """`seat` forwards the fills until the child's 0.8 ETH is booked, then runs its cycle at `now`: its report."""
    async with forwarding(seat):
        await until(lambda: keeper.child_order(child_id).filled == D("0.8"))
        return await seat.cycle(now)


def test_a_child_past_its_deadline_waits_for_the_fills_its_order_made_before_it(
    market: Chain, exchange: RabbitXService
) -> None:
    """The exchange fills 0.8 of the child's order at once, but the fills do not reach the keeper (its WebSocket
    dropped, the exchange stopped answering) until the child's deadline has passed. The venue made them while the
    child was live: they are the account's, not the backstop's. The seat does not expire a child whose order the
    venue says filled more than the books hold (within the executor's grace, no one else may expire it either):
    the fills are booked to the account first, then the child ends."""
    keeper, me = executor(market), market.account(1).address
    child_id, now = child_for_one_eth(market)

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            account = await seat_account_with_resting_asks(exchange, session, market)
            async with seat_that_placed_the_child(keeper, exchange.settings(account), child_id, now) as seat:
                market.advance(400)  # past the child's deadline (now + 300), its fills still unreported
                later = int(market.w3.eth.get_block("latest")["timestamp"])
                assert (await seat.cycle(later)).expired == (), "its order's fills are not booked yet"
                ended = await cycle_once_the_fills_are_booked(seat, keeper, child_id, later)
                assert child_id in ended.expired + ended.rejected
                assert keeper.child_order(child_id).status != "open"

    asyncio.run(scenario())
    [position] = keeper.positions(me)
    assert position.size == D("0.8"), "the fills the venue made before the deadline are the account's"
    assert keeper.backstop() == []


def test_a_child_past_its_deadline_after_a_restart_waits_for_the_fills_its_order_made(
    market: Chain, exchange: RabbitXService
) -> None:
    """The keeper stops after the exchange filled 0.8 of the child's order and before it reported them, and starts
    again after the child's deadline: its new seat knows no order for the child, but the exchange holds one under the
    child's client id. The seat looks it up before expiring the child, and books its fills to the account first."""
    keeper, me = executor(market), market.account(1).address
    child_id, now = child_for_one_eth(market)
    venue = keeper.venue_id(SEAT_VENUE)

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            account = await seat_account_with_resting_asks(exchange, session, market)
            async with seat_that_placed_the_child(keeper, exchange.settings(account), child_id, now):
                pass  # the keeper stops before the fills are reported
            market.advance(400)  # the keeper is back past the child's deadline (now + 300)
            later = int(market.w3.eth.get_block("latest")["timestamp"])
            async with RabbitXConnector(exchange.settings(account)) as connector:
                seat = RabbitXSeat(keeper, connector, venue)
                assert (await seat.cycle(later)).expired == (), "its order's fills are not booked yet"
                ended = await cycle_once_the_fills_are_booked(seat, keeper, child_id, later)
                assert ended.expired == (child_id,)

    asyncio.run(scenario())
    [position] = keeper.positions(me)
    assert position.size == D("0.8") and keeper.backstop() == []


def test_a_child_past_its_deadline_waits_while_the_exchange_does_not_answer_and_says_so_once(
    market: Chain, exchange: RabbitXService, caplog: pytest.LogCaptureFixture
) -> None:
    """Past the child's deadline the exchange stops answering (its gateway fails every look-up of an order): what the
    child's order filled is unknown, so the seat waits, every cycle, and says so once, not every cycle; once the
    exchange answers again the fills are booked to the account and the child ends."""
    keeper, me = executor(market), market.account(1).address
    child_id, now = child_for_one_eth(market)

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            account = await seat_account_with_resting_asks(exchange, session, market)
            with fault_proxy(exchange.url) as proxy:
                settings = through(proxy, exchange.settings(account))
                async with seat_that_placed_the_child(keeper, settings, child_id, now) as seat:
                    market.advance(400)
                    later = int(market.w3.eth.get_block("latest")["timestamp"])
                    proxy.inject("GET", "/orders", Fault.UNSENT, times=3)
                    proxy.inject("DELETE", "/orders", Fault.UNSENT, times=3)
                    with caplog.at_level(logging.WARNING, logger="primevault.keeper"):
                        for _ in range(3):
                            assert (await seat.cycle(later)).expired == ()
                    said = [m for m in caplog.messages if f"child {child_id} past its deadline" in m]
                    assert len(said) == 1, said
                    assert keeper.child_order(child_id).status == "open"
                    ended = await cycle_once_the_fills_are_booked(seat, keeper, child_id, later)
                    assert ended.expired == (child_id,)

    asyncio.run(scenario())
    [position] = keeper.positions(me)
    assert position.size == D("0.8") and keeper.backstop() == []

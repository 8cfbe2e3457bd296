"""The keeper's RabbitX seat end to end: a depositor's order routed to the seat's venue (order protocol v2) reaches
the devnet RabbitX exchange through its API, fills there asynchronously against a resting maker, and is booked on
chain by the fill reports, once; the IOC remainder is rejected on chain with the exchange's reason. Real anvil, the
exchange served as a real HTTP/WebSocket server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from decimal import Decimal

import aiohttp
import pytest
from click.testing import CliRunner

from keeper.cli.main import cli
from keeper.client.trading import ChildSpec, TradingClient
from keeper.connectors.rabbitx.connector import RabbitXConnector
from keeper.devnet.deploy import SEAT_VENUE
from keeper.exceptions import PrimeVaultError, TransactionReverted
from keeper.seats.rabbitx import RabbitXSeat, RabbitXVenue
from keeper.seats.seat import SeatOrder, SeatOrderRequest
from tests.python.conftest import Chain
from tests.python.connectors.rabbitx_service import RabbitXService
from tests.python.seats.conftest import (
    cycle_until_rejected,
    forwarding,
    seat_account_with_resting_asks,
    seat_with_child,
)

D = Decimal


def trader(chain: Chain, index: int) -> TradingClient:
    return TradingClient(chain.w3, chain.deployment, chain.client(index).sender)


async def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(check):
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


def test_an_order_routed_to_the_seat_fills_at_the_exchange_and_is_booked_once(
    market: Chain, exchange: RabbitXService
) -> None:
    alice, executor = trader(market, 1), trader(market, 0)
    me = market.account(1).address
    venue = executor.venue_id(SEAT_VENUE)
    now = int(market.w3.eth.get_block("latest")["timestamp"])
    order_id = alice.submit(me, "ETH-USD", D(1), D(3030), now + 600)
    child_id = executor.commit_split(order_id, [ChildSpec(venue, D(1), D(3030), now + 300)])
    reserved, open_children = executor.reservation(me)
    assert reserved == executor.child_order(child_id).reservation > 0 and open_children == 1

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            seat_account = await seat_account_with_resting_asks(exchange, session, market)
            async with RabbitXConnector(exchange.settings(seat_account)) as connector:
                seat = RabbitXSeat(executor, connector, venue)
                reporting = asyncio.create_task(seat.forward_fills())
                report = await seat.cycle(now)
                assert report.placed == (child_id,)
                await until(lambda: executor.child_order(child_id).filled == D("0.8"))

                # The IOC order's remainder (0.2 ETH: the book had 0.8) is closed by the exchange: rejected on chain.
                await cycle_until_rejected(seat, now)
                child = executor.child_order(child_id)
                assert (child.status, child.filled) == ("rejected", D("0.8"))
                assert executor.reservation(me) == (0, 0), "every reservation released"
                assert executor.order(order_id).status == "executed", "the order is done when its children are"

                [position] = alice.positions(me)
                assert (position.market, position.venue, position.size) == ("ETH-USD", SEAT_VENUE, D("0.8"))
                assert position.entry_price == (D("0.6") * 3000 + D("0.2") * D("3001.5")) / D("0.8")
                assert await seat.reconcile() == []

                # A keeper restart re-sends what it had not acknowledged; the contract books each fill id once.
                assert isinstance(seat.venue, RabbitXVenue)
                fills = [seat.venue.seat_fill(f) for f in await connector.fills_since(0)]
                assert len(fills) == 2 and all(executor.fill_id_used(seat.venue_fill_id(f)) for f in fills)
                never = bytes(32)
                assert executor.fill_ids_used([seat.venue_fill_id(fills[0]), never, seat.venue_fill_id(fills[1])]) == [
                    True,
                    False,
                    True,
                ], "one batch request, answers in order"
                assert all(f.fill_id.startswith("rabbitx:") and f.child_id == child_id for f in fills)
                await seat.report(fills)
                assert alice.positions(me)[0].size == D("0.8"), "nothing booked twice"
                reporting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reporting

    asyncio.run(scenario())


def test_an_account_with_only_an_open_child_cannot_withdraw_its_reserved_margin(market: Chain) -> None:
    alice, executor = trader(market, 1), trader(market, 0)
    me = market.account(1).address
    now = int(market.w3.eth.get_block("latest")["timestamp"])
    order_id = alice.submit(me, "ETH-USD", D(50), D(3030), now + 600)
    executor.commit_split(order_id, [ChildSpec(executor.venue_id(SEAT_VENUE), D(50), D(3030), now + 300)])
    shown = CliRunner().invoke(
        cli, ["--deployment", str(market.deployment_file), "account", "show", me, "--json"], catch_exceptions=False
    )
    weth = json.loads(shown.output)["collateral"]["WETH"]
    assert D(weth["balance"]) == 20
    assert 0 < D(weth["withdrawable"]) < 20, "the child's reservation holds part of the collateral"
    with pytest.raises(TransactionReverted, match="InsufficientEquity"):
        market.client(1).withdraw(me, "WETH", int(D(weth["withdrawable"]) * 10**18) + 10**17)
    market.client(1).withdraw(me, "WETH", int(D(weth["withdrawable"]) * 10**18))


def test_an_order_refused_by_the_rate_limit_is_placed_later_and_its_child_never_rejected(
    market: Chain, exchange: RabbitXService
) -> None:
    """RabbitX answers HTTP 429 once an IP has spent its request tokens: the order was not carried out, and is no
    refusal of the child, which stays open and is placed once the exchange's wait is over."""
    alice, executor = trader(market, 1), trader(market, 0)
    venue = executor.venue_id(SEAT_VENUE)
    now = int(market.w3.eth.get_block("latest")["timestamp"])
    order_id = alice.submit(market.account(1).address, "ETH-USD", D(1), D(3030), now + 600)
    child_id = executor.commit_split(order_id, [ChildSpec(venue, D(1), D(3030), now + 300)])

    async def set_rate_limit(tokens: int | None) -> None:
        async def limit() -> None:
            exchange.devnet.set_rate_limit(tokens, window=1.0)

        await exchange.on_service(limit)

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            seat_account = await seat_account_with_resting_asks(exchange, session, market)
            async with RabbitXConnector(exchange.settings(seat_account)) as connector:
                seat = RabbitXSeat(executor, connector, venue)
                await set_rate_limit(0)
                report = await seat.cycle(now)
                assert (report.placed, report.rejected) == ((), ())
                assert executor.child_order(child_id).status == "open"
                assert exchange.devnet.requests[("POST", "/orders")] == 3, "the two asks, and the refused order"
                await set_rate_limit(None)
                async with forwarding(seat):
                    deadline = time.monotonic() + 5  # the exchange named a wait of a second
                    while not (placed := (await seat.cycle(now)).placed) and time.monotonic() < deadline:
                        await asyncio.sleep(0.1)
                    assert placed == (child_id,)
                    assert exchange.devnet.requests[("POST", "/orders")] == 4, "placed once, after the wait"
                    await until(lambda: executor.child_order(child_id).filled == D("0.8"))
                    await cycle_until_rejected(seat, now)
                    assert executor.child_order(child_id).status == "rejected", "the IOC remainder, as usual"

    asyncio.run(scenario())


def burst_of_children(alice: TradingClient, executor: TradingClient, account: str, now: int) -> list[int]:
    """Four orders of 0.2 ETH by `account` (the resting asks fill all of them), each committed whole to the seat."""
    venue = executor.venue_id(SEAT_VENUE)
    return [
        executor.commit_split(
            alice.submit(account, "ETH-USD", D("0.2"), D(3030), now + 600),
            [ChildSpec(venue, D("0.2"), D(3030), now + 300)],
        )
        for _ in range(4)
    ]


def test_a_burst_of_children_is_placed_at_once_and_each_booked_once(market: Chain, exchange: RabbitXService) -> None:
    """The children a cycle finds reach the exchange together (`PLACE_CONCURRENCY` at a time), not one after the other,
    so their fills come together and go out in one report; each is placed once and booked once."""
    alice, executor = trader(market, 1), trader(market, 0)
    venue = executor.venue_id(SEAT_VENUE)
    now = int(market.w3.eth.get_block("latest")["timestamp"])
    children = burst_of_children(alice, executor, market.account(1).address, now)

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            seat_account = await seat_account_with_resting_asks(exchange, session, market)
            async with RabbitXConnector(exchange.settings(seat_account)) as connector:
                seat = RabbitXSeat(executor, connector, venue)
                placing = seat.venue.place
                arrived: list[int] = []
                together = asyncio.Event()

                async def held_until_all_arrive(request: SeatOrderRequest) -> SeatOrder | None:
                    # Placed one after the other, the second child would never arrive while the first waits here.
                    arrived.append(request.child_id)
                    if len(arrived) == len(children):
                        together.set()
                    await asyncio.wait_for(together.wait(), timeout=5)
                    return await placing(request)

                seat.venue.place = held_until_all_arrive  # type: ignore[method-assign]
                async with forwarding(seat):
                    report = await seat.cycle(now)
                    assert sorted(report.placed) == sorted(arrived) == children, "every child in one cycle, at once"
                    orders = exchange.devnet.requests[("POST", "/orders")]
                    assert orders == 2 + len(children), "the two asks, then each child's order once"
                    await until(lambda: all(executor.child_order(c).status == "filled" for c in children))
                assert [p.size for p in alice.positions(market.account(1).address)] == [D("0.8")], "booked once each"
                assert await seat.reconcile() == []

    asyncio.run(scenario())


def test_a_failed_placing_in_a_burst_loses_none_of_the_others(
    market: Chain, exchange: RabbitXService, caplog: pytest.LogCaptureFixture
) -> None:
    """Two of a burst's four placings fail: the first failure is raised, the second logged, the two orders placed
    beside them are recorded (the next cycle places only the two that failed)."""
    alice, executor = trader(market, 1), trader(market, 0)
    venue = executor.venue_id(SEAT_VENUE)
    now = int(market.w3.eth.get_block("latest")["timestamp"])
    children = burst_of_children(alice, executor, market.account(1).address, now)
    failing = set(children[1::2])

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            seat_account = await seat_account_with_resting_asks(exchange, session, market)
            async with RabbitXConnector(exchange.settings(seat_account)) as connector:
                seat = RabbitXSeat(executor, connector, venue)
                placing = seat.venue.place

                async def failing_for_some(request: SeatOrderRequest) -> SeatOrder | None:
                    if request.child_id in failing:
                        raise PrimeVaultError(f"no answer for child {request.child_id}")
                    return await placing(request)

                seat.venue.place = failing_for_some  # type: ignore[method-assign]
                with pytest.raises(PrimeVaultError, match=f"no answer for child {children[1]}"):
                    await seat.cycle(now)
                said = [r.getMessage() for r in caplog.records]
                assert f"child {children[3]}: placing it failed too (no answer for child {children[3]})" in " ".join(
                    said
                )
                seat.venue.place = placing  # type: ignore[method-assign]
                async with forwarding(seat):
                    report = await seat.cycle(now)
                    assert sorted(report.placed) == sorted(failing), "the others were placed and recorded"
                    assert exchange.devnet.requests[("POST", "/orders")] == 2 + len(children), "each placed once"
                    await until(lambda: all(executor.child_order(c).status == "filled" for c in children))

    asyncio.run(scenario())


def test_fills_without_a_client_order_id_are_booked_to_their_child_once(
    market: Chain, exchange_without_fill_client_order_ids: RabbitXService
) -> None:
    """RabbitX's fills name their order, not its client order id: the seat finds the child by the order, the one it
    placed or, after a restart, the one the exchange lists."""
    exchange = exchange_without_fill_client_order_ids

    async def scenario() -> None:
        async with seat_with_child(market, exchange) as run:
            await until(lambda: run.keeper.child_order(run.child_id).filled == D("0.8"))
            fills = await run.connector.fills_since(0)
            assert len(fills) == 2 and all(f.client_order_id == "" and f.order_id for f in fills)
            assert await run.seat.reconcile() == []

            restarted = RabbitXSeat(run.keeper, run.connector, run.venue)  # knows no order
            assert isinstance(restarted.venue, RabbitXVenue)
            again = await restarted.venue.seat_fills(fills)
            assert [f.child_id for f in again] == [run.child_id, run.child_id]
            await restarted.report(again)
            assert run.keeper.child_order(run.child_id).filled == D("0.8"), "nothing booked twice"

    asyncio.run(scenario())

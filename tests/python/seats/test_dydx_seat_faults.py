"""The dYdX seat under faults, end to end: real anvil, the dYdX replica served for real, and a real gRPC proxy in
front of its validator that loses the answer to an order's broadcast after the validator took the order (the
caller gets UNAVAILABLE, or no answer before its deadline)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterator

import pytest

from keeper.client.tokens import TokenClient
from keeper.client.trading import ChildSpec, TradingClient
from keeper.connectors.dydx import DydxSettings
from keeper.devnet.deploy import DYDX_SEAT_VENUE
from keeper.devnet.dydx.chain import SELL
from tests.python.conftest import Chain as Anvil
from tests.python.fault_proxy import Fault, GrpcFaultProxy, NodeSwitch, grpc_fault_proxy, node_switch
from tests.python.seats.conftest import cycle_until_rejected, forwarding
from tests.python.seats.dydx_bench import MAKER, Bench, dydx_bench
from tests.python.seats.test_dydx_seat import D, child_for_one_eth, until

BROADCAST = "/cosmos.tx.v1beta1.Service/BroadcastTx"
TIMEOUT = 0.5  # the connector's request timeout here; the proxy's slow answers come later


@pytest.fixture
def bench(market: Anvil) -> Iterator[Bench]:
    with dydx_bench(market) as bench:
        yield bench


@pytest.fixture
def proxy(bench: Bench) -> Iterator[GrpcFaultProxy]:
    with grpc_fault_proxy(bench.replica.validator_url, delay=2 * TIMEOUT) as proxy:
        yield proxy


def through(bench: Bench, proxy: GrpcFaultProxy) -> DydxSettings:
    """`bench`'s seat settings with the validator reached through `proxy`."""
    return dataclasses.replace(bench.settings(), validator_url=proxy.url, request_timeout=TIMEOUT)


def test_a_burst_at_a_slow_validator_reaches_it_within_each_orders_good_til_block(bench: Bench) -> None:
    """The validator takes 0.4 s to answer each broadcast, well within an order's life (20 blocks of 50 ms here). A
    cycle's six children are placed at once, and dYdX's broadcasts go one at a time: an order's goodTilBlock is counted
    from the height read as its own broadcast goes out, not before it waited for the others', or dYdX refuses the
    later ones as expired and their children are rejected with the asks still there."""
    keeper, chain = bench.keeper, bench.chain
    bench.dydx.rest_order(MAKER, 0, "ETH-USD", SELL, D(3000), D(2))
    alice = TradingClient(chain.w3, chain.deployment, chain.client(1).sender)
    now = int(chain.w3.eth.get_block("latest")["timestamp"])
    children = [
        keeper.commit_split(
            alice.submit(chain.account(1).address, "ETH-USD", D("0.2"), D(3030), now + 600),
            [ChildSpec(bench.venue, D("0.2"), D(3030), now + 300)],
        )
        for _ in range(6)
    ]

    async def scenario(proxy: GrpcFaultProxy) -> None:
        proxy.inject(BROADCAST, Fault.SLOW, times=len(children))
        settings = dataclasses.replace(bench.settings(), validator_url=proxy.url)
        async with bench.seat(settings) as seat, forwarding(seat):
            report = await seat.cycle(now)
            assert (report.placed, report.rejected) == (tuple(children), ())
            await until(
                lambda: asyncio.to_thread(lambda: all(keeper.child_order(c).filled == D("0.2") for c in children))
            )

    with grpc_fault_proxy(bench.replica.validator_url, delay=0.4) as proxy:
        asyncio.run(scenario(proxy))
    assert [keeper.child_order(c).status for c in children] == ["filled"] * len(children)


@pytest.mark.parametrize("fault", [Fault.BAD_GATEWAY, Fault.SLOW])
def test_an_order_whose_answer_is_lost_keeps_its_child_and_its_fills(
    bench: Bench, proxy: GrpcFaultProxy, fault: Fault
) -> None:
    """The validator takes the child's order and it fills 0.8, but the answer to its broadcast is lost: the child is
    not rejected (its fills would go to the backstop book), the fills book on the account, and the order, found at the
    indexer, closes the child with its remainder. It is never sent twice."""
    keeper, chain = bench.keeper, bench.chain
    order_id, child_id = child_for_one_eth(bench)
    proxy.inject(BROADCAST, fault)

    async def scenario() -> None:
        now = int(chain.w3.eth.get_block("latest")["timestamp"])
        async with bench.seat(through(bench, proxy)) as seat, forwarding(seat):
            first = await seat.cycle(now)
            assert proxy.hits == [(BROADCAST, fault)]
            assert first.placed == () and first.rejected == ()
            assert keeper.child_order(child_id).status == "open", "a lost answer is no refusal"
            await until(lambda: asyncio.to_thread(lambda: keeper.child_order(child_id).filled == D("0.8")))
            await cycle_until_rejected(seat, now)
        child = keeper.child_order(child_id)
        assert (child.status, child.filled) == ("rejected", D("0.8"))
        [position] = keeper.positions(chain.account(1).address)
        assert (position.venue, position.size) == (DYDX_SEAT_VENUE, D("0.8")), "the fills are the account's"
        assert keeper.backstop() == []
        assert keeper.order(order_id).status == "executed"
        assert proxy.count(BROADCAST) == 1, "the order was sent once"

    asyncio.run(scenario())


def test_an_order_whose_broadcast_may_have_been_lost_is_sent_again_only_past_its_good_til_block(
    bench: Bench, proxy: GrpcFaultProxy
) -> None:
    """The gateway fails before the validator gets the order, which the seat cannot tell from a lost answer: the
    order could be on chain until its goodTilBlock, so the child stays open and nothing is sent while the indexer
    has no such order and is not past that block; past it, the seat places the child's order again."""
    keeper, chain = bench.keeper, bench.chain
    _, child_id = child_for_one_eth(bench, asks=False)
    proxy.inject(BROADCAST, Fault.UNSENT)
    window = bench.settings().good_til_blocks

    async def scenario() -> None:
        now = int(chain.w3.eth.get_block("latest")["timestamp"])
        bench.replica.pause_blocks()
        async with bench.seat(through(bench, proxy)) as seat:
            assert (await seat.cycle(now)).placed == ()
            bench.replica.produce_blocks(window - 1)
            assert (await seat.cycle(now)).placed == (), "unknown until past its goodTilBlock"
            assert proxy.count(BROADCAST) == 1 and keeper.child_order(child_id).status == "open"
            bench.replica.produce_blocks(1)
            assert (await seat.cycle(now)).placed == (child_id,), "past it, placed again"
            assert proxy.count(BROADCAST) == 2

    asyncio.run(scenario())


def test_a_withdrawal_waits_pending_while_the_attestation_route_is_down_and_arrives_when_it_is_back(
    bench: Bench, caplog: pytest.LogCaptureFixture
) -> None:
    """Margin withdrawn from dYdX is burnt on Noble and paid on Ethereum only with Circle's attestation. With the
    attestation route's connections cut (`NodeSwitch` in front of it) the withdrawal stays pending on chain, counted
    in the venue's exposure, and the seat says once that the route is away rather than failing every cycle; when the
    route is back the message is paid and the margin collected into the vault."""
    keeper, chain = bench.keeper, bench.chain
    usdc = TokenClient(chain.w3, chain.deployment.base)
    adapter = keeper.seat_adapter(bench.venue)
    amount = 1_000 * 10**6
    vault_before = usdc.balance_of(chain.deployment.vault)

    async def scenario(route: NodeSwitch) -> None:
        async with bench.seat(dataclasses.replace(bench.settings(), attestation_url=route.url)) as seat:
            await seat.post_account()
            route.switch(up=False)
            assert await seat.withdraw_margin(amount) == amount, "dYdX took the withdrawal"
            for _ in range(3):  # cycles while the route is away
                assert await seat.collect_withdrawals() == 0
            assert adapter.pending_withdrawals() == amount
            assert adapter.exposure(len(chain.deployment.markets)).withdrawals_pending == amount, "still the venue's"
            assert usdc.balance_of(chain.deployment.vault) == vault_before
            route.switch(up=True)

            async def collected() -> bool:
                await seat.collect_withdrawals()
                return usdc.balance_of(chain.deployment.vault) == vault_before + amount

            await until(collected)
            assert adapter.pending_withdrawals() == 0

    caplog.set_level(logging.INFO, logger="primevault.keeper")
    with node_switch(bench.replica.indexer_url) as route:
        asyncio.run(scenario(route))
    said = [r.getMessage() for r in caplog.records if "attestation" in r.getMessage()]
    assert len(said) == 2 and "does not answer" in said[0] and "answers again" in said[1], said
    assert all(r.exc_info is None for r in caplog.records), "no traceback"

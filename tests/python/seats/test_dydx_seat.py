"""The keeper's seat at dYdX end to end: a depositor's order routed to the dYdX seat fills in part at the makers'
prices through the official client and is booked on chain once (a restarted seat reports nothing twice), the rest
rejected; margin credited by the real route (CCTP to Noble, IBC to dYdX, into the subaccount, each leg resumed after a
restart) and brought back by it (to the bank, IBC to Noble, burned, attested, collected); the account posted;
the backstop book closed at dYdX; a position changed behind the seat's back raised by reconciliation. Real anvil; the
dYdX replica served for real (validator gRPC, indexer HTTP, the bridge watcher and the attestation route)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from keeper.client.adapters import SeatAccountReport
from keeper.client.bridge import CctpBridgeClient
from keeper.client.tokens import TokenClient
from keeper.client.trading import ChildSpec, TradingClient
from keeper.connectors.dydx import DydxConnector, DydxTxRejectedError
from keeper.devnet.deploy import DYDX_SEAT_VENUE
from keeper.devnet.dydx.chain import BUY, SELL, WITHDRAWAL_FLOOR
from keeper.exceptions import TransactionFateUnknown
from keeper.risk.margin import MarginPolicy
from keeper.seats.dydx import DydxSeat, DydxVenue
from tests.python.conftest import Chain as Anvil
from tests.python.seats.conftest import cycle_until_rejected, forwarding
from tests.python.seats.dydx_bench import ADDRESS, MAKER, NOBLE_ADDRESS, SEAT_MARGIN, Bench, dydx_bench, wait

D = Decimal


@pytest.fixture
def bench(market: Anvil) -> Iterator[Bench]:
    with dydx_bench(market) as bench:
        yield bench


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def child_for_one_eth(bench: Bench, asks: bool = True) -> tuple[int, int]:
    """Dev account 1's 1 ETH buy (limit 3,030) committed whole to the dYdX seat, against a maker's asks of 0.6 at
    3,000 and 0.2 at 3,001.5 (unless `asks` is off): an IOC order fills 0.8 in two fills. Returns (order id, child
    id)."""
    if asks:
        bench.dydx.rest_order(MAKER, 0, "ETH-USD", SELL, D(3000), D("0.6"))
        bench.dydx.rest_order(MAKER, 0, "ETH-USD", SELL, D("3001.5"), D("0.2"))
    chain, keeper = bench.chain, bench.keeper
    now = int(chain.w3.eth.get_block("latest")["timestamp"])
    alice = TradingClient(chain.w3, chain.deployment, chain.client(1).sender)
    order_id = alice.submit(chain.account(1).address, "ETH-USD", D(1), D(3030), now + 600)
    return order_id, keeper.commit_split(order_id, [ChildSpec(bench.venue, D(1), D(3030), now + 300)])


@contextlib.asynccontextmanager
async def seat_holding_the_fills(bench: Bench, child_id: int) -> AsyncIterator[DydxSeat]:
    """The seat, forwarding fills, once it has traded `child_for_one_eth`'s child and booked its 0.8 ETH."""
    now = int(bench.chain.w3.eth.get_block("latest")["timestamp"])
    async with bench.seat() as seat, forwarding(seat):
        await seat.cycle(now)
        await until(lambda: asyncio.to_thread(lambda: bench.keeper.child_order(child_id).filled == D("0.8")))
        yield seat


def test_an_order_routed_to_the_dydx_seat_fills_in_part_and_is_booked_once(bench: Bench) -> None:
    keeper, chain = bench.keeper, bench.chain
    me = chain.account(1).address
    order_id, child_id = child_for_one_eth(bench)

    async def scenario() -> None:
        now = int(chain.w3.eth.get_block("latest")["timestamp"])
        async with bench.seat() as seat, forwarding(seat):
            assert (await seat.cycle(now)).placed == (child_id,)
            await until(lambda: asyncio.to_thread(lambda: keeper.child_order(child_id).filled == D("0.8")))
            await cycle_until_rejected(seat, now)
            child = keeper.child_order(child_id)
            assert (child.status, child.filled) == ("rejected", D("0.8")), "the IOC remainder, rejected"
            assert keeper.order(order_id).status == "executed"
            [position] = keeper.positions(me)
            assert (position.venue, position.size) == (DYDX_SEAT_VENUE, D("0.8"))
            assert position.entry_price == (D("0.6") * 3000 + D("0.2") * D("3001.5")) / D("0.8"), "makers' prices"
            assert await seat.reconcile() == []

        # A restarted seat reads every fill again from the indexer; the contract's used ids skip them all.
        sent = chain.w3.eth.get_transaction_count(chain.account(0).address)
        async with bench.seat() as seat:
            assert isinstance(seat.venue, DydxVenue)
            fills = [await seat.venue.seat_fill(f) for f in await seat.venue.connector.fills()]
            assert len(fills) == 2 and all(f.fill_id.startswith("dydx:") and f.child_id == child_id for f in fills)
            assert all(keeper.fill_id_used(seat.venue_fill_id(f)) for f in fills)
            async with forwarding(seat):
                await asyncio.sleep(0.5)
        assert chain.w3.eth.get_transaction_count(chain.account(0).address) == sent, "nothing sent again"
        assert keeper.positions(me)[0].size == D("0.8")

    asyncio.run(scenario())


def test_the_dydx_seat_posts_its_account_and_reconciles_a_position_changed_behind_its_back(bench: Bench) -> None:
    keeper, chain = bench.keeper, bench.chain
    _, child_id = child_for_one_eth(bench)
    adapter = keeper.seat_adapter(bench.venue)
    assert adapter.deposits_in_flight() == SEAT_MARGIN * 10**6, "sent, not yet reported credited"

    async def scenario() -> None:
        async with seat_holding_the_fills(bench, child_id) as seat:
            bench.dydx.settle_funding("ETH-USD", D("0.000001"))
            chain.advance(1)  # a funding step needs a second since the index last moved (the seat's cap)
            assert await seat.post_account() is not None
            assert adapter.position(1) == D("0.8").scaleb(18) == keeper.net_position(1, bench.venue)
            assert adapter.deposits_in_flight() == 0 and adapter.last_report().credited_deposits == SEAT_MARGIN * 10**6
            account = await seat.venue.balance()
            assert adapter.margin().net_collateral == int(account.equity.scaleb(6))
            assert adapter.margin().initial_margin == int((D("0.8") * 3000 * D("0.05")).scaleb(6))
            assert adapter.funding_index(1) > 0, "the funding period, at the oracle mark"
            assert await seat.post_account() is None, "nothing changed: nothing posted"
            book = await seat.book("ETH-USD")
            assert book.asks == () and book.name == "dydx", "the maker's asks are taken"

            # The replica's operator closes the seat's position: the venue's view no longer matches the books.
            with bench.dydx.lock:
                del bench.dydx.subaccounts[(ADDRESS, 0)].positions[1]
            assert await seat.reconcile() == ["ETH-USD: books 0.8, exchange 0"]

    asyncio.run(scenario())


def test_funding_faster_than_the_seats_cap_waits_and_never_blocks_the_report(bench: Bench, caplog: Any) -> None:
    """2% of the price in one period, against a cap of 1% of the price an hour: the report goes without the step
    (positions and margin posted), and the step goes in the first report two hours after the index last moved, made
    by a keeper restarted in between (it counts the periods after the index's last move, not after the last
    report, which came after this period)."""
    keeper, chain = bench.keeper, bench.chain
    _, child_id = child_for_one_eth(bench)
    adapter = keeper.seat_adapter(bench.venue)

    async def scenario() -> None:
        async with seat_holding_the_fills(bench, child_id) as seat:
            bench.dydx.settle_funding("ETH-USD", D("0.02"))
            chain.advance(60)
            with caplog.at_level("WARNING", logger="primevault.keeper"):
                assert await seat.post_account() is not None
            assert adapter.position(1) == D("0.8").scaleb(18), "the report went"
            assert adapter.funding_index(1) == 0, "without the step"
            assert any("more than the seat's cap allows yet" in r.getMessage() for r in caplog.records)

        chain.advance(2 * 3600)
        async with bench.seat() as seat:
            assert await seat.post_account() is not None
            # 2% of the oracle's 3,000 a unit, as the seat values a period (at the mark when it sees it).
            assert adapter.funding_index(1) == 60 * 10**18
            assert await seat.post_account() is None, "the period is in the index once"

    asyncio.run(scenario())


@pytest.mark.parametrize("mined", [True, False], ids=["mined-after-all", "never-mined"])
def test_a_report_sent_as_the_node_went_silent_posts_its_funding_once(bench: Bench, mined: bool) -> None:
    """The node stops answering as a report with a funding step is sent: mined after all, the next report does not
    post the step again (the index on chain is the one it sent); never mined, the next report posts it."""
    keeper, chain = bench.keeper, bench.chain
    _, child_id = child_for_one_eth(bench)
    adapter = keeper.seat_adapter(bench.venue)
    step = 3 * 10**15  # 0.000001 of the oracle's 3,000 a unit

    async def scenario() -> None:
        async with seat_holding_the_fills(bench, child_id) as seat:
            bench.dydx.settle_funding("ETH-USD", D("0.000001"))
            chain.advance(1)
            report = seat.adapter.report

            def node_went_silent(posted: SeatAccountReport) -> None:
                if mined:
                    report(posted)
                raise TransactionFateUnknown("report the seat's account", "0x" + "ab" * 32, 0)

            seat.adapter.report = node_went_silent  # type: ignore[method-assign]
            with pytest.raises(TransactionFateUnknown):
                await seat.post_account()
            seat.adapter.report = report  # type: ignore[method-assign]
            assert adapter.funding_index(1) == (step if mined else 0)

            chain.advance(1)
            posted = await seat.post_account()
            assert posted is None if mined else posted is not None, "mined, the report is the venue's view already"
            assert adapter.funding_index(1) == step, "the period is in the index once"
            assert await seat.post_account() is None

    asyncio.run(scenario())


def test_a_deposit_stays_credited_after_a_thousand_later_transfers(bench: Bench) -> None:
    """The indexer answers at most 1,000 transfers a request, newest first: the seat's deposit, followed by 1,000
    transfers in from another subaccount, is on the second page and must still count as credited, not in flight."""
    adapter = bench.keeper.seat_adapter(bench.venue)
    maker = {"address": MAKER, "subaccountNumber": 0}
    seat_subaccount = {"address": ADDRESS, "subaccountNumber": 0}

    async def later_transfers_in() -> None:
        for block in range(2):  # two blocks of 500: the indexer's height cursor pages them
            with bench.dydx.lock:
                for n in range(500):
                    bench.dydx._transfer("TRANSFER_IN", maker, seat_subaccount, 10**6, f"0x{block:032x}{n:032x}")
            target = bench.dydx.height + 1
            while bench.dydx.height < target:
                await asyncio.sleep(0.01)

    async def scenario() -> None:
        await later_transfers_in()
        async with bench.seat() as seat:
            assert (await seat.venue.balance()).credited_deposits == SEAT_MARGIN
            await seat.post_account()
            assert adapter.deposits_in_flight() == 0 and adapter.last_report().credited_deposits == SEAT_MARGIN * 10**6

    asyncio.run(scenario())


def test_margin_comes_back_from_dydx_through_the_bank_and_noble_with_the_attested_message(bench: Bench) -> None:
    """The real route out: MsgWithdrawFromSubaccount to the keeper's own dYdX bank balance, IBC to its Noble address,
    Noble's MsgDepositForBurn towards the seat adapter, Circle's attestation, the bridge paid, the vault collecting."""
    keeper, chain = bench.keeper, bench.chain
    usdc = TokenClient(chain.w3, chain.deployment.base)
    adapter = keeper.seat_adapter(bench.venue)
    bridge = CctpBridgeClient(chain.w3, chain.deployment.venues[bench.venue].address)

    async def scenario() -> None:
        async with bench.seat() as seat:
            await seat.post_account()
            # Withdrawals are gated after a negative-collateral subaccount: dYdX refuses, nothing is recorded.
            bench.dydx.mark_negative_collateral()
            with pytest.raises(DydxTxRejectedError, match="WithdrawalsAndTransfersBlocked"):
                await seat.withdraw_margin(1_000 * 10**6)
            assert adapter.pending_withdrawals() == 0
            bench.dydx.negative_tnc_seen_at = None

            vault_before = usdc.balance_of(chain.deployment.vault)
            assert await seat.withdraw_margin(1_000 * 10**6) == 1_000 * 10**6
            [withdrawal] = [t for t in bench.dydx.transfers if t["type"] == "WITHDRAWAL"]
            assert withdrawal["recipient"] == {"address": ADDRESS} and withdrawal["size"] == "1000"
            assert bench.dydx.bank.get(ADDRESS, 0) == 0, "sent on to Noble at once, in flight until the next block"

            async def collected() -> bool:
                await seat.collect_withdrawals()  # the attestation comes with the replica's next block
                return usdc.balance_of(chain.deployment.vault) == vault_before + 1_000 * 10**6

            await until(collected)
            assert adapter.pending_withdrawals() == 0 and usdc.balance_of(adapter.address) == 0
            assert bench.dydx.subaccounts[(ADDRESS, 0)].usdc_quantums == (SEAT_MARGIN - 1_000) * 10**6
            [burn] = bench.noble.burns
            assert burn.recipient == adapter.address and bridge.contract.functions.usedNonces(4, 0).call()
            assert burn.quantums == 1_000 * 10**6 and burn.tx_hash == bench.noble.txs[-1].tx_hash
            assert bench.noble.txs[-1].actions == ("/circle.cctp.v1.MsgDepositForBurn",)
            assert bench.noble.balance(NOBLE_ADDRESS) == 0 and not bench.dydx.packets
            assert await seat.collect_withdrawals() == 0, "each message paid once"
            assert len(bench.noble.burns) == 1, "nothing burned twice"

    asyncio.run(scenario())


def test_the_dydx_seat_closes_the_backstop_book_there(bench: Bench) -> None:
    keeper, chain = bench.keeper, bench.chain
    me = chain.account(1).address
    _, child_id = child_for_one_eth(bench)

    async def scenario() -> None:
        now = int(chain.w3.eth.get_block("latest")["timestamp"])
        async with bench.seat() as seat:
            await seat.cycle(now)
            assert isinstance(seat.venue, DydxVenue)
            connector = seat.venue.connector
            await until(lambda: _fills(connector, 2))
            keeper.reject_child(child_id, b"keeper restarted")  # its fills, reported late, are the protocol's
            async with forwarding(seat):

                async def in_backstop() -> bool:
                    return [b.size for b in keeper.backstop() if b.venue_id == bench.venue] == [D("0.8")]

                await until(in_backstop)
                assert keeper.positions(me) == []
                bench.dydx.rest_order(MAKER, 0, "ETH-USD", BUY, D(2990), D(1))
                later = int(chain.w3.eth.get_block("latest")["timestamp"])
                [unwind] = await seat.unwind_backstop(later)

                async def closed() -> bool:
                    return not [b for b in keeper.backstop() if b.venue_id == bench.venue]

                await until(closed)
            assert keeper.child_order(unwind).filled == D("0.8")
            assert keeper.net_position(1, bench.venue) == 0 and await seat.reconcile() == []

    asyncio.run(scenario())


def test_a_seat_with_only_the_trading_key_trades_and_leaves_its_margin_at_dydx(
    bench: Bench, caplog: pytest.LogCaptureFixture
) -> None:
    keeper, chain = bench.keeper, bench.chain
    _, child_id = child_for_one_eth(bench)
    adapter = keeper.seat_adapter(bench.venue)
    policy = MarginPolicy(floor=1.2, target=1.5, ceiling=2.0, minimum=1_000 * 10**6)

    async def scenario() -> None:
        now = int(chain.w3.eth.get_block("latest")["timestamp"])
        async with bench.trading_seat() as seat, forwarding(seat):
            assert isinstance(seat.venue, DydxVenue) and not seat.venue.connector.can_withdraw
            assert (await seat.cycle(now)).placed == (child_id,)
            await until(lambda: asyncio.to_thread(lambda: keeper.child_order(child_id).filled == D("0.8")))
            assert keeper.net_position(1, bench.venue) == D("0.8").scaleb(18)

            # 50,000 USDC against a need of 120: the policy would withdraw, but only the owner's key can.
            usdc = bench.dydx.subaccounts[(ADDRESS, 0)].usdc_quantums
            with caplog.at_level(logging.WARNING, logger="primevault.keeper"):
                assert await seat.manage_margin(policy) == 0
                assert await seat.manage_margin(policy) == 0
            [said] = [r.getMessage() for r in caplog.records if "not attempted" in r.getMessage()]
            assert "dydx.mnemonic of " + ADDRESS in said and "trading key" in said
            assert adapter.pending_withdrawals() == 0
            assert bench.dydx.subaccounts[(ADDRESS, 0)].usdc_quantums == usdc and bench.noble.burns == []
            assert not [t for t in bench.dydx.transfers if t["type"] == "WITHDRAWAL"]

            # A deposit crosses CCTP to the keeper's Noble address; moving it on to dYdX needs the owner's key too.
            keeper.deposit_margin(bench.venue, 1_000 * 10**6)
            wait(lambda: bench.noble.balance(NOBLE_ADDRESS) == 1_000 * 10**6, "never minted on Noble")
            await seat.manage_margin(policy)
            assert bench.noble.balance(NOBLE_ADDRESS) == 1_000 * 10**6
            assert bench.dydx.subaccounts[(ADDRESS, 0)].usdc_quantums == usdc

        # The owner's keeper takes it on.
        await bench.move()
        assert bench.dydx.subaccounts[(ADDRESS, 0)].usdc_quantums == usdc + 1_000 * 10**6

    asyncio.run(scenario())


def test_a_deposit_a_restart_left_on_noble_and_in_the_bank_is_finished_by_the_next_margin_checks(bench: Bench) -> None:
    """A deposit minted on Noble whose keeper stopped there, and one it stopped after the IBC leg, in its dYdX bank:
    the restarted seat's next margin check moves each on (the bank's into the subaccount, Noble's across IBC), the
    one after the relay finishes; counted in flight meanwhile (the margin checks move no margin)."""
    keeper = bench.keeper
    adapter = keeper.seat_adapter(bench.venue)
    policy = MarginPolicy(floor=1.2, target=1.5, ceiling=2.0, minimum=30_000 * 10**6)
    margin = SEAT_MARGIN * 10**6

    async def scenario() -> None:
        async with bench.seat() as seat:
            await seat.post_account()
            keeper.deposit_margin(bench.venue, 1_500 * 10**6)
            wait(lambda: bench.noble.balance(NOBLE_ADDRESS) == 1_500 * 10**6, "never minted on Noble")
            await seat.venue.connector.noble_to_dydx(D(500))  # then the keeper stopped
        wait(lambda: bench.dydx.bank.get(ADDRESS) == 500 * 10**6, "the IBC transfer was never relayed")
        assert bench.noble.balance(NOBLE_ADDRESS) == 1_000 * 10**6
        assert adapter.deposits_in_flight() == 1_500 * 10**6

        async with bench.seat() as restarted:
            # The next margin check deposits the bank's 500 and sends Noble's 1,000 across IBC; the one after the
            # relay deposits those. Meanwhile the deposit in flight counts as the seat's margin: nothing moves.
            bench.replica.pause_blocks()
            assert await restarted.manage_margin(policy) == 0
            assert bench.dydx.subaccounts[(ADDRESS, 0)].usdc_quantums == margin + 500 * 10**6
            assert bench.noble.balance(NOBLE_ADDRESS) == 0 and bench.dydx.bank[ADDRESS] == 0
            assert [p.quantums for p in bench.dydx.packets] == [1_000 * 10**6], "in flight"
            bench.replica.resume_blocks()
            wait(lambda: bench.dydx.bank[ADDRESS] == 1_000 * 10**6, "the IBC transfer was never relayed")
            assert await restarted.manage_margin(policy) == 0
            assert bench.dydx.subaccounts[(ADDRESS, 0)].usdc_quantums == margin + 1_500 * 10**6
            assert bench.dydx.bank[ADDRESS] == 0 and bench.noble.balance(NOBLE_ADDRESS) == 0
            await restarted.post_account()
        assert adapter.deposits_in_flight() == 0

    asyncio.run(scenario())


def test_a_withdrawal_a_restart_left_in_the_bank_goes_on_to_the_vault(bench: Bench) -> None:
    """The keeper withdrew from the subaccount and stopped before the IBC leg: a restarted seat finds the USDC its
    withdrawals owe in the bank, sends it to Noble, burns it towards the seat adapter and collects it."""
    keeper, chain = bench.keeper, bench.chain
    usdc = TokenClient(chain.w3, chain.deployment.base)
    adapter = keeper.seat_adapter(bench.venue)

    async def scenario() -> None:
        async with bench.seat() as seat:
            await seat.venue.connector.withdraw(D(700))
            await asyncio.to_thread(keeper.request_margin_withdrawal, bench.venue, 700 * 10**6)
        assert bench.dydx.bank[ADDRESS] == 700 * 10**6
        vault_before = usdc.balance_of(chain.deployment.vault)
        async with bench.seat() as restarted:

            async def collected() -> bool:
                await restarted.collect_withdrawals()
                return usdc.balance_of(chain.deployment.vault) == vault_before + 700 * 10**6

            await until(collected)
        assert adapter.pending_withdrawals() == 0 and bench.dydx.bank[ADDRESS] == 0
        assert [b.quantums for b in bench.noble.burns] == [700 * 10**6]

    asyncio.run(scenario())


def test_a_withdrawal_held_by_the_ibc_rate_limit_waits_in_the_bank_and_goes_on_when_capacity_returns(
    bench: Bench, caplog: pytest.LogCaptureFixture
) -> None:
    """x/ratelimit caps what leaves dYdX by IBC, not the withdrawal from the subaccount: with the hour's capacity
    spent, the seat's withdrawal reaches the bank, is recorded pending on chain, and waits there (said, not raised);
    once capacity returns the next collection sends it on to Noble, burns it and collects it."""
    keeper, chain = bench.keeper, bench.chain
    usdc = TokenClient(chain.w3, chain.deployment.base)
    adapter = keeper.seat_adapter(bench.venue)

    async def scenario() -> None:
        async with bench.seat() as seat:
            bench.dydx.withdrawals.append((time.monotonic(), WITHDRAWAL_FLOOR))
            vault_before = usdc.balance_of(chain.deployment.vault)
            with caplog.at_level(logging.WARNING, logger="primevault.keeper"):
                assert await seat.withdraw_margin(2_000 * 10**6) == 2_000 * 10**6
            assert any("rate-limit capacity" in r.getMessage() for r in caplog.records)
            assert bench.dydx.bank[ADDRESS] == 2_000 * 10**6 and adapter.pending_withdrawals() == 2_000 * 10**6
            await seat.collect_withdrawals()
            assert bench.dydx.bank[ADDRESS] == 2_000 * 10**6, "still held"

            bench.dydx.withdrawals.clear()  # the hour has passed

            async def collected() -> bool:
                await seat.collect_withdrawals()
                return usdc.balance_of(chain.deployment.vault) == vault_before + 2_000 * 10**6

            await until(collected)
            assert adapter.pending_withdrawals() == 0 and bench.dydx.bank[ADDRESS] == 0

    asyncio.run(scenario())


async def _fills(connector: DydxConnector, count: int) -> bool:
    return len(await connector.fills()) >= count


async def a_seat_places_the_child_and_stops(bench: Bench, child_id: int) -> None:
    """A seat places `child_for_one_eth`'s child at the chain's time and stops once the indexer holds the two fills
    of its order, before they are reported."""
    now = int(bench.chain.w3.eth.get_block("latest")["timestamp"])
    async with bench.seat() as seat:
        assert (await seat.cycle(now)).placed == (child_id,)
        assert isinstance(seat.venue, DydxVenue)
        await until(lambda: _fills(seat.venue.connector, 2))


def test_a_child_past_its_deadline_after_a_restart_gets_the_fills_its_order_made(bench: Bench) -> None:
    """The seat places the child and stops before the indexer's fills are reported; it starts again past the child's
    deadline. The indexer holds the order under the child's client id: the new seat finds it and books its fills
    to the account before expiring the child, instead of sending them to the backstop book."""
    keeper, chain = bench.keeper, bench.chain
    me = chain.account(1).address
    _, child_id = child_for_one_eth(bench)

    async def scenario() -> None:
        await a_seat_places_the_child_and_stops(bench, child_id)
        chain.advance(400)  # past the child's deadline (now + 300)
        later = int(chain.w3.eth.get_block("latest")["timestamp"])
        async with bench.seat() as seat:
            assert (await seat.cycle(later)).expired == (), "its order's fills are not booked yet"
            async with forwarding(seat):
                await until(lambda: asyncio.to_thread(lambda: keeper.child_order(child_id).filled == D("0.8")))
            assert (await seat.cycle(later)).expired == (child_id,)

    asyncio.run(scenario())
    [position] = keeper.positions(me)
    assert position.size == D("0.8") and keeper.backstop() == []


def test_two_children_closing_the_seats_short_in_one_burst_both_fill(bench: Bench) -> None:
    """The seat is short 1 ETH at dYdX; one cycle places two 1 ETH buys against 2 ETH of asks. Both read the position
    before either fills: only the first may go reduce-only (dYdX cuts a reduce-only order to the position, which the
    first closes), or the second fills nothing and its account's order is rejected with the asks still there."""
    chain, keeper = bench.chain, bench.keeper
    me = chain.account(1).address
    alice = TradingClient(chain.w3, chain.deployment, chain.client(1).sender)

    def child(size: Decimal, limit: Decimal) -> int:
        now = int(chain.w3.eth.get_block("latest")["timestamp"])
        order_id = alice.submit(me, "ETH-USD", size, limit, now + 600)
        return keeper.commit_split(order_id, [ChildSpec(bench.venue, abs(size), limit, now + 300)])

    async def scenario() -> None:
        bench.dydx.rest_order(MAKER, 0, "ETH-USD", BUY, D(3000), D(1))
        short = child(D(-1), D(2970))
        async with bench.seat() as seat, forwarding(seat):
            now = int(chain.w3.eth.get_block("latest")["timestamp"])
            assert (await seat.cycle(now)).placed == (short,)
            await until(lambda: asyncio.to_thread(lambda: keeper.child_order(short).filled == D(1)))
            bench.dydx.rest_order(MAKER, 0, "ETH-USD", SELL, D(3000), D(2))
            buys = [child(D(1), D(3030)), child(D(1), D(3030))]
            assert (await seat.cycle(now)).placed == tuple(buys)
            await until(lambda: asyncio.to_thread(lambda: sum(keeper.child_order(c).filled for c in buys) == 2))
            assert [keeper.child_order(c).status for c in buys] == ["filled", "filled"]
            assert await seat.reconcile() == []

    asyncio.run(scenario())


def test_a_child_closing_the_short_a_cycle_after_another_did_fills_before_their_fills_are_booked(bench: Bench) -> None:
    """The seat is short 1 ETH at dYdX; a 1 ETH buy closes it at the venue, but its fill is not booked yet (on
    Ethereum a report waits for its block) when the next cycle places another 1 ETH buy. The chain still shows the
    short: the second order must not go reduce-only (dYdX would cut it to nothing, and its child be rejected)."""
    chain, keeper = bench.chain, bench.keeper
    me = chain.account(1).address
    alice = TradingClient(chain.w3, chain.deployment, chain.client(1).sender)

    def child(size: Decimal, limit: Decimal) -> int:
        now = int(chain.w3.eth.get_block("latest")["timestamp"])
        order_id = alice.submit(me, "ETH-USD", size, limit, now + 600)
        return keeper.commit_split(order_id, [ChildSpec(bench.venue, abs(size), limit, now + 300)])

    async def scenario() -> None:
        bench.dydx.rest_order(MAKER, 0, "ETH-USD", BUY, D(3000), D(1))
        short = child(D(-1), D(2970))
        async with bench.seat() as seat:
            now = int(chain.w3.eth.get_block("latest")["timestamp"])
            async with forwarding(seat):
                assert (await seat.cycle(now)).placed == (short,)
                await until(lambda: asyncio.to_thread(lambda: keeper.child_order(short).filled == D(1)))
            bench.dydx.rest_order(MAKER, 0, "ETH-USD", SELL, D(3000), D(2))
            first = child(D(1), D(3030))
            assert (await seat.cycle(now)).placed == (first,)
            assert isinstance(seat.venue, DydxVenue)
            await until(lambda: _fills(seat.venue.connector, 2))  # the first buy's fill, at dYdX, not booked
            second = child(D(1), D(3030))
            assert (await seat.cycle(now)).placed == (second,)
            async with forwarding(seat):
                await until(lambda: asyncio.to_thread(lambda: keeper.child_order(first).filled == D(1)))
                await cycle_until_rejected(seat, now, timeout=2)
            assert keeper.child_order(second).filled == D(1), "the asks were there"

    asyncio.run(scenario())


def test_an_account_child_after_a_backstop_unwind_fills_before_the_unwinds_fills_are_booked(bench: Bench) -> None:
    """The backstop book is long 0.8 ETH at dYdX; its unwind, a reduce-only sell, fills there but is not booked yet
    when the next cycle places an account's 0.8 sell. The chain still shows the long, which the unwind has taken: the
    account's order must not go reduce-only (dYdX would cut it to nothing, and its child be rejected)."""
    keeper, chain = bench.keeper, bench.chain
    me = chain.account(1).address
    _, child_id = child_for_one_eth(bench)

    async def scenario() -> None:
        now = int(chain.w3.eth.get_block("latest")["timestamp"])
        async with bench.seat() as seat:
            await seat.cycle(now)
            assert isinstance(seat.venue, DydxVenue)
            connector = seat.venue.connector
            await until(lambda: _fills(connector, 2))
            keeper.reject_child(child_id, b"keeper restarted")  # its fills, reported late, are the protocol's
            async with forwarding(seat):
                await until(lambda: asyncio.to_thread(lambda: keeper.net_position(1, bench.venue) == D("0.8") * 10**18))
            bench.dydx.rest_order(MAKER, 0, "ETH-USD", BUY, D(2990), D(2))
            later = int(chain.w3.eth.get_block("latest")["timestamp"])
            [unwind] = await seat.unwind_backstop(later)
            await until(lambda: _fills(connector, 3))  # the unwind's fill, at dYdX, not booked
            alice = TradingClient(chain.w3, chain.deployment, chain.client(1).sender)
            order_id = alice.submit(me, "ETH-USD", D("-0.8"), D(2900), later + 600)
            sell = keeper.commit_split(order_id, [ChildSpec(bench.venue, D("0.8"), D(2900), later + 300)])
            assert (await seat.cycle(later)).placed == (sell,)
            async with forwarding(seat):
                await until(lambda: asyncio.to_thread(lambda: keeper.child_order(unwind).filled == D("0.8")))
                await cycle_until_rejected(seat, later, timeout=2)
            assert keeper.child_order(sell).filled == D("0.8"), "the bids were there"

    asyncio.run(scenario())

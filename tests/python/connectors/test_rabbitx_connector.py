"""The RabbitX connector against the running devnet over HTTP and WebSocket: partial fills over several pushes, a
rejection with its reason, an IOC expiring, the socket dropping mid-order, a restart between a fill and its
acknowledgement, and signatures refused when wrong or stale."""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal

import aiohttp
import pytest

from keeper.cli.keeper_cmd import _configure_logging
from keeper.connectors.rabbitx.client import AccountStream, Credentials, RabbitXClient
from keeper.connectors.rabbitx.connector import RabbitXConnector
from keeper.connectors.rabbitx.errors import DuplicateClientOrderIdError, RabbitXAuthError, RabbitXRequestError
from keeper.connectors.rabbitx.models import Fill, OrderRequest
from keeper.connectors.rabbitx.vocabulary import OrderStatus, OrderType, Side, TimeInForce
from keeper.exceptions import PrimeVaultError

from .rabbitx_service import RabbitXService, assert_no_more_fills, final_order, next_fills, wait_order

D = Decimal


def limit(client_order_id: str, side: Side, size: str, price: int, tif: TimeInForce | None = None) -> OrderRequest:
    return OrderRequest("BTC-USD", side, D(size), D(price), client_order_id, OrderType.LIMIT, tif)


async def take(taker: RabbitXClient, side: Side, size: str, price: int) -> None:
    """Another account's order that crosses the book at once."""
    await taker.create_order("BTC-USD", side.value, D(size), D(price), time_in_force="immediate_or_cancel")


def test_order_filled_in_parts_over_several_messages(rabbitx: RabbitXService) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            vault = await rabbitx.trader(session, 1)
            taker = RabbitXClient(session, rabbitx.url, await rabbitx.trader(session, 2))
            async with RabbitXConnector(rabbitx.settings(vault)) as connector, connector.fill_feed() as feed:
                await asyncio.wait_for(feed.connected.wait(), 5)
                placed = await connector.place_order(limit("child-1", Side.SHORT, "0.3", 60000))
                assert placed.status is OrderStatus.PROCESSING
                assert (placed.client_order_id, placed.size, placed.price) == ("child-1", D("0.3"), D(60000))
                await wait_order(connector, placed.order_id, lambda order: order.status is OrderStatus.OPEN)
                assert [o.order_id for o in await connector.open_orders("BTC-USD")] == [placed.order_id]

                for _ in range(3):
                    await take(taker, Side.LONG, "0.1", 60000)
                fills = await next_fills(feed, 3)

                assert len({f.fill_id for f in fills}) == 3
                for fill in fills:
                    assert (fill.order_id, fill.client_order_id) == (placed.order_id, "child-1")
                    assert fill.market_id == "BTC-USD"
                    assert (fill.side, fill.price, fill.size, fill.is_maker) == (Side.SHORT, D(60000), D("0.1"), True)
                    assert fill.fee == 0 and fill.timestamp > 0
                    await feed.acknowledge(fill)
                assert feed.delivered_from_stream == 3
                await assert_no_more_fills(feed)

                order = await final_order(connector, placed.order_id)
                assert (order.status, order.filled_size, order.reason) == (OrderStatus.CLOSED, D("0.3"), "")
                assert await connector.open_orders() == []
                [position] = await connector.positions()
                assert (position.market_id, position.signed_size, position.entry_price) == (
                    "BTC-USD",
                    D("-0.3"),
                    D(60000),
                )
                balance = await connector.balance()
                assert balance.balance == 10_000 and balance.position_margin > 0
                assert await connector.fills_since(0) == fills

    asyncio.run(scenario())


def test_rejections_carry_their_reason(rabbitx: RabbitXService) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            poor = await rabbitx.trader(session, 3, deposit=D(100))
            async with RabbitXConnector(rabbitx.settings(poor)) as connector:
                too_big = await connector.place_order(limit("big-1", Side.LONG, "1", 60000))
                order = await final_order(connector, too_big.order_id)
                assert order.status is OrderStatus.REJECTED
                assert order.reason.startswith("insufficient margin: equity 100 < required 3000")
                assert order.filled_size == 0

                with pytest.raises(RabbitXRequestError) as unknown:
                    await connector.place_order(
                        OrderRequest("DOGE-USD", Side.LONG, D(1), D("0.1"), "doge-1", OrderType.LIMIT)
                    )
                assert unknown.value.status == 400 and "unknown market 'DOGE-USD'" in unknown.value.error
                assert isinstance(unknown.value, PrimeVaultError)

                with pytest.raises(DuplicateClientOrderIdError, match="'big-1' was used before"):
                    await connector.place_order(limit("big-1", Side.LONG, "0.001", 60000))

                withdrawal = await connector.request_withdrawal(D("25.5"))
                assert (withdrawal.amount, withdrawal.status, withdrawal.claim) == (D("25.5"), "pending", None)
                assert (await connector.balance()).balance == D("74.5"), "debited while pending"
                canceled = await connector.cancel_withdrawal(withdrawal.withdrawal_id)
                assert canceled.canceled and canceled.withdrawal_id == withdrawal.withdrawal_id
                assert (await connector.balance()).balance == D(100), "cancelled: back in the balance"

                withdrawal = await connector.request_withdrawal(D("25.5"))
                deadline = time.monotonic() + 5
                while not (listed := [w for w in await connector.withdrawals() if w.claimable]):
                    assert time.monotonic() < deadline, "never claimable"
                    await asyncio.sleep(0.05)
                [claimable] = listed
                assert claimable.withdrawal_id == withdrawal.withdrawal_id
                claimed = await connector.withdrawal_claim(claimable)
                assert claimed.claim is not None and claimed.claim.amount_units == 25_500_000
                assert (await connector.balance()).balance == D("74.5")

    asyncio.run(scenario())


def test_an_ioc_order_expires_with_what_it_could_fill(rabbitx: RabbitXService) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            vault = await rabbitx.trader(session, 4)
            maker = RabbitXClient(session, rabbitx.url, await rabbitx.trader(session, 5))
            resting = await maker.create_order("BTC-USD", "short", D("0.1"), D(60000))
            async with RabbitXConnector(rabbitx.settings(vault)) as connector, connector.fill_feed() as feed:
                ioc = TimeInForce.IMMEDIATE_OR_CANCEL
                unfilled = await connector.place_order(limit("ioc-1", Side.LONG, "0.1", 59000, ioc))
                order = await final_order(connector, unfilled.order_id)
                assert (order.status, order.filled_size, order.time_in_force) == (OrderStatus.CANCELED, D(0), ioc)
                assert order.reason

                partial = await connector.place_order(limit("ioc-2", Side.LONG, "0.3", 60000, ioc))
                order = await final_order(connector, partial.order_id)
                assert (order.status, order.filled_size) == (OrderStatus.CANCELED, D("0.1"))
                [fill] = await next_fills(feed, 1)
                assert (fill.client_order_id, fill.size, fill.is_maker) == ("ioc-2", D("0.1"), False)
                assert fill.fee == D("0.1") * 60000 * D("0.0005"), "the taker pays 5 bps"
                assert (await maker.order(resting["id"]))["status"] == "closed"
                await assert_no_more_fills(feed)

    asyncio.run(scenario())


def test_fills_missed_while_the_websocket_is_down_come_over_rest_once(rabbitx: RabbitXService) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            vault = await rabbitx.trader(session, 6)
            taker = RabbitXClient(session, rabbitx.url, await rabbitx.trader(session, 7))
            async with RabbitXConnector(rabbitx.settings(vault)) as connector, connector.fill_feed() as feed:
                await asyncio.wait_for(feed.connected.wait(), 5)
                placed = await connector.place_order(limit("drop-1", Side.SHORT, "0.4", 60000))
                await take(taker, Side.LONG, "0.1", 60000)
                first = await next_fills(feed, 1)
                assert feed.delivered_from_stream == 1

                # Refused for longer than any slow machine takes to get there; let in again explicitly below.
                await rabbitx.drop_websockets(refuse_for=60.0)
                await take(taker, Side.LONG, "0.1", 60000)
                await take(taker, Side.LONG, "0.1", 60000)
                during = await next_fills(feed, 2)
                assert not feed.connected.is_set(), "the socket is still refused: these came over REST"
                assert feed.delivered_from_rest == 2

                await rabbitx.drop_websockets(refuse_for=0)
                await asyncio.wait_for(feed.connected.wait(), 5)
                await take(taker, Side.LONG, "0.1", 60000)
                after = await next_fills(feed, 1)
                assert feed.delivered_from_stream == 2

                fills = first + during + after
                assert len({f.fill_id for f in fills}) == 4
                assert sum(f.size for f in fills) == D("0.4")
                assert all(f.order_id == placed.order_id for f in fills)
                await assert_no_more_fills(feed)
                assert (await final_order(connector, placed.order_id)).filled_size == D("0.4")

    asyncio.run(scenario())


def test_a_restart_between_fill_and_acknowledgement_passes_each_fill_on_until_acknowledged(
    rabbitx: RabbitXService,
) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            vault = await rabbitx.trader(session, 8)
            taker = RabbitXClient(session, rabbitx.url, await rabbitx.trader(session, 9))
            settings = rabbitx.settings(vault)
            async with RabbitXConnector(settings) as connector, connector.fill_feed() as feed:
                await asyncio.wait_for(feed.connected.wait(), 5)
                await connector.place_order(limit("restart-1", Side.SHORT, "0.3", 60000))
                await take(taker, Side.LONG, "0.1", 60000)
                [reported] = await next_fills(feed, 1)
                await feed.acknowledge(reported)
                await take(taker, Side.LONG, "0.1", 60000)
                [unreported] = await next_fills(feed, 1)
                # The keeper stops here: `unreported` was received but never reported on chain.

            await take(taker, Side.LONG, "0.1", 60000)  # fills while no connector runs

            async with RabbitXConnector(settings) as connector, connector.fill_feed() as feed:
                reported_now: list[Fill] = []

                async def report(fills: list[Fill]) -> None:
                    reported_now.extend(fills)

                forwarding = asyncio.create_task(feed.forward(report))  # acknowledges each batch once reported
                await asyncio.wait_for(feed.connected.wait(), 5)
                deadline = time.monotonic() + 5
                while len(reported_now) < 2 and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)
                await asyncio.sleep(0.3)  # and nothing more comes
                forwarding.cancel()
                [again, missed] = reported_now
                assert again == unreported, "the unacknowledged fill comes out again, first"
                assert missed.fill_id not in (reported.fill_id, unreported.fill_id)
                # The missed fill comes in the subscription's snapshot or from REST recovery, whichever is first.
                assert feed.delivered_from_stream + feed.delivered_from_rest == 1

            async with RabbitXConnector(settings) as connector, connector.fill_feed() as feed:
                await asyncio.wait_for(feed.connected.wait(), 5)
                await assert_no_more_fills(feed)
                assert (feed.delivered_from_stream, feed.delivered_from_rest) == (0, 0)
                with pytest.raises(DuplicateClientOrderIdError):
                    await connector.place_order(limit("restart-1", Side.SHORT, "0.1", 60000))

    asyncio.run(scenario())


def test_fills_waiting_together_are_passed_on_in_one_batch_and_acknowledged_together(rabbitx: RabbitXService) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            vault = await rabbitx.trader(session, 10)
            taker = RabbitXClient(session, rabbitx.url, await rabbitx.trader(session, 11))
            settings = rabbitx.settings(vault)
            async with RabbitXConnector(settings) as connector, connector.fill_feed() as feed:
                await asyncio.wait_for(feed.connected.wait(), 5)
                await connector.place_order(limit("batch-1", Side.SHORT, "0.3", 60000))
                for _ in range(3):
                    await take(taker, Side.LONG, "0.1", 60000)
                waiting = await next_fills(feed, 3)
                # The keeper stops before reporting any of them.

            async with RabbitXConnector(settings) as connector, connector.fill_feed() as feed:
                batches: list[list[Fill]] = []

                async def report(fills: list[Fill]) -> None:
                    batches.append(fills)

                forwarding = asyncio.create_task(feed.forward(report))
                deadline = time.monotonic() + 5
                while not batches and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)
                await asyncio.sleep(0.3)  # and nothing more comes
                forwarding.cancel()
                assert batches == [waiting], "the three waiting fills go to one report, in order"

            async with RabbitXConnector(settings) as connector, connector.fill_feed() as feed:
                await asyncio.wait_for(feed.connected.wait(), 5)
                await assert_no_more_fills(feed)

    asyncio.run(scenario())


def test_fills_made_while_a_report_is_on_its_way_go_out_together_in_the_next(rabbitx: RabbitXService) -> None:
    """Group commit: a report takes a block or more, and every fill that arrives meanwhile waits for it and then goes
    out in one batch (a fill's gas on chain falls with the batch, at most 90,000 from five)."""

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            vault = await rabbitx.trader(session, 10)
            taker = RabbitXClient(session, rabbitx.url, await rabbitx.trader(session, 11))
            async with RabbitXConnector(rabbitx.settings(vault)) as connector, connector.fill_feed() as feed:
                await asyncio.wait_for(feed.connected.wait(), 5)
                batches: list[list[Fill]] = []
                first_reported = asyncio.Event()

                async def report(fills: list[Fill]) -> None:
                    batches.append(fills)
                    if len(batches) == 1:
                        await first_reported.wait()  # the first report is still being mined

                forwarding = asyncio.create_task(feed.forward(report))
                await connector.place_order(limit("group-1", Side.SHORT, "0.4", 60000))
                await take(taker, Side.LONG, "0.1", 60000)
                deadline = time.monotonic() + 5
                while not batches and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)
                for _ in range(3):
                    await take(taker, Side.LONG, "0.1", 60000)
                while feed.delivered_from_stream + feed.delivered_from_rest < 4 and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)  # the three fills reach the feed while the first report waits
                first_reported.set()
                while len(batches) < 2 and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)
                await asyncio.sleep(0.3)  # and nothing more comes
                forwarding.cancel()
                assert [len(batch) for batch in batches] == [1, 3], "one report for the first fill, one for the rest"
                assert sum(fill.size for batch in batches for fill in batch) == Decimal("0.4")

    asyncio.run(scenario())


def test_wrong_or_stale_signatures_are_refused(rabbitx: RabbitXService) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            good = await rabbitx.trader(session, 10)
            wrong = Credentials(good.api_key, "0x" + "ab" * 32, good.jwt, good.profile_id)
            async with RabbitXConnector(rabbitx.settings(wrong)) as connector:
                with pytest.raises(RabbitXAuthError, match="invalid signature"):
                    await connector.balance()

            behind = RabbitXClient(session, rabbitx.url, good, clock=lambda: time.time() - 400)
            with pytest.raises(RabbitXAuthError, match="signature expired") as stale:
                await behind.account()
            assert stale.value.status == 401
            ahead = RabbitXClient(session, rabbitx.url, good, clock=lambda: time.time() + 400)
            with pytest.raises(RabbitXAuthError, match="more than 600s"):
                await ahead.account()

            async with RabbitXConnector(rabbitx.settings(good)) as connector:
                assert (await connector.balance()).balance == 10_000

    asyncio.run(scenario())


def test_a_push_lost_without_the_socket_dropping_is_recovered_over_rest(rabbitx: RabbitXService) -> None:
    """Two ways to notice: the next push's offset skips one, or nothing arrives for `quiet_reconcile` seconds."""

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            vault = await rabbitx.trader(session, 11)
            taker = RabbitXClient(session, rabbitx.url, await rabbitx.trader(session, 12))
            settings = rabbitx.settings(vault, quiet_reconcile=4.0)
            async with RabbitXConnector(settings) as connector, connector.fill_feed() as feed:
                await asyncio.wait_for(feed.connected.wait(), 5)
                placed = await connector.place_order(limit("lossy-1", Side.SHORT, "0.3", 60000))
                await wait_order(connector, placed.order_id, lambda order: order.status is OrderStatus.OPEN)

                await rabbitx.lose_account_pushes(vault, 1)
                await take(taker, Side.LONG, "0.1", 60000)
                await take(taker, Side.LONG, "0.1", 60000)
                lost, pushed = await next_fills(feed, 2, timeout=1.5)  # before the quiet spell ends
                assert lost.timestamp <= pushed.timestamp, "the gap is read over REST before the push that shows it"
                # The lost one can only have come over REST; the pushed one too if REST was first to see it.
                assert feed.delivered_from_rest in (1, 2) and feed.delivered_from_stream == 2 - feed.delivered_from_rest
                from_rest = feed.delivered_from_rest

                await rabbitx.lose_account_pushes(vault, 1)
                await take(taker, Side.LONG, "0.1", 60000)
                [quiet] = await next_fills(feed, 1, timeout=10)
                assert feed.delivered_from_rest == from_rest + 1, "nothing pushed for a while: REST found it"
                assert len({lost.fill_id, pushed.fill_id, quiet.fill_id}) == 3
                await assert_no_more_fills(feed)

    asyncio.run(scenario())


def test_a_first_run_starts_at_its_start_time(rabbitx: RabbitXService) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            vault = await rabbitx.trader(session, 13)
            taker = RabbitXClient(session, rabbitx.url, await rabbitx.trader(session, 14))
            async with RabbitXConnector(rabbitx.settings(vault)) as connector:
                placed = await connector.place_order(limit("old-1", Side.SHORT, "0.2", 60000))
                await take(taker, Side.LONG, "0.1", 60000)
                await wait_order(connector, placed.order_id, lambda order: order.filled_size > 0)
                [old] = await connector.fills_since(0)

            fresh = rabbitx.settings(vault, data_dir=rabbitx.data_dir / "fresh")
            async with RabbitXConnector(fresh) as connector, connector.fill_feed(old.timestamp + 1) as feed:
                await asyncio.wait_for(feed.connected.wait(), 5)
                await take(taker, Side.LONG, "0.1", 60000)
                [new] = await next_fills(feed, 1)
                assert new.fill_id != old.fill_id, "the snapshot's older fill is not passed on"
                await assert_no_more_fills(feed)

    asyncio.run(scenario())


def test_an_expired_jwt_is_renewed_and_the_feed_connects_with_the_new_one(rabbitx_short_jwt: RabbitXService) -> None:
    rabbitx = rabbitx_short_jwt

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            vault = await rabbitx.trader(session, 15)
            taker = RabbitXClient(session, rabbitx.url, await rabbitx.trader(session, 16))
            settings = rabbitx.settings(vault)
            await asyncio.sleep(2.5)  # the onboarding's JWT has expired

            with pytest.raises(RabbitXAuthError, match="expired"):
                await AccountStream.open(settings.websocket_url, vault)

            async with RabbitXConnector(settings) as connector, connector.fill_feed() as feed:
                await asyncio.wait_for(feed.connected.wait(), 5)
                assert connector.client.credentials is not None
                assert connector.client.credentials.jwt != vault.jwt, "renewed over POST /jwt"
                await connector.place_order(limit("renewed-1", Side.SHORT, "0.1", 60000))
                await take(taker, Side.LONG, "0.1", 60000)
                [fill] = await next_fills(feed, 1)
                assert (fill.client_order_id, feed.delivered_from_stream) == ("renewed-1", 1), "pushed on the socket"

    asyncio.run(scenario())


def test_a_socket_that_goes_silent_is_noticed_and_opened_again(
    rabbitx_pinging_every_second: RabbitXService, caplog: pytest.LogCaptureFixture
) -> None:
    """The server stops pinging and the socket stays open, as a link that died without closing: the SDK notices the
    missing pings (the interval plus its 10 s allowance), the feed reads REST and subscribes again, and a fill made
    meanwhile comes out once."""
    rabbitx = rabbitx_pinging_every_second

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            vault = await rabbitx.trader(session, 17)
            taker = RabbitXClient(session, rabbitx.url, await rabbitx.trader(session, 18))
            settings = rabbitx.settings(vault, quiet_reconcile=60.0)
            async with RabbitXConnector(settings) as connector, connector.fill_feed() as feed:
                await asyncio.wait_for(feed.connected.wait(), 5)
                await connector.place_order(limit("silent-1", Side.SHORT, "0.1", 60000))
                await rabbitx.stop_pinging()
                caplog.set_level(logging.WARNING, logger="keeper.connectors.rabbitx.fills")
                deadline = time.monotonic() + 20
                while "no ping" not in caplog.text and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                assert "no ping" in caplog.text, caplog.text
                await rabbitx.stop_pinging(False)
                await asyncio.wait_for(feed.connected.wait(), 5)
                await take(taker, Side.LONG, "0.1", 60000)
                [fill] = await next_fills(feed, 1)
                assert fill.client_order_id == "silent-1"
                await assert_no_more_fills(feed)

    asyncio.run(scenario())


def test_the_daemons_debug_log_never_holds_the_jwt(rabbitx: RabbitXService, capsys: pytest.CaptureFixture[str]) -> None:
    """`keeper run --log-level debug` logs every library's debug lines; the Centrifuge client's carry the commands it
    sends, the connect command with the account's JWT among them: whoever reads the log could open the account's
    channel."""
    root, centrifuge = logging.getLogger(), logging.getLogger("centrifuge")
    saved = root.handlers[:], root.level, centrifuge.level
    _configure_logging("debug")

    async def scenario() -> str:
        async with aiohttp.ClientSession() as session:
            vault = await rabbitx.trader(session, 1)
            async with RabbitXConnector(rabbitx.settings(vault)) as connector, connector.fill_feed() as feed:
                await asyncio.wait_for(feed.connected.wait(), 5)
            return vault.jwt

    try:
        jwt = asyncio.run(scenario())
    finally:
        root.handlers[:], _, _ = saved
        root.setLevel(saved[1])
        centrifuge.setLevel(saved[2])
    logged = capsys.readouterr().err
    assert '"level": "debug"' in logged  # the daemon's debug lines were written
    assert jwt not in logged

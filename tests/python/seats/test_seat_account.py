"""The seat's account at the exchange is the vault's seat adapter: onboarded by the keeper's key through the adapter's
`isValidSigner`, funded through the exchange's custody contract, its state posted on chain, its margin withdrawn with
the exchange's signed claim, the backstop book closed there through the API, and the exchange's own liquidation of it
seen and raised. Real anvil; the devnet exchange served for real, watching its custody contract on the chain."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import tomllib
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner

from keeper.chain.keys import dev_account
from keeper.cli.main import cli
from keeper.client.tokens import TokenClient
from keeper.client.trading import TradingClient
from keeper.connectors.rabbitx.client import RabbitXClient
from keeper.connectors.rabbitx.connector import RabbitXConnector
from keeper.connectors.rabbitx.errors import RabbitXAuthError
from keeper.connectors.rabbitx.settings import RabbitXSettings
from keeper.devnet.deploy import SEAT_VENUE
from keeper.risk.margin import MarginPolicy
from keeper.seats.rabbitx import RabbitXSeat
from tests.python.conftest import Chain
from tests.python.connectors.rabbitx_service import RabbitXService
from tests.python.seats.conftest import SEAT_MARGIN, SeatRun, executor, forwarding, seat_with_child

D = Decimal


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


def trader(chain: Chain, index: int) -> TradingClient:
    return TradingClient(chain.w3, chain.deployment, chain.client(index).sender)


def test_only_a_key_the_seat_names_onboards_its_account(market: Chain, exchange: RabbitXService) -> None:
    adapter = executor(market).seat_adapter(executor(market).venue_id(SEAT_VENUE))
    assert adapter.is_valid_signer(dev_account(0).address) and not adapter.is_valid_signer(dev_account(3).address)

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            client = RabbitXClient(session, exchange.url)
            with pytest.raises(RabbitXAuthError, match="isValidSigner"):
                await client.onboard(dev_account(3).key.hex(), adapter.address)
            credentials = await client.onboard(dev_account(0).key.hex(), adapter.address)
            assert credentials.wallet.lower() == adapter.address.lower(), "the account is the contract's"

    asyncio.run(scenario())


def test_the_seat_posts_its_account_and_withdraws_margin_above_its_ceiling(
    market: Chain, exchange: RabbitXService, caplog: pytest.LogCaptureFixture
) -> None:
    usdc = TokenClient(market.w3, market.deployment.base)

    async def scenario() -> None:
        async with seat_with_child(market, exchange) as run:
            keeper, seat, connector, venue = run.keeper, run.seat, run.connector, run.venue
            adapter = keeper.seat_adapter(venue)
            await until(lambda: run.child_filled(D("0.8")))
            assert await seat.post_account() is not None
            assert adapter.position(1) == D("0.8").scaleb(18) == keeper.net_position(1, venue)
            equity = (await connector.balance()).equity
            assert adapter.margin().net_collateral == int(equity.scaleb(6)), "equity, rounded down"
            assert adapter.deposits_in_flight() == 0, "the exchange credited the seat's deposit"
            assert adapter.last_report().credited_deposits == SEAT_MARGIN * 10**6
            assert await seat.post_account() is None, "nothing changed: nothing posted"
            shown = CliRunner().invoke(
                cli, ["--deployment", str(market.deployment_file), "risk", "venues", "--json"], catch_exceptions=False
            )
            [view] = [v for v in json.loads(shown.output)["venues"] if v["venue"] == SEAT_VENUE]
            assert view["positions"]["ETH-USD"] == "0.8" and view["deposits_in_flight"] == "0"
            assert view["reported_at"] == adapter.last_report().reported_at
            assert D(view["net_collateral"]) == equity.quantize(D("0.000001"), rounding="ROUND_FLOOR")
            # The margin posted is the seat's one deposit; the account's gain on it is the exchange's equity less that
            # deposit: the fill's fee and the position's PnL at the exchange's mark.
            assert D(view["margin_posted"]) == SEAT_MARGIN
            assert D(view["pnl"]) == D(view["net_collateral"]) - SEAT_MARGIN != 0

            # Far above the ceiling for 0.8 ETH: the seat withdraws down to the target, through the API (the exchange
            # debits at once), on chain (pending); the exchange keeps it pending for its processing blocks (10 for
            # 10,000 to 99,999: 1 s here), then signs it: out of custody with the signed claim, into the vault.
            exchange.devnet.set_withdrawal_block_seconds(0.1)
            vault_before = usdc.balance_of(market.deployment.vault)
            net = adapter.margin().net_collateral
            policy = MarginPolicy(floor=3, target=5, ceiling=8, minimum=10_000 * 10**6)
            out = net - 10_000 * 10**6
            assert 10_000 * 10**6 <= out < 100_000 * 10**6, "the 10-block tier"
            assert await seat.manage_margin(policy) == -out, "down to the target (the minimum)"
            [pending] = await connector.withdrawals()
            assert pending.pending and pending.claim is None, "pending at the exchange: nothing to claim yet"
            assert usdc.balance_of(market.deployment.vault) == vault_before, "not paid while pending"
            assert adapter.pending_withdrawals() == out, "pending on chain too"
            assert await seat.manage_margin(policy) == 0, "pending counts: nothing more asked for"
            assert adapter.pending_withdrawals() == out and usdc.balance_of(market.deployment.vault) == vault_before

            async def claimable() -> bool:
                return all(w.claimable or w.paid for w in await connector.withdrawals())

            await until(claimable)
            assert await seat.manage_margin(policy) == 0, "the pending withdrawal is collected, nothing more moves"
            assert usdc.balance_of(market.deployment.vault) == vault_before + out
            assert adapter.pending_withdrawals() == 0 and usdc.balance_of(adapter.address) == 0
            assert len(await connector.withdrawals()) == 1
            assert await seat.manage_margin(policy) == 0, "at the target: nothing moves"
            assert await seat.withdraw_margin(10**15) < 10**15, "capped at what the exchange lets go"
            await until(claimable)
            assert await seat.collect_withdrawals() > 0 and adapter.pending_withdrawals() == 0

            # The admin caps the seat 1,000 USDC above what counts against the cap: a floor wanting more deposits
            # what fits, and says why.
            used = 2**256 - 1 - adapter.margin_room()
            admin = market.account(0).address
            adapter.contract.functions.setMarginCap(used + 1_000 * 10**6).transact({"from": admin})
            raised = MarginPolicy(floor=3, target=5, ceiling=8, minimum=50_000 * 10**6)
            with caplog.at_level("INFO", logger="primevault.keeper"):
                assert await seat.manage_margin(raised) == 1_000 * 10**6
            [capped] = [m for m in caplog.messages if "the admin raises it (setMarginCap)" in m]
            assert "cap leaves room for 1,000 USDC of the " in capped, "amounts in USDC, not base units"
            [deposit] = [m for m in caplog.messages if "below its floor: depositing" in m]
            assert re.fullmatch(
                rf"seat at {seat.venue.name}: margin [\d,.]+ USDC below its floor: depositing 1,000 USDC", deposit
            )
            assert adapter.margin_room() == 0
            with caplog.at_level("INFO", logger="primevault.keeper"):
                for _ in range(3):  # every seat_state_interval while the cap holds it back
                    assert await seat.manage_margin(raised) == 0
            capped_said = [m for m in caplog.messages if "the admin raises it (setMarginCap)" in m]
            assert len(capped_said) == 1, "said once while the cap holds, not at every margin check"
            shown = CliRunner().invoke(
                cli, ["--deployment", str(market.deployment_file), "risk", "venues", "--json"], catch_exceptions=False
            )
            [view] = [v for v in json.loads(shown.output)["venues"] if v["venue"] == SEAT_VENUE]
            assert view["margin_room"] == "0", "the operator sees the cap reached"

    asyncio.run(scenario())


def test_a_withdrawal_cancelled_at_the_exchange_is_raised_for_the_admin_to_write_off(
    market: Chain, exchange: RabbitXService, caplog: pytest.LogCaptureFixture
) -> None:
    """RabbitX lets the account's owner cancel a withdrawal before its claim: the amount is back in the exchange's
    balance, but the seat adapter still counts it pending. The seat never pays it, raises it once as an ALERT naming
    what the admin does (writeOffPendingWithdrawals), and the accounting is right once the admin has."""
    usdc = TokenClient(market.w3, market.deployment.base)

    async def scenario() -> None:
        async with seat_with_child(market, exchange) as run:
            keeper, seat, connector, venue = run.keeper, run.seat, run.connector, run.venue
            adapter = keeper.seat_adapter(venue)
            await until(lambda: run.child_filled(D("0.8")))
            await seat.post_account()
            exchange.devnet.set_withdrawal_block_seconds(60.0)  # pending for 10 minutes: cancelled before it is due
            vault_before = usdc.balance_of(market.deployment.vault)
            policy = MarginPolicy(floor=3, target=5, ceiling=8, minimum=10_000 * 10**6)
            out = -await seat.manage_margin(policy)
            assert out > 0 and adapter.pending_withdrawals() == out
            [pending] = await connector.withdrawals()
            assert pending.pending
            equity = (await connector.balance()).equity

            canceled = await connector.cancel_withdrawal(pending.withdrawal_id)
            assert canceled.canceled
            assert (await connector.balance()).equity == equity + D(out).scaleb(-6), "back in the exchange's balance"

            with caplog.at_level("INFO", logger="primevault.keeper"):
                await seat.collect_withdrawals()
                await seat.collect_withdrawals()
            alerts = [m for m in caplog.messages if m.startswith("ALERT") and pending.withdrawal_id in m]
            assert len(alerts) == 1, "raised once"
            assert (
                f"writeOffPendingWithdrawals({out}, reason)" in alerts[0] and "cancelled at the exchange" in alerts[0]
            )
            assert [w.withdrawal_id for w in seat.rabbitx.canceled_withdrawals] == [pending.withdrawal_id]
            assert adapter.pending_withdrawals() == out, "the seat cannot write it off: the admin does"
            assert usdc.balance_of(market.deployment.vault) == vault_before, "never paid"

            admin = market.account(0).address
            reason = b"rabbitx cancelled " + pending.withdrawal_id.encode()
            tx = adapter.contract.functions.writeOffPendingWithdrawals(out, reason).transact({"from": admin})
            assert market.w3.eth.wait_for_transaction_receipt(tx)["status"] == 1
            assert adapter.pending_withdrawals() == 0
            await seat.post_account()
            assert adapter.margin().net_collateral == int((await connector.balance()).equity.scaleb(6)), (
                "the cancelled amount counts once: in the posted equity"
            )

    asyncio.run(scenario())


def test_the_seat_closes_the_backstop_book_at_the_exchange(market: Chain, exchange: RabbitXService) -> None:
    me = market.account(1).address

    async def scenario() -> None:
        async with seat_with_child(market, exchange, forward_fills=False) as run:
            keeper, seat, connector, venue = run.keeper, run.seat, run.connector, run.venue
            maker = RabbitXClient(run.session, exchange.url, await exchange.trader(run.session, 3, deposit=D(100_000)))
            await until(lambda: _has_fills(connector, 2))
            # The child closed on chain before its fills were reported: they are the protocol's.
            keeper.reject_child(run.child_id, b"keeper restarted")
            reporting = asyncio.create_task(seat.forward_fills())

            async def in_backstop() -> bool:
                return [b.size for b in keeper.backstop() if b.venue_id == venue] == [D("0.8")]

            await until(in_backstop)
            assert trader(market, 1).positions(me) == [], "never the account's"

            await maker.create_order("ETH-USD", "long", D(1), D(2990), "limit", None, "bid-1")
            await asyncio.sleep(0.3)
            later = int(market.w3.eth.get_block("latest")["timestamp"])
            [unwind] = await seat.unwind_backstop(later)
            assert await seat.unwind_backstop(later) == [], "one unwind in flight per market"

            async def closed() -> bool:
                return not [b for b in keeper.backstop() if b.venue_id == venue]

            await until(closed)
            assert keeper.child_order(unwind).filled == D("0.8")
            assert keeper.net_position(1, venue) == 0
            assert await seat.reconcile() == [], "the exchange holds nothing either"
            reporting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporting

    asyncio.run(scenario())


async def _has_fills(connector: RabbitXConnector, count: int) -> bool:
    return len(await connector.fills_since(0)) >= count


def test_the_exchange_liquidating_the_seat_is_posted_and_raised(market: Chain, exchange: RabbitXService) -> None:
    async def scenario() -> None:
        async with seat_with_child(market, exchange) as run:
            adapter = run.keeper.seat_adapter(run.venue)
            await until(lambda: run.child_filled(D("0.8")))
            # The seat's margin leaves the exchange but for a sliver, and ETH falls: below maintenance there.
            balance = await run.connector.balance()
            await run.connector.request_withdrawal(balance.withdrawable - D(40))

            async def crash() -> list[int]:
                exchange.devnet.set_index_price("ETH-USD", D(2780))
                return exchange.devnet.run_liquidations()

            assert run.account.profile_id in await exchange.on_service(crash)
            await until(lambda: _flat(run.connector))
            await run.seat.post_account()
            assert adapter.position(1) == 0, "the exchange's view, posted on chain"
            assert await run.seat.reconcile() == ["ETH-USD: books 0.8, exchange 0"]

    asyncio.run(scenario())


async def _flat(connector: RabbitXConnector) -> bool:
    return not [p for p in await connector.positions() if p.size]


def test_an_operator_onboards_the_seat_from_the_cli(market: Chain, exchange: RabbitXService, tmp_path: Path) -> None:
    base = ["--deployment", str(market.deployment_file)]
    refused = CliRunner().invoke(
        cli, [*base, "--dev-account", "3", "keeper", "onboard-seat", "--base-url", exchange.url]
    )
    assert refused.exit_code == 2
    assert "cannot sign for the seat: give a key that holds EXECUTOR_ROLE" in refused.output

    result = CliRunner().invoke(
        cli, [*base, "--dev-account", "0", "keeper", "onboard-seat", "--base-url", exchange.url]
    )
    assert result.exit_code == 0, result.output
    table = tomllib.loads(result.stdout)["rabbitx"]
    settings = RabbitXSettings.from_mapping({**table, "data_dir": str(tmp_path)})
    adapter = executor(market).seat_adapter(executor(market).venue_id(SEAT_VENUE))

    async def read_back() -> None:
        async with RabbitXConnector(settings) as connector:
            assert (await connector.balance()).balance == 0, "the seat's own account, not yet funded"
            assert settings.credentials.profile_id > 0

    asyncio.run(read_back())
    assert adapter.address.lower() in result.stdout.lower()


async def backstop_unwind_sold_unreported(run: SeatRun, exchange: RabbitXService, chain: Chain) -> tuple[int, int]:
    """The child's 0.8 ETH fills become the protocol's backstop book (the child closed before they were reported); a
    maker bids, and the seat's unwind of the book sells it at the exchange, its fills not reported yet. Returns (the
    unwind's child id, the chain time it was placed at)."""
    keeper, seat, connector = run.keeper, run.seat, run.connector
    maker = RabbitXClient(run.session, exchange.url, await exchange.trader(run.session, 3, deposit=D(100_000)))
    await until(lambda: _has_fills(connector, 2))
    keeper.reject_child(run.child_id, b"keeper restarted")  # its fills are the protocol's
    async with forwarding(seat):
        await until(lambda: asyncio.to_thread(lambda: keeper.backstop() != []))
    await maker.create_order("ETH-USD", "long", D(2), D(2990), "limit", None, "bid-1")
    await asyncio.sleep(0.3)
    now = int(chain.w3.eth.get_block("latest")["timestamp"])
    [unwind] = await seat.unwind_backstop(now)
    await until(lambda: _has_fills(connector, 3))  # sold at the exchange, not reported yet
    return unwind, now


async def book_closed_by_its_one_unwind(seat: RabbitXSeat, keeper: TradingClient, unwind: int, now: int) -> None:
    """Once `seat` forwards the unwind's fills, the backstop book closes with no second unwind: the unwind filled its
    0.8 ETH, and the exchange holds nothing either."""
    async with forwarding(seat):
        await until(lambda: asyncio.to_thread(lambda: keeper.backstop() == []))
    assert await seat.unwind_backstop(now) == []
    assert keeper.child_order(unwind).filled == D("0.8")
    assert await seat.reconcile() == [], "the exchange holds nothing either"


def test_a_backstop_unwind_whose_fills_arrive_after_its_deadline_is_not_sent_again(
    market: Chain, exchange: RabbitXService
) -> None:
    """The exchange fills the unwind of the 0.8 ETH backstop book at once, but its fills reach the keeper only after
    the unwind's deadline (the feed dropped, the exchange stopped answering). The book on chain still reads 0.8 then:
    an unwind committed for it again would sell 0.8 more at the exchange and turn the book around. The seat waits
    for the first unwind's fills."""

    async def scenario() -> None:
        async with seat_with_child(market, exchange, forward_fills=False) as run:
            seat = run.seat
            unwind, _ = await backstop_unwind_sold_unreported(run, exchange, market)
            market.advance(seat.unwind_ttl + 10)
            later = int(market.w3.eth.get_block("latest")["timestamp"])
            assert await seat.unwind_backstop(later) == [], "its fills are on their way: no second unwind"
            await book_closed_by_its_one_unwind(seat, run.keeper, unwind, later)

    asyncio.run(scenario())


def test_a_restarted_seat_does_not_unwind_again_a_book_whose_unwind_fills_are_unreported(
    market: Chain, exchange: RabbitXService
) -> None:
    """The keeper stops after the exchange filled its unwind of the 0.8 ETH backstop book and before it reported the
    fills. The book on chain still reads 0.8, and the new seat's memory of its unwinds is empty: it finds the unwind
    on chain and at the exchange and waits for its fills, instead of selling the book a second time."""

    async def scenario() -> None:
        async with seat_with_child(market, exchange, forward_fills=False) as run:
            keeper = run.keeper
            unwind, now = await backstop_unwind_sold_unreported(run, exchange, market)
            async with RabbitXConnector(exchange.settings(run.account)) as again:
                restarted = RabbitXSeat(keeper, again, run.venue)
                assert await restarted.unwind_backstop(now) == [], "its first unwind's fills are on their way"
                await book_closed_by_its_one_unwind(restarted, keeper, unwind, now)

    asyncio.run(scenario())

"""Funding and the exchange's own liquidation on the running devnet RabbitX."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from keeper.connectors.rabbitx.client import RabbitXClient
from keeper.devnet.rabbitx import risk

from .helpers import Harness, harness, run, wait_for, wait_order

D = Decimal


async def _open_long(h: Harness, long: RabbitXClient, short: RabbitXClient, size: Decimal, price: Decimal) -> None:
    resting = await short.create_order("BTC-USD", "short", size, price)
    await wait_order(short, resting["id"], "open")
    taking = await long.create_order("BTC-USD", "long", size, price)
    await wait_order(long, taking["id"], "closed")


def test_funding_accrues_every_period_from_the_premium() -> None:
    async def scenario() -> None:
        async with harness(funding_interval=0.2) as h:
            long, short, quoter = await h.trader(30), await h.trader(31), await h.trader(32, deposit=D(100_000))
            await _open_long(h, long, short, D("0.1"), D(60000))
            # A two-sided book whose mid (60200) sits above the index (60000): longs pay shorts.
            for side, price in (("long", D(60100)), ("short", D(60300))):
                quote = await quoter.create_order("BTC-USD", side, D("0.01"), price)
                await wait_order(quoter, quote["id"], "open")
            expected_rate = risk.funding_rate(D(60200), D(60000))
            assert D("0.000429") < expected_rate < D("0.00043")

            async def premium_periods() -> list[dict[str, str]] | None:
                rates = await long.public("/markets/fundingrate", {"market_id": "BTC-USD", "p_order": "ASC"})
                paid = [r for r in rates if D(r["funding_rate"]) == expected_rate]
                return paid if len(paid) >= 2 else None

            periods = await wait_for(premium_periods, what="two funding periods at the premium rate")

            async def balance_and_payments() -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
                """The balance with the payments it includes: a period paid between the reads is read again."""
                before = await long.account()
                ops = await long.private("GET", "/balanceops", params={"ops_type": "funding", "p_order": "ASC"})
                after = await long.account()
                return (after, ops) if before["balance"] == after["balance"] else None

            account, ops = await wait_for(balance_and_payments, what="a balance read within one funding period")
            short_ops = await short.private("GET", "/balanceops", params={"ops_type": "funding", "p_order": "ASC"})
            by_time = {op["timestamp"]: D(op["amount"]) for op in ops}
            short_by_time = {op["timestamp"]: D(op["amount"]) for op in short_ops}
            for period in periods:
                payment = by_time[period["timestamp"]]
                assert payment == -D("0.1") * D(60000) * expected_rate
                assert short_by_time[period["timestamp"]] == -payment
            assert all(op["market_id"] == "BTC-USD" for op in ops)
            fee = D("0.1") * 60000 * D("0.0005")
            assert D(account["balance"]) == D(10_000) - fee + sum(by_time.values())
            assert sum(by_time.values()) < 0

            market = (await long.public("/markets", {"market_id": "BTC-USD"}))[0]
            assert D(market["instant_funding_rate"]) == expected_rate
            assert market["last_funding_update_time"] > 0

    run(scenario())


def test_exchange_liquidates_an_under_margined_account_against_the_book() -> None:
    async def scenario() -> None:
        async with harness(liquidation_interval=0.05) as h:
            victim, short, bidder = await h.trader(33, deposit=D(1000)), await h.trader(34), await h.trader(35)
            await _open_long(h, victim, short, D("0.3"), D(60000))
            working = await victim.create_order("ETH-USD", "long", D("0.01"), D(2000))
            await wait_order(victim, working["id"], "open")
            bid = await bidder.create_order("BTC-USD", "long", D("0.3"), D(57050))
            await wait_order(bidder, bid["id"], "open")
            assert (await victim.account())["status"] == "active"

            h.devnet.set_index_price("BTC-USD", D(57100))  # below maintenance (~57270), above auto-close (~56982)

            async def flat() -> bool:
                return await victim.positions() == []

            await wait_for(flat, what="the victim's position to be liquidated")
            fills = await victim.fills(p_order="ASC")
            liquidation = [f for f in fills if f["liquidation"]]
            assert [(f["side"], f["price"], f["size"]) for f in liquidation] == [("short", "57050", "0.3")]
            assert (await bidder.order(bid["id"]))["status"] == "closed"
            canceled = await victim.order(working["id"])
            assert (canceled["status"], canceled["reason"]) == ("canceled", "account liquidation")
            trades = await victim.public("/markets/trades", {"market_id": "BTC-USD", "p_limit": "1"})
            assert trades[0]["liquidation"] is True
            balance = D((await victim.account())["balance"])
            entry_fee = D("0.3") * 60000 * D("0.0005")
            exit_fee = D("0.3") * 57050 * D("0.0005")
            assert balance == D(1000) - entry_fee + D("0.3") * (57050 - 60000) - exit_fee
            assert balance > 0, "closed in time: the trader keeps what is left"

    run(scenario())


def test_insurance_takes_over_below_auto_close_margin() -> None:
    async def scenario() -> None:
        async with harness(liquidation_interval=0.05) as h:
            victim, short = await h.trader(36, deposit=D(1000)), await h.trader(37)
            await _open_long(h, victim, short, D("0.3"), D(60000))
            insurance = h.devnet.exchange.profiles[h.devnet.exchange.insurance_id]
            before = insurance.margin.balance

            h.devnet.set_index_price("BTC-USD", D(56000))  # below auto-close with no bids at all

            async def flat() -> bool:
                return await victim.positions() == []

            await wait_for(flat, what="the insurance to take the position")
            position = insurance.margin.positions["BTC-USD"]
            assert (position.size, position.entry_price) == (D("0.3"), D(56000))
            account = await victim.account()
            assert D(account["balance"]) == 0
            deficit = D(1000) - D("0.3") * 60000 * D("0.0005") + D("0.3") * (56000 - 60000)
            assert deficit < 0
            assert insurance.margin.balance == before + deficit
            ops = await victim.private("GET", "/balanceops", params={"ops_type": "liquidation"})
            assert [D(op["amount"]) for op in ops] == [-deficit]
            fills = await victim.fills()
            assert fills[0]["liquidation"] is True and fills[0]["price"] == "56000"

    run(scenario())

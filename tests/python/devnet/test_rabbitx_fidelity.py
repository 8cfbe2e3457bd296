"""The devnet RabbitX refuses what the real exchange refuses, as it documents it: a client_order_id used twice
(CLIENT_ORDER_ID_DUPLICATE), a look-up by client_order_id without its market, a page past 1,000 rows, errors with
their documented codes, fills without a client_order_id, and requests past the IP's token bucket (HTTP 429)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from keeper.connectors.rabbitx.errors import RabbitXRateLimitError, RabbitXRequestError

from .helpers import harness, run, wait_order

D = Decimal


def test_a_client_order_id_is_refused_the_second_time_with_its_code() -> None:
    async def scenario() -> None:
        async with harness() as h:
            trader = await h.trader(1)
            first = await trader.create_order("BTC-USD", "long", D("0.1"), D(50000), client_order_id="c-1")
            await wait_order(trader, first["id"], "open")
            for market in ("BTC-USD", "ETH-USD"):  # the id is the account's, on every market
                with pytest.raises(RabbitXRequestError) as twice:
                    await trader.create_order(market, "long", D("0.1"), D(2000), client_order_id="c-1")
                assert (twice.value.status, twice.value.code) == (400, "CLIENT_ORDER_ID_DUPLICATE")
            assert [o["id"] for o in await trader.orders(market_id="BTC-USD", client_order_id="c-1")] == [first["id"]]
            assert len(await trader.orders()) == 1, "nothing placed the second time"

    run(scenario())


def test_a_look_up_by_client_order_id_needs_its_market_and_pages_stop_at_1000() -> None:
    async def scenario() -> None:
        async with harness() as h:
            trader = await h.trader(1)
            await trader.create_order("BTC-USD", "long", D("0.1"), D(50000), client_order_id="c-1")
            with pytest.raises(RabbitXRequestError, match="market_id is required with client_order_id"):
                await trader.orders(client_order_id="c-1")
            with pytest.raises(RabbitXRequestError, match="p_limit must be at most 1000, got 1001"):
                await trader.orders(p_limit="1001")
            assert len(await trader.orders(p_limit="1000")) == 1

    run(scenario())


def test_errors_carry_the_documented_codes() -> None:
    async def scenario() -> None:
        async with harness() as h:
            trader = await h.trader(1)
            with pytest.raises(RabbitXRequestError) as missing:
                await trader.cancel_order("BTC-USD", "BTC-USD@999")
            assert missing.value.code == "ORDER_NOT_FOUND"
            assert missing.value.error == "ORDER_NOT_FOUND: order BTC-USD@999 not found"
            with pytest.raises(RabbitXRequestError) as market:
                await trader.create_order("DOGE-USD", "long", D(1), D(1))
            assert market.value.code == "WRONG_MARKET_ID"
            placed = await trader.create_order("BTC-USD", "long", D("0.1"), D(50000))
            await wait_order(trader, placed["id"], "open")
            await trader.cancel_order("BTC-USD", placed["id"])
            await wait_order(trader, placed["id"], "canceled")
            with pytest.raises(RabbitXRequestError) as status:
                await trader.cancel_order("BTC-USD", placed["id"])
            assert status.value.code == "WRONG_ORDER_STATUS"

    run(scenario())


def test_fills_carry_no_client_order_id_when_configured_as_documented() -> None:
    async def scenario() -> None:
        async with harness(fill_client_order_ids=False) as h:
            maker, taker = await h.trader(1), await h.trader(2)
            resting = await maker.create_order("BTC-USD", "short", D("0.1"), D(60000), client_order_id="mk-1")
            await wait_order(maker, resting["id"], "open")
            taken = await taker.create_order("BTC-USD", "long", D("0.1"), D(60000), client_order_id="tk-1")
            await wait_order(taker, taken["id"], "closed")
            [fill] = await maker.fills()
            assert fill["order_id"] == resting["id"] and "client_order_id" not in fill
            assert (await maker.order(resting["id"]))["client_order_id"] == "mk-1", "the order keeps it"

    run(scenario())


def test_requests_past_the_token_bucket_are_refused_with_429_and_the_wait() -> None:
    async def scenario() -> None:
        async with harness() as h:
            trader = await h.trader(1)
            h.devnet.set_rate_limit(45, window=60)
            await trader.account()  # 20 tokens
            await trader.account()  # 40
            await trader.create_order("BTC-USD", "long", D("0.1"), D(50000))  # 41
            spent = h.devnet.tokens_spent
            with pytest.raises(RabbitXRateLimitError) as limited:
                await trader.positions()  # 10: past 45
            assert limited.value.status == 429 and not limited.value.answer_lost
            assert 58 <= limited.value.retry_after <= 60, "until the first request's tokens leave the window"
            assert h.devnet.tokens_spent == spent + 10 and h.devnet.requests[("GET", "/positions")] == 1
            with pytest.raises(RabbitXRateLimitError, match="not sent"):
                await trader.account()  # the client holds off itself: nothing reaches the exchange
            assert h.devnet.requests[("GET", "/account")] == 2

            h.devnet.set_rate_limit(None)
            other = await h.trader(2)  # another client, with no wait to honour
            assert await other.positions() == []

    run(scenario())

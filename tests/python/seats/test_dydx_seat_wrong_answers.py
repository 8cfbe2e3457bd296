"""The dYdX seat when the indexer answers, but wrongly, end to end: real anvil, the dYdX replica served for real, and a
real proxy in front of its indexer that adds a fill that cannot be right to every /v4/fills answer. It is never
booked on chain, it is one ALERT naming dYdX and what is wrong, and the child's real fills are booked."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from keeper.connectors.dydx.errors import DydxResponseError
from keeper.connectors.dydx.models import BookLevel, OrderBook
from keeper.devnet.deploy import DYDX_SEAT_VENUE
from keeper.devnet.dydx.chain import iso
from tests.python.conftest import Chain as Anvil
from tests.python.seats.conftest import forwarding
from tests.python.seats.dydx_bench import Bench, dydx_bench
from tests.python.seats.rewrite_proxy import rewrite_proxy
from tests.python.seats.test_dydx_seat import D, child_for_one_eth, seat_holding_the_fills, until


@pytest.fixture
def bench(market: Anvil) -> Iterator[Bench]:
    with dydx_bench(market) as bench:
        yield bench


BOGUS_FILLS: dict[str, dict[str, Any] | str] = {
    "negative-size": {"size": "-0.1"},
    "nan-price": {"price": "NaN"},
    "huge-price": {"price": "1e80"},
    "size-past-the-child": {"size": "1.5"},
    "wrong-side": {"side": "SELL"},
    "wrong-market": {"market": "BTC-USD"},
    "not-an-object": "garbage",
}


@pytest.mark.parametrize("change", list(BOGUS_FILLS.values()), ids=list(BOGUS_FILLS))
def test_a_wrong_fill_from_the_indexer_is_one_alert_and_the_fills_beside_it_are_booked(
    bench: Bench, caplog: pytest.LogCaptureFixture, change: dict[str, Any] | str
) -> None:
    """Every /v4/fills answer carries, after the child's real fills, one of the same order that cannot be right: it is
    said once however often it is read again, and neither booked nor allowed to close the child."""
    keeper, chain = bench.keeper, bench.chain
    _, child_id = child_for_one_eth(bench)

    def rewrite(answer: Any) -> Any:
        fills = answer["fills"]
        if fills:
            bogus = change if isinstance(change, str) else {**copy.deepcopy(fills[-1]), "id": "bogus-1", **change}
            answer["fills"] = [*fills, bogus]
        return answer

    async def scenario() -> None:
        now = int(chain.w3.eth.get_block("latest")["timestamp"])
        with rewrite_proxy(bench.replica.indexer_url) as proxy:
            proxy.rewrite("GET", "/v4/fills", rewrite)
            settings = dataclasses.replace(bench.settings(), indexer_url=proxy.url)
            async with bench.seat(settings) as seat, forwarding(seat):
                assert (await seat.cycle(now)).placed == (child_id,)
                await until(lambda: asyncio.to_thread(lambda: keeper.child_order(child_id).filled == D("0.8")))
                await asyncio.sleep(0.5)  # the indexer is polled again, the wrong fill with it

    asyncio.run(scenario())
    child = keeper.child_order(child_id)
    assert (child.status, child.filled) == ("open", D("0.8")), "the child is not closed by a fill it never made"
    [position] = keeper.positions(chain.account(1).address)
    assert (position.venue, position.size) == (DYDX_SEAT_VENUE, D("0.8"))
    assert keeper.backstop() == [], "nothing went to the backstop book"
    alerts = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(alerts) == 1 and alerts[0].startswith("ALERT") and "dydx" in alerts[0].lower(), alerts
    assert all(r.exc_info is None for r in caplog.records), "no traceback"


def test_a_crossed_dydx_book_is_uncrossed_not_refused() -> None:
    """The indexer serves a crossed book at times (a match applied to one side first); dYdX's clients uncross it.
    The levels beyond the other side's best go from both sides; a book out of order is still refused."""

    def levels(*pairs: tuple[str, str]) -> list[dict[str, str]]:
        return [{"price": price, "size": size} for price, size in pairs]

    crossed = {"bids": levels(("101", "1"), ("100", "2"), ("99", "3")), "asks": levels(("100.5", "1"), ("102", "4"))}
    book = OrderBook.from_json("ETH-USD", crossed)
    assert book.bids == (BookLevel(D(100), D(2)), BookLevel(D(99), D(3)))
    assert book.asks == (BookLevel(D(102), D(4)),)
    with pytest.raises(DydxResponseError, match="not strictly best first"):
        OrderBook.from_json("ETH-USD", {"bids": levels(("99", "1"), ("100", "1")), "asks": []})


def test_a_funding_period_dated_in_the_future_is_left_out_and_hides_nothing(
    bench: Bench, caplog: pytest.LogCaptureFixture
) -> None:
    """A funding payment the indexer dates a year ahead: taken, its time became the newest period seen, and every
    real period before it was never folded into the posted index. It is one ALERT and left out."""
    _, child_id = child_for_one_eth(bench)
    adapter = bench.keeper.seat_adapter(bench.venue)

    async def scenario() -> None:
        async with seat_holding_the_fills(bench, child_id) as seat:
            bench.dydx.settle_funding("ETH-USD", D("0.001"))
            with bench.dydx.lock:
                bench.dydx.funding["ETH-USD"][0]["effectiveAt"] = iso(datetime.now(UTC) + timedelta(days=365))
            bench.chain.advance(3600)
            await seat.post_account()
            assert adapter.funding_index(1) == 0, "the period from the future is not in the index"
            bench.dydx.settle_funding("ETH-USD", D("0.001"))
            bench.chain.advance(3600)
            await seat.post_account()
            assert adapter.funding_index(1) == 3 * 10**18, "the real period is: 0.1% of 3,000 a unit"

    asyncio.run(scenario())
    alerts = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ALERT")]
    assert len(alerts) == 1 and "dated in the future" in alerts[0], alerts

"""The RabbitX fill feed when its exchange cannot be reached or refuses the account, against the running devnet behind
a TCP relay that can be switched off: tried again less and less often, each failure said once (then reminded rarely),
its end said once, and a refused account said as the operator's to fix."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import aiohttp
import pytest

from keeper.connectors.rabbitx import fills
from keeper.connectors.rabbitx.connector import RabbitXConnector
from tests.python.fault_proxy import node_switch

from .rabbitx_service import RabbitXService

RECONNECT_DELAY = 0.05
CAP = 0.4  # RETRY_DELAY_CAP for these tests: reached within a second, not a minute


def said(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == fills.__name__]


def test_an_unreachable_exchange_is_tried_less_often_and_said_once_each_way(
    rabbitx: RabbitXService, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the exchange gone, the feed tried the WebSocket and REST every `reconnect_delay` and said both failures
    each time, forever. Now the delay doubles up to its cap, each failure is said once and the recovery once."""
    monkeypatch.setattr(fills, "RETRY_DELAY_CAP", CAP)
    caplog.set_level(logging.INFO, logger=fills.__name__)

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            vault = await rabbitx.trader(session, 41)
        with node_switch(rabbitx.url) as relay:
            relay.switch(up=False)  # every connection cut, as when the exchange's host is gone
            settings = dataclasses.replace(rabbitx.settings(vault, reconnect_delay=RECONNECT_DELAY), base_url=relay.url)
            async with RabbitXConnector(settings) as connector, connector.fill_feed() as feed:
                await asyncio.sleep(2.5)  # some 20 tries at the old pace, 7 or 8 now
                assert feed.retry_delay == CAP
                assert not feed.connected.is_set()
                failures = said(caplog)
                assert [level for level, _ in failures] == ["WARNING", "WARNING"], failures
                assert failures[0][1].startswith("RabbitX fills: the WebSocket failed (")
                assert failures[0][1].endswith("; following over REST")
                assert failures[1][1].startswith("RabbitX fills: REST recovery failed (")

                caplog.clear()
                relay.switch(up=True)
                await asyncio.wait_for(feed.connected.wait(), 5)
                await asyncio.sleep(0.5)
                assert feed.retry_delay == RECONNECT_DELAY
                recovered = said(caplog)
                assert [level for level, _ in recovered] == ["INFO", "INFO"], recovered
                assert {message.split(" works again")[0] for _, message in recovered} == {
                    "RabbitX fills: the WebSocket",
                    "RabbitX fills: REST recovery",
                }

    asyncio.run(scenario())
    assert all(r.exc_info is None for r in caplog.records), "no traceback"


def test_a_refused_account_is_said_once_as_the_operators_to_fix_and_reminded_rarely(
    rabbitx: RabbitXService, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An API key the exchange does not know (HTTP 401, and its JWT refused on the WebSocket) does not go away by
    trying again: it is said once, for both, as the operator's to fix, reminded now and then, and tried less often."""
    monkeypatch.setattr(fills, "RETRY_DELAY_CAP", CAP)
    monkeypatch.setattr(fills, "REMIND_EVERY", 1.0)

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            vault = await rabbitx.trader(session, 42)
        unknown = dataclasses.replace(vault, api_key="0x" + "ab" * 32, jwt="not-a-jwt", refresh_token="")
        settings = rabbitx.settings(unknown, reconnect_delay=RECONNECT_DELAY)
        async with RabbitXConnector(settings) as connector, connector.fill_feed() as feed:
            # Long enough for a reminder on a loaded machine (the retries wait up to CAP between tries).
            await asyncio.sleep(3.6)
            assert feed.retry_delay == CAP
            assert not feed.connected.is_set()

    asyncio.run(scenario())
    lines = said(caplog)
    refusals = [message for level, message in lines if level == "ERROR"]
    assert len(refusals) == 1, lines
    assert refusals[0].startswith("RabbitX fills: the exchange refuses the account's credentials (RabbitX ")
    assert "HTTP 401" in refusals[0] and "onboards the seat again (`primevault keeper onboard-seat`)" in refusals[0]
    reminders = [message for level, message in lines if level == "WARNING"]
    assert 1 <= len(reminders) <= 8, lines  # one a second at most for each of the two steps
    assert all(" still fails (" in message for message in reminders), lines
    assert all(r.exc_info is None for r in caplog.records), "no traceback"

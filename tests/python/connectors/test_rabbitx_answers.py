"""The RabbitX client on answers that are not the exchange's JSON, served for real by a stand-in behind the base URL
(a gateway's error page, a body cut or garbled on the way): each is one of the connector's errors, never a decoding
exception from under it."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
import pytest
from aiohttp import web

from keeper.connectors.rabbitx.client import MAX_ANSWER_BYTES, RabbitXClient
from keeper.connectors.rabbitx.errors import RabbitXRequestError, RabbitXResponseError
from tests.python.fault_proxy import serving

NOT_UTF8 = b"\xff\xfe<html>502 Bad Gateway</html>"


async def _not_utf8(request: web.Request) -> web.Response:
    return web.Response(status=int(request.query["status"]), body=NOT_UTF8, content_type="text/html")


@pytest.mark.parametrize(("status", "error"), [(502, RabbitXRequestError), (200, RabbitXResponseError)])
def test_an_answer_that_is_not_utf8_is_the_connectors_error(status: int, error: type[Exception]) -> None:
    async def scenario(url: str) -> None:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(error) as raised:
                await RabbitXClient(session, url).public("/markets", {"status": str(status)})
        assert "502 Bad Gateway" in str(raised.value) and "\n" not in str(raised.value)

    with serving(_not_utf8) as url:
        asyncio.run(asyncio.wait_for(scenario(url), 10))


async def _nested(request: web.Request) -> web.Response:
    return web.Response(
        status=int(request.query["status"]), body=b'{"error": ' + b"[" * 100_000, content_type="text/json"
    )


@pytest.mark.parametrize(("status", "error"), [(502, RabbitXRequestError), (200, RabbitXResponseError)])
def test_an_answer_nested_past_the_parser_is_the_connectors_error(status: int, error: type[Exception]) -> None:
    """JSON nested deeper than the parser recurses (RecursionError, which is no ValueError) is an answer that cannot
    be read, as any other: the seat job and the fill feed handle the connector's errors, not that one."""

    async def scenario(url: str) -> None:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(error) as raised:
                await RabbitXClient(session, url).public("/markets", {"status": str(status)})
        assert "\n" not in str(raised.value) and len(str(raised.value)) < 1_000

    with serving(_nested) as url:
        asyncio.run(asyncio.wait_for(scenario(url), 10))


async def _huge_refusal(request: web.Request) -> web.Response:
    return web.json_response({"success": False, "error": "ORDER_NOT_FOUND: " + "x" * 1_000_000}, status=400)


def test_a_huge_refusal_is_cut_short_in_the_error_and_keeps_its_code() -> None:
    """What the exchange says goes into the error's message, and from there into the log and the CLI's line: a
    megabyte of it was a megabyte a log line."""

    async def scenario(url: str) -> None:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(RabbitXRequestError) as raised:
                await RabbitXClient(session, url).public("/markets")
        assert raised.value.code == "ORDER_NOT_FOUND"
        assert len(str(raised.value)) < 1_000 and str(raised.value).endswith("...")

    with serving(_huge_refusal) as url:
        asyncio.run(asyncio.wait_for(scenario(url), 10))


async def _endless(request: web.Request) -> web.StreamResponse:
    """A 200 whose JSON body goes on and on (no Content-Length): 40 MB of one string, if the client reads that far."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    await response.write(b'{"success": true, "result": ["')
    chunk = b"x" * 2**20
    with contextlib.suppress(ConnectionError):
        for _ in range(40):
            await response.write(chunk)
        await response.write(b'"]}')
    return response


def test_an_answer_past_any_the_exchange_sends_is_refused_before_it_is_all_read() -> None:
    """The whole body was read into memory, then parsed: an answer of gigabytes (a hostile or broken endpoint) took
    the keeper's memory, and with it every job's (liquidations included). One past MAX_ANSWER_BYTES is refused as an
    answer that cannot be read, as soon as it passes it."""

    async def scenario(url: str) -> None:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(RabbitXResponseError, match=f"more than {MAX_ANSWER_BYTES:,} bytes"):
                await RabbitXClient(session, url).public("/markets")

    with serving(_endless) as url:
        asyncio.run(asyncio.wait_for(scenario(url), 30))

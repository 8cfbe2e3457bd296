"""The market maker's quotes, and the service started as `python -m keeper.devnet.rabbitx`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp

from keeper.connectors.rabbitx.client import RabbitXClient
from keeper.connectors.rabbitx.vocabulary import Side
from keeper.devnet.rabbitx.market_maker import FixedOracle, QuoteConfig, ScriptedOracle, build_quotes, seat_market_maker

from .helpers import harness, run, wait_for, wait_order, wallet_key

D = Decimal
REPO = Path(__file__).resolve().parents[3]


def test_quotes_sit_on_ticks_and_steps_around_the_price() -> None:
    quotes = build_quotes(D(60000), D(1), D("0.0001"), QuoteConfig(levels=3))
    bids = [(p, s) for side, p, s in quotes if side is Side.LONG]
    asks = [(p, s) for side, p, s in quotes if side is Side.SHORT]
    assert bids == [(D(59970), D("0.3333")), (D(59940), D("0.3333")), (D(59910), D("0.3333"))]
    assert asks == [(D(60030), D("0.3333")), (D(60060), D("0.3333")), (D(60090), D("0.3333"))]
    tight = build_quotes(D("1.5"), D(1), D(1), QuoteConfig(levels=2, spread_bps=D(1), level_spacing_bps=D(0)))
    prices = [(side, p) for side, p, _ in tight]
    assert prices == [(Side.LONG, D(1)), (Side.SHORT, D(2)), (Side.SHORT, D(3))]


def test_scripted_oracle_steps() -> None:
    now = [0.0]
    oracle = ScriptedOracle({"BTC-USD": [(0, D(60000)), (10, D(55000))]}, clock=lambda: now[0])
    assert oracle("BTC-USD") == D(60000)
    now[0] = 10.5
    assert oracle("BTC-USD") == D(55000)
    assert oracle("ETH-USD") is None


def test_market_maker_quotes_both_sides_and_follows_the_oracle() -> None:
    async def scenario() -> None:
        async with harness() as h:
            oracle = FixedOracle({"BTC-USD": D(60000)})
            maker = seat_market_maker(h.devnet, oracle, QuoteConfig(levels=4, refresh_ms=50), markets=["BTC-USD"])
            task = asyncio.create_task(maker.run())
            try:
                trader = await h.trader(50)

                async def book_near(price: Decimal) -> dict[str, Any] | None:
                    book = (await trader.public("/markets/orderbook", {"market_id": "BTC-USD"}))[0]
                    if len(book["bids"]) != 4 or len(book["asks"]) != 4:
                        return None
                    bid, ask = D(book["bids"][0][0]), D(book["asks"][0][0])
                    return book if bid < price < ask and ask - price < price / 1000 else None

                book = await wait_for(lambda: book_near(D(60000)), what="quotes around 60000")
                assert [b[0] for b in book["bids"]] == ["59970", "59940", "59910", "59880"]
                assert [a[0] for a in book["asks"]] == ["60030", "60060", "60090", "60120"]

                oracle.set("BTC-USD", D(50000))
                await wait_for(lambda: book_near(D(50000)), what="quotes around 50000")

                bought = await trader.create_order("BTC-USD", "long", D("0.1"), order_type="market")
                order = await wait_order(trader, bought["id"], "closed")
                assert order["total_filled_size"] == "0.1"
                fill = (await trader.fills())[0]
                assert fill["price"] == "50025" and not fill["is_maker"]
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    run(scenario())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_module_entry_point_serves_and_stops(tmp_path: Path) -> None:
    script = tmp_path / "prices.json"
    script.write_text(json.dumps({"BTC-USD": [[0, "50000"]], "ETH-USD": [[0, "2500"]]}))
    process = subprocess.Popen(
        [sys.executable, "-m", "keeper.devnet.rabbitx", "--port", "0", "--price-script", str(script),
         "--refresh-ms", "50", "--signer-key", "0x" + "5e" * 32],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and int(url.rsplit(":", 1)[1]) > 0

        async def scenario() -> None:
            async with aiohttp.ClientSession() as session:
                client = RabbitXClient(session, url)

                async def quoted() -> list[Any] | None:
                    book = (await client.public("/markets/orderbook", {"market_id": "ETH-USD"}))[0]
                    return book if book["bids"] and book["asks"] else None

                book = await wait_for(quoted, what="the market maker's ETH quotes")
                assert D(book["bids"][0][0]) < D(2500) < D(book["asks"][0][0])
                market = (await client.public("/markets", {"market_id": "BTC-USD"}))[0]
                assert market["index_price"] == "50000"
                key, wallet = wallet_key(51)
                creds = await client.onboard(key, wallet)
                assert (await client.account())["wallet"] == creds.wallet

        run(scenario())
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_module_entry_point_reports_a_port_in_use_in_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "keeper.devnet.rabbitx", "--port", str(port)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"error: cannot listen on 127.0.0.1:{port}: address already in use\n"
    assert time.monotonic() - started < 30
    bad = subprocess.run(
        [sys.executable, "-m", "keeper.devnet.rabbitx", "--port", str(_free_port()), "--price", "BTC-USD=abc"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == ["error: --price BTC-USD must be a decimal number, got 'abc'"]

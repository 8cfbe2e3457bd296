"""The RabbitX seat's fill reports end to end: bursts of depositor orders committed to the seat, placed at the devnet
RabbitX exchange by `primevault keeper run` (its seat job alone, as an operator runs it: its own process and key,
the real cycle and WebSocket fill feed) and booked on chain by the keeper's `reportFills`. Measures what the
keeper's batching gives: report transactions, gas a fill as sent, blocks, and how long a depositor waits. Prints
Markdown.

Usage: .venv/bin/python bench/seat_fills.py [--bursts 1 5 20 50] [--block-time 1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import aiohttp
from eth_account import Account
from hexbytes import HexBytes
from web3 import Web3
from web3.logs import DISCARD

from keeper.chain.anvil import Anvil, free_port
from keeper.chain.keys import dev_account
from keeper.chain.revert import error_decoder
from keeper.chain.transactions import Sender
from keeper.client.clients import Clients
from keeper.client.feeds import FeedClient
from keeper.client.trading import TradingClient
from keeper.connectors.rabbitx.client import Credentials, RabbitXClient
from keeper.daemon.config import KeeperConfig
from keeper.devnet.deploy import (
    SEAT_VENUE,
    add_rabbitx_seat,
    deploy_local_system,
    deploy_rabbitx_custody,
    grant_keeper_roles,
    seed_local_liquidity,
)
from keeper.devnet.rabbitx.exchange import ExchangeConfig
from keeper.devnet.rabbitx_seat import exchange_process, open_rabbitx_seat, stop_process
from keeper.seats.seat import PLACE_CONCURRENCY

KEEPER = 9  # the keeper's dev account: its own key, as in the crash run
DEPOSITORS = range(1, 9)  # dev accounts placing orders, round robin
EXCHANGE_KEY = "0x" + "ab" * 32  # the devnet exchange's signer (a devnet key, never for real funds)
SEAT_MARGIN = 100_000  # USDC the seat's account at the exchange starts with
ORDER_SIZE = Decimal("0.1")  # ETH an order: well within one level of the market maker's book, so one fill each
SLIPPAGE = Decimal("0.02")  # the orders' limit away from the feed: every IOC child fills whole
TIMEOUT = 60.0  # seconds a burst may take to be booked before the benchmark gives up
LOGS = Path(".primevault") / "seat-fills"  # the exchange's and the keeper's logs of the last run


@dataclass
class Burst:
    mode: str
    orders: int
    venue_fills: int = 0
    booked: int = 0  # fills booked by the keeper's reports
    reports: int = 0  # reportFills / reportFill transactions the keeper sent
    report_gas: int = 0
    fills_per_report: list[int] = field(default_factory=list)
    blocks: int = 0  # from the block of the last order's submission to the block of the last fill booked
    waits: list[float] = field(default_factory=list)  # seconds, each order: its transaction sent -> its fill booked


class Watcher:
    """Follows the trading module's logs on its own thread and notes the block of each order submitted and when each
    child was first seen wholly filled: what a depositor watching the chain sees."""

    def __init__(self, url: str, trading: TradingClient, from_block: int) -> None:
        self.w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30}))
        self.address = trading.address
        events = trading.contract.events
        self.submitted_event, self.filled_event = events.OrderSubmitted(), events.ChildFilled()
        self.topics = [HexBytes(self.submitted_event.topic), HexBytes(self.filled_event.topic)]
        self.next_block = from_block
        self.submitted: dict[int, int] = {}  # order id -> its block
        self.filled: dict[int, Decimal] = {}  # child id -> size booked so far
        self.filled_at: dict[int, tuple[float, int]] = {}  # child id -> (seen at, block) of its last fill booked
        self.fill_txs: dict[HexBytes, int] = {}  # report transaction -> fills it booked
        self.error: Exception | None = None  # what stopped the thread, raised again by `check`
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="seat-fills-watcher", daemon=True)

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        try:
            self._follow()
        except Exception as exc:
            self.error = exc

    def _follow(self) -> None:
        while not self._stop.is_set():
            head = self.w3.eth.block_number
            if head >= self.next_block:
                logs = self.w3.eth.get_logs(
                    {"address": self.address, "fromBlock": self.next_block, "toBlock": head, "topics": [self.topics]}
                )
                seen = time.monotonic()
                for log in logs:
                    block = int(log["blockNumber"])
                    if HexBytes(log["topics"][0]) == self.topics[0]:
                        order_id = int(self.submitted_event.process_log(log)["args"]["orderId"])
                        self.submitted.setdefault(order_id, block)
                    else:
                        args = self.filled_event.process_log(log)["args"]
                        child_id = int(args["childId"])
                        size = abs(Decimal(args["size"])) / 10**18
                        self.filled[child_id] = self.filled.get(child_id, Decimal(0)) + size
                        self.filled_at[child_id] = (seen, block)
                        tx = HexBytes(log["transactionHash"])
                        self.fill_txs[tx] = self.fill_txs.get(tx, 0) + 1
                self.next_block = head + 1
            self._stop.wait(0.02)


@contextlib.contextmanager
def keeper_daemon(
    deployment: Path, rpc_url: str, data_dir: Path, log_path: Path, seat: dict[str, str]
) -> Iterator[None]:
    """`primevault keeper run` in its own process with its own key, running the seat job alone at its default
    intervals (the children are committed here, as the orders job would), its seat's settings as environment
    variables."""
    env = dict(os.environ, PRIMEVAULT_JOBS="seat", PRIMEVAULT_SEAT_VENUES=SEAT_VENUE)
    env.update({f"PRIMEVAULT_RABBITX_{name.upper()}": value for name, value in seat.items()})
    command = [
        sys.executable, "-c", "from keeper.cli.main import main; main()",
        "--deployment", str(deployment), "--rpc-url", rpc_url, "--dev-account", str(KEEPER),
        "keeper", "run", "--metrics-port", str(free_port()), "--data-dir", str(data_dir), "--log-level", "info",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=log, env=env)
        try:
            yield
        finally:
            stop_process(process)


def venue_fill_count(url: str, seat: dict[str, str], since: float) -> int:
    """The seat account's fills at the exchange since `since` (epoch seconds), read over its REST API."""
    credentials = Credentials(seat["api_key"], seat["api_secret"], seat["jwt"], int(seat["profile_id"]))

    async def count() -> int:
        async with aiohttp.ClientSession() as session:
            client = RabbitXClient(session, url, credentials)
            return len(await client.fills(start_time=str(int(since * 1_000_000)), p_limit="1000"))

    return asyncio.run(count())


def run_burst(
    mode: str,
    n: int,
    w3: Web3,
    trading: TradingClient,
    depositors: Sequence[TradingClient],
    watcher: Watcher,
    exchange: tuple[str, dict[str, str]],
) -> Burst:
    """Submits `n` orders across the depositors at once, commits each whole to the seat as one IOC child as soon as
    they are on chain, and waits until the keeper has booked every fill."""
    eth = next(m for m in trading.deployment.markets if m.ticker == "ETH-USD")
    price = FeedClient(w3, eth.feed).price()
    venue = trading.venue_id(SEAT_VENUE)
    started_wall, first_block = time.time(), w3.eth.block_number + 1
    deadline = int(w3.eth.get_block("latest")["timestamp"]) + 600
    per: dict[int, list[tuple[Decimal, Decimal]]] = {i: [] for i in range(len(depositors))}
    for k in range(n):  # even accounts buy, odd ones sell: after its first, a fill adds to a position held
        buy = k % len(depositors) % 2 == 0
        limit = price * (1 + SLIPPAGE) if buy else price * (1 - SLIPPAGE)
        per[k % len(depositors)].append((ORDER_SIZE if buy else -ORDER_SIZE, limit.quantize(Decimal("0.01"))))
    orders: dict[int, tuple[Decimal, float]] = {}  # order id -> (its limit, when its transaction was sent)

    def submit(i: int) -> None:
        client = depositors[i]
        assert client.sender is not None
        me = client.sender.address
        fns = [
            client.contract.functions.submitOrder(
                me, client.market_id("ETH-USD"), int(size * 10**18), int(limit * 10**18), deadline, False
            )
            for size, limit in per[i]
        ]
        sent = time.monotonic()  # each is sent as soon as it is simulated, all before the first is awaited
        for (_, limit), receipt in zip(per[i], client.sender.transact_all("submit order", fns), strict=True):
            assert not isinstance(receipt, Exception), receipt
            [submitted] = client.contract.events.OrderSubmitted().process_receipt(receipt, errors=DISCARD)
            orders[int(submitted["args"]["orderId"])] = (limit, sent)

    threads = [threading.Thread(target=submit, args=(i,)) for i in per if per[i]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(orders) == n
    order_ids = sorted(orders)
    children = [
        trading.contract.functions.commitSplit(
            oid, [(venue, int(ORDER_SIZE * 10**18), int(orders[oid][0] * 10**18), deadline - 300)]
        )
        for oid in order_ids
    ]
    assert trading.sender is not None
    child_ids: dict[int, int] = {}  # child id -> order id
    for oid, receipt in zip(order_ids, trading.sender.transact_all("commit split", children), strict=True):
        assert not isinstance(receipt, Exception), receipt
        [committed] = trading.contract.events.ChildCommitted().process_receipt(receipt, errors=DISCARD)
        child_ids[int(committed["args"]["childId"])] = oid

    give_up = time.monotonic() + TIMEOUT
    while not all(watcher.filled.get(c, Decimal(0)) >= ORDER_SIZE for c in child_ids):
        if time.monotonic() > give_up:
            sys.exit(f"{mode}, burst of {n}: not every fill was booked within {TIMEOUT:.0f} s: see {LOGS}")
        watcher.check()
        time.sleep(0.05)
    burst = Burst(mode, n)
    last_submitted = max(watcher.submitted[oid] for oid in order_ids)
    last_booked = max(watcher.filled_at[c][1] for c in child_ids)
    burst.blocks = last_booked - last_submitted
    burst.waits = [watcher.filled_at[c][0] - orders[oid][1] for c, oid in child_ids.items()]
    burst.venue_fills = venue_fill_count(*exchange, since=started_wall)
    keeper = dev_account(KEEPER).address
    functions = (trading.contract.get_function_by_name(name) for name in ("reportFills", "reportFill"))
    selectors = {Web3.keccak(text=fn.signature)[:4] for fn in functions}
    for number in range(first_block, last_booked + 1):
        for tx in w3.eth.get_block(number, full_transactions=True)["transactions"]:
            assert not isinstance(tx, bytes)
            if tx["from"] != keeper or tx["to"] != trading.address:
                continue
            if HexBytes(tx["input"])[:4] not in selectors:
                continue
            booked = watcher.fill_txs.get(HexBytes(tx["hash"]), 0)
            burst.reports += 1
            burst.booked += booked
            burst.fills_per_report.append(booked)
            burst.report_gas += int(w3.eth.get_transaction_receipt(tx["hash"])["gasUsed"])
    return burst


def table(bursts: Sequence[Burst]) -> str:
    rows = [
        "| mining | orders | venue fills | fills booked | report transactions | fills a report | gas a fill (as sent) "
        "| blocks, last order to last fill booked | wait: median | wait: max |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for b in bursts:
        split = " + ".join(str(f) for f in b.fills_per_report)
        rows.append(
            f"| {b.mode} | {b.orders} | {b.venue_fills} | {b.booked} | {b.reports} | {split} | "
            f"{b.report_gas // max(b.booked, 1):,} | {b.blocks} | {statistics.median(b.waits):.2f} s | "
            f"{max(b.waits):.2f} s |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--bursts", type=int, nargs="+", default=[1, 5, 20, 50])
    parser.add_argument("--block-time", type=int, default=1, help="seconds a block in the interval-mining run")
    args = parser.parse_args()
    bursts: list[Burst] = []
    with Anvil() as node, tempfile.TemporaryDirectory() as tmp:
        w3 = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 60}))
        admin = Sender(w3, dev_account(0), error_decoder())
        deployment = dataclasses.replace(deploy_local_system(admin), rpc_url=node.url)
        seed_local_liquidity(admin, deployment)
        grant_keeper_roles(admin, deployment, dev_account(KEEPER).address)
        custody = deploy_rabbitx_custody(admin, deployment, Account.from_key(EXCHANGE_KEY).address)
        config = ExchangeConfig(signer_key=EXCHANGE_KEY)
        deployment = add_rabbitx_seat(admin, deployment, custody, config.markets, config.default_leverage)
        path = Path(tmp) / "deployment.json"
        deployment.save(path)
        trading = Clients.build(w3, deployment, admin).trading
        assert trading is not None
        depositors = []
        for index in DEPOSITORS:
            clients = Clients.build(w3, deployment, Sender(w3, dev_account(index), error_decoder()))
            me = dev_account(index).address
            clients.vault.token("WETH").mint(me, 20 * 10**18)
            clients.vault.deposit(me, "WETH", 20 * 10**18)
            assert clients.trading is not None
            depositors.append(clients.trading)
        LOGS.mkdir(parents=True, exist_ok=True)
        with exchange_process(node.url, deployment, EXCHANGE_KEY, LOGS / "exchange.log", 0) as (url, _):
            seat = open_rabbitx_seat(trading, url, dev_account(KEEPER).key.hex(), SEAT_MARGIN)
            with (
                keeper_daemon(path, node.url, Path(tmp) / "keeper", LOGS / "keeper.log", seat),
                Watcher(node.url, trading, w3.eth.block_number + 1) as watcher,
            ):
                for mode in ("automine", f"interval, {args.block_time} s blocks"):
                    if mode != "automine":
                        w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
                        w3.provider.make_request("evm_setIntervalMining", [args.block_time])  # type: ignore[arg-type]
                    # A first order alone, not counted: the keeper's seat is up and its feed subscribed.
                    run_burst(mode, 1, w3, trading, depositors, watcher, (url, seat))
                    for n in args.bursts:
                        bursts.append(run_burst(mode, n, w3, trading, depositors, watcher, (url, seat)))
    print(report(bursts, args.block_time))


def report(bursts: Sequence[Burst], block_time: int) -> str:
    totals = []
    for mode in dict.fromkeys(b.mode for b in bursts):
        runs = [b for b in bursts if b.mode == mode]
        booked, gas, reports = (
            sum(b.booked for b in runs),
            sum(b.report_gas for b in runs),
            sum(b.reports for b in runs),
        )
        totals.append(f"{mode}: {gas // max(booked, 1):,} gas a fill, {booked} fills in {reports} reports")
    return "\n".join(
        [
            "## The RabbitX seat's fill reports, end to end\n",
            f"Bursts of depositor orders ({ORDER_SIZE} ETH each, from {len(DEPOSITORS)} accounts, half of them "
            "buying, half selling), each committed whole to the RabbitX seat as one IOC child as soon as it is on "
            f"chain; `primevault keeper run` (the seat job alone, at its default `seat_interval` of "
            f"{KeeperConfig.seat_interval:g} s) places them at the "
            f"devnet RabbitX exchange, {PLACE_CONCURRENCY} at a time (`PLACE_CONCURRENCY`), follows their fills on "
            "the WebSocket and books them with `reportFills`. Gas a fill: the keeper's report transactions' gas over "
            "the fills they booked. A wait: from the depositor's order sent to its fill seen booked (noisy: a shared "
            "machine). The rest is deterministic but for how the fills fall into reports. Automine mines a block for "
            "every transaction, so a report is mined as soon as it is sent, before the fills of children placed "
            f"later in the burst arrive; with {block_time} s blocks a report waits for its block, and the fills that "
            "arrive meanwhile go out together in the next.\n",
            table(bursts),
            "",
            f"All bursts: {'; '.join(totals)}.\n",
        ]
    )


if __name__ == "__main__":
    main()

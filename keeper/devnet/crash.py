"""The main job: a market crash on a local chain, handled by the keeper daemon running as in production.

Deploys everything, seeds depositors with random portfolios (lenders, borrowers, perp traders), starts the devnet
RabbitX-style exchange and the dYdX replica in their own processes (both quoting around the chain's feeds) and
`primevault keeper run` in its own, with its own key and its seats at both venues, which trade every order through
the venues' APIs, split by their books; then crashes ETH over a few blocks with BTC following, lets prices partly
recover, and reports what happened.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from eth_account import Account
from web3 import Web3

from keeper.chain.anvil import DEV_MNEMONIC, Anvil, free_port
from keeper.chain.deployment import Deployment
from keeper.chain.keys import dev_account
from keeper.chain.revert import error_decoder
from keeper.chain.transactions import Sender
from keeper.client.clients import Clients
from keeper.client.feeds import FeedClient
from keeper.client.trading import TradingClient
from keeper.client.vault import MAX_UINT256, VaultClient
from keeper.connectors.dydx import DydxConnector, DydxSettings, dydx_address
from keeper.devnet.deploy import (
    DYDX_SEAT_VENUE,
    SEAT_VENUE,
    add_dydx_seat,
    add_rabbitx_seat,
    deploy_cctp_bridge,
    deploy_local_system,
    deploy_rabbitx_custody,
    grant_keeper_roles,
    seed_local_liquidity,
)
from keeper.devnet.dydx.chain import MAINNET_LIKE_MARKETS, Chain
from keeper.devnet.plot import plot_crash
from keeper.devnet.rabbitx.exchange import ExchangeConfig
from keeper.devnet.rabbitx_seat import exchange_process, open_rabbitx_seat, stop_process
from keeper.exceptions import DevnetServiceError, TransactionReverted
from keeper.liquidator import scan

KEEPER_DEV_ACCOUNT = 9
RESERVES = 50_000  # USDC the protocol starts with
SEAT_MARGIN = 250_000  # USDC each seat's account at its venue starts with
DYDX_MNEMONIC = DEV_MNEMONIC  # the keeper's dYdX wallet on the devnet (anvil's public phrase: never for real funds)
CRASH_BLOCK_SECONDS = 1  # the local chain's block time during the crash (automine before it)
DYDX_BLOCK_INTERVAL = 0.25  # seconds per block of the dYdX replica; orders live 20 blocks
EXTRA_POOL = 3_000_000  # USDC lent to the pool on top of the local seed, so 200+ borrowers find liquidity


@dataclass
class Step:
    label: str
    eth: float
    btc: float
    block: int = 0
    liquidatable_after: int = 0
    health: list[float] = field(default_factory=list)  # equity / maintenance of accounts with requirements


@dataclass
class CrashReport:
    depositors: int
    traders: int
    orders_executed: int
    children_filled: dict[str, int]  # seat venue -> child orders (parts of orders) filled there
    steps: list[Step]
    liquidations: list[tuple[int, str, int, int]]  # (block, account, debt cleared, shortfall)
    positions_absorbed: list[tuple[int, str, str, int]]  # (block, account, market, |size| WAD to the backstop)
    backstop_unwound: list[tuple[int, str, str, int]]  # (block, market, venue, |size| WAD closed at the venue)
    collateral_kept: dict[str, float]  # liquidated account holding collateral -> share of its value it kept
    taken_per_liquidation: list[float]  # per liquidation: share of the account's collateral it absorbed
    backstop_left: dict[str, float]  # market -> |size| of the backstop book still open at the end
    absorbed: dict[str, int]
    sold: dict[str, int]
    reserves_before: int
    reserves_after: int
    bad_debt: int
    haircuts_before: dict[str, tuple[int, int]]
    haircuts_after: dict[str, tuple[int, int]]
    venue_margin: dict[str, tuple[int, int]]  # name -> (net collateral, maintenance)
    reconciliation: list[str]
    keeper_exit_code: int
    deployment: Deployment
    png: Path | None = None

    def blocks_to_liquidation(self) -> list[tuple[str, list[int]]]:
        """Per price step, how many blocks after it each of its liquidations landed."""
        result = []
        blocks = [s.block for s in self.steps]
        events = sorted(b for b, *_ in self.liquidations)
        for i, step in enumerate(self.steps):
            end = blocks[i + 1] if i + 1 < len(blocks) else float("inf")
            result.append((step.label, [b - step.block for b in events if step.block < b < end]))
        return result


def run_crash(
    depositors: int = 200,
    crash: float = 0.35,
    seed: int = 7,
    report_dir: Path = Path(".primevault"),
    progress: Callable[[str, int], Any] | None = None,
) -> CrashReport:
    rng = random.Random(seed)
    tick = progress or (lambda label, n: None)
    with Anvil(accounts=12) as node, tempfile.TemporaryDirectory() as tmp:
        w3 = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 60}))
        admin = Sender(w3, dev_account(0), error_decoder())
        deployment = dataclasses.replace(deploy_local_system(admin), rpc_url=node.url)
        seed_local_liquidity(admin, deployment)
        grant_keeper_roles(admin, deployment, dev_account(KEEPER_DEV_ACCOUNT).address)
        # The seats at the RabbitX-style exchange and at dYdX, where every order of the run trades through the
        # venues' APIs.
        exchange_key = "0x" + rng.randbytes(32).hex()
        custody = deploy_rabbitx_custody(admin, deployment, Account.from_key(exchange_key).address)
        exchange_config = ExchangeConfig(signer_key=exchange_key)
        deployment = add_rabbitx_seat(
            admin, deployment, custody, exchange_config.markets, exchange_config.default_leverage
        )
        attester_key = "0x" + rng.randbytes(32).hex()
        bridge = deploy_cctp_bridge(admin, deployment, Account.from_key(attester_key).address)
        deployment = add_dydx_seat(
            admin, deployment, bridge, dydx_address(DYDX_MNEMONIC), MAINNET_LIKE_MARKETS, Chain.taker_fee
        )
        clients = Clients.build(w3, deployment, admin)
        vault, trading = clients.vault, clients.trading
        assert trading is not None, "the local deployment has a trading module"
        _fund_pool_and_reserves(vault)
        path = Path(tmp) / "deployment.json"
        deployment.save(path)
        report_dir.mkdir(parents=True, exist_ok=True)
        exchange = exchange_process(node.url, deployment, exchange_key, report_dir / "exchange.log", funding_interval=0)
        dydx = _dydx_process(node.url, deployment, attester_key, report_dir / "dydx.log")
        keeper_key = dev_account(KEEPER_DEV_ACCOUNT).key.hex()
        with exchange as (exchange_url, _), dydx as dydx_settings:
            seat = {
                "PRIMEVAULT_SEAT_VENUES": f"{SEAT_VENUE},{DYDX_SEAT_VENUE}",
                "PRIMEVAULT_SEAT_INTERVAL": "0.5",
                **{
                    f"PRIMEVAULT_RABBITX_{name.upper()}": value
                    for name, value in open_rabbitx_seat(trading, exchange_url, keeper_key, SEAT_MARGIN).items()
                },
                "PRIMEVAULT_RABBITX_RECONNECT_DELAY": "0.2",
                **_open_dydx_seat(trading, dydx_settings),
            }
            tick("deployed", 1)
            traders = _seed_depositors(w3, deployment, rng, depositors, tick)
            haircuts_before = _haircuts(vault)
            keeper_process = _keeper_process(path, node.url, Path(tmp) / "keeper", report_dir / "keeper.log", seat)
            with keeper_process as keeper:
                executed = _wait_for_orders(trading, tick)
                reserves_before = vault.market().reserves
                steps = _crash_steps(crash)
                start_block = w3.eth.block_number
                # From here blocks come on a timer, as on a live chain, instead of one per transaction: every
                # liquidation the keeper sends after a price step can land in the block after it.
                w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
                w3.provider.make_request("evm_setIntervalMining", [CRASH_BLOCK_SECONDS])  # type: ignore[arg-type]
                for step in steps:
                    step.block = _set_prices(w3, admin, deployment, step.eth, step.btc)
                    _wait_until_clear(clients, timeout=30)
                    _sell_absorbed(vault, admin)
                    found = scan(clients, block=w3.eth.block_number)
                    step.liquidatable_after = len(found.liquidatable)
                    ratios = found.health.equity / np.maximum(found.health.maintenance_requirement, 1)
                    step.health = [float(r) for r in ratios[found.health.maintenance_requirement > 0]]
                    tick(step.label, 1)
                    for _ in range(2):  # a little time passes between moves
                        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
                _wait_until_unwound(trading, timeout=30)
                reconciliation, margins = _reconcile(trading, timeout=15)
                keeper.send_signal(signal.SIGTERM)
                exit_code = keeper.wait(timeout=60)
        # Recalibration after the crash, from the price history the daemon recorded, as an operator would
        # run it: `primevault risk haircuts --apply`. Done here rather than on a timer inside the run, so
        # that the same seed gives the same liquidations.
        _recalibrate(path, node.url, Path(tmp) / "keeper")
        haircuts_after = _haircuts(vault)
        liquidations, positions_absorbed, unwound, bad_debt, absorbed, sold = _events(vault, trading, start_block)
        shares = _collateral_shares(vault, start_block)
        kept = _collateral_kept(vault, {a for _, a, *_ in liquidations}, shares)
        taken = [share for _, share in shares]
        report = CrashReport(
            depositors=depositors,
            traders=traders,
            orders_executed=executed,
            children_filled=_children_filled(trading),
            steps=steps,
            liquidations=liquidations,
            positions_absorbed=positions_absorbed,
            backstop_unwound=unwound,
            collateral_kept=kept,
            taken_per_liquidation=taken,
            backstop_left=_backstop_left(trading),
            absorbed=absorbed,
            sold=sold,
            reserves_before=reserves_before,
            reserves_after=vault.market().reserves,
            bad_debt=bad_debt,
            haircuts_before=haircuts_before,
            haircuts_after=haircuts_after,
            venue_margin=margins,
            reconciliation=reconciliation,
            keeper_exit_code=exit_code,
            deployment=deployment,
        )
        report.png = plot_crash(report, report_dir / f"crash-report-seed{seed}.png")
        return report


# ---------------------------------------------------------------------- set-up


def _fund_pool_and_reserves(vault: VaultClient) -> None:
    """More lending for the borrowers, and starting reserves; the admin's unlimited approval also pays for every
    `buyCollateral` of the run (`_sell_absorbed`)."""
    base = vault.deployment.base
    usdc = vault.token(base.symbol)
    extra = EXTRA_POOL * 10**base.decimals
    usdc.mint(vault.signer().address, extra)
    usdc.approve(vault.address, MAX_UINT256)
    vault.deposit(vault.signer().address, base.symbol, extra)
    usdc.mint(vault.address, RESERVES * 10**base.decimals)


def _seed_depositors(w3: Web3, d: Deployment, rng: random.Random, n: int, tick: Callable[[str, int], Any]) -> int:
    """Random portfolios, each owner a fresh key funded with ETH on anvil."""
    traders = 0
    deadline = int(w3.eth.get_block("latest")["timestamp"]) + 3600
    unit = {t.symbol: 10**t.decimals for t in (d.base, *d.collateral)}
    for _ in range(n):
        key = Account.from_key(rng.randbytes(32))
        owner = key.address
        w3.provider.make_request("anvil_setBalance", [owner, hex(10**20)])  # type: ignore[arg-type]
        clients = Clients.build(w3, d, Sender(w3, key, error_decoder()))
        vault = clients.vault
        kind = rng.random()
        if kind < 0.2:  # lender
            amount = rng.randrange(1_000, 50_000) * unit[d.base.symbol]
            vault.token(d.base.symbol).mint(owner, amount)
            vault.deposit(owner, d.base.symbol, amount)
            tick("depositors", 1)
            continue
        weth = int(rng.uniform(1, 15) * unit["WETH"]) if rng.random() < 0.85 else 0
        wbtc = int(rng.uniform(0.05, 0.6) * unit["WBTC"]) if weth == 0 or rng.random() < 0.4 else 0
        for symbol, amount in (("WETH", weth), ("WBTC", wbtc)):
            if amount:
                vault.token(symbol).mint(owner, amount)
                vault.deposit(owner, symbol, amount)
        # Whole base tokens borrowable at the starting prices and initial haircuts.
        capacity = (weth * 3000 // unit["WETH"] + wbtc * 60_000 // unit["WBTC"]) * 8 // 10
        trades = rng.random() < 0.5
        borrow_share = rng.uniform(0.2, 0.5) if trades else rng.uniform(0.3, 0.8)
        debt = int(capacity * borrow_share)
        if debt >= 100:
            vault.withdraw(owner, d.base.symbol, debt * unit[d.base.symbol], owner)
        if trades:
            traders += 1
            market = rng.choice(("BTC-USD", "ETH-USD"))
            mark = 60_000 if market == "BTC-USD" else 3000
            notional = (capacity - debt) * rng.uniform(1.0, 3.0)
            step = Decimal("0.001") if market == "BTC-USD" else Decimal("0.01")  # a multiple of both venues' steps
            steps = max(round(notional / mark / float(step)), 1)
            side = 1 if rng.random() < 0.6 else -1
            limit = Decimal(int(mark * (1.05 if side > 0 else 0.95)))
            assert clients.trading is not None
            clients.trading.submit(owner, market, side * steps * step, limit, deadline)
        tick("depositors", 1)
    return traders


@contextmanager
def _dydx_process(rpc_url: str, deployment: Deployment, attester_key: str, log_path: Path) -> Iterator[dict[str, str]]:
    """The dYdX replica in its own process (`python -m keeper.devnet.dydx`) on free ports, its oracle prices and its
    maker's book following the chain's feeds, crediting the bridge's deposits and attesting its withdrawals; yields
    the connector's settings it prints (indexer_url, validator_url, noble_url, noble_chain_id, chain_id)."""
    bridge = next(v for v in deployment.venues if v.name == DYDX_SEAT_VENUE)
    feeds = [f"--feed={m.ticker}={m.feed}" for m in deployment.markets]
    command = [
        sys.executable, "-m", "keeper.devnet.dydx", "--indexer-port", "0", "--grpc-port", "0",
        "--block-interval", str(DYDX_BLOCK_INTERVAL), "--rpc-url", rpc_url, "--bridge-address", bridge.address,
        "--attester-key", attester_key, "--confirmations", "1", "--noble-port", "0", *feeds,
    ]  # fmt: skip
    log = open(log_path, "wb")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().decode().strip() for _ in range(5)]
        settings = dict(line.partition(" = ")[::2] for line in lines if " = " in line)
        if set(settings) != {"indexer_url", "validator_url", "noble_url", "noble_chain_id", "chain_id"}:
            raise DevnetServiceError(f"the dYdX replica did not start: see {log_path}")
        yield settings
    finally:
        stop_process(process)
        log.close()


async def _move_dydx_deposit(settings: DydxSettings, amount: Decimal) -> None:
    """Waits for Noble to mint `amount` to the keeper's Noble address, sends it by IBC to dYdX and, once relayed,
    deposits it into the subaccount."""
    deadline = time.monotonic() + 30
    async with DydxConnector(settings) as connector:
        while await connector.noble_balance() < amount:
            if time.monotonic() > deadline:
                raise DevnetServiceError(f"Noble never minted the dYdX seat's deposit to {connector.noble_address}")
            await asyncio.sleep(0.2)
        await connector.noble_to_dydx(amount)
        while await connector.bank_balance() < amount:  # the IBC transfer is relayed with the next block
            if time.monotonic() > deadline:
                raise DevnetServiceError(f"the IBC transfer to {connector.address} was never relayed")
            await asyncio.sleep(0.2)
        await connector.deposit(amount)


def _open_dydx_seat(trading: TradingClient, replica: dict[str, str]) -> dict[str, str]:
    """Sends the dYdX seat's margin across the bridge, and once Noble has minted it, takes it on as the keeper's seat
    would (IBC to dYdX, into the subaccount, which exists only from its first deposit); returns the keeper's connector
    settings as environment variables."""
    venue = trading.venue_id(DYDX_SEAT_VENUE)
    trading.deposit_margin(venue, SEAT_MARGIN * 10**trading.deployment.base.decimals)
    settings = DydxSettings(
        replica["indexer_url"],
        replica["validator_url"],
        replica["chain_id"],
        DYDX_MNEMONIC,
        noble_url=replica["noble_url"],
        noble_chain_id=replica["noble_chain_id"],
    )
    asyncio.run(_move_dydx_deposit(settings, Decimal(SEAT_MARGIN)))
    return {
        "PRIMEVAULT_DYDX_INDEXER_URL": replica["indexer_url"],
        "PRIMEVAULT_DYDX_VALIDATOR_URL": replica["validator_url"],
        "PRIMEVAULT_DYDX_NOBLE_URL": replica["noble_url"],
        "PRIMEVAULT_DYDX_NOBLE_CHAIN_ID": replica["noble_chain_id"],
        "PRIMEVAULT_DYDX_CHAIN_ID": replica["chain_id"],
        "PRIMEVAULT_DYDX_MNEMONIC": DYDX_MNEMONIC,
        "PRIMEVAULT_DYDX_ATTESTATION_URL": replica["indexer_url"],
        "PRIMEVAULT_DYDX_GOOD_TIL_BLOCKS": "20",
        "PRIMEVAULT_DYDX_POLL_INTERVAL": "0.2",
    }


@contextmanager
def _keeper_process(
    deployment: Path, rpc_url: str, data_dir: Path, log_path: Path, seat: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """`primevault keeper run` in its own process with its own key, as an operator would start it, with its seat at
    the exchange (`seat`: the connector's settings as environment variables)."""
    env = dict(os.environ)
    env.update(
        PRIMEVAULT_POLL_INTERVAL="0.1",
        PRIMEVAULT_ORDERS_INTERVAL="0.5",
        PRIMEVAULT_MARGIN_INTERVAL="2",
        PRIMEVAULT_RECONCILE_INTERVAL="2",
        PRIMEVAULT_HAIRCUT_INTERVAL="86400",
        PRIMEVAULT_PRICE_RECORD_INTERVAL="0.2",
        **seat,
    )
    command = [
        sys.executable, "-c", "from keeper.cli.main import main; main()",
        "--deployment", str(deployment), "--rpc-url", rpc_url, "--dev-account", str(KEEPER_DEV_ACCOUNT),
        "keeper", "run", "--metrics-port", str(free_port()), "--data-dir", str(data_dir), "--log-level", "info",
    ]  # fmt: skip
    log = open(log_path, "wb")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(command, stdout=log, stderr=log, env=env)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()


def _recalibrate(deployment: Path, rpc_url: str, data_dir: Path) -> None:
    command = [
        sys.executable, "-c", "from keeper.cli.main import main; main()",
        "--deployment", str(deployment), "--rpc-url", rpc_url, "--dev-account", str(KEEPER_DEV_ACCOUNT),
        "risk", "haircuts", "--apply",
    ]  # fmt: skip
    env = dict(os.environ, PRIMEVAULT_DATA_DIR=str(data_dir))
    subprocess.run(command, env=env, check=True, capture_output=True)


def _wait_for_orders(trading: TradingClient, tick: Callable[[str, int], Any], timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    total = trading.order_count()
    done = 0
    while time.monotonic() < deadline:
        statuses = [trading.order(i).status for i in range(total)]
        now_done = sum(s not in ("open", "routed") for s in statuses)  # routed: its children still at the exchange
        tick("orders", now_done - done)
        done = now_done
        if done == total:
            break
        time.sleep(0.5)
    return sum(trading.order(i).status == "executed" for i in range(total))


# ---------------------------------------------------------------------- the crash


def _crash_steps(crash: float) -> list[Step]:
    """ETH falls by `crash` in ten equal steps (4.2% each for 35%); BTC follows from the fifth (down 20% in six
    steps); then both partly recover. Each step is one price update the keeper answers before the next, so the depth
    an account reaches before its liquidation, and the share of its collateral a liquidation takes, follow the step's
    size: in 8% steps the median liquidation took three fifths of an account's collateral."""
    eth_step = (1 - crash) ** (1 / 10)
    btc_step = 0.8 ** (1 / 6)
    steps, eth, btc = [], 3000.0, 60_000.0
    for i in range(10):
        eth *= eth_step
        if i >= 4:
            btc *= btc_step
        steps.append(Step(f"ETH {eth:,.0f} BTC {btc:,.0f}", eth, btc))
    eth, btc = eth * 1.10, btc * 1.05
    steps.append(Step(f"recovery ETH {eth:,.0f} BTC {btc:,.0f}", eth, btc))
    return steps


def _set_prices(w3: Web3, admin: Sender, d: Deployment, eth: float, btc: float) -> int:
    """Both feeds' answers, sent together so that they share a block; returns that block."""
    updates = []
    for symbol, price in (("WETH", eth), ("WBTC", btc)):
        feed = d.token(symbol).feed
        assert feed is not None, "collateral has a feed"
        updates.append(FeedClient(w3, feed, admin).set_answer_call(Decimal(price)))
    receipts = admin.transact_all("set prices", updates)
    blocks = [r["blockNumber"] for r in receipts if not isinstance(r, TransactionReverted)]
    assert len(blocks) == len(updates), f"price updates failed: {receipts}"
    return max(blocks)


def _wait_until_clear(clients: Clients, timeout: float) -> None:
    # Reads at a block number, not "latest": while it mines on a timer, anvil may run a "latest" call in one block's
    # environment over the next block's state, where a price set in that next block looks dated ahead (stale).
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and scan(clients, block=clients.w3.eth.block_number).liquidatable:
        time.sleep(0.2)


def _wait_until_unwound(trading: TradingClient, timeout: float) -> None:
    """Gives the keeper's backstop job time to close the book it took over during the crash."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and trading.backstop():
        time.sleep(0.5)


def _children_filled(trading: TradingClient) -> dict[str, int]:
    """Per seat venue, how many child orders (the parts the keeper's router sent there) filled, in whole or part."""
    counts: dict[str, int] = {}
    for child in trading.child_orders():
        if child.filled:
            name = trading.venue_name(child.venue_id)
            counts[name] = counts.get(name, 0) + 1
    return counts


def _backstop_left(trading: TradingClient) -> dict[str, float]:
    left: dict[str, float] = {}
    for book in trading.backstop():
        left[book.market] = left.get(book.market, 0.0) + float(abs(book.size))
    return left


def _sell_absorbed(vault: VaultClient, admin: Sender) -> None:
    """An arbitrageur buys absorbed collateral at the vault's discount, as a market would."""
    base = vault.deployment.base
    prices = vault.lens.prices().prices
    for token, price in zip(vault.deployment.collateral, prices, strict=True):
        held = vault.collateral_reserves(token.symbol)
        if not held or token.feed is None:
            continue
        feed_decimals = FeedClient(vault.w3, token.feed).decimals
        cost = held * price // 10 ** (token.decimals + feed_decimals - base.decimals) + 1
        out = vault.quote_collateral(token.symbol, cost)
        if out > held:
            cost = cost * held // out
            out = vault.quote_collateral(token.symbol, cost)
        if out == 0:
            continue
        vault.token(base.symbol).mint(admin.address, cost)
        vault.buy_collateral(token.symbol, out, cost, admin.address)


# ---------------------------------------------------------------------- results


def _haircuts(vault: VaultClient) -> dict[str, tuple[int, int]]:
    return {
        t.symbol: (c.initial_haircut_bps, c.maintenance_haircut_bps)
        for t, c in zip(vault.deployment.collateral, vault.asset_configs(), strict=True)
    }


def _reconcile(trading: TradingClient, timeout: float) -> tuple[list[str], dict[str, tuple[int, int]]]:
    """Each venue's positions against the vault's books, and its margin. A seat posts its venue's account after the
    fills it reports, so a mismatch is read again until it clears or `timeout` passes."""
    deadline = time.monotonic() + timeout
    issues, margins = _venue_positions(trading)
    while issues and time.monotonic() < deadline:
        time.sleep(0.5)
        issues, margins = _venue_positions(trading)
    return issues, margins


def _venue_positions(trading: TradingClient) -> tuple[list[str], dict[str, tuple[int, int]]]:
    issues, margins = [], {}
    for venue_id, adapter in enumerate(trading.adapters()):
        for market_id, market in enumerate(trading.deployment.markets):
            books = trading.net_position(market_id, venue_id)
            reported = adapter.position(market_id)
            if books != reported:
                issues.append(f"{adapter.name} {market.ticker}: venue {reported}, books {books}")
        margin = adapter.margin()
        margins[adapter.name] = (margin.net_collateral, margin.maintenance_margin)
    return issues, margins


def _events(
    vault: VaultClient, trading: TradingClient, from_block: int
) -> tuple[Any, Any, Any, int, dict[str, int], dict[str, int]]:
    events = vault.contract.events
    liquidations = [
        (e["blockNumber"], e["args"]["account"], e["args"]["debtCleared"], e["args"]["shortfall"])
        for e in events.Liquidated().get_logs(from_block=from_block)
    ]
    bad_debt = sum(e["args"]["amount"] for e in events.BadDebt().get_logs(from_block=from_block))
    symbols = {t.address: t.symbol for t in vault.deployment.collateral}
    absorbed: dict[str, int] = {}
    for e in events.CollateralAbsorbed().get_logs(from_block=from_block):
        absorbed[symbols[e["args"]["asset"]]] = absorbed.get(symbols[e["args"]["asset"]], 0) + e["args"]["amount"]
    sold: dict[str, int] = {}
    for e in events.CollateralBought().get_logs(from_block=from_block):
        sold[symbols[e["args"]["asset"]]] = sold.get(symbols[e["args"]["asset"]], 0) + e["args"]["amount"]
    tickers = [m.ticker for m in vault.deployment.markets]
    venues = [v.name for v in vault.deployment.venues]
    module = trading.contract.events
    positions = [
        (e["blockNumber"], e["args"]["account"], tickers[e["args"]["market"]], abs(e["args"]["size"]))
        for e in module.PositionAbsorbed().get_logs(from_block=from_block)
    ]
    unwound = [
        (e["blockNumber"], tickers[e["args"]["market"]], venues[e["args"]["venue"]], abs(e["args"]["size"]))
        for e in module.BackstopUnwound().get_logs(from_block=from_block)
    ]
    # At the seat, an unwind is a child whose fills book to the backstop as the exchange makes them.
    unwind_children = {e["args"]["childId"] for e in module.BackstopUnwindCommitted().get_logs(from_block=from_block)}
    unwound += [
        (e["blockNumber"], tickers[e["args"]["market"]], venues[e["args"]["venue"]], abs(e["args"]["size"]))
        for e in module.LateFillToBackstop().get_logs(from_block=from_block)
        if e["args"]["childId"] in unwind_children
    ]
    unwound.sort()
    return liquidations, positions, unwound, bad_debt, absorbed, sold


def _collateral_shares(vault: VaultClient, from_block: int) -> list[tuple[str, float]]:
    """(account, share) for each liquidation that absorbed collateral: the share of every asset the account held
    that it took (`Liquidated.collateralShare`; the same fraction of every asset is taken)."""
    shares = []
    for e in vault.contract.events.Liquidated().get_logs(from_block=from_block):
        if e["args"]["collateralShare"]:
            shares.append((e["args"]["account"], e["args"]["collateralShare"] / 10**18))
    return shares


def _collateral_kept(vault: VaultClient, accounts: set[str], shares: list[tuple[str, float]]) -> dict[str, float]:
    """For each liquidated account that held collateral: the share of its collateral it still holds (the product
    of what each liquidation left, the same for every asset and so for the value at any prices). Partial
    liquidation takes only what restores health, and an account whose positions covered its shortfall loses none,
    so most keep most of it."""
    left: dict[str, list[float]] = {}
    for account, share in shares:
        left.setdefault(account, []).append(1 - share)
    kept = {}
    for account in accounts:
        if account in left or any(vault.collateral_balance(account, t.symbol) for t in vault.deployment.collateral):
            kept[account] = math.prod(left.get(account, []))
    return kept

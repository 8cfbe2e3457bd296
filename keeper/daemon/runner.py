"""The keeper: a new-block loop for risk scans and liquidations, and scheduled jobs for orders, venue margin,
reconciliation and haircuts."""

from __future__ import annotations

import functools
import logging
import signal
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from web3 import Web3

from keeper.chain.artifacts import load_artifact
from keeper.chain.deployment import Deployment
from keeper.chain.keys import dev_account, keystore_account, require_local_chain
from keeper.chain.oracle import feed_price
from keeper.chain.provider import connect
from keeper.chain.transactions import FeePolicy, Sender
from keeper.daemon.config import KeeperConfig
from keeper.daemon.metrics import Health, KeeperMetrics, serve
from keeper.exceptions import DryRun, PrimeVaultError, TransactionReverted
from keeper.liquidator import LIQUIDATION_GAS_WITH_POSITIONS, Scan, batches, scan
from keeper.pricestore import PriceStore
from keeper.risk.backstop import unwind_limit, unwind_slice
from keeper.risk.haircuts import Bounds, HaircutProposal, propose
from keeper.trading import TradingClient
from keeper.vault import LiquidationResult, VaultClient, vault_error_decoder
from keeper.venues import Venue

log = logging.getLogger("primevault.keeper")
WAD = Decimal(10) ** 18

ORACLE_ERRORS = ("OracleStalePrice", "OracleInvalidPrice", "VenueBadPrice")
MAX_ORDERS_PER_BATCH = 20


class Keeper:
    def __init__(self, config: KeeperConfig) -> None:
        self.config = config
        self.deployment = Deployment.load(config.deployment)
        self.w3: Web3 = connect(config.rpc_urls)
        account = self._account()
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.sender = Sender(
            self.w3,
            account,
            vault_error_decoder(),
            fees=FeePolicy(
                max_fee_cap=int(config.max_fee_gwei * 10**9),
                replace_after=config.replace_after,
                receipt_timeout=config.receipt_timeout,
            ),
            nonce_file=config.data_dir / f"nonce-{account.address}.json",
            dry_run=config.dry_run,
        )
        self.vault = VaultClient(self.w3, self.deployment, self.sender)
        self.trading = TradingClient(self.w3, self.deployment, self.sender) if self.deployment.trading else None
        self.prices = PriceStore(config.data_dir / "prices.sqlite")
        self.metrics = KeeperMetrics()
        self.health = Health(config.stale_after)
        self.stop = threading.Event()
        self.last_scan: Scan | None = None
        self._last_block = -1
        self._next_order = 0
        self.is_executor, self.is_risk_manager = self._check_roles()

    def _check_roles(self) -> tuple[bool, bool]:
        """Which of the roles its jobs need the key holds, said in one line. Liquidation needs none; a job
        whose role is missing is switched off instead of failing on every run."""
        me = self.sender.address
        vault = self.vault.contract.functions
        risk_manager = bool(vault.hasRole(vault.RISK_MANAGER_ROLE().call(), me).call())
        executor = False
        if self.trading is not None:
            module = self.trading.contract.functions
            executor = bool(module.hasRole(module.EXECUTOR_ROLE().call(), me).call())
        held = [name for name, ok in (("EXECUTOR_ROLE", executor), ("RISK_MANAGER_ROLE", risk_manager)) if ok]
        off = []
        if self.trading is not None and not executor:
            off.append("orders, backstop unwinding and venue margin need EXECUTOR_ROLE on the trading module")
        if self.config.apply_haircuts and not risk_manager:
            off.append("haircut updates need RISK_MANAGER_ROLE on the vault (they are only proposed)")
        line = f"keeper {me} holds {', '.join(held) or 'no role'}: liquidation on"
        if off:
            log.warning("%s; off: %s", line, "; ".join(off))
        else:
            log.info("%s, every job on", line)
        return executor, risk_manager

    def _account(self) -> Any:
        c = self.config
        if c.keystore is not None and c.password_file is not None:
            return keystore_account(c.keystore, c.password_file)
        assert c.dev_account is not None
        require_local_chain(self.w3.eth.chain_id)
        log.warning("using a public anvil dev key: fine for a local chain only")
        return dev_account(c.dev_account)

    # ------------------------------------------------------------------ the risk cycle

    def risk_cycle(self) -> list[LiquidationResult]:
        """Scans every account at the latest block and liquidates the ones that are due."""
        started = time.monotonic()
        try:
            found = scan(self.vault, self.config.shard)
        except TransactionReverted as exc:
            if exc.error.name in ORACLE_ERRORS:
                self.health.fail(f"price feed unusable: {exc.error}")
                self.metrics.healthy.set(0)
                log.error("scan stopped: %s; no liquidation is sent on a bad price", exc.error)
                return []
            raise
        self.last_scan = found
        if found.unusable_assets:
            # The vault skips accounts it cannot price; the keeper leaves them out and goes on with the rest.
            self.health.fail(f"price feed unusable for {', '.join(found.unusable_assets)}")
            log.error(
                "price of %s unusable: %d accounts holding it are left out of this scan",
                ", ".join(found.unusable_assets),
                len(found.unpriced),
            )
        self.metrics.scan_seconds.observe(time.monotonic() - started)
        self.metrics.accounts_scanned.set(len(found.accounts))
        self.metrics.liquidatable.set(len(found.liquidatable))
        block_time = self._check_chain_fresh(found.block, healthy=not found.unusable_assets)
        self._record_prices(found, block_time)
        if not found.liquidatable:
            return []
        log.info("block %d: %d liquidatable of %d", found.block, len(found.liquidatable), len(found.accounts))
        return self._liquidate(found)

    def _liquidate(self, found: Scan) -> list[LiquidationResult]:
        """Liquidates every due account, with or without positions (the vault moves positions to its backstop
        book, so no venue is involved). Batches are sized by each kind's gas and all sent together, so that
        on a chain with several transactions per block they land in the same blocks."""
        with_positions = [a for a in found.liquidatable if a in found.with_positions]
        lending_only = [a for a in found.liquidatable if a not in found.with_positions]
        all_batches = batches(lending_only, self.config.gas_budget) + batches(
            with_positions, self.config.gas_budget, LIQUIDATION_GAS_WITH_POSITIONS
        )
        self.metrics.liquidations_sent.inc(len(found.liquidatable))
        outcomes = self._send("liquidate", self.vault.liquidate_batches, all_batches)
        if outcomes is None:  # a dry run
            return []
        results = []
        for batch, outcome in zip(all_batches, outcomes, strict=True):
            if isinstance(outcome, TransactionReverted):
                self._count_revert("liquidate", outcome)
                continue
            self.metrics.liquidations_mined.inc(len(outcome.liquidated))
            log.info(
                "liquidated %d in block %d (%d skipped)",
                len(outcome.liquidated),
                outcome.block,
                len(batch) - len(outcome.liquidated),
            )
            results.append(outcome)
        return results

    def _check_chain_fresh(self, block: int, healthy: bool = True) -> int:
        """Marks the keeper unhealthy when the scanned block is too old; returns its timestamp."""
        head = self.w3.eth.get_block(block)
        age = time.time() - int(head["timestamp"])
        if age > self.config.stale_after:
            self.health.fail(f"chain head is {age:.0f}s old")
            self.metrics.healthy.set(0)
        elif not healthy:
            self.metrics.healthy.set(0)
        else:
            self.health.ok()
            self.metrics.healthy.set(1)
        return int(head["timestamp"])

    def _record_prices(self, found: Scan, now: int) -> None:
        """Price history at block time (one row per asset and second), for the haircut model."""
        for token, price in zip(self.deployment.collateral, found.params.prices, strict=True):
            last = self.prices.last_timestamp(token.symbol)
            if last is None or now - last >= self.config.price_record_interval:
                self.prices.record(token.symbol, now, price / 1e8)

    # ------------------------------------------------------------------ scheduled jobs

    def orders_job(self) -> None:
        """Executes open orders with the router's split; cancels expired ones. While trading is paused the
        contract executes nothing, so the job waits."""
        if self.trading is None or not self.is_executor:
            return
        if self.trading.trading_paused():
            log.info("trading is paused: open orders wait")
            return
        count = self.trading.order_count()
        now = int(self.w3.eth.get_block("latest")["timestamp"])
        open_ids = []
        for order_id in range(self._next_order, count):
            order = self.trading.order(order_id)
            if order.status != "open":
                continue
            if order.deadline < now:
                self._send("cancel expired order", self.trading.cancel, order_id)
            else:
                open_ids.append(order_id)
        self._next_order = min(open_ids, default=count)
        for start in range(0, len(open_ids), MAX_ORDERS_PER_BATCH):
            chunk = open_ids[start : start + MAX_ORDERS_PER_BATCH]
            outcomes = self._send("execute orders", self.trading.execute, chunk)
            for outcome in outcomes if isinstance(outcomes, list) else []:
                if outcome.executed:
                    self.metrics.orders_executed.inc()
                else:
                    self.metrics.orders_cancelled.labels(outcome.reason.name if outcome.reason else "unknown").inc()
                    log.warning("order %d cancelled: %s", outcome.order_id, outcome.reason)

    def backstop_job(self) -> None:
        """Unwinds the backstop book (positions taken from liquidated accounts) at the venues that hold it, one
        bounded slice per slot and run, priced inside the contract's band; tops the venue's margin up first
        when the vault's netted position there would grow past what it holds."""
        if self.trading is None or not self.is_executor:
            return
        readers = self.trading.venues()
        adapters = self._adapters()
        for book in self.trading.backstop():
            market = self.deployment.markets[book.market_id]
            mark = feed_price(self.w3, market.feed)
            reader = readers[book.venue_id]
            step = reader.cost_model(book.market).step
            side = -1 if book.size > 0 else 1
            limit = unwind_limit(mark, side)
            quote = functools.partial(_average_price, reader, book.market, side)
            size = unwind_slice(abs(book.size), step, quote, limit, side)
            if size == 0:
                log.warning("backstop %s at %s: no slice fits the price band now", book.market, book.venue)
                continue
            self._top_up_for(book.venue_id, adapters[book.venue_id], book.market_id, side * size, mark)
            log.info("unwinding %s %s of the backstop at %s (limit %s)", size, book.market, book.venue, limit)
            if self._send("unwind backstop", self.trading.unwind_backstop, book.market_id, book.venue_id, size, limit):
                self.metrics.backstop_unwound.inc()

    def _top_up_for(self, venue_id: int, adapter: Any, market_id: int, change: Decimal, mark: Decimal) -> None:
        """Deposits margin at a venue if its initial requirement after the vault's netted position changes
        by `change` (base units) would exceed the margin there."""
        assert self.trading is not None
        net_position = Decimal(int(self.trading.contract.functions.netPosition(market_id, venue_id).call())) / WAD
        growth = abs(net_position + change) - abs(net_position)
        if growth <= 0:
            return
        imf = Decimal(adapter.functions.marketParams(market_id).call()[2]) / 10**6
        extra = int(growth * mark * imf * 10**self.deployment.base.decimals * 2)  # twice: room for the move
        net, initial, _ = adapter.functions.margin().call()
        if int(net) - int(initial) < extra:
            amount = extra - (int(net) - int(initial))
            log.info("venue %d: depositing %d margin before unwinding the backstop", venue_id, amount)
            deposit = self.trading.contract.functions.depositMargin(venue_id, amount)
            self._send("deposit margin", self.sender.transact, "deposit margin", deposit)

    def margin_job(self) -> None:
        """Keeps each venue's margin between floor and ceiling of what the netted positions need, and claims
        matured withdrawals. Deposits are instant; withdrawals may take a delay, so they only ever take the
        margin down to the target, never to the floor."""
        if self.trading is None or not self.is_executor:
            return
        module = self.trading.contract
        for venue_id, adapter in enumerate(self._adapters()):
            need = self._venue_requirement(venue_id, adapter)
            net, _, _ = adapter.functions.margin().call()
            pending = adapter.functions.pendingWithdrawals().call()
            if pending:
                claim = module.functions.claimMarginWithdrawals(venue_id)
                self._send("claim margin", self.sender.transact, "claim margin", claim)
            # Only margin already at the venue backs positions; a pending withdrawal counts against the
            # ceiling (it is on its way out) but never toward the floor.
            minimum = self.config.margin_minimum * 10**self.deployment.base.decimals
            floor = max(int(need * self.config.margin_floor), minimum)
            target = max(int(need * self.config.margin_target), minimum)
            ceiling = max(int(need * self.config.margin_ceiling), minimum * 2)
            if int(net) < floor:
                amount = target - int(net)
                log.info("venue %d margin %d below floor %d: depositing %d", venue_id, net, floor, amount)
                deposit = module.functions.depositMargin(venue_id, amount)
                self._send("deposit margin", self.sender.transact, "deposit margin", deposit)
            elif int(net) + int(pending) > ceiling and int(net) > target:
                amount = min(int(net) + int(pending) - target, int(net) - target)
                log.info("venue %d margin %d above ceiling %d: withdrawing %d", venue_id, net, ceiling, amount)
                withdrawal = module.functions.requestMarginWithdrawal(venue_id, amount)
                self._send("withdraw margin", self.sender.transact, "withdraw margin", withdrawal)

    def reconcile_job(self) -> int:
        """Compares each venue's position and margin with the vault's books; logs and counts mismatches,
        never fixes them."""
        if self.trading is None:
            return 0
        mismatches = 0
        names = [v.name for v in self.deployment.venues]
        for venue_id, adapter in enumerate(self._adapters()):
            for market_id, market in enumerate(self.deployment.markets):
                books = int(self.trading.contract.functions.netPosition(market_id, venue_id).call())
                venue = int(adapter.functions.position(market_id).call())
                if books != venue:
                    mismatches += 1
                    self.metrics.mismatches.labels(names[venue_id], "position").inc()
                    log.error(
                        "ALERT reconciliation: %s %s venue reports %d, vault books %d",
                        names[venue_id],
                        market.ticker,
                        venue,
                        books,
                    )
            net, _, maintenance = adapter.functions.margin().call()
            if int(net) < int(maintenance):
                mismatches += 1
                self.metrics.mismatches.labels(names[venue_id], "margin").inc()
                log.error(
                    "ALERT reconciliation: %s margin %d below its maintenance %d", names[venue_id], net, maintenance
                )
        return mismatches

    def haircut_job(self, apply: bool | None = None) -> list[HaircutProposal]:
        """Proposes haircuts from price history and, if `apply`, pushes the ones allowed now."""
        apply = self.config.apply_haircuts if apply is None else apply
        proposals = []
        now = int(self.w3.eth.get_block("latest")["timestamp"])
        for config, token in zip(self.vault.asset_configs(), self.deployment.collateral, strict=True):
            min_bps, max_bps, step, interval, last = self.vault.contract.functions.haircutBounds(config.address).call()
            timestamps, prices = self.prices.series(token.symbol)
            proposal = propose(
                token.symbol,
                timestamps,
                prices,
                (config.initial_haircut_bps, config.maintenance_haircut_bps),
                Bounds(min_bps, max_bps, step, interval, last),
                now,
                self.config.liquidity_addon_bps.get(token.symbol, 0),
            )
            proposals.append(proposal)
            self.metrics.haircut_bps.labels(token.symbol, "initial").set(config.initial_haircut_bps)
            self.metrics.haircut_bps.labels(token.symbol, "maintenance").set(config.maintenance_haircut_bps)
            if apply and self.is_risk_manager and proposal.changes:
                fn = self.vault.contract.functions.updateHaircuts(
                    config.address, proposal.next_initial_bps, proposal.next_maintenance_bps
                )
                self._send("update haircuts", self.sender.transact, "update haircuts", fn)
        return proposals

    # ------------------------------------------------------------------ running

    def run_once(self) -> None:
        """One cycle of everything, in order."""
        self.risk_cycle()
        for job in (self.orders_job, self.backstop_job, self.margin_job, self.reconcile_job, self.haircut_job):
            self._guarded(job)

    def run(self) -> None:
        """Runs until SIGTERM or SIGINT; stops after the transaction in flight."""
        if threading.current_thread() is threading.main_thread():  # signals can only be caught there
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: self.stop.set())
        server = serve(self.metrics, self.health, self.config.metrics_port) if self.config.metrics_port else None
        scheduler = BackgroundScheduler()
        c = self.config
        for job, seconds in (
            (self.orders_job, c.orders_interval),
            (self.backstop_job, c.orders_interval),
            (self.margin_job, c.margin_interval),
            (self.reconcile_job, c.reconcile_interval),
            (self.haircut_job, c.haircut_interval),
        ):
            scheduler.add_job(self._guarded, "interval", args=[job], seconds=seconds, max_instances=1, coalesce=True)
        scheduler.start()
        log.info("keeper running as %s on %s", self.sender.address, c.rpc_urls[0])
        try:
            while not self.stop.is_set():
                self._guarded(self._on_new_block)
                self.stop.wait(c.poll_interval)
        finally:
            scheduler.shutdown(wait=True)
            if server is not None:
                server.shutdown()
            self.prices.close()
            log.info("keeper stopped")

    def _on_new_block(self) -> None:
        block = self.w3.eth.block_number
        if block == self._last_block:
            return
        self._last_block = block
        self.risk_cycle()
        self.metrics.blocks_behind.set(self.w3.eth.block_number - block)

    def _guarded(self, job: Callable[[], object]) -> None:
        """Runs a job; an error is logged and counted, never fatal."""
        try:
            job()
        except PrimeVaultError as exc:
            log.error("%s: %s", getattr(job, "__name__", "job"), exc)
        except Exception:
            log.exception("%s failed", getattr(job, "__name__", "job"))

    def _send(self, action: str, send: Callable[..., Any], *args: Any) -> Any:
        """Calls `send(*args)`; in dry-run mode logs the decision instead; a revert is counted."""
        try:
            return send(*args)
        except DryRun as exc:
            log.info("%s", exc)
        except TransactionReverted as exc:
            self._count_revert(action, exc)
        return None

    def _count_revert(self, action: str, exc: TransactionReverted) -> None:
        self.metrics.reverts.labels(action).inc()
        log.error("%s reverted: %s", action, exc.error)

    def _adapters(self) -> list[Any]:
        abi = load_artifact("DydxAdapter").abi  # the IVenueAdapter functions are the same on every adapter
        return [self.w3.eth.contract(address=v.adapter, abi=abi) for v in self.deployment.venues if v.adapter]

    def _venue_requirement(self, venue_id: int, adapter: Any) -> int:
        """Initial margin the venue asks for the vault's netted positions there, USDC units."""
        assert self.trading is not None
        need = Decimal(0)
        for market_id, market in enumerate(self.deployment.markets):
            size = int(self.trading.contract.functions.netPosition(market_id, venue_id).call())
            if not size:
                continue
            params = adapter.functions.marketParams(market_id).call()
            mark = feed_price(self.w3, market.feed)
            need += abs(Decimal(size)) / 10**18 * mark * Decimal(params[2]) / 10**6
        return int(need * 10**6)


def _average_price(venue: Venue, market: str, side: int, size: Decimal) -> Decimal:
    return venue.quote(market, size, side).average_price

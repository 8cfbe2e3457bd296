"""The keeper: a new-block loop for risk scans and liquidations, and scheduled jobs for orders, venue margin,
reconciliation and haircuts."""

from __future__ import annotations

import functools
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from web3 import Web3

from keeper.backstop import BackstopUnwinder, UnwindSlice
from keeper.chain.deployment import Deployment
from keeper.chain.keys import dev_account, keystore_account, require_local_chain
from keeper.chain.provider import connect
from keeper.chain.revert import error_decoder
from keeper.chain.transactions import FeePolicy, Sender
from keeper.client.adapters import AdapterClient
from keeper.client.base import AccessControlledClient
from keeper.client.clients import Clients
from keeper.client.trading import BackstopUnwind
from keeper.client.vault import LiquidationResult
from keeper.daemon.chain_watch import ChainWatch, wait_for_node
from keeper.daemon.config import JOBS, KeeperConfig
from keeper.daemon.metrics import Health, KeeperMetrics, serve
from keeper.exceptions import DryRun, MissingRoleError, PrimeVaultError, TransactionReverted
from keeper.liquidator import Scan, batches, liquidation_gas, scan
from keeper.pricestore import PriceStore
from keeper.risk.haircuts import Bounds, HaircutProposal, propose

log = logging.getLogger("primevault.keeper")
WAD = Decimal(10) ** 18
PPM = Decimal(10) ** 6

ORACLE_ERRORS = ("OracleStalePrice", "OracleInvalidPrice", "VenueBadPrice")
MAX_ORDERS_PER_BATCH = 20
# The role each job needs, and where; liquidation and reconciliation need none, haircuts only when applied.
ROLES_NEEDED = {
    "orders": ("EXECUTOR_ROLE", "trading module"),
    "backstop": ("EXECUTOR_ROLE", "trading module"),
    "margin": ("EXECUTOR_ROLE", "trading module"),
    "haircuts": ("RISK_MANAGER_ROLE", "vault"),
}


class Keeper:
    def __init__(self, config: KeeperConfig) -> None:
        self.config = config
        self.deployment = Deployment.load(config.deployment)
        self.w3: Web3 = connect(config.rpc_urls, config.rpc_timeout)
        self.watch = ChainWatch(self.w3, self.deployment)
        self.watch.check_at_start(wait_for_node(self.w3, config.rpc_urls, config.start_timeout))
        account = self._account()
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.sender = Sender(
            self.w3,
            account,
            error_decoder(),
            fees=FeePolicy(
                max_fee_cap=int(config.max_fee_gwei * 10**9),
                replace_after=config.replace_after,
                receipt_timeout=config.receipt_timeout,
            ),
            nonce_file=config.data_dir / f"nonce-{account.address}.json",
            dry_run=config.dry_run,
        )
        self.clients = Clients.build(self.w3, self.deployment, self.sender)
        self.vault = self.clients.vault
        self.trading = self.clients.trading
        self.prices = PriceStore(config.data_dir / "prices.sqlite")
        self.metrics = KeeperMetrics()
        self.health = Health(config.stale_after)
        self.stop = threading.Event()
        self.last_scan: Scan | None = None
        self._next_order = 0
        self._trading_paused = False
        self.unwinder = BackstopUnwinder(self.clients, self.trading) if self.trading is not None else None
        self.roles = self._check_roles()

    def _check_roles(self) -> frozenset[str]:
        """Checks that the key holds the role every enabled job needs, and says in one line which roles it
        holds and which jobs run; a missing role stops the keeper with a one-line `MissingRoleError` that names
        it and the jobs that need it."""
        me = self.sender.address
        contracts: dict[str, AccessControlledClient | None] = {"vault": self.vault, "trading module": self.trading}
        held = set()
        for role, where in sorted(set(ROLES_NEEDED.values())):
            contract = contracts[where]
            if contract is not None and contract.has_role(role, me):
                held.add(role)
        jobs = [job for job in JOBS if job in self.config.jobs]
        missing: dict[tuple[str, str], list[str]] = {}
        for job in jobs:
            need = self._role_needed(job)
            if need is not None and need[0] not in held:
                missing.setdefault(need, []).append(job)
        if missing:
            lacks = " and ".join(
                f"{role} on the {where} (needed by the {_and(needers)} job{'s' if len(needers) > 1 else ''})"
                for (role, where), needers in missing.items()
            )
            others = [job for job in jobs if not any(job in needers for needers in missing.values())]
            raise MissingRoleError(
                f"keeper key {me} lacks {lacks}: grant {'them' if len(missing) > 1 else 'it'}, "
                f"or run only the jobs it can (--jobs {','.join(others) or 'liquidation'})"
            )
        log.info("keeper %s holds %s; jobs: %s", me, ", ".join(sorted(held)) or "no role", ", ".join(jobs) or "none")
        return frozenset(held)

    def _role_needed(self, job: str) -> tuple[str, str] | None:
        need = ROLES_NEEDED.get(job)
        if need is None or (need[1] == "trading module" and self.trading is None):
            return None  # nothing to do without a trading module
        if job == "haircuts" and not self.config.apply_haircuts:
            return None  # only proposed
        return need

    def _runs(self, job: str) -> bool:
        return job in self.config.jobs

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
            found = scan(self.clients, self.config.shard)
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
        if not found.liquidatable or not self._runs("liquidation"):
            return []
        log.info("block %d: %d liquidatable of %d", found.block, len(found.liquidatable), len(found.accounts))
        return self._liquidate(found)

    def _liquidate(self, found: Scan) -> list[LiquidationResult]:
        """Liquidates every due account, with or without positions (the vault moves positions to its backstop
        book, so no venue is involved), most underwater first, in batches sized by each account's gas (more
        for each open perp slot). All batches are sent together, so that on a chain with several
        transactions per block they land in the same blocks. The vault skips accounts it cannot liquidate
        (`LiquidationSkipped`) instead of reverting; should a whole batch still revert, it is retried in
        halves, so that no account keeps the others in its batch from being liquidated."""
        gas = [liquidation_gas(found.open_slots.get(a, 0)) for a in found.liquidatable]
        pending = batches(found.liquidatable, self.config.gas_budget, gas)
        self.metrics.liquidations_sent.inc(len(found.liquidatable))
        results: list[LiquidationResult] = []
        while pending:
            outcomes = self._send("liquidate", self.vault.liquidate_batches, pending)
            if outcomes is None:  # a dry run
                return results
            retry: list[list[str]] = []
            for batch, outcome in zip(pending, outcomes, strict=True):
                if isinstance(outcome, TransactionReverted):
                    self._count_revert("liquidate", outcome)
                    if len(batch) > 1:
                        log.warning("retrying the %d accounts of the reverted batch in two halves", len(batch))
                        retry += [batch[: len(batch) // 2], batch[len(batch) // 2 :]]
                    else:
                        log.error("account %s could not be liquidated: %s", batch[0], outcome.error)
                    continue
                self.metrics.liquidations_mined.inc(len(outcome.liquidated))
                for account, reason in outcome.skipped:
                    self.metrics.liquidations_skipped.labels(reason.name).inc()
                    log.warning("account %s skipped by the vault: %s", account, reason)
                log.info(
                    "liquidated %d in block %d (%d skipped)",
                    len(outcome.liquidated),
                    outcome.block,
                    len(batch) - len(outcome.liquidated),
                )
                results.append(outcome)
            pending = retry
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
            self.metrics.healthy.set(1 if self.health.status()[0] else 0)  # a standing fault still counts
        return int(head["timestamp"])

    def _record_prices(self, found: Scan, now: int) -> None:
        """Price history at block time (one row per asset and second), for the haircut model."""
        due = [
            (token, config, price)
            for token, config, price in zip(
                self.deployment.collateral, self.vault.asset_configs(), found.params.prices, strict=True
            )
            if (last := self.prices.last_timestamp(token.symbol)) is None
            or now - last >= self.config.price_record_interval
        ]
        for token, config, price in due:
            self.prices.record(token.symbol, now, float(self.clients.feed(config.feed).to_price(price)))

    # ------------------------------------------------------------------ scheduled jobs

    def orders_job(self) -> None:
        """Executes open orders with the router's split and cancels expired ones. An order the contract refuses
        (reduce-only larger than the position, a limit the venues cannot meet, a revoked operator) is cancelled
        on chain with its reason and the rest of its batch executes. While trading is paused the contract
        executes nothing, so the job is skipped (one log line when the pause starts, one when it ends)."""
        if self.trading is None or not self._runs("orders"):
            return
        if self.vault.trading_paused():
            if not self._trading_paused:
                log.info("trading is paused: the orders job is skipped and open orders wait")
            self._trading_paused = True
            return
        if self._trading_paused:
            log.info("trading resumed: executing open orders")
            self._trading_paused = False
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
            self._execute_orders(open_ids[start : start + MAX_ORDERS_PER_BATCH])

    def _execute_orders(self, order_ids: list[int]) -> None:
        """Executes `order_ids` in one transaction. The contract cancels an order that fails inside it, so only
        a pause (the orders wait) or something unforeseen reverts the whole batch; then each order is sent
        alone, so that one cannot hold up the others."""
        assert self.trading is not None
        try:
            outcomes = self.trading.execute(order_ids, skip_closed=True)
        except DryRun as exc:
            log.info("%s", exc)
            return
        except TransactionReverted as exc:
            if exc.error.name == "Paused":
                log.info("trading was paused before the orders landed: they wait")
                self._trading_paused = True
                return
            self._count_revert("execute orders", exc)
            if len(order_ids) > 1:
                for order_id in order_ids:
                    self._execute_orders([order_id])
            return
        for outcome in outcomes:
            if outcome.executed:
                self.metrics.orders_executed.inc()
            else:
                self.metrics.orders_cancelled.labels(outcome.reason.name if outcome.reason else "unknown").inc()
                log.warning("order %d cancelled: %s", outcome.order_id, outcome.reason)

    def backstop_job(self, scanned_block: int | None = None) -> list[UnwindSlice]:
        """Unwinds the backstop book (positions taken from liquidated accounts) at the venues that hold it: one
        slice per (market, venue) and run, at most 20% of the book and small enough for the venue's price to
        stay inside the contract's band, with a limit inside the band. Where a slice would grow the vault's
        netted position at a venue past what its margin covers, margin is deposited there first. The slices
        are sent together, to share a block. Given the block the risk cycle just scanned, nothing is sent if a
        newer one has arrived meanwhile (it may move a price: its scan and liquidations go first). Returns the
        slices decided."""
        if self.unwinder is None or self.trading is None or not self._runs("backstop"):
            return []
        plans = self.unwinder.plan()
        if scanned_block is not None and self.w3.eth.block_number != scanned_block:
            log.debug("block %d arrived while planning the backstop unwind: it is scanned first", scanned_block + 1)
            return plans
        unwinds, sending = [], []
        for s in plans:
            if s.size == 0:
                log.warning(
                    "backstop %s at %s (%s): no slice fits the price band around %s now",
                    s.market,
                    s.venue,
                    s.book,
                    s.mark,
                )
                continue
            if s.deposit:
                log.info("%s: depositing %d margin before unwinding the backstop", s.venue, s.deposit)
                sent = self._send("deposit margin", self.trading.deposit_margin, s.venue_id, s.deposit)
                if sent is None and not self.config.dry_run:
                    continue  # reverted: the venue would refuse the slice too
            log.info(
                "unwinding %s of the %s %s backstop at %s (expected %s, limit %s)",
                s.size,
                s.book,
                s.market,
                s.venue,
                s.expected_price,
                s.limit,
            )
            unwinds.append(BackstopUnwind(s.market_id, s.venue_id, s.size, s.limit))
            sending.append(s)
        outcomes = self._send("unwind backstop", self.trading.unwind_backstop, unwinds) if unwinds else None
        for s, outcome in zip(sending, outcomes or [], strict=True):
            if isinstance(outcome, TransactionReverted):
                self.metrics.reverts.labels("unwind backstop").inc()
                log.error("unwinding the %s backstop at %s reverted: %s", s.market, s.venue, outcome.error)
            else:
                self.metrics.backstop_unwound.inc()
        return plans

    def margin_job(self) -> None:
        """Keeps each venue's margin between floor and ceiling of what the netted positions need, and claims
        matured withdrawals. Deposits are instant; withdrawals may take a delay, so they only ever take the
        margin down to the target, never to the floor."""
        if self.trading is None or not self._runs("margin"):
            return
        trading = self.trading
        for venue_id, adapter in enumerate(trading.adapters()):
            need = self._venue_requirement(venue_id, adapter)
            net = adapter.margin().net_collateral
            pending = adapter.pending_withdrawals()
            if pending:
                self._send("claim margin", trading.claim_margin_withdrawals, venue_id)
            # Only margin already at the venue backs positions; a pending withdrawal counts against the
            # ceiling (it is on its way out) but never toward the floor.
            minimum = self.config.margin_minimum * 10**self.deployment.base.decimals
            floor = max(int(need * self.config.margin_floor), minimum)
            target = max(int(need * self.config.margin_target), minimum)
            ceiling = max(int(need * self.config.margin_ceiling), minimum * 2)
            if net < floor:
                amount = target - net
                log.info("venue %d margin %d below floor %d: depositing %d", venue_id, net, floor, amount)
                self._send("deposit margin", trading.deposit_margin, venue_id, amount)
            elif net + pending > ceiling and net > target:
                amount = min(net + pending - target, net - target)
                log.info("venue %d margin %d above ceiling %d: withdrawing %d", venue_id, net, ceiling, amount)
                self._send("withdraw margin", trading.request_margin_withdrawal, venue_id, amount)

    def reconcile_job(self) -> int:
        """Compares each venue's position and margin with the vault's books; logs and counts mismatches,
        never fixes them."""
        if self.trading is None or not self._runs("reconcile"):
            return 0
        mismatches = 0
        for venue_id, adapter in enumerate(self.trading.adapters()):
            for market_id, market in enumerate(self.deployment.markets):
                books = self.trading.net_position(market_id, venue_id)
                venue = adapter.position(market_id)
                if books != venue:
                    mismatches += 1
                    self.metrics.mismatches.labels(adapter.name, "position").inc()
                    log.error(
                        "ALERT reconciliation: %s %s venue reports %d, vault books %d",
                        adapter.name,
                        market.ticker,
                        venue,
                        books,
                    )
            margin = adapter.margin()
            if margin.net_collateral < margin.maintenance_margin:
                mismatches += 1
                self.metrics.mismatches.labels(adapter.name, "margin").inc()
                log.error(
                    "ALERT reconciliation: %s margin %d below its maintenance %d",
                    adapter.name,
                    margin.net_collateral,
                    margin.maintenance_margin,
                )
        return mismatches

    def haircut_job(self, apply: bool | None = None) -> list[HaircutProposal]:
        """Proposes haircuts from price history and, if `apply`, pushes the ones allowed now."""
        apply = self.config.apply_haircuts if apply is None else apply
        proposals = []
        now = int(self.w3.eth.get_block("latest")["timestamp"])
        for config, token in zip(self.vault.asset_configs(), self.deployment.collateral, strict=True):
            bounds = self.vault.haircut_bounds(config.address)
            timestamps, prices = self.prices.series(token.symbol)
            proposal = propose(
                token.symbol,
                timestamps,
                prices,
                (config.initial_haircut_bps, config.maintenance_haircut_bps),
                Bounds(bounds.min_bps, bounds.max_bps, bounds.max_step_bps, bounds.min_interval, bounds.last_update),
                now,
                self.config.liquidity_addon_bps.get(token.symbol, 0),
            )
            proposals.append(proposal)
            self.metrics.haircut_bps.labels(token.symbol, "initial").set(config.initial_haircut_bps)
            self.metrics.haircut_bps.labels(token.symbol, "maintenance").set(config.maintenance_haircut_bps)
            if apply and proposal.changes:
                if "RISK_MANAGER_ROLE" not in self.roles:
                    log.error("%s: haircut update needs RISK_MANAGER_ROLE on the vault; not sent", token.symbol)
                    continue
                self._send(
                    "update haircuts",
                    self.vault.update_haircuts,
                    token.symbol,
                    proposal.next_initial_bps,
                    proposal.next_maintenance_bps,
                )
        return proposals

    # ------------------------------------------------------------------ running

    def run_once(self) -> None:
        """One cycle of everything, in order."""
        self.risk_cycle()
        self._guarded(self.backstop_job)
        for job in self._scheduled_jobs():
            self._guarded(job)

    def run(self) -> None:
        """Runs until SIGTERM or SIGINT; stops after the transaction in flight."""
        if threading.current_thread() is threading.main_thread():  # signals can only be caught there
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, self._on_signal)
        server = serve(self.metrics, self.health, self.config.metrics_port) if self.config.metrics_port else None
        scheduler = BackgroundScheduler()
        c = self.config
        intervals: dict[Callable[[], object], float] = {
            self.orders_job: c.orders_interval,
            self.margin_job: c.margin_interval,
            self.reconcile_job: c.reconcile_interval,
            self.haircut_job: c.haircut_interval,
        }
        for job in self._scheduled_jobs():
            seconds = intervals[job]
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

    def _scheduled_jobs(self) -> list[Callable[[], object]]:
        """The enabled jobs that run on a timer, in cycle order (liquidation and the backstop unwind run on
        every new block)."""
        jobs: dict[str, Callable[[], object]] = {
            "orders": self.orders_job,
            "margin": self.margin_job,
            "reconcile": self.reconcile_job,
            "haircuts": self.haircut_job,
        }
        return [jobs[name] for name in JOBS if name in jobs and self._runs(name)]

    def _on_signal(self, signum: int, _frame: object) -> None:
        """The first signal stops after the transaction in flight; a second one exits at once."""
        if self.stop.is_set():
            log.warning("second %s: exiting now", signal.Signals(signum).name)
            os._exit(128 + signum)
        log.info("%s: stopping after the transaction in flight (again to exit now)", signal.Signals(signum).name)
        self.stop.set()

    def _on_new_block(self) -> None:
        problem = self.watch.problem_now()
        if problem is not None:
            self.health.set_fault("node", problem)
            self.metrics.healthy.set(0)
            return
        self.health.clear_fault("node")
        head = self.watch.new_head()
        if head is None:
            return
        block = head.number
        self._guarded(self.risk_cycle)
        # The backstop unwind follows the scan in the same thread, one slice per slot and block, and only when
        # no block arrived during the scan: a newer block (a price move?) is scanned, and liquidated, first.
        if self._runs("backstop") and self.w3.eth.block_number == block:
            self._guarded(functools.partial(self.backstop_job, block))
        self.metrics.blocks_behind.set(self.w3.eth.block_number - block)

    def _guarded(self, job: Callable[[], object]) -> None:
        """Runs a job; an error is logged and counted, never fatal."""
        name = getattr(job, "__name__", None) or getattr(getattr(job, "func", None), "__name__", "job")
        try:
            job()
        except PrimeVaultError as exc:
            log.error("%s: %s", name, exc)
        except Exception:
            log.exception("%s failed", name)

    def _send(self, action: str, send: Callable[..., Any], *args: Any) -> Any:
        """Calls `send(*args)`; in dry-run mode logs the decision instead; a revert is counted."""
        try:
            outcome = send(*args)
        except DryRun as exc:
            log.info("%s", exc)
        except TransactionReverted as exc:
            self._count_revert(action, exc)
        except Exception as exc:
            # A transaction that cannot be sent (node down, nonce or fee refused) makes the keeper unhealthy until
            # one goes through.
            self.health.set_fault("send", f"{action} could not be sent: {type(exc).__name__}: {exc}")
            self.metrics.healthy.set(0)
            raise
        else:
            self.health.clear_fault("send")
            return outcome
        return None

    def _count_revert(self, action: str, exc: TransactionReverted) -> None:
        self.metrics.reverts.labels(action).inc()
        log.error("%s reverted: %s", action, exc.error)

    def _venue_requirement(self, venue_id: int, adapter: AdapterClient) -> int:
        """Initial margin the venue asks for the vault's netted positions there, base-token units."""
        assert self.trading is not None
        need = Decimal(0)
        for market_id, market in enumerate(self.deployment.markets):
            size = self.trading.net_position(market_id, venue_id)
            if not size:
                continue
            mark = self.clients.feed(market.feed).price()
            need += abs(Decimal(size)) / WAD * mark * Decimal(adapter.market(market_id).initial_margin_ppm) / PPM
        return int(need.scaleb(self.deployment.base.decimals))


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"

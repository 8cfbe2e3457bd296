"""The liquidation job, run on every new block: judge every account at the latest block, keep the health and price
history up to date, and liquidate the accounts that are due."""

from __future__ import annotations

import logging
import time

from keeper.client.vault import LiquidationResult
from keeper.exceptions import PriceHistoryError, TransactionReverted
from keeper.follower import AccountFollower
from keeper.jobs.context import JobContext
from keeper.liquidator import LIQUIDATION_GAS_BASE, Scan, batches
from keeper.risk.liquidation_gas import LiquidationGasModel

log = logging.getLogger("primevault.keeper")

ORACLE_ERRORS = ("OracleStalePrice", "OracleInvalidPrice", "VenueBadPrice")


class LiquidationJob:
    name = "liquidation"

    def __init__(self, context: JobContext) -> None:
        self.context = context
        self.follower = AccountFollower(context.clients, context.config.shard)
        self.gas_model = LiquidationGasModel()  # learnt from the batches this job sends
        self.last_scan: Scan | None = None
        self._history_failing = False  # the price history could not be written, and has not been since

    def run(self) -> list[LiquidationResult]:
        """Judges every account at the latest block (read in full at start and now and then, followed through the
        logs in between: `keeper.follower`) and, if the job is enabled, liquidates the ones that are due."""
        c = self.context
        started = time.monotonic()
        try:
            found = self.follower.update()
        except TransactionReverted as exc:
            if exc.error.name in ORACLE_ERRORS:
                c.health.fail(f"price feed unusable: {exc.error}")
                c.metrics.healthy.set(0)
                log.error("scan stopped: %s; no liquidation is sent on a bad price", exc.error)
                return []
            raise
        self.last_scan = found
        if c.config.shard[1] == 1:  # a shard sees only its accounts: the margin jobs fall back to the netted book
            c.legs.set(found.book.gross_legs())
        if found.unusable_assets:
            # The vault skips accounts it cannot price; the keeper leaves them out and goes on with the rest.
            c.health.fail(f"price feed unusable for {', '.join(found.unusable_assets)}")
            log.error(
                "price of %s unusable: %d accounts holding it are left out of this scan",
                ", ".join(found.unusable_assets),
                len(found.unpriced),
            )
        c.metrics.scan_seconds.observe(time.monotonic() - started)
        c.metrics.accounts_scanned.set(len(found.book))
        c.metrics.liquidatable.set(len(found.liquidatable))
        # The haircuts in force, every block from the first (the haircuts job only runs every `haircut_interval`).
        for k, token in enumerate(c.deployment.collateral):
            c.metrics.haircut_bps.labels(token.symbol, "initial").set(found.params.initial_haircut_bps[k])
            c.metrics.haircut_bps.labels(token.symbol, "maintenance").set(found.params.maintenance_haircut_bps[k])
        self._check_chain_fresh(found.block_time, healthy=not found.unusable_assets)
        results: list[LiquidationResult] = []
        if found.liquidatable and c.runs(self.name):
            log.info("block %d: %d liquidatable of %d", found.block, len(found.liquidatable), len(found.book))
            results = self.liquidate(found)
        # After the liquidations, which must never wait on it: the history only feeds the haircut model.
        self._keep_price_history(found)
        return results

    def liquidate(self, found: Scan) -> list[LiquidationResult]:
        """Liquidates every due account, with or without positions (the vault moves positions to its backstop
        book, so no venue is involved), most underwater first, in batches sized by each account's gas (more for
        each open perp slot; the figures are fitted to the gas of the batches mined so far). All batches are sent
        together, so that on a chain with several transactions per block they land in the same blocks. The vault
        skips accounts it cannot liquidate (`LiquidationSkipped`) instead of reverting; should a whole batch still
        revert, it is retried in halves, so that no account keeps the others in its batch from being liquidated.

        Each batch of lending accounts is simulated once at the gas it was sized to (its accounts' figures and the
        base, which includes the interest accrual the mined block writes) and sent with that limit, so that its
        limit never passes the gas budget and blocks fill; only a batch that does not fit is estimated, which runs
        it many times: at 100,000 accounts a price move's 54 batches spent 35 s in estimates."""
        c = self.context
        gas = [self.gas_model.gas(found.open_slots.get(a, 0)) for a in found.liquidatable]
        pending = batches(found.liquidatable, c.config.gas_budget, gas)
        results: list[LiquidationResult] = []
        figures = dict(zip(found.liquidatable, gas, strict=True))
        # Lending accounts only: what moving positions to the backstop book costs varies with the books, so a batch
        # holding positions is estimated.
        limits: list[int | None] | None = [
            None
            if any(found.open_slots.get(a, 0) for a in batch)
            else LIQUIDATION_GAS_BASE + sum(figures[a] for a in batch)
            for batch in pending
        ]
        while pending:
            outcomes = c.send("liquidate", c.vault.liquidate_batches, pending, limits)
            limits = None  # halves of a batch that reverted are estimated
            if outcomes is None:  # a dry run: simulated, not sent
                return results
            c.metrics.liquidations_sent.inc(sum(len(batch) for batch in pending))
            retry: list[list[str]] = []
            for batch, outcome in zip(pending, outcomes, strict=True):
                if isinstance(outcome, TransactionReverted):
                    c.count_revert("liquidate", outcome)
                    if len(batch) > 1:
                        log.warning("retrying the %d accounts of the reverted batch in two halves", len(batch))
                        retry += [batch[: len(batch) // 2], batch[len(batch) // 2 :]]
                    else:
                        log.error("account %s could not be liquidated: %s", batch[0], outcome.error)
                    continue
                c.metrics.liquidations_mined.inc(len(outcome.liquidated))
                slots = sum(found.open_slots.get(a, 0) for a in batch)
                self.gas_model.observe(len(batch), slots, outcome.gas_used)
                for account, reason in outcome.skipped:
                    c.metrics.liquidations_skipped.labels(reason.name).inc()
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

    def _check_chain_fresh(self, block_time: int, healthy: bool = True) -> None:
        """Marks the keeper unhealthy when the scanned block is too old."""
        c = self.context
        age = time.time() - block_time
        if age > c.config.stale_after:
            c.health.fail(f"chain head is {age:.0f}s old")
            c.metrics.healthy.set(0)
        elif not healthy:
            c.metrics.healthy.set(0)
        else:
            c.health.ok()
            c.metrics.healthy.set(1 if c.health.status()[0] else 0)  # a standing fault still counts

    def _keep_price_history(self, found: Scan) -> None:
        """Records the block's prices (`_record_prices`); a history that cannot be written (its directory read-only,
        the disk full) is said once, counted, and makes the keeper unhealthy until a write goes through again, while
        the scans and liquidations go on."""
        c = self.context
        try:
            self._record_prices(found)
        except PriceHistoryError as exc:  # the store's own failure; a node's goes up as ever
            c.metrics.job_failures.labels("price history").inc()
            if not self._history_failing:
                log.error("price history: %s; liquidations go on, the haircut model waits for it", exc)
            self._history_failing = True
            c.health.set_fault("price history", f"the price history cannot be written: {exc}")
            return
        if self._history_failing:
            log.info("price history: written again")
            self._history_failing = False
            c.health.clear_fault("price history")

    def _record_prices(self, found: Scan) -> None:
        """Price history at block time (one row per asset and every `price_record_interval`), for the haircut model;
        the configs (for the feeds' decimals) are read only when a row is due."""
        c = self.context
        now = found.block_time
        # An unusable price (a stale or invalid feed) reads as 0 in the scan: it is no price to record.
        interval = c.config.price_record_interval
        due = [
            k
            for k, token in enumerate(c.deployment.collateral)
            if found.params.prices[k] > 0
            and ((last := c.prices.last_timestamp(token.symbol)) is None or now - last >= interval)
        ]
        if not due:
            return
        configs = c.vault.asset_configs(found.block)
        for k in due:
            feed = c.clients.feed(configs[k].feed)
            c.prices.record(c.deployment.collateral[k].symbol, now, float(feed.to_price(found.params.prices[k])))

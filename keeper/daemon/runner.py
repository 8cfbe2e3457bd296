"""The keeper daemon: a thin runner over the jobs in `keeper/jobs/`. On every new block it checks the node, scans
and liquidates, then unwinds the backstop book; the other jobs run on timers. Signals stop it, the metrics server
serves `/metrics` and `/healthz`."""

from __future__ import annotations

import errno
import functools
import logging
import os
import signal
import threading
from collections.abc import Callable
from http.server import ThreadingHTTPServer

import requests
from apscheduler.schedulers.background import BackgroundScheduler
from web3.exceptions import Web3RPCError

from keeper.chain.provider import NODE_AWAY, shown_url
from keeper.client.venues import node_message
from keeper.daemon.chain_watch import NODE_GARBLED, garbled_request, garbled_words, node_url, request_method
from keeper.daemon.config import KeeperConfig, addon_problems
from keeper.daemon.metrics import serve
from keeper.exceptions import ConfigError, PrimeVaultError, TransactionFateUnknown
from keeper.jobs import Jobs
from keeper.jobs.context import JobContext, Stopping
from keeper.jobs.roles import check_roles
from keeper.wiring import wire

log = logging.getLogger("primevault.keeper")


class Keeper:
    def __init__(self, config: KeeperConfig) -> None:
        self.config = config
        # The daemon waits for its node to come up (start_timeout); one cycle (--once) fails at once without it.
        wiring = wire(config, wait=not config.once)
        assert wiring.sender is not None
        # Checked here too, where the deployment is known, for a config that did not come through `load_config`.
        problems = addon_problems(config.liquidity_addon_bps, [t.symbol for t in wiring.deployment.collateral])
        # A seat the deployment lacks (a keeper file left by an earlier `devnet --seat`) would keep every order from
        # trading: the orders and seat jobs look each seat up by name, and fail each cycle.
        venues = [venue.name for venue in wiring.deployment.venues]
        problems += [
            f"seat_venues: no venue {name!r} in this deployment (its venues: {', '.join(venues)})"
            for name in config.seat_venues
            if name not in venues
        ]
        if problems:
            raise ConfigError("invalid keeper configuration: " + "; ".join(problems))
        self.w3 = wiring.w3
        self.watch = wiring.watch
        self.sender = wiring.sender
        self.clients = wiring.clients
        roles = check_roles(config, self.clients, self.sender.address)
        self.context = JobContext.build(config, self.clients, roles)
        self.metrics = self.context.metrics
        self.health = self.context.health
        self.jobs = Jobs.build(self.context)
        # Set by the first signal: the jobs start no new transaction after it (`JobContext.may_send`).
        self.stop = self.context.stopping
        # The jobs whose last run met a node answering garbage (not JSON-RPC), with the request: said once when the
        # first one meets it and once when the last one runs through again.
        self._garbled: dict[str, str] = {}
        self._garbled_said: set[str] = set()  # each fault said once while the node misbehaves, another one too
        self._garbled_lock = threading.Lock()
        if "seat" in config.jobs and not config.seat_venues:
            log.info("no seat_venues configured: the seat job is skipped")

    def run_once(self) -> None:
        """One cycle of everything, in order (the seat, which forwards fills as they come, runs only in `run`)."""
        self.jobs.liquidation.run()
        self._guarded("backstop", self.jobs.backstop.run)
        for name, job, _ in self._scheduled_jobs():
            self._guarded(name, job)

    def run(self) -> None:
        """Runs until SIGTERM, SIGINT or SIGHUP; stops after the transaction in flight."""
        c = self.config
        server = self._serve_metrics()  # first: a port in use stops the keeper before it takes the signals
        if threading.current_thread() is threading.main_thread():  # signals can only be caught there
            # SIGHUP too: a closed terminal or SSH session stops the keeper as SIGTERM does, never mid-transaction.
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(sig, self._on_signal)
        scheduler = BackgroundScheduler()
        for name, job, seconds in self._scheduled_jobs():
            scheduler.add_job(
                self._timed, "interval", args=[name, job], seconds=seconds, max_instances=1, coalesce=True
            )
        scheduler.start()
        self.jobs.seat.start()
        log.info("keeper running as %s on %s", self.sender.address, shown_url(c.rpc_urls[0]))
        try:
            while not self.stop.is_set():
                self._guarded("new block", self._on_new_block)
                self.stop.wait(c.poll_interval)
        finally:
            self.jobs.seat.stop()
            scheduler.shutdown(wait=True)
            if server is not None:
                server.shutdown()
            self.context.prices.close()
            log.info("keeper stopped")

    def _serve_metrics(self) -> ThreadingHTTPServer | None:
        """The /metrics and /healthz server, or None when metrics are off; a port that cannot be bound (another
        keeper, or another program, holds it) stops the keeper with one line before it does anything."""
        port = self.config.metrics_port
        if not port:
            return None
        try:
            return serve(self.metrics, self.health, port)
        except OSError as exc:
            self.context.prices.close()
            reason = "it is already in use" if exc.errno == errno.EADDRINUSE else exc.strerror or type(exc).__name__
            raise ConfigError(
                f"metrics_port: cannot serve /metrics on 127.0.0.1:{port} ({reason}): pass another --metrics-port "
                "(PRIMEVAULT_METRICS_PORT, metrics_port), or off"
            ) from None

    def _scheduled_jobs(self) -> list[tuple[str, Callable[[], object], float]]:
        """The enabled jobs that run on a timer, in cycle order, with their intervals (liquidation and the backstop
        unwind run on every new block)."""
        c = self.config
        timed = (
            (self.jobs.orders.name, self.jobs.orders.run, c.orders_interval),
            (self.jobs.margin.name, self.jobs.margin.run, c.margin_interval),
            (self.jobs.reconcile.name, self.jobs.reconcile.run, c.reconcile_interval),
            (self.jobs.haircuts.name, self.jobs.haircuts.run, c.haircut_interval),
        )
        return [(name, job, seconds) for name, job, seconds in timed if self.context.runs(name)]

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
        self._guarded("liquidation", self.jobs.liquidation.run)
        # The backstop unwind follows the scan in the same thread, one slice per slot and block, and only when
        # no block arrived during the scan: a newer block (a price move?) is scanned, and liquidated, first.
        if self.context.runs("backstop") and self.w3.eth.block_number == block:
            self._guarded("backstop", functools.partial(self.jobs.backstop.run, block))
        self.metrics.blocks_behind.set(self.w3.eth.block_number - block)

    def _timed(self, name: str, job: Callable[[], object]) -> None:
        """Runs a timed job unless the last cycle found the node wrong or away (said once then, by the watch), and
        records how long it took: a run longer than the job's interval makes the scheduler skip the next one, which
        `primevault_job_duration_seconds` shows instead of a warning a run."""
        if self.watch.problem is None:
            with self.metrics.job_seconds.labels(name).time():
                self._guarded(name, job)

    def _guarded(self, name: str, job: Callable[[], object]) -> None:
        """Runs a job; an error is logged and counted (`primevault_job_failures`), never fatal. Once the keeper is
        stopping no job starts, and one that reaches a new transaction ends there (the one in flight finishes)."""
        if self.stop.is_set():
            return
        try:
            job()
        except Stopping as exc:
            log.info("%s: %s", name, exc)
            return
        except NODE_GARBLED as exc:
            method = garbled_request(exc)
            if method is None:  # not the node's answer: a fault of the keeper's own
                log.exception("%s failed", name)
            else:
                self._node_garbled(name, method, garbled_words(self.w3, method, exc))
        except Web3RPCError as exc:
            # The node's own error to a read or a send (a provider's rate limit, a pruned state): the node's fault,
            # said once as a garbled answer is; each job logged it with a traceback every cycle.
            method = request_method(exc)
            words = f"the node at {node_url(self.w3)} answers {method} with an error: {node_message(exc)}"
            self._node_garbled(name, method, words)
        except requests.HTTPError as exc:
            # An HTTP error in place of a read's answer (a provider's 429 rate limit, a gateway's 502): the node's
            # fault, said once as its error answers are; it was a traceback a job a cycle, and one a block poll,
            # each ending in the URL whole (the provider's key with it).
            method = request_method(exc)
            status = exc.response.status_code if exc.response is not None else "an error"
            self._node_garbled(name, method, f"the node at {node_url(self.w3)} answers {method} with HTTP {status}")
        except TransactionFateUnknown as exc:
            # The node went away while a transaction of the job awaited its block: the node's absence, as below; the
            # transaction is mined when the node is back, or its nonce replaced as stuck by the next send.
            cause = type(exc.__cause__).__name__ if exc.__cause__ is not None else "no answer"
            log.warning(
                "%s: interrupted, the node did not answer (%s) once %s was sent as %s (nonce %d)",
                name, cause, exc.action, exc.tx_hash, exc.nonce,
            )  # fmt: skip
        except PrimeVaultError as exc:
            log.error("%s: %s", name, exc)
        except NODE_AWAY as exc:
            # The node went away mid-job: the next cycle's check says so once, and nothing runs until it is back.
            log.warning("%s: interrupted, the node did not answer (%s)", name, type(exc).__name__)
        except Exception:
            log.exception("%s failed", name)
        else:
            if name in self._garbled:  # read without the lock: the common case costs nothing
                self._node_answers(name)
            return
        self.metrics.job_failures.labels(name).inc()

    def _node_garbled(self, name: str, method: str, words: str) -> None:
        """A job met an answer from the node that is not JSON-RPC, or an error in its place: one line (`words`) for
        each fault the first time it is met, while the node keeps answering so a debug line a job, and the keeper
        unhealthy meanwhile. A fault met after another is said too: a rate limit said first must not hide a refusal
        that needs the operator (the key without gas money)."""
        with self._garbled_lock:
            self._garbled[name] = method
            new = words not in self._garbled_said
            self._garbled_said.add(words)
        if not new:
            log.debug("%s: interrupted, %s", name, words)
            return
        log.error("%s: the jobs that need it wait; said again once it answers", words)
        self.health.set_fault("rpc", words)
        self.metrics.healthy.set(0)

    def _node_answers(self, name: str) -> None:
        with self._garbled_lock:
            method = self._garbled.pop(name, None)
            last = method is not None and not self._garbled
            if last:
                self._garbled_said.clear()
        if last:
            log.info("the node at %s answers JSON-RPC again (%s)", node_url(self.w3), method)
            self.health.clear_fault("rpc")

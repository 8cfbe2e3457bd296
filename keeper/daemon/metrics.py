"""Prometheus metrics and a `/healthz` endpoint on one port."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class KeeperMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.accounts_scanned = Gauge("primevault_accounts_scanned", "Accounts in the last risk scan", registry=r)
        self.liquidatable = Gauge("primevault_accounts_liquidatable", "Accounts found liquidatable", registry=r)
        self.liquidations_sent = Counter("primevault_liquidations_sent", "Accounts sent for liquidation", registry=r)
        self.liquidations_mined = Counter("primevault_liquidations_mined", "Accounts liquidated on chain", registry=r)
        self.liquidations_skipped = Counter(
            "primevault_liquidations_skipped", "Accounts the vault skipped in a batch", ["reason"], registry=r
        )
        self.reverts = Counter(
            "primevault_transaction_reverts", "Transactions that reverted or were refused", ["action"], registry=r
        )
        self.scan_seconds = Histogram("primevault_scan_duration_seconds", "Risk scan duration", registry=r)
        self.job_seconds = Histogram(
            "primevault_job_duration_seconds", "Duration of each run of a timed job", ["job"], registry=r
        )
        self.job_failures = Counter(
            "primevault_job_failures", "Runs of a job (or a seat's step) that ended in an error", ["job"], registry=r
        )
        self.blocks_behind = Gauge("primevault_blocks_behind", "Chain head minus the last scanned block", registry=r)
        self.mismatches = Counter(
            "primevault_reconciliation_mismatches", "Venue/vault mismatches found", ["venue", "kind"], registry=r
        )
        self.haircut_bps = Gauge("primevault_haircut_bps", "Current haircuts", ["asset", "kind"], registry=r)
        self.orders_executed = Counter("primevault_orders_executed", "Orders executed", registry=r)
        self.orders_routed = Counter("primevault_orders_routed", "Orders committed to the keeper's seat", registry=r)
        self.backstop_unwound = Counter(
            "primevault_backstop_unwinds", "Slices of the backstop book closed at a venue", registry=r
        )
        self.orders_cancelled = Counter("primevault_orders_cancelled", "Orders cancelled", ["reason"], registry=r)
        self.healthy = Gauge("primevault_keeper_healthy", "1 when the chain and prices are fresh", registry=r)
        # The vault's own exposure to each venue, base-token units (see `keeper.client.adapters.VenueExposure`).
        venue = ["venue"]
        self.venue_collateral = Gauge(
            "primevault_venue_collateral", "The vault's net collateral at a venue, PnL included", venue, registry=r
        )
        self.venue_maintenance = Gauge(
            "primevault_venue_maintenance_margin", "What a venue asks to keep the vault's positions", venue, registry=r
        )
        self.venue_margin_posted = Gauge(
            "primevault_venue_margin_posted", "Margin sent to a venue less what came back from it", venue, registry=r
        )
        self.venue_pnl = Gauge(
            "primevault_venue_pnl",
            "What the vault's account at a venue gained on the margin posted (PnL, funding, fees)",
            venue,
            registry=r,
        )
        self.venue_withdrawals = Gauge(
            "primevault_venue_withdrawals_pending", "Margin asked back from a venue, not yet paid", venue, registry=r
        )
        self.venue_deposits = Gauge(
            "primevault_venue_deposits_in_flight", "Margin sent to a seat's exchange, not credited", venue, registry=r
        )
        self.venue_margin_room = Gauge(
            "primevault_venue_margin_room", "What a deposit may still send a seat under its cap", venue, registry=r
        )
        self.venue_report_age = Gauge(
            "primevault_venue_report_age_seconds", "Age of a seat's last report of its account", venue, registry=r
        )


class Health:
    """Turns unhealthy when the chain or prices go stale, or a scan keeps failing."""

    def __init__(self, stale_after: float) -> None:
        self.stale_after = stale_after
        self._lock = threading.Lock()
        self._last_ok = time.monotonic()
        self._reason = "starting"
        self._ok = False
        # Conditions that keep the keeper unhealthy until cleared by name, whatever the scans say (a wrong
        # node, transactions that cannot be sent).
        self._faults: dict[str, str] = {}

    def set_fault(self, name: str, reason: str) -> None:
        with self._lock:
            self._faults[name] = reason

    def clear_fault(self, name: str) -> None:
        with self._lock:
            self._faults.pop(name, None)

    def ok(self) -> None:
        with self._lock:
            self._last_ok, self._ok, self._reason = time.monotonic(), True, ""

    def fail(self, reason: str) -> None:
        with self._lock:
            self._ok, self._reason = False, reason

    def status(self) -> tuple[bool, str]:
        with self._lock:
            if self._faults:
                return False, "; ".join(self._faults.values())
            if self._ok and time.monotonic() - self._last_ok > self.stale_after:
                return False, f"no successful scan for {time.monotonic() - self._last_ok:.0f}s"
            return self._ok, self._reason or "ok"


def serve(metrics: KeeperMetrics, health: Health, port: int) -> ThreadingHTTPServer:
    """Serves `/metrics` and `/healthz` on `port` (127.0.0.1) from a background thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            # Without the query string: Prometheus sends a scrape job's `params` as one (/metrics?module=keeper).
            path = urlsplit(self.path).path
            if path == "/metrics":
                body, status, kind = generate_latest(metrics.registry), 200, CONTENT_TYPE_LATEST
            elif path == "/healthz":
                ok, reason = health.status()
                body, status, kind = reason.encode() + b"\n", 200 if ok else 503, "text/plain"
            else:
                body, status, kind = b"not found\n", 404, "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server

"""What every job shares: the settings, the clients, the signer, the price history, the metrics and health, the
roles the key holds, and one way to send a transaction (a revert is counted, a send that fails turns the keeper
unhealthy until one succeeds)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from web3 import Web3

from keeper.chain.deployment import Deployment
from keeper.chain.transactions import Sender
from keeper.client.clients import Clients
from keeper.client.trading import TradingClient
from keeper.client.vault import VaultClient
from keeper.daemon.chain_watch import garbled_request, garbled_words
from keeper.daemon.config import KeeperConfig
from keeper.daemon.metrics import Health, KeeperMetrics
from keeper.exceptions import DryRun, TransactionFateUnknown, TransactionReverted
from keeper.pricestore import PriceStore
from keeper.routing import VenueBook

log = logging.getLogger("primevault.keeper")

PRICE_FILE = "prices.sqlite"  # the price history in `data_dir`, which the haircuts job reads


class Stopping(Exception):
    """The keeper was told to stop (SIGTERM, SIGINT, SIGHUP) and a job reached a new transaction: it is not sent, and
    the job ends there. The transaction in flight when the signal came is not this: it finishes."""

    def __init__(self, action: str) -> None:
        super().__init__(f"{action} not sent: the keeper is stopping")
        self.action = action


class GrossLegs:
    """The latest scan's gross legs per (market, venue) slot (`keeper.risk.margin.gross_legs`), shared between the
    liquidation job that writes them and the margin and seat jobs that read them, on other threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._legs: Mapping[int, int] | None = None

    def set(self, legs: Mapping[int, int]) -> None:
        with self._lock:
            self._legs = dict(legs)

    def get(self) -> Mapping[int, int] | None:
        """None until a scan of every account has run."""
        with self._lock:
            return self._legs


class SeatBooks:
    """The order books the seat job last read at each seat's venue, per (venue id, ticker), for the orders job to
    route across the seats; written and read on different threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._books: dict[tuple[int, str], VenueBook] = {}

    def set(self, venue_id: int, ticker: str, book: VenueBook) -> None:
        with self._lock:
            self._books[(venue_id, ticker)] = book

    def get(self, venue_id: int, ticker: str) -> VenueBook | None:
        with self._lock:
            return self._books.get((venue_id, ticker))


@dataclass(frozen=True)
class JobContext:
    config: KeeperConfig
    clients: Clients
    prices: PriceStore
    metrics: KeeperMetrics
    health: Health
    roles: frozenset[str] = frozenset()  # held by the key (see `keeper.jobs.roles.check_roles`)
    legs: GrossLegs = field(default_factory=GrossLegs)
    books: SeatBooks = field(default_factory=SeatBooks)
    # Set when the keeper is told to stop: no job starts a new transaction after it (`may_send`).
    stopping: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def build(cls, config: KeeperConfig, clients: Clients, roles: frozenset[str] = frozenset()) -> JobContext:
        """A context with the price history in `config.data_dir` and fresh metrics."""
        config.data_dir.mkdir(parents=True, exist_ok=True)
        prices = PriceStore(config.data_dir / PRICE_FILE)
        return cls(config, clients, prices, KeeperMetrics(), Health(config.stale_after), roles)

    @property
    def w3(self) -> Web3:
        return self.clients.w3

    @property
    def deployment(self) -> Deployment:
        return self.clients.deployment

    @property
    def sender(self) -> Sender | None:
        return self.clients.sender

    @property
    def vault(self) -> VaultClient:
        return self.clients.vault

    @property
    def trading(self) -> TradingClient | None:
        return self.clients.trading

    def runs(self, job: str) -> bool:
        return job in self.config.enabled_jobs

    def may_send(self, action: str) -> None:
        """Raises `Stopping` once the keeper is stopping: every job calls it (through `send`, or itself before a
        transaction it sends through a client) so that nothing new is sent after the signal."""
        if self.stopping.is_set():
            raise Stopping(action)

    def send(self, action: str, send: Callable[..., Any], *args: Any) -> Any:
        """Calls `send(*args)`; in dry-run mode logs the decision instead; a revert is counted. Returns what `send`
        returned, or None for a dry run or a revert. Once the keeper is stopping, raises `Stopping` instead."""
        self.may_send(action)
        try:
            outcome = send(*args)
        except DryRun as exc:
            log.info("%s", exc)
        except TransactionReverted as exc:
            self.count_revert(action, exc)
        except Exception as exc:
            # A transaction that cannot be sent (node down, nonce or fee refused), or sent but not known to be mined
            # (the node went away meanwhile: its message names it), makes the keeper unhealthy until one goes through.
            method = garbled_request(exc)
            if isinstance(exc, TransactionFateUnknown):
                fault = str(exc)
            elif method is not None:  # the decoder's message quotes the whole page: the node's fault, in words
                fault = f"{action} could not be sent: {garbled_words(self.w3, method, exc)}"
            else:
                fault = f"{action} could not be sent: {type(exc).__name__}: {exc}"
            self.health.set_fault("send", fault)
            self.metrics.healthy.set(0)
            raise
        else:
            self.health.clear_fault("send")
            return outcome
        return None

    def count_revert(self, action: str, exc: TransactionReverted) -> None:
        self.metrics.reverts.labels(action).inc()
        log.error("%s reverted: %s", action, exc.error)

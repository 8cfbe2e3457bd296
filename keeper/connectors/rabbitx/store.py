"""The connector's durable memory, one SQLite file per exchange account in the keeper's data directory.

- Every fill the connector has passed on, by its venue id, with whether the consumer acknowledged it (reported it
  on chain). A fill is passed on only when its id is new here, so the WebSocket, REST recovery and a restart can
  all see the same fill and it still goes out once; one passed on but not acknowledged when the process stopped
  goes out again after a restart (it was never reported), and an acknowledged one never does.
- The newest fill timestamp, from which REST recovery reads on.
- Every client_order_id the connector has placed, so one is never used twice on the account.

Each change is committed before the call returns, so what a crash leaves is what was last returned.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from keeper.connectors.rabbitx.errors import DuplicateClientOrderIdError, RabbitXError
from keeper.connectors.rabbitx.models import Fill
from keeper.exceptions import ConfigError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS fills (
    fill_id TEXT PRIMARY KEY,
    timestamp INTEGER NOT NULL,
    record TEXT NOT NULL,
    acknowledged INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS client_orders (client_order_id TEXT PRIMARY KEY, market_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class ConnectorStore:
    def __init__(self, path: Path, base_url: str) -> None:
        """Open (or create) the store at `path` for the exchange at `base_url`; a store made for another exchange
        is refused, so that a devnet's fills and cursor never mix with the real exchange's."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.executescript(_SCHEMA)
        row = self._db.execute("SELECT value FROM settings WHERE name = 'base_url'").fetchone()
        if row is None:
            self._db.execute("INSERT INTO settings VALUES ('base_url', ?)", (base_url,))
        elif row[0] != base_url:
            self._db.close()
            raise ConfigError(f"{path} holds the fills of {row[0]}, not of {base_url}: use another data_dir")

    def record_fill(self, fill: Fill) -> bool:
        """Remember `fill`; True if its id is new (pass it on), False if it was seen before (drop it)."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO fills (fill_id, timestamp, record) VALUES (?, ?, ?)",
            (fill.fill_id, fill.timestamp, json.dumps(fill.to_json())),
        )
        return cursor.rowcount == 1

    def acknowledge(self, fill_id: str) -> None:
        """The consumer has reported `fill_id`: it is never passed on again."""
        cursor = self._db.execute("UPDATE fills SET acknowledged = 1 WHERE fill_id = ?", (fill_id,))
        if cursor.rowcount != 1:
            raise RabbitXError(f"cannot acknowledge fill {fill_id!r}: the connector never passed it on")

    def unacknowledged(self) -> list[Fill]:
        """Fills passed on but not acknowledged, oldest first: after a restart they go out again."""
        rows = self._db.execute("SELECT record FROM fills WHERE acknowledged = 0 ORDER BY timestamp, rowid").fetchall()
        return [Fill.from_json(json.loads(row[0])) for row in rows]

    def newest_fill_timestamp(self) -> int | None:
        row = self._db.execute("SELECT MAX(timestamp) FROM fills").fetchone()
        return int(row[0]) if row[0] is not None else None

    def claim_client_order_id(self, client_order_id: str, market_id: str) -> None:
        """Reserve `client_order_id` before its order is sent; DuplicateClientOrderIdError if it was used."""
        try:
            self._db.execute("INSERT INTO client_orders VALUES (?, ?)", (client_order_id, market_id))
        except sqlite3.IntegrityError:
            raise DuplicateClientOrderIdError(
                f"client_order_id {client_order_id!r} was used before on this account: give each order a new one"
            ) from None

    def release_client_order_id(self, client_order_id: str) -> None:
        """Free `client_order_id` again: its order was refused unsent (a rate limit), so the retry may use it."""
        self._db.execute("DELETE FROM client_orders WHERE client_order_id = ?", (client_order_id,))

    def close(self) -> None:
        self._db.close()

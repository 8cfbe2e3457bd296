"""Price history in SQLite, in the keeper's data directory, for volatility estimates."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from keeper.state_files import set_aside

log = logging.getLogger(__name__)


class PriceStore:
    """A file that is not a usable database is moved aside (named in a warning) and a new one started: the
    history only feeds haircut proposals, and a keeper must not stop liquidating over it."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = self._open(path)
        except sqlite3.DatabaseError as exc:
            aside = set_aside(path)
            log.warning("price history %s is unreadable (%s): moved to %s, starting a new one", path, exc, aside)
            self._db = self._open(path)

    @staticmethod
    def _open(path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(path, check_same_thread=False)
        try:
            db.execute(
                "CREATE TABLE IF NOT EXISTS prices (symbol TEXT, ts INTEGER, price REAL, PRIMARY KEY (symbol, ts))"
            )
            db.commit()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def record(self, symbol: str, timestamp: int, price: float) -> None:
        self._db.execute("INSERT OR REPLACE INTO prices VALUES (?, ?, ?)", (symbol, timestamp, price))
        self._db.commit()

    def last_timestamp(self, symbol: str) -> int | None:
        row = self._db.execute("SELECT MAX(ts) FROM prices WHERE symbol = ?", (symbol,)).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def series(self, symbol: str, since: int = 0) -> tuple[list[int], list[float]]:
        """The recorded prices of `symbol` from `since` on, oldest first. Rows that are no price (zero or below,
        which an older keeper recorded for a feed it found stale) are left out: a log return from one is infinite
        and stopped every haircut computation after it."""
        rows = self._db.execute(
            "SELECT ts, price FROM prices WHERE symbol = ? AND ts >= ? AND price > 0 ORDER BY ts", (symbol, since)
        ).fetchall()
        return [int(r[0]) for r in rows], [float(r[1]) for r in rows]

    def close(self) -> None:
        self._db.close()

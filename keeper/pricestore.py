"""Price history in SQLite, in the keeper's data directory, for volatility estimates."""

from __future__ import annotations

import sqlite3
from pathlib import Path


class PriceStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS prices (symbol TEXT, ts INTEGER, price REAL, PRIMARY KEY (symbol, ts))"
        )
        self._db.commit()

    def record(self, symbol: str, timestamp: int, price: float) -> None:
        self._db.execute("INSERT OR REPLACE INTO prices VALUES (?, ?, ?)", (symbol, timestamp, price))
        self._db.commit()

    def last_timestamp(self, symbol: str) -> int | None:
        row = self._db.execute("SELECT MAX(ts) FROM prices WHERE symbol = ?", (symbol,)).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def series(self, symbol: str, since: int = 0) -> tuple[list[int], list[float]]:
        rows = self._db.execute(
            "SELECT ts, price FROM prices WHERE symbol = ? AND ts >= ? ORDER BY ts", (symbol, since)
        ).fetchall()
        return [int(r[0]) for r in rows], [float(r[1]) for r in rows]

    def close(self) -> None:
        self._db.close()

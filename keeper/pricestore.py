"""Price history in SQLite, in the keeper's data directory, for volatility estimates."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from keeper.exceptions import PriceHistoryError
from keeper.state_files import set_aside

log = logging.getLogger(__name__)

# What SQLite says of a file that is there but is no database it can read (primary result codes): only such a file
# is moved aside. Any other failure (a directory it cannot write to, a full disk, a lock) is the place's, not the
# file's: a new file would fail the same way, and there may be no file to move.
_UNREADABLE_FILE = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})


class PriceStore:
    """A file that is not a usable database is moved aside (named in a warning) and a new one started: the
    history only feeds haircut proposals, and a keeper must not stop liquidating over it. Every other failure raises
    `PriceHistoryError`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = self._open(path)
        except sqlite3.DatabaseError as exc:
            if not path.is_file() or exc.sqlite_errorcode & 0xFF not in _UNREADABLE_FILE:
                raise PriceHistoryError(
                    f"price history {path} cannot be opened ({exc}): check that {path.parent} is a directory "
                    "the keeper can write to"
                ) from None
            self._db = self._start_again(path, exc)
        except OSError as exc:
            raise PriceHistoryError(f"price history {path} cannot be opened: {exc.strerror or exc}") from None

    def _start_again(self, path: Path, exc: sqlite3.DatabaseError) -> sqlite3.Connection:
        try:
            aside = set_aside(path)
            log.warning("price history %s is unreadable (%s): moved to %s, starting a new one", path, exc, aside)
            return self._open(path)
        except (OSError, sqlite3.Error) as again:
            raise PriceHistoryError(
                f"price history {path} is unreadable ({exc}) and cannot be replaced: {again}"
            ) from None

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

    @contextmanager
    def _failing_as(self, action: str) -> Iterator[None]:
        """SQLite's errors as one `PriceHistoryError` naming the file and the action; a write that failed is rolled
        back, so that the next one does not commit it with its own."""
        try:
            yield
        except sqlite3.Error as exc:
            with suppress(sqlite3.Error):  # a connection that cannot roll back: the next action says so
                self._db.rollback()
            raise PriceHistoryError(f"price history {self.path}: cannot {action} ({exc})") from None

    def record(self, symbol: str, timestamp: int, price: float) -> None:
        with self._failing_as(f"record {symbol}"):
            self._db.execute("INSERT OR REPLACE INTO prices VALUES (?, ?, ?)", (symbol, timestamp, price))
            self._db.commit()

    def last_timestamp(self, symbol: str) -> int | None:
        with self._failing_as(f"read {symbol}"):
            row = self._db.execute("SELECT MAX(ts) FROM prices WHERE symbol = ?", (symbol,)).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def series(self, symbol: str, since: int = 0) -> tuple[list[int], list[float]]:
        """The recorded prices of `symbol` from `since` on, oldest first. Rows that are no price (zero or below,
        which an older keeper recorded for a feed it found stale) are left out: a log return from one is infinite
        and stopped every haircut computation after it."""
        with self._failing_as(f"read {symbol}"):
            rows = self._db.execute(
                "SELECT ts, price FROM prices WHERE symbol = ? AND ts >= ? AND price > 0 ORDER BY ts", (symbol, since)
            ).fetchall()
        return [int(r[0]) for r in rows], [float(r[1]) for r in rows]

    def close(self) -> None:
        self._db.close()

"""Rows of a venue's answer that cannot be what they claim (a fill with a negative size, a row that is not an
object): each is refused with one ALERT, however often the venue sends it again, and the rows beside it go on."""

from __future__ import annotations

import logging
from collections.abc import Mapping


class RefusedRows:
    def __init__(self, what: str, log: logging.Logger) -> None:
        self.what = what  # "RabbitX fill", "dYdX fill"
        self.log = log
        self._keys: set[str] = set()

    def refuse(self, row: object, error: Exception) -> None:
        """Says once, by the row's id (or its text), that `row` was refused and why."""
        key = str(row.get("id")) if isinstance(row, Mapping) and "id" in row else repr(row)[:200]
        if key not in self._keys:
            self._keys.add(key)
            self.log.error("ALERT %s %s refused, not reported: %s", self.what, key, error)

"""The keeper's state files (nonce file, price history) when they cannot be read."""

from __future__ import annotations

import time
from pathlib import Path


def set_aside(path: Path) -> Path:
    """Renames an unreadable state file to `<name>.corrupt-<unix time>`, kept for inspection, and returns the new
    path, so that the keeper can start a fresh one instead of stopping."""
    aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
    path.rename(aside)
    return aside

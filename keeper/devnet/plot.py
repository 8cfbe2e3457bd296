"""The crash run's PNG report. matplotlib is the devnet part's dependency, not the keeper's: importing this module
without it raises `MissingExtraError`, which the CLI prints as one line naming the install command."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from keeper.exceptions import MissingExtraError

try:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a server or in CI
    import matplotlib.pyplot as plt
except ImportError:
    raise MissingExtraError(
        "the crash run's report needs matplotlib, part of the devnet extras: pip install 'primevault[devnet]'"
    ) from None

if TYPE_CHECKING:
    from keeper.devnet.crash import CrashReport


def plot_crash(report: CrashReport, path: Path) -> Path:
    """Prices, account health after each step and liquidations per block, in one PNG at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, (prices_ax, health_ax, blocks_ax) = plt.subplots(3, 1, figsize=(10, 11))
    labels = ["start"] + [f"step {i + 1}" for i in range(len(report.steps))]
    eth = [3000.0] + [s.eth for s in report.steps]
    btc = [60_000.0] + [s.btc for s in report.steps]
    prices_ax.plot(labels, [p / eth[0] for p in eth], marker="o", label="ETH")
    prices_ax.plot(labels, [p / btc[0] for p in btc], marker="o", label="BTC")
    prices_ax.set_title("Prices (relative to start)")
    prices_ax.legend()
    data = [np.clip(s.health, 0, 5) for s in report.steps]
    health_ax.boxplot(data, tick_labels=labels[1:], showfliers=False)
    health_ax.axhline(1.0, color="red", linestyle="--", linewidth=1, label="maintenance")
    health_ax.set_title("Account health after each step (equity / maintenance requirement, clipped at 5)")
    health_ax.legend()
    per_block: dict[int, int] = {}
    for block, *_ in report.liquidations:
        per_block[block] = per_block.get(block, 0) + 1
    blocks_ax.bar(list(per_block), list(per_block.values()), color="tab:red", label="liquidations")
    for step in report.steps:
        blocks_ax.axvline(step.block, color="gray", linestyle=":", linewidth=1)
    blocks_ax.set_title("Liquidations per block (dotted: price updates)")
    blocks_ax.set_xlabel("block")
    blocks_ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

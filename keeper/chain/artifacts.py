"""Contract ABIs and bytecode, shipped in the package so no compiler is needed to talk to a deployment.

The JSON files under `keeper/artifacts/` are exported from forge's build output by
`scripts/export_artifacts.py` (`make build`); a test fails if they drift from the sources.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

ARTIFACT_NAMES = (
    "PrimeVault",
    "PrimeVaultLens",
    "PrimeVaultLender",
    "SessionKeys",
    "PrimeVaultBundler",
    "TradingModule",
    "PortfolioMargin",
    "DydxAdapter",
    "RabbitAdapter",
    "RabbitXSeatAdapter",
    "DydxSeatAdapter",
    "MockERC20",
    "MockPriceFeed",
    "DydxStyleVenue",
    "RabbitStyleVenue",
    "RabbitXCustody",
    "DevnetCctpBridge",
)


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str


@cache
def load_artifact(name: str) -> Artifact:
    """The ABI and creation bytecode of contract `name`."""
    if name not in ARTIFACT_NAMES:
        raise KeyError(f"no artifact named {name!r}; known: {', '.join(ARTIFACT_NAMES)}")
    text = resources.files("keeper.artifacts").joinpath(f"{name}.json").read_text()
    data = json.loads(text)
    return Artifact(name=name, abi=data["abi"], bytecode=data["bytecode"])

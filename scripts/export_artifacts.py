"""Copies ABI and bytecode of the deployable contracts from forge's `out/` into `keeper/artifacts/`.

Run by `make build`. The output is deterministic, so a fresh build that changes it shows up in git and in
the artifact drift test.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Artifact name (what the Python package loads) -> the source that defines it. The protocol first, then what
# only the devnet deploys (contracts/devnet/: mock tokens and feeds, local venues).
CONTRACTS = {
    "PrimeVault": "contracts/PrimeVault.sol",
    "PrimeVaultLens": "contracts/periphery/PrimeVaultLens.sol",
    "PrimeVaultLender": "contracts/periphery/PrimeVaultLender.sol",
    "SessionKeys": "contracts/periphery/SessionKeys.sol",
    "PrimeVaultBundler": "contracts/periphery/PrimeVaultBundler.sol",
    "TradingModule": "contracts/TradingModule.sol",
    "PortfolioMargin": "contracts/PortfolioMargin.sol",
    "DydxAdapter": "contracts/adapters/DydxAdapter.sol",
    "RabbitAdapter": "contracts/adapters/RabbitAdapter.sol",
    "RabbitXSeatAdapter": "contracts/adapters/RabbitXSeatAdapter.sol",
    "DydxSeatAdapter": "contracts/adapters/DydxSeatAdapter.sol",
    "MockERC20": "contracts/devnet/mocks/MockERC20.sol",
    "MockPriceFeed": "contracts/devnet/mocks/MockPriceFeed.sol",
    "DydxStyleVenue": "contracts/devnet/venues/DydxStyleVenue.sol",
    "RabbitStyleVenue": "contracts/devnet/venues/RabbitStyleVenue.sol",
    "RabbitXCustody": "contracts/devnet/venues/RabbitXCustody.sol",
    "DevnetCctpBridge": "contracts/devnet/venues/DevnetCctpBridge.sol",
}


def export(out_dir: Path, target_dir: Path) -> list[Path]:
    artifacts = {}
    for name, source in CONTRACTS.items():
        # forge names its output folder after the source file's name only, so check which source it was built
        # from: a build older than a move would otherwise be exported silently. Nothing is written unless
        # every contract passes.
        built = json.loads((out_dir / Path(source).name / f"{name}.json").read_text())
        target = built["metadata"]["settings"]["compilationTarget"]
        if target != {source: name}:
            raise SystemExit(f"{name}: out/ was built from {target}, not {source}; run forge build")
        artifacts[name] = {"abi": built["abi"], "bytecode": built["bytecode"]["object"]}
    written = []
    for name, artifact in artifacts.items():
        path = target_dir / f"{name}.json"
        path.write_text(json.dumps(artifact, indent=1, sort_keys=True) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "out"
    for path in export(out, ROOT / "keeper" / "artifacts"):
        print(f"wrote {path.relative_to(ROOT)}")

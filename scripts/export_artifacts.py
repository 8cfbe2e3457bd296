"""Copies ABI and bytecode of the deployable contracts from forge's `out/` into `keeper/artifacts/`.

Run by `make build`. The output is deterministic, so a fresh build that changes it shows up in git and in
the artifact drift test.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = {
    "PrimeVault": "PrimeVault.sol",
    "PrimeVaultLens": "PrimeVaultLens.sol",
    "TradingModule": "TradingModule.sol",
    "DydxAdapter": "DydxAdapter.sol",
    "RabbitAdapter": "RabbitAdapter.sol",
    "MockERC20": "MockERC20.sol",
    "MockPriceFeed": "MockPriceFeed.sol",
    "DydxStyleVenue": "DydxStyleVenue.sol",
    "RabbitStyleVenue": "RabbitStyleVenue.sol",
}


def export(out_dir: Path, target_dir: Path) -> list[Path]:
    written = []
    for name, source in CONTRACTS.items():
        built = json.loads((out_dir / source / f"{name}.json").read_text())
        artifact = {"abi": built["abi"], "bytecode": built["bytecode"]["object"]}
        path = target_dir / f"{name}.json"
        path.write_text(json.dumps(artifact, indent=1, sort_keys=True) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "out"
    for path in export(out, ROOT / "keeper" / "artifacts"):
        print(f"wrote {path.relative_to(ROOT)}")

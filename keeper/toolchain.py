"""Where the Foundry binaries are: on PATH (a foundryup install) or from the npm packages in node_modules."""

from __future__ import annotations

import os
import platform
import shutil
from pathlib import Path

from keeper.exceptions import ToolNotFoundError

_NPM_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def project_root() -> Path:
    """The repository root: the nearest parent of this package (or of the working directory) with a
    `foundry.toml`, else the working directory."""
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for candidate in (start, *start.parents):
            if (candidate / "foundry.toml").is_file():
                return candidate
    return Path.cwd()


def find_tool(name: str) -> str:
    """Path of `name` (anvil, forge or cast): $PRIMEVAULT_<NAME>, PATH, then node_modules."""
    override = os.environ.get(f"PRIMEVAULT_{name.upper()}")
    if override:
        return override
    on_path = shutil.which(name)
    if on_path:
        return on_path
    system = platform.system().lower()
    arch = _NPM_ARCH.get(platform.machine().lower(), platform.machine().lower())
    npm_binary = project_root() / "node_modules" / "@foundry-rs" / f"{name}-{system}-{arch}" / "bin" / name
    if npm_binary.is_file():
        return str(npm_binary)
    raise ToolNotFoundError(
        f"{name} not found: install Foundry, or run `make setup` in the repository to install it from npm"
    )

"""Where the tools are: the Foundry binaries on PATH (a foundryup install) or from the npm packages in node_modules,
and a Chromium for the web app's browser tests and screenshots."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
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


# `@sparticuz/chromium` ships a Chromium build inside the npm package (brotli-compressed) and unpacks it on first use;
# browser builds cannot be downloaded at run time (`playwright install`) on every machine, npm packages can.
_UNPACK_CHROMIUM = "import('@sparticuz/chromium').then(m => m.default.executablePath()).then(p => console.log(p))"


def find_chromium() -> str:
    """Path of a Chromium for Playwright: $PRIMEVAULT_CHROMIUM, `chromium` on PATH (Debian's package), then the
    build in node_modules (`make setup` installs it), unpacked by node."""
    override = os.environ.get("PRIMEVAULT_CHROMIUM")
    if override:
        return override
    for name in ("chromium", "chromium-browser"):
        on_path = shutil.which(name)
        if on_path:
            return on_path
    root = project_root()
    node = shutil.which("node")
    if node and (root / "node_modules" / "@sparticuz" / "chromium").is_dir():
        unpacked = subprocess.run(
            [node, "-e", _UNPACK_CHROMIUM], cwd=root, capture_output=True, text=True, timeout=120, check=False
        )
        path = unpacked.stdout.strip()
        if unpacked.returncode == 0 and path and Path(path).is_file():
            return path
    raise ToolNotFoundError(
        "chromium not found: install Debian's `chromium`, set PRIMEVAULT_CHROMIUM, or run `make setup` to install "
        "a build from npm"
    )

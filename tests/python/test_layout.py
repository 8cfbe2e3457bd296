"""The package's layout promises: the keeper and the core CLI load without the devnet part's dependencies, a
command that needs them says in one line how to install them, and only the client layer touches contracts."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import packages_distributions
from pathlib import Path

from keeper.chain.artifacts import ARTIFACT_NAMES


def _run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60)


def test_the_daemon_and_the_core_cli_do_not_import_matplotlib() -> None:
    done = _run(
        "import sys, keeper.cli.main, keeper.daemon.runner; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_core_cli_and_the_web_server_load_without_the_optional_extras() -> None:
    # What `pip install primevault` leaves out: the dydx extra (its client, grpc, v4-proto, bip_utils) and the devnet
    # extra (matplotlib). `devnet` and `web` import the deployment code, whose dYdX seat needs bip_utils.
    extras = ("bip_utils", "grpc", "dydx_v4_client", "v4_proto", "matplotlib")
    done = _run(
        "import sys; sys.modules.update(dict.fromkeys(sys.argv[1:], None)); "
        "import keeper.web.server, keeper.daemon.runner; from keeper.cli.main import main; "
        "sys.argv[1:] = ['--help']; main()",
        *extras,
    )
    assert done.returncode == 0, done.stderr
    assert "devnet " in done.stdout and "web " in done.stdout


def test_the_demo_without_the_devnet_extras_names_the_install_in_one_line() -> None:
    # A None entry in sys.modules makes `import matplotlib` fail as if it were not installed.
    done = _run(
        "import sys; sys.modules['matplotlib'] = None; from keeper.cli.main import main; main()", "demo", "--seed", "1"
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "Error: the crash run's report needs matplotlib, part of the devnet extras: pip install 'primevault[devnet]'"
    ]


def test_the_wheel_carries_what_the_package_reads_at_run_time(tmp_path: Path) -> None:
    # An installed wheel has no checkout beside it: the ABIs, the type marker and the web app `primevault web` serves
    # (built by `make web`, as `make test-python` does first) must all be inside it.
    # Built from a copy: setuptools reuses the checkout's build/lib, where a file from an earlier build would hide one
    # the package data leaves out.
    root, source = Path(__file__).resolve().parents[2], tmp_path / "source"
    shutil.copytree(root / "keeper", source / "keeper", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(root / name, source / name)
    pip_wheel = [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-q"]
    built = subprocess.run([*pip_wheel, "-w", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("primevault-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    needed = {"keeper/py.typed", "keeper/web/dist/index.html", "keeper/web/dist/assets/app.js"}
    needed |= {f"keeper/artifacts/{name}.json" for name in ARTIFACT_NAMES}
    assert needed - names == set()


def test_every_runtime_dependency_is_one_the_package_imports() -> None:
    # `pip install primevault` installs each of them wherever the package goes: one it never imports is dead weight.
    root = Path(__file__).resolve().parents[2]
    declared = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    source = "\n".join(path.read_text() for path in (root / "keeper").rglob("*.py"))
    imported = set(re.findall(r"^\s*(?:from|import) (\w+)", source, re.MULTILINE))
    modules: dict[str, set[str]] = {}
    for module, distributions in packages_distributions().items():
        for distribution in distributions:
            modules.setdefault(distribution.lower().replace("_", "-"), set()).add(module)
    names = [re.split(r"[<>=!~\[ ;]", requirement)[0].lower().replace("_", "-") for requirement in declared]
    assert [name for name in names if not modules.get(name, set()) & imported] == []


def test_the_interfaces_take_any_compiler_an_integrator_builds_with() -> None:
    # Integrators import contracts/interfaces/ into their own builds, on their own 0.8 compiler: a pinned version
    # there refuses every other one (the implementation is what pins its compiler).
    interfaces = Path(__file__).resolve().parents[2] / "contracts" / "interfaces"
    pragmas = {
        str(path.relative_to(interfaces)): line.strip()
        for path in sorted(interfaces.rglob("*.sol"))
        for line in path.read_text().splitlines()
        if line.startswith("pragma solidity")
    }
    assert len(pragmas) == len(list(interfaces.rglob("*.sol")))
    assert {name: pragma for name, pragma in pragmas.items() if pragma != "pragma solidity ^0.8.24;"} == {}


def test_only_the_client_layer_calls_contract_functions() -> None:
    # A contract's ABI, its errors and its units are handled in one place: keeper/client/.
    package = Path(__file__).resolve().parents[2] / "keeper"
    outside = [
        f"{path.relative_to(package.parent)}:{number}"
        for path in sorted(package.rglob("*.py"))
        if "client" not in path.relative_to(package).parts[:1]
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if ".functions." in line
    ]
    assert outside == []

"""`primevault web`: the web app for depositors and lenders, served locally (optionally with a devnet)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import click

from keeper.chain.anvil import Anvil
from keeper.cli.context import CliContext, pass_context
from keeper.cli.devnet import ANVIL_POLL_SECONDS, KEEPER_DEV_ACCOUNT, devnet_gone, running_devnet
from keeper.exceptions import InputError
from keeper.web.server import WebSettings, check_dist, serve

# The bundle `make web` builds inside the package, so that a wheel built after it serves the page too.
DEFAULT_DIST = Path(__file__).resolve().parent.parent / "web" / "dist"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port to listen on (0: a free one)."
)
@click.option(
    "--devnet",
    "with_devnet",
    is_flag=True,
    help="Also start a local devnet, as `primevault devnet` does, and a keeper that executes the page's orders.",
)
@click.option(
    "--dist",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_DIST,
    help="The built web app (`make web` writes keeper/web/dist).",
)
@pass_context
def web(ctx: CliContext, host: str, port: int, with_devnet: bool, dist: Path) -> None:
    """Serve the web app until Ctrl-C.

    It reads the chain from the deployment file's RPC URL (or --rpc-url) and signs in your browser's wallet; on a
    local anvil chain it also offers anvil's dev accounts.
    """
    if not host.strip():
        # aiohttp takes "" for every interface, and the page's URL printed as "http://:PORT": said, not guessed.
        raise InputError("--host is empty: give the address to listen on (127.0.0.1, or 0.0.0.0 for every interface)")
    check_dist(dist)  # before a devnet is started for nothing
    devnet = running_devnet(ctx.deployment_path, None, fund=True) if with_devnet else nullcontext()
    with devnet as started, _devnet_keeper(ctx.deployment_path) if started else nullcontext():
        settings = WebSettings(ctx.deployment_path, started[0].url if started else ctx.rpc_url, dist)
        settings.deployment()  # a missing or broken deployment file is one line now, not on the page
        # Another node is checked against the deployment file as every command checks it (its chain, the vault, the
        # tokens): a wrong one is one line now, not a page whose every figure fails.
        chain_id = started[1].chain_id if started else ctx.w3.eth.chain_id
        asyncio.run(_serve_until_signal(settings, host, port, chain_id, started[0] if started else None))


async def _serve_until_signal(
    settings: WebSettings, host: str, port: int, chain_id: int, node: Anvil | None = None
) -> None:
    """Serves until Ctrl-C; with a devnet, its anvil is watched as `primevault devnet` watches it: a page served over
    a node that died would show "unreachable" forever, so the server stops with one line instead."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    died: list[int] = []

    async def watch(anvil: Anvil) -> None:
        while not stop.is_set():
            await asyncio.sleep(ANVIL_POLL_SECONDS)
            code = anvil.exit_code()
            if code is not None:
                died.append(code)
                stop.set()

    watcher = asyncio.create_task(watch(node)) if node is not None else None

    def started(url: str) -> None:
        click.echo(f"web app      {url}")
        click.echo(f"chain        {settings.rpc_url} (chain {chain_id}), deployment {settings.deployment_path}")
        click.echo("Ctrl-C stops it", nl=True)

    try:
        await serve(settings, host, port, stop, started)
    finally:
        if watcher is not None:
            watcher.cancel()
    if died:
        raise devnet_gone(died[0])


@contextmanager
def _devnet_keeper(deployment_path: Path) -> Iterator[None]:
    """`primevault keeper run` as the devnet's keeper account, in a child process for as long as the page is
    served: it executes the orders the page submits, liquidates and reconciles, as it would on a real chain."""
    log_path = deployment_path.with_name("web-keeper.log")
    command = [sys.executable, "-m", "keeper.cli", "--deployment", str(deployment_path)]
    command += ["--dev-account", str(KEEPER_DEV_ACCOUNT), "keeper", "run", "--metrics-port", "off"]
    command += ["--data-dir", str(deployment_path.with_name("web-keeper"))]
    with log_path.open("w") as log:
        keeper = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        click.echo(f"keeper       dev account {KEEPER_DEV_ACCOUNT} executes orders; log {log_path}")
        try:
            yield
        finally:
            keeper.terminate()
            try:
                keeper.wait(timeout=10)
            except subprocess.TimeoutExpired:
                keeper.kill()

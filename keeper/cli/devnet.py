"""`primevault devnet` and `primevault deploy`."""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import click
from eth_account import Account
from web3 import Web3
from web3.exceptions import Web3Exception

from keeper.chain.anvil import Anvil
from keeper.chain.deployment import Deployment
from keeper.chain.keys import dev_account
from keeper.chain.revert import error_decoder
from keeper.chain.transactions import Sender
from keeper.cli.context import CliContext, pass_context
from keeper.cli.params import check_writable_folder
from keeper.client.trading import TradingClient
from keeper.devnet.deploy import (
    LOCAL_POOL_SUPPLY,
    LOCAL_VENUE_MARGIN,
    SEAT_VENUE,
    add_rabbitx_seat,
    deploy_local_system,
    deploy_rabbitx_custody,
    fund_wallets,
    grant_keeper_roles,
    seed_local_liquidity,
)
from keeper.devnet.rabbitx.app import DevnetConfig
from keeper.devnet.rabbitx.exchange import ExchangeConfig
from keeper.devnet.rabbitx_seat import exchange_process, open_rabbitx_seat
from keeper.exceptions import AnvilError, ConfigError, DevnetServiceError

KEEPER_DEV_ACCOUNT = 9  # holds the keeper's roles on the devnet: `primevault --dev-account 9 keeper run`
ANVIL_POLL_SECONDS = 0.5  # how soon `devnet` notices its anvil has died
LIVE_NODE_TIMEOUT = 2.0  # seconds a devnet waits for the node its deployment file names, to tell whether it still runs


@click.command()
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port for anvil (default: a free one).")
@click.option("--fund/--no-fund", default=True, show_default=True, help="Mint test tokens to dev accounts 1-9.")
@click.option(
    "--seat",
    is_flag=True,
    help="Also run the RabbitX-style exchange (keeper/devnet/rabbitx) with the vault's seat there, and write the "
    "keeper's settings for it: a keeper run with them trades every order through the exchange's API.",
)
@pass_context
def devnet(ctx: CliContext, port: int | None, fund: bool, seat: bool) -> None:
    """A local chain with PrimeVault deployed, until Ctrl-C.

    Starts anvil, deploys PrimeVault and writes the deployment file; with --seat, also the RabbitX-style exchange.
    """
    stop = stop_on_signals()
    try:
        with running_devnet(ctx.deployment_path, port, fund) as (node, deployment), ExitStack() as services:
            exchange = _open_exchange_seat(services, node, deployment, ctx.deployment_path) if seat else None
            click.echo("try: primevault --dev-account 1 account deposit 2 WETH; Ctrl-C stops the chain")
            # Anvil is watched while waiting: a devnet left up after its node died would look alive while every
            # command fails with "cannot reach the RPC". So is the exchange: without it the seat cannot trade.
            while not stop.wait(ANVIL_POLL_SECONDS):
                code = node.exit_code()
                if code is not None:
                    raise devnet_gone(code)
                if exchange is not None and (code := exchange.poll()) is not None:
                    raise DevnetServiceError(
                        f"the devnet exchange stopped ({_exit_status(code)}): the seat cannot trade; see "
                        f"{_exchange_log(ctx.deployment_path)}, and start the devnet again"
                    )
            click.echo("stopping anvil")
    except Exception:
        # Ctrl-C in a terminal signals anvil and the exchange too (the whole foreground process group): whatever
        # failed after it while the devnet was starting is the stop asked for, not an error.
        if not stop.is_set():
            raise
        click.echo("stopped while starting")


def _open_exchange_seat(
    services: ExitStack, node: Anvil, deployment: Deployment, path: Path
) -> subprocess.Popen[bytes]:
    """Gives the deployment at `path` the vault's seat at a RabbitX-style exchange run in its own process until
    `services` closes (its custody contract, signing with a key of its own, and a `RabbitXSeatAdapter`), onboards the
    seat with the devnet keeper's key, funds it, and writes the keeper's settings beside the deployment file; returns
    the exchange's process."""
    w3 = Web3(Web3.HTTPProvider(node.url))
    admin = Sender(w3, dev_account(0), error_decoder())
    signer_key = "0x" + secrets.token_hex(32)
    custody = deploy_rabbitx_custody(admin, deployment, Account.from_key(signer_key).address)
    exchange = ExchangeConfig(signer_key=signer_key)
    deployment = add_rabbitx_seat(admin, deployment, custody, exchange.markets, exchange.default_leverage)
    deployment.save(path)
    log_path = _exchange_log(path)
    url, process = services.enter_context(
        exchange_process(node.url, deployment, signer_key, log_path, DevnetConfig.funding_interval)
    )
    keeper_key = dev_account(KEEPER_DEV_ACCOUNT).key.hex()
    table = open_rabbitx_seat(TradingClient(w3, deployment, admin), url, keeper_key, LOCAL_VENUE_MARGIN)
    # The fill store belongs to this exchange, which ends with the devnet: a later devnet's exchange (another URL)
    # would find it refused.
    table["data_dir"] = services.enter_context(tempfile.TemporaryDirectory(prefix="primevault-rabbitx-"))
    config_path = path.with_name(f"{path.stem}-keeper.toml")
    # The deployment is named (whole): the keeper command printed below runs with it from any folder, with or without
    # the --deployment this devnet was given.
    lines = ["[keeper]", f"deployment = {json.dumps(str(path.resolve()))}", f"seat_venues = [{json.dumps(SEAT_VENUE)}]"]
    lines += ["", "[rabbitx]"]
    lines += [f"{name} = {value if name == 'profile_id' else json.dumps(value)}" for name, value in table.items()]
    # The API secret trades for the vault's account at the exchange: the file is its owner's alone, one left by an
    # earlier devnet too (open's mode applies only to a file it creates).
    try:
        descriptor = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write("\n".join(lines) + "\n")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        message = f"cannot write the keeper's settings to {config_path} ({reason}): the devnet stopped"
        raise ConfigError(message) from None
    click.echo(f"{SEAT_VENUE:<12} exchange {url} (log {log_path}), seat funded with {LOCAL_VENUE_MARGIN:,} USDC")
    click.echo(f"seat keeper  primevault --dev-account {KEEPER_DEV_ACCOUNT} keeper run --config {config_path}")
    return process


def _exchange_log(deployment_path: Path) -> Path:
    """Where a seat devnet's exchange logs, beside its deployment file."""
    return deployment_path.with_name(f"{deployment_path.stem}-exchange.log")


def devnet_gone(code: int) -> AnvilError:
    """The error a devnet's command stops with when its anvil exited with return `code` (Popen gives a process killed
    by a signal as the signal's negative), shared by `devnet` and `web --devnet`."""
    return AnvilError(f"anvil stopped ({_exit_status(code)}): the devnet is gone; start it again")


def _exit_status(code: int) -> str:
    return f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"


@contextmanager
def running_devnet(deployment_path: Path, port: int | None, fund: bool) -> Iterator[tuple[Anvil, Deployment]]:
    """Anvil with PrimeVault deployed, liquidity seeded, the keeper's roles granted and the deployment written to
    `deployment_path` (what it holds is printed); anvil stops on leaving the block. Shared by `devnet` and `web
    --devnet`."""
    _refuse_a_running_devnet(deployment_path)
    with Anvil(port=port) as node:
        w3 = Web3(Web3.HTTPProvider(node.url))
        sender = Sender(w3, dev_account(0), error_decoder())
        deployment = dataclasses.replace(deploy_local_system(sender), rpc_url=node.url)
        seed_local_liquidity(sender, deployment)
        grant_keeper_roles(sender, deployment, dev_account(KEEPER_DEV_ACCOUNT).address)
        deployment.save(deployment_path)
        if fund:
            wallets = [dev_account(i).address for i in range(1, 10)]
            fund_wallets(sender, deployment, wallets)
        click.echo(f"anvil        {node.url} (chain {deployment.chain_id})")
        click.echo(f"vault        {deployment.vault}")
        for token in (deployment.base, *deployment.collateral):
            click.echo(f"{token.symbol:<12} {token.address}" + (f"  feed {token.feed}" if token.feed else ""))
        click.echo(f"trading      {deployment.trading}")
        for venue in deployment.venues:
            click.echo(f"{venue.name:<12} {venue.address}  adapter {venue.adapter}")
        click.echo(
            f"pool         {LOCAL_POOL_SUPPLY:,} USDC lent, {LOCAL_VENUE_MARGIN:,} USDC margin seeded at each venue (a "
            "running keeper's margin job brings it back toward what the positions there need)"
        )
        click.echo(f"deployment   {deployment_path}")
        if fund:
            click.echo("dev accounts 1-9 hold 1,000,000 USDC, 100 WETH and 5 WBTC each")
        click.echo(f"keeper       dev account {KEEPER_DEV_ACCOUNT} holds EXECUTOR_ROLE and RISK_MANAGER_ROLE")
        yield node, deployment


def _refuse_a_running_devnet(path: Path) -> None:
    """`make devnet` and `make app` both write deployments/local.json: a second devnet would take the file of one
    still running, and the first one's terminal would act on the other chain, then on none once that one stopped. A
    file that is unreadable, or whose node does not answer with the vault's code, is stale: it is written over."""
    try:
        deployment = Deployment.load(path) if path.is_file() else None
        if deployment is None or deployment.rpc_url is None:
            return
        w3 = Web3(Web3.HTTPProvider(deployment.rpc_url, request_kwargs={"timeout": LIVE_NODE_TIMEOUT}))
        running = w3.eth.get_code(deployment.vault) != b""
    except (ConfigError, OSError, ValueError, Web3Exception):  # nothing answers for the file: it is stale
        return
    if running:
        raise ConfigError(
            f"{path} is the deployment of a devnet still running at {deployment.rpc_url}: stop it first (Ctrl-C "
            "where it runs), or give this one its own file with --deployment"
        )


@click.command()
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), help="Where to write the deployment file.")
@click.option(
    "--force", is_flag=True, help="Replace an existing deployment file (the old one is kept as NAME.TIMESTAMP.bak)."
)
@pass_context
def deploy(ctx: CliContext, output: Path | None, force: bool) -> None:
    """Deploy PrimeVault and its mock tokens to --rpc-url.

    Mock USDC, WETH, WBTC and feeds, and the vault, signed with your key.
    """
    ctx.reads_deployment = False
    path = output or ctx.deployment_path
    # Refused before anything is sent: the file there may hold the only record of a live deployment's addresses.
    if path.exists() and not force:
        raise ConfigError(
            f"{path} exists and may hold a live deployment's addresses: pass --output NEW.json, or --force to "
            "replace it (the old file is kept as a .bak beside it)"
        )
    check_writable_folder(path.parent, "--output")
    sender = ctx.sender()
    deployment = dataclasses.replace(deploy_local_system(sender), rpc_url=ctx.rpc_url)
    try:
        if path.exists():
            backup = _backup_name(path)
            path.rename(backup)
            click.echo(f"kept the previous {path} as {backup}")
        deployment.save(path)
    except OSError as exc:
        # Everything is deployed: the addresses are the only record of it, so they are never lost with the file.
        click.echo(json.dumps(dataclasses.asdict(deployment), indent=2))
        raise ConfigError(
            f"deployed, but could not write {path} ({exc.strerror or type(exc).__name__}): the deployment is printed "
            "above; save it as a file to use it"
        ) from None
    click.echo(f"deployed vault {deployment.vault} on chain {deployment.chain_id}; wrote {path}")


def _backup_name(path: Path) -> Path:
    """`local.json.20261206T172530Z.bak` beside `path`, with a count after the time if that name is taken."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    backup = path.with_name(f"{path.name}.{stamp}.bak")
    count = 1
    while backup.exists():
        backup = path.with_name(f"{path.name}.{stamp}-{count}.bak")
        count += 1
    return backup


def stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM, installed before anything starts so a stop during deployment
    still shuts anvil down cleanly."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop

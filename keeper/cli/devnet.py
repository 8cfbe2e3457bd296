"""`primevault devnet` and `primevault deploy`."""

from __future__ import annotations

import dataclasses
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from web3 import Web3

from keeper.chain.anvil import Anvil
from keeper.chain.deployment import Deployment
from keeper.chain.keys import dev_account
from keeper.chain.revert import error_decoder
from keeper.chain.transactions import Sender
from keeper.cli.context import CliContext, pass_context
from keeper.devnet.deploy import (
    LOCAL_POOL_SUPPLY,
    LOCAL_VENUE_MARGIN,
    deploy_local_system,
    fund_wallets,
    grant_keeper_roles,
    seed_local_liquidity,
)

KEEPER_DEV_ACCOUNT = 9  # holds the keeper's roles on the devnet: `primevault --dev-account 9 keeper run`


@click.command()
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port for anvil (default: a free one).")
@click.option("--fund/--no-fund", default=True, show_default=True, help="Mint test tokens to dev accounts 1-9.")
@pass_context
def devnet(ctx: CliContext, port: int | None, fund: bool) -> None:
    """A local chain with PrimeVault deployed, until Ctrl-C.

    Starts anvil, deploys PrimeVault and writes the deployment file.
    """
    stop = stop_on_signals()
    with running_devnet(ctx.deployment_path, port, fund):
        click.echo("try: primevault --dev-account 1 account deposit 2 WETH; Ctrl-C stops the chain")
        stop.wait()
        click.echo("stopping anvil")


@contextmanager
def running_devnet(deployment_path: Path, port: int | None, fund: bool) -> Iterator[Deployment]:
    """Anvil with PrimeVault deployed, liquidity seeded, the keeper's roles granted and the deployment written to
    `deployment_path` (what it holds is printed); anvil stops on leaving the block. Shared by `devnet` and `web
    --devnet`."""
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
        click.echo(f"pool         {LOCAL_POOL_SUPPLY:,} USDC lent, {LOCAL_VENUE_MARGIN:,} USDC margin at each venue")
        click.echo(f"deployment   {deployment_path}")
        if fund:
            click.echo("dev accounts 1-9 hold 1,000,000 USDC, 100 WETH and 5 WBTC each")
        click.echo(f"keeper       dev account {KEEPER_DEV_ACCOUNT} holds EXECUTOR_ROLE and RISK_MANAGER_ROLE")
        yield deployment


@click.command()
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), help="Where to write the deployment file.")
@pass_context
def deploy(ctx: CliContext, output: Path | None) -> None:
    """Deploy PrimeVault and its mock tokens to --rpc-url.

    Mock USDC, WETH, WBTC and feeds, and the vault, signed with your key.
    """
    sender = Sender(ctx.w3, ctx.account, error_decoder())
    deployment = dataclasses.replace(deploy_local_system(sender), rpc_url=ctx.rpc_url)
    path = output or ctx.deployment_path
    deployment.save(path)
    click.echo(f"deployed vault {deployment.vault} on chain {deployment.chain_id}; wrote {path}")


def stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM, installed before anything starts so a stop during deployment
    still shuts anvil down cleanly."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop

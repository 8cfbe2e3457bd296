"""`primevault`: deploy and run a local PrimeVault, and manage sub-accounts as a depositor."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from dotenv import load_dotenv
from requests.exceptions import ConnectionError as RequestsConnectionError

from keeper import __version__
from keeper.cli.context import DEFAULT_DEPLOYMENT, CliContext
from keeper.cli.explain import explain
from keeper.exceptions import PrimeVaultError, TransactionReverted


class _OneLineErrors(click.Group):
    """Turns every expected failure into one line on stderr and exit code 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TransactionReverted as exc:
            cli_ctx = ctx.find_object(CliContext)
            symbol = ctx.meta.get("primevault.symbol")
            try:
                message = explain(exc, cli_ctx.deployment, symbol) if cli_ctx else str(exc)
            except PrimeVaultError:
                message = str(exc)
            raise click.ClickException(message) from None
        except PrimeVaultError as exc:
            raise click.ClickException(str(exc)) from None
        except RequestsConnectionError:
            cli_ctx = ctx.find_object(CliContext)
            url = cli_ctx.rpc_url if cli_ctx else "the RPC"
            raise click.ClickException(f"lost the connection to {url}: is the node running?") from None


@click.group(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="primevault")
@click.option("--rpc-url", envvar="PRIMEVAULT_RPC_URL", help="JSON-RPC endpoint (default: the deployment's).")
@click.option(
    "--deployment",
    "deployment_path",
    envvar="PRIMEVAULT_DEPLOYMENT",
    type=click.Path(path_type=Path, dir_okay=False),
    default=DEFAULT_DEPLOYMENT,
    show_default=True,
    help="Deployment file written by `devnet` or `deploy`.",
)
@click.option("--dev-account", type=int, envvar="PRIMEVAULT_DEV_ACCOUNT", help="Use anvil dev key N (local only).")
@click.option(
    "--keystore",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="PRIMEVAULT_KEYSTORE",
    help="Encrypted keystore (V3 JSON) to sign with.",
)
@click.option(
    "--password-file",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="PRIMEVAULT_PASSWORD_FILE",
    help="File holding the keystore password.",
)
@click.pass_context
def cli(
    ctx: click.Context,
    rpc_url: str | None,
    deployment_path: Path,
    dev_account: int | None,
    keystore: Path | None,
    password_file: Path | None,
) -> None:
    """PrimeVault: one account, pooled collateral and credit, many venues."""
    ctx.obj = CliContext(rpc_url, deployment_path, dev_account, keystore, password_file)


def _register() -> None:
    from keeper.cli import account, demo, devnet, keeper_cmd, quotes, trade

    cli.add_command(account.account)
    cli.add_command(devnet.devnet)
    cli.add_command(devnet.deploy)
    cli.add_command(demo.demo)
    cli.add_command(quotes.quotes)
    cli.add_command(trade.trade)
    cli.add_command(keeper_cmd.keeper_group)
    cli.add_command(keeper_cmd.risk_group)


_register()


def main() -> None:
    load_dotenv()  # PRIMEVAULT_* settings from ./.env; the real environment wins
    try:
        cli.main(prog_name="primevault")
    except KeyboardInterrupt:
        sys.exit(130)

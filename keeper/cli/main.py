"""`primevault`: deploy and run a local PrimeVault, and manage sub-accounts as a depositor."""

from __future__ import annotations

import inspect
import re
import signal
import sys
import unicodedata
from pathlib import Path
from typing import Any

import click
from dotenv import load_dotenv
from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.exceptions import HTTPError as RequestsHTTPError
from requests.exceptions import Timeout as RequestsTimeout
from web3.exceptions import BadFunctionCallOutput, ContractLogicError, Web3RPCError

from keeper import __version__
from keeper.cli.context import DEFAULT_DEPLOYMENT, CliContext
from keeper.cli.explain import explain, refusal
from keeper.client.venues import node_message
from keeper.daemon.chain_watch import NODE_GARBLED, garbled_request
from keeper.exceptions import ConfigError, InterruptedAfterSend, PrimeVaultError, TransactionReverted


class _UsageError(click.ClickException):
    """A command line click cannot parse, said in one line (click's own form takes four) with the usual exit code."""

    exit_code = 2


def _one_line(exc: click.UsageError, given: tuple[str, ...] = ()) -> click.ClickException:
    if isinstance(exc, click.exceptions.NoArgsIsHelpError):
        return exc  # a group named without a command: its help, as it is, is the answer
    command = exc.ctx.command_path if exc.ctx else "primevault"
    if isinstance(exc, click.NoSuchOption) and _is_number(exc.option_name):
        # Click reads "-1" as an option (and "-100" as the options -1, -0, -0): the user meant a negative amount or
        # id, said as typed.
        typed = next((a for a in given if a.startswith(exc.option_name) and _is_number(a)), exc.option_name)
        sided = exc.ctx is not None and any(p.name == "side" for p in exc.ctx.command.params)
        return _UsageError(
            f"{typed} is negative: amounts, sizes and ids are positive numbers"
            + (" (to sell, give --side sell)" if sided else "")
        )
    message = " ".join(exc.format_message().split()).rstrip(".")  # choices come one per line
    return _UsageError(f"{message} (see '{command} --help')")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class _Interrupted(click.ClickException):
    """Ctrl-C after a transaction was handed to the node: which ones are out, with the shell's exit code for SIGINT."""

    exit_code = 130


def printable(text: str) -> str:
    """`text` with its control and format characters (line breaks, escapes, bidirectional overrides) written as
    escapes: "\\n", "\\x1b", "\\u202e"."""
    return "".join(
        c.encode("unicode_escape").decode("ascii") if unicodedata.category(c) in ("Cc", "Cf") else c for c in text
    )


class _OneLineErrors(click.Group):
    """Turns every expected failure into one line on stderr, never a traceback: exit code 1, or 2 for a command
    line that does not parse."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        given = tuple(args)
        try:
            ctx = super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            raise _one_line(exc, given) from None
        ctx.meta["primevault.args"] = given
        return ctx

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return self._invoke(ctx)
        except click.exceptions.NoArgsIsHelpError:
            raise  # a group's help, our own text, as it is
        except click.ClickException as exc:
            # The line quotes what nodes and venues said: a line break there faked a line of ours, and terminal
            # escapes (clearing the screen, OSC 52 writing the clipboard) reached the user's terminal.
            # Rewritten in place (click types `message` final): the exception keeps its class and exit code.
            vars(exc)["message"] = printable(exc.message)
            raise

    def _invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise _one_line(exc, ctx.meta.get("primevault.args", ())) from None
        except InterruptedAfterSend as exc:
            raise _Interrupted(str(exc)) from None
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
        except Web3RPCError as exc:
            raise click.ClickException(_node_refusal(ctx, exc)) from None
        except ContractLogicError as exc:
            # A read that reverted (a stale feed, a venue that cannot answer): its decoded reason.
            raise click.ClickException(_read_refusal(ctx, exc)) from None
        except BadFunctionCallOutput:
            # A read of a contract that returned nothing: no code at an address the deployment file names.
            cli_ctx = ctx.find_object(CliContext)
            where = f"{cli_ctx.deployment_path} on {cli_ctx.rpc_url}" if cli_ctx else "the deployment file"
            raise click.ClickException(
                f"a contract in {where} does not answer (no code at its address): redeploy, or pass the "
                "--deployment written for this chain"
            ) from None
        except RequestsTimeout:
            cli_ctx = ctx.find_object(CliContext)
            url = cli_ctx.rpc_url if cli_ctx else "the RPC"
            raise click.ClickException(
                f"{url} did not answer in time: is the node overloaded? (see --rpc-url)"
            ) from None
        except RequestsConnectionError:
            cli_ctx = ctx.find_object(CliContext)
            url = cli_ctx.rpc_url if cli_ctx else "the RPC"
            raise click.ClickException(f"lost the connection to {url}: is the node running?") from None
        except NODE_GARBLED as exc:
            # A node (or a proxy in front of it) that answered a read mid-command with an HTML page, a cut body or
            # JSON without a result: the start's chain check passed, so this node did answer JSON-RPC a moment ago.
            method = garbled_request(exc)
            if method is None:  # raised decoding something else than the node's answer: a fault of this program
                raise
            cli_ctx = ctx.find_object(CliContext)
            url = cli_ctx.rpc_url if cli_ctx else "the RPC"
            raise click.ClickException(
                f"{url} answered {method} with something that is not JSON-RPC ({type(exc).__name__}): a node or "
                "proxy failing for a moment? try again, or pass another --rpc-url"
            ) from None
        except RequestsHTTPError as exc:
            # An HTTP server that is not a node (a 404 or 501 page, a proxy's 502) at the RPC URL.
            url = exc.response.url if exc.response is not None else "the RPC URL"
            status = exc.response.status_code if exc.response is not None else "an error"
            raise click.ClickException(
                f"{url} answered HTTP {status}: it is not a JSON-RPC node (see --rpc-url)"
            ) from None


def _read_refusal(ctx: click.Context, exc: ContractLogicError) -> str:
    cli_ctx = ctx.find_object(CliContext)
    try:
        return f"a contract refused the read: {refusal(exc, cli_ctx.deployment)}" if cli_ctx else str(exc)
    except PrimeVaultError:  # no deployment to name the error's figures in
        return f"a contract refused the read: {exc.message or exc}"


def _node_refusal(ctx: click.Context, exc: Web3RPCError) -> str:
    message = node_message(exc)
    # Anvil says "gas required exceeds allowance: 0", geth "insufficient funds": the signer holds no ETH.
    if "insufficient funds" in message or "exceeds allowance: 0" in message:
        cli_ctx = ctx.find_object(CliContext)
        signer = cli_ctx.account.address if cli_ctx else "the signing account"
        return f"{signer} has no ETH to pay for gas: send it some (on anvil, dev accounts 0-9 hold ETH)"
    return f"the node refused the request: {message}"


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
    if keystore is not None and dev_account is not None:
        # Which one signs would be a guess: refuse rather than sign with a key the user did not mean.
        raise ConfigError(
            f"two keys given: --keystore {keystore} and --dev-account {dev_account} (or PRIMEVAULT_KEYSTORE and "
            "PRIMEVAULT_DEV_ACCOUNT): give one"
        )
    ctx.obj = CliContext(rpc_url, deployment_path, dev_account, keystore, password_file)


def _register() -> None:
    from keeper.cli import account, demo, devnet, keeper_cmd, lend, quotes, session, trade, web

    cli.add_command(account.account)
    cli.add_command(lend.lend)
    cli.add_command(session.session)
    cli.add_command(session.relay)
    cli.add_command(devnet.devnet)
    cli.add_command(devnet.deploy)
    cli.add_command(demo.demo)
    cli.add_command(quotes.quotes)
    cli.add_command(trade.trade)
    cli.add_command(keeper_cmd.keeper_group)
    cli.add_command(keeper_cmd.risk_group)
    cli.add_command(web.web)


_register()


def _envvars_and_summaries(command: click.Command, prefix: str = "PRIMEVAULT") -> None:
    """Every option reads an environment variable named after the command's path and the option's own long name
    (`--sub` of `account show`: PRIMEVAULT_ACCOUNT_SHOW_SUB), shown in its help, except the actions that end the
    command (--version, --help): a PRIMEVAULT_VERSION left in the environment must not turn every command into a
    version print. Every subcommand is listed with its first sentence whole."""
    for param in command.params:
        if not isinstance(param, click.Option):
            continue
        if param.is_eager and not param.expose_value:
            param.allow_from_autoenv = False
            continue
        if param.envvar is None:
            long_name = max(param.opts, key=len).lstrip("-")
            param.envvar = f"{prefix}_{long_name.replace('-', '_').upper()}"
        param.show_envvar = True
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            _envvars_and_summaries(sub, f"{prefix}_{name.replace('-', '_').upper()}")
            sub.short_help = sub.short_help or _first_sentence(sub.help or "")


def _first_sentence(text: str) -> str:
    """A command's first sentence, whole, for the list of commands (click would cut it at the terminal's width with
    '...')."""
    paragraph = " ".join(inspect.cleandoc(text).split("\n\n", 1)[0].split())
    return re.split(r"(?<!e\.g\.)(?<!i\.e\.)(?<=\.)\s", paragraph, maxsplit=1)[0]


_envvars_and_summaries(cli)


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM (`timeout`, a supervisor, a closed session's kill) ends a command as Ctrl-C does: a transaction it sent
    and still awaits is named (`InterruptedAfterSend`) and what it started is stopped, where the default ended the
    process with no word of what it had sent. `keeper run`, `devnet` and `web` install their own handlers."""
    raise KeyboardInterrupt


def main() -> None:
    # PRIMEVAULT_* settings from .env in the working directory, and only there: find_dotenv also searches every folder
    # above it, so a .env anyone can write (/tmp/.env) chose the node, the deployment and the key of a command run
    # below it. The real environment wins.
    load_dotenv(Path(".env"))
    signal.signal(signal.SIGTERM, _terminated)
    try:
        cli.main(prog_name="primevault")
    except KeyboardInterrupt:
        sys.exit(130)

"""A sweep of bad input over every subcommand: each gets one line that names the problem (exit code 1, or 2 for a
command line that does not parse), never a traceback, and changes nothing on chain."""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from click.testing import CliRunner, Result
from eth_account import Account

from keeper.cli import context as cli_context
from keeper.cli.main import cli
from keeper.client.lender import LenderClient
from keeper.client.trading import TradingClient
from keeper.client.vault import sub_account
from keeper.daemon.config import KeeperConfig
from keeper.daemon.runner import Keeper
from keeper.exceptions import ConfigError
from keeper.routing.depth import optimal_continuous
from keeper.units import format_units
from tests.python.conftest import Chain
from tests.python.fault_proxy import rpc_faults, serving

OPERATOR = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"  # anvil dev account 3, correctly checksummed
DEV_1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # the sweep's own key
BAD_CHECKSUM = "0x3c44CdDdB6a900fa2b585dd299e03d12FA4293BC"
UINT256_PLUS_ONE = str(2**256)
ZERO = "0x" + "0" * 40
ACCEPTED = ("--accepted", "0x" + "11" * 65)  # 65 bytes, a signature's shape: checked only by the contract


def _grant(key: str, market: str, max_order: str, *extra: str) -> tuple[str, ...]:
    """`session grant` with a scope that passes, but for what a row changes."""
    return ("session", "grant", key, "--market", market, "--max-order", max_order, "--max-total", "2", *extra)


# (arguments after the global options, a fragment the one-line error must contain)
CASES: list[tuple[tuple[str, ...], str]] = [
    # amounts
    (("account", "deposit", "1,5", "WETH"), "has a comma"),
    (("account", "deposit", "-1", "WETH"), "-1 is negative"),
    (("account", "deposit", "0", "WETH"), "must be greater than zero"),
    (("account", "deposit", "nan", "WETH"), "not a finite number"),
    (("account", "deposit", "inf", "WETH"), "not a finite number"),
    (("account", "deposit", "1e400", "WETH"), "larger than any token supply"),
    (("account", "deposit", UINT256_PLUS_ONE, "WETH"), "larger than any token supply"),
    (("account", "deposit", "1e-30", "WETH"), "more than 18 decimal places"),
    (("account", "deposit", "", "WETH"), "is not a number"),
    (("account", "deposit", "one", "WETH"), "is not a number"),
    # Python reads 1_0 as 10: refused as a comma is
    (("account", "deposit", "1_0", "WETH"), "'1_0' WETH has an underscore"),
    (("account", "deposit", "5000", "WETH"), "your wallet holds 998 WETH"),
    (("account", "deposit", "1", ""), "unknown asset ''"),
    (("account", "deposit", "1", "DOGE"), "unknown asset 'DOGE'"),
    (("account", "deposit", "1", "WETH", "--sub", "256"), "256 is not in the range"),
    (("account", "deposit", "1", "WETH", "--to", "0x123"), "'0x123' is not an address"),
    (("account", "deposit", "1", "WETH", "--to", "bob"), "'bob' is not an address"),
    (("account", "deposit", "1", "WETH", "--to", BAD_CHECKSUM), "wrong checksum"),
    (("account", "withdraw", "1000", "WETH"), "less than the 1,000 WETH asked for"),
    (("account", "deposit", "1", "WETH", "--to", ZERO), "the zero address (0x000...000) cannot be used here"),
    (("account", "withdraw", "1", "WETH", "--to", ZERO), "the zero address (0x000...000) cannot be used here"),
    (("account", "set-operator", ZERO, "--permissions", "trade"), "the zero address (0x000...000) cannot be used here"),
    (("account", "withdraw", "-1", "WETH"), "-1 is negative"),
    # commands that would change nothing send nothing
    (("account", "portfolio", "off"), "is margined by the standard rule already: nothing to change"),
    (("account", "set-operator", DEV_1, "--permissions", "trade"), f"{DEV_1} is the owner, which always acts"),
    (("account", "set-operator", OPERATOR, "--permissions", "none"), "holds exactly these permissions on"),
    (("account", "withdraw", "1", "WETH", "--account", "0x12"), "'0x12' is not an address"),
    (("account", "withdraw", "1", "WETH", "--to", "0x12"), "'0x12' is not an address"),
    (("account", "borrow", "0"), "must be greater than zero"),
    (("account", "borrow", "-5"), "-5 is negative"),
    (("account", "borrow", "abc"), "is not a number"),
    (("account", "borrow", "100000000000"), "free to lend"),
    # amounts beyond Decimal's default 28 digits, said exactly (not a traceback, not rounded)
    (("account", "borrow", "1e30"), "less than the 1,000,000,000,000,000,000,000,000,000,000.00 USDC asked for"),
    (
        ("account", "borrow", str(2**96)),
        "less than the 79,228,162,514,264,337,593,543,950,336.00 USDC asked for",
    ),
    # --sub would be dropped for --account: which account was meant is a guess
    (("account", "withdraw", "1", "WETH", "--account", OPERATOR, "--sub", "3"), "give the full sub-account address"),
    (("account", "borrow", "1", "--account", OPERATOR, "--sub", "0"), "give the full sub-account address"),
    (("account", "deposit", "1", "WETH", "--to", OPERATOR, "--sub", "2"), "sub-account address with --to, or --sub"),
    (("account", "repay", "10"), "nothing to repay"),
    (("account", "repay", "max"), "nothing to repay"),
    (("account", "repay", "-3"), "-3 is negative"),
    (("account", "transfer", "1", "WETH", "--from-sub", "0", "--to-sub", "0"), "the same sub-account"),
    (
        ("account", "transfer", "1" + "0" * 26, "USDC", "--from-sub", "0", "--to-sub", "1"),
        "100,000,000,000,000,000,000,000,000 USDC is more than one action can move (at most 79,228,162,514,264",
    ),
    (("account", "transfer", "1", "WETH", "--from-sub", "0"), "Missing option '--to-sub'"),
    (("account", "transfer", "1,5", "WETH", "--from-sub", "0", "--to-sub", "1"), "has a comma"),
    (("account", "set-operator", OPERATOR, "--permissions", ""), "has an empty name"),
    (("account", "set-operator", OPERATOR, "--permissions", "withdraw,,"), "has an empty name"),
    (("account", "set-operator", OPERATOR, "--permissions", "steal"), "unknown permission 'steal'"),
    (("account", "set-operator", OPERATOR), "Missing option '--permissions'"),
    (("account", "set-operator", OPERATOR, "--permissions", "trade", "--ttl", "600"), "use it with --sign-only"),
    (("account", "set-operator", "0x12", "--permissions", "trade"), "'0x12' is not an address"),
    (("account", "set-operator", BAD_CHECKSUM, "--permissions", "trade"), "wrong checksum"),
    (("account", "show", "0x0"), "'0x0' is not an address"),
    # the bundler's grant is a transaction of its own: a bundle refused after it must not leave it behind
    (("account", "bundle", "5000", "WETH"), "your wallet holds 998 WETH, less than the 5,000 WETH"),
    (("account", "bundle", "1", "WETH", "--borrow", "100000000"), "free to lend"),
    (("account", "bundle", "1", "WETH", "--borrow", "1e30"), "the 1,000,000,000,000,000,000,000,000,000,000.00 USDC"),
    (("account", "show", "--sub", "-1"), "-1 is not in the range"),
    # the lender vault
    (("lend", "deposit", "1,5"), "has a comma"),
    (("lend", "deposit", "0"), "must be greater than zero"),
    (("lend", "deposit", "10000000000"), "your wallet holds"),
    (("lend", "withdraw", "all"), "you hold no lender shares"),
    (("lend", "withdraw", "max"), "you hold no lender shares"),  # `max`, as `account repay max`
    (("lend", "deposit", "1_000"), "has an underscore"),
    (("lend", "withdraw", "5"), "you hold no lender shares"),
    (("lend", "withdraw", "1e30"), "you hold no lender shares"),
    (("lend", "withdraw", "abc"), "is not a number"),
    (("lend", "show", "0x12"), "'0x12' is not an address"),
    # session keys
    (_grant("0x12", "ETH-USD", "1", *ACCEPTED), "not an address"),
    (_grant(OPERATOR, "DOGE-USD", "1", *ACCEPTED), "unknown market"),
    (_grant(OPERATOR, "ETH-USD", "5", *ACCEPTED), "is above"),
    (_grant(OPERATOR, "ETH-USD", "x", *ACCEPTED), "not a number"),
    # the caps are uint128 on chain
    (
        ("session", "grant", OPERATOR, "--market", "ETH-USD", "--max-order", "1", "--max-total", "1e30", *ACCEPTED),
        "--max-total 1e30 is more than a session cap can hold: give at most "
        "340,282,366,920,938,463,463.374607431768211455 USD",
    ),
    (
        ("session", "grant", OPERATOR, "--market", "ETH-USD", "--max-order", "1e30", "--max-total", "1e31", *ACCEPTED),
        "--max-order 1e30 is more than a session cap can hold",
    ),
    (
        ("session", "trade", "ETH-USD", "1", "--side", "buy", "--limit", "3000", "--sign-only", "--nonce", "9" * 90),
        "is not in the range 0<=x<=115792089237316195423570985008687907853269984665640564039457584007913129639935",
    ),
    (("session", "trade", "ETH-USD", "1", "--side", "buy", "--limit", "3000"), "is not a session key"),
    (("session", "revoke", OPERATOR), "is not a session key"),
    (_grant(ZERO, "ETH-USD", "1", *ACCEPTED), "the zero address"),
    (_grant(OPERATOR, "ETH-USD", "1", "--accepted", "0xzz"), "is not a signature"),
    (_grant(OPERATOR, "ETH-USD", "1", "--accepted", "0x1234"), "is 2 bytes, not the 65 of a signature by"),
    (_grant(OPERATOR, "ETH-USD", "1", *ACCEPTED), "has not accepted a grant"),
    (("session", "accept", "0x12"), "not an address"),
    (("relay", "/nonexistent/order.json"), "does not exist"),
    (("session", "fund-relayer", OPERATOR, "5"), "is not a session key"),
    (("session", "fund-relayer", OPERATOR, "5000000"), "is not a session key"),
    # orders
    (("trade", "submit", "DOGE-USD", "1", "--side", "buy"), "unknown market 'DOGE-USD'"),
    (("trade", "submit", "ETH-USD", "0", "--side", "buy"), "must be greater than zero"),
    (("trade", "submit", "ETH-USD", "-1", "--side", "buy"), "-1 is negative"),
    (("trade", "submit", "ETH-USD", "1,5", "--side", "buy"), "has a comma"),
    (("trade", "submit", "ETH-USD", "1"), "Missing option '--side'"),
    (("trade", "submit", "ETH-USD", "1", "--side", "up"), "'up' is not one of"),
    (("trade", "submit", "ETH-USD", "1", "--side", "buy", "--limit", "abc"), "is not a number"),
    (("trade", "submit", "ETH-USD", "1", "--side", "buy", "--limit", "1"), "more than 50% away from the ETH-USD mark"),
    (("trade", "submit", "ETH-USD", "1", "--side", "buy", "--limit", "1000000"), "more than 50% away"),
    (("trade", "submit", "ETH-USD", "1", "--side", "sell", "--reduce-only"), "would not reduce"),
    (("trade", "submit", "ETH-USD", "1000000", "--side", "buy"), "of initial margin but"),
    (("trade", "submit", "ETH-USD", "0.0000001", "--side", "buy"), "is not a multiple of any venue's step"),
    (("trade", "submit", "ETH-USD", "1", "--side", "buy", "--ttl", "0"), "0 is not in the range"),
    (("trade", "submit", "ETH-USD", "1", "--side", "buy", "--account", "0x12"), "'0x12' is not an address"),
    (("trade", "submit", "ETH-USD", "1", "--side", "buy", "--account", OPERATOR), "nor its operator with the trade"),
    (
        ("trade", "submit", "ETH-USD", "1", "--side", "buy", "--account", OPERATOR, "--sub", "3"),
        f"--account {OPERATOR} and --sub 3 both name the account: give the full sub-account address with "
        "--account, or --sub for one of your own",
    ),
    (("trade", "cancel", "abc"), "'abc' is not a valid integer"),
    (("trade", "cancel", "-1"), "-1 is negative"),
    (("trade", "cancel", "999999"), "no order 999999"),
    (("trade", "cancel", "0"), "no order 0: no order has been submitted yet"),
    (("trade", "positions", "0x12"), "'0x12' is not an address"),
    (
        ("trade", "positions", OPERATOR, "--sub", "2"),
        f"ADDRESS {OPERATOR} and --sub 2 both name the account: give the full sub-account address with ADDRESS",
    ),
    (("account", "show", OPERATOR, "--sub", "1"), f"ADDRESS {OPERATOR} and --sub 1 both name the account"),
    (("trade", "execute", "abc"), "'abc' is not a valid integer"),
    (("trade", "execute", "99999"), "no order 99999"),
    (("trade", "execute"), "Missing argument"),
    (("quotes", "DOGE-USD", "1"), "unknown market 'DOGE-USD'"),
    (("quotes", "ETH-USD", "0"), "must be greater than zero"),
    (("quotes", "ETH-USD", "-1"), "-1 is negative"),
    (("quotes", "ETH-USD", "1e100"), "larger than any token supply"),
    (("quotes", "ETH-USD", "1e40"), "larger than any order can be"),
    # 1 wei of ETH: lost to float rounding beside a venue's cost, it once found no venue worth using
    (("quotes", "ETH-USD", "0.000000000000000001"), "is not a multiple of the venues' steps"),
    (("quotes", "ETH-USD", "0.000000000000000001", "--book"), "is not a multiple of the venues' steps"),
    (("trade", "submit", "ETH-USD", "1e40", "--side", "buy"), "larger than any order can be"),
    (("quotes", "ETH-USD", "1", "--side", "up"), "'up' is not one of"),
    # NaN passes click's FloatRange (every comparison with it is false)
    (("quotes", "ETH-USD", "1", "--horizon-hours", "nan"), "'nan' is not a number"),
    (("trade", "execute", "0", "--horizon-hours", "nan"), "'nan' is not a number"),
    (_grant(OPERATOR, "ETH-USD", "1", "--hours", "nan", *ACCEPTED), "'nan' is not a number"),
    # operator commands
    (("devnet", "--port", "70000"), "70000 is not in the range"),
    # aiohttp took "" for every interface, and printed the page's URL as http://:PORT
    (("web", "--host", "", "--port", "0"), "--host is empty: give the address to listen on"),
    (("demo", "--depositors", "1"), "1 is not in the range"),
    (("demo", "--crash", "2"), "2.0 is not in the range"),
    (("keeper", "run", "--shard", "3/2"), "shard"),
    (("keeper", "run", "--shard", "a/b"), "shard: 'a/b' is not i/n"),
    (("keeper", "run", "--metrics-port", "abc"), "metrics_port: 'abc' is not a port number"),
    (("keeper", "run", "--jobs", "foo"), "unknown foo"),
    (("keeper", "run", "--config", "/nonexistent.toml"), "does not exist"),
    (("keeper", "run", "--log-level", "loud"), "'loud' is not one of"),
    (("risk", "stress", "--shock", "ETH=abc"), "is not of the form ASSET=-30%"),
    (("risk", "stress", "--shock", "ETH=-150%"), "takes the price to zero or below"),
    (("risk", "stress", "--shock", "DOGE=-10%"), "unknown asset 'DOGE'"),
    (("risk", "stress", "--shock", ""), "no shock given"),
    (("risk", "stress", "--shock", "ETH=-30%,eth=-20%"), "ETH is shocked twice"),
    # Arabic-Indic digits, which a regex's \d reads as 30
    (("risk", "stress", "--shock", "ETH=\u0663\u0660%"), "is not of the form ASSET=-30%"),
    # the hint is this command's (the risk manager's key, or no --apply), not the daemon's --jobs
    (("risk", "haircuts", "--apply"), "or leave out --apply to see the proposals only"),
    (("keeper", "run", "--once", "--jobs", ","), "names no job"),
    # the seat job alone, and no seat: a keeper that ran no job ("jobs: none") and looked alive
    (("keeper", "run", "--once", "--jobs", "seat"), "jobs: the seat job runs only at the seats seat_venues names"),
    (("risk", "haircuts", "--config", "/etc/hostname"), "not valid TOML"),
    (("nosuch",), "No such command 'nosuch'"),
    (("account", "nosuch"), "No such command 'nosuch'"),
]


def run(chain: Chain, *args: str, dev: str = "1") -> Result:
    return CliRunner().invoke(cli, ["--deployment", str(chain.deployment_file), "--dev-account", dev, *args])


def assert_one_line_error(result: Result, fragment: str) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert result.exit_code in (1, 2, 130), result.output
    lines = [line for line in result.output.splitlines() if line.strip() and not line.startswith("warning:")]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: "), lines[0]
    assert fragment in lines[0], lines[0]


def state(chain: Chain) -> tuple[int, ...]:
    """Every balance the sweep's account could move, and the order count."""
    me = chain.account(1).address
    client = chain.client(1)
    symbols = [t.symbol for t in (chain.deployment.base, *chain.deployment.collateral)]
    wallet = [client.token(s).contract.functions.balanceOf(me).call() for s in symbols]
    vault = [client.collateral_balance(sub_account(me, sub), s) for s in symbols[1:] for sub in (0, 1)]
    # Contracts a command makes an operator before its main transaction (session grant, account bundle).
    helpers = [a for a in (chain.deployment.sessions, chain.deployment.bundler) if a]
    operators = [client.operator_permissions(sub_account(me, sub), a) for a in helpers for sub in (0, 1)]
    orders = TradingClient(chain.w3, chain.deployment).order_count()
    # Approvals: one sent before a call that then fails is left behind for later calls.
    spenders = [a for a in (chain.deployment.vault, chain.deployment.lender, *helpers) if a]
    allowances = [client.token(s).contract.functions.allowance(me, a).call() for s in symbols for a in spenders]
    # Nothing sent at all: a transaction taken back by another (a grant and its revocation) is a cost and a trace.
    sent = chain.w3.eth.get_transaction_count(me)
    return (*wallet, *vault, *operators, *allowances, client.base_balance(me), orders, sent)


@pytest.fixture
def funded(chain: Chain) -> Chain:
    for symbol in ("USDC", "WETH", "WBTC"):
        chain.mint(1, symbol, 1000)
    chain.client(1).deposit(chain.account(1).address, "WETH", 2 * 10**18)
    return chain


def test_tokens_never_go_to_the_protocols_own_contracts(funded: Chain) -> None:
    """A deposit into an account of the vault, a token or the lender (or any of their sub-accounts, which only they
    could act on, and never do) was taken, and lost (a withdrawal to such a contract was refused already)."""
    d = funded.deployment
    before = state(funded)
    for target in (d.vault, sub_account(d.vault, 3), d.base.address, d.lender):
        assert target is not None
        for asset in ("WETH", "USDC"):
            refused = run(funded, "account", "deposit", "1", asset, "--to", target)
            assert_one_line_error(refused, f"{target} is a sub-account of the ")
            assert "a deposit there is lost" in refused.output
    assert state(funded) == before


@pytest.mark.parametrize(("args", "fragment"), CASES, ids=[" ".join(args) for args, _ in CASES])
def test_bad_input_gets_one_line_and_changes_nothing(funded: Chain, args: tuple[str, ...], fragment: str) -> None:
    before = state(funded)
    assert_one_line_error(run(funded, *args), fragment)
    assert state(funded) == before


def test_global_options(funded: Chain, tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text("{bad")
    cases: list[tuple[list[str], str]] = [
        (["--deployment", str(corrupt), "account", "show"], "not valid JSON"),
        (["--deployment", str(tmp_path / "none.json"), "account", "show"], "does not exist"),
        (["--deployment", str(funded.deployment_file), "--rpc-url", "ftp://x", "account", "show"], "must start"),
        (["--deployment", str(funded.deployment_file), "--rpc-url", "", "account", "show"], "--rpc-url is empty"),
        (["--deployment", str(funded.deployment_file), "--rpc-url", "http://127.0.0.1:9", "account", "show"], "reach"),
        (["--deployment", str(funded.deployment_file), "--dev-account", "-1", "account", "repay", "1"], "out of range"),
        (["--deployment", str(funded.deployment_file), "--dev-account", "abc", "account", "show"], "valid integer"),
        (
            ["--deployment", str(funded.deployment_file), "--dev-account", "99", "account", "deposit", "1", "WETH"],
            "ETH",
        ),
        (
            [
                "--deployment",
                str(funded.deployment_file),
                "--keystore",
                "/etc/hostname",
                "--password-file",
                "/etc/hostname",
                "account",
                "repay",
                "1",
            ],
            "keystore",
        ),
        (["--deployment", str(funded.deployment_file), "account", "deposit", "1", "WETH"], "no key given"),
    ]
    before = state(funded)
    for args, fragment in cases:
        assert_one_line_error(CliRunner().invoke(cli, args), fragment)
    assert state(funded) == before


# Files a user points the CLI at that are not what it reads: each gets one line naming the file, not a traceback.
# (arguments with {placeholders} for the files `bad_files` writes, a fragment the one-line error must contain)
FILE_CASES: list[tuple[tuple[str, ...], str]] = [
    (("--deployment", "{binary}", "account", "show"), "is not text"),
    (("--deployment", "{json_list}", "account", "show"), "holds a JSON list, not the object"),
    (("--deployment", "{base_is_text}", "account", "show"), "is missing or has a bad field"),
    (("--deployment", "{no_lender}", "--dev-account", "1", "lend", "show"), "does not answer (no code at its address)"),
    (("--keystore", "{json_list}", "--password-file", "{password}", "account", "repay", "1"), "not an encrypted"),
    (("--keystore", "{not_keystore}", "--password-file", "{password}", "account", "repay", "1"), "not an encrypted"),
    (("--keystore", "{binary}", "--password-file", "{password}", "account", "repay", "1"), "is not JSON"),
    (("--keystore", "{keystore}", "--password-file", "{binary}", "account", "repay", "1"), "is not text"),
    (("keeper", "run", "--once", "--config", "{binary}"), "is not text"),
]


@pytest.fixture
def bad_files(chain: Chain, tmp_path: Path) -> dict[str, str]:
    deployment = json.loads(chain.deployment_file.read_text())
    files = {
        "binary": b"\xff\xfe\x00 not text",
        "json_list": b"[1, 2]",
        "base_is_text": json.dumps({**deployment, "base": "USDC"}).encode(),
        "no_lender": json.dumps({**deployment, "lender": "0x" + "22" * 20}).encode(),
        "not_keystore": b'{"crypto": {}}',
        "keystore": json.dumps(Account.encrypt(Account.create().key, "secret")).encode(),
        "password": b"secret\n",
    }
    paths = {}
    for name, content in files.items():
        path = tmp_path / name
        path.write_bytes(content)
        paths[name] = str(path)
    return paths


@pytest.mark.parametrize(("args", "fragment"), FILE_CASES, ids=[" ".join(args) for args, _ in FILE_CASES])
def test_bad_files(chain: Chain, bad_files: dict[str, str], args: tuple[str, ...], fragment: str) -> None:
    given = [arg.format(**bad_files) for arg in args]
    if "--deployment" not in given:
        given = ["--deployment", str(chain.deployment_file), *given]
    assert_one_line_error(CliRunner().invoke(cli, given), fragment)


def test_haircuts_apply_does_not_suggest_the_daemons_jobs(funded: Chain) -> None:
    result = run(funded, "risk", "haircuts", "--apply")
    assert_one_line_error(result, "(needed by the haircuts job): --apply pushes haircuts as the risk manager")
    assert "--jobs" not in result.output


@pytest.fixture
def not_a_node() -> Iterator[str]:
    """An HTTP server that is not a JSON-RPC node: it answers every POST with 404 (and GET with a page)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_error(404)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """`keeper run` sets the root logger's handlers to the command's stderr, which CliRunner closes after it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


ONE_SHOT: list[tuple[str, ...]] = [
    ("risk", "stress", "--shock", "ETH=-30%"),
    ("risk", "haircuts"),
    ("risk", "venues"),
    ("risk", "explain", OPERATOR),
    ("keeper", "run", "--once", "--jobs", "liquidation", "--log-level", "error"),
]


@pytest.mark.parametrize("args", ONE_SHOT, ids=[" ".join(args[:2]) for args in ONE_SHOT])
def test_one_shot_commands_fail_at_once_on_a_dead_rpc_or_one_that_is_not_a_node(
    funded: Chain, not_a_node: str, restore_logging: None, args: tuple[str, ...]
) -> None:
    # The daemon waits start_timeout (60 s) for its node; a command that runs once says what is wrong at once.
    for url, fragment in (
        ("http://127.0.0.1:9", "the RPC at http://127.0.0.1:9 does not answer (ConnectionError)"),
        (not_a_node, f"{not_a_node} answered HTTP 404 but is not a JSON-RPC node"),
    ):
        started = time.monotonic()
        result = CliRunner().invoke(
            cli, ["--deployment", str(funded.deployment_file), "--dev-account", "9", "--rpc-url", url, *args]
        )
        assert_one_line_error(result, fragment)
        assert time.monotonic() - started < 10, f"{' '.join(args)} waited on {url}"


def test_the_daemon_says_in_one_line_that_its_metrics_port_is_taken(chain: Chain, tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    config = KeeperConfig(
        rpc_urls=(chain.url,),
        deployment=chain.deployment_file,
        data_dir=tmp_path / "keeper",
        dev_account=9,
        jobs=("liquidation",),
        metrics_port=port,
    )
    keeper = Keeper(config)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with pytest.raises(ConfigError) as caught:
            keeper.run()
    finally:
        taken.close()
    assert str(caught.value) == (
        f"metrics_port: cannot serve /metrics on 127.0.0.1:{port} (it is already in use): pass another "
        "--metrics-port (PRIMEVAULT_METRICS_PORT, metrics_port), or off"
    )
    assert {sig: signal.getsignal(sig) for sig in handlers} == handlers, "the signals are left as they were"


def test_a_lender_deposit_that_buys_no_share_is_refused(funded: Chain) -> None:
    # Lent, borrowed, a month of interest: the pool's supply index is above 1, and 0.000001 USDC rounds to no share.
    lender = LenderClient(funded.w3, funded.deployment)
    assert run(funded, "lend", "deposit", "1000").exit_code == 0
    funded.fund(2, "WETH", 10)
    borrow = CliRunner().invoke(cli, ["--deployment", str(funded.deployment_file), "--dev-account", "2",
                                      "account", "borrow", "500"])  # fmt: skip
    assert borrow.exit_code == 0, borrow.output
    funded.advance(30 * 24 * 3600)
    assert lender.contract.functions.previewDeposit(1).call() == 0
    smallest = int(lender.contract.functions.previewMint(1).call())
    assert lender.contract.functions.previewDeposit(smallest).call() > 0
    before = state(funded)
    assert_one_line_error(
        run(funded, "lend", "deposit", "0.000001"),
        f"lending 0.000001 USDC buys no lender share (it rounds to nothing at the pool's interest index): lend at "
        f"least {format_units(smallest, 6)} USDC",
    )
    assert state(funded) == before


def test_the_largest_amount_an_action_moves_is_said_exactly(funded: Chain) -> None:
    # 2^96 wei of WETH: 29 significant digits, one more than Decimal's default context kept (it said
    # "at most 79,228,162,514.26433759354395034 WETH").
    funded.client(0).token("WETH").mint(funded.account(1).address, 2**96)
    before = state(funded)
    assert_one_line_error(
        run(funded, "account", "deposit", "79228162514.264337593543950336", "WETH"),
        "79,228,162,514.264337593543950336 WETH is more than one action can move (at most "
        "79,228,162,514.264337593543950335 WETH)",
    )
    assert state(funded) == before


@contextlib.contextmanager
def _node_answering(body: bytes | None) -> Iterator[str]:
    """An HTTP server at an RPC URL answering every POST with `body` (status 200), or, for None, never answering."""
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if body is None:
                release.wait(30)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        release.set()
        server.shutdown()
        server.server_close()


GARBAGE_COMMANDS: list[tuple[str, ...]] = [
    ("account", "show"),
    ("account", "deposit", "1", "WETH"),
    ("quotes", "ETH-USD", "1"),
    ("trade", "list"),
    ("lend", "show"),
    ("session", "list"),
    ("risk", "venues"),
]


@pytest.mark.parametrize(
    "body",
    [b"{garbage", b'{"jsonrpc": "2.0", "id": 0, "result": null}', b'{"result": ' + b"[" * 100_000],
    ids=["garbage", "null", "nested"],
)
def test_every_command_says_in_one_line_that_the_rpc_answers_no_chain_id(chain: Chain, body: bytes) -> None:
    with _node_answering(body) as url:
        for args in GARBAGE_COMMANDS:
            result = CliRunner().invoke(
                cli, ["--deployment", str(chain.deployment_file), "--dev-account", "1", "--rpc-url", url, *args]
            )
            assert_one_line_error(result, "answered eth_chainId with something other than a chain id")


@pytest.mark.parametrize("fault", ["garbage", "html", "null", "nested"])
def test_every_command_says_in_one_line_that_the_node_garbled_a_read_mid_command(funded: Chain, fault: str) -> None:
    """The node answers the chain check, then a read with an HTML page, a cut body or a null (a proxy in front of it
    failing for a moment): a traceback from web3's JSON decoding, where the check at start was one line."""
    before = state(funded)
    with rpc_faults(funded.url) as (faults, url):
        faults.break_answers("eth_call", fault)
        for args in GARBAGE_COMMANDS:
            result = CliRunner().invoke(
                cli, ["--deployment", str(funded.deployment_file), "--dev-account", "1", "--rpc-url", url, *args]
            )
            assert_one_line_error(result, f"{url} answered a request with something that is not JSON-RPC")
    assert state(funded) == before


def test_ctrl_c_while_a_deposit_awaits_its_receipt_names_the_transaction_that_is_out(funded: Chain) -> None:
    """Ctrl-C after the deposit was handed to the node printed "Aborted!" alone: the user, not told it was sent, ran
    the command again and deposited twice."""
    me = funded.account(1).address
    sent_before = funded.w3.eth.get_transaction_count(me)
    main_thread = threading.get_ident()
    # Python's own Ctrl-C, whatever an earlier test's event loop or command left installed in this process.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    with rpc_faults(funded.url) as (faults, url):
        # The receipt's answer held long enough for the interrupt to land while it is awaited on a loaded machine.
        faults.slow["eth_getTransactionReceipt"] = 5.0

        def interrupt_once_awaiting() -> None:
            deadline = time.monotonic() + 30
            while "eth_getTransactionReceipt" not in faults.asked and time.monotonic() < deadline:
                time.sleep(0.02)
            # To the main thread, as a terminal's Ctrl-C reaches it (a signal to the process may land on another
            # thread, and the main thread sees it only once its read returns: after the receipt came).
            signal.pthread_kill(main_thread, signal.SIGINT)

        threading.Thread(target=interrupt_once_awaiting, daemon=True).start()
        global_options = ["--deployment", str(funded.deployment_file), "--dev-account", "1", "--rpc-url", url]
        try:
            result = CliRunner().invoke(cli, [*global_options, "account", "deposit", "1", "WETH"])
        finally:
            signal.signal(signal.SIGINT, previous)
        faults.heal()
    assert result.exit_code == 130, result.output
    assert_one_line_error(result, "deposit WETH: interrupted after it was sent as 0x")
    assert f"(nonce {sent_before})" in result.output and "before sending again" in result.output
    tx_hash = result.output.split("sent as ")[1].split(" ")[0]
    receipt = funded.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    assert receipt["status"] == 1, "it was out, and mined"


def test_sigterm_while_a_deposit_awaits_its_receipt_names_the_transaction_that_is_out(funded: Chain) -> None:
    """SIGTERM (`timeout`, a supervisor) ended the command at once, silent about the deposit it had sent."""
    with rpc_faults(funded.url) as (faults, url):
        faults.slow["eth_getTransactionReceipt"] = 5.0  # the signal lands while it is awaited, on a loaded machine too
        command = [sys.executable, "-m", "keeper.cli", "--deployment", str(funded.deployment_file)]
        command += ["--dev-account", "1", "--rpc-url", url, "account", "deposit", "1", "WETH"]
        running = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while "eth_getTransactionReceipt" not in faults.asked and time.monotonic() < deadline:
            time.sleep(0.02)
        running.terminate()
        _, stderr = running.communicate(timeout=60)
        faults.heal()
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("warning:")]
    assert running.returncode == 130 and len(lines) == 1, stderr
    assert lines[0].startswith("Error: deposit WETH: interrupted after it was sent as 0x"), lines[0]
    tx_hash = lines[0].split("sent as ")[1].split(" ")[0]
    assert funded.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)["status"] == 1


def test_deploy_says_in_one_line_that_the_rpc_answers_garbage(tmp_path: Path) -> None:
    with _node_answering(b"{garbage") as url:
        result = CliRunner().invoke(
            cli, ["--rpc-url", url, "--dev-account", "0", "deploy", "--output", str(tmp_path / "d.json")]
        )
    assert_one_line_error(result, "answered eth_chainId with something other than a chain id")


def test_a_node_asking_an_absurd_priority_fee_cannot_make_a_command_pay_it(funded: Chain) -> None:
    """The fees come from the node (the deployment file's RPC URL, or --rpc-url): one asking a tip of a million gwei
    a gas had a deposit pay 0.001 ETH a gas to the block's producer, as the keeper's `max_fee_gwei` cap prevents."""

    async def greedy(request: web.Request) -> web.Response:
        call = json.loads(await request.read())
        async with aiohttp.ClientSession() as session, session.post(funded.url, json=call) as answer:
            result = await answer.json()
        if isinstance(call, dict) and call.get("method") == "eth_maxPriorityFeePerGas":
            result["result"] = hex(10**15)
        return web.json_response(result)

    me = funded.account(1).address
    with serving(greedy) as url:
        result = run(funded, "--rpc-url", url, "account", "deposit", "1", "WETH")
    assert result.exit_code == 0, result.output
    block = funded.w3.eth.get_block("latest", full_transactions=True)
    (deposit,) = [tx for tx in block["transactions"] if tx["from"] == me]  # type: ignore[index]
    assert deposit["maxFeePerGas"] <= 500 * 10**9 and deposit["maxPriorityFeePerGas"] <= 500 * 10**9, deposit


def test_a_nodes_error_is_said_on_one_line_without_its_control_characters(funded: Chain) -> None:
    """What a node (or a venue) says is printed in the command's error line: a line break in it faked a second line,
    and terminal escapes (clearing the screen, OSC 52 writing the clipboard) reached the user's terminal."""
    with rpc_faults(funded.url) as (faults, url):
        faults.error_message = "rate limited\nError: all clear\r\x1b[2J\x1b]52;c;ZXZpbA==\x07"
        faults.break_answers("eth_call", "error")
        result = run(funded, "--rpc-url", url, "account", "show")
    assert_one_line_error(result, "the node refused the request: rate limited")
    assert not any(c in result.output for c in "\x1b\x07\r"), repr(result.output)
    assert "rate limited\\nError: all clear" in result.output, repr(result.output)


def test_the_daemons_log_never_holds_the_rpc_urls_key(funded: Chain, tmp_path: Path) -> None:
    """Providers put the key in the URL (Alchemy's /v2/KEY, a user:password@ host, ?apikey=): the daemon's log,
    kept and shipped, named the URL whole at start and when it could not use the node. It names the host alone."""
    secrets = "keeper:PASSWORD1@", "/v2/SECRETKEY1?apikey=SECRETKEY2"
    with rpc_faults(funded.url) as (_, url):
        keyed = url.replace("http://", "http://" + secrets[0]) + secrets[1]
        args = ["--deployment", str(funded.deployment_file), "--dev-account", "9", "keeper", "run"]
        args += ["--jobs", "liquidation", "--metrics-port", "off", "--data-dir", str(tmp_path / "keeper")]
        running = subprocess.Popen(
            [sys.executable, "-m", "keeper.cli", "--rpc-url", keyed, *args],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert running.stderr is not None
            deadline, said = time.monotonic() + 60, ""
            while "keeper running as" not in said and time.monotonic() < deadline:
                said += running.stderr.readline()
        finally:
            running.terminate()
            running.communicate(timeout=30)
    assert f"keeper running as {funded.account(9).address} on {url.replace('http://', 'http://***@')}/***" in said
    gone = f"http://{secrets[0]}127.0.0.1:9{secrets[1]}"
    refused = CliRunner().invoke(cli, ["--rpc-url", gone, *args[:4], *ONE_SHOT[-1]])
    assert "the RPC at http://***@127.0.0.1:9/*** does not answer" in refused.output, refused.output
    for secret in ("PASSWORD1", "SECRETKEY1", "SECRETKEY2"):
        assert secret not in said + refused.output


def test_the_daemon_says_in_one_line_that_the_rpc_answers_json_nested_past_the_parser(
    funded: Chain, restore_logging: None
) -> None:
    with _node_answering(b'{"result": ' + b"[" * 100_000) as url:
        result = CliRunner().invoke(
            cli,
            ["--deployment", str(funded.deployment_file), "--dev-account", "9", "--rpc-url", url, *ONE_SHOT[-1]],
        )
    assert_one_line_error(result, "answered eth_chainId with something other than a chain id (RecursionError)")


def test_a_node_that_hangs_is_said_to_not_answer_in_time_not_to_be_down(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_context, "RPC_TIMEOUT_SECONDS", 1.0)
    with _node_answering(None) as url:
        started = time.monotonic()
        result = CliRunner().invoke(
            cli, ["--deployment", str(chain.deployment_file), "--rpc-url", url, "trade", "list"]
        )
    assert_one_line_error(result, f"the RPC at {url} did not answer within 1s")
    assert "is the node running" not in result.output
    assert time.monotonic() - started < 10


def test_the_split_of_one_wei_is_computed_not_a_reduction_over_nothing() -> None:
    q = optimal_continuous(1e-18, [0.001, 0.002], [0.5, 0.5])
    assert q.shape == (2,) and (q >= 0).all() and q.sum() <= 1e-17

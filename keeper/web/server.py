"""An aiohttp server for the web app built into `keeper/web/dist/` (`make web`).

The page talks to the chain itself (viem, over the RPC URL in `/config.json`, signing in the user's wallet); the
server only hands it what the Python package already has: the ABIs it ships (`/abi/NAME.json`), the deployment's
addresses (`/config.json`, read again on every request so a restarted devnet is picked up), the quotes and routed
split of `primevault quotes` (`/api/quotes`), `trade submit`'s margin check of an order (`/api/order-check`),
the CLI's one-line explanation of a revert (`/api/explain`), the
keeper's scan of every account for those closest to liquidation (`/api/riskiest`) and a sub-account's requirement
under both rules with the portfolio rule's scenario grid (`/api/portfolio`, what `primevault risk explain --json`
prints), so that the page, the CLI and the keeper route, explain and judge alike from one implementation.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import json
import logging
import re
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from aiohttp import web
from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3RPCError

from keeper.chain.anvil import ANVIL_CHAIN_ID
from keeper.chain.artifacts import ARTIFACT_NAMES, load_artifact
from keeper.chain.deployment import Deployment, TokenInfo
from keeper.chain.keys import dev_account
from keeper.chain.revert import error_decoder, revert_data
from keeper.chain.transactions import GAS_MARGIN_FIXED, GAS_MARGIN_PERCENT
from keeper.cli.devnet import KEEPER_DEV_ACCOUNT
from keeper.cli.explain import describe, explain
from keeper.cli.quotes import decimal_text, quote_document
from keeper.cli.risk_report import read_account_risk, risk_document
from keeper.cli.trade import check_margin, held_position
from keeper.client.clients import Clients
from keeper.client.feeds import FeedClient
from keeper.client.trading import TradingClient
from keeper.client.venues import node_message
from keeper.daemon.chain_watch import NODE_GARBLED, garbled_request
from keeper.exceptions import (
    ConfigError,
    InputError,
    NotEnoughLiquidityError,
    NoVenueCanPrice,
    PriceUnusableError,
    PrimeVaultError,
    TransactionReverted,
)
from keeper.follower import AccountFollower
from keeper.liquidator import Scan
from keeper.risk.screening import closest_to_liquidation
from keeper.units import parse_size

DEV_ACCOUNTS = 10  # anvil's default accounts, offered by the page's dev wallet on a local chain only
MAX_HORIZON_HOURS = 24 * 365
LOG = logging.getLogger(__name__)
# What each route does, for the sentence of a contract that reverts under it ("quotes failed: ...").
_ROUTE_ACTIONS = {
    "/api/quotes": "quotes",
    "/api/order-check": "the margin check",
    "/api/portfolio": "the risk report",
    "/api/riskiest": "the scan",
}


@dataclass
class WebSettings:
    deployment_path: Path
    rpc_url: str
    dist: Path
    _followed: tuple[Deployment, AccountFollower] | None = field(default=None, init=False, repr=False)
    _follower_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @cached_property
    def w3(self) -> Web3:
        return Web3(Web3.HTTPProvider(self.rpc_url, request_kwargs={"timeout": 30}))

    def deployment(self) -> Deployment:
        return Deployment.load(self.deployment_path)

    def scan(self) -> tuple[Deployment, Scan]:
        """The latest scan of every account, from the keeper's follower (a full read once, then the head, the logs
        and one lens call a block; the last scan again when no block came), so that every viewer polling each block
        costs the node three requests, not a full read each; with the deployment it reads, whose assets and markets
        its figures are in. A new deployment (a restarted devnet) starts over."""
        deployment = self.deployment()
        with self._follower_lock:
            if self._followed is None or self._followed[0] != deployment:
                self._followed = (deployment, AccountFollower(Clients.build(self.w3, deployment)))
            return self._followed[0], self._followed[1].update()


SETTINGS = web.AppKey("settings", WebSettings)


def check_dist(dist: Path) -> None:
    if not (dist / "index.html").is_file():
        raise ConfigError(f"the web app is not built in {dist}: run `make web` (or pass --dist)")


def build_app(settings: WebSettings, host: str = "127.0.0.1") -> web.Application:
    """The app for a server listening on `host` (the name it may be reached by, besides this machine's own)."""
    check_dist(settings.dist)
    app = web.Application(middlewares=[_this_machine_only(host), _errors_as_json])
    app[SETTINGS] = settings
    app.on_response_prepare.append(_security_headers)
    app.router.add_get("/", _index)
    app.router.add_get("/config.json", _config)
    app.router.add_get("/abi/{name}.json", _abi)
    app.router.add_get("/api/quotes", _quotes)
    app.router.add_post("/api/explain", _explain)
    app.router.add_get("/api/riskiest", _riskiest)
    app.router.add_get("/api/portfolio", _portfolio)
    app.router.add_get("/api/order-check", _order_check)
    app.router.add_static("/assets/", settings.dist / "assets")
    return app


def _this_machine_only(listen_host: str) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Refuses a request whose Host names no address and none of this machine's names (localhost, its host name, the
    name it listens on): a page of another site whose name its DNS turns into 127.0.0.1 (DNS rebinding) is of one
    origin with the app for the browser, and could read `/config.json` (the RPC URL with any key it holds) and call
    the API; its requests carry its own name."""
    own = {"localhost", socket.gethostname().lower(), socket.getfqdn().lower(), listen_host.lower()}

    @web.middleware
    async def check(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            name = (urlsplit("//" + request.host).hostname or "").rstrip(".")
        except ValueError:  # a Host that is no host[:port]
            name = ""
        if _is_ip_address(name) or name in own or name.endswith(".localhost"):
            return await handler(request)
        error = (
            f"Host {_shown(request.host)!r} is not this machine: the app answers only to this machine's names and "
            "addresses (a page of another site reaching it by DNS rebinding?)"
        )
        return web.json_response({"error": error}, status=403)

    return check


def _is_ip_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every answer, static files and refusals included: no other site may frame the app (its dev wallet signs
    without asking, so a decoy over a framed page could have a visitor click transactions through), and no answer is
    read as another type than it says (a JSON answer as a script or a page)."""
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    response.headers["X-Content-Type-Options"] = "nosniff"


@web.middleware
async def _errors_as_json(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """A bad request is one line of JSON the page shows as it is, and so is a node that cannot be reached, refuses or
    garbles its answer (502: the server is a gateway to it), as the CLI says them, and the chain's state (503): a
    contract that reverts under the request, decoded and explained, no venue able to quote, a figure that needs a stale
    price. So are aiohttp's own refusals (no such path or file, a method the route does not take, a body too large),
    which it would answer in plain text, and the server's own failures (500: an unusable deployment file, anything else;
    the details in its log, never the page): the page never gets a body that is not JSON."""
    try:
        return await handler(request)
    except (InputError, NotEnoughLiquidityError) as exc:  # the request's own problem: said as it is
        return web.json_response({"error": str(exc)}, status=400)
    except (NoVenueCanPrice, PriceUnusableError) as exc:  # the chain's state, as a revert is (503 below)
        return web.json_response({"error": _without_cli_pointers(str(exc))}, status=503)
    except PrimeVaultError as exc:
        # The server's own problem (its deployment file, its settings): the text may name the server's files, so it
        # goes to the log and the page gets one generic line.
        LOG.warning("%s %s failed: %s", request.method, request.path, exc)
        return web.json_response(
            {"error": f"the page's server cannot answer {request.method} {request.path} now; its log has the details"},
            status=500,
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        error = f"{exc.reason}: {request.method} {request.path}"
        if isinstance(exc, web.HTTPMethodNotAllowed):
            error += f" (it takes {', '.join(sorted(exc.allowed_methods))})"
        return web.json_response({"error": error}, status=exc.status)
    except (requests.ConnectionError, requests.Timeout):
        url = request.app[SETTINGS].rpc_url
        return web.json_response({"error": f"lost the connection to {url}: is the node running?"}, status=502)
    except Web3RPCError as exc:
        return web.json_response({"error": f"the node refused the request: {node_message(exc)}"}, status=502)
    except NODE_GARBLED as exc:
        # The node, or a proxy in front of it, answered with an HTML page, a cut body or JSON without a result: the
        # gateway's failure (502), not this server's (which the 500 below would say, with a traceback in its log).
        method = garbled_request(exc)
        if method is None:  # decoding something else than the node's answer: the server's own fault, as below
            return _server_failed(request)
        url = request.app[SETTINGS].rpc_url
        return web.json_response(
            {"error": f"the node at {url} answered {method} with something that is not JSON-RPC: try again"},
            status=502,
        )
    except ContractLogicError as exc:
        # A contract the answer reads reverted (a venue refusing a stale price): its sentence, as the CLI says it.
        # 503: it is the chain's state, not the request, and it passes (the feed updates).
        action = _ROUTE_ACTIONS.get(request.path, request.path)
        return web.json_response({"error": _without_cli_pointers(_explain_error(request, action, exc))}, status=503)
    except Exception:
        # Anything else is a fault of this server; its traceback goes to the log, the page gets one line.
        return _server_failed(request)


def _server_failed(request: web.Request) -> web.Response:
    """Called while handling an exception: its traceback goes to the log, the page gets one line."""
    LOG.exception("%s %s failed", request.method, request.path)
    return web.json_response(
        {"error": f"the page's server failed on {request.method} {request.path}; its log has the details"},
        status=500,
    )


def _explain_error(request: web.Request, action: str, exc: ContractLogicError) -> str:
    """The CLI's sentence for a revert under `action`; never raises, so the answer stays JSON: the decoded error
    alone if the deployment went away meanwhile, a generic sentence (the failure logged) if decoding fails."""
    try:
        error = error_decoder().decode(revert_data(exc) or b"")
    except Exception:
        LOG.exception("%s %s: the revert could not be decoded", request.method, request.path)
        return f"{action} failed: a contract reverted and its reason could not be decoded"
    try:
        return explain(TransactionReverted(action, error), request.app[SETTINGS].deployment())
    except PrimeVaultError:  # the deployment file went away meanwhile
        return f"{action} failed: {error}"
    except Exception:
        LOG.exception("%s %s: the revert %s could not be explained", request.method, request.path, error.name)
        return f"{action} failed: {error.name}"


# The CLI's sentences point at commands in parentheses that open with one ("(`primevault lend show`)", "(`a`,
# then `b`)"); the page shows the same figures itself and never sends its user to a terminal, so those pointers are
# left out of what it is handed. (explain.py writes every pointer so; a test checks that no sentence keeps one.)
_CLI_POINTER = re.compile(r" \(`[^()]*\)")


def _without_cli_pointers(sentence: str) -> str:
    return _CLI_POINTER.sub("", sentence)


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(request.app[SETTINGS].dist / "index.html", headers={"Cache-Control": "no-cache"})


def config_document(deployment: Deployment, rpc_url: str) -> dict[str, Any]:
    """The deployment as the page reads it; anvil's dev keys only when the chain is a local anvil."""
    local = deployment.chain_id == ANVIL_CHAIN_ID
    # Not account 0, the deployer holding every role, nor the keeper's account: a page signing as either would act
    # for the protocol or race the keeper's own transactions (`primevault devnet` funds accounts 1-9).
    offered = [i for i in range(1, DEV_ACCOUNTS) if i != KEEPER_DEV_ACCOUNT] if local else []
    return {
        "chainId": deployment.chain_id,
        "rpcUrl": rpc_url,
        "gasMargin": {"percent": GAS_MARGIN_PERCENT, "fixed": GAS_MARGIN_FIXED},
        "block": deployment.block,
        "vault": deployment.vault,
        "lens": deployment.lens,
        "trading": deployment.trading,
        "lender": deployment.lender,
        "sessions": deployment.sessions,
        "base": _token(deployment.base),
        "collateral": [_token(t) for t in deployment.collateral],
        "markets": [{"ticker": m.ticker, "feed": m.feed} for m in deployment.markets],
        "venues": [{"name": v.name, "address": v.address, "adapter": v.adapter} for v in deployment.venues],
        "devAccounts": [
            {"index": i, "address": account.address, "privateKey": Web3.to_hex(account.key)}
            for i in offered
            for account in [dev_account(i)]
        ],
    }


def _token(token: TokenInfo) -> dict[str, Any]:
    return {"symbol": token.symbol, "address": token.address, "decimals": token.decimals, "feed": token.feed}


async def _config(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    document = config_document(settings.deployment(), settings.rpc_url)
    return web.json_response(document, headers={"Cache-Control": "no-cache"})


async def _abi(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in ARTIFACT_NAMES:
        return web.json_response({"error": f"no ABI named {name!r}"}, status=404)
    return web.json_response(load_artifact(name).abi)


async def _quotes(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    query = request.query
    deployment = settings.deployment()
    market, side, amount = _order(query, deployment)
    horizon = _number(query.get("horizon_hours", "8"), "horizon_hours", MAX_HORIZON_HOURS)
    document = await asyncio.to_thread(quote_document, settings.w3, deployment, market, amount, side, horizon, None)
    for row in document["venues"]:
        if "error" in row:  # a venue that cannot quote: its reason, shown on the page
            row["error"] = _without_cli_pointers(row["error"])
    return web.json_response(text=json.dumps(document, default=decimal_text))


def _number(text: str, name: str, most: float, kind: Callable[[str], float] = float) -> float:
    """`text` as a `kind` (float, or int for a count) in 0..`most`. ASCII only: Python's float and int also read
    other scripts' digits (an Arabic-Indic one reads as 1), which no client means to send; and no underscore, which
    they skip ("1_0" reads as 10; a size with one is refused too). Negative zero is zero."""
    try:
        if not text.isascii() or "_" in text:
            raise ValueError(text)
        value = kind(text)
    except ValueError:
        raise InputError(f"{name} {text!r} is not a{' whole' if kind is int else ''} number") from None
    if not 0 <= value <= most:
        raise InputError(f"{name} {text} is not in 0..{most:g}")
    return value + 0


MAX_RISKIEST = 100


async def _riskiest(request: web.Request) -> web.Response:
    """The accounts closest to liquidation, from the keeper's own scan of every account (the page could read only a
    page of them): `{"block", "exposed", "accounts": [{"account", "equity", "maintenance", "ratio"}], "unpriced":
    [{"account", "holds", "trades", "reason"}], "unpriced_count"}`, amounts in base units as decimal strings. An
    account that borrows or trades but holds an asset or trades a market without a usable price cannot be valued:
    it is in `unpriced` (largest debt first, at most `limit` of them, `unpriced_count` in all), never in `accounts`
    with figures that are not its health."""
    settings = request.app[SETTINGS]
    limit = int(_number(request.query.get("limit", "10"), "limit", MAX_RISKIEST, int))
    deployment, found = await asyncio.to_thread(settings.scan)
    unusable = set(found.unusable_assets)  # collateral symbols and market tickers
    bad_assets = [i for i, token in enumerate(deployment.collateral) if token.symbol in unusable]
    bad_markets = {m for m, market in enumerate(deployment.markets) if market.ticker in unusable}
    watch = closest_to_liquidation(found.book, found.health, limit, found.portfolio_health, bad_assets, bad_markets)

    def amounts(row: int) -> tuple[int, int]:
        standard = (int(found.health.equity[row]), int(found.health.maintenance_requirement[row]))
        return found.portfolio_health.get(row, standard)

    exposed = int(((found.book.base_floats < 0) | (found.book.slot_counts() > 0)).sum())
    accounts = [
        {"account": found.book.address(row), "equity": str(equity), "maintenance": str(maintenance), "ratio": ratio}
        for row, ratio in watch.closest
        for equity, maintenance in [amounts(row)]
    ]
    unpriced = []
    for blind in watch.unpriced:
        holds = [deployment.collateral[i].symbol for i in blind.assets]
        trades = [deployment.markets[m].ticker for m in blind.markets]
        what = [f"{verb} {', '.join(names)}" for verb, names in (("holds", holds), ("trades", trades)) if names]
        reason = (
            f"{' and '.join(what)} without a usable price now (a stale or invalid feed): its health cannot be computed"
        )
        unpriced.append({"account": found.book.address(blind.row), "holds": holds, "trades": trades, "reason": reason})
    return web.json_response(
        {
            "block": found.block,
            "exposed": exposed,
            "accounts": accounts,
            "unpriced": unpriced,
            "unpriced_count": watch.unpriced_count,
        }
    )


async def _portfolio(request: web.Request) -> web.Response:
    """`risk_document` for `?account=0x...`: both rules' requirements and the scenario grid."""
    settings = request.app[SETTINGS]
    account = _account(request.query)
    deployment = settings.deployment()
    clients = Clients.build(settings.w3, deployment)
    risk = await asyncio.to_thread(read_account_risk, clients, account)
    return web.json_response(risk_document(risk, deployment.base))


def order_check(w3: Web3, deployment: Deployment, account: str, ticker: str, side: str, amount: Decimal) -> None:
    """`primevault trade submit`'s check of an order against the account's free margin, at the feed's mark: raises
    `InputError` with the CLI's sentence when the order needs more initial margin than `account` has free."""
    client = TradingClient(w3, deployment)
    size = amount if side == "buy" else -amount
    held = held_position(client, account, ticker, size, False)
    mark = FeedClient(w3, deployment.market(ticker).feed).price()
    check_margin(Clients.build(w3, deployment), account, ticker, size, held, mark)


async def _order_check(request: web.Request) -> web.Response:
    """`?account=0x...&market=ETH-USD&side=buy&size=1`: `{"ok": true}`, or 400 with the CLI's sentence for an order
    the account cannot carry ("this order needs about X USDC of initial margin but ... has Y USDC free")."""
    settings = request.app[SETTINGS]
    query = request.query
    account = _account(query)
    deployment = settings.deployment()
    ticker, side, amount = _order(query, deployment)
    await asyncio.to_thread(order_check, settings.w3, deployment, account, ticker, side, amount)
    return web.json_response({"ok": True})


def _order(query: Mapping[str, str], deployment: Deployment) -> tuple[str, str, Decimal]:
    """A query's `market` (its ticker), `side` (buy or sell, buy if absent) and `size`, each refused by name."""
    ticker = deployment.market(query.get("market", "")).ticker
    side = query.get("side", "buy")
    if side not in ("buy", "sell"):
        raise InputError(f"side {side!r} is not buy or sell")
    return ticker, side, parse_size(query.get("size", ""), option="size")


def _account(query: Mapping[str, str]) -> ChecksumAddress:
    """A query's `account`, refused if it is not an address or is written in mixed case with a wrong EIP-55 checksum
    (a typo the checksum exists to catch), as the CLI refuses it."""
    text = query.get("account", "")
    if not Web3.is_address(text):
        raise InputError(f"account {_shown(text)!r} is not an address: pass ?account=0x... (40 hex digits)")
    if text != text.lower() and not Web3.is_checksum_address(text):
        raise InputError(f"account {text} has a wrong checksum (mixed case): check it, or write it in lower case")
    return Web3.to_checksum_address(text)


def _shown(text: str, most: int = 44) -> str:
    """A query's value as an error quotes it: cut after `most` characters, so that a huge one is not sent back whole."""
    return text if len(text) <= most else text[:most] + "..."


_HEX_DATA = re.compile(r"0x(?:[0-9a-fA-F]{2})*")


async def _explain(request: web.Request) -> web.Response:
    """The CLI's sentence for a revert: `{"action": "withdraw WETH", "symbol": "WETH", "data": "0x..."}`."""
    usage = 'explain takes {"action": ..., "data": "0x...", "symbol": ...}'
    try:
        body = await request.json()
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested deeper than the parser recurses
        raise InputError(f"{usage}: the body is not JSON") from None
    if not isinstance(body, dict):
        raise InputError(f"{usage}: the body is not a JSON object")
    action, data, symbol = body.get("action"), body.get("data"), body.get("symbol")
    if not isinstance(action, str) or not action:
        raise InputError(f'{usage}: action must be a string such as "withdraw WETH"')
    if not isinstance(data, str) or not _HEX_DATA.fullmatch(data):
        raise InputError(f"{usage}: data must be the revert data as 0x and pairs of hex digits")
    if symbol is not None and not isinstance(symbol, str):
        raise InputError(f'{usage}: symbol must be a token symbol such as "WETH", or null')
    error = error_decoder().decode(HexBytes(data))
    deployment = request.app[SETTINGS].deployment()
    # `explain`'s line is "<action> failed: <reason> [<name>]": built here from the one `describe`.
    reason = _without_cli_pointers(describe(error, deployment, symbol))
    return web.json_response(
        {"name": error.name, "message": f"{action} failed: {reason} [{error.name}]", "reason": reason}
    )


async def serve(
    settings: WebSettings, host: str, port: int, stop: asyncio.Event, started: Callable[[str], None]
) -> None:
    """Serves until `stop` is set; `started` gets the URL once the port is bound (port 0 picks a free one)."""
    runner = web.AppRunner(build_app(settings, host), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(f"port {port} on {host} is in use: choose another with --port") from None
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        bound = runner.addresses[0]
        started(f"http://{host}:{bound[1]}")
        await stop.wait()
    finally:
        await runner.cleanup()


@contextmanager
def serving_in_thread(settings: WebSettings, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """The server on a thread of its own for the duration of the block (browser tests, `make screenshots`); yields
    its URL once it listens."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    bound: list[str] = []
    ready = threading.Event()
    failure: list[BaseException] = []

    def started(url: str) -> None:
        bound.append(url)
        ready.set()

    def run() -> None:
        try:
            loop.run_until_complete(serve(settings, host, port, stop, started))
        except BaseException as exc:  # reported to the caller's thread below
            failure.append(exc)
            ready.set()
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="primevault-web", daemon=True)
    thread.start()
    ready.wait()
    if failure:
        raise failure[0]
    try:
        yield bound[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)

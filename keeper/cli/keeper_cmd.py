"""`primevault keeper run` and `primevault risk ...`: the keeper operator's commands."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import aiohttp
import click
import numpy as np
from click.core import ParameterSource
from eth_typing import ChecksumAddress
from web3.exceptions import ContractLogicError, Web3RPCError

from keeper.chain.deployment import Deployment
from keeper.cli.context import CliContext, pass_context
from keeper.cli.explain import refusal
from keeper.cli.params import ADDRESS, JSON_OPTION
from keeper.cli.quotes import venue_failure
from keeper.cli.risk_report import read_account_risk, risk_document
from keeper.client.adapters import VenueExposure
from keeper.client.trading import TradingClient
from keeper.client.venues import VENUE_FAILURES, node_failure
from keeper.connectors.rabbitx.client import Credentials, RabbitXClient
from keeper.daemon.config import JOBS, KeeperConfig, load_config
from keeper.daemon.runner import Keeper
from keeper.exceptions import InputError, MissingRoleError
from keeper.jobs.context import PRICE_FILE, JobContext
from keeper.jobs.haircuts import HaircutJob
from keeper.jobs.roles import check_roles
from keeper.liquidator import assess, read_book
from keeper.portfolio_rule import PortfolioRule
from keeper.risk.haircuts import HaircutPolicy, HaircutProposal
from keeper.risk.portfolio import explain_lines
from keeper.risk.stress import StressResult, parse_shocks, shocked, stress
from keeper.units import format_units, plain_units
from keeper.wiring import wire

_config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="PRIMEVAULT_CONFIG",
    help="TOML file with a [keeper] table (see docs/keeper.example.toml).",
)


class _JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def _data_dir(value: str | None) -> Path | None:
    """--data-dir as a path; an empty one (which a path type reads as the working directory) is refused."""
    if value is None:
        return None
    if not value.strip():
        raise click.BadParameter("is empty: give the directory for the keeper's nonce file and price history")
    return Path(value)


def _configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Libraries that log every request at INFO (the dYdX client's indexer calls go through httpx).
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # The Centrifuge client's debug lines quote the commands it sends, the connect command with the RabbitX JWT among
    # them: a debug log would hand whoever reads it the account's channel.
    logging.getLogger("centrifuge").setLevel(max(logging.INFO, root.level))
    # The scheduler warns whenever a job's run outlasts its interval and the next is skipped (it then runs at the
    # next tick): normal under load, and measured in primevault_job_duration_seconds. Its errors still show.
    logging.getLogger("apscheduler").setLevel(max(logging.ERROR, root.level))


def _keeper_config(ctx: CliContext, path: Path | None, need_key: bool = True, **overrides: Any) -> KeeperConfig:
    """The keeper's settings: defaults < TOML < environment < flags. Only global flags given on the command line
    count as flags; their defaults must not hide the file's values. Read-only commands pass `need_key=False`."""
    root = click.get_current_context().find_root()
    given = {
        name
        for name in ("rpc_url", "deployment_path")
        if root.get_parameter_source(name) not in (ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP, None)
    }
    base: dict[str, Any] = {
        "rpc_urls": ctx.rpc_url_option if "rpc_url" in given else None,
        "deployment": ctx.deployment_path if "deployment_path" in given else None,
        "dev_account": ctx.dev_account_index,
        "keystore": ctx.keystore,
        "password_file": ctx.password_file,
    }
    base.update(overrides)
    return load_config(path, base, need_key)


@click.group("keeper")
def keeper_group() -> None:
    """Run the keeper daemon, and onboard its seat at an exchange."""


@keeper_group.command()
@_config_option
# The options that set a field of the keeper's configuration read that field's variable, as the configuration does:
# one variable per setting.
@click.option(
    "--dry-run", is_flag=True, default=None, envvar="PRIMEVAULT_DRY_RUN", help="Decide and log; send nothing."
)
@click.option("--once", is_flag=True, default=None, envvar="PRIMEVAULT_ONCE", help="One cycle of every job, then exit.")
@click.option("--shard", envvar="PRIMEVAULT_SHARD", help="Scan only shard i of n, as i/n (e.g. 0/2).")
@click.option(
    "--metrics-port", envvar="PRIMEVAULT_METRICS_PORT", help="Port for /metrics and /healthz (0 or 'off' to disable)."
)
@click.option(
    "--data-dir",
    envvar="PRIMEVAULT_DATA_DIR",
    type=click.Path(file_okay=False),
    callback=lambda _ctx, _param, value: _data_dir(value),
    help="Where the nonce file, the price history and the seats' fill stores are kept (default: .primevault).",
)
@click.option(
    "--jobs",
    envvar="PRIMEVAULT_JOBS",
    help=f"Comma-separated jobs to run (default all: {', '.join(JOBS)}); the key needs the roles of each.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    default="info",
    show_default=True,
    help="The least severe log lines written (JSON, on stderr).",
)
@pass_context
def run(
    ctx: CliContext,
    config_path: Path | None,
    dry_run: bool | None,
    once: bool | None,
    shard: str | None,
    metrics_port: str | None,
    data_dir: Path | None,
    jobs: str | None,
    log_level: str,
) -> None:
    """Run the keeper daemon until stopped.

    Scans every block, liquidates, executes orders, manages venue margin, reconciles and recalibrates
    haircuts.
    """
    if jobs is not None and not jobs.replace(",", "").strip():
        raise InputError(f"--jobs {jobs!r} names no job: list some of {','.join(JOBS)}, or leave it out for all")
    config = _keeper_config(
        ctx,
        config_path,
        dry_run=dry_run,
        once=once,
        shard=shard,
        metrics_port=metrics_port,
        data_dir=data_dir,
        jobs=jobs,
    )
    _configure_logging(log_level)
    keeper = Keeper(config)
    if config.once:
        keeper.run_once()
        found = keeper.jobs.liquidation.last_scan
        click.echo(
            f"one cycle done: {len(found.book) if found else 0} accounts scanned, "
            f"{len(found.liquidatable) if found else 0} liquidatable at block {found.block if found else '-'}"
        )
    else:
        keeper.run()


@keeper_group.command("onboard-seat")
@_config_option
@click.option("--base-url", required=True, help="The exchange's REST base URL (the devnet exchange prints its own).")
@click.option("--venue", default="rabbitx-seat", show_default=True, help="The seat's venue in the deployment.")
@click.option("--exchange-id", default="rbx", show_default=True, help="RabbitX's EID header (which chain's exchange).")
@pass_context
def onboard_seat(ctx: CliContext, config_path: Path | None, base_url: str, venue: str, exchange_id: str) -> None:
    """Onboard the vault's seat at a RabbitX-style exchange.

    Signs the exchange's onboarding message with the keeper's key for the seat adapter's account (the adapter names
    the keeper in isValidSigner while the key holds EXECUTOR_ROLE) and prints the API key, secret and JWT as the
    keeper's [rabbitx] table. Keep the output secret: it trades for the vault's account at the exchange.
    """
    config = _keeper_config(ctx, config_path, metrics_port="off", jobs=())
    wiring = wire(config, sign=True, wait=False)
    trading, sender = wiring.clients.trading, wiring.sender
    if trading is None or sender is None:
        raise click.UsageError("this deployment has no trading module, so no seat")
    adapter = trading.seat_adapter(trading.venue_id(venue))
    if not adapter.is_valid_signer(sender.address):
        raise click.UsageError(
            f"{sender.address} cannot sign for the seat: give a key that holds EXECUTOR_ROLE on the trading module"
        )

    async def onboard() -> Credentials:
        async with aiohttp.ClientSession() as session:
            client = RabbitXClient(session, base_url, exchange_id=exchange_id)
            return await client.onboard(sender.account.key.hex(), adapter.address)

    credentials = asyncio.run(onboard())
    click.echo(f"# the seat {adapter.address} at {base_url}: profile {credentials.profile_id}")
    click.echo("[rabbitx]")
    for name, value in (
        ("base_url", base_url),
        ("exchange_id", exchange_id),
        ("api_key", credentials.api_key),
        ("api_secret", credentials.secret),
        ("jwt", credentials.jwt),
    ):
        click.echo(f"{name} = {json.dumps(value)}")
    click.echo(f"profile_id = {credentials.profile_id}")


@keeper_group.command("dydx-grant-trading-key")
@_config_option
@click.option("--public-key", help="Grant this trading key (33-byte compressed secp256k1, hex) instead of a new one.")
@click.option("--market", "markets", multiple=True, help="Limit the key to this market (repeatable); all if none.")
@pass_context
def dydx_grant_trading_key(
    ctx: CliContext, config_path: Path | None, public_key: str | None, markets: tuple[str, ...]
) -> None:
    """Grant a dYdX trading key that can place and cancel orders but not withdraw.

    Signs a MsgAddAuthenticator with the owner's mnemonic from the keeper's [dydx] settings (seat_venues naming
    dydx-seat): the key may place and cancel orders on the seat's subaccount (and --market's markets only), nothing
    else. Prints the [dydx] settings of a keeper that trades with it and holds no mnemonic; without --public-key a new
    key is made and printed: keep it secret (PRIMEVAULT_DYDX_TRADING_KEY), it trades the subaccount.
    """
    import dataclasses
    import secrets

    from keeper.connectors.dydx import DydxConnector
    from keeper.connectors.dydx.authenticators import trading_public_key

    settings = _keeper_config(ctx, config_path, need_key=False, metrics_port="off", jobs=()).dydx
    if settings is None or settings.mnemonic is None:
        raise click.UsageError("granting needs the dYdX owner's mnemonic: a [dydx] table with mnemonic (or "
                               "PRIMEVAULT_DYDX_MNEMONIC) and seat_venues naming dydx-seat")  # fmt: skip
    new_key = None if public_key else secrets.token_hex(32)
    try:
        key = bytes.fromhex(public_key.removeprefix("0x")) if public_key else trading_public_key(new_key or "")
    except ValueError:
        raise click.UsageError("--public-key must be hex") from None
    owner_only = dataclasses.replace(settings, trading_key=None, authenticator_id=None)

    async def grant() -> int:
        async with DydxConnector(owner_only) as owner:
            clob_pair_ids = [owner.market(ticker).clob_pair_id for ticker in markets]
            return await owner.grant_trading_key(key, clob_pair_ids or None)

    authenticator_id = asyncio.run(grant())
    scope = f"markets {', '.join(markets)}" if markets else "every market"
    click.echo(f"# authenticator {authenticator_id} of {settings.owner_address}: key {key.hex()} places and cancels "
               f"orders on subaccount {settings.subaccount_number}, {scope}; it cannot withdraw")  # fmt: skip
    click.echo("[dydx]")
    click.echo(f"address = {json.dumps(settings.owner_address)}")
    click.echo(f"authenticator_id = {authenticator_id}")
    if new_key is not None:
        click.echo(f"trading_key = {json.dumps(new_key)}  # secret: better in PRIMEVAULT_DYDX_TRADING_KEY")
    click.echo("# and no mnemonic: the keeper then trades but cannot withdraw (its margin stays at dYdX)")


@click.group("risk")
def risk_group() -> None:
    """Haircuts, stress tests and the vault's exposure to its venues, computed by the keeper's engine."""


@risk_group.command()
@_config_option
@click.option("--apply", is_flag=True, help="Push the changes allowed now (risk-manager key).")
@JSON_OPTION
@pass_context
def haircuts(ctx: CliContext, config_path: Path | None, apply: bool, as_json: bool) -> None:
    """Current haircuts next to proposed ones.

    The volatility model's proposals, with its inputs, and the portfolio rule's shocks it moves; --apply pushes the
    changes allowed now (and needs the risk manager's key; without it no key is needed).
    """
    config = _keeper_config(
        ctx, config_path, need_key=apply, metrics_port="off", jobs=("haircuts",), apply_haircuts=apply
    )
    wiring = wire(config, sign=apply, wait=False)
    try:
        roles = check_roles(config, wiring.clients, wiring.sender.address) if wiring.sender else frozenset()
    except MissingRoleError:
        # check_roles's hint (run fewer --jobs) is the daemon's; here the only role is the risk manager's.
        assert wiring.sender is not None
        raise MissingRoleError(
            f"{wiring.sender.address} lacks RISK_MANAGER_ROLE on the vault (needed by the haircuts job): --apply "
            "pushes haircuts as the risk manager, so sign with its key (--keystore, or --dev-account on a local "
            "chain), or leave out --apply to see the proposals only"
        ) from None
    context = JobContext.build(config, wiring.clients, roles)
    job = HaircutJob(context)
    try:
        proposals = job.run(apply=apply)
    finally:
        context.prices.close()
    changed = [p.asset for p in proposals if p.changes] if apply else None
    if as_json:
        document: dict[str, Any] = {
            "proposals": [_proposal_view(p) for p in proposals],
            "portfolio_shocks_bps": {u: {"current": now, "next": then} for u, (now, then) in job.shocks.items()},
        }
        if changed is not None:
            document["pushed"] = changed
        click.echo(json.dumps(document, indent=2))
        return
    click.echo(
        f"{'asset':<6} {'samples':>7} {'vol/day ewma':>12} {'window':>8} {'add-on':>7}  "
        f"{'current i/m':>12}  {'formula i/m':>12}  {'next i/m':>12}"
    )
    short = [p.asset for p in proposals if p.samples < HaircutPolicy.min_samples]
    for p in proposals:
        if p.samples < HaircutPolicy.min_samples:  # no volatility to speak of yet: the formula keeps today's haircuts
            inputs = f"{p.asset:<6} {p.samples:>7} {'-':>12} {'-':>8}"
        else:
            inputs = f"{p.asset:<6} {p.samples:>7} {p.ewma_daily_vol:>12.4%} {p.window_daily_vol:>8.4%}"
        current = f"{p.current_initial_bps:>5}/{p.current_maintenance_bps:<6}"
        target = f"{p.target_initial_bps:>5}/{p.target_maintenance_bps:<6}"
        upcoming = f"{p.next_initial_bps:>5}/{p.next_maintenance_bps:<6}"
        note = "" if p.allowed_now else "  (too soon after the last update)"
        click.echo(f"{inputs} {p.liquidity_addon_bps:>7}  {current}  {target}  {upcoming}{note}")
    if short:
        click.echo(
            f"{', '.join(short)}: fewer than {HaircutPolicy.min_samples} price returns in "
            f"{config.data_dir / PRICE_FILE}, so the formula keeps the current haircuts; the keeper records each "
            f"asset's price every {config.price_record_interval:g} s of block time (`price_record_interval`; "
            "`primevault keeper run`, same data_dir)"
        )
    if job.shocks:
        moves = ", ".join(f"{u} {now} -> {then}" for u, (now, then) in job.shocks.items())
        click.echo(f"portfolio shocks (bps, a step a run within bounds): {moves}")
    if changed is not None:
        click.echo(f"pushed: {', '.join(changed) if changed else 'nothing to change'}")


def _proposal_view(p: HaircutProposal) -> dict[str, Any]:
    """A proposal for --json: haircuts in basis points, volatilities as decimal strings."""
    return {
        "asset": p.asset,
        "samples": p.samples,
        "ewma_daily_vol": _float_text(p.ewma_daily_vol),
        "window_daily_vol": _float_text(p.window_daily_vol),
        "liquidity_addon_bps": p.liquidity_addon_bps,
        "current_bps": {"initial": p.current_initial_bps, "maintenance": p.current_maintenance_bps},
        "formula_bps": {"initial": p.target_initial_bps, "maintenance": p.target_maintenance_bps},
        "next_bps": {"initial": p.next_initial_bps, "maintenance": p.next_maintenance_bps},
        "allowed_now": p.allowed_now,
        "changes": p.changes,
    }


@risk_group.command("stress")
@_config_option
@click.option("--shock", required=True, help="Price moves, e.g. ETH=-30%,BTC=-20%.")
@JSON_OPTION
@pass_context
def stress_command(ctx: CliContext, config_path: Path | None, shock: str, as_json: bool) -> None:
    """What a price shock would liquidate.

    How many accounts it makes liquidatable, the shortfall, and whether reserves cover it, in the base token.
    Reads only: needs no key.
    """
    shocks = parse_shocks(shock)
    config = _keeper_config(ctx, config_path, need_key=False, metrics_port="off", jobs=())
    clients = wire(config, sign=False, wait=False).clients
    deployment = clients.deployment
    started = time.monotonic()
    # The keeper's own scan, at one block, before and after the shock: the contract's integers near the line and
    # portfolio-mode accounts judged by their rule.
    block = clients.w3.eth.block_number
    state, book = read_book(clients, block=block)
    rule = PortfolioRule(clients) if deployment.portfolio is not None else None
    now = assess(clients, state, book, rule)
    assets = [t.symbol.removeprefix("W") for t in deployment.collateral]
    markets = [m.ticker.split("-")[0] for m in deployment.markets]
    moved = shocked(now.params, assets, markets, shocks)
    after = assess(clients, state, book, rule, params=moved)
    penalties = [c.liquidation_penalty_bps for c in clients.vault.asset_configs(block)]
    # The vault's reserves count every venue's margin account, and one that cannot say what it holds as nothing: said
    # with the reserves, which are then only a bound, and whether they cover the shortfall unknown.
    unread = _venues_counted_as_nothing(clients.trading, deployment) if clients.trading is not None else []
    try:
        reserves: int | None = clients.vault.market().reserves
        unknown = ""
    except (ContractLogicError, Web3RPCError) as exc:  # a venue whose other views fail stops the reserves' read
        if node_failure(exc):
            raise
        reserves, unknown = None, refusal(exc, deployment)
    addresses = book.address_list()
    due = (np.isin(addresses, now.liquidatable), np.isin(addresses, after.liquidatable))
    base = book.present_base_floats(state.supply_index, state.borrow_index)
    perp = book.perp(now.params.slots)
    result = stress(base, book.collateral_floats, perp, now.params, moved, penalties, float(reserves or 0), due)
    view = _stress_view(result, reserves, deployment.base.symbol, deployment.base.decimals)
    if unknown:
        view["reserves_unknown"] = unknown
    if unread:
        view["covered"] = None
        view["reserves_count_as_nothing"] = [{"venue": name, "error": reason} for name, reason in unread]
    # Accounts holding or trading something without a usable price cannot be judged, before the shock or after it:
    # counted apart, so that a stale feed never reads as "nothing would be liquidated".
    view |= {"unpriced": len(now.unpriced), "unusable_prices": list(now.unusable_assets)}
    if as_json:
        click.echo(json.dumps({**view, "shocks": {k: format(v, "f") for k, v in shocks.items()}}, indent=2))
        return
    symbol = view["symbol"]
    click.echo(f"accounts                  {result.accounts}")
    click.echo(f"liquidatable now          {result.liquidatable_before}")
    click.echo(f"liquidatable after shock  {result.liquidatable_after}")
    click.echo(f"shortfall                 {Decimal(view['shortfall']):,.2f} {symbol}")
    if reserves is None:
        click.echo(f"reserves                  unknown: {unknown}")
        click.echo("covered by reserves       unknown")
    elif unread:
        nothing = "; ".join(f"{name}'s account as nothing ({reason})" for name, reason in unread)
        click.echo(f"reserves                  {Decimal(view['reserves']):,.2f} {symbol}, counting {nothing}")
        click.echo("covered by reserves       unknown")
    else:
        click.echo(f"reserves                  {Decimal(view['reserves']):,.2f} {symbol}")
        click.echo(f"covered by reserves       {'yes' if result.covered else 'NO'}")
    if now.unpriced:
        click.echo(
            f"not judged                {len(now.unpriced)}: their health cannot be computed, as they hold or trade"
            f" something without a usable price now (stale or invalid: {', '.join(now.unusable_assets)})"
        )
    click.echo(f"computed in               {time.monotonic() - started:.2f}s")


@risk_group.command("explain")
@click.argument("account", type=ADDRESS)
@_config_option
@JSON_OPTION
@pass_context
def explain_command(ctx: CliContext, account: ChecksumAddress, config_path: Path | None, as_json: bool) -> None:
    """A sub-account's requirement under the standard rule and in portfolio mode.

    The standard rule (a haircut per collateral asset, a margin per perp slot) next to the portfolio rule's scenario
    grid (docs/risk.md, "Portfolio margin"), with the worst scenario of each underlying and what each leg loses in
    it, computed by the keeper's engine with the parameters set on chain (the vault's figures to the unit). Says
    which rule the account is margined by. Reads only: needs no key.
    """
    config = _keeper_config(ctx, config_path, need_key=False, metrics_port="off", jobs=())
    clients = wire(config, sign=False, wait=False).clients
    risk = read_account_risk(clients, account)
    base = clients.deployment.base
    if as_json:
        click.echo(json.dumps(risk_document(risk, base), indent=2))
        return
    standard, book = risk.standard, risk.book

    def amount(units: int) -> str:
        # To the cent as `account show` prints the same figures: what the account needs rounded up.
        return f"{format_units(units, base.decimals, 2, ROUND_CEILING)} {base.symbol}"

    click.echo(f"account {account} at block {risk.block}, margined by the {risk.margined_by} rule")
    # and what it has rounded down, so the two commands never disagree by a cent at one block.
    click.echo(
        f"equity                        {format_units(standard.equity, base.decimals, 2, ROUND_FLOOR)} {base.symbol}"
    )
    if risk.reserved:
        click.echo(f"open orders reserve           {amount(risk.reserved)} (in both initial requirements)")
    click.echo(
        f"standard rule                 initial {amount(risk.standard_initial)}, "
        f"maintenance {amount(standard.maintenance_requirement)}"
    )
    click.echo(
        f"portfolio rule                initial {amount(risk.portfolio_initial)}, "
        f"maintenance {amount(book.maintenance)}"
    )
    if standard.maintenance_requirement:
        if book.maintenance == standard.maintenance_requirement:
            click.echo("portfolio rule needs          the same maintenance")
        else:
            change = book.maintenance / standard.maintenance_requirement - 1
            click.echo(
                f"portfolio rule needs          {abs(change):.1%} {'more' if change > 0 else 'less'} maintenance"
            )
    for line in explain_lines(book, risk.layout, risk.rule, base.decimals):
        click.echo(f"  {line}")


@risk_group.command("venues")
@_config_option
@JSON_OPTION
@pass_context
def venues_command(ctx: CliContext, config_path: Path | None, as_json: bool) -> None:
    """The vault's own exposure to each venue.

    Its margin account there (net collateral with unrealized PnL, initial and maintenance margin), withdrawals on
    their way back, deposits a seat's exchange has not credited yet, the margin posted there (sent less what came
    back) and what the account gained or lost on it (PnL, funding and fees), the venue's report of the netted
    positions, how old a seat's report is and what its margin cap leaves room for. Reads only: needs no key.
    """
    config = _keeper_config(ctx, config_path, need_key=False, metrics_port="off", jobs=())
    clients = wire(config, sign=False, wait=False).clients
    if clients.trading is None:
        raise click.UsageError("this deployment has no trading module, so no venues")
    deployment = clients.deployment
    # A venue that cannot answer (its feed stale, its contract reverting, returning nothing or running out of gas) is
    # a row with its reason, not the end of the report: the others are what an operator needs most then.
    exposures: list[VenueExposure | tuple[str, str]] = []
    for venue_id, adapter in enumerate(clients.trading.adapters()):
        try:
            exposures.append(clients.trading.exposure(venue_id, adapter))
        except VENUE_FAILURES as exc:
            if node_failure(exc):
                raise
            exposures.append((adapter.name, venue_failure(exc, deployment)))
    base = deployment.base
    tickers = [m.ticker for m in deployment.markets]

    def held(units: int) -> str:
        # To the cent like its neighbours, and never more than there is: what the vault holds or has coming back.
        return format_units(units, base.decimals, 2, ROUND_FLOOR)

    def needed(units: int) -> str:
        # To the cent, and never less than it is: a margin requirement.
        return format_units(units, base.decimals, 2, ROUND_CEILING)

    if as_json:
        views = [
            {
                "venue": e.venue,
                "net_collateral": plain_units(e.net_collateral, base.decimals),
                "initial_margin": plain_units(e.initial_margin, base.decimals),
                "maintenance_margin": plain_units(e.maintenance_margin, base.decimals),
                "withdrawals_pending": plain_units(e.withdrawals_pending, base.decimals),
                "deposits_in_flight": plain_units(e.deposits_in_flight, base.decimals),
                "margin_posted": plain_units(e.margin_posted or 0, base.decimals),
                "pnl": plain_units(e.pnl or 0, base.decimals),
                "positions": {t: plain_units(p, 18) for t, p in zip(tickers, e.positions, strict=True)},
                "reported_at": e.reported_at,
                "margin_room": None if e.margin_room is None else plain_units(e.margin_room, base.decimals),
            }
            if isinstance(e, VenueExposure)
            else {"venue": e[0], "error": e[1]}
            for e in exposures
        ]
        click.echo(json.dumps({"symbol": base.symbol, "venues": views}, indent=2))
        return
    now = int(clients.w3.eth.get_block("latest")["timestamp"])

    def room(e: VenueExposure) -> str:
        # A seat's cap is the whole uint256 until the admin sets one.
        if e.margin_room is None:
            return "-"
        return "no cap" if e.margin_room >= 2**255 else held(e.margin_room)

    click.echo(
        f"{'venue':<14} {'collateral':>16} {'initial':>14} {'maintenance':>14} {'withdrawing':>14} {'depositing':>14}"
        f" {'posted':>16} {'pnl':>14} {'cap room':>14}  {'report':>8}  positions ({base.symbol} amounts)"
    )
    for e in exposures:
        if not isinstance(e, VenueExposure):
            click.echo(f"{e[0]:<14} cannot answer: {e[1]}")
            continue
        positions = (
            ", ".join(f"{t} {format_units(p, 18)}" for t, p in zip(tickers, e.positions, strict=True) if p) or "none"
        )
        age = f"{now - e.reported_at}s ago" if e.reported_at is not None else "on chain"
        click.echo(
            f"{e.venue:<14} {held(e.net_collateral):>16} {needed(e.initial_margin):>14} "
            f"{needed(e.maintenance_margin):>14} {held(e.withdrawals_pending):>14} {held(e.deposits_in_flight):>14}"
            f" {held(e.margin_posted or 0):>16} {held(e.pnl or 0):>14} {room(e):>14}  {age:>8}  {positions}"
        )


def _float_text(value: float) -> str:
    """The shortest decimal that reads back as `value`, without an exponent (0.00001, not 1e-05)."""
    return format(Decimal(repr(value)), "f")


def _venues_counted_as_nothing(trading: TradingClient, deployment: Deployment) -> list[tuple[str, str]]:
    """The venues whose account the vault's reserves count as nothing now, with why: those whose margin, or funding
    index in a market the vault's clients hold there, cannot be read (as `venueAssets` judges them)."""
    unread = []
    for venue_id, adapter in enumerate(trading.adapters()):
        try:
            adapter.margin()
            for market_id in range(len(deployment.markets)):
                clients_hold = trading.net_position(market_id, venue_id) - trading.backstop_position(
                    market_id, venue_id
                )
                if clients_hold != 0:
                    adapter.funding_index(market_id)
        except VENUE_FAILURES as exc:
            if node_failure(exc):
                raise
            unread.append((adapter.name, venue_failure(exc, deployment)))
    return unread


def _stress_view(result: StressResult, reserves: int | None, symbol: str, decimals: int) -> dict[str, Any]:
    """The stress result in the base token, amounts as exact decimal strings: reserves as the vault holds them, the
    shortfall (estimated in floating point) rounded up to a whole base unit. Reserves the vault cannot report (a
    venue not answering) are null, and so is whether they cover the shortfall."""
    shortfall = int(Decimal(result.shortfall).to_integral_value(rounding=ROUND_CEILING))
    return {
        "symbol": symbol,
        "accounts": result.accounts,
        "liquidatable_now": result.liquidatable_before,
        "liquidatable_after_shock": result.liquidatable_after,
        "shortfall": format_units(shortfall, decimals).replace(",", ""),
        "reserves": None if reserves is None else format_units(reserves, decimals).replace(",", ""),
        "covered": None if reserves is None else result.covered,
    }

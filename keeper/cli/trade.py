"""`primevault trade`: perp orders for a sub-account (submit, list, cancel, positions) and, for the executor,
routed execution."""

from __future__ import annotations

import json
import time
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import click
from click.core import ParameterSource
from eth_typing import ChecksumAddress

from keeper.chain.deployment import Deployment
from keeper.chain.revert import DecodedError
from keeper.cli.context import CliContext, pass_context
from keeper.cli.explain import describe
from keeper.cli.params import ADDRESS, JSON_OPTION, SLIPPAGE_OPTION, SUB_OPTION, FiniteFloatRange, chosen_account
from keeper.cli.quotes import none_can, venue_failure
from keeper.client.clients import Clients
from keeper.client.feeds import FeedClient
from keeper.client.trading import OrderView, TradingClient
from keeper.client.vault import PERMISSIONS, sub_account
from keeper.client.venues import VENUE_FAILURES, node_failure
from keeper.exceptions import InputError, NoVenueCanPrice
from keeper.units import format_usd, parse_amount, parse_size


def _client(ctx: CliContext, write: bool) -> TradingClient:
    deployment = ctx.deployment
    return TradingClient(ctx.w3, deployment, ctx.sender() if write else None)


def chain_time(ctx: CliContext) -> int:
    """The earliest time a transaction sent now is mined at, which deadlines and expiries are counted from: the chain
    judges them by its own clock, which may run ahead of this machine's (a deadline by this machine's clock can be
    past on the chain already), and a chain that mines on demand (anvil, idle) dates its next block by this
    machine's clock however old its latest block is (an expiry counted from that block can be past when mined)."""
    return max(int(ctx.w3.eth.get_block("latest")["timestamp"]), int(time.time()))


# How far from the mark a limit may be: beyond it an order is almost surely a typo (a buy limit far above the
# mark accepts nearly any price; one far below never fills).
MAX_LIMIT_DISTANCE = Decimal("0.5")


@click.group()
def trade() -> None:
    """Perp orders: submit, list, cancel, positions, execute."""


@trade.command()
@click.argument("market")
@click.argument("size")
@click.option("--side", type=click.Choice(["buy", "sell"]), required=True, help="Buy (long) or sell (short).")
@click.option("--limit", "limit_text", help="Worst average price accepted (default: mark +/- --slippage-bps).")
@SLIPPAGE_OPTION
@click.option("--ttl", type=click.IntRange(1, 30 * 86_400), default=600, show_default=True, help="Seconds to live.")
@click.option("--reduce-only", is_flag=True, help="Only shrink the position, never open or grow one.")
@SUB_OPTION
@click.option("--account", "on_behalf", type=ADDRESS, help="Trade for this account as its operator.")
@pass_context
def submit(
    ctx: CliContext,
    market: str,
    size: str,
    side: str,
    limit_text: str | None,
    slippage_bps: int,
    ttl: int,
    reduce_only: bool,
    sub_id: int,
    on_behalf: ChecksumAddress | None,
) -> None:
    """Submit an order for SIZE of MARKET.

    SIZE is in base units (0.5 means 0.5 BTC); MARKET is a ticker like BTC-USD. Before sending, the order is
    checked against its venues' steps, the mark price (a limit at most 50% away), reduce-only against the
    position held, and the initial margin it adds against the account's free equity.
    """
    ticker = ctx.deployment.market(market).ticker
    amount = parse_size(size)
    account = chosen_account(ctx, sub_id, on_behalf)
    client = _client(ctx, write=True)
    direction, limit, mark = checked_order(ctx, client, ticker, amount, side, limit_text, slippage_bps)
    if on_behalf is not None:
        _require_trader(ctx, on_behalf)
    held = held_position(client, account, ticker, direction * amount, reduce_only)
    check_margin(Clients.build(ctx.w3, ctx.deployment), account, ticker, direction * amount, held, mark)
    order_id = client.submit(account, ticker, direction * amount, limit, chain_time(ctx) + ttl, reduce_only)
    click.echo(
        f"order {order_id}: {side} {amount.normalize():f} {ticker} for {account}, limit {limit:,.2f}, ttl {ttl}s"
    )


def checked_order(
    ctx: CliContext,
    client: TradingClient,
    ticker: str,
    amount: Decimal,
    side: str,
    limit_text: str | None,
    slippage_bps: int,
) -> tuple[int, Decimal, Decimal]:
    """An order's direction, limit and the mark, after the checks every order gets before it is sent: its size a
    multiple of the step of some venue that answers (one that cannot takes no part of the order, as in the router's
    split; `NoVenueCanPrice` when none can), and its limit (given, or the mark +/- the slippage) near the mark."""
    steps: list[Decimal] = []
    refused: list[dict[str, Any]] = []
    for venue in client.venues():
        try:
            steps.append(venue.cost_model(ticker).step)
        except VENUE_FAILURES as exc:
            if node_failure(exc):
                raise
            refused.append({"venue": venue.name, "error": venue_failure(exc, ctx.deployment)})
    if not steps:
        raise NoVenueCanPrice(none_can(f"no venue can take {ticker} now", refused))
    if not any(amount % step == 0 for step in steps):
        shown = ", ".join(f"{s.normalize():f}" for s in steps)
        raise InputError(f"size {amount.normalize():f} is not a multiple of any venue's step ({shown}) for {ticker}")
    direction = 1 if side == "buy" else -1
    mark = FeedClient(ctx.w3, ctx.deployment.market(ticker).feed).price()
    if limit_text:
        limit = Decimal(parse_amount(limit_text, 18, option="--limit")) / 10**18
        if not mark * (1 - MAX_LIMIT_DISTANCE) <= limit <= mark * (1 + MAX_LIMIT_DISTANCE):
            raise InputError(
                f"limit {limit:,.2f} is more than {MAX_LIMIT_DISTANCE:.0%} away from the {ticker} mark of {mark:,.2f}: "
                f"a {side} limit is the worst average price you accept; give one near the mark"
            )
    else:
        limit = (mark * (1 + direction * Decimal(slippage_bps) / 10_000)).quantize(Decimal("0.000001"))
    return direction, limit, mark


def _require_trader(ctx: CliContext, account: ChecksumAddress) -> None:
    """Refuses to trade `account` for a key that is neither its owner nor its operator with the trade permission
    (the contract would refuse the order; the margin check would otherwise speak first, about the wrong thing)."""
    vault = ctx.reader()
    me = ctx.account.address
    if int(account, 16) ^ int(me, 16) < 0x100:
        return  # one of the key's own sub-accounts
    if vault.owner_of(account) != me and not vault.operator_permissions(account, me) & PERMISSIONS["trade"]:
        raise InputError(
            f"{me} is neither the owner of {account} nor its operator with the trade permission: its owner grants it "
            "with `account set-operator ... --permissions trade`"
        )


def held_position(client: TradingClient, account: str, ticker: str, size: Decimal, reduce_only: bool) -> Decimal:
    """`account`'s net position in `ticker` over every venue; refuses a reduce-only order of signed `size` that
    would not reduce it."""
    held = sum((p.size for p in client.positions(account) if p.market == ticker), Decimal(0))
    if reduce_only and not (held * size < 0 and abs(size) <= abs(held)):
        side = "buy" if size > 0 else "sell"
        raise InputError(
            f"a reduce-only {side} of {abs(size).normalize():f} {ticker} would not reduce {account}'s position of "
            f"{held.normalize():+f}: drop --reduce-only or size it to the position"
        )
    return held


def check_margin(
    clients: Clients, account: str, ticker: str, size: Decimal, held: Decimal, mark: Decimal, free_gain: int = 0
) -> None:
    """Refuses an order whose added exposure needs more initial margin than the account has free. An estimate at
    the mark: execution prices and fees move it a little, and the contract checks again when the order executes.
    `free_gain` (base units) is free margin that comes with the order, as a deposit bundled with it does. An account
    in portfolio mode is left to the contract. Shared by the commands that trade and the web app's server
    (`/api/order-check`)."""
    added = abs(held + size) - abs(held)
    # Under the portfolio rule an order that grows a position can lower the requirement (a short hedging the
    # collateral): the standard rule's estimate would refuse it, so the contract's own check decides.
    if added <= 0 or clients.vault.portfolio_mode(account):
        return
    deployment = clients.deployment
    perp = clients.lens.risk_state()
    market_id = next(i for i, m in enumerate(deployment.markets) if m.ticker == ticker)
    base = deployment.base
    needed = added * mark * perp.perp_initial_bps[market_id] / 10_000
    health = clients.vault.health(account)
    free = Decimal(health.equity - health.initial_requirement + free_gain).scaleb(-base.decimals)
    if needed > free:
        # To the cent, the need rounded up and what is free down: never a need shown within what is free.
        cent = Decimal("0.01")
        shown_need = needed.quantize(cent, rounding=ROUND_CEILING)
        shown_free = max(free, Decimal(0)).quantize(cent, rounding=ROUND_FLOOR)
        raise InputError(
            f"this order needs about {shown_need:,.2f} {base.symbol} of initial margin but {account} has "
            f"{shown_free:,.2f} {base.symbol} free: deposit collateral or trade less"
        )


def _shown_status(order: OrderView, now: int) -> str:
    """An order's status as a user reads it: an open order past its deadline ("expired") or voided by its account's
    `cancelAllOrders` ("voided") can no longer execute, though it stays open on chain until someone cancels it."""
    if order.status != "open":
        return order.status
    if order.voided:
        return "voided"
    return "expired" if order.deadline < now else "open"


@trade.command("list")
@SUB_OPTION
@click.option("--all", "show_all", is_flag=True, help="Every account's orders, not only yours.")
@click.option(
    "--open",
    "open_only",
    is_flag=True,
    help="Only orders that can still execute (not those past their deadline or voided).",
)
@JSON_OPTION
@pass_context
def list_orders(ctx: CliContext, sub_id: int, show_all: bool, open_only: bool, as_json: bool) -> None:
    """List orders, with why each cancelled one was cancelled: your sub-account --sub's, or with --all every
    account's (a read that needs no key)."""
    if show_all and click.get_current_context().get_parameter_source("sub_id") is not ParameterSource.DEFAULT:
        # --sub would be dropped silently: the list would show every account's orders when one was meant.
        raise InputError(f"--all lists every account's orders and --sub {sub_id} names one of yours: give one of them")
    client = _client(ctx, write=False)
    account = None if show_all else sub_account(ctx.account.address, sub_id)
    orders = client.orders(account, open_only)
    reasons = client.cancel_reasons() if any(o.status == "cancelled" for o in orders) else {}
    now = chain_time(ctx)
    rows = [
        {
            "id": o.order_id,
            "status": _shown_status(o, now),
            "market": o.market,
            "size": f"{o.size.normalize():f}",
            "limit": f"{o.limit_price.normalize():f}",
            "reduce_only": o.reduce_only,
            "deadline": o.deadline,
            "account": o.account,
            "reason": str(reasons[o.order_id]) if o.order_id in reasons else None,
        }
        for o in orders
        # An order past its deadline or voided is shown as such, so `--open` leaves it out.
        if not (open_only and _shown_status(o, now) != "open")
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no orders")
        return
    click.echo(
        f"{'id':>5} {'status':<10} {'market':<8} {'size':>14} {'limit':>12} {'flags':<11} {'account':<42} reason"
    )
    for r in rows:
        click.echo(
            f"{r['id']:>5} {r['status']:<10} {r['market']:<8} {Decimal(str(r['size'])):>+14f} "
            f"{Decimal(str(r['limit'])):>12,.2f} {'reduce-only' if r['reduce_only'] else '':<11} {r['account']:<42} "
            f"{_why(reasons[r['id']], ctx.deployment) if r['id'] in reasons else ''}".rstrip()
        )


@trade.command()
@click.argument("order_id", type=int)
@pass_context
def cancel(ctx: CliContext, order_id: int) -> None:
    """Cancel an open order.

    Yours at any time; anyone's once it has expired.
    """
    client = _client(ctx, write=True)
    client.order(order_id)
    client.cancel(order_id)
    click.echo(f"order {order_id} cancelled")


@trade.command()
@SUB_OPTION
@click.argument("address", type=ADDRESS, required=False)
@JSON_OPTION
@pass_context
def positions(ctx: CliContext, sub_id: int, address: ChecksumAddress | None, as_json: bool) -> None:
    """Positions of a sub-account per market and venue: ADDRESS (a sub-account's full address) or your own
    sub-account --sub."""
    client = _client(ctx, write=False)
    account = chosen_account(ctx, sub_id, address, "ADDRESS")
    rows = client.position_values(account)
    if as_json:
        shown = [
            {
                "market": v.position.market,
                "venue": v.position.venue,
                "size": f"{v.position.size.normalize():f}",
                "entry": f"{v.position.entry_price:f}",
                "mark": _exact(v.mark),
                "pnl": _exact(v.pnl),
                "funding": _exact(v.funding),
            }
            for v in rows
        ]
        click.echo(json.dumps({"account": account, "positions": shown}, indent=2))
        return
    if not rows:
        click.echo(f"no positions for {account}")
        return
    # A seat's venue name ("rabbitx-seat") is longer than the local venues': the column is as wide as its longest.
    width = max(len("venue"), *(len(v.position.venue) for v in rows))
    click.echo(f"{'market':<8} {'venue':<{width}} {'size':>14} {'entry':>12} {'mark':>12} {'PnL':>12} {'funding':>10}")
    for v in rows:
        p = v.position
        mark = "?" if v.mark is None else format_usd(v.mark)  # rounded down to the cent, as the web app shows it
        pnl = "?" if v.pnl is None else format_usd(v.pnl)
        funding = "?" if v.funding is None else format_usd(v.funding, owed=True)
        click.echo(
            f"{p.market:<8} {p.venue:<{width}} {p.size.normalize():>+14f} {p.entry_price:>12,.2f} {mark:>12} {pnl:>12}"
            f" {funding:>10}"
        )
    # "?" is never left unexplained: a figure the vault cannot compute now is said to be unknown, and why.
    for market in sorted({v.position.market for v in rows if v.mark is None}):
        click.echo(f"{market}: mark and PnL unknown: its price feed is stale or invalid")
    for venue in sorted({v.position.venue for v in rows if v.funding is None}):
        click.echo(f"{venue}: funding unknown: the venue cannot report its funding index now")


def _exact(value: Decimal | None) -> str | None:
    """A USD figure for JSON: exact, or null where it cannot be computed now."""
    return None if value is None else f"{value.normalize():f}"


@trade.command()
@click.argument("order_ids", type=int, nargs=-1, required=True)
@click.option(
    "--horizon-hours",
    type=FiniteFloatRange(0, 8760),
    default=8.0,
    show_default=True,
    help="Holding period over which funding is counted in the routing cost.",
)
@pass_context
def execute(ctx: CliContext, order_ids: tuple[int, ...], horizon_hours: float) -> None:
    """Route and execute open orders (executor key).

    An order the contract refuses is cancelled with its reason.
    """
    client = _client(ctx, write=True)
    failed = []
    for outcome in client.execute(list(order_ids), horizon_hours * 3600):
        split = ", ".join(f"{name} {size.normalize():f}" for name, size in outcome.split)
        if outcome.executed:
            assert outcome.average_price is not None and outcome.fees is not None
            click.echo(
                f"order {outcome.order_id} executed across {split} at {outcome.average_price:,.2f}, "
                f"fees {outcome.fees:,.2f} {ctx.deployment.base.symbol}"
            )
        else:
            why = _why(outcome.reason, ctx.deployment) if outcome.reason else "no reason given"
            failed.append(f"order {outcome.order_id} cancelled: {why}")
    if failed:
        raise InputError("; ".join(failed))


def _why(error: DecodedError, deployment: Deployment) -> str:
    """An order's cancel reason as a sentence in human units, with the error's name."""
    return f"{describe(error, deployment)} [{error.name}]"

"""`primevault trade`: perp orders for a sub-account (submit, list, cancel, positions) and, for the executor,
routed execution."""

from __future__ import annotations

import time
from decimal import Decimal

import click

from keeper.chain.oracle import feed_price
from keeper.cli.context import CliContext, pass_context
from keeper.exceptions import InputError
from keeper.trading import TradingClient
from keeper.units import parse_amount
from keeper.vault import sub_account


def _client(ctx: CliContext, write: bool) -> TradingClient:
    deployment = ctx.deployment
    return TradingClient(ctx.w3, deployment, ctx.sender() if write else None)


def _size(text: str) -> Decimal:
    return Decimal(parse_amount(text, 18)) / 10**18


@click.group()
def trade() -> None:
    """Perp orders: submit, list, cancel, positions; execute (executor key)."""


@trade.command()
@click.argument("market")
@click.argument("size")
@click.option("--side", type=click.Choice(["buy", "sell"]), required=True)
@click.option("--limit", "limit_text", help="Worst average price accepted (default: mark +/- --slippage-bps).")
@click.option("--slippage-bps", type=click.IntRange(1, 5000), default=100, show_default=True)
@click.option("--ttl", type=click.IntRange(1, 30 * 86_400), default=600, show_default=True, help="Seconds to live.")
@click.option("--reduce-only", is_flag=True)
@click.option("--sub", "sub_id", type=click.IntRange(0, 255), default=0, show_default=True)
@click.option("--account", "on_behalf", help="Trade for this account as its operator.")
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
    on_behalf: str | None,
) -> None:
    """Submit an order for SIZE (base units, e.g. 0.5) of MARKET (e.g. BTC-USD)."""
    ticker = ctx.deployment.market(market).ticker
    amount = _size(size)
    client = _client(ctx, write=True)
    steps = [v.cost_model(ticker).step for v in client.venues()]
    if not any(amount % step == 0 for step in steps):
        shown = ", ".join(f"{s.normalize():f}" for s in steps)
        raise InputError(f"size {amount.normalize():f} is not a multiple of any venue's step ({shown}) for {ticker}")
    direction = 1 if side == "buy" else -1
    if limit_text:
        limit = Decimal(parse_amount(limit_text, 18)) / 10**18
    else:
        limit = (
            feed_price(ctx.w3, ctx.deployment.market(ticker).feed) * (1 + direction * Decimal(slippage_bps) / 10_000)
        ).quantize(Decimal("0.000001"))
    account = on_behalf or sub_account(ctx.account.address, sub_id)
    order_id = client.submit(account, ticker, direction * amount, limit, int(time.time()) + ttl, reduce_only)
    click.echo(
        f"order {order_id}: {side} {amount.normalize():f} {ticker} for {account}, limit {limit:,.2f}, ttl {ttl}s"
    )


@trade.command("list")
@click.option("--sub", "sub_id", type=click.IntRange(0, 255), default=0, show_default=True)
@click.option("--all", "show_all", is_flag=True, help="Every account's orders, not only yours.")
@click.option("--open", "open_only", is_flag=True, help="Only open orders.")
@pass_context
def list_orders(ctx: CliContext, sub_id: int, show_all: bool, open_only: bool) -> None:
    """List orders."""
    client = _client(ctx, write=False)
    account = None if show_all else sub_account(ctx.account.address, sub_id)
    orders = client.orders(account, open_only)
    if not orders:
        click.echo("no orders")
    for o in orders:
        click.echo(
            f"{o.order_id:>5} {o.status:<10} {o.market:<8} {o.size.normalize():>+14f} limit {o.limit_price:>12,.2f}"
            f"{' reduce-only' if o.reduce_only else ''}  {o.account}"
        )


@trade.command()
@click.argument("order_id", type=int)
@pass_context
def cancel(ctx: CliContext, order_id: int) -> None:
    """Cancel an open order (yours any time, anyone's once expired)."""
    client = _client(ctx, write=True)
    client.order(order_id)
    client.cancel(order_id)
    click.echo(f"order {order_id} cancelled")


@trade.command()
@click.option("--sub", "sub_id", type=click.IntRange(0, 255), default=0, show_default=True)
@click.argument("address", required=False)
@pass_context
def positions(ctx: CliContext, sub_id: int, address: str | None) -> None:
    """Positions of a sub-account per market and venue."""
    client = _client(ctx, write=False)
    account = address or sub_account(ctx.account.address, sub_id)
    rows = client.positions(account)
    if not rows:
        click.echo(f"no positions for {account}")
    for p in rows:
        click.echo(f"{p.market:<8} {p.venue:<8} {p.size.normalize():>+14f} entry {p.entry_price:>12,.2f}")


@trade.command()
@click.argument("order_ids", type=int, nargs=-1, required=True)
@click.option("--horizon-hours", type=click.FloatRange(0, 8760), default=8.0, show_default=True)
@pass_context
def execute(ctx: CliContext, order_ids: tuple[int, ...], horizon_hours: float) -> None:
    """Route and execute open orders (executor key). A failed order is cancelled with its reason."""
    client = _client(ctx, write=True)
    failed = []
    for outcome in client.execute(list(order_ids), horizon_hours * 3600):
        split = ", ".join(f"{name} {size.normalize():f}" for name, size in outcome.split)
        if outcome.executed:
            assert outcome.average_price is not None and outcome.fees is not None
            click.echo(
                f"order {outcome.order_id} executed across {split} at {outcome.average_price:,.2f}, "
                f"fees {outcome.fees:,.2f} USDC"
            )
        else:
            failed.append(f"order {outcome.order_id} cancelled: {outcome.reason}")
    if failed:
        raise InputError("; ".join(failed))

"""`primevault quotes MARKET SIZE`: every venue's quote next to the routed split, in one view."""

from __future__ import annotations

from decimal import Decimal

import click

from keeper.chain.oracle import feed_price
from keeper.cli.context import CliContext, pass_context
from keeper.routing import route
from keeper.units import parse_amount
from keeper.venues.registry import load_venues


@click.command()
@click.argument("market")
@click.argument("size")
@click.option("--side", type=click.Choice(["buy", "sell"]), default="buy", show_default=True)
@click.option(
    "--horizon-hours",
    type=click.FloatRange(0, 24 * 365),
    default=8.0,
    show_default=True,
    help="Holding period over which funding is counted in the cost.",
)
@pass_context
def quotes(ctx: CliContext, market: str, size: str, side: str, horizon_hours: float) -> None:
    """Quote SIZE of MARKET on every venue and route it.

    SIZE is in base units (2.5 means 2.5 BTC); MARKET is a ticker like BTC-USD.
    """
    market = ctx.deployment.market(market).ticker
    amount = Decimal(parse_amount(size, 18)) / 10**18
    direction = 1 if side == "buy" else -1
    venues = load_venues(ctx.w3, ctx.deployment)
    models = [v.cost_model(market) for v in venues]
    mark = feed_price(ctx.w3, ctx.deployment.market(market).feed)
    horizon = horizon_hours * 3600
    split = route(amount, direction, models, horizon)

    click.echo(f"{market} {side} {amount.normalize():f} at mark {mark:,.2f}; funding counted over {horizon_hours:g}h")
    click.echo(f"{'venue':<10} {'avg price':>14} {'fee':>12} {'funding':>10} {'total cost':>12} {'bps':>7}")
    for venue, model in zip(venues, models, strict=True):
        if amount % model.step:
            click.echo(f"{venue.name:<10} size is not a multiple of its step {model.step.normalize():f}")
            continue
        q = venue.quote(market, amount, direction)
        funding = Decimal(direction * model.funding_rate_per_second * horizon) * mark * amount
        total = (q.average_price - mark) * amount * direction + q.fee + funding
        bps = total / (mark * amount) * 10_000
        click.echo(
            f"{venue.name:<10} {q.average_price:>14,.2f} {q.fee:>12,.2f} {funding:>10,.2f} {total:>12,.2f} {bps:>7.2f}"
        )
    parts = ", ".join(f"{v.name} {s.normalize():f}" for v, s in zip(venues, split.sizes, strict=True) if s)
    routed_usd = Decimal(split.cost) * mark
    single_usd = Decimal(split.best_single_cost) * mark
    click.echo(
        f"{'routed':<10} {parts}: expected cost {routed_usd:,.2f} "
        f"({routed_usd / (mark * amount) * 10_000:.2f} bps), "
        f"saving {single_usd - routed_usd:,.2f} against the best single venue ({venues[split.best_single_venue].name})"
    )

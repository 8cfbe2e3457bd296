"""`primevault quotes MARKET SIZE`: every venue's quote next to the routed split, in one view."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import click

from keeper.cli.context import CliContext, pass_context
from keeper.cli.params import JSON_OPTION
from keeper.client.feeds import FeedClient
from keeper.client.venues.registry import load_venues
from keeper.routing import route
from keeper.units import parse_amount


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
@JSON_OPTION
@pass_context
def quotes(ctx: CliContext, market: str, size: str, side: str, horizon_hours: float, as_json: bool) -> None:
    """Quote SIZE of MARKET on every venue and route it.

    SIZE is in base units (2.5 means 2.5 BTC); MARKET is a ticker like BTC-USD.
    """
    market = ctx.deployment.market(market).ticker
    amount = Decimal(parse_amount(size, 18)) / 10**18
    direction = 1 if side == "buy" else -1
    venues = load_venues(ctx.w3, ctx.deployment)
    models = [v.cost_model(market) for v in venues]
    mark = FeedClient(ctx.w3, ctx.deployment.market(market).feed).price()
    horizon = horizon_hours * 3600
    split = route(amount, direction, models, horizon)

    quoted: list[dict[str, Any]] = []
    for venue, model in zip(venues, models, strict=True):
        if amount % model.step:
            quoted.append(
                {"venue": venue.name, "error": f"size is not a multiple of its step {model.step.normalize():f}"}
            )
            continue
        q = venue.quote(market, amount, direction)
        funding = Decimal(direction * model.funding_rate_per_second * horizon) * mark * amount
        total = (q.average_price - mark) * amount * direction + q.fee + funding
        quoted.append(
            {
                "venue": venue.name,
                "average_price": q.average_price,
                "fee": q.fee,
                "funding": funding,
                "total_cost": total,
                "cost_bps": total / (mark * amount) * 10_000,
            }
        )
    routed_usd = Decimal(split.cost) * mark
    single_usd = Decimal(split.best_single_cost) * mark
    routed: dict[str, Any] = {
        "sizes": {v.name: s for v, s in zip(venues, split.sizes, strict=True) if s},
        "expected_cost": routed_usd,
        "cost_bps": routed_usd / (mark * amount) * 10_000,
        "saving_vs_best_single": single_usd - routed_usd,
        "best_single_venue": venues[split.best_single_venue].name,
    }
    if as_json:
        document = {"market": market, "side": side, "size": amount, "mark": mark, "horizon_hours": horizon_hours}
        click.echo(json.dumps({**document, "venues": quoted, "routed": routed}, indent=2, default=_decimal_text))
        return

    click.echo(f"{market} {side} {amount.normalize():f} at mark {mark:,.2f}; funding counted over {horizon_hours:g}h")
    click.echo(f"{'venue':<10} {'avg price':>14} {'fee':>12} {'funding':>10} {'total cost':>12} {'bps':>7}")
    for row in quoted:
        if "error" in row:
            click.echo(f"{row['venue']:<10} {row['error']}")
            continue
        click.echo(
            f"{row['venue']:<10} {row['average_price']:>14,.2f} {row['fee']:>12,.2f} {row['funding']:>10,.2f} "
            f"{row['total_cost']:>12,.2f} {row['cost_bps']:>7.2f}"
        )
    parts = ", ".join(f"{name} {size.normalize():f}" for name, size in routed["sizes"].items())
    click.echo(
        f"{'routed':<10} {parts}: expected cost {routed_usd:,.2f} ({routed['cost_bps']:.2f} bps), "
        f"saving {routed['saving_vs_best_single']:,.2f} against the best single venue ({routed['best_single_venue']})"
    )


def _decimal_text(value: object) -> str:
    """JSON has no decimal type: exact decimal strings, as exchanges' APIs write them."""
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    raise TypeError(f"{type(value).__name__} is not JSON serializable")

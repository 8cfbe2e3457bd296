"""`primevault quotes MARKET SIZE`: every venue's quote next to the routed split, in one view; with `--book`, the
venues' consolidated book (the meta-exchange) and the split the book router finds over it."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from fractions import Fraction
from typing import Any

import click
from web3 import Web3
from web3.exceptions import BadFunctionCallOutput, ContractLogicError, Web3RPCError

from keeper.chain.deployment import Deployment
from keeper.cli.context import CliContext, pass_context
from keeper.cli.explain import describe, refusal
from keeper.cli.params import JSON_OPTION, FiniteFloatRange
from keeper.client.feeds import FeedClient
from keeper.client.venues import ANSWERED_NOTHING, VENUE_FAILURES, WAD, Venue, node_failure, priced_cost_model
from keeper.client.venues.books import sampled_book
from keeper.client.venues.registry import load_venues
from keeper.exceptions import InputError, NoVenueCanPrice, PrimeVaultError, TransactionReverted
from keeper.routing import (
    BUY,
    SELL,
    BookOrder,
    BookSplit,
    MergedLevel,
    VenueBook,
    VenueCostModel,
    consolidated_book,
    route,
    route_books,
)
from keeper.units import parse_size


@click.command()
@click.argument("market")
@click.argument("size")
@click.option(
    "--side", type=click.Choice(["buy", "sell"]), default="buy", show_default=True, help="Buy (long) or sell (short)."
)
@click.option(
    "--horizon-hours",
    type=FiniteFloatRange(0, 24 * 365),
    default=8.0,
    show_default=True,
    help="Holding period over which funding is counted in the cost.",
)
@click.option(
    "--book",
    is_flag=True,
    help="Also show the venues' consolidated book (the meta-exchange) and the split routed over it.",
)
@click.option(
    "--levels",
    type=click.IntRange(1, 100),
    default=10,
    show_default=True,
    help="With --book: levels each venue's book is sampled in, down to SIZE (one quote call each).",
)
@JSON_OPTION
@pass_context
def quotes(
    ctx: CliContext, market: str, size: str, side: str, horizon_hours: float, book: bool, levels: int, as_json: bool
) -> None:
    """Quote SIZE of MARKET on every venue and route it.

    SIZE is in base units (2.5 means 2.5 BTC); MARKET is a ticker like BTC-USD.
    """
    market = ctx.deployment.market(market).ticker
    amount = parse_size(size)
    document = quote_document(ctx.w3, ctx.deployment, market, amount, side, horizon_hours, levels if book else None)
    quoted, routed, mark = document["venues"], document["routed"], document["mark"]
    if as_json:
        click.echo(json.dumps(document, indent=2, default=decimal_text))
        return

    click.echo(f"{market} {side} {amount.normalize():f} at mark {mark:,.2f}; funding counted over {horizon_hours:g}h")
    click.echo(f"{'venue':<10} {'avg price':>14} {'fee':>12} {'funding':>10} {'total cost':>12} {'bps':>7}")
    # Amounts that can be negative are formatted with `z`: one that rounds to zero (a sell's funding at a zero rate
    # is -0) prints as 0.00, never -0.00.
    for row in quoted:
        if "error" in row:
            click.echo(f"{row['venue']:<10} {row['error']}")
            continue
        click.echo(
            f"{row['venue']:<10} {row['average_price']:>14,.2f} {row['fee']:>12,.2f} {row['funding']:>z10,.2f} "
            f"{row['total_cost']:>z12,.2f} {row['cost_bps']:>z7.2f}"
        )
    parts = ", ".join(f"{name} {size.normalize():f}" for name, size in routed["sizes"].items())
    best = routed["best_single_venue"]
    saving = (
        "no single venue can take it whole"
        if best is None
        else f"saving {routed['saving_vs_best_single']:z,.2f} against the best single venue ({best})"
    )
    click.echo(
        f"{'routed':<10} {parts}: expected cost {routed['expected_cost']:z,.2f} ({routed['cost_bps']:z.2f} bps), "
        f"{saving}"
    )
    if book:
        _echo_book(document, levels, amount, horizon_hours)


def quote_document(
    w3: Web3, deployment: Deployment, market: str, amount: Decimal, side: str, horizon_hours: float, levels: int | None
) -> dict[str, Any]:
    """Every on-chain venue's quote for `amount` of `market` (all-in cost: price impact, fee and funding over the
    horizon), the depth router's split over the venues that can price it and, with `levels`, the venues'
    consolidated book and the book router's split: what `quotes --json` prints and the web app's trade page shows.
    A venue that cannot price it is a row with an `error` sentence and takes no part of a split; `NoVenueCanPrice`
    when none can. A sell larger than a venue fills at a price above zero is a row saying so, and the split gives that
    venue at most that much (`NotEnoughLiquidityError` when they cannot take it together); a node that cannot serve
    the reads raises its own error."""
    direction = 1 if side == "buy" else -1
    venues = load_venues(w3, deployment)
    # Read first: a node that cannot answer at all fails here, as itself, rather than as every venue's failure.
    mark = FeedClient(w3, deployment.market(market).feed).price()
    horizon = horizon_hours * 3600

    quoted: list[dict[str, Any]] = []
    priced: list[tuple[Venue, VenueCostModel]] = []
    for venue in venues:
        try:
            model = priced_cost_model(venue, market, direction)
            row = _quote_row(venue, model, market, amount, direction, mark, horizon)
        except VENUE_FAILURES as exc:
            if node_failure(exc):
                raise
            quoted.append({"venue": venue.name, "error": venue_failure(exc, deployment)})
            continue
        quoted.append(row)
        priced.append((venue, model))
    if not priced:
        raise NoVenueCanPrice(none_can(f"no venue can price {amount.normalize():f} {market} now", quoted))
    split = route(amount, direction, [model for _, model in priced], horizon)
    routed_usd = Decimal(split.cost) * mark
    whole = math.isfinite(split.best_single_cost)  # some venue could take the order alone
    routed: dict[str, Any] = {
        "sizes": {venue.name: s for (venue, _), s in zip(priced, split.sizes, strict=True) if s},
        "expected_cost": routed_usd,
        "cost_bps": routed_usd / (mark * amount) * 10_000,
        "saving_vs_best_single": Decimal(split.best_single_cost) * mark - routed_usd if whole else None,
        "best_single_venue": priced[split.best_single_venue][0].name if whole else None,
    }
    document = {"market": market, "side": side, "size": amount, "mark": mark, "horizon_hours": horizon_hours}
    document |= {"venues": quoted, "routed": routed}
    if levels is not None:
        order = BookOrder(int(amount * WAD), direction, int(mark * WAD), int(horizon))
        document |= _book_view(venues, deployment, market, order, levels)
    return document


def _quote_row(
    venue: Venue, model: VenueCostModel, market: str, amount: Decimal, direction: int, mark: Decimal, horizon: float
) -> dict[str, Any]:
    """`venue`'s all-in cost of `amount`, or, for a size it cannot take in one order, the reason: such a venue,
    which has priced one step, can still take a part of the split (within its capacity)."""
    most = model.capacity(direction)
    beyond = (
        f"cannot take a sell of {amount.normalize():f}: it fills at most {most.normalize():f} at a price above zero"
        if most is not None
        else "its price for this size is zero"
    )
    if amount % model.step:
        reason = f"size is not a multiple of its step {model.step.normalize():f}"
    elif most is not None and amount > most:
        reason = beyond  # its price would reach zero: it would give the position away
    else:
        try:
            q = venue.quote(market, amount, direction)
        except InputError as exc:  # a size the venue cannot take in one order
            reason = str(exc)
        else:
            if q.average_price <= 0:
                return {"venue": venue.name, "error": beyond}
            funding = Decimal(direction * model.funding_rate_per_second * horizon) * mark * amount
            total = (q.average_price - mark) * amount * direction + q.fee + funding
            return {
                "venue": venue.name,
                "average_price": q.average_price,
                "fee": q.fee,
                "funding": funding,
                "total_cost": total,
                "cost_bps": total / (mark * amount) * 10_000,
            }
    return {"venue": venue.name, "error": reason}


def venue_failure(
    exc: ContractLogicError | BadFunctionCallOutput | Web3RPCError | PrimeVaultError, deployment: Deployment
) -> str:
    """Why a venue cannot answer, in the CLI's words: a revert as `explain` says it (its sentence, then the error's
    name), a reader's refusal as it is, a call that returned nothing or ran out of gas as such."""
    if isinstance(exc, TransactionReverted):
        return f"{describe(exc.error, deployment)} [{exc.error.name}]"
    if isinstance(exc, PrimeVaultError):
        return str(exc)
    if isinstance(exc, BadFunctionCallOutput):
        return ANSWERED_NOTHING
    return refusal(exc, deployment)


def none_can(what: str, rows: list[dict[str, Any]]) -> str:
    """`what`, then each venue's reason, venues that fail alike named together: one line."""
    by_reason: dict[str, list[str]] = {}
    for row in rows:
        by_reason.setdefault(row["error"], []).append(row["venue"])
    return f"{what}: " + "; ".join(f"{', '.join(names)}: {reason}" for reason, names in by_reason.items())


def _book_view(
    venues: list[Venue], deployment: Deployment, market: str, order: BookOrder, levels: int
) -> dict[str, Any]:
    """Each venue's book sampled down to the order's size (so any one of them could fill it), merged both ways, and
    the book router's split of the order over them; a venue whose book cannot be read is left out, with its reason
    in `book_errors`."""
    books: list[VenueBook] = []
    errors: list[dict[str, Any]] = []
    for venue in venues:
        try:
            books.append(sampled_book(venue, market, Decimal(order.size) / WAD, levels))
        except VENUE_FAILURES as exc:
            if node_failure(exc):
                raise
            errors.append({"venue": venue.name, "error": venue_failure(exc, deployment)})
    if not books:
        raise NoVenueCanPrice(none_can(f"no venue's {market} book can be read now", errors))
    split = route_books(order, books)
    sides = {
        name: [_level_row(level) for level in consolidated_book(books, BookOrder(order.size, way, order.mark))]
        for name, way in (("asks", BUY), ("bids", SELL))
    }
    return {"book": sides, "book_routed": _book_route_row(split), "book_errors": errors}


def _level_row(level: MergedLevel) -> dict[str, Any]:
    return {
        "venue": level.venue,
        "size": Decimal(level.size) / WAD,
        "price": Decimal(level.price) / WAD,
        "all_in_price": _decimal(level.all_in_price),
    }


def _book_route_row(split: BookSplit) -> dict[str, Any]:
    notional = Decimal(split.order.mark) * split.order.size / WAD / WAD
    cost = _decimal(split.cost_vs_mark)
    best, single = split.best_single, split.best_single_cost
    return {
        "sizes": {f.venue: Decimal(f.size) / WAD for f in split.fills if f.size},
        "average_prices": {f.venue: _decimal(f.average_price) for f in split.fills if f.size},
        "cost_vs_mark": cost,
        "cost_bps": cost / notional * 10_000,
        "saving_vs_best_single": None if single is None else _decimal(single - split.cost),
        "best_single_venue": None if best is None else split.fills[best].venue,
    }


def _echo_book(document: dict[str, Any], levels: int, amount: Decimal, horizon_hours: float) -> None:
    click.echo(
        f"consolidated book (meta-exchange): each venue in {levels} levels down to {amount.normalize():f}; "
        f"all-in prices count the taker fee and {horizon_hours:g}h of funding"
    )
    click.echo(f"{'side':<5} {'venue':<10} {'size':>12} {'price':>14} {'all-in':>14}")
    for row in document["book_errors"]:
        click.echo(f"{'-':<5} {row['venue']:<10} left out: {row['error']}")
    for name, rows in document["book"].items():
        for row in rows:
            click.echo(
                f"{name[:-1]:<5} {row['venue']:<10} {row['size'].normalize():>12f} {row['price']:>14,.2f} "
                f"{row['all_in_price']:>14,.2f}"
            )
    routed = document["book_routed"]
    prices = routed["average_prices"]
    parts = ", ".join(f"{name} {size.normalize():f} at {prices[name]:,.2f}" for name, size in routed["sizes"].items())
    best = routed["best_single_venue"]
    saving = (
        "no single venue can fill it"
        if best is None
        else f"saving {routed['saving_vs_best_single']:z,.2f} against the best single venue ({best})"
    )
    click.echo(
        f"{'book route':<10} {parts}: cost {routed['cost_vs_mark']:z,.2f} beyond the mark "
        f"({routed['cost_bps']:z.2f} bps), {saving}"
    )


def _decimal(value: Fraction) -> Decimal:
    """An exact USD amount, to Decimal's precision, for display."""
    return Decimal(value.numerator) / Decimal(value.denominator)


def decimal_text(value: object) -> str:
    """JSON has no decimal type: exact decimal strings, as exchanges' APIs write them (a negative zero as "0")."""
    if isinstance(value, Decimal):
        return f"{value.normalize():zf}"
    raise TypeError(f"{type(value).__name__} is not JSON serializable")

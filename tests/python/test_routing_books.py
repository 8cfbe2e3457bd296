"""The book router: equal to a brute-force optimum on small random books, never worse than the best single venue
on large ones, and the cases that make routing over books differ from ranking levels (margin transfers, steps,
positions held, books that run out)."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

import pytest
from click.testing import CliRunner

from keeper.cli.main import cli
from keeper.client.venues.books import sampled_book
from keeper.client.venues.registry import load_venues
from keeper.exceptions import InputError, NotEnoughLiquidityError
from keeper.routing import (
    BUY,
    SELL,
    BookOrder,
    BookSplit,
    Level,
    MarginLimit,
    VenueBook,
    consolidated_book,
    route_books,
)
from tests.python.conftest import Chain

WAD = 10**18
LOT = WAD // 100  # 0.01 of a base unit: the small books' grid
USD = WAD


def book(
    name: str,
    asks: Sequence[tuple[float, float]],
    bids: Sequence[tuple[float, float]] = (),
    *,
    fee_ppm: int = 0,
    step: int = LOT,
    position: float = 0,
    margin: MarginLimit | None = None,
) -> VenueBook:
    """A book from (price, size) pairs in USD and base units."""
    return VenueBook(
        name,
        bids=tuple(Level(int(p * USD), int(q * WAD)) for p, q in bids),
        asks=tuple(Level(int(p * USD), int(q * WAD)) for p, q in asks),
        taker_fee_ppm=fee_ppm,
        funding_rate_per_second=0,
        step=step,
        position=int(position * WAD),
        margin=margin,
    )


def order(size: float, side: int = BUY, horizon_seconds: int = 0, max_delay_seconds: int | None = None) -> BookOrder:
    return BookOrder(int(size * WAD), side, 100 * USD, horizon_seconds, max_delay_seconds)


def sizes(split: BookSplit) -> list[float]:
    return [f.size / WAD for f in split.fills]


# ---------------------------------------------------------------- an independent brute force


def fill_cost(venue: VenueBook, size: int, o: BookOrder) -> tuple[int, Fraction] | None:
    """(size opened, all-in USD) of `size` at `venue` alone, straight from the definitions; None if it cannot."""
    levels = venue.asks if o.side == BUY else venue.bids
    if size > sum(level.size for level in levels):
        return None
    money, left = Fraction(0), size
    for level in levels:
        take = min(left, level.size)
        price = Fraction(level.price, WAD)
        fee = price * Fraction(venue.taker_fee_ppm, 10**6)
        funding = Fraction(venue.funding_rate_per_second * o.horizon_seconds * o.mark, WAD * WAD)
        money += Fraction(take, WAD) * (o.side * price + fee + o.side * funding)
        left -= take
    held_against = abs(venue.position) if venue.position * o.side < 0 else 0
    opened = max(0, size - held_against)
    m = venue.margin
    if m is not None:
        needed = Fraction(opened * o.mark * m.initial_margin_ppm, WAD * WAD * 10**6)
        can_wait = o.max_delay_seconds is None or m.transfer_delay_seconds <= o.max_delay_seconds
        if needed > Fraction(m.free_margin, WAD):
            if not can_wait or needed > Fraction(m.free_margin + m.movable_margin, WAD):
                return None
            money += Fraction(m.transfer_cost, WAD)
    return opened, money


def brute_force(o: BookOrder, venues: list[VenueBook]) -> tuple[int, Fraction] | None:
    """The best (size opened, cost) over every split on the steps."""
    depths = [sum(level.size for level in (v.asks if o.side == BUY else v.bids)) for v in venues]
    best: tuple[int, Fraction] | None = None
    for head in itertools.product(*(range(0, d + 1, v.step) for v, d in zip(venues[:-1], depths, strict=False))):
        rest = o.size - sum(head)
        if rest < 0 or rest % venues[-1].step:
            continue
        costs = [fill_cost(v, q, o) for v, q in zip(venues, (*head, rest), strict=True)]
        if any(c is None for c in costs):
            continue
        total = (sum(c[0] for c in costs if c), sum((c[1] for c in costs if c), Fraction(0)))
        best = total if best is None or total < best else best
    return best


def random_book(rng: random.Random, name: str, levels: int, grid: int, price: float) -> VenueBook:
    """A random book on `grid`-sized lots: a spread around `price`, levels that get worse (sometimes equal)."""
    step = grid * rng.choice((1, 1, 2, 3, 5))
    ask, bid = price + rng.uniform(0, 1), price - rng.uniform(0, 1)
    asks, bids = [], []
    for _ in range(rng.randint(0, levels)):
        asks.append(Level(int(ask * USD), grid * rng.randint(1, 6)))
        ask += rng.choice((0, rng.uniform(0, 2)))
    for _ in range(rng.randint(0, levels)):
        bids.append(Level(int(bid * USD), grid * rng.randint(1, 6)))
        bid -= rng.choice((0, rng.uniform(0, 2)))
    margin = None
    if rng.random() < 0.6:
        margin = MarginLimit(
            free_margin=int(rng.uniform(0, 1) * price / 100 * USD),
            initial_margin_ppm=rng.choice((50_000, 100_000, 200_000)),
            movable_margin=rng.choice((0, int(rng.uniform(0, 10) * price / 100 * USD))),
            transfer_cost=int(rng.uniform(0, 0.3) * price / 100 * USD),
            transfer_delay_seconds=rng.choice((0, 3_600, 4 * 3_600)),
        )
    return VenueBook(
        name,
        bids=tuple(bids),
        asks=tuple(asks),
        taker_fee_ppm=rng.randint(0, 1_000),
        funding_rate_per_second=rng.randint(-(10**10), 10**10),
        step=step,
        position=rng.choice((0, 0, step * rng.randint(-8, 8))),
        margin=margin,
    )


def random_order(rng: random.Random, venues: list[VenueBook], grid: int, price: float) -> BookOrder:
    side = rng.choice((BUY, SELL))
    depth = sum(level.size for v in venues for level in v.levels(side))
    beyond = rng.random() < 0.1  # some orders larger than every book
    return BookOrder(
        grid * rng.randint(1, depth // grid + 3 if beyond else max(1, depth // grid // 2)),
        side,
        int(price * USD),
        horizon_seconds=rng.choice((0, 8 * 3_600, 7 * 86_400)),
        max_delay_seconds=rng.choice((None, 0, 3_600)),
    )


def test_equals_the_brute_force_optimum_on_small_books() -> None:
    rng = random.Random(12)
    routed = refused = split_up = moved = closed = 0
    for case in range(1500):
        venues = [random_book(rng, f"v{i}", 4, LOT, 100) for i in range(rng.choice((1, 2, 2, 3, 3)))]
        o = random_order(rng, venues, LOT, 100)
        best = brute_force(o, venues)
        if best is None:
            with pytest.raises((NotEnoughLiquidityError, InputError)):
                route_books(o, venues)
            refused += 1
            continue
        split = route_books(o, venues)
        opened = sum(max(0, f.size - f.closing) for f in split.fills)
        assert (opened, split.cost) == best, f"case {case}"
        assert_consistent(split, venues)
        routed += 1
        split_up += sum(f.size > 0 for f in split.fills) > 1
        moved += any(f.transfer_cost for f in split.fills)
        closed += any(f.closing for f in split.fills)
    # The cases cover what they are meant to: splits, transfers, closes and refusals.
    assert routed >= 500 and min(refused, split_up, moved, closed) >= 50, (routed, refused, split_up, moved, closed)


def test_never_worse_than_the_best_single_venue_on_large_books() -> None:
    rng = random.Random(13)
    grid = WAD // 10_000  # 0.0001 BTC
    for _ in range(500):
        venues = [random_book(rng, f"v{i}", 40, grid * 1_000, 60_000) for i in range(rng.randint(2, 4))]
        venues = [_on_step(v, grid * rng.choice((1, 10, 100))) for v in venues]
        o = random_order(rng, venues, min(v.step for v in venues), 60_000)
        try:
            split = route_books(o, venues)
        except NotEnoughLiquidityError:
            assert all(o.size % v.step or fill_cost(v, o.size, o) is None for v in venues)
            continue
        assert_consistent(split, venues)
        opened = sum(max(0, f.size - f.closing) for f in split.fills)
        singles = [c for v in venues if o.size % v.step == 0 and (c := fill_cost(v, o.size, o)) is not None]
        assert all((opened, split.cost) <= single for single in singles)
        if singles:
            assert split.best_single is not None
            assert fill_cost(venues[split.best_single], o.size, o) == (min(singles)[0], split.best_single_cost)
        else:
            assert split.best_single is None


def _on_step(venue: VenueBook, step: int) -> VenueBook:
    """The venue with a finer step (level sizes stay multiples of the old one; the position moves onto the grid)."""
    return VenueBook(
        venue.name, venue.bids, venue.asks, venue.taker_fee_ppm, venue.funding_rate_per_second, step,
        venue.position - venue.position % step, venue.margin,
    )  # fmt: skip


def assert_consistent(split: BookSplit, venues: list[VenueBook]) -> None:
    """Sizes add up on each venue's step, and the fills' money adds up to the cost."""
    o = split.order
    assert sum(f.size for f in split.fills) == o.size
    assert all(f.size % v.step == 0 for f, v in zip(split.fills, venues, strict=True))
    assert split.cost == sum(o.side * f.notional + f.fee + f.funding + f.transfer_cost for f in split.fills)


# ---------------------------------------------------------------- the cases that matter


def test_greedy_over_the_consolidated_book_when_costs_are_per_unit() -> None:
    a = book("a", [(100, 1), (101, 5)], fee_ppm=500, step=1)
    b = book("b", [(100.5, 2), (103, 5)], fee_ppm=200, step=1)
    merged = consolidated_book([a, b], order(1))
    assert [(m.venue, m.price / USD) for m in merged] == [("a", 100), ("b", 100.5), ("a", 101), ("b", 103)]
    assert merged[0].all_in_price == Fraction(10005, 100), "the taker fee is in the all-in price"
    split = route_books(order(4), [a, b])
    assert sizes(split) == [2, 2], "a's first level, b's first, then a's second: the book from the top"
    assert split.cost == Fraction("201") * Fraction("1.0005") + Fraction("201") * Fraction("1.0002")


def test_funding_over_the_horizon_ranks_levels() -> None:
    pays = VenueBook("pays", (), (Level(100 * USD, 5 * WAD),), 0, 10**10, LOT)  # longs pay 1e-8 of the mark a second
    free = VenueBook("free", (), (Level(100 * USD + USD // 2, 5 * WAD),), 0, 0, LOT)
    assert sizes(route_books(order(1), [pays, free])) == [1, 0]
    a_week = order(1, horizon_seconds=7 * 86_400)  # 0.6048% of 100 in funding: 0.60 USD, more than the 0.50 spread
    split = route_books(a_week, [pays, free])
    assert sizes(split) == [0, 1]
    assert split.best_single == 1


def test_an_empty_side_takes_nothing() -> None:
    asks_only = book("asks-only", [(100, 2)])
    both = book("both", [(102, 2)], [(99, 2)])
    assert sizes(route_books(order(3), [asks_only, both])) == [2, 1]
    assert sizes(route_books(order(2, SELL), [asks_only, both])) == [0, 2]
    with pytest.raises(NotEnoughLiquidityError, match=r"not enough liquidity for 1: .*asks-only 0"):
        route_books(order(1, SELL), [asks_only, book("none", [])])


def test_an_order_larger_than_every_book_is_refused() -> None:
    venues = [book("a", [(100, 1), (101, 2)]), book("b", [(100, 4)])]
    assert sum(sizes(route_books(order(7), venues))) == 7
    with pytest.raises(NotEnoughLiquidityError, match=r"not enough liquidity for 7\.01: .* at most a 3, b 4"):
        route_books(order(7.01), venues)


def test_margin_limits_what_a_venue_takes() -> None:
    # 100 USD of margin at 10% initial margin backs 10 units at a mark of 100.
    limited = book("limited", [(99, 50)], margin=MarginLimit(100 * USD, 100_000))
    dear = book("dear", [(105, 50)])
    assert sizes(route_books(order(12), [limited, dear])) == [10, 2]
    with pytest.raises(NotEnoughLiquidityError, match="limited 10, dear 0"):
        route_books(order(11), [limited, book("dear", [])])


def test_moving_margin_is_worth_it_only_for_a_large_enough_order() -> None:
    # "far" is cheaper by 1 USD a unit but holds no margin: moving some costs 5 USD, once.
    far = book("far", [(99, 50)], margin=MarginLimit(0, 100_000, movable_margin=1_000 * USD, transfer_cost=5 * USD))
    near = book("near", [(100, 50)])
    small = route_books(order(4), [far, near])
    assert sizes(small) == [0, 4], "4 USD saved is less than the transfer"
    assert small.fills[0].transfer_cost == 0
    large = route_books(order(6), [far, near])
    assert sizes(large) == [6, 0], "6 USD saved pays for it"
    assert large.fills[0].transfer_cost == 5
    assert large.cost == 6 * 99 + 5
    tie = route_books(order(5), [far, near])
    assert sizes(tie) == [0, 5], "at equal cost, no transfer"


def test_a_transfer_slower_than_the_order_can_wait_is_not_made() -> None:
    slow = MarginLimit(0, 100_000, movable_margin=1_000 * USD, transfer_cost=0, transfer_delay_seconds=4 * 3_600)
    venues = [book("slow", [(90, 50)], margin=slow), book("near", [(100, 50)])]
    assert sizes(route_books(order(10, max_delay_seconds=None), venues)) == [10, 0]
    assert sizes(route_books(order(10, max_delay_seconds=3_600), venues)) == [0, 10]
    with pytest.raises(NotEnoughLiquidityError):
        route_books(order(10, max_delay_seconds=3_600), venues[:1])


def test_steps_are_a_knapsack_and_the_router_solves_it() -> None:
    # Ranking would take fine's cheap 0.01 first and then be stuck: coarse takes 0.1 at a time only.
    fine = book("fine", [(90, 0.01), (200, 1)], step=LOT)
    coarse = book("coarse", [(100, 1)], step=10 * LOT)
    split = route_books(order(0.1), [fine, coarse])
    assert sizes(split) == [0, 0.1]
    assert split.cost == 10
    assert sizes(route_books(order(0.11), [fine, coarse])) == [0.01, 0.1]
    with pytest.raises(InputError, match=r"0\.015 is not a multiple of the venues' steps \(fine 0\.01, coarse 0\.1\)"):
        route_books(order(0.015), [fine, coarse])


def test_a_size_the_books_hold_but_not_on_their_steps() -> None:
    # gcd(0.02, 0.03) = 0.01 divides 0.04 and the books hold 1.02, but 0.04 is 0.02 + 0.02 or 0.04 at "twos",
    # which holds 0.02, or 0.03 + 0.01: no split fits.
    venues = [book("twos", [(100, 0.02)], step=2 * LOT), book("threes", [(100, 1)], step=3 * LOT)]
    assert sizes(route_books(order(0.05), venues)) == [0.02, 0.03]
    with pytest.raises(NotEnoughLiquidityError, match="on their steps"):
        route_books(order(0.04), venues)


def test_a_reducing_order_closes_where_held_first() -> None:
    # Long 2 at "held", whose bids are worse: a sell of 3 closes those 2 there and sells 1 where it is best.
    held = book("held", [(101, 5)], [(98, 5)], position=2)
    best = book("best", [(101, 5)], [(99, 5)])
    split = route_books(order(3, SELL), [held, best])
    assert sizes(split) == [2, 1]
    assert [f.closing for f in split.fills] == [2 * WAD, 0]
    assert split.best_single == 0, "held alone closes 2 of the 3, best alone none"
    # Held at both: the cheaper close wins; a buy adds to the long and goes by price.
    both = book("held", [(101, 5)], [(98, 5)], position=2)
    other = book("other", [(102, 5)], [(97, 5)], position=3)
    assert sizes(route_books(order(2, SELL), [both, other])) == [2, 0]
    assert sizes(route_books(order(2, BUY), [held, best])) == [2, 0]


def test_closing_needs_no_margin() -> None:
    no_margin = MarginLimit(0, 100_000)
    held = book("held", [(101, 5)], [(98, 5)], position=2, margin=no_margin)
    assert sizes(route_books(order(2, SELL), [held])) == [2]
    with pytest.raises(NotEnoughLiquidityError, match="held 2"):
        route_books(order(3, SELL), [held])


def test_books_out_of_order_are_refused() -> None:
    with pytest.raises(InputError, match="asks are not best first"):
        book("x", [(101, 1), (100, 1)])
    with pytest.raises(InputError, match="bids are not best first"):
        book("x", [], [(99, 1), (100, 1)])
    with pytest.raises(InputError, match="order size must be positive"):
        order(0)


# ---------------------------------------------------------------- the local venues' books, on the test chain


def test_a_sampled_book_fills_as_the_venue_quotes(chain: Chain) -> None:
    for venue in load_venues(chain.w3, chain.deployment):
        sampled = sampled_book(venue, "BTC-USD", Decimal(20), 8)
        for side, levels in ((BUY, sampled.asks), (SELL, sampled.bids)):
            assert len(levels) == 8 and {level.size for level in levels} == {int(2.5 * WAD)}
            booked = 0
            for i, level in enumerate(levels, start=1):
                booked += level.price * level.size
                size = i * level.size
                quoted = int(venue.quote("BTC-USD", Decimal(size) / WAD, side).average_price * WAD) * size
                # Each level's price is rounded against the taker, by less than a wei of price.
                assert 0 <= side * (booked - quoted) < i * level.size, (venue.name, side, i)


def test_quotes_shows_the_consolidated_book(chain: Chain) -> None:
    args = ["--deployment", str(chain.deployment_file), "quotes", "btc-usd", "10", "--book", "--levels", "5"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "routed     dydx 6.767, rabbitx 3.233" in result.output, "the depth model's route is still shown"
    assert "consolidated book (meta-exchange): each venue in 5 levels down to 10" in result.output
    asks = [line.split() for line in result.output.splitlines() if line.startswith("ask ")]
    assert len(asks) == 10 and {row[1] for row in asks} == {"dydx", "rabbitx"}
    all_in = [Decimal(row[4].replace(",", "")) for row in asks]
    assert all_in == sorted(all_in), "best all-in price first"
    assert "book route dydx 6 at" in result.output and "rabbitx 4 at" in result.output
    document = json.loads(CliRunner().invoke(cli, [*args, "--json"]).output)
    assert {"asks", "bids"} == set(document["book"])
    assert document["book_routed"]["sizes"] == {"dydx": "6", "rabbitx": "4"}
    assert Decimal(document["book_routed"]["saving_vs_best_single"]) > 0

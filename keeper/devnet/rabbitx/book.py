"""A pure price-time priority order book per market, plus order validation with RabbitX-style rejection reasons.

Nothing here knows about accounts or margin: the exchange (exchange.py) asks the book what would match, checks the
account (risk.py), then lets the book match. Prices and sizes are Decimals, never floats.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from keeper.connectors.rabbitx.numbers import decimal_string
from keeper.connectors.rabbitx.vocabulary import OrderType, Side, TimeInForce
from keeper.devnet.rabbitx.numbers import ZERO, is_multiple


class Reject:
    """Rejection reasons as the order's `reason` field carries them (each is a prefix; details follow). The four
    about an order's shape are RabbitX's own, which its API answers at once (`check_order_shape`)."""

    UNKNOWN_MARKET = "unknown market"
    BAD_SIZE = "bad order size"
    BAD_PRICE = "bad order price"
    SIZE_STEP = "bad_order_size"
    PRICE_STEP = "bad_price"
    INSUFFICIENT_MARGIN = "insufficient margin"
    REDUCE_ONLY = "reduce-only order would increase the position"
    POST_ONLY = "post-only order would cross the book"
    FILL_OR_KILL = "fill-or-kill order cannot be filled in full"
    NO_LIQUIDITY = "no liquidity"
    ACCOUNT_LIQUIDATING = "account is being liquidated"
    MARKET_POST_ONLY = "RiskManager CheckOrderParams: invalid time-in-force=post_only"
    """RabbitX's refusal of a time-in-force its market orders do not take."""


@dataclass
class BookOrder:
    """A resting order as the book sees it."""

    order_id: str
    profile_id: int
    side: Side
    price: Decimal
    remaining: Decimal
    priority: int = 0


@dataclass(frozen=True)
class Match:
    """One maker order (partly) filled by a taker at the maker's price."""

    maker_order_id: str
    maker_profile_id: int
    price: Decimal
    size: Decimal
    maker_remaining: Decimal


def check_order_shape(
    market_id: str,
    min_tick: Decimal,
    min_order: Decimal,
    order_type: OrderType,
    price: Decimal | None,
    size: Decimal,
    time_in_force: TimeInForce,
) -> str | None:
    """The refusal of an order that does not fit the market's steps, or None. The texts and their order are those of
    RabbitX's pre-create risk check (its Tarantool back end's `pre_create`, see API_NOTES.md): "bad order price",
    "bad order size", "bad_price has=X required=Y", "bad_order_size has=X required=Y", Y the nearest step."""
    if order_type is OrderType.MARKET and time_in_force is TimeInForce.POST_ONLY:
        return Reject.MARKET_POST_ONLY
    if order_type is OrderType.LIMIT and (price is None or price <= 0):
        return Reject.BAD_PRICE
    if price is not None and price <= 0:
        return Reject.BAD_PRICE
    if size <= 0:
        return Reject.BAD_SIZE
    if price is not None and not is_multiple(price, min_tick):
        return f"{Reject.PRICE_STEP} has={decimal_string(price)} required={decimal_string(_nearest(price, min_tick))}"
    if not is_multiple(size, min_order):
        return f"{Reject.SIZE_STEP} has={decimal_string(size)} required={decimal_string(_nearest(size, min_order))}"
    return None


def _nearest(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step


class _SideBook:
    """Price levels of one side: FIFO queues keyed by price, prices kept sorted ascending."""

    def __init__(self, side: Side) -> None:
        self.side = side
        self.levels: dict[Decimal, deque[BookOrder]] = {}
        self.prices: list[Decimal] = []

    def best(self) -> Decimal | None:
        if not self.prices:
            return None
        return self.prices[-1] if self.side is Side.LONG else self.prices[0]

    def add(self, order: BookOrder) -> None:
        queue = self.levels.get(order.price)
        if queue is None:
            queue = deque()
            self.levels[order.price] = queue
            bisect.insort(self.prices, order.price)
        queue.append(order)

    def remove(self, order: BookOrder) -> None:
        queue = self.levels.get(order.price)
        if queue is None:
            return
        try:
            queue.remove(order)
        except ValueError:
            return
        if not queue:
            self._drop_level(order.price)

    def _drop_level(self, price: Decimal) -> None:
        del self.levels[price]
        index = bisect.bisect_left(self.prices, price)
        if index < len(self.prices) and self.prices[index] == price:
            self.prices.pop(index)

    def prices_best_first(self) -> Iterator[Decimal]:
        return reversed(self.prices) if self.side is Side.LONG else iter(self.prices)

    def aggregated(self, depth: int | None = None) -> list[tuple[Decimal, Decimal]]:
        out: list[tuple[Decimal, Decimal]] = []
        for price in self.prices_best_first():
            out.append((price, sum((o.remaining for o in self.levels[price]), ZERO)))
            if depth is not None and len(out) >= depth:
                break
        return out


def _crosses(taker_side: Side, limit: Decimal | None, maker_price: Decimal) -> bool:
    if limit is None:
        return True
    return maker_price <= limit if taker_side is Side.LONG else maker_price >= limit


class OrderBook:
    """One market's book. `match` consumes resting liquidity; `add` rests an order; `remove` cancels one."""

    def __init__(self, market_id: str) -> None:
        self.market_id = market_id
        self._sides = {Side.LONG: _SideBook(Side.LONG), Side.SHORT: _SideBook(Side.SHORT)}
        self._orders: dict[str, BookOrder] = {}
        self._priority = 0

    def best_bid(self) -> Decimal | None:
        return self._sides[Side.LONG].best()

    def best_ask(self) -> Decimal | None:
        return self._sides[Side.SHORT].best()

    def mid(self) -> Decimal | None:
        bid, ask = self.best_bid(), self.best_ask()
        if bid is None or ask is None:
            return None
        return (bid + ask) / 2

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._orders

    def get(self, order_id: str) -> BookOrder | None:
        return self._orders.get(order_id)

    def would_cross(self, side: Side, price: Decimal) -> bool:
        best = self._sides[side.opposite].best()
        return best is not None and _crosses(side, price, best)

    def fillable(self, side: Side, limit: Decimal | None) -> Decimal:
        """Size a taker on `side` could fill now at prices no worse than `limit` (None: any price)."""
        total = ZERO
        opposite = self._sides[side.opposite]
        for price in opposite.prices_best_first():
            if not _crosses(side, limit, price):
                break
            total += sum((o.remaining for o in opposite.levels[price]), ZERO)
        return total

    def add(self, order_id: str, profile_id: int, side: Side, price: Decimal, size: Decimal) -> BookOrder:
        if order_id in self._orders:
            raise ValueError(f"order {order_id} already rests on {self.market_id}")
        self._priority += 1
        order = BookOrder(order_id, profile_id, side, price, size, self._priority)
        self._sides[side].add(order)
        self._orders[order_id] = order
        return order

    def remove(self, order_id: str) -> BookOrder | None:
        order = self._orders.pop(order_id, None)
        if order is not None:
            self._sides[order.side].remove(order)
        return order

    def shrink(self, order_id: str, remaining: Decimal) -> None:
        """Lower a resting order's size where it stands: it keeps its place in the queue."""
        order = self._orders[order_id]
        if not 0 < remaining <= order.remaining:
            raise ValueError(f"order {order_id} can shrink to between 0 and {order.remaining}, not {remaining}")
        order.remaining = remaining

    def match(self, side: Side, size: Decimal, limit: Decimal | None) -> list[Match]:
        """Fill up to `size` for a taker on `side` against resting orders priced no worse than `limit`."""
        matches: list[Match] = []
        remaining = size
        opposite = self._sides[side.opposite]
        while remaining > 0:
            best = opposite.best()
            if best is None or not _crosses(side, limit, best):
                break
            queue = opposite.levels[best]
            maker = queue[0]
            take = min(remaining, maker.remaining)
            maker.remaining -= take
            remaining -= take
            matches.append(Match(maker.order_id, maker.profile_id, best, take, maker.remaining))
            if maker.remaining == 0:
                queue.popleft()
                del self._orders[maker.order_id]
                if not queue:
                    opposite._drop_level(best)
        return matches

    def levels(self, side: Side, depth: int | None = None) -> list[tuple[Decimal, Decimal]]:
        """Aggregated (price, size) levels, best first."""
        return self._sides[side].aggregated(depth)

    def level_map(self, side: Side) -> dict[Decimal, Decimal]:
        return dict(self._sides[side].aggregated())

    def orders(self) -> list[BookOrder]:
        return list(self._orders.values())

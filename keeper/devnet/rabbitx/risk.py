"""Margin, funding and liquidation arithmetic of the devnet RabbitX, after RabbitX's published rules.

- Initial margin fraction (IMF) = 1 / leverage, leverage per account and market, at most the market's max leverage;
  maintenance (MMF) and auto-close (ACMF) fractions per market (RabbitX's docs: BTC/ETH 50x, MMF 1%, ACMF 0.5%;
  others 20x, MMF 2.5%, ACMF 1.25%).
- Equity = balance + unrealized PnL at the fair price (the devnet's fair price is the oracle's index price).
- An order is accepted if, with the order counted as open, equity >= position margin + order margin. Order margin
  counts only the part of a market's open orders on one side that would grow the position (closing orders are free).
- Funding each period: rate = clamp(premium basis, +-2%) / 8 + interest (0.125 bps), capped at +-0.1%; premium basis =
  (book mid - index) / index; each position pays size * fair price * rate (longs pay when positive).
- An account below maintenance (equity < sum |size| * fair * MMF) is liquidated; below auto-close (ACMF) the insurance
  account takes its positions at the price that leaves it zero equity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from keeper.connectors.rabbitx.vocabulary import Side
from keeper.devnet.rabbitx.numbers import ONE, ZERO, div

INTEREST_RATE = Decimal("0.0000125")
"""RabbitX's fixed interest component per funding period (0.125 bps)."""
PREMIUM_BASIS_CAP = Decimal("0.02")
FUNDING_RATE_CAP = Decimal("0.001")
PREMIUM_DIVISOR = 8


@dataclass(frozen=True)
class MarketRisk:
    max_leverage: int
    mmf: Decimal
    acmf: Decimal

    @property
    def imf(self) -> Decimal:
        """The smallest initial margin fraction: 1 / max leverage."""
        return div(ONE, Decimal(self.max_leverage))

    @classmethod
    def major(cls) -> MarketRisk:
        """BTC and ETH on RabbitX: 50x, MMF 1%, ACMF 0.5%."""
        return cls(50, Decimal("0.01"), Decimal("0.005"))

    @classmethod
    def minor(cls) -> MarketRisk:
        """Every other RabbitX market: 20x, MMF 2.5%, ACMF 1.25%."""
        return cls(20, Decimal("0.025"), Decimal("0.0125"))


@dataclass
class Position:
    """A net position: `size` signed (positive long), `entry_price` the average price of the open size."""

    size: Decimal = ZERO
    entry_price: Decimal = ZERO

    @property
    def side(self) -> Side:
        return Side.LONG if self.size >= 0 else Side.SHORT

    def unrealized_pnl(self, mark: Decimal) -> Decimal:
        return self.size * (mark - self.entry_price)

    def notional(self, mark: Decimal) -> Decimal:
        return abs(self.size) * mark

    def apply_fill(self, signed_size: Decimal, price: Decimal) -> Decimal:
        """Add a fill (`signed_size` positive for a buy) and return the PnL it realizes."""
        if self.size == 0 or (self.size > 0) == (signed_size > 0):
            total = self.size + signed_size
            self.entry_price = div(self.size * self.entry_price + signed_size * price, total)
            self.size = total
            return ZERO
        closing = min(abs(signed_size), abs(self.size))
        direction = Decimal(1) if self.size > 0 else Decimal(-1)
        realized = closing * direction * (price - self.entry_price)
        remainder = self.size + signed_size
        if remainder == 0:
            self.size, self.entry_price = ZERO, ZERO
        elif (remainder > 0) == (self.size > 0):
            self.size = remainder
        else:
            self.size, self.entry_price = remainder, price
        return realized


@dataclass(frozen=True)
class OpenOrder:
    """What margin needs to know of an open order."""

    market_id: str
    side: Side
    price: Decimal
    remaining: Decimal


class Health(StrEnum):
    OK = "ok"
    LIQUIDATE = "liquidate"
    AUTO_CLOSE = "auto_close"


@dataclass
class MarginAccount:
    balance: Decimal = ZERO
    positions: dict[str, Position] = field(default_factory=dict)
    leverage: dict[str, int] = field(default_factory=dict)


def initial_fraction(account: MarginAccount, market_id: str, risk: MarketRisk, default_leverage: int) -> Decimal:
    leverage = min(account.leverage.get(market_id, default_leverage), risk.max_leverage)
    return div(ONE, Decimal(max(leverage, 1)))


def unrealized_pnl(account: MarginAccount, marks: Mapping[str, Decimal]) -> Decimal:
    return sum((p.unrealized_pnl(marks[m]) for m, p in account.positions.items() if p.size != 0), ZERO)


def equity(account: MarginAccount, marks: Mapping[str, Decimal]) -> Decimal:
    return account.balance + unrealized_pnl(account, marks)


def total_notional(account: MarginAccount, marks: Mapping[str, Decimal]) -> Decimal:
    return sum((p.notional(marks[m]) for m, p in account.positions.items()), ZERO)


def position_margin(
    account: MarginAccount, marks: Mapping[str, Decimal], risks: Mapping[str, MarketRisk], default_leverage: int
) -> Decimal:
    return sum(
        (
            p.notional(marks[m]) * initial_fraction(account, m, risks[m], default_leverage)
            for m, p in account.positions.items()
        ),
        ZERO,
    )


def order_margin(
    account: MarginAccount, orders: Iterable[OpenOrder], risks: Mapping[str, MarketRisk], default_leverage: int
) -> Decimal:
    """Margin of open orders: per market, the larger side's notional beyond what would close the position."""
    by_market: dict[str, list[OpenOrder]] = {}
    for order in orders:
        by_market.setdefault(order.market_id, []).append(order)
    total = ZERO
    for market_id, market_orders in by_market.items():
        size = account.positions.get(market_id, Position()).size
        sides: dict[Side, Decimal] = {}
        for side in (Side.LONG, Side.SHORT):
            closable = max(-size, ZERO) if side is Side.LONG else max(size, ZERO)
            notional = ZERO
            for order in sorted((o for o in market_orders if o.side is side), key=lambda o: o.price):
                free = min(closable, order.remaining)
                closable -= free
                notional += (order.remaining - free) * order.price
            sides[side] = notional
        fraction = initial_fraction(account, market_id, risks[market_id], default_leverage)
        total += max(sides[Side.LONG], sides[Side.SHORT]) * fraction
    return total


def margin_shortfall(
    account: MarginAccount,
    marks: Mapping[str, Decimal],
    risks: Mapping[str, MarketRisk],
    orders: Iterable[OpenOrder],
    default_leverage: int,
) -> tuple[Decimal, Decimal] | None:
    """(equity, required) if equity does not cover position margin plus order margin, else None."""
    required = position_margin(account, marks, risks, default_leverage) + order_margin(
        account, orders, risks, default_leverage
    )
    have = equity(account, marks)
    return (have, required) if have < required else None


def withdrawable(
    account: MarginAccount,
    marks: Mapping[str, Decimal],
    risks: Mapping[str, MarketRisk],
    orders: Iterable[OpenOrder],
    default_leverage: int,
) -> Decimal:
    """min(equity, balance) - position margin - order margin, floored at zero."""
    free = (
        min(equity(account, marks), account.balance)
        - position_margin(account, marks, risks, default_leverage)
        - order_margin(account, orders, risks, default_leverage)
    )
    return max(free, ZERO)


def maintenance_requirement(
    account: MarginAccount, marks: Mapping[str, Decimal], risks: Mapping[str, MarketRisk]
) -> Decimal:
    return sum((p.notional(marks[m]) * risks[m].mmf for m, p in account.positions.items()), ZERO)


def auto_close_requirement(
    account: MarginAccount, marks: Mapping[str, Decimal], risks: Mapping[str, MarketRisk]
) -> Decimal:
    return sum((p.notional(marks[m]) * risks[m].acmf for m, p in account.positions.items()), ZERO)


def health(account: MarginAccount, marks: Mapping[str, Decimal], risks: Mapping[str, MarketRisk]) -> Health:
    if not any(p.size != 0 for p in account.positions.values()):
        return Health.OK
    have = equity(account, marks)
    if have < auto_close_requirement(account, marks, risks):
        return Health.AUTO_CLOSE
    if have < maintenance_requirement(account, marks, risks):
        return Health.LIQUIDATE
    return Health.OK


def account_margin_ratio(account: MarginAccount, marks: Mapping[str, Decimal]) -> Decimal:
    """RabbitX's "account margin": equity / total notional (1 when flat)."""
    notional = total_notional(account, marks)
    if notional == 0:
        return ONE
    return div(equity(account, marks), notional)


def liquidation_price(
    account: MarginAccount, market_id: str, marks: Mapping[str, Decimal], risks: Mapping[str, MarketRisk]
) -> Decimal:
    """The fair price of `market_id` at which equity meets maintenance, other marks unchanged (0 if none)."""
    position = account.positions.get(market_id)
    if position is None or position.size == 0:
        return ZERO
    mmf = risks[market_id].mmf
    others = {m: p for m, p in account.positions.items() if m != market_id}
    other_equity = account.balance + sum((p.unrealized_pnl(marks[m]) for m, p in others.items()), ZERO)
    other_maintenance = sum((p.notional(marks[m]) * risks[m].mmf for m, p in others.items()), ZERO)
    # other_equity + s (P - e) = other_maintenance + |s| P mmf  =>  P = (other_mm - other_eq + s e) / (s - |s| mmf)
    size = position.size
    denominator = size - abs(size) * mmf
    if denominator == 0:
        return ZERO
    price = div(other_maintenance - other_equity + size * position.entry_price, denominator)
    return max(price, ZERO)


def premium_basis(mid: Decimal | None, index: Decimal) -> Decimal:
    """(mid - index) / index clamped to +-2%; zero without a two-sided book."""
    if mid is None or index <= 0:
        return ZERO
    basis = div(mid - index, index)
    return max(-PREMIUM_BASIS_CAP, min(PREMIUM_BASIS_CAP, basis))


def funding_rate(mid: Decimal | None, index: Decimal) -> Decimal:
    """One period's funding rate: premium basis / 8 + interest, capped at +-0.1%."""
    rate = div(premium_basis(mid, index), Decimal(PREMIUM_DIVISOR)) + INTEREST_RATE
    return max(-FUNDING_RATE_CAP, min(FUNDING_RATE_CAP, rate))


def funding_payment(position: Position, fair_price: Decimal, rate: Decimal) -> Decimal:
    """What the position's holder receives (negative: pays) for one period at `rate`."""
    return -position.size * fair_price * rate

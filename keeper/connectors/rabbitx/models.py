"""Typed records of what the connector sends and reads: orders, fills, positions, balance, withdrawals.

Each `from_json` reads one row of RabbitX's JSON (decimal strings, microsecond timestamps) and refuses a row it
cannot read with `RabbitXResponseError`; it reads only the fields RabbitX documents, so the records mean the same
against the devnet replica and the real exchange.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from eth_utils.address import to_checksum_address

from keeper.connectors.numbers import require_booked_amount
from keeper.connectors.rabbitx.errors import RabbitXResponseError
from keeper.connectors.rabbitx.numbers import decimal_string, parse_decimal
from keeper.connectors.rabbitx.vocabulary import OrderStatus, OrderType, Side, TimeInForce


@dataclass(frozen=True)
class OrderRequest:
    """An order to place. `client_order_id` must be unique per account: derive it from what the order is for (the
    on-chain order and child), so that after a crash `find_order` tells whether it reached the exchange."""

    market_id: str
    side: Side
    size: Decimal
    price: Decimal | None
    client_order_id: str
    order_type: OrderType = OrderType.LIMIT
    time_in_force: TimeInForce | None = None
    """None leaves it to the exchange: good-till-cancel for a limit order, immediate-or-cancel for a market order."""


@dataclass(frozen=True)
class Order:
    order_id: str
    market_id: str
    client_order_id: str
    side: Side
    order_type: OrderType
    status: OrderStatus
    price: Decimal | None
    size: Decimal
    """The size the order was placed with."""
    filled_size: Decimal
    time_in_force: TimeInForce | None
    reason: str
    """Why the exchange rejected or cancelled it (empty otherwise)."""

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> Order:
        with _reading("order", row):
            price = row.get("price")
            time_in_force = row.get("time_in_force")
            return cls(
                order_id=str(row["id"]),
                market_id=str(row["market_id"]),
                client_order_id=str(row.get("client_order_id") or ""),
                side=Side(row["side"]),
                order_type=OrderType(row.get("order_type") or row["type"]),
                status=OrderStatus(row["status"]),
                price=None if price in (None, "") else parse_decimal(price, "price"),
                size=parse_decimal(row.get("initial_size") or row["size"], "size"),
                filled_size=parse_decimal(row.get("total_filled_size") or "0", "total_filled_size"),
                time_in_force=TimeInForce(time_in_force) if time_in_force else None,
                reason=str(row.get("reason") or ""),
            )


@dataclass(frozen=True)
class Fill:
    """One execution of one of the account's orders, as the exchange reports it; `fill_id` is unique per venue."""

    fill_id: str
    order_id: str
    client_order_id: str
    market_id: str
    side: Side
    price: Decimal
    size: Decimal
    fee: Decimal
    """What the fill cost in collateral, positive when paid (RabbitX reports fees paid as negative numbers)."""
    timestamp: int
    """Microseconds since the UNIX epoch."""
    is_maker: bool
    trade_id: str
    liquidation: bool
    """The exchange filled it while liquidating the account."""

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> Fill:
        """Refuses a fill that cannot be one: a size or price that is not positive, or finer than a WAD (18 decimals,
        what the trading module books)."""
        with _reading("fill", row):
            fill = cls(
                fill_id=str(row["id"]),
                order_id=str(row["order_id"]),
                client_order_id=str(row.get("client_order_id") or ""),
                market_id=str(row["market_id"]),
                side=Side(row["side"]),
                price=parse_decimal(row["price"], "price"),
                size=parse_decimal(row["size"], "size"),
                fee=-parse_decimal(row["fee"], "fee"),
                timestamp=int(row["timestamp"]),
                is_maker=bool(row.get("is_maker")),
                trade_id=str(row.get("trade_id") or ""),
                liquidation=bool(row.get("liquidation")),
            )
            require_booked_amount(fill.size, "size")
            require_booked_amount(fill.price, "price")
            return fill

    def to_json(self) -> dict[str, Any]:
        """The fill as RabbitX's JSON row (`from_json` reads it back unchanged), for the durable store."""
        return {
            "id": self.fill_id,
            "order_id": self.order_id,
            "client_order_id": self.client_order_id,
            "market_id": self.market_id,
            "side": self.side.value,
            "price": decimal_string(self.price),
            "size": decimal_string(self.size),
            "fee": decimal_string(-self.fee),
            "timestamp": self.timestamp,
            "is_maker": self.is_maker,
            "trade_id": self.trade_id,
            "liquidation": self.liquidation,
        }


@dataclass(frozen=True)
class Position:
    market_id: str
    side: Side
    size: Decimal
    entry_price: Decimal
    fair_price: Decimal
    notional: Decimal
    margin: Decimal
    unrealized_pnl: Decimal
    liquidation_price: Decimal

    @property
    def signed_size(self) -> Decimal:
        return self.size * self.side.sign

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> Position:
        with _reading("position", row):
            position = cls(
                market_id=str(row["market_id"]),
                side=Side(row["side"]),
                **_decimals(row, _POSITION_DECIMALS),
            )
            _not_negative(position, "size", "margin")
            return position


@dataclass(frozen=True)
class Balance:
    """The account's collateral as the exchange sees it (``GET /account``)."""

    balance: Decimal
    """Deposits less withdrawals, plus realized PnL, funding and fees."""
    equity: Decimal
    """Balance plus unrealized PnL."""
    withdrawable: Decimal
    position_margin: Decimal
    order_margin: Decimal
    unrealized_pnl: Decimal
    margin_ratio: Decimal
    """Equity over total notional (RabbitX's ``account_margin``); the exchange liquidates below maintenance."""

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> Balance:
        with _reading("account", row):
            balance = cls(**_decimals(row, _BALANCE_FIELDS))
            _not_negative(balance, "position_margin", "order_margin")
            return balance


_POSITION_DECIMALS = ("size", "entry_price", "fair_price", "notional", "margin", "unrealized_pnl", "liquidation_price")

_BALANCE_FIELDS = {
    "balance": "balance",
    "equity": "account_equity",
    "withdrawable": "withdrawable_balance",
    "position_margin": "total_position_margin",
    "order_margin": "total_order_margin",
    "unrealized_pnl": "cum_unrealized_pnl",
    "margin_ratio": "account_margin",
}
"""Balance's attributes and the GET /account fields they come from."""


@dataclass(frozen=True)
class WithdrawalClaim:
    """What paying a withdrawal out of RabbitX's contract takes: the arguments of its
    ``withdraw(uint256 id, address trader, uint256 amount, uint8 v, bytes32 r, bytes32 s)``, the exchange signer's
    EIP-712 signature over ``withdrawal(uint256 id,address trader,uint256 amount)``. Submitting it is the keeper's
    chain side, not the connector's."""

    withdrawal_id: int
    trader: str
    amount_units: int
    """In the collateral token's base units."""
    v: int
    r: bytes
    s: bytes

    def arguments(self) -> tuple[int, str, int, int, bytes, bytes]:
        """``(id, trader, amount, v, r, s)`` in the contract's order."""
        return (self.withdrawal_id, self.trader, self.amount_units, self.v, self.r, self.s)


WITHDRAWAL_PENDING = frozenset({"pending", "processing"})
WITHDRAWAL_CANCELED = frozenset({"canceled", "cancelled", "rejected", "failed"})
"""Statuses after which a withdrawal is never paid (RabbitX's docs name Pending, Claimable, Success and a cancel, not
how a cancelled one reads: both spellings, and a refusal)."""


@dataclass(frozen=True)
class Withdrawal:
    withdrawal_id: str
    amount: Decimal
    """Positive: what leaves the exchange account (RabbitX reports it as a negative balance operation)."""
    status: str
    timestamp: int
    claim: WithdrawalClaim | None
    """Present when the answer carries the signed claim; RabbitX does not document these fields, so the connector
    reads them when they are there and asks for them (``POST /balanceops/claim``) when a claimable one lacks them."""

    @property
    def pending(self) -> bool:
        """Debited, waiting for its processing blocks (1 to 1,800 by amount) before it can be claimed."""
        return self.status.lower() in WITHDRAWAL_PENDING

    @property
    def claimable(self) -> bool:
        return self.status.lower() == "claimable"

    @property
    def canceled(self) -> bool:
        """Cancelled before its claim: its amount is back in the account's balance, and will never be paid out."""
        return self.status.lower() in WITHDRAWAL_CANCELED

    @property
    def paid(self) -> bool:
        return self.status.lower() == "success"

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> Withdrawal:
        with _reading("withdrawal", row):
            claim = None
            if row.get("r") and row.get("s"):
                claim = WithdrawalClaim(
                    withdrawal_id=int(row["withdrawal_id"]),
                    trader=to_checksum_address(str(row["trader"])),
                    amount_units=int(row["amount_units"]),
                    v=int(row["v"]),
                    r=_word(row["r"], "r"),
                    s=_word(row["s"], "s"),
                )
            return cls(
                withdrawal_id=str(row["id"]),
                amount=abs(parse_decimal(row["amount"], "amount")),
                status=str(row["status"]),
                timestamp=int(row["timestamp"]),
                claim=claim,
            )


def _word(value: Any, name: str) -> bytes:
    """A 0x-hex bytes32."""
    word = bytes.fromhex(str(value).removeprefix("0x"))
    if len(word) != 32:
        raise ValueError(f"{name} is {len(word)} bytes, not 32")
    return word


def _decimals(row: Mapping[str, Any], fields: Mapping[str, str] | tuple[str, ...]) -> dict[str, Decimal]:
    """Decimal attributes read from a row: {attribute: field} or fields named as their attributes."""
    names = fields if isinstance(fields, Mapping) else {name: name for name in fields}
    return {attribute: parse_decimal(row[field], field) for attribute, field in names.items()}


def _not_negative(record: object, *names: str) -> None:
    for name in names:
        value = getattr(record, name)
        if value < 0:
            raise ValueError(f"{name} cannot be negative, got {value}")


@contextlib.contextmanager
def _reading(what: str, row: Mapping[str, Any]) -> Iterator[None]:
    """Turns a missing field or a value of the wrong kind in a row into one RabbitXResponseError naming the row."""
    if not isinstance(row, Mapping):
        raise RabbitXResponseError(f"RabbitX {what} is not an object: {str(row)[:200]!r}")
    try:
        yield
    except KeyError as error:
        raise RabbitXResponseError(f"RabbitX {what} without {error}: {dict(row)}") from None
    except (ValueError, TypeError, OverflowError) as error:  # OverflowError: int() of JSON's 1e999 (infinity)
        raise RabbitXResponseError(f"RabbitX {what} cannot be read: {error}: {dict(row)}") from None


@dataclass(frozen=True)
class BalanceOperation:
    """One movement of the account's collateral (``GET /balanceops``): a deposit, withdrawal, funding payment, ..."""

    operation_id: str
    ops_type: str
    amount: Decimal
    """Signed as the exchange reports it: positive credits the account."""
    status: str
    timestamp: int

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> BalanceOperation:
        with _reading("balance operation", row):
            return cls(
                operation_id=str(row["id"]),
                ops_type=str(row["ops_type"]),
                amount=parse_decimal(row["amount"], "amount"),
                status=str(row["status"]),
                timestamp=int(row["timestamp"]),
            )


@dataclass(frozen=True)
class FundingRate:
    """One funding period of a market (``GET /markets/fundingrate``): positive rates make longs pay shorts."""

    market_id: str
    funding_rate: Decimal
    timestamp: int
    """Microseconds."""

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> FundingRate:
        with _reading("funding rate", row):
            return cls(
                market_id=str(row["market_id"]),
                funding_rate=parse_decimal(row["funding_rate"], "funding_rate"),
                timestamp=int(row["timestamp"]),
            )


@dataclass(frozen=True)
class OrderBook:
    """A market's book (``GET /markets/orderbook``): `bids` best (highest) first, `asks` best (lowest) first, each a
    (price, size) pair."""

    market_id: str
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> OrderBook:
        """Refuses a book no router may read: a price that is not positive, a negative size, a side not strictly
        best first (out of order, or a price twice), or a best bid at or above the best ask."""
        with _reading("order book", row):
            book = cls(
                market_id=str(row["market_id"]),
                bids=tuple((parse_decimal(p, "price"), parse_decimal(s, "size")) for p, s in row["bids"]),
                asks=tuple((parse_decimal(p, "price"), parse_decimal(s, "size")) for p, s in row["asks"]),
            )
            for side, levels, better in (("bids", book.bids, 1), ("asks", book.asks, -1)):
                if any(price <= 0 or size < 0 for price, size in levels):
                    raise ValueError(f"{side} need positive prices and sizes that are not negative")
                if any((a[0] - b[0]) * better <= 0 for a, b in itertools.pairwise(levels)):
                    raise ValueError(f"{side} are not strictly best first")
            if book.bids and book.asks and book.bids[0][0] >= book.asks[0][0]:
                raise ValueError(f"crossed: best bid {book.bids[0][0]} at or above best ask {book.asks[0][0]}")
            return book

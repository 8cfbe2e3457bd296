"""Typed records of what the connector sends and reads: markets, orders, fills, positions, the subaccount, funding.

Each `from_json` reads one object of the indexer's JSON (decimal strings, ISO times, heights as strings) and refuses
one it cannot read with `DydxResponseError`; it reads only fields the indexer documents (comlink's response types),
so the records mean the same against the devnet replica and the real indexer.
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any

from keeper.connectors.dydx.errors import DydxResponseError
from keeper.connectors.numbers import require_booked_amount, venue_decimal

QUOTE_ATOMIC_RESOLUTION = -6
"""USDC has 6 decimals: one quote quantum is 10^-6 USDC."""

INDEXER_UUID_NAMESPACE = uuid.UUID("0f9da948-a6fb-4c45-9edc-4685c3f3317d")
"""The namespace of the indexer's uuid5 ids (v4-chain indexer/packages/postgres/src/helpers/uuid.ts)."""


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell: a signed size is ``size * side.sign``."""
        return 1 if self is Side.BUY else -1


class TimeInForce(StrEnum):
    """How long a short-term order may wait for a maker; every one ends at its goodTilBlock."""

    IOC = "IOC"
    """Fill what crosses when matched, cancel the rest (the seat's orders)."""
    GOOD_TIL_BLOCK = "GOOD_TIL_BLOCK"
    """Rest in the book until filled, cancelled or past goodTilBlock."""
    POST_ONLY = "POST_ONLY"
    """Rest only as a maker: refused if it would cross."""


def _floor_to_multiple(value: Decimal, exponent: int, multiple: int) -> int:
    """value x 10^exponent rounded down to a multiple of `multiple`, in integers (no float, no context rounding)."""
    numerator, denominator = value.as_integer_ratio()
    if exponent >= 0:
        numerator *= 10**exponent
    else:
        denominator *= 10**-exponent
    return numerator // denominator // multiple * multiple


def indexer_subaccount_id(address: str, subaccount_number: int) -> str:
    """The indexer's id of a subaccount (``SubaccountTable.uuid``)."""
    return str(uuid.uuid5(INDEXER_UUID_NAMESPACE, f"{address}-{subaccount_number}"))


def indexer_order_id(address: str, subaccount_number: int, client_id: int, clob_pair_id: int, order_flags: int) -> str:
    """The indexer's id of an order (``OrderTable.uuid``): what its fills carry as ``orderId``, so fills are matched
    to the order that made them without asking the indexer for the order."""
    subaccount = indexer_subaccount_id(address, subaccount_number)
    return str(uuid.uuid5(INDEXER_UUID_NAMESPACE, f"{subaccount}-{client_id}-{clob_pair_id}-{order_flags}"))


@dataclass(frozen=True)
class Market:
    """A perpetual market's units as the indexer lists it (``/v4/perpetualMarkets``). `row` is the indexer's object
    as read, which the client's `Market` helper takes to build order ids."""

    ticker: str
    clob_pair_id: int
    atomic_resolution: int
    quantum_conversion_exponent: int
    step_base_quantums: int
    subticks_per_tick: int
    oracle_price: Decimal | None
    initial_margin_fraction: Decimal
    maintenance_margin_fraction: Decimal
    row: Mapping[str, Any]

    @property
    def step_size(self) -> Decimal:
        return self.quantums_to_size(self.step_base_quantums)

    @property
    def tick_size(self) -> Decimal:
        return self.subticks_to_price(self.subticks_per_tick)

    @property
    def _price_exponent(self) -> int:
        """subticks = price x 10^this: atomicResolution - quantumConversionExponent - quote resolution."""
        return self.atomic_resolution - self.quantum_conversion_exponent - QUOTE_ATOMIC_RESOLUTION

    def quantums_to_size(self, quantums: int) -> Decimal:
        return Decimal(quantums).scaleb(self.atomic_resolution)

    def subticks_to_price(self, subticks: int) -> Decimal:
        return Decimal(subticks).scaleb(-self._price_exponent)

    def size_to_quantums(self, size: Decimal) -> int:
        """`size` in base quantums, rounded down to a whole step: the client's `calculate_quantums`, computed exactly
        (the client computes it in floats, which drops a step from many sizes already on the step)."""
        return _floor_to_multiple(size, -self.atomic_resolution, self.step_base_quantums)

    def price_to_subticks(self, price: Decimal) -> int:
        """`price` in subticks, rounded down to a whole tick: the client's `calculate_subticks`, computed exactly."""
        return _floor_to_multiple(price, self._price_exponent, self.subticks_per_tick)

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> Market:
        with _reading("perpetual market", row):
            oracle = row.get("oraclePrice")
            return cls(
                ticker=str(row["ticker"]),
                clob_pair_id=int(row["clobPairId"]),
                atomic_resolution=int(row["atomicResolution"]),
                quantum_conversion_exponent=int(row["quantumConversionExponent"]),
                step_base_quantums=int(row["stepBaseQuantums"]),
                subticks_per_tick=int(row["subticksPerTick"]),
                oracle_price=None if oracle in (None, "") else venue_decimal(oracle, "oraclePrice"),
                initial_margin_fraction=venue_decimal(row["initialMarginFraction"], "initialMarginFraction"),
                maintenance_margin_fraction=venue_decimal(
                    row["maintenanceMarginFraction"], "maintenanceMarginFraction"
                ),
                row=dict(row),
            )


@dataclass(frozen=True)
class OrderRequest:
    """An order to place. `client_id` may be given (derived from what the order is for, so that it can be found
    again after a crash); left None, the connector picks one unused by the subaccount's live orders."""

    ticker: str
    side: Side
    size: Decimal
    price: Decimal
    """The limit: the worst price the order may fill at."""
    reduce_only: bool = False
    """Set it when the order only closes the position: dYdX then never fills it past zero."""
    time_in_force: TimeInForce = TimeInForce.IOC
    client_id: int | None = None


@dataclass(frozen=True)
class PlacedOrder:
    """An order the validator accepted into its mempool, as it was built: the sizes and prices on dYdX's grid."""

    ticker: str
    side: Side
    client_id: int
    clob_pair_id: int
    order_flags: int
    quantums: int
    subticks: int
    size: Decimal
    """`quantums` in the market's base unit: the request's size rounded down to the step."""
    price: Decimal
    """`subticks` as a price: the request's limit rounded down to the tick (a sell's too, as the client rounds)."""
    reduce_only: bool
    time_in_force: TimeInForce
    good_til_block: int
    placed_at_height: int
    """The latest block when it was placed; the order can fill from the next one to `good_til_block`."""
    tx_hash: str
    indexer_order_id: str
    """What the indexer's fills of this order carry as ``orderId``."""


@dataclass(frozen=True)
class Fill:
    """One execution of one of the subaccount's orders, as the indexer reports it; `fill_id` is unique per venue."""

    fill_id: str
    order_id: str
    """The indexer's order id (`PlacedOrder.indexer_order_id`); empty for fills without an order (liquidations)."""
    ticker: str
    side: Side
    liquidity: str
    """``TAKER`` or ``MAKER``."""
    fill_type: str
    """``LIMIT``, ``LIQUIDATED``, ``DELEVERAGED``, ..."""
    price: Decimal
    size: Decimal
    fee: Decimal
    """USDC, positive when paid (a maker rebate is negative), as the indexer reports it."""
    created_at: str
    created_at_height: int
    subaccount_number: int

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> Fill:
        """Refuses a fill that cannot be one: a size or price that is not positive, or finer than a WAD (18 decimals,
        what the trading module books)."""
        with _reading("fill", row):
            fill = cls(
                fill_id=str(row["id"]),
                order_id=str(row.get("orderId") or ""),
                ticker=str(row["market"]),
                side=Side(row["side"]),
                liquidity=str(row["liquidity"]),
                fill_type=str(row["type"]),
                price=venue_decimal(row["price"], "price"),
                size=venue_decimal(row["size"], "size"),
                fee=venue_decimal(row["fee"], "fee"),
                created_at=str(row["createdAt"]),
                created_at_height=int(row["createdAtHeight"]),
                subaccount_number=int(row["subaccountNumber"]),
            )
            require_booked_amount(fill.size, "size")
            require_booked_amount(fill.price, "price")
            return fill


@dataclass(frozen=True)
class OrderResult:
    """What became of a placed order once it can no longer fill (filled in full, or past its goodTilBlock)."""

    order: PlacedOrder
    fills: tuple[Fill, ...]

    @property
    def filled_size(self) -> Decimal:
        return sum((fill.size for fill in self.fills), Decimal(0))

    @property
    def remaining_size(self) -> Decimal:
        """What dYdX cancelled: for an IOC order, the part no maker crossed."""
        return self.order.size - self.filled_size

    @property
    def average_price(self) -> Decimal | None:
        filled = self.filled_size
        return sum((fill.price * fill.size for fill in self.fills), Decimal(0)) / filled if filled else None


@dataclass(frozen=True)
class Position:
    ticker: str
    size: Decimal
    """Signed: negative for a short (the indexer's ``size``)."""
    entry_price: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    net_funding: Decimal
    """Funding paid (negative) or received over the position's life, in USDC."""

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> Position:
        with _reading("perpetual position", row):
            return cls(
                ticker=str(row["market"]),
                size=venue_decimal(row["size"], "size"),
                entry_price=venue_decimal(row["entryPrice"], "entryPrice"),
                unrealized_pnl=venue_decimal(row["unrealizedPnl"], "unrealizedPnl"),
                realized_pnl=venue_decimal(row["realizedPnl"], "realizedPnl"),
                net_funding=venue_decimal(row["netFunding"], "netFunding"),
            )


@dataclass(frozen=True)
class Subaccount:
    """The subaccount as the indexer sees it (``/v4/addresses/{address}/subaccountNumber/{n}``)."""

    address: str
    subaccount_number: int
    equity: Decimal
    """USDC balance plus the open positions' value at the oracle price."""
    free_collateral: Decimal
    """Equity less the open positions' initial margin: what may still back new orders or leave."""
    usdc: Decimal
    """The USDC asset position, signed (negative when the subaccount borrows against its positions)."""
    positions: tuple[Position, ...]
    updated_at_height: int

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> Subaccount:
        with _reading("subaccount", row):
            usdc = row.get("assetPositions", {}).get("USDC")
            signed_usdc = Decimal(0)
            if usdc is not None:
                signed_usdc = venue_decimal(usdc["size"], "USDC size") * (1 if usdc["side"] == "LONG" else -1)
            account = cls(
                address=str(row["address"]),
                subaccount_number=int(row["subaccountNumber"]),
                equity=venue_decimal(row["equity"], "equity"),
                free_collateral=venue_decimal(row["freeCollateral"], "freeCollateral"),
                usdc=signed_usdc,
                positions=tuple(Position.from_json(p) for p in row.get("openPerpetualPositions", {}).values()),
                updated_at_height=int(row.get("updatedAtHeight") or 0),
            )
            if account.free_collateral > max(account.equity, Decimal(0)):
                raise ValueError(f"free collateral {account.free_collateral} above equity {account.equity}")
            return account


@dataclass(frozen=True)
class FundingRate:
    """One funding payment period of a market (``/v4/historicalFunding/{ticker}``): longs pay `rate` x notional
    at `price` to shorts when it is positive."""

    ticker: str
    rate: Decimal
    price: Decimal
    effective_at: str
    effective_at_height: int

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> FundingRate:
        with _reading("funding rate", row):
            return cls(
                ticker=str(row["ticker"]),
                rate=venue_decimal(row["rate"], "rate"),
                price=venue_decimal(row["price"], "price"),
                effective_at=str(row["effectiveAt"]),
                effective_at_height=int(row["effectiveAtHeight"]),
            )


@dataclass(frozen=True)
class BookLevel:
    price: Decimal
    size: Decimal

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> BookLevel:
        return cls(venue_decimal(row["price"], "price"), venue_decimal(row["size"], "size"))


@dataclass(frozen=True)
class OrderBook:
    """A market's book as the indexer serves it: bids best (highest) first, asks best (lowest) first."""

    ticker: str
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]

    @classmethod
    def from_json(cls, ticker: str, row: Mapping[str, Any]) -> OrderBook:
        """Refuses a book no router may read: a price that is not positive, a negative size, a side not strictly
        best first (out of order, or a price twice). A crossed book (best bid at or above best ask) is uncrossed:
        the indexer serves one at times, while a match is applied to one side before the other, and dYdX's own
        clients uncross it; the levels beyond the other side's best are dropped from both sides, so the router reads
        a thinner book, never a price that is not there."""
        with _reading("order book", row):
            book = cls(
                ticker=ticker,
                bids=tuple(BookLevel.from_json(x) for x in row["bids"]),
                asks=tuple(BookLevel.from_json(x) for x in row["asks"]),
            )
            for side, levels, better in (("bids", book.bids, 1), ("asks", book.asks, -1)):
                if any(x.price <= 0 or x.size < 0 for x in levels):
                    raise ValueError(f"{side} need positive prices and sizes that are not negative")
                if any((a.price - b.price) * better <= 0 for a, b in itertools.pairwise(levels)):
                    raise ValueError(f"{side} are not strictly best first")
            if book.bids and book.asks and book.bids[0].price >= book.asks[0].price:
                best_bid, best_ask = book.bids[0].price, book.asks[0].price
                bids = tuple(x for x in book.bids if x.price < best_ask)
                asks = tuple(x for x in book.asks if x.price > best_bid)
                book = replace(book, bids=bids, asks=asks)
            return book


@contextlib.contextmanager
def _reading(what: str, row: Mapping[str, Any]) -> Iterator[None]:
    """Turns a missing field or a value of the wrong kind into one DydxResponseError naming the object."""
    if not isinstance(row, Mapping):
        raise DydxResponseError(f"dYdX {what} is not an object: {str(row)[:200]!r}")
    try:
        yield
    except KeyError as error:
        raise DydxResponseError(f"dYdX {what} without {error}: {dict(row)}") from None
    except (ValueError, TypeError, AttributeError, OverflowError) as error:  # OverflowError: int() of JSON's 1e999
        raise DydxResponseError(f"dYdX {what} cannot be read: {error}: {dict(row)}") from None


@dataclass(frozen=True)
class IndexedOrder:
    """An order as the indexer has it (``/v4/orders/{orderId}``): how much filled, and whether it is done."""

    order_id: str
    client_id: int
    ticker: str
    size: Decimal
    total_filled: Decimal
    status: str
    """``OPEN``, ``FILLED``, ``CANCELED``, ``BEST_EFFORT_CANCELED``, ``BEST_EFFORT_OPENED``, ``UNTRIGGERED``."""

    @property
    def done(self) -> bool:
        """It can fill no more: filled in full or cancelled (an IOC remainder, a passed goodTilBlock)."""
        return self.status in ("FILLED", "CANCELED", "BEST_EFFORT_CANCELED")

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> IndexedOrder:
        with _reading("order", row):
            return cls(
                order_id=str(row["id"]),
                client_id=int(row["clientId"]),
                ticker=str(row["ticker"]),
                size=venue_decimal(row["size"], "size"),
                total_filled=venue_decimal(row["totalFilled"], "totalFilled"),
                status=str(row["status"]),
            )


@dataclass(frozen=True)
class Transfer:
    """A USDC transfer into or out of the subaccount (``/v4/transfers``): ``DEPOSIT``, ``WITHDRAWAL``,
    ``TRANSFER_IN``, ``TRANSFER_OUT``."""

    transfer_id: str
    kind: str
    size: Decimal
    sender: str
    recipient: str
    created_at_height: int
    tx_hash: str

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> Transfer:
        with _reading("transfer", row):
            return cls(
                transfer_id=str(row["id"]),
                kind=str(row["type"]),
                size=venue_decimal(row["size"], "size"),
                sender=str(row["sender"]["address"]),
                recipient=str(row["recipient"]["address"]),
                created_at_height=int(row["createdAtHeight"]),
                tx_hash=str(row["transactionHash"]),
            )

"""RabbitX's words for sides, order types, times in force and order statuses, as its API spells them."""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    LONG = "long"
    SHORT = "short"

    @property
    def opposite(self) -> Side:
        return Side.SHORT if self is Side.LONG else Side.LONG

    @property
    def sign(self) -> int:
        """+1 for long, -1 for short: a signed size is ``size * side.sign``."""
        return 1 if self is Side.LONG else -1


class OrderType(StrEnum):
    """The order types the connector places (RabbitX also has stop and take-profit types, which it does not use)."""

    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(StrEnum):
    GOOD_TILL_CANCEL = "good_till_cancel"
    IMMEDIATE_OR_CANCEL = "immediate_or_cancel"
    FILL_OR_KILL = "fill_or_kill"
    POST_ONLY = "post_only"


class OrderStatus(StrEnum):
    """RabbitX's order statuses (rabbitx-python-client ``OrderStatus``): orders answer "processing" at once."""

    PROCESSING = "processing"
    PLACED = "placed"
    OPEN = "open"
    CLOSED = "closed"
    REJECTED = "rejected"
    CANCELED = "canceled"
    CANCELING = "canceling"
    AMENDING = "amending"
    CANCELING_ALL = "cancelingall"

    @property
    def is_final(self) -> bool:
        """Nothing more happens to the order: filled in full, rejected, or cancelled (an IOC remainder too)."""
        return self in (OrderStatus.CLOSED, OrderStatus.REJECTED, OrderStatus.CANCELED)

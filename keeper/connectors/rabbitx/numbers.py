"""RabbitX numbers: decimal strings in JSON both ways, parsed to and written from `Decimal`, never through float
(a float turns 0.1 into 0.1000000000000000055511151231257827 and a signature over it no longer matches)."""

from __future__ import annotations

from decimal import Decimal

from keeper.connectors.numbers import venue_decimal
from keeper.connectors.rabbitx.errors import MalformedNumberError


def parse_decimal(value: object, field: str) -> Decimal:
    """A JSON number or numeric string as a finite Decimal, as `venue_decimal` reads it, refused as the exchange's
    malformed number."""
    try:
        return venue_decimal(value, field)
    except ValueError as exc:
        raise MalformedNumberError(str(exc)) from None


def decimal_string(value: Decimal) -> str:
    """A Decimal as RabbitX writes it: plain digits, no exponent, no trailing zeros ("21210", "0.45", "-0.0178")."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")

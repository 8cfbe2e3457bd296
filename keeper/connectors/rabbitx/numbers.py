"""RabbitX numbers: decimal strings in JSON both ways, parsed to and written from `Decimal`, never through float
(a float turns 0.1 into 0.1000000000000000055511151231257827 and a signature over it no longer matches)."""

from __future__ import annotations

import re
from decimal import Decimal

from keeper.connectors.rabbitx.errors import MalformedNumberError

_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
"""A decimal number as a string: ASCII digits, an optional point and exponent. Decimal() alone also reads "NaN",
"Infinity", "1_000" and other scripts' digits (an Arabic-Indic one is 1), which no exchange or client means."""


def parse_decimal(value: object, field: str) -> Decimal:
    """A JSON number or numeric string as a finite Decimal (a bool or a float is refused: floats lose digits)."""
    if isinstance(value, bool) or value is None:
        raise MalformedNumberError(f"{field} must be a number, got {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        if not _DECIMAL_TEXT.fullmatch(value.strip()):
            raise MalformedNumberError(f"{field} must be a decimal number, got {value!r}")
        result = Decimal(value.strip())
    else:
        raise MalformedNumberError(f"{field} must be a number, got {type(value).__name__}")
    if not result.is_finite():
        raise MalformedNumberError(f"{field} must be finite, got {value!r}")
    return result


def decimal_string(value: Decimal) -> str:
    """A Decimal as RabbitX writes it: plain digits, no exponent, no trailing zeros ("21210", "0.45", "-0.0178")."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")

"""Numbers as the venues send them: decimal strings (or integers) in JSON, read to `Decimal`, never through float (a
float turns 0.1 into 0.1000000000000000055511151231257827, and a signature over it no longer matches), and checked
for what a venue can mean: every connector reads its venue's numbers here. Refusals are `ValueError`s naming the
field, which each connector reports as its venue's wrong answer."""

from __future__ import annotations

import re
from decimal import Decimal

_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
"""A decimal number as a string: ASCII digits, an optional point and exponent. Decimal() alone also reads "NaN",
"Infinity", "1_000" and other scripts' digits (an Arabic-Indic one is 1), which no venue or client means."""

LARGEST_DIGITS = 30
"""No amount, price or size a venue sends is 10^LARGEST_DIGITS or more: a number past it is a wrong answer (and
"1e999999999", turned into an integer of base units, would take the keeper's memory and time)."""


def venue_decimal(value: object, field: str) -> Decimal:
    """A JSON integer or decimal string as a finite Decimal below 10^`LARGEST_DIGITS` (a bool or a float is refused:
    floats lose digits)."""
    result = finite_decimal(value, field)
    # By its exponent, not abs(): arithmetic rounds to the context, and "1e1000000", exact as text, overflows there
    # (decimal.Overflow, no ValueError).
    if result and result.adjusted() >= LARGEST_DIGITS:
        raise ValueError(f"{field} is out of any plausible range, got {value!r}")
    return result


def finite_decimal(value: object, field: str) -> Decimal:
    """A JSON integer or decimal string as a finite Decimal, of any size (a bool or a float is refused)."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{field} must be a number, got {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        if not _DECIMAL_TEXT.fullmatch(value.strip()):
            raise ValueError(f"{field} must be a decimal number, got {value!r}")
        result = Decimal(value.strip())
    else:
        raise ValueError(f"{field} must be a number, got {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"{field} must be finite, got {value!r}")
    return result


def require_booked_amount(value: Decimal, field: str) -> None:
    """A fill's size or price as the trading module books it: positive, in WAD (at most 18 decimals)."""
    if value <= 0:
        raise ValueError(f"{field} must be positive, got {value}")
    _, digits, exponent = value.as_tuple()
    if isinstance(exponent, int) and any(digits[max(len(digits) + 18 + exponent, 0) :]):
        raise ValueError(f"{field} has more than 18 decimals, got {value}")

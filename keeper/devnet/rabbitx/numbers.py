"""Decimal helpers: parsing request numbers and writing RabbitX-style decimal strings. No floats anywhere."""

from __future__ import annotations

import time
from decimal import Decimal, InvalidOperation, localcontext

ZERO = Decimal(0)
ONE = Decimal(1)


class InputError(ValueError):
    """A request field that cannot be used; the message names the field."""


def parse_decimal(value: object, field: str) -> Decimal:
    """A JSON number or numeric string as a finite Decimal (a bool or a float is refused: floats lose digits)."""
    if isinstance(value, bool) or value is None:
        raise InputError(f"{field} must be a number, got {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise InputError(f"{field} must be a decimal number, got {value!r}") from None
    else:
        raise InputError(f"{field} must be a number, got {type(value).__name__}")
    if not result.is_finite():
        raise InputError(f"{field} must be finite, got {value!r}")
    return result


def dstr(value: Decimal) -> str:
    """A Decimal as plain text without exponent or trailing zeros ("21210", "0.45", "-0.0178801")."""
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    return text


def div(numerator: Decimal, denominator: Decimal) -> Decimal:
    """Division with 40 significant digits (enough for money; the default 28 rounds large notionals)."""
    with localcontext() as ctx:
        ctx.prec = 40
        return numerator / denominator


def quantize_down(value: Decimal, step: Decimal) -> Decimal:
    """`value` rounded toward zero onto a multiple of `step`."""
    if step <= 0:
        return value
    with localcontext() as ctx:
        ctx.prec = 60
        return (value // step) * step


def is_multiple(value: Decimal, step: Decimal) -> bool:
    if step <= 0:
        return True
    with localcontext() as ctx:
        ctx.prec = 60
        return value % step == 0


def now_micros() -> int:
    return time.time_ns() // 1000

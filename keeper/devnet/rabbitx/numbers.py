"""The devnet's decimal arithmetic and request-validation error; parsing and writing RabbitX's decimal strings is the
connector's (keeper.connectors.rabbitx.numbers). No floats anywhere."""

from __future__ import annotations

import time
from decimal import Decimal, localcontext

from keeper.connectors.numbers import finite_decimal
from keeper.connectors.rabbitx.errors import MalformedNumberError

ZERO = Decimal(0)
ONE = Decimal(1)

REQUEST_DIGITS = 18
"""A request's numbers have at most this many digits before the point and after it. The exchange's arithmetic
(`div` at 40 significant digits, `quantize_down` and `is_multiple` at 60) is exact within them; a price or size of
1e400 made `is_multiple` fail inside the matching queue and left its order "processing" for ever. RabbitX's own
server reads them as float64, which refuses 1e400 as well."""


class InputError(ValueError):
    """A request field that cannot be used; the message names the field."""


def request_decimal(value: object, field: str) -> Decimal:
    """A number sent in a request: a finite decimal, within `REQUEST_DIGITS` each side of the point (the exchange
    says how large a number may be, where the keeper's reader only refuses what no venue could mean)."""
    try:
        number = finite_decimal(value, field)
    except ValueError as exc:
        raise MalformedNumberError(str(exc)) from None
    if number != 0 and number.adjusted() >= REQUEST_DIGITS:
        raise InputError(f"{field} is too large: at most {REQUEST_DIGITS} digits before the point")
    if not is_multiple(number, ONE.scaleb(-REQUEST_DIGITS)):
        raise InputError(f"{field} has more than {REQUEST_DIGITS} decimal places")
    return number


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

"""The devnet's decimal arithmetic and request-validation error; parsing and writing RabbitX's decimal strings is the
connector's (keeper.connectors.rabbitx.numbers). No floats anywhere."""

from __future__ import annotations

import time
from decimal import Decimal, localcontext

ZERO = Decimal(0)
ONE = Decimal(1)


class InputError(ValueError):
    """A request field that cannot be used; the message names the field."""


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

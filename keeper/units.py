"""Human amounts ("1.5" WETH) to token units and back, exactly (Decimal, never float)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from keeper.exceptions import InputError


def parse_amount(text: str, decimals: int, symbol: str = "") -> int:
    """Token units for a human amount like "1.5"; refuses negatives, non-numbers and excess precision."""
    label = f"{text!r}{' ' + symbol if symbol else ''}"
    try:
        amount = Decimal(text.replace("_", "").replace(",", ""))
    except InvalidOperation:
        raise InputError(f"amount {label} is not a number: write it like 1.5 or 2500") from None
    if not amount.is_finite():
        raise InputError(f"amount {label} is not a finite number")
    if amount <= 0:
        raise InputError(f"amount {label} must be greater than zero")
    units = amount.scaleb(decimals)
    if units != units.to_integral_value():
        raise InputError(f"amount {label} has more than {decimals} decimal places")
    return int(units)


def format_units(units: int, decimals: int, places: int | None = None) -> str:
    """`units` as a decimal string with thousands separators, e.g. 1234500000 (6) -> "1,234.5"."""
    value = Decimal(units).scaleb(-decimals)
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places))
        return f"{value:,.{places}f}"
    text = f"{value:,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text

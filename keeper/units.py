"""Human amounts ("1.5" WETH) to token units and back, exactly (Decimal, never float)."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext

from keeper.exceptions import InputError

UINT256_MAX = 2**256 - 1
# Decimal's default context keeps 28 significant digits and would round a longer amount silently; every digit of a
# uint256 at 18 decimals fits in 100.
_EXACT_DIGITS = 100


def parse_amount(text: str, decimals: int, symbol: str = "", option: str | None = None) -> int:
    """Token units for a human amount like "1.5", exactly; refuses non-numbers (digits of other scripts too), commas
    (a decimal comma and a thousands separator read alike) and underscores, non-positive amounts, excess precision and
    anything beyond uint256. A refusal names the amount, or the `option` it was given to (`--limit 0 must be greater
    than zero`), so that a command taking several amounts says which one is wrong."""
    if option is None:
        label = f"amount {text!r}{' ' + symbol if symbol else ''}"
    else:
        # Quoted only when the bare text would not show where it starts and ends (empty, or with spaces around).
        label = f"{option} {text if text and text == text.strip() else repr(text)}"
    if "," in text:
        raise InputError(f"{label} has a comma: write decimals with a dot and no thousands separators, like 1.5")
    if "_" in text:
        # Decimal reads 1_0 as 10 (Python's digit grouping): a typo as likely as a separator, refused as commas are.
        raise InputError(f"{label} has an underscore: write digits only, with a dot for decimals, like 1000.5")
    with localcontext() as exact:
        exact.prec = _EXACT_DIGITS
        try:
            # Decimal also reads other scripts' digits (Arabic-Indic and fullwidth ones are 1 to 9 too), which no one
            # means as an amount.
            if not text.isascii():
                raise InvalidOperation(text)
            amount = Decimal(text)
        except InvalidOperation:
            raise InputError(f"{label} is not a number: write it like 1.5 or 2500") from None
        if not amount.is_finite():
            raise InputError(f"{label} is not a finite number")
        if amount <= 0:
            raise InputError(f"{label} must be greater than zero")
        if amount.adjusted() + decimals >= _EXACT_DIGITS:
            raise InputError(f"{label} is larger than any token supply")
        units = amount.scaleb(decimals)
        if units != units.to_integral_value():
            raise InputError(f"{label} has more than {decimals} decimal places")
    if units > UINT256_MAX:
        raise InputError(f"{label} is larger than any token supply")
    return int(units)


# Sizes are base units at 18 decimals. Below 10^10 of the base asset (far beyond any venue's book) a size has at
# most 28 significant digits, so Decimal's default context computes with it exactly, and it fits a child order's
# uint96 on chain.
MAX_SIZE_UNITS = 10**28 - 1


def parse_size(text: str, option: str | None = None) -> Decimal:
    """A perp size like "2.5" (of the base asset), exactly: what `parse_amount` refuses (naming `option` if given),
    and sizes of 10^10 or more."""
    units = parse_amount(text, 18, option=option)
    if units > MAX_SIZE_UNITS:
        raise InputError(f"size {text!r} is larger than any order can be: give less than 10,000,000,000")
    return Decimal(units) / 10**18


def format_units(units: int, decimals: int, places: int | None = None, rounding: str = ROUND_HALF_EVEN) -> str:
    """`units` as a decimal string with thousands separators, e.g. 1234500000 (6) -> "1,234.5"; exact for any int
    (to `places` decimals, when given, rounded half to even unless `rounding` says otherwise: ROUND_FLOOR for what
    someone can take, ROUND_CEILING for what they owe or need)."""
    with localcontext() as exact:
        # Decimal's default 28 significant digits would round a longer amount silently and make `quantize` raise;
        # the result has at most the digits of `units`, those `places` adds, and one a rounding carries.
        exact.prec = len(str(abs(units))) + (places or 0) + 1
        value = Decimal(units).scaleb(-decimals)
        if places is not None:
            value = value.quantize(Decimal(1).scaleb(-places), rounding=rounding)
            return f"{value:,.{places}f}"
    text = f"{value:,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_usd(value: Decimal, owed: bool = False) -> str:
    """A USD figure to the cent with thousands separators, in the protocol's favour: what an account has or can take
    rounded down, what it owes (`owed`) rounded up."""
    rounded = value.quantize(Decimal("0.01"), ROUND_CEILING if owed else ROUND_FLOOR)
    # Less than a cent received rounds up to zero, which is shown unsigned ("0.00", as the web app shows it).
    return f"{rounded.copy_abs() if rounded.is_zero() else rounded:,.2f}"


def plain_units(units: int, decimals: int) -> str:
    """`units` as an exact decimal string without thousands separators or trailing zeros (for JSON)."""
    return format_units(units, decimals).replace(",", "")


def format_exact(units: int, decimals: int, min_places: int = 2) -> str:
    """`units` exactly, with thousands separators and at least `min_places` decimals, e.g. 7499999998 (6) ->
    "7,499.999998" and 7500000000 (6) -> "7,500.00": for a sentence that compares two amounts, which rounded to the
    cent could read as one ("you can withdraw 7,500.00, less than the 7,500.00 asked for")."""
    whole, _, fraction = format_units(units, decimals).partition(".")
    fraction = fraction.ljust(min_places, "0")
    return f"{whole}.{fraction}" if fraction else whole

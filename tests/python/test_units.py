from __future__ import annotations

from decimal import Decimal

import pytest

from keeper.client.vault import sub_account
from keeper.exceptions import InputError
from keeper.units import format_units, parse_amount, parse_size


@pytest.mark.parametrize(
    ("text", "decimals", "units"),
    [("1.5", 18, 1_500_000_000_000_000_000), ("0.00000001", 8, 1), ("1e3", 6, 10**9)],
)
def test_parse_amount_is_exact(text: str, decimals: int, units: int) -> None:
    assert parse_amount(text, decimals) == units


def test_long_amounts_are_exact() -> None:
    assert parse_amount("123456789012345678901234567890.123", 18) == 123456789012345678901234567890123 * 10**15


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "is not a number"),
        ("-1", "must be greater than zero"),
        ("0", "must be greater than zero"),
        ("nan", "not a finite number"),
        ("0.0000001", "more than 6 decimal places"),
        # "1,5" is 1.5 in much of the world and 15 with a thousands separator: refused, not guessed.
        ("1,5", "has a comma"),
        ("2,500", "has a comma"),
        ("2_500", "has an underscore"),
        ("1e72", "larger than any token supply"),
        (str(2**256), "larger than any token supply"),
        # 31 significant digits: Decimal's default 28-digit context would round this silently.
        ("1234567890123456789012345.1234567", "more than 6 decimal places"),
    ],
)
def test_parse_amount_refuses_bad_input(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_amount(text, 6, "USDC")


def test_parse_size_is_exact_up_to_its_bound() -> None:
    assert parse_size("2.5") == Decimal("2.5")
    largest = "9999999999.999999999999999999"  # 28 significant digits, exact in Decimal's default context
    assert parse_size(largest) == Decimal(largest)
    assert parse_size(largest) * 10**18 == 10**28 - 1
    for text in ("10000000000", "1e40"):
        with pytest.raises(InputError, match="larger than any order can be"):
            parse_size(text)


def test_format_units() -> None:
    assert format_units(1_234_500_000, 6) == "1,234.5"
    assert format_units(-2_000_000, 6, 2) == "-2.00"
    assert format_units(10**18, 18) == "1"


def test_every_shipped_contracts_errors_are_decoded() -> None:
    from eth_abi.abi import encode
    from web3 import Web3

    from keeper.chain.revert import error_decoder

    decoder = error_decoder()
    # The lens's own error (it was missing) and the liquidation module's.
    data = Web3.keccak(text="InvalidPageSize(uint256,uint256)")[:4] + encode(["uint256", "uint256"], [0, 1000])
    assert str(decoder.decode(data)) == "InvalidPageSize(limit=0, max=1000)"
    assert decoder.decode(Web3.keccak(text="LiquidationModuleDirectCall()")[:4]).name == "LiquidationModuleDirectCall"


def test_every_exception_the_package_defines_is_a_primevault_error() -> None:
    import inspect

    import keeper.exceptions as exceptions

    classes = [c for _, c in inspect.getmembers(exceptions, inspect.isclass) if issubclass(c, Exception)]
    assert len(classes) >= 7
    assert all(issubclass(c, exceptions.PrimeVaultError) for c in classes)


@pytest.mark.parametrize(
    ("units", "places", "text"),
    [
        # 78 and 29 digits: Decimal's default 28-digit context rounded the first silently and could not quantize
        # either to a number of places (InvalidOperation).
        (
            2**256 - 1,
            None,
            "115,792,089,237,316,195,423,570,985,008,687,907,853,269,984,665,640,564,039,457.584007913129639935",
        ),
        (2**256 - 1, 2, "115,792,089,237,316,195,423,570,985,008,687,907,853,269,984,665,640,564,039,457.58"),
        (2**96 - 1, None, "79,228,162,514.264337593543950335"),
        (2**96 - 1, 2, "79,228,162,514.26"),
        (2**96 - 1, 20, "79,228,162,514.26433759354395033500"),
        (-(2**256 - 1), 0, "-115,792,089,237,316,195,423,570,985,008,687,907,853,269,984,665,640,564,039,458"),
    ],
    ids=["uint256", "uint256 to 2 places", "uint96", "uint96 to 2 places", "uint96 to 20 places", "-uint256 to 0"],
)
def test_format_units_is_exact_for_any_int(units: int, places: int | None, text: str) -> None:
    assert format_units(units, 18, places) == text


@pytest.mark.parametrize(
    "owner",
    [
        "0x1234",  # cut short: read as a number, it named another account
        "0x70997970C51812dc3A010C7d01b50e0d17dc79C8f",  # a digit too many
        "0x70997970c51812dc3a010c7d01b50e0d17dc79C8",  # mixed case with a wrong checksum: a mistyped letter
        "70997970C51812dc3A010C7d01b50e0d17dc79C8zz",
    ],
)
def test_sub_account_refuses_what_is_not_an_address(owner: str) -> None:
    with pytest.raises(ValueError, match="not an address"):
        sub_account(owner, 1)


def test_sub_account_flips_the_last_byte() -> None:
    owner = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    assert sub_account(owner.lower(), 1) == "0x70997970c51812dc3a010c7D01B50E0D17Dc79c9"
    assert sub_account(owner, 0) == owner

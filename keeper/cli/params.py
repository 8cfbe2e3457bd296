"""Click parameter types for the values the commands share, so that each is checked once and a bad one gets the
same one-line answer everywhere."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource
from eth_typing import ChecksumAddress
from web3 import Web3

from keeper.client.vault import sub_account
from keeper.exceptions import ConfigError, InputError

if TYPE_CHECKING:
    from keeper.cli.context import CliContext


class AddressType(click.ParamType[ChecksumAddress]):
    """An Ethereum address: 0x and 40 hex digits, with a correct EIP-55 checksum if it is written in mixed case."""

    name = "address"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> ChecksumAddress:
        text = str(value)
        if not Web3.is_address(text):
            self.fail(f"{text!r} is not an address: write 0x and 40 hex digits", param, ctx)
        if text != text.lower() and not Web3.is_checksum_address(text):
            self.fail(f"{text} has a wrong checksum: check it, or write it in lower case", param, ctx)
        return Web3.to_checksum_address(text)


ADDRESS = AddressType()


class FiniteFloatRange(click.FloatRange):
    """click's `FloatRange`, without NaN: every comparison with NaN is false, so click's range lets it through (and
    "nan" hours became a traceback, or a run with no meaning). Infinity is outside any finite range already."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if math.isnan(number):
            self.fail(f"{value!r} is not a number: give one in the range {self._describe_range()}", param, ctx)
        return number


JSON_OPTION = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (exact decimal strings) instead of a table."
)
SUB_OPTION = click.option(
    "--sub", "sub_id", type=click.IntRange(0, 255), default=0, show_default=True, help="Sub-account id 0..255."
)


def chosen_account(
    ctx: CliContext, sub_id: int, given: ChecksumAddress | None, option: str = "--account"
) -> ChecksumAddress:
    """The account a command with --sub and an address `option` (--account) names: the address given, else the
    signer's sub-account --sub. Both given are refused: --sub would be dropped silently, and the command would act on
    (or show) another account than meant. The signer's key is asked for only when no address is given."""
    if given is None:
        return sub_account(ctx.account.address, sub_id)
    if click.get_current_context().get_parameter_source("sub_id") is not ParameterSource.DEFAULT:
        raise InputError(
            f"{option} {given} and --sub {sub_id} both name the account: give the full sub-account address with "
            f"{option}, or --sub for one of your own"
        )
    return given


SLIPPAGE_OPTION = click.option(
    "--slippage-bps",
    type=click.IntRange(1, 5000),
    default=100,
    show_default=True,
    help="With no --limit: the limit is the mark plus (buy) or minus (sell) this many bps.",
)


def check_writable_folder(folder: Path, option: str) -> None:
    """Refuses, in one line and before anything is sent or run, a `folder` (given by `option`) that cannot be made or
    written to: a file is made there and removed."""
    probe = folder / f".primevault.{os.getpid()}.probe"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"{option}: cannot write to {folder} ({exc.strerror or type(exc).__name__}): give a folder you can write to"
        ) from None

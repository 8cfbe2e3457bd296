"""Click parameter types for the values the commands share, so that each is checked once and a bad one gets the
same one-line answer everywhere."""

from __future__ import annotations

from typing import Any

import click
from eth_typing import ChecksumAddress
from web3 import Web3


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


JSON_OPTION = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (exact decimal strings) instead of a table."
)

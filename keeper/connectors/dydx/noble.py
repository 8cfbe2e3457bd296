"""Noble: the chain USDC crosses between Ethereum (CCTP, domain 4) and dYdX (IBC): its names, channels and addresses
(the messages sent there are in `noble_messages.py`).

One key holds both ends: the owner's ``dydx1...`` address and its ``noble1...`` address carry the same 20 bytes (the
seat adapter burns towards those bytes, and mainnet's CCTP mints to the Noble address).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import bech32

NOBLE_PREFIX = "noble"
DYDX_PREFIX = "dydx"
NOBLE_DENOM = "uusdc"
NOBLE_CHAIN_ID = "noble-1"
NOBLE_TO_DYDX_CHANNEL = "channel-33"
"""Noble's IBC transfer channel to dYdX on mainnet."""
DYDX_TO_NOBLE_CHANNEL = "channel-0"
"""dYdX's IBC transfer channel to Noble on mainnet."""
TRANSFER_PORT = "transfer"
ETHEREUM_DOMAIN = 0
IBC_TIMEOUT_SECONDS = 600


def encode_address(data: bytes, prefix: str) -> str:
    """The bech32 account address of 20 bytes `data` under `prefix` (``dydx1...``, ``noble1...``)."""
    return str(bech32.bech32_encode(prefix, bech32.convertbits(data, 8, 5) or []))


def _decode_address(address: str) -> tuple[str | None, bytes | None]:
    """A bech32 account address's prefix and its 20 bytes (None for the bytes if it is not one)."""
    found, words = bech32.bech32_decode(address)
    data = bech32.convertbits(words, 5, 8, False) if words is not None else None
    return found, bytes(data) if data is not None and len(data) == 20 else None


def rebech(address: str, prefix: str) -> str:
    """`address`'s 20 bytes under `prefix` (``dydx1...`` to ``noble1...`` and back); ValueError if not bech32."""
    _, data = _decode_address(address)
    if data is None:
        raise ValueError(f"{address!r} is not a bech32 account address")
    return encode_address(data, prefix)


def address_bytes(address: str, prefix: str) -> bytes | None:
    """The 20 bytes of a bech32 account address with `prefix`, or None (another prefix, or not an address)."""
    found, data = _decode_address(address)
    return data if found == prefix else None


@dataclass(frozen=True)
class NobleBurn:
    """A MsgDepositForBurn the keeper's Noble address sent: `amount` USDC towards `recipient` on Ethereum."""

    tx_hash: str
    amount: Decimal
    recipient: str  # checksummed Ethereum address (the mint recipient's last 20 bytes)
    height: int

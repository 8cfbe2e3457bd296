"""CCTP v1 messages: the layout Circle's MessageTransmitter emits (checked against the bridge contract end to end in
tests/python/seats/test_dydx_seat.py), decoded field by field, and anything else refused in one line."""

from __future__ import annotations

import pytest

from keeper.client.bridge import CctpMessage
from keeper.exceptions import InputError

RECIPIENT = "0x00000000000000000000000000000000DeaDBeef"


def test_the_fields_sit_where_circles_layout_puts_them() -> None:
    message = CctpMessage(7, 4, 0, RECIPIENT, 15_000_000_000, burn_token=b"\x11" * 32).encode()
    assert len(message) == 248
    assert message[4:8] == (4).to_bytes(4) and message[8:12] == bytes(4) and message[12:20] == (7).to_bytes(8)
    assert message[116:120] == bytes(4), "the burn message's version"
    assert message[120:152] == b"\x11" * 32
    assert message[164:184] == bytes.fromhex(RECIPIENT[2:]), "the mint recipient, left-padded to 32 bytes"
    assert int.from_bytes(message[184:216]) == 15_000_000_000
    decoded = CctpMessage.decode(message)
    assert (decoded.nonce, decoded.source_domain, decoded.destination_domain) == (7, 4, 0)
    assert (decoded.recipient, decoded.amount) == (RECIPIENT, 15_000_000_000)
    assert decoded.encode() == message


@pytest.mark.parametrize(
    "message",
    [b"", bytes(247), b"\x00\x00\x00\x01" + bytes(244), bytes(116) + b"\x00\x00\x00\x01" + bytes(128)],
    ids=["empty", "short", "message v1+", "burn message v1+"],
)
def test_another_layout_is_refused(message: bytes) -> None:
    with pytest.raises(InputError, match=rf"not a CCTP v1 message carrying a v1 burn message \({len(message)} bytes\)"):
        CctpMessage.decode(message)

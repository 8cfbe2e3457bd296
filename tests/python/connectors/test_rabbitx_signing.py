"""RBT-* request signing and the onboarding signature checked against vectors computed with RabbitX's own Python
client, and the connector's REST client producing exactly those signatures for the requests it sends."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from keeper.connectors.rabbitx.client import Credentials, RabbitXClient
from keeper.connectors.rabbitx.errors import SignatureError
from keeper.connectors.rabbitx.onboarding import (
    ONBOARDING_MESSAGE,
    SHORT_ONBOARDING_MESSAGE,
    onboarding_text,
    recover_onboarding_wallet,
    sign_onboarding,
)
from keeper.connectors.rabbitx.signing import (
    HEADER_API_KEY,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    SIGNATURE_LIFETIME,
    payload_hash,
    request_payload,
    sign,
    verify,
)

SECRET_A = "0xdeadbeef"
SECRET_B = "0x" + "11" * 32

# Computed by running rabbitx-io/rabbitx-python-client rabbitx/payload.py Payload(timestamp, data).hash / .sign(secret)
# at commit 9f98f6573a4bb383decccaaeade709f39a2fefcd (see API_NOTES.md).
VECTORS: list[tuple[str, dict[str, Any], int, str, str]] = [
    (
        SECRET_A,
        {"method": "POST", "path": "/"},
        1700000000,
        "45186220e3a43e2b402086dcf621d720d7df9d6c5faf534c2fa3bbe5dcc295c7",
        "0x572571e99bd3681fb5a6cc7b8dbe9c3a92c3215a9d65978843762b88ab42f274",
    ),
    (
        SECRET_A,
        {"method": "GET", "path": "/account"},
        1700000300,
        "f48681852a220dfa87dc0d337b3d47b8ed46199140226bf9f8b10cb4afd04875",
        "0x35da1fd9b7f398eac8b878d6517e4fe14d85143e6edcd50bab58f8d7cab7810b",
    ),
    (
        SECRET_B,
        {
            "market_id": "BTC-USD",
            "price": 19800.5,
            "side": "long",
            "size": 0.45,
            "type": "limit",
            "client_order_id": "abc-1",
            "time_in_force": "post_only",
            "method": "POST",
            "path": "/orders",
        },
        1700000300,
        "00585a5de487dff70a5c02e637f5b83cd95cc5784deae3c82b32cd8bb201a64f",
        "0xda67fbad04deb09595cfd8a59a4a19c6e80f824c7a2d4a36fa8e138898d7fd5d",
    ),
    (
        SECRET_B,
        {"order_id": "BTC-USD@1859", "market_id": "BTC-USD", "method": "DELETE", "path": "/orders"},
        1700000300,
        "7a3a32b9ef815579e7f27c785cbac51febbc992407becf84122c16d4ce444e9d",
        "0x6f981261f12138505469f40b18924c09fbf151b806cb91da1f24ff5167607ae5",
    ),
    (
        SECRET_B,
        {"refresh_token": "t", "is_client": False, "method": "POST", "path": "/jwt"},
        1700000300,
        "3cc2cf5718795cdf27e1e0610982bbe9013dde7a34db7f10e4847bc6d39cc243",
        "0x954153f4bb141d8f8193cfe7bd766d6a356b5888079d32b2e0ca852fc009adbb",
    ),
]

# rabbitx-python-client tests/test_payload.py: a signature that must NOT verify for secret 0xdeadbeef, POST /.
EVIL_SIGNATURE = "0x734ac43bf06cd3ff9a3ed58e02b1350c23abcdc05629abff6c896d5a6f63c992"

# metamask_sign(MetamaskSignRequest(ONBOARDING_MESSAGE, 1700000300), key 0x..01) with v % 27, as the client's
# OnboardingGroup._prepare_signature does it.
ONBOARDING_VECTOR = (
    "0xe8642e641df87fea9e03cbb11552f23ea217be3a63ddc1ee531a2d04daa14d8c"
    "082a7ffa461d36169370ffe865325e9e2eebbdbd6ece6ffcd37ce69fec099af301"
)
KEY_ONE = "0x" + "00" * 31 + "01"


@pytest.mark.parametrize(("secret", "data", "timestamp", "digest", "signature"), VECTORS)
def test_rabbitx_client_vectors(secret: str, data: dict[str, Any], timestamp: int, digest: str, signature: str) -> None:
    assert payload_hash(data, timestamp).hex() == digest
    assert sign(data, secret, timestamp) == signature
    verify(data, secret, timestamp, signature, now=timestamp - 300)


def test_python_client_body_rebuilds_to_the_signed_data() -> None:
    """The Python client sends json.dumps(data) (method and path included) and signs `data` itself."""
    secret, data, timestamp, _, signature = VECTORS[2]
    body = json.dumps(data)
    rebuilt = request_payload("POST", "/orders", body)
    assert sign(rebuilt, secret, timestamp) == signature


def test_evil_signature_and_stale_timestamps_are_refused() -> None:
    data = {"method": "POST", "path": "/"}
    with pytest.raises(SignatureError, match="invalid signature"):
        verify(data, SECRET_A, 1700000000, EVIL_SIGNATURE, now=1699999999)
    good = sign(data, SECRET_A, 1700000000)
    with pytest.raises(SignatureError, match="expired"):
        verify(data, SECRET_A, 1700000000, good, now=1700000000)
    with pytest.raises(SignatureError, match="more than 600s"):
        verify(data, SECRET_A, 1700000000, good, now=1700000000 - 601)


def test_onboarding_vector_recovers_to_the_wallet() -> None:
    wallet = Account.from_key(KEY_ONE).address
    assert sign_onboarding(KEY_ONE, 1700000300) == ONBOARDING_VECTOR
    assert recover_onboarding_wallet(ONBOARDING_VECTOR, 1700000300, wallet) == wallet
    go_style = Account.sign_message(
        encode_defunct(text=onboarding_text(1700000300, SHORT_ONBOARDING_MESSAGE)), private_key=KEY_ONE
    )
    assert recover_onboarding_wallet("0x" + bytes(go_style.signature).hex(), 1700000300, wallet) == wallet
    assert ONBOARDING_MESSAGE.startswith("Welcome to RabbitX!")


def test_decimal_body_signs_as_sent() -> None:
    body = '{"price": 19800.50, "size": 1e-3}'
    data = request_payload("PUT", "/orders", body)
    assert data == {"price": "19800.50", "size": "1e-3", "method": "PUT", "path": "/orders"}
    assert Decimal(data["size"]) == Decimal("0.001")


@pytest.mark.parametrize(("secret", "data", "timestamp", "digest", "signature"), VECTORS[1:4])
def test_the_connectors_requests_carry_the_rabbitx_client_signatures(
    secret: str, data: dict[str, Any], timestamp: int, digest: str, signature: str
) -> None:
    """The REST client encodes a request's Decimals and signs the text it sends; RabbitX's client signs the same
    fields as Python values: both give the vector's signature."""
    fields = {key: value for key, value in data.items() if key not in ("method", "path")}
    body = {key: Decimal(str(value)) if isinstance(value, float) else value for key, value in fields.items()}

    async def signed() -> tuple[str | None, dict[str, str]]:
        async with aiohttp.ClientSession() as session:
            client = RabbitXClient(session, "http://unused", Credentials("key-1", secret, "jwt", 1))
            return client.signed_request(data["method"], data["path"], body or None, timestamp - SIGNATURE_LIFETIME)

    text, headers = asyncio.run(signed())
    assert headers == {HEADER_API_KEY: "key-1", HEADER_TIMESTAMP: str(timestamp), HEADER_SIGNATURE: signature}
    if text is not None:
        assert json.loads(text, parse_float=Decimal) == body

"""RabbitX request signing (RBT-API-KEY / RBT-TS / RBT-SIGNATURE) as pure functions.

The scheme, as RabbitX's own clients implement it (see API_NOTES.md for sources):

1. The signed data is a flat mapping: for POST/PUT/DELETE every top-level field of the JSON body, plus
   ``method`` (the HTTP verb) and ``path`` (the URL path, no query string); for GET only ``method`` and ``path``.
2. Keys are sorted; the message is ``"k1=v1k2=v2..."`` followed by the decimal RBT-TS value. Booleans are written
   ``true``/``false``; strings as themselves; numbers as their JSON text.
3. ``payload_hash = SHA256(message)``; ``signature = "0x" + hex(HMAC_SHA256(key=bytes.fromhex(secret), payload_hash))``.
4. ``RBT-TS`` is an *expiry* time in whole UNIX seconds: the request is valid while ``now < RBT-TS``. The clients send
   ``now + 300``.

Used by the connector (signing) and by the devnet replica (verification).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping

from keeper.connectors.rabbitx.errors import SignatureError

SIGNATURE_LIFETIME = 300
"""Seconds RabbitX's clients add to the current time to form RBT-TS."""

MAX_SIGNATURE_LIFETIME = 600
"""Largest RBT-TS - now the devnet accepts (RabbitX's docs: "expires must be less than or equal to 600 seconds")."""

HEADER_API_KEY = "RBT-API-KEY"
HEADER_SIGNATURE = "RBT-SIGNATURE"
HEADER_TIMESTAMP = "RBT-TS"

SignedValue = str | int | bool | list[object]


def hex2bytes(value: str) -> bytes:
    """Hex text, with or without a 0x prefix, as bytes (RabbitX secrets are hex)."""
    if value.startswith(("0x", "0X")):
        value = value[2:]
    try:
        return bytes.fromhex(value)
    except ValueError as exc:
        raise SignatureError(f"not hex: {exc}") from None


def format_value(value: object) -> str:
    """A value as RabbitX's Python client writes it into the message (bool lower-case, lists JSON-like)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return str(value).replace("'", '"')
    return str(value)


def payload_message(data: Mapping[str, object], timestamp: int) -> str:
    """``"k1=v1k2=v2..." + str(timestamp)`` with keys sorted."""
    parts = [f"{key}={format_value(data[key])}" for key in sorted(data)]
    parts.append(str(timestamp))
    return "".join(parts)


def payload_hash(data: Mapping[str, object], timestamp: int) -> bytes:
    return hashlib.sha256(payload_message(data, timestamp).encode("utf-8")).digest()


def sign(data: Mapping[str, object], secret: str, timestamp: int) -> str:
    """The RBT-SIGNATURE value for `data` (which must contain ``method`` and ``path``) expiring at `timestamp`."""
    for key in ("method", "path"):
        if key not in data:
            raise SignatureError(f"signed data needs {key!r}")
    digest = hmac.new(hex2bytes(secret), payload_hash(data, timestamp), hashlib.sha256).hexdigest()
    return "0x" + digest


def request_payload(method: str, path: str, body: bytes | str | None) -> dict[str, str]:
    """The signed data of an HTTP request as the server rebuilds it.

    Like RabbitX's Go client (``parsePayload``): each top-level JSON field of the body of a POST/PUT/DELETE, as its
    raw JSON text with surrounding quotes trimmed, then ``method`` and ``path`` from the request itself (so a
    ``method``/``path`` field inside the body, as the Python client sends, is overridden). GET bodies are ignored.
    """
    data: dict[str, str] = {}
    method = method.upper()
    if method in ("POST", "PUT", "DELETE") and body:
        try:
            text = body.decode("utf-8") if isinstance(body, bytes) else body
        except UnicodeDecodeError:
            raise SignatureError("request body is not UTF-8 text, so not a JSON object") from None
        if text.strip():
            data.update(_raw_top_level_fields(text))
    data["method"] = method
    data["path"] = path
    return data


def sign_request(method: str, path: str, body: bytes | str | None, secret: str, timestamp: int) -> str:
    """RBT-SIGNATURE for an HTTP request whose body is exactly `body`."""
    return sign(request_payload(method, path, body), secret, timestamp)


def auth_headers(
    api_key: str,
    secret: str,
    method: str,
    path: str,
    body: bytes | str | None,
    now: int,
    lifetime: int = SIGNATURE_LIFETIME,
) -> dict[str, str]:
    """The three RBT-* headers for a request sent at UNIX second `now`."""
    timestamp = now + lifetime
    return {
        HEADER_API_KEY: api_key,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: sign_request(method, path, body, secret, timestamp),
    }


def verify(
    data: Mapping[str, object],
    secret: str,
    timestamp: int,
    signature: str,
    now: int,
    max_skew: int = MAX_SIGNATURE_LIFETIME,
) -> None:
    """Raise SignatureError unless `signature` signs `data` with `secret` and `timestamp` is live at `now`.

    Live means ``now < timestamp <= now + max_skew``: RBT-TS is an expiry, so one at or before `now` is stale, and
    one further ahead than `max_skew` seconds is refused so a leaked request cannot be replayed for long.
    """
    if timestamp <= now:
        raise SignatureError(f"signature expired: {HEADER_TIMESTAMP} {timestamp} is not after server time {now}")
    if timestamp > now + max_skew:
        raise SignatureError(
            f"{HEADER_TIMESTAMP} {timestamp} is more than {max_skew}s after server time {now}; "
            f"send an expiry of now + {SIGNATURE_LIFETIME}"
        )
    expected = sign(data, secret, timestamp)
    given = signature.lower()
    if not given.startswith("0x"):
        given = "0x" + given
    if not hmac.compare_digest(expected, given):
        raise SignatureError("invalid signature: HMAC-SHA256 over the sorted request fields does not match")


def _raw_top_level_fields(text: str) -> dict[str, str]:
    """Top-level fields of a JSON object as raw JSON text (quotes trimmed), preserving number spelling."""
    decoder = json.JSONDecoder()
    index = _skip_ws(text, 0)
    if index >= len(text) or text[index] != "{":
        raise SignatureError("request body must be a JSON object")
    fields: dict[str, str] = {}
    index = _skip_ws(text, index + 1)
    if index < len(text) and text[index] == "}":
        return fields
    while True:
        try:
            key, index = decoder.raw_decode(text, index)
        except json.JSONDecodeError as exc:
            raise SignatureError(f"request body is not valid JSON: {exc}") from None
        if not isinstance(key, str):
            raise SignatureError("request body is not valid JSON: object key is not a string")
        index = _skip_ws(text, index)
        if index >= len(text) or text[index] != ":":
            raise SignatureError("request body is not valid JSON: expected ':'")
        start = _skip_ws(text, index + 1)
        try:
            _, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError as exc:
            raise SignatureError(f"request body is not valid JSON: {exc}") from None
        fields[key] = text[start:end].strip('"')
        index = _skip_ws(text, end)
        if index < len(text) and text[index] == ",":
            index = _skip_ws(text, index + 1)
            continue
        if index < len(text) and text[index] == "}":
            return fields
        raise SignatureError("request body is not valid JSON: expected ',' or '}'")


def _skip_ws(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index

"""The HS256 JWTs the devnet issues at onboarding and checks when a WebSocket connects (the real exchange issues
its own; a connector only passes the token on)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json


class TokenError(Exception):
    """A WebSocket token that is malformed, forged or expired; the message says which."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_jwt(key: bytes, profile_id: int, expires: int) -> str:
    """An HS256 JWT with ``sub`` = profile id and ``exp`` = `expires` (UNIX seconds)."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = _b64(json.dumps({"sub": str(profile_id), "exp": expires}, separators=(",", ":")).encode())
    signature = _b64(hmac.new(key, f"{header}.{claims}".encode(), hashlib.sha256).digest())
    return f"{header}.{claims}.{signature}"


def verify_jwt(key: bytes, token: str, now: int | None) -> int:
    """The profile id of a token this key issued, live at `now` (None: expired or not, as a refresh takes it);
    TokenError otherwise."""
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("token is not a JWT")
    header, claims, signature = parts
    expected = _b64(hmac.new(key, f"{header}.{claims}".encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected, signature):
        raise TokenError("token signature is invalid")
    try:
        payload = json.loads(_unb64(claims))
        profile_id = int(payload["sub"])
        expires = int(payload["exp"])
    except (ValueError, KeyError, TypeError):
        raise TokenError("token claims are malformed") from None
    if now is not None and expires <= now:
        raise TokenError("token expired")
    return profile_id

"""Wallet onboarding (EIP-191 personal signature) and the JWTs the exchange issues for its WebSocket.

RabbitX's clients sign ``f"{message}\\n{timestamp}"`` with the wallet key as an EIP-191 personal message, where
`timestamp` is the RBT-TS expiry they also send as a header. The Python client uses the long ONBOARDING_MESSAGE and
sets the last signature byte to v % 27 (0 or 1); the Go client signs "Welcome to Rabbit DEX" and keeps v 27/28.
The devnet accepts both messages and every v.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from eth_account import Account
from eth_account.messages import encode_defunct

from keeper.devnet.rabbitx.signing import hex2bytes

ONBOARDING_MESSAGE = (
    "Welcome to RabbitX!\n\nClick to sign in and on-board your wallet for trading perpetuals.\n\n"
    "This request will not trigger a blockchain transaction or cost any gas fees. This signature only proves you "
    "are the true owner of this wallet.\n\nBy signing this message you agree to the terms and conditions of the "
    "exchange."
)
"""rabbitx-python-client rabbitx/const.py ONBOARDING_MESSAGE."""
SHORT_ONBOARDING_MESSAGE = "Welcome to Rabbit DEX"
"""rabbitx-go-client auth/auth.go ONBOARDING_MESSAGE; also what the web app asks the wallet to sign."""
ACCEPTED_MESSAGES = (ONBOARDING_MESSAGE, SHORT_ONBOARDING_MESSAGE)


class OnboardingError(Exception):
    pass


def onboarding_text(timestamp: int, message: str = ONBOARDING_MESSAGE) -> str:
    return f"{message}\n{timestamp}"


def sign_onboarding(private_key: str | bytes, timestamp: int, message: str = ONBOARDING_MESSAGE) -> str:
    """The onboarding signature as RabbitX's Python client makes it (last byte v % 27)."""
    signed = Account.sign_message(encode_defunct(text=onboarding_text(timestamp, message)), private_key=private_key)
    raw = bytearray(bytes(signed.signature))
    raw[-1] = raw[-1] % 27
    return "0x" + raw.hex()


def recover_onboarding_wallet(signature: str, timestamp: int, wallet: str) -> str:
    """The checksummed wallet if `signature` is its signature of an accepted message at `timestamp`."""
    raw = bytearray(hex2bytes(signature))
    if len(raw) != 65:
        raise OnboardingError(f"signature must be 65 bytes, got {len(raw)}")
    if raw[-1] < 27:
        raw[-1] += 27
    for message in ACCEPTED_MESSAGES:
        try:
            recovered = str(
                Account.recover_message(encode_defunct(text=onboarding_text(timestamp, message)), signature=bytes(raw))
            )
        except Exception as exc:
            raise OnboardingError(f"signature does not recover: {exc}") from None
        if recovered.lower() == wallet.lower():
            return recovered
    raise OnboardingError("signature does not recover to the wallet for the onboarding message and RBT-TS")


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


def verify_jwt(key: bytes, token: str, now: int) -> int:
    """The profile id of a live token this key issued; OnboardingError otherwise."""
    parts = token.split(".")
    if len(parts) != 3:
        raise OnboardingError("token is not a JWT")
    header, claims, signature = parts
    expected = _b64(hmac.new(key, f"{header}.{claims}".encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected, signature):
        raise OnboardingError("token signature is invalid")
    try:
        payload = json.loads(_unb64(claims))
        profile_id = int(payload["sub"])
        expires = int(payload["exp"])
    except (ValueError, KeyError, TypeError):
        raise OnboardingError("token claims are malformed") from None
    if expires <= now:
        raise OnboardingError("token expired")
    return profile_id

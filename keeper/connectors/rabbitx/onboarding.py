"""Wallet onboarding: the EIP-191 personal signature that buys an API key, secret and JWT at ``POST /onboarding``.

RabbitX's clients sign ``f"{message}\\n{timestamp}"`` with the wallet key, where `timestamp` is the RBT-TS expiry
they also send as a header. The Python client signs the long ONBOARDING_MESSAGE and sets the last signature byte to
v % 27 (0 or 1); the Go client signs "Welcome to Rabbit DEX" and keeps v 27/28. Recovery accepts both messages and
every v, as the exchange must.
"""

from __future__ import annotations

from eth_account import Account
from eth_account.messages import encode_defunct

from keeper.connectors.rabbitx.errors import OnboardingError, SignatureError
from keeper.connectors.rabbitx.signing import hex2bytes

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


def onboarding_text(timestamp: int, message: str = ONBOARDING_MESSAGE) -> str:
    return f"{message}\n{timestamp}"


def sign_onboarding(private_key: str | bytes, timestamp: int, message: str = ONBOARDING_MESSAGE) -> str:
    """The onboarding signature as RabbitX's Python client makes it (last byte v % 27)."""
    signed = Account.sign_message(encode_defunct(text=onboarding_text(timestamp, message)), private_key=private_key)
    raw = bytearray(bytes(signed.signature))
    raw[-1] = raw[-1] % 27
    return "0x" + raw.hex()


def recover_onboarding_signers(signature: str, timestamp: int) -> list[str]:
    """The checksummed addresses `signature` recovers to, one per accepted message at `timestamp`: the wallet's key
    among them if it signed. A contract wallet names a key it trusts (its `isValidSigner`), which the exchange asks."""
    try:
        raw = bytearray(hex2bytes(signature))
    except SignatureError as exc:
        raise OnboardingError(str(exc)) from None
    if len(raw) != 65:
        raise OnboardingError(f"signature must be 65 bytes, got {len(raw)}")
    if raw[-1] < 27:
        raw[-1] += 27
    try:
        return [
            str(Account.recover_message(encode_defunct(text=onboarding_text(timestamp, message)), signature=bytes(raw)))
            for message in ACCEPTED_MESSAGES
        ]
    except Exception as exc:
        raise OnboardingError(f"signature does not recover: {exc}") from None


def recover_onboarding_wallet(signature: str, timestamp: int, wallet: str) -> str:
    """The checksummed wallet if `signature` is its own key's signature of an accepted message at `timestamp`."""
    for signer in recover_onboarding_signers(signature, timestamp):
        if signer.lower() == wallet.lower():
            return signer
    raise OnboardingError("signature does not recover to the wallet for the onboarding message and RBT-TS")

"""The RabbitX connector's errors: all `RabbitXError`s, so all `PrimeVaultError`s (one line each, for the CLI)."""

from __future__ import annotations

from keeper.exceptions import PrimeVaultError


class RabbitXError(PrimeVaultError):
    """Base of every error the RabbitX connector raises."""

    answer_lost = False
    """The exchange may have acted on the request: its answer never came, or came broken (a timeout, a gateway's
    5xx, a body that cannot be read). Only a refusal it did send is known not to have happened."""


class RabbitXRequestError(RabbitXError):
    """The exchange answered a REST request with an error: `status` is the HTTP status, `error` its message."""

    def __init__(self, method: str, path: str, status: int, error: str) -> None:
        super().__init__(f"RabbitX {method} {path}: HTTP {status}: {error}")
        self.status = status
        self.error = error
        self.answer_lost = status >= 500


class RabbitXAuthError(RabbitXRequestError):
    """HTTP 401: unknown or expired API key, or a signature that is wrong or stale (check the secret and the clock)."""


class RabbitXResponseError(RabbitXError):
    """An answer from the exchange the connector cannot read (not JSON, a field missing or of the wrong kind)."""

    answer_lost = True


class RabbitXConnectionError(RabbitXError):
    """The exchange could not be reached or did not answer in time, or the WebSocket closed or failed."""

    answer_lost = True


class SignatureError(RabbitXError):
    """A request signature that cannot be made or does not verify; the message says why."""


class OnboardingError(RabbitXError):
    """A wallet onboarding signature that cannot be made or does not recover to the wallet."""


class MalformedNumberError(RabbitXError, ValueError):
    """A number that is not a finite decimal; the message names the field."""


class DuplicateClientOrderIdError(RabbitXError):
    """An order was placed with a client_order_id this account has used before."""

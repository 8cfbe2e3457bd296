"""The RabbitX connector's errors: all `RabbitXError`s, so all `PrimeVaultError`s (one line each, for the CLI)."""

from __future__ import annotations

import re

from keeper.connectors import quoted
from keeper.exceptions import PrimeVaultError

ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
CLIENT_ORDER_ID_DUPLICATE = "CLIENT_ORDER_ID_DUPLICATE"
"""Two of the error codes RabbitX documents (rabbitx-docs `api-documentation/data-structure.md`, "Error Codes"):
the connector acts on these; the others it passes on as the refusal they are."""

_CODE = re.compile(r"([A-Z][A-Z0-9_]*[A-Z0-9])(?::|$)")


class RabbitXError(PrimeVaultError):
    """Base of every error the RabbitX connector raises."""

    answer_lost = False
    """The exchange may have acted on the request: its answer never came, or came broken (a timeout, a gateway's
    5xx, a body that cannot be read). Only a refusal it did send is known not to have happened."""


class RabbitXRequestError(RabbitXError):
    """The exchange answered a REST request with an error: `status` is the HTTP status, `error` its message, `code`
    the documented error code it carries (the whole message, or its part before a colon), else ""."""

    def __init__(self, method: str, path: str, status: int, error: str) -> None:
        super().__init__(f"RabbitX {method} {path}: HTTP {status}: {quoted(error)}")
        self.status = status
        self.error = error
        match = _CODE.match(error.strip())
        self.code = match.group(1) if match else ""
        self.answer_lost = status >= 500


class RabbitXRateLimitError(RabbitXRequestError):
    """HTTP 429: the account's IP spent its request tokens (1,200 a minute, rabbitx-docs `rate-limits.md`). The
    request was not carried out, and is no refusal of what it asked: try again after `retry_after` seconds."""

    def __init__(self, method: str, path: str, error: str, retry_after: float) -> None:
        super().__init__(method, path, 429, f"{error} (retry after {retry_after:g}s)")
        self.retry_after = retry_after


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
    """An order was placed with a client_order_id this account has used before. `at_exchange`: the exchange said so
    (CLIENT_ORDER_ID_DUPLICATE), so it holds an order with it; else the connector's store refused it before sending."""

    def __init__(self, message: str, at_exchange: bool = False) -> None:
        super().__init__(message)
        self.at_exchange = at_exchange

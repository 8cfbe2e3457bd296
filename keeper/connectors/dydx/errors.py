"""The dYdX connector's errors: all `DydxError`s, so all `PrimeVaultError`s (one line each, for the CLI)."""

from __future__ import annotations

from keeper.connectors import quoted
from keeper.exceptions import PrimeVaultError


class DydxError(PrimeVaultError):
    """Base of every error the dYdX connector raises."""


class DydxConnectionError(DydxError):
    """The indexer or the validator could not be reached, or did not answer within `request_timeout`."""


class DydxRequestError(DydxError):
    """The indexer answered a REST request with an HTTP error: `status` is the HTTP status."""

    def __init__(self, path: str, status: int, body: str) -> None:
        super().__init__(f"dYdX indexer {path}: HTTP {status}: {quoted(body)}")
        self.status = status


class DydxOrderUnknownError(DydxConnectionError):
    """The validator's answer to an order's broadcast was lost (no answer within `request_timeout`, the endpoint gone
    mid-call): the order may be on chain, and fill, until its goodTilBlock (`good_til_block`), and its client id stays
    taken until then."""

    def __init__(self, message: str, good_til_block: int) -> None:
        super().__init__(message)
        self.good_til_block = good_til_block


class DydxResponseError(DydxError):
    """An answer from the indexer or the validator the connector cannot read (a field missing or malformed)."""


class DydxAccountNotFoundError(DydxError):
    """The validator knows no account for the wallet's address: it has never received funds on dYdX."""


class DydxTxRejectedError(DydxError):
    """The validator refused a transaction: at CheckTx, with the chain's `codespace` and `code` (``clob`` 10: the next
    block is past the order's goodTilBlock), or in the simulation before it (no code: the reason is the chain's
    message, such as a withdrawal while withdrawals are gated)."""

    def __init__(self, action: str, reason: str, code: int | None = None, codespace: str = "") -> None:
        where = f"{codespace} code {code}: " if code is not None else ""
        super().__init__(f"dYdX refused {action}: {where}{reason}")
        self.code = code
        self.codespace = codespace
        self.reason = reason


class UnknownMarketError(DydxError):
    """A ticker the indexer does not list as a perpetual market."""


class LimitBelowTickError(DydxError):
    """A limit price below the market's tick. The client's helper would send one full tick instead (and a zero is
    refused on chain), so such an order is refused before it is built."""


class SizeBelowStepError(DydxError):
    """An order size below the market's step. The client's helper would round it up to one step, more than asked."""


class GoodTilBlockWindowError(DydxError):
    """A goodTilBlock offset outside dYdX's short-term window: an order must live from the next block to at most
    20 blocks ahead."""


class DuplicateClientIdError(DydxError):
    """A client id already used by a live order of the subaccount (dYdX would read it as a replacement)."""


class DydxOwnerKeyMissingError(DydxError):
    """An action only the subaccount's owner may take (a withdrawal, granting or removing a key) on a connector that
    holds only a trading key: nothing was sent."""


class DydxAuthenticatorError(DydxError):
    """The trading key's authenticator is not on the owner's account (never granted, or removed)."""

"""Every exception the package raises, in one place, after web3.py's `exceptions.py`.

Each derives from `PrimeVaultError` (but `InterruptedAfterSend`, an interrupt) and renders as one line that says what
went wrong and, where it can, what to do; the CLI prints that line without a traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keeper.chain.revert import DecodedError


class PrimeVaultError(Exception):
    """Base of every error the package raises (the CLI prints it as one line, without a traceback)."""


class ConfigError(PrimeVaultError):
    """Missing or invalid configuration: RPC URL, deployment file, key."""


class InputError(PrimeVaultError):
    """A value the user gave cannot be used (unknown asset, malformed amount, bad address)."""


class NotEnoughLiquidityError(PrimeVaultError):
    """An order is larger than the venues' books can take together (within their margin and steps): the router
    refuses it rather than fill part of it or at prices it was never shown."""


class PriceUnusableError(PrimeVaultError):
    """A figure needs a price whose feed is stale or invalid on chain now: computed with it, it would be wrong (the
    contracts refuse it too). Try again once the feed updates."""


class NoVenueCanPrice(PrimeVaultError):
    """Not one venue can price an order (or show its book) now: each one's reason is in the message. One venue that
    cannot is a row with its reason in the quotes; the others still quote and route."""


class ToolNotFoundError(PrimeVaultError):
    """A tool (anvil, forge, cast, chromium) is neither on PATH nor installed from npm."""


class AnvilError(PrimeVaultError):
    """anvil did not start or answer."""


class DevnetServiceError(PrimeVaultError):
    """A local service of the devnet (the RabbitX-style exchange) did not start, or stopped."""


class TransactionReverted(PrimeVaultError):
    """A call or transaction reverted; `error` is the decoded custom error."""

    def __init__(self, action: str, error: DecodedError) -> None:
        self.action = action
        self.error = error
        super().__init__(f"{action} reverted: {error}")


class TransactionFateUnknown(PrimeVaultError):
    """A transaction was broadcast, and the node stopped answering before it was mined: it may be mined yet. Sending
    it again could do it twice; the daemon takes it as the node being away (`__cause__` is the connection error)."""

    def __init__(self, action: str, tx_hash: str, nonce: int) -> None:
        self.action = action
        self.tx_hash = tx_hash
        self.nonce = nonce
        super().__init__(
            f"{action}: sent as {tx_hash} (nonce {nonce}); the node stopped answering before it was mined: check it "
            f"(on a block explorer, or `cast receipt {tx_hash}`) before sending again"
        )


class LensDecodeError(PrimeVaultError):
    """The lens's returndata does not have the layout the keeper decodes (a lens changed without the keeper, or a node
    returning something else): nothing of the page is used."""


class DryRun(PrimeVaultError):
    """The sender is in dry-run mode: the transaction was simulated and would have been sent."""


class MissingRoleError(ConfigError):
    """The keeper's key lacks a role one of its enabled jobs needs (said at start, in one line)."""


class KeyInUseError(ConfigError):
    """Another process sends with the keeper's key from the same data_dir (it holds the key's lock file there): two
    would take the same nonces and send what the other sent. Said at start, in one line naming that process."""


class PriceHistoryError(PrimeVaultError):
    """The keeper's price history cannot be opened, read or written (its directory read-only, the disk full): said in
    one line that names the file and what SQLite answered."""


class MissingExtraError(ConfigError):
    """A command needs an optional part of the package whose dependencies are not installed."""


class InterruptedAfterSend(KeyboardInterrupt):
    """Ctrl-C (SIGINT) came while transactions were being handed to the node or awaited: they may be mined yet. A
    `KeyboardInterrupt`, not a `PrimeVaultError`, so that no `except Exception` takes it for a failure and carries on;
    the CLI says which transactions were out, where it said only "Aborted!" and the user sent them again."""

    def __init__(self, action: str, sent: list[tuple[str, int]]) -> None:
        self.action = action
        self.sent = sent
        listed = ", ".join(f"{tx_hash} (nonce {nonce})" for tx_hash, nonce in sent)
        super().__init__(
            f"{action}: interrupted after it was sent as {listed}; it may be mined yet: check it (on a block "
            f"explorer, or `cast receipt {sent[-1][0]}`) before sending again"
        )


class TransactionFateUnclear(TransactionFateUnknown):
    """A transaction was handed to the node, and what came after does not say whether it is mined (an unreadable or
    refused answer, no receipt within the timeout, a node that keeps losing it): it may be mined. Sending it again
    could do it twice."""

    def __init__(self, action: str, tx_hash: str, nonce: int, what: str) -> None:
        self.action = action
        self.tx_hash = tx_hash
        self.nonce = nonce
        PrimeVaultError.__init__(
            self,
            f"{action}: sent as {tx_hash} (nonce {nonce}), but its fate is unknown: {what}: check it (on a block "
            f"explorer, or `cast receipt {tx_hash}`) before sending again",
        )

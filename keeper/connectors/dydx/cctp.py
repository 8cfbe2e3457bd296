"""Circle's attestation service, as the keeper reads it to bring USDC withdrawn from dYdX back to Ethereum: USDC leaves
dYdX through Noble's CCTP burn, and the message that mints it on Ethereum is paid there only with Circle's attestation.

``GET {base_url}/v1/messages/{sourceDomain}/{transactionHash}`` answers ``{"messages": [{"message": "0x...",
"attestation": "0x..." or "PENDING", "eventNonce": "..."}]}``, or 404 while Circle has not seen the transaction.
Mainnet's is ``https://iris-api.circle.com``; the devnet replica serves the same route beside its indexer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from keeper.connectors import quoted
from keeper.connectors.dydx.errors import DydxConnectionError, DydxRequestError, DydxResponseError

HTTP_NOT_FOUND = 404
NOBLE_DOMAIN = 4
"""CCTP's domain for Noble, through which USDC leaves dYdX."""


@dataclass(frozen=True)
class AttestedMessage:
    message: bytes
    attestation: bytes | None
    """None while Circle's attestation is pending."""


class CctpAttestations:
    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    async def messages(self, source_domain: int, tx_hash: str) -> list[AttestedMessage]:
        """The CCTP messages transaction `tx_hash` sent from `source_domain`; empty while Circle has not seen it."""
        path = f"/v1/messages/{source_domain}/{tx_hash}"
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                answer = await client.get(self.base_url + path)
        except httpx.HTTPError as error:
            raise DydxConnectionError(f"attestation service {path}: {error!r}") from None
        if answer.status_code == HTTP_NOT_FOUND:
            return []
        if answer.status_code != httpx.codes.OK:
            raise DydxRequestError(path, answer.status_code, answer.text)
        try:
            return [_message(row) for row in answer.json()["messages"]]
        except (KeyError, TypeError, ValueError, RecursionError) as error:
            raise DydxResponseError(f"attestation service {path} answered {quoted(answer.text)!r}: {error}") from None


def _message(row: Any) -> AttestedMessage:
    attestation = str(row["attestation"])
    return AttestedMessage(
        bytes.fromhex(str(row["message"]).removeprefix("0x")),
        None if attestation == "PENDING" else bytes.fromhex(attestation.removeprefix("0x")),
    )

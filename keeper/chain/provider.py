"""JSON-RPC connection for long-running processes: retries with backoff and rotation over several
endpoints for reads, and never a blind retry of `eth_sendRawTransaction`. A node that stops answering is said once,
and once again when it answers: the retries in between are debug lines."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests
from eth_typing import URI
from web3 import HTTPProvider, Web3
from web3.providers.rpc.utils import REQUEST_RETRY_ALLOWLIST
from web3.types import RPCEndpoint, RPCResponse

log = logging.getLogger(__name__)
T = TypeVar("T")

NODE_AWAY = (requests.ConnectionError, requests.Timeout)
"""What a request to a node that is gone or too slow raises (after the provider's retries, for a read)."""

# web3.py's default allowlist includes eth_sendRawTransaction; a keeper must decide itself whether a send
# that may have reached the node is sent again (see `Sender`), so it is taken out here.
RETRYABLE_METHODS = frozenset(m for m in REQUEST_RETRY_ALLOWLIST if m != "eth_sendRawTransaction") | {
    "eth_call",
    "eth_estimateGas",
    "eth_getTransactionReceipt",
    "eth_getTransactionByHash",
    "eth_maxPriorityFeePerGas",
    "eth_feeHistory",
    "evm_snapshot",
}


class RotatingHTTPProvider(HTTPProvider):
    """An HTTP provider over several endpoints: a read that fails to connect moves to the next endpoint and
    is retried with exponential backoff, up to `retries` times in all. The first failure of a spell without answers
    is a warning and the first answer after it an info line; a daemon that checks the node every cycle would
    otherwise log every retry of every check for as long as the node is away."""

    def __init__(self, urls: Sequence[str], timeout: float = 10.0, retries: int = 6, backoff: float = 0.25) -> None:
        if not urls:
            raise ValueError("at least one RPC URL is needed")
        self.urls = list(urls)
        self._current = 0
        self.retries = retries
        self.backoff = backoff
        self._chain_id: RPCResponse | None = None
        self._unanswered_since: float | None = None  # monotonic time of the spell's first failure; None: it answers
        self._spell_lock = threading.Lock()  # every thread's requests share the spell, said once
        super().__init__(self.urls[0], request_kwargs={"timeout": timeout}, exception_retry_configuration=None)

    def probe_chain_id(self) -> int:
        """The chain id from one request to the current endpoint, without retries: for waiting on a node at
        start, where the caller decides how long to keep trying."""
        response = HTTPProvider.make_request(self, RPCEndpoint("eth_chainId"), [])
        if "result" not in response:
            raise ValueError(f"eth_chainId failed: {response.get('error')}")
        self._chain_id = response
        return int(str(response["result"]), 16)

    def fresh_chain_id(self) -> int:
        """The chain id asked of the node now, past the cache: a node can be replaced behind the same URL."""
        response = self._request_with_retries(RPCEndpoint("eth_chainId"), [])
        if "result" not in response:
            raise ValueError(f"eth_chainId failed: {response.get('error')}")
        self._chain_id = response
        return int(str(response["result"]), 16)

    @property
    def current_url(self) -> str:
        return self.urls[self._current]

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        # web3.py asks for the chain id around every call: it is asked once (this halves the requests of a scan),
        # and the keeper checks it past the cache with `fresh_chain_id` once per cycle.
        if method == "eth_chainId" and self._chain_id is not None:
            return self._chain_id
        response = self._request_with_retries(method, params)
        if method == "eth_chainId" and "result" in response:
            self._chain_id = response
        return response

    def _request_with_retries(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        return self._retrying(
            method, method in RETRYABLE_METHODS, lambda: HTTPProvider.make_request(self, method, params)
        )

    def make_batch_request(self, batch_requests: list[tuple[RPCEndpoint, Any]]) -> list[RPCResponse] | RPCResponse:
        """Several requests in one HTTP request (a JSON-RPC batch), retried and rotated like a single read when
        every request in it is a read. A node that does not take batches answers with one error object."""
        retryable = all(method in RETRYABLE_METHODS for method, _ in batch_requests)
        return self._retrying(
            RPCEndpoint("batch"), retryable, lambda: HTTPProvider.make_batch_request(self, batch_requests)
        )

    def _retrying(self, label: str, retryable: bool, send: Callable[[], T]) -> T:
        attempt = 0
        while True:
            try:
                answer = send()
            except NODE_AWAY as exc:
                self._say_unanswered(label, exc)
                if not retryable or attempt >= self.retries:
                    raise
                delay = self.backoff * 2**attempt
                attempt += 1
                self._rotate()
                log.debug(
                    "rpc %s failed (%s); retry %d on %s in %.2fs",
                    label,
                    type(exc).__name__,
                    attempt,
                    shown_url(self.current_url),
                    delay,
                )
                time.sleep(delay)
            else:
                if self._unanswered_since is not None:  # read without the lock: the common case costs nothing
                    self._say_answered()
                return answer

    def _say_unanswered(self, label: str, exc: BaseException) -> None:
        """The first failure of a spell, said once whichever thread meets it."""
        with self._spell_lock:
            if self._unanswered_since is not None:
                return
            self._unanswered_since = time.monotonic()
        log.warning(
            "rpc %s failed: the node at %s does not answer (%s); retrying, said again once it answers",
            label,
            shown_url(self.current_url),
            type(exc).__name__,
        )

    def _say_answered(self) -> None:
        with self._spell_lock:
            since, self._unanswered_since = self._unanswered_since, None
        if since is not None:
            log.info(
                "the node at %s answers again, after %.1fs without an answer",
                shown_url(self.current_url),
                time.monotonic() - since,
            )

    def _rotate(self) -> None:
        if len(self.urls) > 1:
            self._current = (self._current + 1) % len(self.urls)
            self.endpoint_uri = URI(self.urls[self._current])


def shown_url(url: str) -> str:
    """`url` as the keeper's log shows it: scheme, host and port. A user:password, a path and a query, where providers
    put their keys (Alchemy's /v2/KEY, Infura's /v3/KEY, ?apikey=), are *** (the log is kept, and shipped)."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:  # no URL at all: nothing of it is shown
        return "the RPC"
    host = parts.hostname or ""
    netloc = ("***@" if parts.username is not None else "") + (f"[{host}]" if ":" in host else host) + port
    path = "/***" if parts.path.strip("/") or parts.query else parts.path
    return urlunsplit((parts.scheme, netloc, path, "", ""))


def connect(urls: Sequence[str], timeout: float = 10.0) -> Web3:
    """A Web3 over `urls` with read retries and rotation; `timeout` is each request's, in seconds."""
    return Web3(RotatingHTTPProvider(urls, timeout))


def node_away(provider: object, exc: BaseException) -> str:
    """The sentence that says a node does not answer (`exc` is one of `NODE_AWAY`): the same wherever it is said."""
    url = shown_url(provider.current_url) if isinstance(provider, RotatingHTTPProvider) else "the RPC"
    return f"the node at {url} does not answer ({type(exc).__name__})"

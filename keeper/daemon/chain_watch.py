"""What the keeper checks about its node, before starting and before each cycle: that it answers, that it is the
chain the deployment is on, that the vault is there, and whether the head went back (a restarted or reorged
node), in which case the keeper scans again at once."""

from __future__ import annotations

import json
import logging
import re
import time
import traceback
from dataclasses import dataclass

import requests
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import BadResponseFormat

from keeper.chain.deployment import Deployment
from keeper.chain.provider import NODE_AWAY, RotatingHTTPProvider, node_away, shown_url
from keeper.exceptions import ConfigError

log = logging.getLogger("primevault.keeper")


# What web3 raises when the node's answer is not JSON-RPC: not JSON at all (an HTML page, a truncated body, bytes that
# are not text, JSON nested deeper than the parser recurses), JSON without a result or an error, or a result of the
# wrong kind (a null where eth_call's data was due: a TypeError from web3's result formatters; `garbled_request` tells
# it, and a RecursionError, from one of the keeper's own).
NODE_GARBLED = (json.JSONDecodeError, UnicodeDecodeError, BadResponseFormat, TypeError, RecursionError)
_RPC_METHOD = re.compile(r"[a-z0-9]+_[A-Za-z0-9]+")


def garbled_request(exc: BaseException) -> str | None:
    """The JSON-RPC method whose answer from the node was not JSON-RPC, when `exc` (one of `NODE_GARBLED`) was raised
    decoding a node's answer ("a request" when the method cannot be told); None when `exc` was raised elsewhere (a
    JSON file of the keeper's own, say), which is not the node's fault."""
    if not isinstance(exc, NODE_GARBLED):
        return None
    from_node = isinstance(exc, BadResponseFormat)
    method = None
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        name = frame.f_code.co_name
        # A TypeError counts only from formatting the node's result: one in making the request (params that do not
        # encode) is the keeper's own.
        if name in ("decode_rpc_response", "make_request", "make_batch_request", "_request_with_retries"):
            from_node = from_node or not isinstance(exc, TypeError)
        if name == "apply_result_formatters":  # raised formatting the result the node sent
            from_node = True
        for candidate in (frame.f_locals.get("method"), frame.f_locals.get("method_str")):
            if method is None and isinstance(candidate, str) and _RPC_METHOD.fullmatch(candidate):
                method = candidate
    if not from_node:
        return None
    return method or "a request"


def request_method(exc: BaseException) -> str:
    """The JSON-RPC method being asked when `exc` was raised, found in its traceback ("a request" when it cannot be
    told, as in a batch)."""
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        candidate = frame.f_locals.get("method")
        if isinstance(candidate, str) and _RPC_METHOD.fullmatch(candidate):
            return candidate
    return "a request"


def node_url(w3: Web3) -> str:
    provider = w3.provider
    if isinstance(provider, RotatingHTTPProvider):
        return shown_url(provider.current_url)
    return shown_url(str(getattr(provider, "endpoint_uri", "the RPC")))


@dataclass(frozen=True)
class Head:
    number: int
    hash: HexBytes


def wait_for_node(w3: Web3, urls: tuple[str, ...], timeout: float, interval: float = 1.0) -> int:
    """The node's chain id once it answers; a node that does not answer within `timeout` seconds (down, slower than
    the read timeout, or a URL that answers but is no JSON-RPC node) stops the keeper with one line. Each failed try
    is one log line. With a `timeout` of 0 (one-shot commands) there is one try: a dead node fails at once."""
    deadline = time.monotonic() + timeout
    provider = w3.provider
    while True:
        try:
            if isinstance(provider, RotatingHTTPProvider):
                return provider.probe_chain_id()
            return int(w3.eth.chain_id)
        except (requests.ConnectionError, requests.Timeout, requests.HTTPError, ValueError, RecursionError) as exc:
            if time.monotonic() >= deadline:
                raise ConfigError(_no_node(urls, timeout, exc)) from None
            reason = type(exc).__name__
            log.warning("waiting for the RPC at %s (%s); trying again in %.0fs", shown_url(urls[0]), reason, interval)
            time.sleep(interval)


def _no_node(urls: tuple[str, ...], timeout: float, exc: Exception) -> str:
    """Why the node at `urls` cannot be used, in one line with what to do."""
    where = ", ".join(shown_url(url) for url in urls)
    waited = f" (tried for {timeout:.0f}s)" if timeout > 0 else ""
    if isinstance(exc, requests.HTTPError):
        status = exc.response.status_code if exc.response is not None else "an error"
        return (
            f"{where} answered HTTP {status} but is not a JSON-RPC node{waited}: point rpc_urls (or --rpc-url) at "
            "the node's JSON-RPC endpoint"
        )
    if isinstance(exc, (ValueError, RecursionError)) and not isinstance(exc, requests.RequestException):
        return (
            f"{where} answered eth_chainId with something other than a chain id{waited} ({type(exc).__name__}): "
            "is it a JSON-RPC node? check rpc_urls (or --rpc-url)"
        )
    if timeout > 0:
        return (
            f"the RPC at {where} did not answer within {timeout:.0f}s ({type(exc).__name__}): check rpc_urls "
            "(or --rpc-url) and that the node is up"
        )
    return (
        f"the RPC at {where} does not answer ({type(exc).__name__}): check rpc_urls (or --rpc-url) and that the node "
        "is up"
    )


def garbled_words(w3: Web3, method: str, exc: BaseException) -> str:
    """A node answering garbage, in words: which request, and what web3 made of the answer."""
    return f"the node at {node_url(w3)} answers {method} with something that is not JSON-RPC ({type(exc).__name__})"


def _garbled(w3: Web3, exc: Exception, method: str) -> str:
    """The watch's problem for a garbled answer to its own check; an error raised elsewhere is not the node's."""
    if garbled_request(exc) is None:
        raise exc
    return garbled_words(w3, method, exc)


class ChainWatch:
    """Checks the node each cycle and says what is wrong once, then stays quiet until it changes."""

    def __init__(self, w3: Web3, deployment: Deployment) -> None:
        self.w3 = w3
        self.deployment = deployment
        self.problem: str | None = None
        self._last_head: Head | None = None

    def check_at_start(self, chain_id: int) -> None:
        """A node on another chain, or without the vault's code, stops the keeper with one line."""
        if chain_id != self.deployment.chain_id:
            raise ConfigError(
                f"the RPC is chain {chain_id} but the deployment is on chain {self.deployment.chain_id}: "
                "point rpc_urls at the deployment's chain or use its deployment file"
            )
        if not self.w3.eth.get_code(self.deployment.vault):
            raise ConfigError(
                f"no contract at the vault address {self.deployment.vault}: the chain was reset or the "
                "deployment file is from another node; redeploy or use the right deployment file"
            )

    def problem_now(self) -> str | None:
        """What makes it wrong to act on this node now (wrong chain, no vault), or None. Logged when it starts
        and when it ends, not on every cycle."""
        problem = self._find_problem()
        if problem != self.problem:
            if problem is None:
                log.info("the node is right again: %s resolved", self.problem)
            else:
                log.error("not acting on this node: %s", problem)
            self.problem = problem
        return problem

    def _find_problem(self) -> str | None:
        provider = self.w3.provider
        try:
            chain_id = (
                provider.fresh_chain_id() if isinstance(provider, RotatingHTTPProvider) else int(self.w3.eth.chain_id)
            )
        except NODE_AWAY as exc:
            # A node that went away is a problem like a wrong one: one line when it starts and one when it ends,
            # /healthz says why, and the cycle waits for the node rather than failing with a traceback each time.
            return node_away(provider, exc)
        except requests.HTTPError as exc:  # the URL answers, but something other than a node does (a proxy's 502)
            status = exc.response.status_code if exc.response is not None else "an error"
            return f"the RPC answers HTTP {status}, not JSON-RPC"
        except NODE_GARBLED as exc:
            return _garbled(self.w3, exc, "eth_chainId")
        if chain_id != self.deployment.chain_id:
            return f"the RPC is now chain {chain_id}, not the deployment's chain {self.deployment.chain_id}"
        try:
            code = self.w3.eth.get_code(self.deployment.vault)
        except NODE_GARBLED as exc:
            return _garbled(self.w3, exc, "eth_getCode")
        if not code:
            return f"no contract at the vault address {self.deployment.vault} (a reset chain?)"
        return None

    def new_head(self) -> Head | None:
        """The latest block if it is one the keeper has not scanned: a higher number, or the same or a lower
        number with another hash (the node restarted from older state, or reorged), which is logged."""
        block = self.w3.eth.get_block("latest")
        head = Head(int(block["number"]), HexBytes(block["hash"]))
        last = self._last_head
        if last is not None and head == last:
            return None
        if last is not None and head.number <= last.number:
            log.warning(
                "the chain head went back from block %d to %d (node restarted or reorged): scanning again",
                last.number,
                head.number,
            )
        self._last_head = head
        return head

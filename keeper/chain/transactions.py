"""Simulate, sign, send and confirm transactions, reporting any revert as a decoded custom error.

For a process that runs for days: EIP-1559 fees under a cap, a nonce manager that survives restarts (and keeps a
second process off the same key and nonce file), a wait at start for what an earlier run left in the node's pool, a
stuck transaction replaced with the same nonce at a higher fee (or, when a lower nonce holds it back, that one
replaced by a transfer to itself), receipts with timeouts, and no blind resend (a signed transaction is only ever
sent again byte for byte, which cannot double-spend its nonce).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import requests
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError
from web3.types import Nonce, RPCEndpoint, TxParams, TxReceipt, Wei

from keeper.chain.revert import ErrorDecoder, revert_data
from keeper.exceptions import (
    ConfigError,
    DryRun,
    InterruptedAfterSend,
    KeyInUseError,
    PrimeVaultError,
    TransactionFateUnclear,
    TransactionFateUnknown,
    TransactionReverted,
)
from keeper.state_files import set_aside

log = logging.getLogger(__name__)

# Added to every gas estimate: a fixed part for the storage that interest and funding accrual write in the
# mined block but not in the estimate, and a proportional part for state that moves in between (an account
# tipping into bad debt costs more to liquidate). Nodes pack blocks by gas limit, so a margin is block space.
GAS_MARGIN_PERCENT = 110
GAS_MARGIN_FIXED = 100_000
# A replacement must pay at least 10% more to be accepted by nodes; auction-keeper escalates by 12.5%.
FEE_BUMP_PERCENT = 125
# How often a transaction waiting for its receipt is looked up in the node's pool.
POOL_CHECK_SECONDS = 1.0
NODE_SILENT_SECONDS = 5.0
"""How long a receipt is waited for while the node answers nothing at all: past it, the wait ends as the node's
absence (`TransactionFateUnknown`, naming what was sent; a job that sent says the node is away, once), rather than
as a transaction not mined after the whole receipt timeout. What was sent is mined when the node is back, or its nonce
is replaced as stuck."""
MAX_RESENDS_AFTER_DROP = 3
"""How many times a transaction the node no longer holds (and gives no receipt for) is sent again as it is before
its wait ends as `TransactionFateUnknown`: a node that answers no receipt for a mined transaction (a lagging replica
behind a load balancer, a broken proxy) would otherwise have it sent again every second until the receipt timeout."""
RECEIPT_AFTER_NONCE_USED_SECONDS = 2.0
"""How long the receipts of what was sent at a nonce are polled again once the chain says the nonce is used, before
the wait ends as `TransactionFateUnclear`: a transaction mined between the last receipt poll and that nonce read (one
round trip) has its receipt, and a replica behind a load balancer may give it a moment after the count."""
EARLIER_SENDS_CHECK_SECONDS = 0.25
"""How often, at start, the chain is asked whether the transactions an earlier run left in the node's pool are mined."""


@dataclass(frozen=True)
class EncodedCall:
    """A call whose calldata the caller encoded itself: for hot paths where web3's contract layer (which validates
    and checksums every argument, again for each use) costs more than the call; a 300-account liquidation batch
    takes about 60 ms to encode through it and 3 ms with eth_abi."""

    to: ChecksumAddress
    data: bytes


Call = ContractFunction | EncodedCall


@dataclass(frozen=True)
class SentTransaction:
    """One signed transaction this sender broadcast (a replacement shares its nonce)."""

    tx_hash: str
    nonce: int
    max_fee_per_gas: int


DEFAULT_MAX_FEE_GWEI = 500
"""The fee cap, in gwei a gas, of the keeper (`max_fee_gwei`) and of every command: the fees are the node's figures,
and a node asking a tip of a million gwei a gas (a wrong or hostile RPC URL) had a deposit pay it."""


@dataclass
class FeePolicy:
    """EIP-1559 fees: max fee = base fee x multiplier + priority fee, never above `max_fee_cap`."""

    max_fee_cap: int | None = None  # wei per gas
    base_fee_multiplier: int = 2
    replace_after: float = 30.0  # seconds without a receipt before the same nonce is sent at a higher fee
    receipt_timeout: float = 120.0


class NonceManager:
    """Next nonce for one key: the larger of the chain's pending count and the last one this key used,
    kept in a file so a restart never reuses a nonce of a transaction still in flight. Another instance
    runs with another key, so nonces never collide between instances; a second process with the same key and file is
    refused at start (`Sender` holds the key's lock file beside it), since neither would know the other's nonces."""

    def __init__(self, w3: Web3, address: ChecksumAddress, state_file: Path | None = None) -> None:
        self.w3 = w3
        self.address = address
        self.state_file = state_file
        self._last_used: int | None = self._load()
        self._writing = threading.Lock()  # a replacement's wait records its nonce beside the other threads' sends

    def next(self) -> int:
        pending = self.w3.eth.get_transaction_count(self.address, "pending")
        if self._last_used is None or pending > self._last_used:
            return pending
        # The chain may forget a transaction (a reorg, a restarted node) that this key did send: in that
        # case the chain's count wins, since nothing at or above it is pending any more.
        latest = self.w3.eth.get_transaction_count(self.address, "latest")
        return pending if pending <= latest else self._last_used + 1

    def stuck_below(self, nonce: int) -> int | None:
        """The lowest nonce of this key not mined yet, if it is below `nonce`: the transaction there (left by an
        earlier run, or given up on) holds back every one after it, whatever their fees."""
        latest = self.w3.eth.get_transaction_count(self.address, "latest")
        return latest if latest < nonce else None

    def used(self, nonce: int) -> None:
        with self._writing:
            # A replacement of a lower nonce, sent while a later one is in flight, leaves the later one the last used.
            last = self._last_used = nonce if self._last_used is None else max(nonce, self._last_used)
            if self.state_file is not None:
                # Written whole and renamed into place: a keeper killed mid-write leaves the previous file, not half.
                self.state_file.parent.mkdir(parents=True, exist_ok=True)
                partial = self.state_file.with_name(self.state_file.name + ".partial")
                partial.write_text(json.dumps({"address": self.address, "last_used": last}))
                partial.replace(self.state_file)

    def _load(self) -> int | None:
        if self.state_file is None or not self.state_file.is_file():
            return None
        try:
            data = json.loads(self.state_file.read_text())
            return int(data["last_used"]) if data.get("address") == self.address else None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            # Without the file the chain's pending count decides, which is right unless a transaction of this
            # key is in flight and forgotten by the node: rare enough to go on, loudly.
            aside = set_aside(self.state_file)
            log.warning(
                "nonce file %s is unreadable (%r): moved to %s, using the chain's count", self.state_file, exc, aside
            )
            return None


_held_locks: dict[Path, IO[str]] = {}
"""The key lock files this process holds, open (so locked) until it exits, by path: a sender made again in the same
process (a restart in a test, a one-shot command beside the daemon's wiring) shares the lock it already holds."""
_held_locks_guard = threading.Lock()


def hold_key_lock(lock_file: Path, address: str) -> None:
    """Locks `lock_file` (an exclusive `flock`) for the rest of this process's life and writes who holds it there. A
    lock held by another process is a `KeyInUseError` naming it: two processes sending with one key from one nonce file
    each take nonces the other does not know of, and each sends again what the other sent. The kernel releases the
    lock when its holder dies (even by kill -9), so the file left behind never keeps a restart out."""
    with _held_locks_guard:
        if lock_file.absolute() in _held_locks:
            return
        try:
            lock_file.parent.mkdir(parents=True, exist_ok=True)
            handle = lock_file.open("a+")  # not truncated: on refusal, it names the holder
        except OSError as exc:
            raise ConfigError(
                f"cannot open the key's lock file {lock_file} ({exc.strerror or type(exc).__name__}): give a data_dir "
                "the keeper can write to"
            ) from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = _lock_holder(handle.read())
            handle.close()
            raise KeyInUseError(
                f"{holder} already sends with key {address} from {lock_file.parent} (it holds {lock_file.name}): stop "
                "it, or give this one another key or data_dir"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": int(time.time())}))
        handle.flush()
        _held_locks[lock_file.absolute()] = handle


def _lock_holder(text: str) -> str:
    """The process a key lock file names, in words; a file written by no holder yet (or cut short) names none."""
    try:
        holder = json.loads(text)
        return f"process {int(holder['pid'])} on {holder['host']}"
    except (ValueError, KeyError, TypeError):
        return "another process"


class Sender:
    """Sends transactions from one local key: one at a time, or several with consecutive nonces at once, from any
    number of threads. Nonces are taken and broadcast under a lock; receipts are awaited outside it, so that one
    job's wait for its block never holds back another job's transaction (a liquidation behind a margin top-up).

    Every transaction is simulated first (by its gas estimate), so a revert is reported with its decoded custom
    error before anything is signed; a transaction that still reverts on chain is replayed at its block to
    recover the reason.

    With a nonce file (a daemon's), it holds the key's lock file beside it for the rest of the process's life (a second
    process on that key and file is refused: `hold_key_lock`), and at start waits for whatever the node's pool holds
    of the key (`_wait_for_earlier_sends`), so that a restart does not send again what the run before it sent.
    """

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount,
        decoder: ErrorDecoder,
        *,
        fees: FeePolicy | None = None,
        nonce_file: Path | None = None,
        dry_run: bool = False,
    ) -> None:
        self.w3 = w3
        self.account = account
        self.decoder = decoder
        self.fees = fees or FeePolicy()
        self.dry_run = dry_run
        if nonce_file is not None:  # before the file is read: another process may be writing it
            hold_key_lock(nonce_file.with_suffix(".lock"), account.address)
        self.nonces = NonceManager(w3, account.address, nonce_file)
        self.sent: list[SentTransaction] = []
        self._chain_id = w3.eth.chain_id
        # The zero-value transfer replacing a nonce that holds this key back, kept so that each try pays more.
        self._filler: TxParams | None = None
        self._said_capped: int | None = None  # the stuck nonce the fee cap was last reported for, said once
        self._lock = threading.Lock()
        # Nonces broadcast by this process whose receipts a thread still awaits: that thread replaces its own if it
        # sticks, so no other one may replace it as a stuck lower nonce.
        self._awaiting: set[int] = set()
        self._awaiting_lock = threading.Lock()  # the set changes outside `_lock`, as each wait ends
        if nonce_file is not None and not dry_run:
            self._wait_for_earlier_sends()

    @property
    def address(self) -> ChecksumAddress:
        return self.account.address

    def _wait_for_earlier_sends(self) -> None:
        """At start, before anything is scanned or sent: whatever the node's pool holds of this key, this process did
        not send (a run killed while it waited, or another process with this key). Its work, found again by a scan
        before it is mined, would be sent again under the next nonce (a liquidation twice, the second paying to skip
        every account), so it is waited for, up to `replace_after`: past that this sender replaces its own
        transactions as stuck, and the first send's wait replaces one of these that holds this key back."""
        latest = self.w3.eth.get_transaction_count(self.address, "latest")
        pending = self.w3.eth.get_transaction_count(self.address, "pending")
        if pending <= latest:
            return
        log.warning(
            "%d transaction(s) of %s (nonces %d to %d) are pending in the node's pool, not sent by this process (an "
            "earlier run's, or another process's with this key): waiting up to %.0fs for them to be mined before "
            "sending, so that their work is not sent twice",
            pending - latest,
            self.address,
            latest,
            pending - 1,
            self.fees.replace_after,
        )
        deadline = time.monotonic() + self.fees.replace_after
        while (latest := self.w3.eth.get_transaction_count(self.address, "latest")) < pending:
            if time.monotonic() >= deadline:
                log.warning(
                    "nonces %d to %d of %s still not mined after %.0fs: sending anyway (one that holds this key back "
                    "is replaced as stuck)",
                    latest,
                    pending - 1,
                    self.address,
                    self.fees.replace_after,
                )
                return
            time.sleep(EARLIER_SENDS_CHECK_SECONDS)
        log.info("the transactions of %s left in the node's pool are mined; sending", self.address)

    def call(self, action: str, fn: Call, gas: int | None = None) -> Any:
        """Runs `fn` as an `eth_call` from this sender (within `gas`, if given); raises `TransactionReverted` on a
        revert. Returns the decoded result, or the raw returndata of an `EncodedCall`."""
        params: TxParams = {"from": self.address}
        if gas is not None:
            params["gas"] = gas
        try:
            if isinstance(fn, EncodedCall):
                return self.w3.eth.call({**params, "to": fn.to, "data": HexBytes(fn.data)})
            return fn.call(params)
        except (ContractLogicError, Web3RPCError) as exc:
            raise self._reverted(action, exc) from None

    def transact(self, action: str, fn: ContractFunction, gas: int | None = None) -> TxReceipt:
        """Simulates, then sends `fn` and waits for its receipt. In dry-run mode raises `DryRun` instead of
        sending."""
        tx = self._prepare(action, fn, gas, self._fee_fields())
        if self.dry_run:
            raise DryRun(f"dry run: {action} simulated, not sent")
        receipt = self._send(action, tx)
        if receipt["status"] != 1:
            raise self._replay(action, tx, receipt)
        return receipt

    def transact_all(
        self, action: str, fns: Sequence[Call], gas: Sequence[int | None] | None = None
    ) -> list[TxReceipt | TransactionReverted]:
        """Sends each call as soon as it is simulated, without waiting for the ones before it to be mined
        (consecutive nonces, so that they can share a block), then waits for each in nonce order, replacing
        a stuck one as `transact` does. Returns, in order, each receipt or the decoded revert of a call that
        failed in simulation (not sent) or on chain. In dry-run mode simulates them all, then raises
        `DryRun`.

        `gas` gives each call a limit the caller expects it to fit (its own measurement; None: no guess): the call
        is simulated once at that limit and sent with it, and estimated as usual only if it does not fit. An
        estimate searches for the limit by running the call many times, which for a 10,000,000-gas liquidation
        batch costs the node seconds. Encoded calls with a limit are simulated together first, in one batch
        request (`_fitting`)."""
        results: list[TxReceipt | TransactionReverted | None] = [None] * len(fns)
        in_flight: list[tuple[int, TxParams, list[HexBytes]]] = []
        try:
            with self._lock:
                fees = self._fee_fields()  # one quote for the whole set: they are meant for the same blocks
                fitting = self._fitting(fns, gas)
                for i, fn in enumerate(fns):
                    try:
                        limit = None if gas is None else gas[i]
                        if i in fitting and isinstance(fn, EncodedCall) and limit is not None:
                            tx = self._within(fn, limit, fees)
                        elif limit is None:
                            tx = self._prepare(action, fn, None, fees)
                        else:
                            tx = self._prepare_within(action, fn, limit, fees)
                    except TransactionReverted as exc:
                        results[i] = exc
                        continue
                    if not self.dry_run:
                        # After the set's first broadcast, the next nonce is the one after it: the node took it and
                        # the lock keeps every other sender of this key out, so the chain need not be asked again.
                        following = int(in_flight[-1][1]["nonce"]) + 1 if in_flight else None
                        in_flight.append((i, tx, [self._first_broadcast(action, tx, following)]))
                if self.dry_run:
                    reverts = sum(r is not None for r in results)
                    raise DryRun(f"dry run: {len(fns)} x {action} simulated ({reverts} would revert), not sent")
            for k, (i, tx, hashes) in enumerate(in_flight):
                try:
                    receipt = self._await(action, tx, hashes)
                except InterruptedAfterSend:  # the set's later transactions are out too
                    later = [("0x" + h[-1].hex(), int(t["nonce"])) for _, t, h in in_flight[k:]]
                    raise InterruptedAfterSend(action, later) from None
                results[i] = receipt if receipt["status"] == 1 else self._replay(action, tx, receipt)
        finally:
            # A set cut short (a failed broadcast, a wait that timed out) leaves no nonce marked as awaited: one that
            # sticks is then replaced like any other stuck nonce of this key.
            with self._awaiting_lock:
                self._awaiting.difference_update(int(tx["nonce"]) for _, tx, _ in in_flight)
        return [r for r in results if r is not None]  # every slot is filled by now

    def deploy(self, action: str, constructor: ContractConstructor) -> ChecksumAddress:
        """Deploys a contract and returns its address."""
        tx = constructor.build_transaction({"from": self.address, "chainId": self._chain_id, **self._fee_fields()})
        receipt = self._send(action, tx)
        address = receipt["contractAddress"]
        if receipt["status"] != 1 or address is None:
            raise PrimeVaultError(f"{action}: deployment failed in transaction {receipt['transactionHash'].hex()}")
        return address

    # ------------------------------------------------------------------ sending

    def _fitting(self, fns: Sequence[Call], gas: Sequence[int | None] | None) -> set[int]:
        """The indexes of the encoded calls with a gas limit that run within it, all simulated in one JSON-RPC batch
        request, so that the node's time is one wait instead of one a call (the calls of one set touch different
        accounts: none depends on another being mined). Empty where the provider or the node takes no batches or
        there is one call; a call not found fitting goes through `_prepare_within`, which reports its revert."""
        if gas is None:
            return set()
        chosen = [
            (i, fn, limit)
            for i, (fn, limit) in enumerate(zip(fns, gas, strict=True))
            if isinstance(fn, EncodedCall) and limit is not None
        ]
        batch = getattr(self.w3.provider, "make_batch_request", None)
        if batch is None or len(chosen) < 2:
            return set()
        requests = [
            (
                RPCEndpoint("eth_call"),
                [{"from": self.address, "to": fn.to, "data": "0x" + fn.data.hex(), "gas": hex(limit)}, "latest"],
            )
            for _, fn, limit in chosen
        ]
        try:
            responses = batch(requests)
        except NotImplementedError:
            return set()
        if not isinstance(responses, list):
            return set()
        return {i for (i, _, _), response in zip(chosen, responses, strict=True) if "error" not in response}

    def _within(self, fn: EncodedCall, limit: int, fees: TxParams) -> TxParams:
        """The transaction of an encoded call already simulated within `limit`."""
        params: TxParams = {"from": self.address, "chainId": self._chain_id, **fees}
        return {**params, "to": fn.to, "data": HexBytes(fn.data), "gas": limit}

    def _prepare(self, action: str, fn: Call, gas: int | None, fees: TxParams) -> TxParams:
        """Simulates `fn` and builds its transaction: the gas estimate is the simulation (a revert comes back
        decoded from it), with a margin; a given gas limit skips the estimate, so `eth_call` simulates."""
        params: TxParams = {"from": self.address, "chainId": self._chain_id, **fees}
        if gas is not None:
            self.call(action, fn, gas)
            params["gas"] = gas
        try:
            if isinstance(fn, EncodedCall):
                tx: TxParams = {**params, "to": fn.to, "data": HexBytes(fn.data)}
                if gas is None:
                    tx["gas"] = self.w3.eth.estimate_gas(tx)
            else:
                tx = fn.build_transaction(params)
        except (ContractLogicError, Web3RPCError) as exc:
            raise self._reverted(action, exc) from None
        if gas is None:  # unused gas is not charged; the margin only reserves block space
            tx["gas"] = tx["gas"] * GAS_MARGIN_PERCENT // 100 + GAS_MARGIN_FIXED
        return tx

    def _prepare_within(self, action: str, fn: Call, limit: int, fees: TxParams) -> TxParams:
        """`_prepare` at `limit` if `fn` runs within it (one `eth_call` at that limit), else with an estimate, which
        reports the revert if `fn` fails at any limit. Any failure at the limit sends it to the estimate: running out
        of gas inside a call can surface as that call's revert (OpenZeppelin's `Address` says `FailedCall()` for a
        delegatecall that ran out), not only as a revert without data."""
        try:
            return self._prepare(action, fn, limit, fees)
        except (TransactionReverted, ContractLogicError, Web3RPCError):
            return self._prepare(action, fn, None, fees)

    def _send(self, action: str, tx: TxParams) -> TxReceipt:
        with self._lock:
            tx_hash = self._first_broadcast(action, tx)
        return self._await(action, tx, [tx_hash])

    def _first_broadcast(self, action: str, tx: TxParams, nonce: int | None = None) -> HexBytes:
        """Broadcasts `tx` at the next nonce (or `nonce`); the caller holds the lock and then awaits it. The next
        nonce is past every one this process still awaits: a transaction the node dropped from its pool lowers the
        chain's pending count, but its wait sends it again."""
        if nonce is None:
            nonce = self.nonces.next()
            with self._awaiting_lock:
                nonce = max(nonce, max(self._awaiting, default=-1) + 1)
        tx["nonce"] = Nonce(nonce)
        tx_hash = self._broadcast(action, tx, first=True)
        with self._awaiting_lock:
            self._awaiting.add(nonce)
        return tx_hash

    def _await(self, action: str, tx: TxParams, hashes: list[HexBytes]) -> TxReceipt:
        """Waits for `tx` (already broadcast as `hashes`): sends it again as it is if the node drops it, and
        replaces it at a higher fee each time it goes `replace_after` seconds without being mined, unless a lower
        nonce of this key is not mined either (left by a keeper killed while it waited below a base fee that has since
        risen): that one is replaced instead, since nothing after it can be mined first. The node gone meanwhile
        (silent for `NODE_SILENT_SECONDS`, or a request that fails past its retries) raises `TransactionFateUnknown`
        naming the transaction: it may still be mined, so whoever sent it must not simply send it again."""
        try:
            return self._await_or_replace(action, tx, hashes)
        except TransactionFateUnknown:
            raise
        except KeyboardInterrupt:
            raise InterruptedAfterSend(action, [("0x" + hashes[-1].hex(), int(tx["nonce"]))]) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransactionFateUnknown(action, "0x" + hashes[-1].hex(), int(tx["nonce"])) from exc
        except Exception as exc:
            # Once signed bytes were handed to the node, nothing that goes wrong after is a plain failure: a user told
            # "failed" runs the command again and does the action twice while the first one is mined.
            raise TransactionFateUnclear(
                action, "0x" + hashes[-1].hex(), int(tx["nonce"]), f"then {_unreadable(exc)}"
            ) from exc
        finally:
            with self._awaiting_lock:
                self._awaiting.discard(int(tx["nonce"]))

    def _await_or_replace(self, action: str, tx: TxParams, hashes: list[HexBytes]) -> TxReceipt:
        deadline = time.monotonic() + self.fees.receipt_timeout
        replace_at = time.monotonic() + self.fees.replace_after
        resends = 0
        while True:
            receipt = self._wait_any(hashes, min(replace_at, deadline) - time.monotonic())
            if receipt is not None:
                return receipt
            now = time.monotonic()
            if now >= deadline:
                raise TransactionFateUnclear(
                    action,
                    "0x" + hashes[-1].hex(),
                    int(tx["nonce"]),
                    f"not mined within {self.fees.receipt_timeout:.0f}s (sent {len(hashes)} times)",
                )
            if self._nonce_used(int(tx["nonce"])):
                # Mined since the last receipt poll (this one, or a replacement of it), or by a transaction this
                # process did not send: the receipts of what it sent at the nonce decide, polled once more.
                receipt = self._wait_any(hashes, RECEIPT_AFTER_NONCE_USED_SECONDS)
                if receipt is not None:
                    return receipt
                raise TransactionFateUnclear(
                    action,
                    "0x" + hashes[-1].hex(),
                    int(tx["nonce"]),
                    f"nonce {tx['nonce']} is used on chain, but the node gives no receipt for it",
                )
            if now < replace_at and resends >= MAX_RESENDS_AFTER_DROP:
                raise TransactionFateUnclear(
                    action,
                    "0x" + hashes[-1].hex(),
                    int(tx["nonce"]),
                    f"the node lost it and gave no receipt {resends + 1} times (it may be mined)",
                )
            if now < replace_at:
                # Same fees, same signed bytes: a load-balanced endpoint that merely has not seen it yet
                # answers "already known", and fees never climb because of a lookup.
                resends += 1
                log.warning(
                    "%s: nonce %d was dropped from the node's pool; sending it again (%d of %d)",
                    action,
                    tx["nonce"],
                    resends,
                    MAX_RESENDS_AFTER_DROP,
                )
            elif (stuck := self._stuck_below(int(tx["nonce"]))) is not None:
                replace_at = now + self.fees.replace_after
                self._replace_stuck(action, stuck)
                continue
            elif self._bump_fees(tx):
                replace_at = now + self.fees.replace_after
                log.warning("%s: nonce %d not mined; replacing at %d wei", action, tx["nonce"], tx["maxFeePerGas"])
            else:
                replace_at = now + self.fees.replace_after
                log.warning("%s: stuck at the fee cap; sending it again", action)
            hashes.append(self._broadcast(action, tx))

    def _nonce_used(self, nonce: int) -> bool:
        """Whether a transaction of this key at `nonce` is mined (this one, or one that replaced it)."""
        return int(self.w3.eth.get_transaction_count(self.address, "latest")) > nonce

    def _stuck_below(self, nonce: int) -> int | None:
        """The lowest nonce of this key not mined yet, if it is below `nonce` and no thread of this process awaits
        it (a transaction it sent is replaced by its own wait, at a higher fee)."""
        stuck = self.nonces.stuck_below(nonce)
        with self._awaiting_lock:
            return None if stuck is None or stuck in self._awaiting else stuck

    def _replace_stuck(self, action: str, nonce: int) -> None:
        """Replaces whatever holds `nonce` (a transaction this process does not know, or gave up on) with a zero-value
        transfer to itself, at the current quote with the priority fee 25% up: the stuck transaction's max fee is
        below the base fee, so the quote beats it, and nodes want both fees raised. Each further try (refused as
        underpriced, or not mined either) pays 25% more, within the cap; past the cap it says so once."""
        with self._lock:  # one filler per stuck nonce, whichever thread finds it first
            filler = self._filler
            if filler is None or filler["nonce"] != nonce:
                fees = self._fee_fields()
                tip = int(fees["maxPriorityFeePerGas"]) * FEE_BUMP_PERCENT // 100 + 1
                fees["maxPriorityFeePerGas"] = Wei(min(tip, int(fees["maxFeePerGas"])))
                filler = {
                    "from": self.address,
                    "to": self.address,
                    "value": Wei(0),
                    "gas": 21_000,
                    "nonce": Nonce(nonce),
                }
                self._filler = filler = {**filler, "chainId": self._chain_id, **fees}
                raised = True
            else:
                raised = self._bump_fees(filler)  # at the cap the same bytes go again: a node may have lost them
            base_fee = int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0)
            if int(filler["maxFeePerGas"]) < base_fee:
                self._say_capped(action, nonce, base_fee)
                return
            log.warning(
                "%s: nonce %d holds this key's transactions back; replacing it with a transfer to itself at %d wei",
                action,
                nonce,
                filler["maxFeePerGas"],
            )
            try:
                self._broadcast(action, filler)
            except Web3RPCError as exc:
                if "underpriced" not in str(exc).lower():
                    raise
                if not raised:
                    self._say_capped(action, nonce, base_fee)
                else:
                    log.warning("%s: the node wants more to replace nonce %d; raising it next time", action, nonce)

    def _say_capped(self, action: str, nonce: int, base_fee: int) -> None:
        """One line for an operator, not one each `replace_after`: only a higher `max_fee_gwei` or a lower base fee
        gets this key's transactions mined."""
        if self._said_capped != nonce:
            self._said_capped = nonce
            log.error(
                "%s: nonce %d holds this key's transactions back and replacing it takes more than max_fee_gwei "
                "(%.2f gwei; the base fee is %.2f gwei): waiting for the base fee to fall",
                action,
                nonce,
                (self.fees.max_fee_cap or 0) / 1e9,
                base_fee / 1e9,
            )

    def _broadcast(self, action: str, tx: TxParams, first: bool = False) -> HexBytes:
        """Sends `tx` signed, records its nonce as used and returns its hash. `first`: nothing was sent at this nonce
        before, so an HTTP 4xx answer (a provider's rate limit, a refused key, a body too large) is a refusal: raised,
        with nothing recorded. Any other unreadable answer may come after the node took it: the receipt poll decides."""
        signed = self.account.sign_transaction(tx)  # type: ignore[arg-type]
        tx_hash = HexBytes(signed.hash)
        try:
            self.w3.eth.send_raw_transaction(signed.raw_transaction)
        except KeyboardInterrupt:
            # The bytes may have reached the node before the interrupt: the hash is what to look for.
            raise InterruptedAfterSend(action, [("0x" + tx_hash.hex(), int(tx["nonce"]))]) from None
        except (requests.ConnectionError, requests.Timeout):
            # The node may have received it. Sending these same bytes again cannot spend the nonce twice,
            # so after a pause they go out once more; nothing is ever re-signed with a new nonce.
            log.warning("%s: connection lost while sending 0x%s; resending the same transaction", action, tx_hash.hex())
            time.sleep(1.0)
            # Whether it landed is for the receipt poll to decide.
            with contextlib.suppress(requests.ConnectionError, requests.Timeout, Web3RPCError):
                self.w3.eth.send_raw_transaction(signed.raw_transaction)
        except Web3RPCError as exc:
            # The node holds these bytes already (geth says "already known", anvil "already imported"), or their
            # nonce is used: nothing more to send, the receipt poll decides.
            message = str(exc).lower()
            if not any(known in message for known in ("already known", "already imported", "nonce too low")):
                raise
        except Exception as exc:  # an HTTP error page, an answer that is not JSON, a null result: the node got it
            if first and (status := _client_error_status(exc)) is not None:
                # A 4xx is the provider's answer before any node took the bytes (429 rate limited, 401/403 a key it
                # refuses, 413 too large): nothing is out, so nothing is waited for or sent again.
                raise PrimeVaultError(
                    f"{action}: not sent: the RPC endpoint refused the transaction with HTTP {status}"
                    f"{_CLIENT_ERROR_HINTS.get(status, '')}; nothing was broadcast, so it is safe to send again"
                ) from exc
            # The bytes were handed over and their hash is known here: the receipt poll decides whether it landed.
            log.warning(
                "%s: sent 0x%s, but the node %s; waiting for its receipt", action, tx_hash.hex(), _unreadable(exc)
            )
        try:
            self.nonces.used(int(tx["nonce"]))
        except OSError as exc:
            # The transaction is out: failing here would report it unsent and abandon its wait, while it is mined.
            log.error(
                "%s: sent as 0x%s with nonce %d, but the nonce file %s could not be written (%s): a restart before "
                "it is written again may reuse nonce %d; make data_dir writable",
                action,
                tx_hash.hex(),
                tx["nonce"],
                self.nonces.state_file,
                exc.strerror or type(exc).__name__,
                tx["nonce"],
            )
        self.sent.append(SentTransaction("0x" + tx_hash.hex(), int(tx["nonce"]), int(tx["maxFeePerGas"])))
        return tx_hash

    def _wait_any(self, hashes: list[HexBytes], seconds: float) -> TxReceipt | None:
        """The receipt of whichever of `hashes` is mined; None after `seconds`, or as soon as the node no
        longer holds the newest of them (dropped from its pool: anvil does so with a transaction that did not
        fit a block, a busy node evicts cheap ones), so that it is sent again without waiting it out. Raises the
        node's absence once it has answered nothing for `NODE_SILENT_SECONDS` (`_await` names the sent transaction)."""
        end = time.monotonic() + max(seconds, 0.0)
        next_pool_check = time.monotonic() + POOL_CHECK_SECONDS
        answered_at = time.monotonic()
        while True:
            for tx_hash in reversed(hashes):
                try:
                    receipt = self.w3.eth.get_transaction_receipt(tx_hash)
                except TransactionNotFound:
                    answered_at = time.monotonic()
                    continue
                except Exception:  # no answer, or one that is no receipt (an error page, not JSON, a refusal)
                    if time.monotonic() - answered_at >= NODE_SILENT_SECONDS:
                        raise
                    continue
                if receipt is not None:
                    return receipt
                answered_at = time.monotonic()
            now = time.monotonic()
            if now >= end:
                return None
            if now >= next_pool_check:
                next_pool_check = now + POOL_CHECK_SECONDS
                if self._dropped(hashes[-1]):
                    return None
            time.sleep(0.05)

    def _dropped(self, tx_hash: HexBytes) -> bool:
        try:
            self.w3.eth.get_transaction(tx_hash)
        except TransactionNotFound:
            return True
        except Exception:  # no answer, or an unreadable one: unknown, keep waiting
            pass
        return False

    def _fee_fields(self) -> TxParams:
        """EIP-1559 fees at the latest block (given to `build_transaction`, so web3 does not ask again)."""
        base_fee = int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0)
        priority = int(self.w3.eth.max_priority_fee)
        max_fee = base_fee * self.fees.base_fee_multiplier + priority
        if self.fees.max_fee_cap is not None:
            max_fee = min(max_fee, self.fees.max_fee_cap)
            priority = min(priority, max_fee)
        return {"maxFeePerGas": Wei(max_fee), "maxPriorityFeePerGas": Wei(priority)}

    def _bump_fees(self, tx: TxParams) -> bool:
        max_fee = int(tx["maxFeePerGas"]) * FEE_BUMP_PERCENT // 100 + 1
        priority = int(tx["maxPriorityFeePerGas"]) * FEE_BUMP_PERCENT // 100 + 1
        if self.fees.max_fee_cap is not None and max_fee > self.fees.max_fee_cap:
            return False
        tx["maxFeePerGas"], tx["maxPriorityFeePerGas"] = Wei(max_fee), Wei(min(priority, max_fee))
        return True

    # ------------------------------------------------------------------ reverts

    def _replay(self, action: str, tx: TxParams, receipt: TxReceipt) -> TransactionReverted:
        call: TxParams = {"from": self.address, "to": tx["to"], "data": tx["data"]}
        try:
            self.w3.eth.call(call, block_identifier=receipt["blockNumber"])
        except (ContractLogicError, Web3RPCError) as exc:
            return self._reverted(action, exc)
        return TransactionReverted(action, self.decoder.decode(b""))

    def _reverted(self, action: str, exc: Exception) -> TransactionReverted:
        data = revert_data(exc)
        if data is None:
            raise exc
        return TransactionReverted(action, self.decoder.decode(data))


_CLIENT_ERROR_HINTS = {
    401: " (unauthorized: check the RPC URL's API key)",
    403: " (forbidden: check the RPC URL's API key and its allowed methods)",
    413: " (request too large for the provider)",
    429: " (rate limited by the provider)",
}


def _client_error_status(exc: BaseException) -> int | None:
    """The status of an HTTP 4xx answer (the endpoint refused the request: it went no further), else None."""
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        status = int(exc.response.status_code)
        return status if 400 <= status < 500 else None
    return None


def _unreadable(exc: BaseException) -> str:
    """What a node's failed answer was, in words, for a line that names a transaction already handed to it."""
    if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
        return f"stopped answering ({type(exc).__name__})"
    if isinstance(exc, requests.HTTPError):
        status = exc.response.status_code if exc.response is not None else "an error"
        return f"answered HTTP {status}"
    if isinstance(exc, Web3RPCError):
        return f"refused a request ({exc.message or exc})"
    return f"gave an answer that could not be read ({type(exc).__name__})"

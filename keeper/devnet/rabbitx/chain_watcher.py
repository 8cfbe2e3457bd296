"""The devnet exchange's chain side: credits deposits made on its custody contract and marks paid withdrawals.

RabbitX credits an on-chain ``deposit(amount)`` once it has enough confirmations; this watcher does the same for
the devnet. It reads the custody contract's logs (``contracts/devnet/venues/RabbitXCustody.sol``, whose events are
RabbitX's own):

- ``Deposit(uint256 indexed id, address indexed trader, uint256 amount)``: credited with
  `RabbitXDevnet.credit_deposit(trader, amount, str(id))`, idempotent by id, so a block read twice (a restart, an
  overlapping range) credits nothing twice;
- ``WithdrawalReceipt(uint256 indexed id, address indexed trader, uint256 amount)``: the withdrawal is marked paid
  (`withdrawal_claimed(id, txhash)`, status ``success`` in ``GET /balanceops``).

A log in block ``b`` is read once the chain's head is at least ``b + confirmations - 1`` (``confirmations = 1``: as
soon as it is mined). A reorganisation deeper than that is not undone: pick enough confirmations for the chain.
The events are decoded from their topics, without an ABI, so the watcher reads RabbitX's own contract as well.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from eth_abi.abi import decode as abi_decode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.types import FilterParams, LogReceipt

log = logging.getLogger(__name__)

DEPOSIT_TOPIC = HexBytes(keccak(text="Deposit(uint256,address,uint256)"))
WITHDRAWAL_RECEIPT_TOPIC = HexBytes(keccak(text="WithdrawalReceipt(uint256,address,uint256)"))


class ExchangeLedger(Protocol):
    """What the watcher calls on the exchange (`RabbitXDevnet` has both)."""

    def credit_deposit(self, trader: str, amount: int, deposit_id: str) -> bool: ...

    def withdrawal_claimed(self, withdrawal_id: int, txhash: str = "") -> bool: ...


@dataclass(frozen=True)
class ChainWatchConfig:
    rpc_url: str
    custody_address: str
    confirmations: int = 3
    """A log in block b counts once the head is at b + confirmations - 1 (1: as soon as it is mined)."""
    poll_interval: float = 1.0
    """Seconds between reads of the chain."""
    from_block: int = 0
    """First block to read (the custody contract's deployment block, or 0)."""
    max_block_range: int = 2000
    """Most blocks read by one eth_getLogs (nodes refuse larger ranges)."""

    def __post_init__(self) -> None:
        if self.confirmations < 1:
            raise ValueError(f"confirmations must be at least 1, got {self.confirmations}")
        if self.from_block < 0 or self.max_block_range < 1 or self.poll_interval <= 0:
            raise ValueError("from_block must be >= 0, max_block_range >= 1 and poll_interval > 0")


@dataclass(frozen=True)
class CustodyEvent:
    """One `Deposit` or `WithdrawalReceipt` log."""

    kind: str
    """"deposit" or "withdrawal"."""
    id: int
    trader: str
    amount: int
    block_number: int
    tx_hash: str
    log_index: int

    @classmethod
    def from_log(cls, entry: LogReceipt) -> CustodyEvent:
        topics = entry["topics"]
        kind = "deposit" if HexBytes(topics[0]) == DEPOSIT_TOPIC else "withdrawal"
        (event_id,) = abi_decode(["uint256"], HexBytes(topics[1]))
        (trader,) = abi_decode(["address"], HexBytes(topics[2]))
        (amount,) = abi_decode(["uint256"], HexBytes(entry["data"]))
        return cls(
            kind=kind,
            id=int(event_id),
            trader=to_checksum_address(trader),
            amount=int(amount),
            block_number=int(entry["blockNumber"]),
            tx_hash="0x" + HexBytes(entry["transactionHash"]).hex().removeprefix("0x"),
            log_index=int(entry["logIndex"]),
        )


class ChainWatcher:
    """Reads the custody contract's logs up to the confirmed head and passes them to the exchange, in order."""

    def __init__(self, ledger: ExchangeLedger, config: ChainWatchConfig, w3: AsyncWeb3[Any] | None = None) -> None:
        self.ledger = ledger
        self.config = config
        self.address = to_checksum_address(config.custody_address)
        self.w3: AsyncWeb3[Any] = w3 or AsyncWeb3(AsyncHTTPProvider(config.rpc_url))
        self.next_block = config.from_block
        """The first block not read yet."""

    async def confirmed_head(self) -> int:
        """The newest block whose logs have `confirmations` confirmations (-1 if none has yet)."""
        return int(await self.w3.eth.block_number) - self.config.confirmations + 1

    async def poll(self) -> list[CustodyEvent]:
        """Read every confirmed block not read yet and apply its events; returns the events that changed the
        exchange (a deposit credited, a withdrawal marked paid), not those it had seen."""
        applied: list[CustodyEvent] = []
        last = await self.confirmed_head()
        while self.next_block <= last:
            to_block = min(last, self.next_block + self.config.max_block_range - 1)
            params: FilterParams = {
                "address": self.address,
                "fromBlock": self.next_block,
                "toBlock": to_block,
                "topics": [[DEPOSIT_TOPIC, WITHDRAWAL_RECEIPT_TOPIC]],
            }
            entries = await self.w3.eth.get_logs(params)
            for entry in sorted(entries, key=lambda e: (e["blockNumber"], e["logIndex"])):
                event = CustodyEvent.from_log(entry)
                if self._apply(event):
                    applied.append(event)
            self.next_block = to_block + 1
        return applied

    def _apply(self, event: CustodyEvent) -> bool:
        try:
            if event.kind == "deposit":
                credited = self.ledger.credit_deposit(event.trader, event.amount, str(event.id))
                if credited:
                    log.info(
                        "deposit %d: %d units credited to %s (%s)", event.id, event.amount, event.trader, event.tx_hash
                    )
                return credited
            return self.ledger.withdrawal_claimed(event.id, event.tx_hash)
        except Exception as exc:
            # One event the exchange refuses (a deposit id it credited with another amount, as after the chain was
            # reset under a running exchange; a withdrawal another exchange instance signed) must not stop the rest.
            log.error("%s %d in %s not applied: %s", event.kind, event.id, event.tx_hash, exc)
            return False

    async def run(self) -> None:
        """Poll until cancelled; an unreachable node is logged and retried."""
        while True:
            try:
                await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("chain watcher: reading %s failed: %s", self.config.rpc_url, exc)
            await asyncio.sleep(self.config.poll_interval)

    async def close(self) -> None:
        await self.w3.provider.disconnect()

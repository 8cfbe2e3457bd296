"""The vault's and the trading module's logs that change an account's balances or positions, read for a range of
blocks in one `eth_getLogs` (or several, where the node limits the range of one): which accounts to read again,
instead of reading every account every block."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import Web3RPCError

from keeper.chain.artifacts import load_artifact

# Event -> its indexed arguments that name an account whose balances, positions or margin rule it changed. Everything
# else an account's health depends on (prices, haircuts, margins, funding, interest indexes) is read every block.
ACCOUNT_ARGUMENTS: Mapping[str, tuple[str, ...]] = {
    "Deposit": ("account",),
    "Withdraw": ("account",),
    "Repay": ("account",),
    "SubAccountTransfer": ("from", "to"),
    "Settled": ("account",),
    "Fill": ("account",),
    "PositionAbsorbed": ("account",),
    "Liquidated": ("account",),
    "LiquidatorRewarded": ("caller",),  # the reward is credited to the caller's own account
    "PortfolioModeSet": ("account",),  # the rule it is judged by: the lens's page carries the mode
}
# Events that tie an order id to its account: an asynchronous venue's `ChildFilled` names only the order, and
# a fill that settles nothing (no fee, no realized PnL) emits no `Settled`.
ORDER_ACCOUNT_EVENTS = ("OrderSubmitted", "OrderRouted")
FILLED_ORDER_EVENT = "ChildFilled"
MAX_LOG_QUERIES = 10  # `eth_getLogs` requests one range may take, refused ones included


class LogsUnavailable(Exception):
    """The logs of a range of blocks could not be read in `max_queries` requests: the node refuses even one block's,
    or limits ranges to fewer blocks than that many requests cover."""


@dataclass
class AccountTouches:
    """What a range of blocks did to accounts."""

    accounts: set[ChecksumAddress] = field(default_factory=set)
    order_accounts: dict[int, ChecksumAddress] = field(default_factory=dict)  # orders submitted or routed
    filled_orders: set[int] = field(default_factory=set)  # orders with a child filled
    removed: bool = False  # a log the node reports as removed: the chain reorganised under the range
    passed_on: list[Any] = field(default_factory=list)  # the logs of `also` topics, for their own reader


@dataclass(frozen=True)
class _Topic:
    name: str
    positions: tuple[int, ...]  # topic indexes (1-3) of the arguments that matter


class AccountEventsClient:
    def __init__(self, w3: Web3, addresses: Sequence[str], also: Sequence[bytes] = ()) -> None:
        """`also`: further event topics (of any of `addresses`) to read in the same call and pass on untouched."""
        self.w3 = w3
        # The most blocks one `eth_getLogs` is asked for: None until the node refuses a range, then the size that it
        # took (halved from the one it refused until it took one); the follower clears it at each full load.
        self.max_range: int | None = None
        self.addresses = [Web3.to_checksum_address(a) for a in addresses]
        self._also = frozenset(also)
        self._topics: dict[bytes, _Topic] = {}
        wanted = {**ACCOUNT_ARGUMENTS, **{e: ("account",) for e in ORDER_ACCOUNT_EVENTS}, FILLED_ORDER_EVENT: ()}
        for item in load_artifact("TradingModule").abi:  # it declares every event the vault and it emit
            if item["type"] != "event" or item["name"] not in wanted:
                continue
            indexed = [i["name"] for i in item["inputs"] if i["indexed"]]
            args = ("orderId",) if item["name"] == FILLED_ORDER_EVENT else wanted[item["name"]]
            signature = f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"  # no tuple arguments here
            self._topics[bytes(Web3.keccak(text=signature))] = _Topic(
                item["name"], tuple(indexed.index(a) + 1 for a in args)
            )

    def touches(self, from_block: int, to_block: int, max_queries: int = MAX_LOG_QUERIES) -> AccountTouches:
        """The accounts and orders the logs of blocks `from_block` to `to_block` (inclusive) touched: in one
        `eth_getLogs`, or in ranges of `max_range` blocks once the node refused a longer one. A refused range is
        halved and asked for again; `LogsUnavailable` when a one-block range is refused or the blocks left need more
        than `max_queries` requests in all."""
        found = AccountTouches()
        start, queries = from_block, 0
        while start <= to_block:
            left = to_block - start + 1
            size = min(left, self.max_range or left)
            if queries + (needed := -(-left // size)) > max_queries:
                raise LogsUnavailable(
                    f"{left} blocks' logs take {needed} requests of at most {size} blocks, "
                    f"{max_queries - queries} allowed"
                )
            queries += 1
            try:
                logs = self._logs(start, start + size - 1)
            except Web3RPCError as exc:  # the node refused the range (too many blocks, or too many logs)
                if size == 1:
                    raise LogsUnavailable(f"the node refused the logs of block {start}: {exc}") from exc
                self.max_range = size // 2
                continue
            for log in logs:
                found.removed |= bool(log.get("removed", False))
                self._read(log, found)
            start += size
        return found

    def _logs(self, from_block: int, to_block: int) -> Sequence[Any]:
        return self.w3.eth.get_logs(
            {
                "fromBlock": from_block,
                "toBlock": to_block,
                "address": self.addresses,
                "topics": [[HexBytes(t) for t in (*self._topics, *self._also)]],
            }
        )

    def _read(self, log: Any, found: AccountTouches) -> None:
        topics = [bytes(t) for t in log["topics"]]
        if topics[0] in self._also:
            found.passed_on.append(log)
            return
        topic = self._topics.get(topics[0])
        if topic is None:
            return
        if topic.name == FILLED_ORDER_EVENT:
            found.filled_orders.add(int.from_bytes(topics[topic.positions[0]]))
        elif topic.name in ORDER_ACCOUNT_EVENTS:
            found.order_accounts[int.from_bytes(topics[1])] = _address(topics[topic.positions[0]])
        else:
            found.accounts.update(_address(topics[p]) for p in topic.positions)


def _address(topic: bytes) -> ChecksumAddress:
    return Web3.to_checksum_address(topic[12:])

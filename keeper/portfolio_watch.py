"""Which accounts are in portfolio mode, and the rule that margins them, followed from the chain's events.

The vault's account records carry the mode, but the lens pages do not (they are the standard rule's inputs), so
the keeper follows `PortfolioModeSet` instead: the follower passes these logs on from its own `eth_getLogs` of each
block (`record`), and a watch used alone reads them itself (`at`). The rule's parameters are read once and again
only after one of its governance events. A reorganisation is not tracked here: the follower reloads everything after
one, and a scan builds a fresh watch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from web3 import Web3

from keeper.client.clients import Clients
from keeper.client.portfolio import PortfolioMarginClient
from keeper.risk.portfolio import Layout, PortfolioParams

MODE_SET = bytes(Web3.keccak(text="PortfolioModeSet(address,bool)"))
GOVERNANCE = tuple(
    bytes(Web3.keccak(text=signature))
    for signature in (
        "UnderlyingSet(uint8,string,(uint16,uint16,uint16,uint16,uint16,uint16,uint16,uint16,uint16,uint8))",
        "ShockUpdated(uint8,uint16,uint16)",
        "AssetMapped(address,uint8)",
        "MarketMapped(uint8,uint8)",
        "RuleSet(uint16,uint16)",
    )
)


@dataclass(frozen=True)
class PortfolioBook:
    """The accounts in portfolio mode at a block and the rule's parameters there."""

    accounts: frozenset[ChecksumAddress]
    params: PortfolioParams
    layout: Layout


class PortfolioWatch:
    def __init__(self, clients: Clients) -> None:
        self.rule = PortfolioMarginClient(clients.w3, clients.deployment)
        self.w3 = clients.w3
        self.vault = clients.deployment.vault
        self._next_block = clients.deployment.block
        self._accounts: set[ChecksumAddress] = set()
        self._rule: tuple[PortfolioParams, Layout] | None = None

    def record(self, logs: Sequence[Any], to_block: int) -> None:
        """Applies the watch's logs of the blocks up to `to_block`, read by the caller."""
        for entry in logs:
            topics = [bytes(t) for t in entry["topics"]]
            if topics[0] == MODE_SET and entry["address"] == self.vault:
                account = Web3.to_checksum_address(topics[1][12:])
                if int.from_bytes(bytes(entry["data"])[:32]):
                    self._accounts.add(account)
                else:
                    self._accounts.discard(account)
            elif entry["address"] == self.rule.address:
                self._rule = None
        self._next_block = max(self._next_block, to_block + 1)

    def at(self, block: int) -> PortfolioBook:
        """The accounts in portfolio mode and the rule as of `block` (the watch only moves forward)."""
        if block >= self._next_block:
            logs = self.w3.eth.get_logs(
                {
                    "fromBlock": self._next_block,
                    "toBlock": block,
                    "address": [self.vault, self.rule.address],
                    "topics": [[HexBytes(t) for t in (MODE_SET, *GOVERNANCE)]],
                }
            )
            self.record(logs, block)
        if self._rule is None:
            self._rule = self.rule.rule(block)
        params, layout = self._rule
        return PortfolioBook(frozenset(self._accounts), params, layout)

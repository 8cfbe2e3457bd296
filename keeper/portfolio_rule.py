"""The portfolio rule a scan judges portfolio-mode accounts by, read only when a scan holds such an account.

Which accounts are in portfolio mode comes with the accounts themselves: the lens's pages carry each account's bit
(`AccountBook.portfolio`), and a `PortfolioModeSet` log makes the follower read its account again. The rule's
parameters are read in one lens call the first time they are needed and again only after one of the rule's governance
events, whose logs the follower passes on from its own `eth_getLogs` of each block (`record`). A reorganisation is not
tracked here: the follower builds a fresh one at every full load, and a scan alone builds its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from web3 import Web3

from keeper.client.clients import Clients
from keeper.client.portfolio import PortfolioMarginClient
from keeper.risk.portfolio import Layout, PortfolioParams

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


class PortfolioRule:
    def __init__(self, clients: Clients) -> None:
        self.client = PortfolioMarginClient(clients.w3, clients.deployment)
        self._read: tuple[PortfolioParams, Layout] | None = None

    def record(self, logs: Sequence[Any]) -> None:
        """Forgets the rule if `logs` (the `GOVERNANCE` logs of some blocks, read by the caller) changed it."""
        if any(entry["address"] == self.client.address for entry in logs):
            self._read = None

    def at(self, block: int) -> tuple[PortfolioParams, Layout]:
        """The rule's parameters and leg mapping, as read at `block` or at the block last read if no governance event
        came since."""
        if self._read is None:
            self._read = self.client.rule(block)
        return self._read

"""Every client of one deployment over one connection, so that jobs and commands take one object."""

from __future__ import annotations

from dataclasses import dataclass, field

from eth_typing import ChecksumAddress
from web3 import Web3

from keeper.chain.deployment import Deployment
from keeper.chain.transactions import Sender
from keeper.client.feeds import FeedClient
from keeper.client.lens import LensClient
from keeper.client.trading import TradingClient
from keeper.client.vault import VaultClient


@dataclass(frozen=True)
class Clients:
    vault: VaultClient
    trading: TradingClient | None  # None when the deployment has no trading module
    _feeds: dict[ChecksumAddress, FeedClient] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, w3: Web3, deployment: Deployment, sender: Sender | None = None) -> Clients:
        trading = TradingClient(w3, deployment, sender) if deployment.trading else None
        return cls(VaultClient(w3, deployment, sender), trading)

    @property
    def w3(self) -> Web3:
        return self.vault.w3

    @property
    def deployment(self) -> Deployment:
        return self.vault.deployment

    @property
    def lens(self) -> LensClient:
        return self.vault.lens

    @property
    def sender(self) -> Sender | None:
        return self.vault.sender

    def feed(self, address: str) -> FeedClient:
        """The feed at `address`, one client per feed so that its decimals are read once."""
        key = Web3.to_checksum_address(address)
        if key not in self._feeds:
            self._feeds[key] = FeedClient(self.w3, key)
        return self._feeds[key]

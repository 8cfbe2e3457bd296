"""The dYdX replica (validator, indexer, a block ticker) served for real for the connector tests, with a funded
account the official client derives from a mnemonic and a maker that seeds liquidity."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dydx_v4_client.key_pair import KeyPair
from dydx_v4_client.wallet import Wallet

from keeper.connectors.dydx import DydxSettings
from keeper.devnet.dydx.chain import Chain
from keeper.devnet.dydx.service import DydxReplica

D = Decimal
MNEMONIC = "abandon " * 11 + "about"
ADDRESS = Wallet(KeyPair.from_mnemonic(MNEMONIC), 0, 0).address
MAKER = "dydx1replicamaker"
BTC = {
    "clobPairId": "0",
    "atomicResolution": -10,
    "quantumConversionExponent": -9,
    "stepBaseQuantums": 1_000_000,
    "subticksPerTick": 100_000,
}


@dataclass
class Bench:
    replica: DydxReplica

    @property
    def chain(self) -> Chain:
        return self.replica.chain

    def settings(self, **overrides: Any) -> DydxSettings:
        """What the keeper's configuration would say; only the URLs and the chain id point at the replica. Orders
        live the longest short-term window (20 blocks of the replica's 50 ms), so a slow machine still places them
        within it."""
        values: dict[str, Any] = {
            "good_til_blocks": 20,
            "poll_interval": 0.02,
            "request_timeout": 5.0,
            "noble_url": self.replica.noble_url,
            "noble_chain_id": self.replica.noble.chain_id,
        }
        values.update(overrides)
        return DydxSettings(
            self.replica.indexer_url, self.replica.validator_url, self.chain.chain_id, MNEMONIC, **values
        )

    def seed(self, ticker: str, side: int, *levels: tuple[int | str, str]) -> None:
        for price, size in levels:
            self.chain.rest_order(MAKER, 0, ticker, side, D(price), D(size))

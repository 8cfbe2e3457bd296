"""The vault's venue adapters (`IVenueAdapter`): the vault's netted position, margin and funding at one venue,
each adapter read with its own contract's ABI."""

from __future__ import annotations

from dataclasses import dataclass

from web3 import Web3
from web3.types import BlockIdentifier

from keeper.chain.deployment import VenueInfo
from keeper.chain.transactions import Sender
from keeper.client.base import ContractClient, struct
from keeper.exceptions import ConfigError

# The adapter contract deployed for each kind of venue the deployment file names.
ADAPTER_ARTIFACTS = {"dydx": "DydxAdapter", "rabbitx": "RabbitAdapter"}


@dataclass(frozen=True)
class VenueMargin:
    """The vault's margin account at a venue, base-token units."""

    net_collateral: int
    initial_margin: int
    maintenance_margin: int


@dataclass(frozen=True)
class AdapterMarket:
    """A market's parameters at the venue, in the vault's units (sizes and prices WAD, rates ppm)."""

    step_size: int
    tick_size: int
    initial_margin_ppm: int
    maintenance_margin_ppm: int
    taker_fee_ppm: int
    half_spread_ppm: int
    depth: int
    funding_rate_per_second: int


class AdapterClient(ContractClient):
    def __init__(self, w3: Web3, venue: VenueInfo, sender: Sender | None = None) -> None:
        if venue.adapter is None or venue.name not in ADAPTER_ARTIFACTS:
            raise ConfigError(f"the deployment file names no adapter this keeper knows for venue {venue.name!r}")
        super().__init__(w3, venue.adapter, ADAPTER_ARTIFACTS[venue.name], sender)
        self.venue = venue

    @property
    def name(self) -> str:
        return self.venue.name

    def position(self, market_id: int) -> int:
        """The vault's netted position at the venue as the venue reports it, WAD base units."""
        return int(self.contract.functions.position(market_id).call())

    def margin(self) -> VenueMargin:
        fn = self.contract.functions.margin()
        return struct(VenueMargin, fn, fn.call())

    def pending_withdrawals(self) -> int:
        """Margin requested back and not yet claimed, base-token units."""
        return int(self.contract.functions.pendingWithdrawals().call())

    def market(self, market_id: int) -> AdapterMarket:
        fn = self.contract.functions.marketParams(market_id)
        return struct(AdapterMarket, fn, fn.call())

    def funding_index(self, market_id: int, block: BlockIdentifier = "latest") -> int:
        """The venue's cumulative funding index for a market; reverts, decoded, if it cannot read the price."""
        return int(self.read("read funding", self.contract.functions.fundingIndex(market_id), block))

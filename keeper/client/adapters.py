"""The vault's venue adapters (`IVenueAdapter`): the vault's netted position, margin and funding at one venue,
each adapter read with its own contract's ABI."""

from __future__ import annotations

from dataclasses import dataclass

from web3 import Web3
from web3.types import BlockIdentifier, TxReceipt

from keeper.chain.deployment import VenueInfo
from keeper.chain.transactions import Sender
from keeper.client.base import ContractClient, struct
from keeper.exceptions import ConfigError

# The adapter contract deployed for each kind of venue the deployment file names.
ADAPTER_ARTIFACTS = {"dydx": "DydxAdapter", "rabbitx": "RabbitAdapter", "rabbitx-seat": "RabbitXSeatAdapter"}


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


@dataclass(frozen=True)
class SeatAccountReport:
    """The exchange's view of the seat's account, in the vault's units, as the seat posts it on chain."""

    positions: tuple[int, ...]  # per vault market id, signed base WAD
    funding_indexes: tuple[int, ...]  # per vault market id, USD WAD per base unit, cumulative, positive: longs pay
    net_collateral: int  # base-token units, unrealized PnL included
    initial_margin: int
    maintenance_margin: int
    credited_deposits: int  # cumulative deposits from the seat the exchange has credited, base-token units


@dataclass(frozen=True)
class LastSeatReport:
    net_collateral: int
    initial_margin: int
    maintenance_margin: int
    credited_deposits: int
    reported_at: int


class SeatAdapterClient(AdapterClient):
    """A seat at an off-chain exchange (`RabbitXSeatAdapter`): the vault's exchange account, whose state only the
    exchange knows and the seat reports."""

    def report(self, report: SeatAccountReport) -> TxReceipt:
        fn = self.contract.functions.report(
            list(report.positions),
            list(report.funding_indexes),
            report.net_collateral,
            report.initial_margin,
            report.maintenance_margin,
            report.credited_deposits,
        )
        return self.send("report the seat's account", fn)

    def last_report(self) -> LastSeatReport:
        fn = self.contract.functions.lastReport()
        return struct(LastSeatReport, fn, fn.call())

    def deposits_in_flight(self) -> int:
        """Deposited into the exchange's custody and not yet credited there, base-token units."""
        return int(self.contract.functions.depositsInFlight().call())

    def is_valid_signer(self, signer: str) -> bool:
        """Whether `signer` may trade for the seat's account (the trading module's executors may)."""
        magic = self.contract.functions.isValidSigner(Web3.to_checksum_address(signer), b"").call()
        return bytes(magic) == bytes.fromhex("523e3260")

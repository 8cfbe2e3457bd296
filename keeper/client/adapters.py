"""The vault's venue adapters (`IVenueAdapter`): the vault's netted position, margin and funding at one venue,
each adapter read with its own contract's ABI."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from web3 import Web3
from web3.types import BlockIdentifier, TxReceipt

from keeper.chain.deployment import VenueInfo
from keeper.chain.transactions import Sender
from keeper.client.base import ContractClient, struct
from keeper.exceptions import ConfigError

# The adapter contract deployed for each kind of venue the deployment file names.
ADAPTER_ARTIFACTS = {
    "dydx": "DydxAdapter",
    "rabbitx": "RabbitAdapter",
    "rabbitx-seat": "RabbitXSeatAdapter",
    "dydx-seat": "DydxSeatAdapter",
}


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


@dataclass(frozen=True)
class VenueExposure:
    """What the vault holds at one venue, base-token units: its margin account there (unrealized PnL included in the
    collateral), what is on its way back, and, at a seat, what is on its way in and how old the exchange's report is."""

    venue: str
    net_collateral: int
    initial_margin: int
    maintenance_margin: int
    withdrawals_pending: int
    deposits_in_flight: int
    positions: tuple[int, ...]  # the venue's report of the vault's netted position per market, WAD base units
    reported_at: int | None  # a seat's last report (unix time); None where the venue's contract is read directly
    # What a deposit may still send a seat under its margin cap (`marginRoom`); None where no cap applies.
    margin_room: int | None = None
    # The margin the trading module sent the venue less what came back from it (`venueMarginSent`); None until read.
    margin_posted: int | None = None

    @property
    def total(self) -> int:
        """Everything the vault has at or on its way to and from the venue."""
        return self.net_collateral + self.withdrawals_pending

    @property
    def pnl(self) -> int | None:
        """What the vault's account at the venue has gained (or, negative, lost) on the margin posted there: PnL,
        funding and fees, realized or not, and anything written off. None until the margin posted is read."""
        return None if self.margin_posted is None else self.total - self.margin_posted


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

    def claimable_withdrawals(self) -> int:
        """What a claim sent now would bring back, base-token units: `claimWithdrawal` simulated as the adapter's
        trading module (its only caller). A venue with delayed withdrawals (RabbitX-style) pays only the requests
        whose delay has passed, and the adapter stores their times where no view reads them; a claim of nothing
        still costs a transaction."""
        module = self.contract.functions.tradingModule().call()
        return int(self.contract.functions.claimWithdrawal().call({"from": module}))

    def exposure(self, markets: int) -> VenueExposure:
        """The vault's exposure to this venue (`markets` perp markets)."""
        margin = self.margin()
        return VenueExposure(
            self.name,
            margin.net_collateral,
            margin.initial_margin,
            margin.maintenance_margin,
            self.pending_withdrawals(),
            0,
            tuple(self.position(m) for m in range(markets)),
            None,
        )

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


@dataclass(frozen=True)
class FundingStepBound:
    max_step: int  # USD WAD per base unit: the cap per second times the time since the index last moved
    moved_at: int  # unix time; the venue's funding periods after it are not in the index yet


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

    def funding_step_bound(self, market_id: int) -> FundingStepBound:
        """How far a report made now may move the market's funding index, and when that index last moved."""
        max_step, moved_at = self.contract.functions.fundingStepBound(market_id).call()
        return FundingStepBound(int(max_step), int(moved_at))

    def exposure(self, markets: int) -> VenueExposure:
        """As `AdapterClient.exposure`, with the deposits the exchange has not credited, the report's age and the room
        left under the seat's margin cap; the collateral includes the deposits in flight (as the adapter's `margin`
        does)."""
        return dataclasses.replace(
            super().exposure(markets),
            deposits_in_flight=self.deposits_in_flight(),
            reported_at=self.last_report().reported_at,
            margin_room=self.margin_room(),
        )

    def margin_room(self) -> int:
        """The most margin a deposit may send the seat now, base-token units: its cap less what it holds or, if more,
        the vault's net margin sent it."""
        return int(self.contract.functions.marginRoom().call())

    def deposits_in_flight(self) -> int:
        """Deposited into the exchange's custody and not yet credited there, base-token units."""
        return int(self.contract.functions.depositsInFlight().call())

    def is_valid_signer(self, signer: str) -> bool:
        """Whether `signer` may trade for the seat's account (the trading module's executors may)."""
        magic = self.contract.functions.isValidSigner(Web3.to_checksum_address(signer), b"").call()
        return bytes(magic) == bytes.fromhex("523e3260")

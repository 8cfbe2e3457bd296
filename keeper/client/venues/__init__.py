"""Perp venues as the keeper sees them: one module per venue reads its state and converts its units into
the router's (`keeper.routing.VenueCostModel`) and the vault's (base-asset and USD decimals)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from web3.exceptions import ContractLogicError, Web3RPCError

from keeper.exceptions import PrimeVaultError
from keeper.routing import VenueCostModel

WAD = Decimal(10) ** 18
PPM = Decimal(10) ** 6
# What a venue that cannot answer raises: its contract reverts (a stale or invalid price, a market it does not list),
# the node refuses the call to it, or its reader refuses the market or the size. Anything else is a fault of this
# code and surfaces.
VENUE_FAILURES = (ContractLogicError, Web3RPCError, PrimeVaultError)


@dataclass(frozen=True)
class VenueQuote:
    venue: str
    average_price: Decimal  # USD per base unit
    fee: Decimal  # USD


class Venue(Protocol):
    name: str

    def markets(self) -> list[str]: ...

    def market_params(self, market: str) -> VenueMarketParams: ...

    def cost_model(self, market: str) -> VenueCostModel: ...

    def quote(self, market: str, size: Decimal, side: int) -> VenueQuote: ...


@dataclass(frozen=True)
class VenueMarketParams:
    """The fields of a local venue's `Market` struct the keeper prices with (sizes and prices WAD, rates ppm)."""

    taker_fee_ppm: int
    half_spread_ppm: int
    depth: int
    step_size: int
    funding_rate_per_second: int

    def cost_model(self, name: str) -> VenueCostModel:
        return VenueCostModel(
            name=name,
            half_spread=float(Decimal(self.half_spread_ppm) / PPM),
            taker_fee=float(Decimal(self.taker_fee_ppm) / PPM),
            depth=float(Decimal(self.depth) / WAD),
            funding_rate_per_second=float(Decimal(self.funding_rate_per_second) / WAD),
            step=Decimal(self.step_size) / WAD,
        )


def taker_fee(size: Decimal, price: Decimal, fee_ppm: int, side: int) -> Decimal:
    """The venues' fee rounding: notional to USDC units (up for buys, down for sells), fee rounded up."""
    notional_units = (size * price * 10**6).to_integral_value(rounding="ROUND_CEILING" if side > 0 else "ROUND_FLOOR")
    return (notional_units * fee_ppm / PPM).to_integral_value(rounding="ROUND_CEILING") / 10**6


def priced_cost_model(venue: Venue, market: str, side: int) -> VenueCostModel:
    """`venue`'s cost model for `market`, once it has quoted one step of it on `side`: a venue that cannot price now
    (its feed stale, the market not listed there) raises one of `VENUE_FAILURES` here, not in the transaction that
    would trade there."""
    model = venue.cost_model(market)
    venue.quote(market, model.step, side)
    return model

"""Perp venues as the keeper sees them: one module per venue reads its state and converts its units into
the router's (`keeper.routing.VenueCostModel`) and the vault's (base-asset and USD decimals)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from keeper.routing import VenueCostModel

WAD = Decimal(10) ** 18
PPM = Decimal(10) ** 6


@dataclass(frozen=True)
class VenueQuote:
    venue: str
    average_price: Decimal  # USD per base unit
    fee: Decimal  # USD


class Venue(Protocol):
    name: str

    def markets(self) -> list[str]: ...

    def cost_model(self, market: str) -> VenueCostModel: ...

    def quote(self, market: str, size: Decimal, side: int) -> VenueQuote: ...


def cost_model_from_params(name: str, params: Any) -> VenueCostModel:
    """A cost model from the venue engine's `Market` struct (sizes and prices WAD, rates ppm)."""
    return VenueCostModel(
        name=name,
        half_spread=float(Decimal(params[5]) / PPM),
        taker_fee=float(Decimal(params[4]) / PPM),
        depth=float(Decimal(params[7]) / WAD),
        funding_rate_per_second=float(Decimal(params[10]) / WAD),
        step=Decimal(params[8]) / WAD,
    )


def taker_fee(size: Decimal, price: Decimal, fee_ppm: int, side: int) -> Decimal:
    """The venues' fee rounding: notional to USDC units (up for buys, down for sells), fee rounded up."""
    notional_units = (size * price * 10**6).to_integral_value(rounding="ROUND_CEILING" if side > 0 else "ROUND_FLOOR")
    return (notional_units * fee_ppm / PPM).to_integral_value(rounding="ROUND_CEILING") / 10**6

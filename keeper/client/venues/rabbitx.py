"""The RabbitX-style venue: string market ids, "long"/"short", 1e18 decimals."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.types import TxReceipt

from keeper.chain.transactions import Sender
from keeper.client.base import ContractClient, struct
from keeper.client.venues import WAD, VenueMarketParams, VenueQuote, taker_fee
from keeper.exceptions import InputError
from keeper.routing import VenueCostModel


def to_decimal_units(value: Decimal) -> int:
    """RabbitX-style sizes and prices: decimals scaled by 1e18."""
    scaled = value * WAD
    if scaled != scaled.to_integral_value():
        raise InputError(f"{value} has more than 18 decimal places")
    return int(scaled)


@dataclass(frozen=True)
class RabbitListing:
    """How a market is listed on the RabbitX-style venue (`addMarket`); sizes and prices 1e18-scaled."""

    ticker: str
    feed: ChecksumAddress
    max_staleness: int
    initial_margin_ppm: int
    maintenance_margin_ppm: int
    taker_fee_ppm: int
    half_spread_ppm: int
    depth: int
    step_size: int
    tick_size: int


class RabbitVenue(ContractClient):
    name = "rabbitx"

    def __init__(self, w3: Web3, address: ChecksumAddress, markets: list[str], sender: Sender | None = None) -> None:
        super().__init__(w3, address, "RabbitStyleVenue", sender)
        self._markets = markets

    def markets(self) -> list[str]:
        return list(self._markets)

    def market_params(self, market: str) -> VenueMarketParams:
        if market not in self._markets:
            raise InputError(f"unknown market {market!r}: rabbitx lists {', '.join(self._markets)}")
        fn = self.contract.functions.marketParams(market)
        return struct(VenueMarketParams, fn, fn.call())

    def cost_model(self, market: str) -> VenueCostModel:
        return self.market_params(market).cost_model(self.name)

    def quote(self, market: str, size: Decimal, side: int) -> VenueQuote:
        params = self.market_params(market)
        step = params.cost_model(self.name).step
        if size % step:
            raise InputError(f"size {size} is not a multiple of {market}'s step {step.normalize()} on rabbitx")
        raw = self.contract.functions.quote(market, "long" if side > 0 else "short", to_decimal_units(size)).call()
        price = Decimal(raw) / WAD
        return VenueQuote(self.name, price, taker_fee(size, price, params.taker_fee_ppm, side))

    def add_market(self, listing: RabbitListing) -> TxReceipt:
        """Lists a market on the local venue (its owner's call; devnet only)."""
        fn = self.contract.functions.addMarket(
            listing.ticker,
            listing.feed,
            listing.max_staleness,
            listing.initial_margin_ppm,
            listing.maintenance_margin_ppm,
            listing.taker_fee_ppm,
            listing.half_spread_ppm,
            listing.depth,
            listing.step_size,
            listing.tick_size,
        )
        return self.send(f"list {listing.ticker} on rabbitx", fn)

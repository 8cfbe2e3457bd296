"""The RabbitX-style venue: string market ids, "long"/"short", 1e18 decimals."""

from __future__ import annotations

from decimal import Decimal

from eth_typing import ChecksumAddress
from web3 import Web3

from keeper.chain.artifacts import load_artifact
from keeper.exceptions import InputError
from keeper.routing import VenueCostModel
from keeper.venues import WAD, VenueQuote, cost_model_from_params, taker_fee


def to_decimal_units(value: Decimal) -> int:
    """RabbitX-style sizes and prices: decimals scaled by 1e18."""
    scaled = value * WAD
    if scaled != scaled.to_integral_value():
        raise InputError(f"{value} has more than 18 decimal places")
    return int(scaled)


class RabbitVenue:
    name = "rabbitx"

    def __init__(self, w3: Web3, address: ChecksumAddress, markets: list[str]) -> None:
        self.contract = w3.eth.contract(address=address, abi=load_artifact("RabbitStyleVenue").abi)
        self._markets = markets

    def markets(self) -> list[str]:
        return list(self._markets)

    def _check(self, market: str) -> None:
        if market not in self._markets:
            raise InputError(f"unknown market {market!r}: rabbitx lists {', '.join(self._markets)}")

    def cost_model(self, market: str) -> VenueCostModel:
        self._check(market)
        return cost_model_from_params(self.name, self.contract.functions.marketParams(market).call())

    def quote(self, market: str, size: Decimal, side: int) -> VenueQuote:
        model = self.cost_model(market)
        if size % model.step:
            raise InputError(f"size {size} is not a multiple of {market}'s step {model.step.normalize()} on rabbitx")
        raw = self.contract.functions.quote(market, "long" if side > 0 else "short", to_decimal_units(size)).call()
        price = Decimal(raw) / WAD
        fee_ppm = self.contract.functions.marketParams(market).call()[4]
        return VenueQuote(self.name, price, taker_fee(size, price, fee_ppm, side))

"""The dYdX-style venue: clob pair ids, base quantums and subticks."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.exceptions import ContractLogicError

from keeper.chain.artifacts import load_artifact
from keeper.exceptions import InputError
from keeper.routing import VenueCostModel
from keeper.venues import VenueQuote, cost_model_from_params, taker_fee

BUY, SELL = 1, 2


@dataclass(frozen=True)
class ClobPair:
    clob_pair_id: int
    ticker: str
    atomic_resolution: int
    quantum_conversion_exponent: int
    step_base_quantums: int
    subticks_per_tick: int

    def to_quantums(self, size: Decimal) -> int:
        """quantums = size x 10^(-atomicResolution); refuses sizes off the step."""
        quantums = size.scaleb(-self.atomic_resolution)
        if quantums != quantums.to_integral_value() or int(quantums) % self.step_base_quantums:
            step = Decimal(self.step_base_quantums).scaleb(self.atomic_resolution)
            raise InputError(f"size {size} is not a multiple of {self.ticker}'s step {step.normalize()} on dydx")
        return int(quantums)

    def subticks_to_price(self, subticks: int) -> Decimal:
        """price = subticks x 10^(-(atomicResolution - quantumConversionExponent + 6))."""
        return Decimal(subticks).scaleb(-(self.atomic_resolution - self.quantum_conversion_exponent + 6))

    def price_to_subticks(self, price: Decimal) -> int:
        return int(price.scaleb(self.atomic_resolution - self.quantum_conversion_exponent + 6))


class DydxVenue:
    name = "dydx"

    def __init__(self, w3: Web3, address: ChecksumAddress) -> None:
        self.contract = w3.eth.contract(address=address, abi=load_artifact("DydxStyleVenue").abi)
        self._pairs: dict[str, ClobPair] = {}
        count = 0
        while True:
            try:
                raw = self.contract.functions.clobPair(count).call()
            except ContractLogicError:  # the venue reverts past the last clob pair
                break
            pair = ClobPair(count, raw[5], raw[0], raw[1], raw[2], raw[3])
            self._pairs[pair.ticker] = pair
            count += 1

    def markets(self) -> list[str]:
        return list(self._pairs)

    def pair(self, market: str) -> ClobPair:
        if market not in self._pairs:
            raise InputError(f"unknown market {market!r}: dydx lists {', '.join(self._pairs)}")
        return self._pairs[market]

    def cost_model(self, market: str) -> VenueCostModel:
        params = self.contract.functions.marketParams(self.pair(market).clob_pair_id).call()
        return cost_model_from_params(self.name, params)

    def quote(self, market: str, size: Decimal, side: int) -> VenueQuote:
        pair = self.pair(market)
        subticks = self.contract.functions.quoteSubticks(
            pair.clob_pair_id, BUY if side > 0 else SELL, pair.to_quantums(size)
        ).call()
        price = pair.subticks_to_price(subticks)
        fee_ppm = self.contract.functions.marketParams(pair.clob_pair_id).call()[4]
        return VenueQuote(self.name, price, taker_fee(size, price, fee_ppm, side))

"""The dYdX-style venue: clob pair ids, base quantums and subticks."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.exceptions import ContractLogicError
from web3.types import TxReceipt

from keeper.chain.transactions import Sender
from keeper.client.base import ContractClient, struct
from keeper.client.venues import VenueMarketParams, VenueQuote, taker_fee
from keeper.exceptions import InputError
from keeper.routing import VenueCostModel

# dYdX counts an order's size in quantums of a uint64 (`MsgPlaceOrder.quantums`).
MAX_QUANTUMS = 2**64 - 1

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
        if quantums > MAX_QUANTUMS:
            most = Decimal(MAX_QUANTUMS - MAX_QUANTUMS % self.step_base_quantums).scaleb(self.atomic_resolution)
            raise InputError(f"size {size} is more than dydx takes in one {self.ticker} order ({most.normalize():f})")
        return int(quantums)

    def subticks_to_price(self, subticks: int) -> Decimal:
        """price = subticks x 10^(-(atomicResolution - quantumConversionExponent + 6))."""
        return Decimal(subticks).scaleb(-(self.atomic_resolution - self.quantum_conversion_exponent + 6))

    def price_to_subticks(self, price: Decimal) -> int:
        return int(price.scaleb(self.atomic_resolution - self.quantum_conversion_exponent + 6))


@dataclass(frozen=True)
class DydxListing:
    """How a market is listed on the dYdX-style venue (`createClobPair`)."""

    pair: ClobPair
    feed: ChecksumAddress
    max_staleness: int
    taker_fee_ppm: int
    half_spread_ppm: int
    depth_quantums: int


class DydxVenue(ContractClient):
    name = "dydx"

    def __init__(self, w3: Web3, address: ChecksumAddress, sender: Sender | None = None) -> None:
        super().__init__(w3, address, "DydxStyleVenue", sender)

    @cached_property
    def _pairs(self) -> dict[str, ClobPair]:
        """Every clob pair by ticker, read once (the venue reverts past the last id)."""
        pairs: dict[str, ClobPair] = {}
        while True:
            fn = self.contract.functions.clobPair(len(pairs))
            try:
                raw = struct(_StoredClobPair, fn, fn.call())
            except ContractLogicError:
                return pairs
            pairs[raw.ticker] = ClobPair(
                len(pairs),
                raw.ticker,
                raw.atomic_resolution,
                raw.quantum_conversion_exponent,
                raw.step_base_quantums,
                raw.subticks_per_tick,
            )

    def markets(self) -> list[str]:
        return list(self._pairs)

    def pair(self, market: str) -> ClobPair:
        if market not in self._pairs:
            listed = ", ".join(self._pairs) or "nothing (it answers no clobPair read: is it down?)"
            raise InputError(f"unknown market {market!r}: dydx lists {listed}")
        return self._pairs[market]

    def market_params(self, market: str) -> VenueMarketParams:
        fn = self.contract.functions.marketParams(self.pair(market).clob_pair_id)
        return struct(VenueMarketParams, fn, fn.call())

    def cost_model(self, market: str) -> VenueCostModel:
        return self.market_params(market).cost_model(self.name)

    def quote(self, market: str, size: Decimal, side: int) -> VenueQuote:
        pair = self.pair(market)
        subticks = self.contract.functions.quoteSubticks(
            pair.clob_pair_id, BUY if side > 0 else SELL, pair.to_quantums(size)
        ).call()
        price = pair.subticks_to_price(subticks)
        return VenueQuote(self.name, price, taker_fee(size, price, self.market_params(market).taker_fee_ppm, side))

    def create_clob_pair(self, listing: DydxListing) -> TxReceipt:
        """Lists a market on the local venue (its owner's call; devnet only)."""
        p = listing.pair
        liquidity_tier = 0
        fn = self.contract.functions.createClobPair(
            (p.atomic_resolution, p.quantum_conversion_exponent, p.step_base_quantums, p.subticks_per_tick,
             liquidity_tier, p.ticker),
            listing.feed,
            listing.max_staleness,
            listing.taker_fee_ppm,
            listing.half_spread_ppm,
            listing.depth_quantums,
        )  # fmt: skip
        return self.send(f"list {p.ticker} on dydx", fn)


@dataclass(frozen=True)
class _StoredClobPair:
    ticker: str
    atomic_resolution: int
    quantum_conversion_exponent: int
    step_base_quantums: int
    subticks_per_tick: int

"""Perp venues as the keeper sees them: one module per venue reads its state and converts its units into
the router's (`keeper.routing.VenueCostModel`) and the vault's (base-asset and USD decimals)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from web3.exceptions import BadFunctionCallOutput, ContractLogicError, Web3RPCError

from keeper.chain.revert import revert_data, revert_reason
from keeper.exceptions import PrimeVaultError
from keeper.routing import VenueCostModel

WAD = Decimal(10) ** 18
PPM = Decimal(10) ** 6
# What a venue that cannot answer raises: its contract reverts (a stale or invalid price, a market it does not list),
# returns nothing (no code behind it), or the node stops the call to it (it ran out of gas), or its reader refuses the
# market or the size. A `Web3RPCError` is the venue's only when the node ran the call and the EVM stopped it
# (`node_failure` tells the node's own errors apart, which are re-raised, to be said as the node's). Anything else is
# a fault of this code and surfaces.
VENUE_FAILURES = (ContractLogicError, BadFunctionCallOutput, Web3RPCError, PrimeVaultError)
# How nodes word the EVM stopping a call (anvil/revm "EVM error OutOfGas", geth "out of gas", "invalid opcode: ...",
# "stack underflow", Nethermind/Erigon "VM execution error", Hardhat "VM Exception"); every other JSON-RPC error is the
# node's own (a pruned block, a rate limit, a method it does not serve, an overloaded upstream).
_EXECUTION_FAILURES = (
    "out of gas",
    "outofgas",
    "evm error",
    "invalid opcode",
    "invalid jump",
    "stack underflow",
    "stack overflow",
    "stack limit",
    "execution reverted",
    "vm execution error",
    "vm exception",
)
ANSWERED_NOTHING = "answered nothing: its call returned no data (is its contract gone from its address, or broken?)"


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
            max_sell=Decimal(self.max_sell_size()) / WAD,
        )

    def max_sell_size(self) -> int:
        """The largest sell (WAD base units, on the step) the venue fills at a price above zero. A sell fills at
        mark x (1 - impact), impact = half-spread + size / (2 x depth) rounded down, in WAD, and at nothing once the
        impact reaches 1 (`PerpExchange._fillPrice`): so at a positive price while size x WAD < 2 x depth x (WAD -
        half-spread), whatever the mark (from a dollar up)."""
        room = 2 * self.depth * (10**18 - self.half_spread_ppm * 10**12)  # size x WAD must stay below it
        largest = max(0, -(-room // 10**18) - 1)
        return largest - largest % self.step_size if self.step_size else largest


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


def node_message(exc: Web3RPCError) -> str:
    """What the node said, without the JSON-RPC error object around it."""
    response = exc.rpc_response
    error = response.get("error") if isinstance(response, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) and message else exc.message or str(exc)


def call_failed(exc: Web3RPCError) -> bool:
    """Whether the node ran the call and the EVM stopped it (out of gas, an invalid instruction): the failure of the
    contract called, not of the node."""
    message = node_message(exc).lower()
    return any(words in message for words in _EXECUTION_FAILURES)


def out_of_gas(exc: Web3RPCError) -> bool:
    message = node_message(exc).lower()
    return "out of gas" in message or "outofgas" in message


def node_failure(exc: BaseException) -> bool:
    """Whether `exc`, caught as one of `VENUE_FAILURES` around one venue's read, is the node's own failure rather
    than the venue's (a JSON-RPC error other than the EVM stopping the call): the caller re-raises it, so that a node
    that cannot serve reads is said as such, not as every venue failing. A node that cannot be reached at all raises
    the connection's errors, never one of `VENUE_FAILURES`."""
    return isinstance(exc, Web3RPCError) and not call_failed(exc)


def failure_reason(exc: BaseException) -> str:
    """Why a venue's read failed, in words, for a log line: the decoded revert, that it answered nothing, that it ran
    out of gas, or the reader's refusal."""
    if isinstance(exc, BadFunctionCallOutput):
        return ANSWERED_NOTHING
    if isinstance(exc, Web3RPCError) and call_failed(exc) and revert_data(exc) is None:
        return gas_words(exc)
    return revert_reason(exc)


def gas_words(exc: Web3RPCError) -> str:
    """The EVM stopping a call, in words: running out of gas (a contract that never returns), or what the node said."""
    if out_of_gas(exc):
        return f"its contract used up all the gas the node allows a call, and never answered ({node_message(exc)})"
    return f"its contract failed in the EVM (the node said: {node_message(exc)})"

"""A market maker for the devnet: quotes both sides around an oracle price in several levels, refreshed every N ms.

The oracle is any callable returning the index price of a market (or None to pull that market's quotes). Quotes go
through a `QuoteVenue`; `DevnetQuoteVenue` places them on an in-process `RabbitXDevnet` for a funded profile.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Protocol

from eth_account import Account
from web3 import Web3

from keeper.client.feeds import FeedClient
from keeper.connectors.rabbitx.numbers import parse_decimal
from keeper.connectors.rabbitx.vocabulary import Side
from keeper.devnet.rabbitx.app import RabbitXDevnet
from keeper.devnet.rabbitx.numbers import InputError, div, quantize_down

log = logging.getLogger(__name__)

BPS = Decimal(10_000)
Quote = tuple[Side, Decimal, Decimal]
Oracle = Callable[[str], Decimal | None]


@dataclass(frozen=True)
class QuoteConfig:
    spread_bps: Decimal = Decimal(10)
    """Distance between the best bid and the best ask, in basis points of the oracle price."""
    levels: int = 5
    level_spacing_bps: Decimal = Decimal(5)
    """Extra distance of each further level, in basis points."""
    level_notional: Decimal = Decimal(20_000)
    """Quote size per level, in USD at the oracle price (rounded down onto the market's size step)."""
    refresh_ms: int = 500


class QuoteVenue(Protocol):
    def market_steps(self) -> dict[str, tuple[Decimal, Decimal]]:
        """(min_tick, min_order) per market."""
        ...

    async def replace_quotes(self, market_id: str, quotes: list[Quote]) -> None: ...


def build_quotes(price: Decimal, tick: Decimal, step: Decimal, config: QuoteConfig) -> list[Quote]:
    """Bids below and asks above `price`, best first, on the tick and size steps; levels never cross or repeat."""
    if price <= 0:
        return []
    size = max(quantize_down(div(config.level_notional, price), step), step)
    quotes: list[Quote] = []
    last_bid: Decimal | None = None
    last_ask: Decimal | None = None
    for level in range(config.levels):
        offset = div(config.spread_bps / 2 + config.level_spacing_bps * level, BPS)
        bid = (price * (1 - offset) / tick).to_integral_value(rounding=ROUND_FLOOR) * tick
        ask = (price * (1 + offset) / tick).to_integral_value(rounding=ROUND_CEILING) * tick
        if last_bid is not None and bid >= last_bid:
            bid = last_bid - tick
        if last_ask is not None and ask <= last_ask:
            ask = last_ask + tick
        if ask <= bid:
            ask = bid + tick
        if bid > 0:
            quotes.append((Side.LONG, bid, size))
        quotes.append((Side.SHORT, ask, size))
        last_bid, last_ask = bid, ask
    return quotes


class MarketMaker:
    def __init__(
        self,
        venue: QuoteVenue,
        oracle: Oracle,
        config: QuoteConfig | None = None,
        markets: list[str] | None = None,
    ) -> None:
        self.venue = venue
        self.oracle = oracle
        self.config = config or QuoteConfig()
        self.markets = markets
        self.refreshes = 0

    async def refresh_once(self) -> dict[str, list[Quote]]:
        placed: dict[str, list[Quote]] = {}
        for market_id, (tick, step) in self.venue.market_steps().items():
            if self.markets is not None and market_id not in self.markets:
                continue
            price = self.oracle(market_id)
            quotes = build_quotes(price, tick, step, self.config) if price is not None else []
            await self.venue.replace_quotes(market_id, quotes)
            placed[market_id] = quotes
        self.refreshes += 1
        return placed

    async def run(self) -> None:
        """Refresh forever, every `refresh_ms`; a failed refresh is logged and retried next time."""
        while True:
            try:
                await self.refresh_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("market maker refresh failed")
            await asyncio.sleep(self.config.refresh_ms / 1000)


class DevnetQuoteVenue:
    """Quotes for one profile of an in-process devnet, placed through its matching queue."""

    def __init__(self, devnet: _Devnet, profile_id: int) -> None:
        self.devnet = devnet
        self.profile_id = profile_id

    def market_steps(self) -> dict[str, tuple[Decimal, Decimal]]:
        return self.devnet.market_steps()

    async def replace_quotes(self, market_id: str, quotes: list[Quote]) -> None:
        await self.devnet.replace_quotes(self.profile_id, market_id, quotes)


class _Devnet(Protocol):
    def market_steps(self) -> dict[str, tuple[Decimal, Decimal]]: ...

    async def replace_quotes(self, profile_id: int, market_id: str, quotes: list[Quote]) -> None: ...


MARKET_MAKER_KEY = "0x" + "4d4d" * 16
"""The devnet market maker's wallet key (a fixed dev key: it holds only devnet money)."""


def market_maker_wallet() -> str:
    return str(Account.from_key(MARKET_MAKER_KEY).address)


class FixedOracle:
    """Fixed prices per market; `set` moves one."""

    def __init__(self, prices: Mapping[str, Decimal]) -> None:
        self.prices = dict(prices)

    def set(self, market_id: str, price: Decimal) -> None:
        self.prices[market_id] = price

    def __call__(self, market_id: str) -> Decimal | None:
        return self.prices.get(market_id)


class ScriptedOracle:
    """Step prices from a script: per market a list of (seconds since start, price), each holding until the next.

    The JSON file form is ``{"BTC-USD": [[0, "60000"], [30, "57000"]], ...}``. With `repeat`, the script restarts
    after its last step's time.
    """

    def __init__(
        self,
        steps: Mapping[str, list[tuple[float, Decimal]]],
        clock: Callable[[], float] = time.monotonic,
        repeat: bool = False,
    ) -> None:
        self.steps = {m: sorted(points) for m, points in steps.items() if points}
        self.clock = clock
        self.start = clock()
        self.repeat = repeat

    @classmethod
    def from_file(cls, path: Path, repeat: bool = False) -> ScriptedOracle:
        try:
            raw = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"price script {path}: {exc}") from None
        if not isinstance(raw, dict):
            raise InputError(f"price script {path}: expected an object of market -> [[seconds, price], ...]")
        steps: dict[str, list[tuple[float, Decimal]]] = {}
        for market_id, points in raw.items():
            if not isinstance(points, list) or not all(isinstance(p, list) and len(p) == 2 for p in points):
                raise InputError(f"price script {path}: {market_id} must be a list of [seconds, price] pairs")
            steps[market_id] = [
                (float(parse_decimal(p[0], f"{market_id} time")), parse_decimal(p[1], f"{market_id} price"))
                for p in points
            ]
        return cls(steps, repeat=repeat)

    def __call__(self, market_id: str) -> Decimal | None:
        points = self.steps.get(market_id)
        if not points:
            return None
        elapsed = self.clock() - self.start
        if self.repeat and points[-1][0] > 0:
            elapsed %= points[-1][0]
        index = bisect.bisect_right([t for t, _ in points], elapsed) - 1
        return points[max(index, 0)][1]


class ChainFeedOracle:
    """Index prices read from Chainlink-style feeds on a chain (the vault's own oracles on the devnet), so that the
    exchange's prices follow the chain's: each feed read at most once per `max_age` seconds."""

    def __init__(self, rpc_url: str, feeds: Mapping[str, str], max_age: float = 0.5) -> None:
        w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 5}))
        self.feeds = {market_id: FeedClient(w3, address) for market_id, address in feeds.items()}
        self.max_age = max_age
        self._read: dict[str, tuple[float, Decimal]] = {}

    def __call__(self, market_id: str) -> Decimal | None:
        feed = self.feeds.get(market_id)
        if feed is None:
            return None
        now = time.monotonic()
        cached = self._read.get(market_id)
        if cached is None or now - cached[0] >= self.max_age:
            try:
                cached = self._read[market_id] = (now, feed.price())
            except Exception as exc:  # the chain away for a moment: keep the last price, or pull the quotes
                log.warning("index price of %s unreadable: %s", market_id, exc)
                return cached[1] if cached else None
        return cached[1]


def seat_market_maker(
    devnet: RabbitXDevnet,
    oracle: Oracle,
    config: QuoteConfig | None = None,
    capital: Decimal = Decimal(100_000_000),
    markets: list[str] | None = None,
) -> MarketMaker:
    """Give the devnet a funded market-maker profile and return its (not yet running) market maker."""
    wallet = market_maker_wallet()
    profile = devnet.exchange.create_profile(wallet, "market_maker")
    units = int(capital.scaleb(devnet.exchange.config.collateral_decimals))
    devnet.credit_deposit(wallet, units, f"market-maker-capital-{profile.id}")
    return MarketMaker(DevnetQuoteVenue(devnet, profile.id), oracle, config, markets)

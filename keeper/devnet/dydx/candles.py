"""Candles and sparklines as dYdX's indexer builds them (ender's CandlesGenerator, comlink's candles and sparklines
controllers), here from the replica's own fills instead of a table kept block by block.

A market's candles of one resolution run from the period of its first trade to the period of the latest block: a
period with trades has their open, high, low and close, base and USD volume and count; a period without any is a
flat candle at the previous close (the indexer opens one when a block starts the period). `startingOpenInterest` is
the sum of the long positions' sizes when the period began (the indexer's open interest long). The indexer also
records the book's mid price at each period's opening and closing; the replica keeps no history of its books, so
both are null, as the indexer writes them when it has no mid price.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from keeper.devnet.dydx.chain import Chain, iso, plain

RESOLUTION_SECONDS = {
    "1MIN": 60,
    "5MINS": 5 * 60,
    "15MINS": 15 * 60,
    "30MINS": 30 * 60,
    "1HOUR": 60 * 60,
    "4HOURS": 4 * 60 * 60,
    "1DAY": 24 * 60 * 60,
}
"""comlink's CandleResolution values and their lengths (postgres' NUM_SECONDS_IN_CANDLE_RESOLUTIONS)."""

SPARKLINE_PERIODS = {"ONE_DAY": ("1HOUR", 24 * 60 * 60), "SEVEN_DAYS": ("4HOURS", 7 * 24 * 60 * 60)}
"""Each sparkline time period's candle resolution and lookback in seconds (comlink's lib/constants.ts)."""

Fill = Mapping[str, object]


@dataclass(frozen=True)
class _Timed:
    """A fill with its time in epoch seconds, parsed once."""

    epoch: float
    fill: Fill


def market_candles(chain: Chain, ticker: str, resolution: str) -> list[dict[str, Any]]:
    """``/v4/candles/perpetualMarkets/{ticker}``'s candles of `resolution` as of the latest block, newest first."""
    with chain.lock:
        fills = [
            _Timed(_epoch(fill["createdAt"]), fill)
            for fill in chain.fills
            if fill["market"] == ticker and int(str(fill["createdAtHeight"])) <= chain.height
        ]
        until = _epoch(chain.block_times[chain.height])
    return _candles(fills, ticker, resolution, until)[::-1]


def sparklines(chain: Chain, period: str) -> dict[str, list[str]]:
    """``/v4/sparklines``: per market, the closes of the period's candles that started within its lookback, newest
    first (every market listed, with no closes if it has no candles)."""
    resolution, lookback = SPARKLINE_PERIODS[period]
    since = time.time() - lookback
    return {
        market.ticker: [
            candle["close"]
            for candle in market_candles(chain, market.ticker, resolution)
            if _epoch(candle["startedAt"]) >= since
        ]
        for market in chain.markets
    }


def _candles(fills: Sequence[_Timed], ticker: str, resolution: str, until: float) -> list[dict[str, Any]]:
    """The candles oldest first, one per period from the first trade's to `until`'s."""
    seconds = RESOLUTION_SECONDS[resolution]
    trades: dict[int, list[Fill]] = {}
    for timed in fills:
        if timed.fill["liquidity"] == "TAKER":
            trades.setdefault(_period(timed.epoch, seconds), []).append(timed.fill)
    if not trades:
        return []
    interest = _OpenInterest(fills)
    rows: list[dict[str, Any]] = []
    close = ""
    for start in range(min(trades), _period(until, seconds) + 1, seconds):
        prices = _prices(trades.get(start, []), close)
        close = prices["close"]
        rows.append(
            {
                "startedAt": iso(datetime.fromtimestamp(start, UTC)),
                "ticker": ticker,
                "resolution": resolution,
                **prices,
                "startingOpenInterest": plain(interest.before(start)),
                "orderbookMidPriceOpen": None,
                "orderbookMidPriceClose": None,
            }
        )
    return rows


def _prices(trades: Sequence[Fill], previous_close: str) -> dict[str, Any]:
    """A period's OHLC, volumes and count from its trades in time order; without trades, flat at the previous
    close."""
    if not trades:
        flat = {"low": previous_close, "high": previous_close, "open": previous_close, "close": previous_close}
        return {**flat, "baseTokenVolume": "0", "usdVolume": "0", "trades": 0}
    prices = [Decimal(str(trade["price"])) for trade in trades]
    sizes = [Decimal(str(trade["size"])) for trade in trades]
    return {
        "low": plain(min(prices)),
        "high": plain(max(prices)),
        "open": plain(prices[0]),
        "close": plain(prices[-1]),
        "baseTokenVolume": plain(sum(sizes, Decimal(0))),
        "usdVolume": plain(sum((p * s for p, s in zip(prices, sizes, strict=True)), Decimal(0))),
        "trades": len(trades),
    }


class _OpenInterest:
    """A market's open interest (the sum of its long positions' sizes) as its fills, read in time order, built it:
    each period's starting value is asked for in turn, so the fills are walked once."""

    def __init__(self, fills: Sequence[_Timed]) -> None:
        self._fills = fills
        self._next = 0
        self._held: dict[tuple[object, object], Decimal] = {}

    def before(self, start: int) -> Decimal:
        """The open interest left by the fills made before `start` (epoch seconds)."""
        while self._next < len(self._fills) and self._fills[self._next].epoch < start:
            fill = self._fills[self._next].fill
            key = (fill["_owner"], fill["subaccountNumber"])
            size = Decimal(str(fill["size"]))
            self._held[key] = self._held.get(key, Decimal(0)) + (size if fill["side"] == "BUY" else -size)
            self._next += 1
        return sum((size for size in self._held.values() if size > 0), Decimal(0))


def _period(epoch: float, seconds: int) -> int:
    """The start of the period holding `epoch`: periods are aligned on the Unix epoch, as the indexer's."""
    return int(epoch // seconds) * seconds


def _epoch(moment: object) -> float:
    return datetime.fromisoformat(str(moment)).timestamp()

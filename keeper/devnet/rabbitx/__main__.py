"""``python -m keeper.devnet.rabbitx --port 0``: run the devnet RabbitX with its market maker.

Prints the bound base URL as one line on stdout (the WebSocket is at ``<url>/ws``), then serves until SIGINT or
SIGTERM. Errors (a port in use, a bad price) are one line on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import os
import secrets
import signal
import sys
from pathlib import Path

from eth_account import Account
from web3 import Web3

from keeper.connectors.rabbitx.errors import MalformedNumberError
from keeper.connectors.rabbitx.numbers import parse_decimal
from keeper.devnet.rabbitx.app import DevnetConfig, RabbitXDevnet, serve
from keeper.devnet.rabbitx.chain_watcher import ChainWatchConfig
from keeper.devnet.rabbitx.exchange import ExchangeConfig, MarketConfig, default_markets
from keeper.devnet.rabbitx.market_maker import (
    ChainFeedOracle,
    FixedOracle,
    Oracle,
    QuoteConfig,
    ScriptedOracle,
    seat_market_maker,
)
from keeper.devnet.rabbitx.numbers import InputError

SIGNER_ENV = "RABBITX_DEVNET_SIGNER_KEY"


class UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m keeper.devnet.rabbitx", description=__doc__)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8888, help="port to bind; 0 picks a free one (default 8888)")
    p.add_argument(
        "--price",
        action="append",
        default=[],
        metavar="MARKET=PRICE",
        help="fixed index price for a market (repeatable); defaults: BTC-USD=60000 ETH-USD=3000 SOL-USD=150",
    )
    p.add_argument(
        "--feed",
        action="append",
        default=[],
        metavar="MARKET=ADDRESS",
        help="index price from a Chainlink-style feed on the --rpc-url chain (repeatable); replaces --price",
    )
    p.add_argument("--price-script", type=Path, help='JSON {"BTC-USD": [[seconds, price], ...]} of stepped prices')
    p.add_argument("--repeat-script", action="store_true", help="restart the price script after its last step")
    p.add_argument("--no-market-maker", action="store_true", help="run without the market maker")
    p.add_argument("--spread-bps", default="10", help="market maker's best bid-ask spread in bps (default 10)")
    p.add_argument("--levels", type=int, default=5, help="market maker levels per side (default 5)")
    p.add_argument("--level-spacing-bps", default="5", help="extra bps per further level (default 5)")
    p.add_argument("--level-notional", default="20000", help="USD quoted per level (default 20000)")
    p.add_argument("--refresh-ms", type=int, default=500, help="market maker refresh period in ms (default 500)")
    p.add_argument("--match-delay-ms", type=int, default=20, help="delay before an order is matched (default 20)")
    p.add_argument("--funding-interval", type=float, default=3600.0, help="seconds between funding payments")
    p.add_argument("--liquidation-interval", type=float, default=0.5, help="seconds between liquidation checks")
    p.add_argument("--signer-key", help=f"hex key signing withdrawals (else ${SIGNER_ENV}, else a random one)")
    p.add_argument("--chain-id", type=int, default=31337, help="chain id in the withdrawal EIP-712 domain")
    p.add_argument(
        "--custody-address",
        default="0x0000000000000000000000000000000000000000",
        help="verifyingContract in the withdrawal EIP-712 domain",
    )
    p.add_argument(
        "--rpc-url",
        help="JSON-RPC URL of the chain with the custody contract (--custody-address): its deposits are credited "
        "after --confirmations blocks and its paid withdrawals marked; without it deposits are never credited",
    )
    p.add_argument("--confirmations", type=int, default=3, help="blocks a deposit needs, its own included (default 3)")
    p.add_argument("--from-block", type=int, default=0, help="first block to read custody events from (default 0)")
    p.add_argument("--chain-poll-interval", type=float, default=1.0, help="seconds between chain reads (default 1)")
    p.add_argument(
        "--withdrawal-block-seconds",
        type=float,
        default=0.5,
        help="seconds one withdrawal processing block lasts: a withdrawal is pending 1, 10, 100 or 1,800 blocks by "
        "amount (RabbitX's tiers: under 10,000, 100,000, 1,000,000, and above) before it is claimable; 0: at once "
        "(default 0.5)",
    )
    p.add_argument("--collateral-decimals", type=int, default=6, help="decimals of the collateral token (default 6)")
    p.add_argument(
        "--rate-limit",
        type=int,
        help="request tokens per minute per client IP, as RabbitX counts them (RabbitX: 1200; default: no limit)",
    )
    p.add_argument("--log-level", default="WARNING", help="logging level on stderr (default WARNING)")
    return p


def _markets(prices: list[str]) -> list[MarketConfig]:
    markets = {m.market_id: m for m in default_markets()}
    for item in prices:
        market_id, sep, text = item.partition("=")
        if not sep or market_id not in markets:
            raise UsageError(f"--price {item!r}: expected MARKET=PRICE with MARKET one of {', '.join(markets)}")
        price = parse_decimal(text, f"--price {market_id}")
        if price <= 0:
            raise UsageError(f"--price {item!r}: the price must be positive")
        m = markets[market_id]
        markets[market_id] = MarketConfig(m.market_id, m.min_tick, m.min_order, price, m.risk, m.maker_fee, m.taker_fee)
    return list(markets.values())


def _feeds(items: list[str], markets: list[MarketConfig]) -> dict[str, str]:
    known = {m.market_id for m in markets}
    feeds: dict[str, str] = {}
    for item in items:
        market_id, sep, address = item.partition("=")
        if not sep or market_id not in known or not Web3.is_address(address):
            raise UsageError(f"--feed {item!r}: expected MARKET=ADDRESS with MARKET one of {', '.join(sorted(known))}")
        feeds[market_id] = Web3.to_checksum_address(address)
    return feeds


def _signer_key(given: str | None) -> str:
    key = given or os.environ.get(SIGNER_ENV) or "0x" + secrets.token_hex(32)
    try:
        Account.from_key(key)
    except Exception as exc:
        raise UsageError(f"signer key is not a valid private key: {exc}") from None
    return key


async def _serve(args: argparse.Namespace) -> int:
    markets = _markets(args.price)
    oracle: Oracle
    if args.feed:
        if not args.rpc_url:
            raise UsageError("--feed needs --rpc-url, the chain the feeds are on")
        oracle = ChainFeedOracle(args.rpc_url, _feeds(args.feed, markets))
    elif args.price_script is not None:
        oracle = ScriptedOracle.from_file(args.price_script, repeat=args.repeat_script)
    else:
        oracle = FixedOracle({m.market_id: m.index_price for m in markets})
    exchange = ExchangeConfig(
        signer_key=_signer_key(args.signer_key),
        withdrawal_block_seconds=args.withdrawal_block_seconds,
        markets=markets,
        chain_id=args.chain_id,
        custody_address=args.custody_address,
        collateral_decimals=args.collateral_decimals,
    )
    chain = None
    if args.rpc_url:
        if int(args.custody_address, 16) == 0:
            raise UsageError("--rpc-url needs --custody-address, the custody contract's address")
        try:
            chain = ChainWatchConfig(
                args.rpc_url, args.custody_address, args.confirmations, args.chain_poll_interval, args.from_block
            )
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    config = DevnetConfig(
        chain=chain,
        exchange=exchange,
        match_delay=args.match_delay_ms / 1000,
        funding_interval=args.funding_interval,
        liquidation_interval=args.liquidation_interval,
        rate_limit=args.rate_limit,
    )
    devnet = RabbitXDevnet(config, index_oracle=oracle)
    quote_config = QuoteConfig(
        spread_bps=parse_decimal(args.spread_bps, "--spread-bps"),
        levels=args.levels,
        level_spacing_bps=parse_decimal(args.level_spacing_bps, "--level-spacing-bps"),
        level_notional=parse_decimal(args.level_notional, "--level-notional"),
        refresh_ms=args.refresh_ms,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        async with serve(devnet, args.host, args.port) as running:
            maker_task = None
            if not args.no_market_maker:
                maker = seat_market_maker(devnet, oracle, quote_config)
                maker_task = asyncio.create_task(maker.run(), name="rabbitx-devnet-market-maker")
            print(running.url, flush=True)
            logging.getLogger(__name__).warning(
                "rabbitx devnet at %s (ws %s), withdrawal signer %s",
                running.url,
                running.ws_url,
                devnet.exchange.signer_address,
            )
            await stop.wait()
            if maker_task is not None:
                maker_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await maker_task
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(f"cannot listen on {args.host}:{args.port}: address already in use") from None
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(_serve(args))
    except (UsageError, InputError, MalformedNumberError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m keeper.devnet.dydx``: the replica on fixed or free ports, a maker's book around each oracle price
(with ``--feed``, oracle prices and the maker's book follow the local chain's feeds), funded wallets, until Ctrl-C.
Point the connector's settings at the printed URLs and chain id."""

from __future__ import annotations

import argparse
import contextlib
import threading
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from keeper.devnet.dydx.bridge import BridgeConfig
from keeper.devnet.dydx.chain import BUY, SELL, Chain, MarketConfig
from keeper.devnet.dydx.service import run_replica
from keeper.devnet.rabbitx.market_maker import ChainFeedOracle

MAKER = "dydx1devnetmaker"
MAKER_LEVELS = 5


def maker_quotes(market: MarketConfig, price: Decimal) -> list[tuple[int, Decimal, Decimal]]:
    """The maker's book around `price`, tight as dYdX's majors are: level n at (4n - 3) bps on each side (1, 5, 9,
    ...), n x 1,000 size steps, on the tick."""
    tick = market.price(market.subticks_per_tick)
    quotes = []
    for level in range(1, MAKER_LEVELS + 1):
        offset = price * Decimal(4 * level - 3) / 10_000
        size = market.size(market.step_base_quantums * 1000 * level)
        quotes.append((SELL, ((price + offset) / tick).to_integral_value(ROUND_CEILING) * tick, size))
        quotes.append((BUY, ((price - offset) / tick).to_integral_value(ROUND_FLOOR) * tick, size))
    return quotes


def follow_feeds(chain: Chain, oracle: ChainFeedOracle, interval: float, stop: threading.Event) -> None:
    """Every `interval` seconds, each fed market's oracle price from its feed and the maker's book around it."""
    while not stop.wait(interval):
        for ticker in oracle.feeds:
            market = chain.market_by_ticker(ticker)
            price = oracle(ticker)
            if market is not None and price is not None and price > 0:
                chain.set_oracle_price(ticker, price)
                chain.replace_resting(MAKER, 0, ticker, maker_quotes(market, price))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m keeper.devnet.dydx", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--indexer-port", type=int, default=3002, help="0 for a free port (dYdX's local default: 3002)")
    parser.add_argument("--grpc-port", type=int, default=9090, help="0 for a free port (dYdX's local default: 9090)")
    parser.add_argument("--noble-port", type=int, default=9190, help="Noble's gRPC port, 0 for a free one")
    parser.add_argument("--block-interval", type=float, default=1.0, help="seconds per block")
    parser.add_argument("--fund", action="append", default=[], metavar="ADDRESS=USDC", help="credit a dydx1 address")
    bridge = parser.add_argument_group("the CCTP bridge to Ethereum (all three, or none)")
    bridge.add_argument("--rpc-url", help="the Ethereum node whose bridge deposits are credited")
    bridge.add_argument("--bridge-address", help="the bridge contract (DevnetCctpBridge)")
    bridge.add_argument("--attester-key", help="the private key that attests withdrawals (the bridge's attester)")
    bridge.add_argument("--confirmations", type=int, default=1, help="blocks a deposit waits for (1: when mined)")
    bridge.add_argument("--from-block", type=int, default=0, help="first block to read the bridge's deposits from")
    parser.add_argument(
        "--feed",
        action="append",
        default=[],
        metavar="TICKER=ADDRESS",
        help="oracle price and the maker's book from a Chainlink-style feed on the --rpc-url chain (repeatable)",
    )
    parser.add_argument("--feed-interval", type=float, default=0.5, help="seconds between feed reads")
    args = parser.parse_args()
    feeds = dict(entry.partition("=")[::2] for entry in args.feed)
    if feeds and not args.rpc_url:
        parser.error("--feed needs --rpc-url, the chain the feeds are on")
    unknown = sorted(set(feeds) - {m.ticker for m in Chain().markets})
    if unknown:
        parser.error(f"--feed: unknown market {', '.join(unknown)}")
    given = [args.rpc_url, args.bridge_address, args.attester_key]
    if any(given) and not all(given):
        parser.error("--rpc-url, --bridge-address and --attester-key go together")
    bridge_config = None
    if all(given):
        bridge_config = BridgeConfig(
            args.rpc_url, args.bridge_address, args.attester_key, args.confirmations, from_block=args.from_block
        )

    chain = Chain()
    chain.fund(MAKER, Decimal(100_000_000))
    oracle = ChainFeedOracle(args.rpc_url, feeds) if feeds else None
    for market in chain.markets:
        price = oracle(market.ticker) if oracle is not None and market.ticker in feeds else None
        if price:
            chain.set_oracle_price(market.ticker, price)
        chain.replace_resting(MAKER, 0, market.ticker, maker_quotes(market, price or market.oracle_price))
    for entry in args.fund:
        address, _, amount = entry.partition("=")
        chain.fund(address, Decimal(amount))

    with run_replica(
        chain, args.block_interval, args.host, args.indexer_port, args.grpc_port, bridge_config, args.noble_port
    ) as replica:
        print(f"indexer_url = {replica.indexer_url}", f"validator_url = {replica.validator_url}", sep="\n")
        print(f"noble_url = {replica.noble_url}", f"noble_chain_id = {replica.noble.chain_id}", sep="\n")
        print(f"chain_id = {chain.chain_id}", flush=True)
        stop = threading.Event()
        if oracle is not None:
            threading.Thread(
                target=follow_feeds, args=(chain, oracle, args.feed_interval, stop), name="feeds", daemon=True
            ).start()
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()


if __name__ == "__main__":
    main()

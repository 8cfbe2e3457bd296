"""``python -m keeper.devnet.dydx``: the replica on fixed or free ports, a maker's book around each oracle price,
funded wallets, until Ctrl-C. Point the connector's settings at the printed URLs and chain id."""

from __future__ import annotations

import argparse
import contextlib
import threading
from decimal import Decimal

from keeper.devnet.dydx.bridge import BridgeConfig
from keeper.devnet.dydx.chain import BUY, SELL, Chain
from keeper.devnet.dydx.service import run_replica

MAKER = "dydx1devnetmaker"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m keeper.devnet.dydx", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--indexer-port", type=int, default=3002, help="0 for a free port (dYdX's local default: 3002)")
    parser.add_argument("--grpc-port", type=int, default=9090, help="0 for a free port (dYdX's local default: 9090)")
    parser.add_argument("--block-interval", type=float, default=1.0, help="seconds per block")
    parser.add_argument("--fund", action="append", default=[], metavar="ADDRESS=USDC", help="credit a dydx1 address")
    bridge = parser.add_argument_group("the CCTP bridge to Ethereum (all three, or none)")
    bridge.add_argument("--rpc-url", help="the Ethereum node whose bridge deposits are credited")
    bridge.add_argument("--bridge-address", help="the bridge contract (DevnetCctpBridge)")
    bridge.add_argument("--attester-key", help="the private key that attests withdrawals (the bridge's attester)")
    bridge.add_argument("--confirmations", type=int, default=1, help="blocks a deposit waits for (1: when mined)")
    bridge.add_argument("--from-block", type=int, default=0, help="first block to read the bridge's deposits from")
    args = parser.parse_args()
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
    for market in chain.markets:
        for level in range(1, 6):
            offset = market.oracle_price * Decimal(level) / 1000
            size = market.size(market.step_base_quantums * 1000 * level)
            chain.rest_order(MAKER, 0, market.ticker, SELL, market.oracle_price + offset, size)
            chain.rest_order(MAKER, 0, market.ticker, BUY, market.oracle_price - offset, size)
    for entry in args.fund:
        address, _, amount = entry.partition("=")
        chain.fund(address, Decimal(amount))

    with run_replica(
        chain, args.block_interval, args.host, args.indexer_port, args.grpc_port, bridge_config
    ) as replica:
        print(f"indexer_url = {replica.indexer_url}", f"validator_url = {replica.validator_url}", sep="\n")
        print(f"chain_id = {chain.chain_id}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()

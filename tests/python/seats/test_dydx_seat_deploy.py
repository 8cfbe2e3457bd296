"""The dYdX seat as the devnet deploys it: dYdX's units in the adapter's market parameters, the keeper's dYdX address
as the bridge's recipient, and margin sent across the bridge, in flight until dYdX reports it credited."""

from __future__ import annotations

from decimal import Decimal

from bip_utils import Bech32Decoder
from eth_account import Account

from keeper.client.trading import TradingClient
from keeper.devnet.deploy import DYDX_SEAT_VENUE, NOBLE_DOMAIN, add_dydx_seat, deploy_cctp_bridge
from keeper.devnet.dydx.chain import MAINNET_LIKE_MARKETS
from tests.python.conftest import Chain

DYDX_ADDRESS = "dydx199tqg4wdlnu4qjlxchpd7seg454937hjrknju4"


def test_the_dydx_seat_carries_dydx_units_and_sends_margin_over_the_bridge(chain: Chain) -> None:
    admin = chain.client(0)
    assert admin.sender is not None
    bridge = deploy_cctp_bridge(admin.sender, chain.deployment, Account.create().address)
    deployment = add_dydx_seat(
        admin.sender, chain.deployment, bridge, DYDX_ADDRESS, MAINNET_LIKE_MARKETS, Decimal("0.0005")
    )
    trading = TradingClient(chain.w3, deployment, admin.sender)
    venue = trading.venue_id(DYDX_SEAT_VENUE)
    seat = trading.seat_adapter(venue)
    btc, eth = seat.market(0), seat.market(1)
    assert (btc.step_size, btc.tick_size) == (10**14, 10**18), "0.0001 BTC, 1 USD"
    assert (eth.step_size, eth.tick_size) == (10**15, 10**17), "0.001 ETH, 0.1 USD"
    assert (btc.initial_margin_ppm, btc.maintenance_margin_ppm, btc.taker_fee_ppm) == (50_000, 30_000, 500)
    recipient = seat.contract.functions.mintRecipient().call()
    assert recipient[-20:] == Bech32Decoder.Decode("dydx", DYDX_ADDRESS)
    assert seat.contract.functions.destinationDomain().call() == NOBLE_DOMAIN

    usdc = chain.client(0).token(deployment.base.symbol)
    usdc.mint(admin.sender.address, 10_000 * 10**6)
    chain.client(0).deposit(admin.sender.address, deployment.base.symbol, 10_000 * 10**6)
    trading.deposit_margin(venue, 5_000 * 10**6)
    assert usdc.balance_of(bridge) == 5_000 * 10**6
    assert seat.deposits_in_flight() == 5_000 * 10**6

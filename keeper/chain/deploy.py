"""Deploys the PrimeVault system: the local set of mock tokens and feeds, and the vault configured over them."""

from __future__ import annotations

from dataclasses import dataclass

from eth_typing import ChecksumAddress
from web3 import Web3

from keeper.chain.artifacts import load_artifact
from keeper.chain.deployment import Deployment, MarketInfo, TokenInfo, VenueInfo
from keeper.chain.transactions import Sender

FEED_DECIMALS = 8


@dataclass(frozen=True)
class CollateralSpec:
    """A collateral asset of the local deployment and its starting risk parameters."""

    symbol: str
    name: str
    decimals: int
    price: int  # whole base units per token, e.g. 3000
    initial_haircut_bps: int
    maintenance_haircut_bps: int
    liquidation_penalty_bps: int
    supply_cap: int  # whole tokens
    # Bounds for the risk manager's haircut updates.
    min_haircut_bps: int
    max_haircut_bps: int
    max_step_bps: int
    min_update_interval: int


LOCAL_COLLATERAL = (
    CollateralSpec("WETH", "Wrapped Ether", 18, 3_000, 2000, 1500, 500, 1_000_000, 1000, 5000, 500, 3600),
    CollateralSpec("WBTC", "Wrapped Bitcoin", 8, 60_000, 2000, 1500, 600, 20_000, 1000, 5000, 500, 3600),
)


@dataclass(frozen=True)
class PerpMarketSpec:
    """A perp market on both local venues, with different depth, spread and fees so routing has choices."""

    ticker: str
    feed_symbol: str
    # dYdX style: units and parameters
    atomic_resolution: int
    quantum_conversion_exponent: int
    step_base_quantums: int
    subticks_per_tick: int
    dydx_fee_ppm: int
    dydx_half_spread_ppm: int
    dydx_depth: int  # whole base units
    # RabbitX style
    rabbit_imf_ppm: int
    rabbit_mmf_ppm: int
    rabbit_fee_ppm: int
    rabbit_half_spread_ppm: int
    rabbit_depth: int  # whole base units
    rabbit_step: int  # 1e18-scaled
    rabbit_tick: int  # 1e18-scaled


LOCAL_MARKETS = (
    PerpMarketSpec(
        "BTC-USD", "WBTC", -10, -9, 1_000_000, 100_000, 500, 100, 2000, 20_000, 10_000, 700, 50, 1000, 10**14, 10**18
    ),
    PerpMarketSpec(
        "ETH-USD", "WETH", -9, -9, 1_000_000, 100_000, 500, 150, 20_000, 20_000, 10_000, 700, 80, 10_000, 10**15, 10**17
    ),
)
VENUE_POOL = 10_000_000  # USDC each venue holds as the counterparty of every trade
RABBIT_WITHDRAWAL_DELAY = 24 * 3600

# A local chain has no oracle network updating feeds, so staleness is generous; real feeds use their heartbeat.
LOCAL_MAX_STALENESS = 7 * 24 * 3600


def deploy_local_system(sender: Sender, *, max_staleness: int = LOCAL_MAX_STALENESS) -> Deployment:
    """Deploys USDC, WETH and WBTC mocks, their feeds and the vault, lists the collateral, and gives the
    sender every role (admin, risk manager, pause guardian)."""
    w3 = sender.w3
    start_block = w3.eth.block_number
    token = load_artifact("MockERC20")
    feed = load_artifact("MockPriceFeed")
    vault_artifact = load_artifact("PrimeVault")

    def deploy_token(name: str, symbol: str, decimals: int) -> ChecksumAddress:
        factory = w3.eth.contract(abi=token.abi, bytecode=token.bytecode)
        return sender.deploy(f"deploy {symbol}", factory.constructor(name, symbol, decimals))

    usdc = deploy_token("USD Coin", "USDC", 6)
    vault_factory = w3.eth.contract(abi=vault_artifact.abi, bytecode=vault_artifact.bytecode)
    vault_address = sender.deploy("deploy PrimeVault", vault_factory.constructor(usdc, sender.address))
    vault = w3.eth.contract(address=vault_address, abi=vault_artifact.abi)
    lens_artifact = load_artifact("PrimeVaultLens")
    lens_address = sender.deploy(
        "deploy PrimeVaultLens", w3.eth.contract(abi=lens_artifact.abi, bytecode=lens_artifact.bytecode).constructor()
    )

    collateral = []
    for spec in LOCAL_COLLATERAL:
        asset = deploy_token(spec.name, spec.symbol, spec.decimals)
        feed_factory = w3.eth.contract(abi=feed.abi, bytecode=feed.bytecode)
        feed_address = sender.deploy(
            f"deploy {spec.symbol} feed",
            feed_factory.constructor(
                f"{spec.symbol} / USD", FEED_DECIMALS, spec.price * 10**FEED_DECIMALS, sender.address
            ),
        )
        sender.transact(
            f"list {spec.symbol}",
            vault.functions.listAsset(
                asset,
                feed_address,
                max_staleness,
                spec.initial_haircut_bps,
                spec.maintenance_haircut_bps,
                spec.liquidation_penalty_bps,
                spec.supply_cap * 10**spec.decimals,
            ),
        )
        sender.transact(
            f"set {spec.symbol} haircut bounds",
            vault.functions.setHaircutBounds(
                asset, spec.min_haircut_bps, spec.max_haircut_bps, spec.max_step_bps, spec.min_update_interval
            ),
        )
        collateral.append(TokenInfo(spec.symbol, asset, spec.decimals, feed_address))

    venues = _deploy_venues(sender, usdc, {c.symbol: c.feed for c in collateral if c.feed}, max_staleness)

    for role in ("RISK_MANAGER_ROLE", "PAUSE_GUARDIAN_ROLE"):
        role_id = vault.functions[role]().call()
        sender.transact(f"grant {role}", vault.functions.grantRole(role_id, sender.address))

    return Deployment(
        chain_id=w3.eth.chain_id,
        vault=vault_address,
        lens=lens_address,
        base=TokenInfo("USDC", Web3.to_checksum_address(usdc), 6),
        collateral=tuple(collateral),
        block=start_block,
        roles={"admin": sender.address, "risk_manager": sender.address, "pause_guardian": sender.address},
        venues=venues,
        markets=tuple(MarketInfo(m.ticker, _feed_of(collateral, m.feed_symbol)) for m in LOCAL_MARKETS),
    )


def _feed_of(collateral: list[TokenInfo], symbol: str) -> ChecksumAddress:
    feed = next(c.feed for c in collateral if c.symbol == symbol)
    assert feed is not None
    return feed


def _deploy_venues(
    sender: Sender, usdc: ChecksumAddress, feeds: dict[str, ChecksumAddress], max_staleness: int
) -> tuple[VenueInfo, ...]:
    """The two local perp venues, each listing every market of `LOCAL_MARKETS`, with pools funded."""
    w3 = sender.w3
    dydx_artifact, rabbit_artifact = load_artifact("DydxStyleVenue"), load_artifact("RabbitStyleVenue")
    dydx_address = sender.deploy(
        "deploy dydx venue",
        w3.eth.contract(abi=dydx_artifact.abi, bytecode=dydx_artifact.bytecode).constructor(usdc, sender.address),
    )
    rabbit_address = sender.deploy(
        "deploy rabbitx venue",
        w3.eth.contract(abi=rabbit_artifact.abi, bytecode=rabbit_artifact.bytecode).constructor(
            usdc, sender.address, RABBIT_WITHDRAWAL_DELAY
        ),
    )
    dydx = w3.eth.contract(address=dydx_address, abi=dydx_artifact.abi)
    rabbit = w3.eth.contract(address=rabbit_address, abi=rabbit_artifact.abi)
    for m in LOCAL_MARKETS:
        feed = feeds[m.feed_symbol]
        pair = (
            m.atomic_resolution,
            m.quantum_conversion_exponent,
            m.step_base_quantums,
            m.subticks_per_tick,
            0,
            m.ticker,
        )
        depth_quantums = m.dydx_depth * 10 ** (-m.atomic_resolution)
        sender.transact(
            f"list {m.ticker} on dydx",
            dydx.functions.createClobPair(
                pair, feed, max_staleness, m.dydx_fee_ppm, m.dydx_half_spread_ppm, depth_quantums
            ),
        )
        sender.transact(
            f"list {m.ticker} on rabbitx",
            rabbit.functions.addMarket(
                m.ticker,
                feed,
                max_staleness,
                m.rabbit_imf_ppm,
                m.rabbit_mmf_ppm,
                m.rabbit_fee_ppm,
                m.rabbit_half_spread_ppm,
                m.rabbit_depth * 10**18,
                m.rabbit_step,
                m.rabbit_tick,
            ),
        )
    token = w3.eth.contract(address=usdc, abi=load_artifact("MockERC20").abi)
    for venue in (dydx_address, rabbit_address):
        sender.transact("fund venue pool", token.functions.mint(venue, VENUE_POOL * 10**6))
    return (VenueInfo("dydx", dydx_address), VenueInfo("rabbitx", rabbit_address))

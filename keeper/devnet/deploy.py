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
    initial_margin_bps: int  # the vault's, never looser than the venues'
    maintenance_margin_bps: int
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
        ticker="BTC-USD",
        feed_symbol="WBTC",
        atomic_resolution=-10,
        quantum_conversion_exponent=-9,
        step_base_quantums=1_000_000,
        subticks_per_tick=100_000,
        initial_margin_bps=1000,
        maintenance_margin_bps=500,
        dydx_fee_ppm=500,
        dydx_half_spread_ppm=100,
        dydx_depth=2000,
        rabbit_imf_ppm=20_000,
        rabbit_mmf_ppm=10_000,
        rabbit_fee_ppm=700,
        rabbit_half_spread_ppm=50,
        rabbit_depth=1000,
        rabbit_step=10**14,
        rabbit_tick=10**18,
    ),
    PerpMarketSpec(
        ticker="ETH-USD",
        feed_symbol="WETH",
        atomic_resolution=-9,
        quantum_conversion_exponent=-9,
        step_base_quantums=1_000_000,
        subticks_per_tick=100_000,
        initial_margin_bps=1000,
        maintenance_margin_bps=500,
        dydx_fee_ppm=500,
        dydx_half_spread_ppm=150,
        dydx_depth=20_000,
        rabbit_imf_ppm=20_000,
        rabbit_mmf_ppm=10_000,
        rabbit_fee_ppm=700,
        rabbit_half_spread_ppm=80,
        rabbit_depth=10_000,
        rabbit_step=10**15,
        rabbit_tick=10**17,
    ),
)
VENUE_POOL = 10_000_000  # USDC each venue holds as the counterparty of every trade
RABBIT_WITHDRAWAL_DELAY = 24 * 3600

# A local chain has no oracle network updating feeds, so staleness is generous; real feeds use their heartbeat.
LOCAL_MAX_STALENESS = 7 * 24 * 3600


def deploy_local_system(sender: Sender, *, max_staleness: int = LOCAL_MAX_STALENESS) -> Deployment:
    """Deploys USDC, WETH and WBTC mocks, their feeds, the vault and its lens, the two perp venues with the
    trading module and its adapters, lists collateral and markets, and gives the sender every role (admin,
    risk manager, pause guardian, executor)."""
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
                (
                    feed_address,
                    max_staleness,
                    spec.initial_haircut_bps,
                    spec.maintenance_haircut_bps,
                    spec.liquidation_penalty_bps,
                    spec.supply_cap * 10**spec.decimals,
                ),
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
    trading_address, venues = _deploy_trading(sender, vault_address, usdc, venues, collateral, max_staleness)

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
        roles={
            "admin": sender.address,
            "risk_manager": sender.address,
            "pause_guardian": sender.address,
            "executor": sender.address,
        },
        trading=trading_address,
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


def _deploy_trading(
    sender: Sender,
    vault_address: ChecksumAddress,
    usdc: ChecksumAddress,
    venues: tuple[VenueInfo, ...],
    collateral: list[TokenInfo],
    max_staleness: int,
) -> tuple[ChecksumAddress, tuple[VenueInfo, ...]]:
    """The trading module, one adapter per venue serving it, the perp markets, and the vault's trust."""
    w3 = sender.w3
    module_artifact = load_artifact("TradingModule")
    module_address = sender.deploy(
        "deploy TradingModule",
        w3.eth.contract(abi=module_artifact.abi, bytecode=module_artifact.bytecode).constructor(
            vault_address, sender.address
        ),
    )
    module = w3.eth.contract(address=module_address, abi=module_artifact.abi)
    vault = w3.eth.contract(address=vault_address, abi=load_artifact("PrimeVault").abi)
    sender.transact("set trading module", vault.functions.setTradingModule(module_address))

    with_adapters = []
    for venue in venues:
        if venue.name == "dydx":
            artifact = load_artifact("DydxAdapter")
            market_ids: list[object] = list(range(len(LOCAL_MARKETS)))
        else:
            artifact = load_artifact("RabbitAdapter")
            market_ids = [m.ticker for m in LOCAL_MARKETS]
        factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        adapter = sender.deploy(
            f"deploy {venue.name} adapter", factory.constructor(module_address, venue.address, usdc, market_ids)
        )
        sender.transact(f"add {venue.name}", module.functions.addVenue(adapter))
        with_adapters.append(VenueInfo(venue.name, venue.address, adapter))
    for m in LOCAL_MARKETS:
        sender.transact(
            f"list {m.ticker}",
            module.functions.addMarket(
                m.ticker,
                _feed_of(collateral, m.feed_symbol),
                max_staleness,
                m.initial_margin_bps,
                m.maintenance_margin_bps,
            ),
        )
    executor = module.functions.EXECUTOR_ROLE().call()
    sender.transact("grant EXECUTOR_ROLE", module.functions.grantRole(executor, sender.address))
    return module_address, tuple(with_adapters)


LOCAL_POOL_SUPPLY = 2_000_000  # USDC the deployer lends to the pool on a local chain
LOCAL_VENUE_MARGIN = 250_000  # USDC posted at each venue from the pool


def seed_local_liquidity(sender: Sender, deployment: Deployment) -> None:
    """On a local chain: lend USDC to the pool and post margin at every venue, so borrowing and trading work
    from the first command."""
    w3 = sender.w3
    usdc = w3.eth.contract(address=deployment.base.address, abi=load_artifact("MockERC20").abi)
    vault = w3.eth.contract(address=deployment.vault, abi=load_artifact("PrimeVault").abi)
    amount = LOCAL_POOL_SUPPLY * 10**deployment.base.decimals
    sender.transact("mint pool USDC", usdc.functions.mint(sender.address, amount))
    sender.transact("approve pool USDC", usdc.functions.approve(deployment.vault, amount))
    sender.transact("supply the pool", vault.functions.deposit(sender.address, deployment.base.address, amount))
    if deployment.trading is None:
        return
    module = w3.eth.contract(address=deployment.trading, abi=load_artifact("TradingModule").abi)
    for venue_id in range(len(deployment.venues)):
        margin = LOCAL_VENUE_MARGIN * 10**deployment.base.decimals
        sender.transact("post venue margin", module.functions.depositMargin(venue_id, margin))


def grant_keeper_roles(sender: Sender, deployment: Deployment, keeper: str) -> None:
    """Gives a keeper key every role its jobs need: EXECUTOR_ROLE on the trading module (orders, backstop
    unwinding, venue margin) and RISK_MANAGER_ROLE on the vault (haircuts). `sender` must be the admin."""
    w3 = sender.w3
    contracts = [(w3.eth.contract(address=deployment.vault, abi=load_artifact("PrimeVault").abi), "RISK_MANAGER_ROLE")]
    if deployment.trading is not None:
        module = w3.eth.contract(address=deployment.trading, abi=load_artifact("TradingModule").abi)
        contracts.append((module, "EXECUTOR_ROLE"))
    for contract, role in contracts:
        role_id = contract.functions[role]().call()
        sender.transact(f"grant {role}", contract.functions.grantRole(role_id, Web3.to_checksum_address(keeper)))

"""Deploys the PrimeVault system on a local chain: mock tokens and feeds, the vault and its lens, the two local perp
venues with the trading module and its adapters. Contracts are created here; every call that configures them goes
through the client layer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from eth_typing import ChecksumAddress
from web3 import Web3

from keeper.chain.artifacts import load_artifact
from keeper.chain.deployment import Deployment, MarketInfo, TokenInfo, VenueInfo
from keeper.chain.transactions import Sender
from keeper.client.portfolio import PortfolioMarginClient
from keeper.client.tokens import TokenClient
from keeper.client.trading import TradingClient
from keeper.client.vault import AssetListing, VaultClient
from keeper.client.venues.dydx import ClobPair, DydxListing, DydxVenue
from keeper.client.venues.rabbitx import RabbitListing, RabbitVenue
from keeper.devnet.dydx.chain import MarketConfig as DydxMarketConfig
from keeper.devnet.rabbitx.exchange import MarketConfig
from keeper.exceptions import ConfigError
from keeper.risk.portfolio import Layout

PPM = 10**6
FEED_DECIMALS = 8  # the local feeds' decimals, as Chainlink's USD feeds; readers take them from each feed


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
VENUE_POOL = 10_000_000  # whole base tokens each venue holds as the counterparty of every trade
RABBIT_WITHDRAWAL_DELAY = 24 * 3600

# A local chain has no oracle network updating feeds, so staleness is generous; real feeds use their heartbeat.
LOCAL_MAX_STALENESS = 7 * 24 * 3600

LOCAL_POOL_SUPPLY = 2_000_000  # whole base tokens the deployer lends to the pool on a local chain
LOCAL_VENUE_MARGIN = 250_000  # whole base tokens posted at each venue from the pool
WALLET_FUNDING = {"USDC": 1_000_000, "WETH": 100, "WBTC": 5}  # whole tokens `fund_wallets` mints to each wallet


def deploy_local_system(sender: Sender, *, max_staleness: int = LOCAL_MAX_STALENESS) -> Deployment:
    """Deploys USDC, WETH and WBTC mocks, their feeds, the vault, its lens and its ERC-4626 lender, the two perp
    venues with the trading module, its adapters and the session keys, lists collateral and markets, and gives the
    sender every role (admin, risk manager, pause guardian, executor)."""
    w3 = sender.w3
    start_block = w3.eth.block_number
    base = TokenInfo("USDC", _create(sender, "MockERC20", "deploy USDC", "USD Coin", "USDC", 6), 6)
    vault = _create(sender, "PrimeVault", "deploy PrimeVault", base.address, sender.address)
    lens = _create(sender, "PrimeVaultLens", "deploy PrimeVaultLens")
    lender = _create(sender, "PrimeVaultLender", "deploy PrimeVaultLender", vault, "PrimeVault USDC lender", "pvUSDC")
    collateral = []
    for spec in LOCAL_COLLATERAL:
        asset = _create(sender, "MockERC20", f"deploy {spec.symbol}", spec.name, spec.symbol, spec.decimals)
        answer = spec.price * 10**FEED_DECIMALS
        feed = _create(
            sender, "MockPriceFeed", f"deploy {spec.symbol} feed", f"{spec.symbol} / USD", FEED_DECIMALS, answer,
            sender.address,
        )  # fmt: skip
        collateral.append(TokenInfo(spec.symbol, asset, spec.decimals, feed))
    markets = tuple(MarketInfo(m.ticker, _feed_of(collateral, m.feed_symbol)) for m in LOCAL_MARKETS)
    venues = _deploy_venues(sender, base, markets, max_staleness)
    trading = _create(sender, "TradingModule", "deploy TradingModule", vault, sender.address)
    sessions = _create(sender, "SessionKeys", "deploy SessionKeys", trading)
    bundler = _create(sender, "PrimeVaultBundler", "deploy PrimeVaultBundler", vault, trading)
    portfolio = _create(sender, "PortfolioMargin", "deploy PortfolioMargin", vault, trading, sender.address)
    venues = tuple(_with_adapter(sender, trading, base.address, venue) for venue in venues)
    deployment = Deployment(
        chain_id=w3.eth.chain_id,
        vault=vault,
        lens=lens,
        base=base,
        collateral=tuple(collateral),
        block=start_block,
        roles={
            "admin": sender.address,
            "risk_manager": sender.address,
            "pause_guardian": sender.address,
            "executor": sender.address,
        },
        trading=trading,
        venues=venues,
        markets=markets,
        lender=lender,
        sessions=sessions,
        bundler=bundler,
        portfolio=portfolio,
    )
    _configure(sender, deployment, max_staleness)
    return deployment


def _create(sender: Sender, artifact: str, action: str, *args: object) -> ChecksumAddress:
    """Deploys the shipped contract `artifact` with constructor arguments `args`."""
    compiled = load_artifact(artifact)
    factory = sender.w3.eth.contract(abi=compiled.abi, bytecode=compiled.bytecode)
    return sender.deploy(action, factory.constructor(*args))


def _feed_of(collateral: list[TokenInfo], symbol: str) -> ChecksumAddress:
    feed = next(c.feed for c in collateral if c.symbol == symbol)
    assert feed is not None
    return feed


def _deploy_venues(
    sender: Sender, base: TokenInfo, markets: tuple[MarketInfo, ...], max_staleness: int
) -> tuple[VenueInfo, ...]:
    """The two local perp venues, each listing every market of `LOCAL_MARKETS`, with pools funded."""
    dydx = DydxVenue(
        sender.w3, _create(sender, "DydxStyleVenue", "deploy dydx venue", base.address, sender.address), sender
    )
    rabbit = RabbitVenue(
        sender.w3,
        _create(
            sender, "RabbitStyleVenue", "deploy rabbitx venue", base.address, sender.address, RABBIT_WITHDRAWAL_DELAY
        ),
        [m.ticker for m in LOCAL_MARKETS],
        sender,
    )
    for m, market in zip(LOCAL_MARKETS, markets, strict=True):
        pair = ClobPair(
            0, m.ticker, m.atomic_resolution, m.quantum_conversion_exponent, m.step_base_quantums, m.subticks_per_tick
        )
        depth_quantums = m.dydx_depth * 10 ** (-m.atomic_resolution)
        dydx.create_clob_pair(
            DydxListing(pair, market.feed, max_staleness, m.dydx_fee_ppm, m.dydx_half_spread_ppm, depth_quantums)
        )
        rabbit.add_market(
            RabbitListing(
                m.ticker,
                market.feed,
                max_staleness,
                m.rabbit_imf_ppm,
                m.rabbit_mmf_ppm,
                m.rabbit_fee_ppm,
                m.rabbit_half_spread_ppm,
                m.rabbit_depth * 10**18,
                m.rabbit_step,
                m.rabbit_tick,
            )
        )
    token = TokenClient(sender.w3, base, sender)
    for venue in (dydx, rabbit):
        token.mint(venue.address, VENUE_POOL * 10**base.decimals)
    return (VenueInfo("dydx", dydx.address), VenueInfo("rabbitx", rabbit.address))


def _with_adapter(sender: Sender, trading: ChecksumAddress, base: ChecksumAddress, venue: VenueInfo) -> VenueInfo:
    """The venue with the adapter that serves the trading module there (each venue names markets its own way)."""
    market_ids: list[object]
    if venue.name == "dydx":
        artifact, market_ids = "DydxAdapter", list(range(len(LOCAL_MARKETS)))
    else:
        artifact, market_ids = "RabbitAdapter", [m.ticker for m in LOCAL_MARKETS]
    adapter = _create(sender, artifact, f"deploy {venue.name} adapter", trading, venue.address, base, market_ids)
    return VenueInfo(venue.name, venue.address, adapter)


def _configure(sender: Sender, deployment: Deployment, max_staleness: int) -> None:
    """Lists collateral with its haircut bounds, trusts the trading module, adds its venues and markets, and
    gives the sender the risk manager, pause guardian and executor roles."""
    vault = VaultClient(sender.w3, deployment, sender)
    for spec, token in zip(LOCAL_COLLATERAL, deployment.collateral, strict=True):
        assert token.feed is not None
        _list(vault, spec, token.feed, max_staleness)
    trading = TradingClient(sender.w3, deployment, sender)
    vault.set_trading_module(trading.address)
    for venue in deployment.venues:
        assert venue.adapter is not None
        trading.add_venue(venue.name, venue.adapter)
    for m, market in zip(LOCAL_MARKETS, deployment.markets, strict=True):
        trading.add_market(m.ticker, market.feed, max_staleness, m.initial_margin_bps, m.maintenance_margin_bps)
    trading.grant_role("EXECUTOR_ROLE", sender.address)
    for role in ("RISK_MANAGER_ROLE", "PAUSE_GUARDIAN_ROLE"):
        vault.grant_role(role, sender.address)
    _configure_portfolio(sender, deployment)


def list_local_asset(
    sender: Sender, deployment: Deployment, spec: CollateralSpec, max_staleness: int = LOCAL_MAX_STALENESS
) -> Deployment:
    """Deploys a mock token and feed for `spec`, lists it in the vault with its haircut bounds, and returns the
    deployment with it (the portfolio rule still has to map it to an underlying)."""
    asset = _create(sender, "MockERC20", f"deploy {spec.symbol}", spec.name, spec.symbol, spec.decimals)
    feed = _create(
        sender, "MockPriceFeed", f"deploy {spec.symbol} feed", f"{spec.symbol} / USD", FEED_DECIMALS,
        spec.price * 10**FEED_DECIMALS, sender.address,
    )  # fmt: skip
    deployment = replace(
        deployment, collateral=(*deployment.collateral, TokenInfo(spec.symbol, asset, spec.decimals, feed))
    )
    _list(VaultClient(sender.w3, deployment, sender), spec, feed, max_staleness)
    return deployment


def _list(vault: VaultClient, spec: CollateralSpec, feed: ChecksumAddress, max_staleness: int) -> None:
    """Lists `spec`'s token (already in the vault client's deployment) with its haircuts and their bounds."""
    listing = AssetListing(
        feed,
        max_staleness,
        spec.initial_haircut_bps,
        spec.maintenance_haircut_bps,
        spec.liquidation_penalty_bps,
        spec.supply_cap * 10**spec.decimals,
    )
    vault.list_asset(spec.symbol, listing)
    vault.set_haircut_bounds(
        spec.symbol, spec.min_haircut_bps, spec.max_haircut_bps, spec.max_step_bps, spec.min_update_interval
    )


def _configure_portfolio(sender: Sender, deployment: Deployment) -> None:
    """The portfolio rule at the keeper's defaults (`DEFAULT_UNDERLYINGS`, docs/risk.md): an underlying per
    collateral asset and market (WETH and ETH-USD are ETH), each asset and market mapped to it."""
    portfolio = PortfolioMarginClient(sender.w3, deployment, sender)
    layout = Layout.from_symbols([t.symbol for t in deployment.collateral], [m.ticker for m in deployment.markets])
    for index, (name, params) in enumerate(zip(layout.underlyings, layout.params().underlyings, strict=True)):
        portfolio.set_underlying(index, name, params)
    for token, index in zip(deployment.collateral, layout.asset_underlying, strict=True):
        portfolio.map_asset(token.address, index)
    for market_id, index in enumerate(layout.market_underlying):
        portfolio.map_market(market_id, index)
    portfolio.grant_role("RISK_MANAGER_ROLE", sender.address)
    VaultClient(sender.w3, deployment, sender).set_portfolio_margin(portfolio.address)


def seed_local_liquidity(sender: Sender, deployment: Deployment) -> None:
    """On a local chain: lend base tokens to the pool and post margin at every venue, so borrowing and trading work
    from the first command."""
    vault = VaultClient(sender.w3, deployment, sender)
    amount = LOCAL_POOL_SUPPLY * 10**deployment.base.decimals
    vault.token(deployment.base.symbol).mint(sender.address, amount)
    vault.deposit(sender.address, deployment.base.symbol, amount)
    if deployment.trading is None:
        return
    trading = TradingClient(sender.w3, deployment, sender)
    for venue_id in range(len(deployment.venues)):
        trading.deposit_margin(venue_id, LOCAL_VENUE_MARGIN * 10**deployment.base.decimals)


def grant_keeper_roles(sender: Sender, deployment: Deployment, keeper: str) -> None:
    """Gives a keeper key every role its jobs need: EXECUTOR_ROLE on the trading module (orders, backstop
    unwinding, venue margin) and RISK_MANAGER_ROLE on the vault and the portfolio rule (haircuts and shocks).
    `sender` must be the admin."""
    VaultClient(sender.w3, deployment, sender).grant_role("RISK_MANAGER_ROLE", keeper)
    if deployment.portfolio is not None:
        PortfolioMarginClient(sender.w3, deployment, sender).grant_role("RISK_MANAGER_ROLE", keeper)
    if deployment.trading is not None:
        TradingClient(sender.w3, deployment, sender).grant_role("EXECUTOR_ROLE", keeper)


def fund_wallets(sender: Sender, deployment: Deployment, wallets: Sequence[str]) -> None:
    """Mints `WALLET_FUNDING` of each test token to `wallets` (the mocks have an open faucet)."""
    vault = VaultClient(sender.w3, deployment, sender)
    for symbol, whole in WALLET_FUNDING.items():
        token = vault.token(symbol)
        for wallet in wallets:
            token.mint(wallet, whole * 10**token.info.decimals)


SEAT_VENUE = "rabbitx-seat"
SEAT_FUNDING_CAP_PER_HOUR = Decimal("0.01")
"""The largest funding step a seat report may make per hour, as a fraction of the market's price at deployment: ten
times the devnet exchange's own cap, so that only a wrong report is refused."""


def deploy_rabbitx_custody(sender: Sender, deployment: Deployment, exchange_signer: str) -> ChecksumAddress:
    """The devnet RabbitX exchange's custody contract over the deployment's base token (a stand-in for the exchange's
    own contract), its withdrawals signed by `exchange_signer`."""
    return _create(
        sender, "RabbitXCustody", "deploy RabbitX custody", deployment.base.address, exchange_signer, sender.address
    )


def add_rabbitx_seat(
    sender: Sender, deployment: Deployment, custody: str, exchange_markets: Sequence[MarketConfig], leverage: int
) -> Deployment:
    """Deploys the vault's seat at the RabbitX-style exchange behind `custody` (`RabbitXSeatAdapter`, the exchange
    account), with the exchange's market parameters (`exchange_markets`, at `leverage`) for each vault market, and
    adds it as the trading module's last venue. Returns the deployment with the seat."""
    by_id = {m.market_id: m for m in exchange_markets}
    params, caps = [], []
    for market in deployment.markets:
        if market.ticker not in by_id:
            raise ConfigError(f"the exchange lists no {market.ticker}: the seat needs every vault market")
        m = by_id[market.ticker]
        initial = max(m.risk.imf, Decimal(1) / leverage)
        params.append(
            (
                _wad(m.min_order),
                _wad(m.min_tick),
                int(initial * PPM),
                int(m.risk.mmf * PPM),
                int(m.taker_fee * PPM),
                0,  # the exchange's spread and depth live in its book, read through its API
                0,
                0,
            )
        )
        caps.append(_wad(m.index_price * SEAT_FUNDING_CAP_PER_HOUR) // 3600)
    assert deployment.trading is not None
    trading = deployment.trading
    adapter = _create(sender, "RabbitXSeatAdapter", "deploy the RabbitX seat", trading, custody, params, caps)
    TradingClient(sender.w3, deployment, sender).add_venue(SEAT_VENUE, adapter)
    seat = VenueInfo(SEAT_VENUE, Web3.to_checksum_address(custody), adapter)
    return replace(deployment, venues=(*deployment.venues, seat))


def _wad(value: Decimal) -> int:
    return int(value.scaleb(18))


DYDX_SEAT_VENUE = "dydx-seat"
NOBLE_DOMAIN = 4  # CCTP's domain for Noble, through which USDC reaches dYdX
ETHEREUM_DOMAIN = 0


def deploy_cctp_bridge(sender: Sender, deployment: Deployment, attester: str) -> ChecksumAddress:
    """The devnet's CCTP-shaped bridge for the base token (`DevnetCctpBridge`, a stand-in for Circle's), paying
    messages back on `attester`'s signature."""
    return _create(
        sender, "DevnetCctpBridge", "deploy the CCTP bridge", deployment.base.address, ETHEREUM_DOMAIN, attester,
        sender.address,
    )  # fmt: skip


def add_dydx_seat(
    sender: Sender,
    deployment: Deployment,
    bridge: str,
    dydx_address: str,
    dydx_markets: Sequence[DydxMarketConfig],
    taker_fee: Decimal,
) -> Deployment:
    """Deploys the vault's seat at dYdX (`DydxSeatAdapter`): margin crosses `bridge` to `dydx_address` (the keeper's
    `dydx1...` address), dYdX's parameters per vault market from `dydx_markets`; adds it as the trading module's last
    venue. Returns the deployment with the seat."""
    by_ticker = {m.ticker: m for m in dydx_markets}
    params, caps = [], []
    for market in deployment.markets:
        if market.ticker not in by_ticker:
            raise ConfigError(f"dYdX lists no {market.ticker}: the seat needs every vault market")
        m = by_ticker[market.ticker]
        step = Decimal(m.step_base_quantums).scaleb(m.atomic_resolution)
        tick = m.price(m.subticks_per_tick)
        initial, maintenance = int(m.initial_margin_fraction * PPM), int(m.maintenance_margin_fraction * PPM)
        params.append((_wad(step), _wad(tick), initial, maintenance, int(taker_fee * PPM), 0, 0, 0))
        caps.append(_wad(m.oracle_price * SEAT_FUNDING_CAP_PER_HOUR) // 3600)
    # bip_utils comes with the dydx extra: imported here so that the core CLI, which imports this module for
    # `devnet`, loads without it.
    from bip_utils import Bech32Decoder

    recipient = Bech32Decoder.Decode("dydx", dydx_address).rjust(32, b"\0")
    assert deployment.trading is not None
    trading, base = deployment.trading, deployment.base.address
    adapter = _create(
        sender, "DydxSeatAdapter", "deploy the dYdX seat", trading, bridge, base, NOBLE_DOMAIN, recipient, params, caps
    )
    TradingClient(sender.w3, deployment, sender).add_venue(DYDX_SEAT_VENUE, adapter)
    seat = VenueInfo(DYDX_SEAT_VENUE, Web3.to_checksum_address(bridge), adapter)
    return replace(deployment, venues=(*deployment.venues, seat))

"""PortfolioMargin: the portfolio rule's parameters on chain and its evaluation for one account.

The on-chain twin of `keeper/risk/portfolio.py`: `rule()` reads what governance set into the keeper's own types, so
`exact_portfolio` over them gives what `requirements()` returns (tests/python/test_portfolio_chain.py checks it unit
for unit on anvil).
"""

from __future__ import annotations

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.types import BlockIdentifier, TxReceipt

from keeper.chain.deployment import Deployment
from keeper.chain.transactions import Sender
from keeper.client.base import AccessControlledClient
from keeper.client.lens import LensClient
from keeper.exceptions import ConfigError
from keeper.risk.portfolio import UNMAPPED, Layout, PortfolioParams, UnderlyingParams

_FIELDS = (
    "shock_bps",
    "min_shock_bps",
    "max_shock_bps",
    "max_shock_step_bps",
    "tail_bps",
    "tail_weight_bps",
    "net_charge_bps",
    "hedged_charge_bps",
    "basis_charge_bps",
    "group",
)


class PortfolioMarginClient(AccessControlledClient):
    def __init__(self, w3: Web3, deployment: Deployment, sender: Sender | None = None) -> None:
        if deployment.portfolio is None:
            raise ConfigError(
                "this deployment has no portfolio rule: deploy PortfolioMargin (the devnet does) and add `portfolio`"
            )
        super().__init__(w3, deployment.portfolio, "PortfolioMargin", sender)
        self.deployment = deployment
        self.lens = LensClient(w3, deployment.lens, deployment.vault)

    # ------------------------------------------------------------------ reads

    def requirements(self, account: str, block: BlockIdentifier = "latest") -> tuple[int, int]:
        """`account`'s (initial, maintenance) requirements under the portfolio rule, base units."""
        fn = self.contract.functions.requirements(Web3.to_checksum_address(account))
        initial, maintenance = self.read("read portfolio requirements", fn, block)
        return int(initial), int(maintenance)

    def underlyings(self, block: BlockIdentifier = "latest") -> list[tuple[str, UnderlyingParams]]:
        f = self.contract.functions
        count = int(self.read("read underlying count", f.underlyingCount(), block))
        result = []
        for index in range(count):
            name, raw = self.read("read underlying", f.underlying(index), block)
            result.append((str(name), UnderlyingParams(**dict(zip(_FIELDS, (int(x) for x in raw), strict=True)))))
        return result

    def rule(self, block: BlockIdentifier = "latest") -> tuple[PortfolioParams, Layout]:
        """The rule as governance set it, in the keeper's types, read in one call through the lens: its parameters
        (underlyings in the contract's order) and which underlying every collateral asset (in the vault's order) and
        perp market belongs to. An asset not mapped yet is `UNMAPPED` (it counts for nothing, as in the contract); an
        unmapped market is a configuration error: the contract refuses to evaluate a position in it too."""
        state = self.lens.portfolio_rule(block)
        if state.portfolio != self.address:
            raise ConfigError(
                f"the vault's portfolio rule is {state.portfolio}, the deployment file names {self.address}: "
                "set `portfolio` in the deployment file to the vault's"
            )
        assets, markets = self.deployment.collateral, self.deployment.markets
        if len(state.asset_underlying) != len(assets) or len(state.market_underlying) != len(markets):
            raise ConfigError(
                f"the vault lists {len(state.asset_underlying)} collateral assets and {len(state.market_underlying)} "
                f"perp markets, the deployment file {len(assets)} and {len(markets)}: update the deployment file"
            )
        for market, index in zip(markets, state.market_underlying, strict=True):
            if index is None:
                raise ConfigError(f"{market.ticker} has no underlying in the portfolio rule: map it (mapMarket)")
        params = PortfolioParams(
            tuple(UnderlyingParams(**dict(zip(_FIELDS, raw, strict=True))) for raw in state.underlyings),
            maintenance_bps=state.maintenance_bps,
            correlation_credit_bps=state.correlation_credit_bps,
        )
        layout = Layout(
            state.names,
            tuple(t.symbol for t in assets),
            tuple(m.ticker for m in markets),
            tuple(UNMAPPED if i is None else i for i in state.asset_underlying),
            tuple(i for i in state.market_underlying if i is not None),
            tuple(v.name for v in self.deployment.venues),
        )
        return params, layout

    def shock_allowed_from(self, index: int, block: BlockIdentifier = "latest") -> int:
        """The first timestamp at which the risk manager may move underlying `index`'s shock again (0 if it was
        never moved: at once)."""
        last = int(self.contract.functions.shockUpdatedAt(index).call(block_identifier=block))
        if last == 0:
            return 0
        return last + int(self.contract.functions.shockUpdateInterval().call(block_identifier=block))

    def market_underlying(self, market_id: int, block: BlockIdentifier = "latest") -> int | None:
        """The underlying perp market `market_id` belongs to, or None if it is not mapped."""
        fn = self.contract.functions.marketUnderlying(market_id)
        mapped, index = self.read("read market underlying", fn, block)
        return int(index) if mapped else None

    def reserves_hedge(self, index: int, block: BlockIdentifier = "latest") -> tuple[int, int]:
        """(value of the collateral reserves hold of underlying `index`, the part of it the backstop book's net short
        covers), base units: what the store front sells at the pair discount and the keeper keeps hedged."""
        reserves, covered = self.read("read reserves hedge", self.contract.functions.reservesHedge(index), block)
        return int(reserves), int(covered)

    # ------------------------------------------------------------------ governance

    def set_underlying(self, index: int, name: str, params: UnderlyingParams) -> TxReceipt:
        raw = tuple(getattr(params, field) for field in _FIELDS)
        return self.send(f"set underlying {name}", self.contract.functions.setUnderlying(index, name, raw))

    def update_shock(self, index: int, shock_bps: int) -> TxReceipt:
        return self.send("update shock", self.contract.functions.updateShock(index, shock_bps))

    def map_asset(self, asset: ChecksumAddress, index: int) -> TxReceipt:
        return self.send("map asset", self.contract.functions.mapAsset(asset, index))

    def map_market(self, market: int, index: int) -> TxReceipt:
        return self.send("map market", self.contract.functions.mapMarket(market, index))

    def set_rule(self, maintenance_bps: int, correlation_credit_bps: int) -> TxReceipt:
        return self.send("set portfolio rule", self.contract.functions.setRule(maintenance_bps, correlation_credit_bps))

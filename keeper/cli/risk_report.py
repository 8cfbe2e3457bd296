"""One sub-account's requirement under both margin rules, read at one block: what `primevault risk explain` prints and
what the web page's scenario grid shows (`/api/portfolio`), from one implementation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_typing import ChecksumAddress

from keeper.chain.deployment import TokenInfo
from keeper.client.clients import Clients
from keeper.client.portfolio import PortfolioMarginClient
from keeper.exceptions import PriceUnusableError
from keeper.liquidator import parameters
from keeper.risk.health import MAX_VENUES, ExactHealth, exact_health
from keeper.risk.portfolio import SCENARIO_LABELS, ExactPortfolio, Layout, PortfolioParams, exact_portfolio
from keeper.units import plain_units


@dataclass(frozen=True)
class AccountRisk:
    account: ChecksumAddress
    block: int
    margined_by: str  # "portfolio" or "standard": the rule the vault applies to the account
    standard: ExactHealth  # the standard rule's figures (and the account's equity)
    book: ExactPortfolio  # the portfolio rule's scenario grid over the account's book
    layout: Layout
    rule: PortfolioParams  # the portfolio rule's parameters on chain (the defaults where none is deployed)
    # Initial margin the account's open child orders reserve: the vault adds it to the initial requirement of either
    # rule (not to `standard` and `book`, the books' own figures), so the initial figures shown include it.
    reserved: int = 0

    @property
    def standard_initial(self) -> int:
        return self.standard.initial_requirement + self.reserved

    @property
    def portfolio_initial(self) -> int:
        return self.book.initial + self.reserved


def read_account_risk(clients: Clients, account: ChecksumAddress) -> AccountRisk:
    """Both rules' figures for `account` at the latest block, with the parameters set on chain, computed by the
    keeper's exact engines (the vault's figures to the unit)."""
    deployment = clients.deployment
    block = clients.w3.eth.block_number
    state = clients.lens.risk_state(block)
    params = parameters(state)
    vault = clients.vault
    base = vault.base_balance(account, block)
    balances = [vault.collateral_balance(account, t.symbol, block) for t in deployment.collateral]
    entries = clients.trading.book_entries(account, block) if clients.trading is not None else []
    positions = [(slot, e.size, e.entry_price, e.funding_index) for slot, e in entries]
    # An unusable price reads as 0: figures computed with it would look like the account's and are not.
    unpriced = [deployment.collateral[i].symbol for i in state.unusable_assets if balances[i]]
    unpriced += sorted(
        {deployment.markets[slot // MAX_VENUES].ticker for slot, *_ in positions}
        & {deployment.markets[m].ticker for m in state.unusable_markets}
    )
    if unpriced:
        raise PriceUnusableError(
            f"the {' and '.join(unpriced)} price feed is stale or invalid at block {block}: the health of {account}"
            " cannot be computed until it updates (the vault cannot judge it either)"
        )
    if deployment.portfolio is not None:
        rule, layout = PortfolioMarginClient(clients.w3, deployment).rule(block)
        margined_by = "portfolio" if vault.portfolio_mode(account, block) else "standard"
    else:
        layout = Layout.from_symbols([t.symbol for t in deployment.collateral], [m.ticker for m in deployment.markets])
        rule, margined_by = layout.params(), "standard"
    return AccountRisk(
        account=account,
        block=block,
        margined_by=margined_by,
        standard=exact_health(base, balances, params, positions),
        book=exact_portfolio(balances, positions, params, layout, rule),
        layout=layout,
        rule=rule,
        reserved=clients.trading.reservation(account, block)[0] if clients.trading is not None else 0,
    )


def risk_document(risk: AccountRisk, base: TokenInfo) -> dict[str, Any]:
    """`risk` as JSON: amounts in whole base tokens as exact decimal strings. `portfolio.grid` has, per underlying
    the account holds, its loss in every scenario (in `scenarios` order, a gain negative), the worst one, what each
    leg loses in it and the charges; `portfolio.groups` the correlation credit of each group of underlyings."""

    def units(value: int) -> str:
        return plain_units(value, base.decimals)

    book, layout = risk.book, risk.layout
    grid = []
    for r in book.underlyings:
        p = risk.rule.underlyings[r.underlying]
        grid.append(
            {
                "underlying": layout.underlyings[r.underlying],
                "shock_bps": p.shock_bps,
                "tail_bps": p.tail_bps,
                "losses": [units(loss) for loss in r.losses],
                "worst": SCENARIO_LABELS[r.worst],
                "legs": [
                    {
                        "leg": layout.leg_name(leg.leg),
                        "notional": units(leg.notional),
                        "loss": units(leg.losses[r.worst]),
                    }
                    for leg in r.legs
                ],
                "charges": units(r.net_charge + r.hedged_charge + r.basis_charge),
            }
        )
    return {
        "account": risk.account,
        "block": risk.block,
        "symbol": base.symbol,
        "equity": units(risk.standard.equity),
        "margined_by": risk.margined_by,
        "reserved_by_open_orders": units(risk.reserved),
        "standard": {
            "initial": units(risk.standard_initial),
            "maintenance": units(risk.standard.maintenance_requirement),
        },
        "portfolio": {
            "initial": units(risk.portfolio_initial),
            "maintenance": units(book.maintenance),
            "scan": units(book.scan),
            "charges": units(book.charges),
            # Collateral of assets the rule does not map yet, by symbol: counted for nothing (added to both).
            "unmapped": {layout.asset_symbols[leg]: units(value) for leg, value in book.unmapped},
            "worst": {layout.underlyings[r.underlying]: SCENARIO_LABELS[r.worst] for r in book.underlyings},
            "scenarios": list(SCENARIO_LABELS),
            "grid": grid,
            "groups": [
                {
                    "group": g.group,
                    "independent": units(g.independent),
                    "credit": units(g.credit),
                    "scan": units(g.scan),
                }
                for g in book.groups
            ],
        },
    }

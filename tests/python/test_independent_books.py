"""Random books on a real anvil against the independent model (`tests/python/independent_model.py`, written from
`docs/risk.md` alone): sub-accounts of collateral, debt and perp positions at both on-chain venues, in either margin
mode, under random portfolio-rule parameters (groups, correlation credit, maintenance fraction), odd prices and time
steps. Every account's health (the standard rule's or the portfolio rule's requirements, `liquidationTerms`) matches
the model to the unit, the keeper's scan finds exactly the accounts the vault would liquidate, and each collateral-only
liquidation takes, credits and rewards what the model says."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from keeper.client.clients import Clients
from keeper.client.portfolio import PortfolioMarginClient
from keeper.client.trading import TradingClient
from keeper.client.vault import sub_account
from keeper.liquidator import scan
from keeper.portfolio_rule import PortfolioRule
from keeper.risk.portfolio import UnderlyingParams
from tests.python.conftest import Chain
from tests.python.independent_model import (
    WAD,
    Asset,
    Leg,
    MarketTerms,
    Slot,
    Underlying,
    absorb_collateral,
    collateral_requirements,
    liquidation_terms,
    perp_risk,
    portfolio_requirements,
)

BASE_UNIT = 10**12  # WAD per USDC unit
OWNER = 1
ACCOUNTS = 14
ROUNDS = 3
MARKS = {"ETH-USD": 3000, "BTC-USD": 60_000}
STEPS = {"ETH-USD": Decimal("0.001"), "BTC-USD": Decimal("0.0001")}


def build_books(chain: Chain, rng: random.Random) -> list[str]:
    """Random deposits, a mode, up to three orders at a random venue and a borrow of half to all the room left."""
    owner = chain.account(OWNER).address
    user = chain.client(OWNER)
    executor = TradingClient(chain.w3, chain.deployment, chain.client(0).sender)
    trader = TradingClient(chain.w3, chain.deployment, user.sender)
    accounts = []
    for sub_id in range(ACCOUNTS):
        me = sub_account(owner, sub_id)
        for symbol, most in (("WETH", 20), ("WBTC", 2), ("USDC", 60_000)):
            if rng.random() < 0.6 or symbol == "USDC":
                amount = rng.randint(
                    10 ** chain.deployment.token(symbol).decimals, most * 10 ** chain.deployment.token(symbol).decimals
                )
                chain.client(0).token(symbol).mint(owner, amount)
                user.deposit(me, symbol, amount)
        if rng.random() < 0.5:
            user.set_portfolio_mode(me, True)
        deadline = int(chain.w3.eth.get_block("latest")["timestamp"]) + 600
        for _ in range(rng.choice((0, 0, 1, 2, 3))):
            ticker = rng.choice(tuple(MARKS))
            size = STEPS[ticker] * rng.randint(1, 4000) * rng.choice((1, -1))
            limit = MARKS[ticker] * (Decimal("1.05") if size > 0 else Decimal("0.95"))
            order_id = trader.submit(me, ticker, size, limit, deadline)
            executor.execute([order_id], at_venue=rng.randrange(2))  # refused orders are cancelled: no matter
        health = chain.client(0).health(me)
        room = health.equity - health.initial_requirement
        amount = rng.randint(room * 3 // 4, room) if room > 0 else 0
        if amount - max(health.base_balance, 0) >= 200 * 10**6:  # leaves at least the minimum borrow owed
            user.borrow(me, amount)
        accounts.append(me)
    return accounts


def random_rule(chain: Chain, rng: random.Random) -> None:
    rule = PortfolioMarginClient(chain.w3, chain.deployment, chain.client(0).sender)
    for index, name in enumerate(("ETH", "BTC")):
        low = rng.randint(100, 2000)
        high = rng.randint(low, 5000)
        params = UnderlyingParams(
            rng.randint(low, high), low, high, 500, rng.randint(100, 9000), rng.randint(0, 10_000),
            rng.randint(100, 2000), rng.randint(50, 1000), rng.randint(50, 1000), rng.choice((0, 0, 1)),
        )  # fmt: skip
        rule.set_underlying(index, name, params)
    rule.set_rule(rng.randint(2500, 9000), rng.randint(0, 5000))


FEED_ABI = [
    {
        "name": "latestRoundData",
        "type": "function",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [
            {"type": "uint80"},
            {"type": "int256"},
            {"type": "uint256"},
            {"type": "uint256"},
            {"type": "uint80"},
        ],
    }
]


class Book:
    """One account as the model takes it, read from the contracts' views at the latest block."""

    def __init__(self, chain: Chain, account: str) -> None:
        w3, d = chain.w3, chain.deployment
        vault = chain.client(0).contract
        trading = TradingClient(w3, d).contract
        max_venues = int(trading.functions.MAX_VENUES().call())

        def answer(feed: str) -> int:
            return int(w3.eth.contract(address=feed, abi=FEED_ABI).functions.latestRoundData().call()[1])

        self.assets = []
        for token in d.collateral:
            c = vault.functions.assetConfig(token.address).call()
            self.assets.append(Asset(answer(c[0]), int(c[6]), int(c[2]), int(c[3]), int(c[4])))
        self.markets = {
            m: MarketTerms(answer(market[0]) * 10 ** (18 - int(market[2])), int(market[3]), int(market[4]))
            for m, market in enumerate(trading.functions.markets().call())
        }
        indexes = trading.functions.fundingIndexes().call()
        self.base = int(vault.functions.baseBalanceOf(account).call())
        self.balances = [int(vault.functions.collateralBalanceOf(account, t.address).call()) for t in d.collateral]
        self.slots: dict[tuple[int, int], Slot] = {}
        self.funding: dict[tuple[int, int], int] = {}
        for m in self.markets:
            for v in range(len(d.venues)):
                size, entry, funding = trading.functions.position(account, m, v).call()
                if size:
                    self.slots[(m, v)] = Slot(int(size), int(entry), int(funding))
                    self.funding[(m, v)] = int(indexes[m * max_venues + v])
        self.reserved = int(trading.functions.reservation(account).call()[0])
        self.portfolio = bool(vault.functions.portfolioMode(account).call())

    def legs(self, asset_underlying: tuple[int, ...], market_underlying: tuple[int, ...]) -> list[Leg]:
        legs = [
            Leg(asset_underlying[i], None, a.value(b), a.penalty_bps)
            for i, (a, b) in enumerate(zip(self.assets, self.balances, strict=True))
            if b
        ]
        for (m, v), slot in self.slots.items():
            magnitude = abs(slot.size) * self.markets[m].mark // (WAD * BASE_UNIT)
            legs.append(Leg(market_underlying[m], v, magnitude if slot.size > 0 else -magnitude))
        return legs


def expected_health(chain: Chain, book: Book) -> tuple[int, int, int, int, int, bool, tuple[int, int] | None]:
    """(collateral value, pnl, equity, initial, maintenance, liquidatable, liquidation terms of a portfolio book)."""
    value, initial, maintenance = collateral_requirements(book.balances, book.assets)
    perp = perp_risk(book.slots, book.markets, book.funding, BASE_UNIT, book.reserved)
    equity = value + book.base + perp.pnl
    initial, maintenance = initial + perp.initial, maintenance + perp.maintenance
    terms = None
    if book.portfolio:
        params, layout = PortfolioMarginClient(chain.w3, chain.deployment).rule()
        underlyings = [
            Underlying(
                u.shock_bps, u.tail_bps, u.tail_weight_bps, u.net_charge_bps, u.hedged_charge_bps,
                u.basis_charge_bps, u.group,
            )
            for u in params.underlyings
        ]  # fmt: skip
        legs = book.legs(layout.asset_underlying, layout.market_underlying)
        initial, maintenance = portfolio_requirements(
            legs, underlyings, params.maintenance_bps, params.correlation_credit_bps, book.reserved
        )
        terms = liquidation_terms(legs, maintenance)
    due = (book.base < 0 or bool(book.slots) or book.reserved > 0) and equity < maintenance
    return value, perp.pnl, equity, initial, maintenance, due, terms


@pytest.mark.parametrize("seed", [3, 4])  # seeds whose price moves liquidate collateral-only books
def test_random_books_match_the_model_and_the_keeper_on_chain(chain: Chain, seed: int) -> None:
    rng = random.Random(seed)
    chain.seed_pool()
    accounts = build_books(chain, rng)
    vault = chain.client(0)
    rule = PortfolioMarginClient(chain.w3, chain.deployment)
    liquidator_bps, store_front_bps = vault.contract.functions.lendingParams().call()
    buffer_bps = vault.contract.functions.liquidationTargetBufferBps().call()
    min_borrow = vault.min_borrow()
    collateral_liquidations = portfolio_books = 0
    for _ in range(ROUNDS):
        random_rule(chain, rng)
        chain.advance(rng.randint(0, 5 * 86_400))
        for symbol, price in (("WETH", 3000), ("WBTC", 60_000)):
            chain.set_price(symbol, price * rng.randint(6_000, 12_000) / 10_000 + rng.randint(0, 10**8 - 1) / 10**8)
        found = scan(Clients.build(chain.w3, chain.deployment), portfolio=PortfolioRule(chain.clients(0)))
        due = []
        for me in accounts:
            book = Book(chain, me)
            value, pnl, equity, initial, maintenance, liquidatable, terms = expected_health(chain, book)
            h = vault.health(me)
            assert (h.collateral_value, h.unrealized_pnl, h.equity) == (value, pnl, equity), me
            assert (h.initial_requirement, h.maintenance_requirement, h.liquidatable) == (
                initial, maintenance, liquidatable,
            ), me  # fmt: skip
            if terms is not None:
                portfolio_books += 1
                assert rule.requirements(me) == (initial, maintenance)
                assert rule.contract.functions.liquidationTerms(me).call() == [maintenance, *terms]
            assert (me in found.liquidatable) == liquidatable, me
            if liquidatable:
                due.append((me, book, equity, maintenance))
        for me, book, equity, maintenance in due:
            # The liquidation in a block at the same time, so that no interest moves the equity the model was given.
            chain.w3.provider.make_request("evm_setNextBlockTimestamp", [chain.w3.eth.get_block("latest")["timestamp"]])  # type: ignore[arg-type]
            result = vault.liquidate([me])
            assert not vault.health(me).liquidatable
            if book.slots or book.portfolio:
                continue
            collateral_liquidations += 1
            expected = absorb_collateral(
                book.base, book.balances, book.assets, equity, maintenance, liquidator_bps, store_front_bps,
                buffer_bps, min_borrow,
            )  # fmt: skip
            [event] = result.liquidated
            shortfall = max(-(book.base + expected.credited), 0) if expected.share == WAD else 0
            assert (event.debt_cleared, event.shortfall, event.collateral_share) == (
                expected.credited + shortfall, shortfall, expected.share,
            ), me  # fmt: skip
            after = [vault.collateral_balance(me, t.symbol) for t in chain.deployment.collateral]
            assert [b - a for b, a in zip(book.balances, after, strict=True)] == expected.absorbed
            assert result.reward == (expected.seized_value - expected.credited) * liquidator_bps // 10_000
    assert collateral_liquidations >= 2 and portfolio_books >= 10, (collateral_liquidations, portfolio_books)

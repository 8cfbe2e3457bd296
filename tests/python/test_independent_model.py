"""The perp and interest accounting against an outside reviewer's model (`tests/python/independent_model.py`, written
from docs/risk.md and the interfaces' NatSpec, not from the code): random fills driven through the real contracts on
anvil (two venues that fill on chain, and a seat whose fills the executor reports at prices and fees of its choosing),
random lending with random rate models and time steps; every position, cash settlement, reservation, PnL,
requirement, index and balance compared to the unit. The keeper's exact engine is held to the same model."""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from eth_account import Account
from web3.types import BlockIdentifier, TxReceipt

from keeper.chain.artifacts import load_artifact
from keeper.client.trading import ChildSpec, FillReport, TradingClient
from keeper.client.vault import VaultClient
from keeper.devnet.deploy import (
    add_rabbitx_seat,
    deploy_rabbitx_custody,
    seed_local_liquidity,
)
from keeper.devnet.rabbitx.exchange import ExchangeConfig
from keeper.risk.health import RiskParameters, exact_health
from tests.python.conftest import Chain
from tests.python.independent_model import (
    BPS,
    WAD,
    MarketTerms,
    PerpRisk,
    Pool,
    RateModel,
    Slot,
    apply_fill,
    perp_risk,
    remaining_reservation,
    reservation,
)

MAX_VENUES = 4
BASE_UNIT = 10**12  # USD WAD per USDC unit
TRADER = 1
EXECUTOR = 0
SEAT = 2  # the seat's venue id: after the two venues that fill on chain
TICKERS = ("BTC-USD", "ETH-USD")
SYMBOLS = ("WBTC", "WETH")
# Largest position per slot the random walk holds, WAD: about 60,000 USD either way.
MAX_SLOT = (1 * WAD, 20 * WAD)
MAX_FEE_BPS = 50  # a live child's fee bound (docs/risk.md): 0.5% of the fill's notional


def wad_decimal(value: int) -> Decimal:
    return Decimal(value).scaleb(-18)


def tx_logs(contract: Any, event: str, receipt: TxReceipt) -> list[Any]:
    """The arguments of `contract`'s `event` logs in the transaction of `receipt`."""
    block = receipt["blockNumber"]
    entries = getattr(contract.events, event)().get_logs(from_block=block, to_block=block)
    return [e["args"] for e in entries if e["transactionHash"] == receipt["transactionHash"]]


def keepers_perp_risk(
    slots: dict[tuple[int, int], Slot], marks: list[int], terms: dict[int, tuple[int, int]], funding: list[int]
) -> PerpRisk:
    """The perp part of `keeper.risk.health.exact_health` (no collateral, no base balance) for the same book."""
    margins = [terms[m] for m in range(len(marks))]
    params = RiskParameters([], [], [], [], marks, [t[0] for t in margins], [t[1] for t in margins], funding)
    positions = [(m * MAX_VENUES + v, s.size, s.entry, s.funding) for (m, v), s in slots.items() if s.size]
    health = exact_health(0, [], params, positions)
    return PerpRisk(health.unrealized_pnl, health.initial_requirement, health.maintenance_requirement)


# ---------------------------------------------------------------------------------------------------------- perps


@dataclass
class PerpRun:
    """The chain, its clients and the model's view of the trader's slots."""

    chain: Chain
    executor: TradingClient
    trader: TradingClient
    account: str
    terms: dict[int, tuple[int, int]]  # market -> (initial bps, maintenance bps)
    steps: dict[tuple[int, int], int]  # (market, venue) -> the venue's step, WAD
    slots: dict[tuple[int, int], Slot] = field(default_factory=dict)
    fills: int = 0
    checks: int = 0

    @property
    def w3(self) -> Any:
        return self.chain.w3

    def mark(self, market: int, block: BlockIdentifier = "latest") -> int:
        feed = self.chain.deployment.token(SYMBOLS[market]).feed
        assert feed is not None
        contract = self.w3.eth.contract(address=feed, abi=load_artifact("MockPriceFeed").abi)
        answer = contract.functions.latestRoundData().call(block_identifier=block)[1]
        return int(answer) * int(10 ** (18 - int(contract.functions.decimals().call())))

    def funding(self, block: BlockIdentifier = "latest") -> list[int]:
        return [int(f) for f in self.executor.contract.functions.fundingIndexes().call(block_identifier=block)]

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def settled(self, receipt: TxReceipt) -> list[int]:
        vault = self.chain.client(0).contract
        return [int(a["amount"]) for a in tx_logs(vault, "Settled", receipt) if a["account"] == self.account]

    def book(self, market: int, venue: int, size: int, price: int, fee: int, funding_now: int) -> int:
        """Applies one fill to the model; returns its cash."""
        outcome = apply_fill(self.slots.get((market, venue), Slot()), size, price, fee, funding_now, BASE_UNIT)
        self.slots[(market, venue)] = outcome.slot
        self.fills += 1
        return outcome.cash

    def check(self, reserved: int = 0) -> None:
        """Every slot's position, the module's perp risk and the vault's PnL, and the keeper's exact engine, against
        the model at the latest block."""
        block = self.w3.eth.block_number
        for (market, venue), slot in self.slots.items():
            size, entry, funding = self.trader.contract.functions.position(self.account, market, venue).call(
                block_identifier=block
            )
            assert Slot(int(size), int(entry), int(funding)) == slot, (market, venue)
        indexes = self.funding(block)
        marks = {m: self.mark(m, block) for m in range(len(TICKERS))}
        markets = {m: MarketTerms(marks[m], *self.terms[m]) for m in marks}
        funding = {k: indexes[k[0] * MAX_VENUES + k[1]] for k in self.slots}
        expected = perp_risk(self.slots, markets, funding, BASE_UNIT, reserved)
        pnl, initial, maintenance, _ = self.trader.contract.functions.perpRisk(self.account).call(
            block_identifier=block
        )
        assert (int(pnl), int(initial), int(maintenance)) == (expected.pnl, expected.initial, expected.maintenance)
        assert self.chain.client(TRADER).health(self.account, block).unrealized_pnl == expected.pnl
        keeper = keepers_perp_risk(self.slots, [marks[m] for m in sorted(marks)], self.terms, indexes)
        assert keeper == dataclasses.replace(expected, initial=expected.initial - reserved)
        self.checks += 1


def random_size(rng: random.Random, run: PerpRun, market: int, venue: int) -> int:
    """A signed size on the venue's step, kept within the walk's bound; a third of the time it closes or flips the
    slot exactly."""
    held = run.slots.get((market, venue), Slot()).size
    step = run.steps[(market, venue)]
    if held and rng.random() < 0.33:
        size = -held if rng.random() < 0.5 else -held - (held // abs(held)) * step * rng.randint(1, 50)
    else:
        size = step * rng.randint(1, MAX_SLOT[market] // step // 2) * rng.choice((1, -1))
    while abs(held + size) > MAX_SLOT[market]:
        size //= 2
        size -= size % step
    return size or step


def order(run: PerpRun, market: int, size: int, limit: int) -> int:
    return run.trader.submit(run.account, TICKERS[market], wad_decimal(size), wad_decimal(limit), run.now() + 600)


def trade_on_chain(rng: random.Random, run: PerpRun) -> None:
    """An order executed whole at a venue that fills on chain: its price and fee are the venue's."""
    market, venue = rng.randrange(2), rng.randrange(2)
    size = random_size(rng, run, market, venue)
    mark = run.mark(market)
    limit = mark * (BPS + 500) // BPS if size > 0 else mark * (BPS - 500) // BPS
    order_id = order(run, market, size, limit)
    [outcome] = run.executor.execute([order_id], at_venue=venue)
    assert outcome.executed, outcome.reason
    block = run.w3.eth.block_number
    receipt = run.w3.eth.get_transaction_receipt(run.w3.eth.get_block(block)["transactions"][-1])
    [fill] = tx_logs(run.executor.contract, "Fill", receipt)
    assert (fill["market"], fill["venue"], fill["size"]) == (market, venue, size)
    funding_now = run.funding(block)[market * MAX_VENUES + venue]
    cash = run.book(market, venue, size, int(fill["price"]), int(fill["fee"]), funding_now)
    assert run.settled(receipt) == ([cash] if cash else [])
    run.check()


def trade_at_seat(rng: random.Random, run: PerpRun) -> None:
    """An order committed to the seat as one child and reported in one to three fills at random prices (within 4% of
    the mark, to the wei) and random fees (up to the 0.5% bound): the reservation after each fill, the cash of each."""
    market = rng.randrange(2)
    size = random_size(rng, run, market, SEAT)
    mark = run.mark(market)
    buy = size > 0
    limit = mark * (BPS + 500) // BPS if buy else mark * (BPS - 500) // BPS
    order_id = order(run, market, size, limit)
    child = run.executor.commit_split(
        order_id, [ChildSpec(SEAT, wad_decimal(abs(size)), wad_decimal(limit), run.now() + 300)]
    )
    reserved = reservation(abs(size), limit if buy else max(limit, mark), run.terms[market][0], BASE_UNIT)
    assert run.trader.reservation(run.account)[0] == reserved
    parts = sorted({rng.randrange(1, abs(size)) for _ in range(rng.randint(0, 2))}) if abs(size) > 1 else []
    cuts = [0, *parts, abs(size)]
    filled = 0
    for q in (b - a for a, b in itertools.pairwise(cuts)):
        price = rng.randint(mark * (BPS - 400) // BPS, mark * (BPS + 400) // BPS)
        fee = rng.choice((0, rng.randint(0, -(-q * MAX_FEE_BPS * price // (WAD * BPS * BASE_UNIT)))))
        receipt = run.executor.report_fills(
            [FillReport(child, rng.randbytes(32), wad_decimal(price), wad_decimal(q), fee)]
        )
        funding_now = run.funding(receipt["blockNumber"])[market * MAX_VENUES + SEAT]
        cash = run.book(market, SEAT, q if buy else -q, price, fee, funding_now)
        assert run.settled(receipt) == ([cash] if cash else [])
        filled += q
        run.check(remaining_reservation(reserved, abs(size), filled))


def move(rng: random.Random, run: PerpRun) -> None:
    """Prices move up to 3% (odd cents), time passes, the venues' funding rates change and the seat reports a funding
    step of up to its cap, either way."""
    admin = run.chain.client(EXECUTOR).sender
    assert admin is not None
    for symbol, market in zip(SYMBOLS, range(2), strict=True):
        mark = Decimal(run.mark(market)).scaleb(-18)
        run.chain.set_price(
            symbol, float((mark * Decimal(1 + rng.uniform(-0.03, 0.03))).quantize(Decimal("0.00000001")))
        )
    for venue in run.chain.deployment.venues[:2]:
        abi = load_artifact("DydxStyleVenue" if venue.name == "dydx" else "RabbitStyleVenue").abi
        contract = run.w3.eth.contract(address=venue.address, abi=abi)
        for market in range(2):
            rate = rng.randint(-(WAD // 100 // 86_400), WAD // 100 // 86_400)
            admin.transact("set funding", contract.functions.setFundingRate(market, rate))
    elapsed = rng.randint(60, 7_200)
    run.chain.advance(elapsed)
    seat = run.executor.seat_adapter(SEAT)
    indexes = []
    for market in range(2):
        bound = seat.funding_step_bound(market).max_step
        indexes.append(run.funding()[market * MAX_VENUES + SEAT] + rng.randint(-bound, bound) // 2)
    fn = seat.contract.functions.report([seat.position(m) for m in range(2)], indexes, 0, 0, 0, 0)
    run.executor.send("seat report", fn)
    run.check()


@pytest.fixture
def perp_run(chain: Chain) -> Iterator[PerpRun]:
    admin = chain.client(EXECUTOR)
    assert admin.sender is not None
    seed_local_liquidity(admin.sender, chain.deployment)
    exchange = ExchangeConfig(signer_key="0x" + "11" * 32)
    custody = deploy_rabbitx_custody(admin.sender, chain.deployment, Account.from_key(exchange.signer_key).address)
    deployment = add_rabbitx_seat(admin.sender, chain.deployment, custody, exchange.markets, exchange.default_leverage)
    seated = dataclasses.replace(chain, deployment=deployment)
    account = seated.fund(TRADER, "WETH", 100)
    executor = TradingClient(seated.w3, deployment, seated.client(EXECUTOR).sender)
    trader = TradingClient(seated.w3, deployment, seated.client(TRADER).sender)
    markets = trader.contract.functions.markets().call()
    terms = {m: (int(markets[m][3]), int(markets[m][4])) for m in range(len(TICKERS))}
    steps = {
        (m, v): max(int(executor.adapters()[v].contract.functions.marketParams(m).call()[0]), 1)
        for m in range(2)
        for v in range(3)
    }
    yield PerpRun(seated, executor, trader, account, terms, steps)


@pytest.mark.parametrize("seed", [1, 2])
def test_random_fills_match_the_model_to_the_unit(perp_run: PerpRun, seed: int) -> None:
    rng = random.Random(seed)
    actions = (trade_on_chain, trade_at_seat, trade_at_seat, move)
    for _ in range(24):
        rng.choice(actions)(rng, perp_run)
    assert perp_run.fills >= 20 and perp_run.checks >= 24
    assert any(s.size for s in perp_run.slots.values())


# ------------------------------------------------------------------------------------------------------- interest

SUPPLIERS = (3, 4)
BORROWERS = (5, 6)
USDC = 10**6
MIN_BORROW = 100 * USDC
MAX_DEBT = 60_000 * USDC  # per borrower, against 50 WETH (150,000 at 3,000; 20% initial haircut)
# docs/risk.md, Interest: the defaults (Aave v3's test curve) 1%, 5% to the 80% kink, 300% above, 10% reserve factor.
DEFAULT_RATE_MODEL = RateModel(WAD // 100, 5 * WAD // 100, 3 * WAD, 8 * WAD // 10, 1_000)


@dataclass
class LendingRun:
    chain: Chain
    pool: Pool
    cash: int  # base held by the vault
    principals: dict[int, int] = field(default_factory=dict)
    checks: int = 0

    def vault(self, index: int) -> VaultClient:
        return self.chain.client(index)

    def address(self, index: int) -> str:
        return self.chain.account(index).address

    def balance(self, index: int) -> int:
        return self.pool.balance(self.principals.get(index, 0))

    def booked(self, receipt: TxReceipt, index: int, change: int, model: RateModel | None = None) -> None:
        """The model's side of a mined action: accrue to its block, then book `index`'s balance moved by `change` (or,
        with `model`, set the new rate model: the vault accrues at the old one first)."""
        now = int(self.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"])
        self.pool = dataclasses.replace(self.pool.accrue(now), model=model or self.pool.model)
        if index >= 0:
            old = self.principals.get(index, 0)
            self.pool, self.principals[index] = self.pool.rebook(old, self.pool.balance(old) + change)
        self.cash += change
        self.check(receipt["blockNumber"], self.pool)

    def check(self, block: int, pool: Pool) -> None:
        """The vault's market state and every participant's balance at `block` against `pool` (already accrued to
        that block's time)."""
        state = [int(x) for x in self.vault(0).contract.functions.marketState().call(block_identifier=block)]
        u = pool.utilization
        assert state == [
            pool.supply_index,
            pool.borrow_index,
            pool.accrued_at,
            pool.total_supply,
            pool.total_borrow,
            u,
            pool.model.supply_rate(u),
            pool.model.borrow_rate(u),
            self.cash + pool.total_borrow - pool.total_supply,
        ]
        for index in (*SUPPLIERS, *BORROWERS):
            principal = self.principals.get(index, 0)
            assert self.vault(0).base_balance(self.address(index), block) == pool.balance(principal), index
        self.checks += 1


def random_rate_model(rng: random.Random) -> RateModel:
    """Annual rates up to 300% (the bound is 1,000%), any kink, a whole-bps reserve factor."""
    return RateModel(
        rng.randint(0, WAD // 10) + rng.randint(0, 999),
        rng.randint(0, WAD // 2) + rng.randint(0, 999),
        rng.randint(0, 3 * WAD),
        rng.randint(WAD // 2, WAD),
        rng.randint(0, 5_000),
    )


def set_rate_model(rng: random.Random, run: LendingRun) -> None:
    model = random_rate_model(rng)
    admin = run.vault(0)
    fn = admin.contract.functions.setRateModel(*model.rate_terms(), model.kink, model.reserve_factor_bps * 10**14)
    receipt = admin.send("set rate model", fn)
    run.booked(receipt, -1, 0, model)


def supply(rng: random.Random, run: LendingRun) -> None:
    index, amount = rng.choice(SUPPLIERS), rng.randint(1, 200_000 * USDC)
    run.chain.client(0).token("USDC").mint(run.address(index), amount)
    run.booked(run.vault(index).deposit(run.address(index), "USDC", amount), index, amount)


def withdraw_supply(rng: random.Random, run: LendingRun) -> None:
    index = rng.choice(SUPPLIERS)
    free = min(run.balance(index), run.cash) * 9 // 10
    if free > 0:
        amount = rng.randint(1, free)
        run.booked(run.vault(index).withdraw(run.address(index), "USDC", amount), index, -amount)


def borrow(rng: random.Random, run: LendingRun) -> None:
    index = rng.choice(BORROWERS)
    room = min(MAX_DEBT + run.balance(index), run.cash * 9 // 10)
    floor = MIN_BORROW + max(run.balance(index), 0) * 2
    if room > floor:
        amount = rng.randint(floor, room)
        run.booked(run.vault(index).withdraw(run.address(index), "USDC", amount), index, -amount)


def repay(rng: random.Random, run: LendingRun) -> None:
    index = rng.choice(BORROWERS)
    debt = -run.balance(index)
    if debt <= 0:
        return
    client = run.vault(index)
    run.chain.client(0).token("USDC").mint(run.address(index), 2 * debt + USDC)
    if rng.random() < 0.4 or debt <= 2 * MIN_BORROW:
        receipt = client.repay(run.address(index))
        [event] = tx_logs(client.contract, "Repay", receipt)
        run.booked(receipt, index, int(event["amount"]))
        assert run.principals[index] == 0
    else:
        amount = rng.randint(1, debt - 2 * MIN_BORROW)
        run.booked(client.repay(run.address(index), amount), index, amount)


def wait(rng: random.Random, run: LendingRun) -> None:
    """Time passes; the views accrue in memory (nothing stored) and must agree with one accrual step."""
    run.chain.advance(rng.choice((1, rng.randint(2, 3_600), rng.randint(3_600, 30 * 86_400))))
    run.chain.set_price("WETH", 3_000)  # a fresh answer: borrowing needs one
    block = run.chain.w3.eth.get_block("latest")
    run.check(int(block["number"]), run.pool.accrue(int(block["timestamp"])))


@pytest.fixture
def lending(chain: Chain) -> LendingRun:
    for index in BORROWERS:
        chain.fund(index, "WETH", 50)
    vault = chain.client(0)
    state = [int(x) for x in vault.contract.functions.marketState().call()]
    assert state[3:5] == [0, 0], "a fresh deployment: nothing supplied or borrowed yet"
    cash = vault.token("USDC").balance_of(vault.address)
    receipt = vault.send("accrue", vault.contract.functions.accrue())
    now = int(chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"])
    indexes = vault.contract.functions.marketState().call(block_identifier=receipt["blockNumber"])[:2]
    return LendingRun(chain, Pool(DEFAULT_RATE_MODEL, int(indexes[0]), int(indexes[1]), now), cash)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_lending_matches_the_model_to_the_unit(lending: LendingRun, seed: int) -> None:
    rng = random.Random(seed)
    set_rate_model(rng, lending)
    supply(rng, lending)
    actions = (set_rate_model, supply, supply, withdraw_supply, borrow, borrow, repay, wait, wait)
    for _ in range(40):
        rng.choice(actions)(rng, lending)
    assert lending.checks >= 30
    assert lending.pool.borrow_index > lending.pool.supply_index > 10**15


# --------------------------------------------------------------------------------------------------- without a chain


def test_the_model_gives_the_documented_year_of_interest() -> None:
    """docs/risk.md, Interest: 1,000,000 supplied, 500,000 borrowed for a year at the default curve owe 517,499.999978,
    grow to 1,015,749.999976 and leave 1,750.000002 in reserves (the contract's figures to the unit)."""
    pool = Pool(DEFAULT_RATE_MODEL, supply_principal=1_000_000 * USDC, borrow_principal=500_000 * USDC)
    year = pool.accrue(365 * 86_400)
    assert (year.total_borrow, year.total_supply) == (517_499_999_978, 1_015_749_999_976)
    assert 500_000 * USDC + year.total_borrow - year.total_supply == 1_750_000_002


def test_the_keepers_exact_engine_matches_the_model_on_random_books() -> None:
    """`keeper.risk.health.exact_health`'s perp part against the model: random positions in every slot of two markets
    at four venues, odd prices and funding of either sign."""
    rng = random.Random(7)
    for _ in range(3_000):
        marks = [rng.randint(1, 10**24), rng.randint(1, 10**22)]
        terms = [(rng.randint(1, 2_000), rng.randint(1, 1_000)) for _ in marks]
        funding = [rng.randint(-(10**21), 10**21) for _ in range(2 * MAX_VENUES)]
        slots = {
            (m, v): Slot(rng.randint(-(10**21), 10**21), rng.randint(1, 10**24), rng.randint(-(10**21), 10**21))
            for m in range(2)
            for v in range(MAX_VENUES)
            if rng.random() < 0.5
        }
        markets = {m: MarketTerms(marks[m], *terms[m]) for m in range(2)}
        expected = perp_risk(slots, markets, {k: funding[k[0] * MAX_VENUES + k[1]] for k in slots}, BASE_UNIT)
        assert keepers_perp_risk(slots, marks, dict(enumerate(terms)), funding) == expected

"""The keeper's jobs on a real anvil: liquidation of accounts with and without positions together, the backstop
unwind after a liquidation (slices, price band, a margin top-up), orders (invalid orders among valid ones,
closing orders, paused trading), and the start-up role check."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from keeper.chain.artifacts import load_artifact
from keeper.client.trading import TradingClient
from keeper.client.vault import sub_account
from keeper.daemon.config import KeeperConfig
from keeper.daemon.runner import Keeper
from keeper.devnet.deploy import seed_local_liquidity
from keeper.exceptions import ConfigError, MissingRoleError
from keeper.liquidator import LIQUIDATION_GAS_BASE, batches
from keeper.risk.backstop import MAX_SLICE_SHARE
from keeper.risk.liquidation_gas import LiquidationGasModel
from tests.python.conftest import Chain

PAUSE_TRADE = 1 << 3
WAD = 10**18


@pytest.fixture
def traders(chain: Chain) -> Chain:
    """Liquidity lent, margin posted; dev accounts 1 and 2 hold 20 WETH each in the vault."""
    admin = chain.client(0)
    assert admin.sender is not None
    seed_local_liquidity(admin.sender, chain.deployment)
    for index in (1, 2):
        chain.mint(index, "WETH", 20)
        chain.client(index).deposit(chain.account(index).address, "WETH", 20 * 10**18)
    return chain


def keeper_for(chain: Chain, tmp_path: Path, dev_account: int = 0, **overrides: Any) -> Keeper:
    config = KeeperConfig(
        rpc_urls=(chain.url,),
        deployment=chain.deployment_file,
        data_dir=tmp_path / "keeper",
        dev_account=dev_account,
        metrics_port=None,
        receipt_timeout=30.0,
    )
    return Keeper(dataclasses.replace(config, **overrides))


def trading(chain: Chain, index: int) -> TradingClient:
    return TradingClient(chain.w3, chain.deployment, chain.client(index).sender)


def deadline(chain: Chain) -> int:
    return int(chain.w3.eth.get_block("latest")["timestamp"]) + 600


def events(client: TradingClient, name: str, from_block: int) -> list[Any]:
    return list(getattr(client.contract.events, name)().get_logs(from_block=from_block))


def venue_positions(chain: Chain, market_id: int) -> list[int]:
    abi = load_artifact("DydxAdapter").abi
    return [
        int(chain.w3.eth.contract(address=v.adapter, abi=abi).functions.position(market_id).call())
        for v in chain.deployment.venues
    ]


# ---------------------------------------------------------------------- liquidation


def test_accounts_with_and_without_positions_are_liquidated_together(traders: Chain, tmp_path: Path) -> None:
    alice = trading(traders, 1)
    me = traders.account(1).address
    alice.submit(me, "BTC-USD", Decimal(6), Decimal(61_500), deadline(traders))
    keeper = keeper_for(traders, tmp_path)
    keeper.jobs.orders.run()
    borrower = traders.client(3)
    owner = traders.account(3).address
    traders.mint(3, "WBTC", 1)
    lenders = [sub_account(owner, i) for i in range(3)]
    for account in lenders:  # 0.1 WBTC (6,000) borrowing 4,700 each
        borrower.deposit(account, "WBTC", 10**7)
        borrower.withdraw(account, "USDC", 4_700 * 10**6)
    # A budget for three lending accounts, or one with positions: several batches, all sent in one cycle.
    budget = LIQUIDATION_GAS_BASE + 3 * LiquidationGasModel().gas()
    keeper = keeper_for(traders, tmp_path, gas_budget=max(budget, 200_000))
    traders.set_price("WBTC", 54_000)
    results = keeper.jobs.liquidation.run()
    liquidated = {e.account for r in results for e in r.liquidated}
    assert liquidated == {me, *lenders}
    assert keeper.jobs.liquidation.last_scan is not None and keeper.jobs.liquidation.last_scan.open_slots[me] == 2, (
        "split over both venues"
    )
    assert len(results) >= 2, "sized into several batches"
    assert all(not traders.client(0).health(a).liquidatable for a in liquidated)
    assert alice.backstop(), "the position account's liquidation moved part of it to the backstop"
    model = keeper.jobs.liquidation.gas_model
    measured = sum(r.gas_used for r in results)
    assert (model.per_account, model.per_slot) != (LiquidationGasModel().per_account, LiquidationGasModel().per_slot)
    assert 4 * model.per_account + 2 * model.per_slot <= measured, "four accounts, two slots: fitted to what was used"


def test_batches_are_sized_by_each_accounts_gas() -> None:
    accounts = [f"0x{i:040x}" for i in range(6)]
    model = LiquidationGasModel()
    gas = [model.gas(0)] * 3 + [model.gas(4)] * 3
    budget = LIQUIDATION_GAS_BASE + model.gas(4) + model.gas(0)
    split = batches(accounts, budget, gas)
    assert [a for b in split for a in b] == accounts, "every account, in order"
    for batch in split:
        assert LIQUIDATION_GAS_BASE + sum(gas[accounts.index(a)] for a in batch) <= budget
    assert batches(accounts[:1], 1, model.gas(16)) == [accounts[:1]], "an account alone over budget still goes"


def test_the_vault_skips_an_account_it_cannot_price_and_liquidates_the_rest(traders: Chain) -> None:
    owner = traders.account(3).address
    borrower = traders.client(3)
    traders.mint(3, "WBTC", 1)
    traders.mint(3, "WETH", 1)
    btc, eth = sub_account(owner, 1), sub_account(owner, 2)
    borrower.deposit(btc, "WBTC", 10**7)
    borrower.withdraw(btc, "USDC", 4_700 * 10**6)
    borrower.deposit(eth, "WETH", 10**18)
    borrower.withdraw(eth, "USDC", 2_300 * 10**6)
    traders.set_price("WETH", 2700)
    traders.set_price("WBTC", 55_000)
    traders.set_price("WBTC", 0)  # the WBTC feed breaks
    result = traders.client(0).liquidate([btc, eth])
    assert [e.account for e in result.liquidated] == [eth]
    assert [(a, reason.name) for a, reason in result.skipped] == [(btc, "OracleUnusable")]


# ---------------------------------------------------------------------- the backstop unwind


def test_a_price_move_liquidates_into_the_backstop_and_the_keeper_unwinds_it_at_the_venues(
    traders: Chain, tmp_path: Path
) -> None:
    alice = trading(traders, 1)
    me = traders.account(1).address
    alice.submit(me, "BTC-USD", Decimal(6), Decimal(61_500), deadline(traders))
    keeper = keeper_for(traders, tmp_path)
    keeper.jobs.orders.run()
    start = traders.w3.eth.block_number
    traders.set_price("WBTC", 54_000)

    [result] = keeper.jobs.liquidation.run()
    assert [e.account for e in result.liquidated] == [me]
    absorbed = events(alice, "PositionAbsorbed", start)
    assert {e["args"]["venue"] for e in absorbed} == {0, 1}, "part of the position at each venue"
    kept = sum(p.size for p in alice.positions(me))
    assert Decimal(0) < kept < Decimal(6), "liquidation is partial"
    assert traders.client(1).collateral_balance(me, "WETH") == 20 * 10**18, "positions cover it: collateral kept"
    books = {(b.market_id, b.venue_id): b.size for b in alice.backstop()}
    assert sum(books.values()) == Decimal(6) - kept

    runs = 0
    while alice.backstop():
        slices = keeper.jobs.backstop.run()
        runs += 1
        for s in slices:
            step = (
                keeper.clients.trading.venues()[s.venue_id].cost_model(s.market).step
                if keeper.clients.trading
                else Decimal(0)
            )
            assert 0 < s.size <= books[(s.market_id, s.venue_id)] * MAX_SLICE_SHARE + step, "a bounded slice"
        assert runs <= 6, "20% slices close the book in five runs"
    assert runs == 5
    unwound = events(alice, "BackstopUnwound", start)
    assert sum(-e["args"]["size"] for e in unwound) == int((Decimal(6) - kept) * WAD), "sold at the venues"
    for e in unwound:
        assert abs(e["args"]["price"] - 54_000 * WAD) <= 54_000 * WAD * 5 // 100, "inside the 5% band"
    assert sum(venue_positions(traders, 0)) == int(kept * WAD), "the venues hold only alice's remaining position"
    assert keeper.jobs.reconcile.run() == 0
    assert keeper.metrics.backstop_unwound._value.get() == len(unwound)


def test_the_short_that_hedges_absorbed_collateral_is_unwound_only_as_the_store_front_sells_it(
    traders: Chain, tmp_path: Path, caplog: Any
) -> None:
    """A hedged book in portfolio mode (5 WETH, 5 ETH short) borrowed to its limit goes under when ETH more than
    doubles: the liquidation cuts both legs, WETH to reserves and the short to the backstop book. The store front sells
    that WETH at the pair discount (30 bps, not 2.5%), so the keeper keeps the short open while reserves hold it and
    unwinds it once the WETH is bought. The keeper says so, once: the operator sees why the book does not shrink."""
    me, vault = traders.account(1).address, traders.client(1)
    vault.withdraw(me, "WETH", 15 * WAD, me)
    vault.set_portfolio_mode(me, True)
    admin = trading(traders, 0)
    order = trading(traders, 1).submit(me, "ETH-USD", Decimal(-5), Decimal(2850), deadline(traders))
    [outcome] = admin.execute([order])
    assert outcome.executed, outcome.reason
    health = vault.health(me)
    vault.borrow(me, health.equity - health.initial_requirement - 1)
    traders.set_price("WETH", 6900)
    keeper = keeper_for(traders, tmp_path)
    [result] = keeper.jobs.liquidation.run()
    assert [e.account for e in result.liquidated] == [me]
    reserves = traders.client(0).collateral_reserves("WETH")
    books = admin.backstop()
    assert reserves > 0 and books and all(b.size < 0 for b in books), "the WETH and its hedge taken over together"

    with caplog.at_level("INFO", logger="primevault.keeper"):
        assert keeper.jobs.backstop.run() == [], "the short that covers the reserves stays open"
        assert keeper.jobs.backstop.run() == []
    assert admin.backstop() == books
    said = [r.getMessage() for r in caplog.records if "kept open as the hedge" in r.getMessage()]
    assert [line.split(" of its short")[0][:33] for line in said] == [
        "backstop ETH-USD at dydx: 0.892",  # the whole of it
        "backstop ETH-USD at rabbitx: 0.16",  # all but what is below the venue's step (0.17 at 0.001)
    ], "one line a slot, not one a run"
    assert not [r for r in caplog.records if "below the venue's step" in r.getMessage()], "the rest beside a hedge"
    # The buyer pays the oracle price less the pair discount for all of it.
    cost = reserves * 6900 * 10**6 // WAD * 9970 // 10_000 - 1
    assert reserves - 10**12 < traders.client(0).quote_collateral("WETH", cost) <= reserves
    traders.mint(2, "USDC", 100_000)
    buyer = traders.client(2)
    buyer.token("USDC").approve(traders.deployment.vault, cost)
    buyer.buy_collateral("WETH", 0, cost, traders.account(2).address)

    # Sold: the whole short is the keeper's to unwind, but for the hedge of the few wei the purchase left.
    slices = {(s.market_id, s.venue_id): s for s in keeper.jobs.backstop.run()}
    assert slices.keys() == {(b.market_id, b.venue_id) for b in books}
    for b in books:
        assert b.size <= slices[(b.market_id, b.venue_id)].book < b.size + Decimal("1e-9")
        assert slices[(b.market_id, b.venue_id)].size > 0
    # The hedge of those few wei is less than a step: kept, it would hold a whole step of the short open for good.
    for _ in range(8):
        keeper.jobs.backstop.run()
    assert 0 < traders.client(0).collateral_reserves("WETH") < 10**12
    assert admin.backstop() == [], "the whole short unwound"


def test_a_long_of_the_underlying_in_the_backstop_does_not_strip_the_hedge_of_reserves(
    traders: Chain, tmp_path: Path
) -> None:
    """The backstop book holds an ETH long at rabbitx (a leveraged long liquidated as ETH fell) when the hedged book's
    liquidation adds WETH to reserves and its ETH short at dydx. The book is net long, so the store front's cover is 0
    for now; but the long is unwound too, and as it goes the short covers the WETH. The keeper keeps the short (up to
    the reserves' value) and unwinds the long alone, where it bought the short back alongside selling the long: a round
    trip that left the WETH naked and sold at the asset's own discount."""
    me, vault = traders.account(1).address, traders.client(1)
    vault.withdraw(me, "WETH", 15 * WAD, me)
    vault.set_portfolio_mode(me, True)
    admin = trading(traders, 0)
    order = trading(traders, 1).submit(me, "ETH-USD", Decimal(-5), Decimal(2850), deadline(traders))
    [outcome] = admin.execute([order], at_venue=0)
    assert outcome.executed, outcome.reason
    health = vault.health(me)
    vault.borrow(me, health.equity - health.initial_requirement - 1)
    bob = traders.account(2).address
    order = trading(traders, 2).submit(bob, "ETH-USD", Decimal(30), Decimal(3150), deadline(traders))
    [outcome] = admin.execute([order], at_venue=1)
    assert outcome.executed, outcome.reason
    health = traders.client(2).health(bob)
    traders.client(2).borrow(bob, health.equity - health.initial_requirement - 1)
    keeper = keeper_for(traders, tmp_path)
    traders.set_price("WETH", 2800)
    [result] = keeper.jobs.liquidation.run()
    assert [e.account for e in result.liquidated] == [bob]
    traders.set_price("WETH", 6900)
    [result] = keeper.jobs.liquidation.run()
    assert [e.account for e in result.liquidated] == [me]
    books = {b.venue_id: b.size for b in admin.backstop() if b.market_id == 1}
    assert books[0] < 0 < -books[0] < books[1], "a short at dydx, a larger long at rabbitx"
    reserves = traders.client(0).collateral_reserves("WETH")
    assert reserves * 6900 >= -books[0] * 6900 * WAD * Decimal("0.999"), "the short covers about all the WETH"

    slices = keeper.jobs.backstop.run()
    assert [(s.venue_id, s.side) for s in slices] == [(1, -1)], "the long is sold; the short is not bought back"
    assert {b.venue_id: b.size for b in admin.backstop() if b.market_id == 1}[0] == books[0]


def test_a_portfolio_rule_that_cannot_say_the_hedge_stops_no_unwind(
    traders: Chain, tmp_path: Path, caplog: Any
) -> None:
    """The backstop book holds a BTC short; the portfolio rule's contract reverts every call. What the rule cannot say
    is not kept (the vault's store front falls back to the asset's own discount then, so nothing is sold as a pair):
    the short is unwound as before the pair sale, with one warning, where the job died on the rule's read each block
    (a traceback in the daemon) and unwound nothing at any venue."""
    me = traders.account(1).address
    trading(traders, 1).submit(me, "BTC-USD", Decimal(-6), Decimal(58_500), deadline(traders))
    keeper = keeper_for(traders, tmp_path)
    keeper.jobs.orders.run()
    traders.set_price("WBTC", 66_000)
    [result] = keeper.jobs.liquidation.run()
    assert [e.account for e in result.liquidated] == [me]
    books = trading(traders, 0).backstop()
    assert books and all(b.size < 0 for b in books)
    assert traders.deployment.portfolio is not None
    traders.w3.provider.make_request("anvil_setCode", [traders.deployment.portfolio, "0x60006000fd"])  # type: ignore[arg-type]

    with caplog.at_level("INFO", logger="primevault.keeper"):
        slices = keeper.jobs.backstop.run()
    assert {(s.market_id, s.venue_id) for s in slices} == {(b.market_id, b.venue_id) for b in books}
    assert all(s.size > 0 for s in slices)
    assert trading(traders, 0).backstop() != books, "unwound"
    said = [r.getMessage() for r in caplog.records if "portfolio rule" in r.getMessage()]
    assert said == [
        "the portfolio rule cannot say what of BTC-USD's short hedges collateral reserves hold "
        "(read market underlying reverted: UnknownError(data=0x)): none of it is kept"
    ]
    assert not [r for r in caplog.records if r.exc_info], "no traceback"


def test_a_backstop_rest_below_the_venues_step_is_said_once(traders: Chain, tmp_path: Path, caplog: Any) -> None:
    """A liquidation while dydx cannot answer takes the exact share onto the backstop, off the venue's step: once the
    unwind has closed all it can, the rest below the step stays. The job said nothing about it, so the book never
    reached zero with no reason given; it now says so in one line, not one a run."""
    alice = trading(traders, 1)
    me = traders.account(1).address
    alice.submit(me, "BTC-USD", Decimal(6), Decimal(61_500), deadline(traders))
    keeper = keeper_for(traders, tmp_path)
    keeper.jobs.orders.run()
    dydx = traders.deployment.venues[0].address
    code = traders.w3.eth.get_code(dydx)
    traders.w3.provider.make_request("anvil_setCode", [dydx, "0x60006000fd"])  # type: ignore[arg-type]
    traders.set_price("WBTC", 54_000)
    [result] = keeper.jobs.liquidation.run()
    assert [e.account for e in result.liquidated] == [me]
    traders.w3.provider.make_request("anvil_setCode", [dydx, "0x" + code.hex().removeprefix("0x")])  # type: ignore[arg-type]
    with caplog.at_level("INFO", logger="primevault.keeper"):
        for _ in range(8):
            keeper.jobs.backstop.run()
    [rest] = alice.backstop()
    assert rest.venue == "dydx" and 0 < rest.size < Decimal("0.0001")
    said = [r.getMessage() for r in caplog.records if "below the venue's step" in r.getMessage()]
    assert said == [
        f"backstop BTC-USD at dydx: {rest.size} left, below the venue's step (0.0001): no order can close it"
    ]


def test_the_keeper_tops_up_venue_margin_before_an_unwind_that_grows_the_venue_position(
    traders: Chain, tmp_path: Path
) -> None:
    alice, bob = trading(traders, 1), trading(traders, 2)
    a, b = traders.account(1).address, traders.account(2).address
    traders.mint(2, "WETH", 200)
    traders.client(2).deposit(b, "WETH", 200 * 10**18)
    alice.submit(a, "BTC-USD", Decimal(6), Decimal(61_500), deadline(traders))
    bob.submit(b, "BTC-USD", Decimal(-12), Decimal(58_000), deadline(traders))
    keeper = keeper_for(traders, tmp_path)
    keeper.jobs.orders.run()
    assert all(p < 0 for p in venue_positions(traders, 0)), "the venues hold the net short"
    traders.set_price("WBTC", 54_000)
    [result] = keeper.jobs.liquidation.run()
    assert [e.account for e in result.liquidated] == [a]
    # The executor has taken the dYdX margin down to what the position there needs.
    assert keeper.clients.trading is not None
    adapter = traders.w3.eth.contract(
        address=traders.deployment.venues[0].adapter, abi=load_artifact("DydxAdapter").abi
    )
    net, initial, _ = adapter.functions.margin().call()
    withdrawal = keeper.clients.trading.contract.functions.requestMarginWithdrawal(0, net - initial - 10**6)
    keeper.sender.transact("withdraw margin", withdrawal)
    start = traders.w3.eth.block_number + 1

    slices = keeper.jobs.backstop.run()
    dydx = [s for s in slices if s.venue_id == 0]
    assert dydx and dydx[0].deposit > 0, "selling the backstop's long grows the venue's short: margin first"
    moved = events(keeper.clients.trading, "VenueMarginMoved", start)
    assert [(e["args"]["venue"], e["args"]["amount"]) for e in moved] == [(0, dydx[0].deposit)]
    assert any(e["args"]["venue"] == 0 for e in events(keeper.clients.trading, "BackstopUnwound", start))
    net, initial, _ = adapter.functions.margin().call()
    assert net >= initial


def test_the_margin_job_funds_a_netted_pair_for_its_gross_legs_and_publishes_the_exposure(
    traders: Chain, tmp_path: Path
) -> None:
    alice, bob = trading(traders, 1), trading(traders, 2)
    a, b = traders.account(1).address, traders.account(2).address
    alice.submit(a, "BTC-USD", Decimal(2), Decimal(61_500), deadline(traders))
    bob.submit(b, "BTC-USD", Decimal(-2), Decimal(58_500), deadline(traders))
    keeper = keeper_for(traders, tmp_path, margin_minimum=0, jobs=("liquidation", "orders", "margin", "reconcile"))
    keeper.jobs.orders.run()
    client = keeper.clients.trading
    assert client is not None
    held = [(v, alice.net_position(0, v)) for v in range(2)]
    assert sum(abs(n) for _, n in held) < 4 * WAD, "the pair nets out, in part at least, at the venues"
    assert keeper.context.legs.get() is None
    keeper.jobs.liquidation.run()  # the scan sees every client's legs
    legs = keeper.context.legs.get()
    assert legs is not None and sum(legs.values()) == 4 * WAD

    keeper.jobs.margin.run()
    for venue_id, adapter in enumerate(client.adapters()):
        exposure = client.venue_exposures(venue_id, legs)[0]
        assert exposure == legs.get(venue_id, 0) >= abs(client.net_position(0, venue_id))
        need = exposure * 60_000 * adapter.market(0).initial_margin_ppm // 10**6 // 10**12
        # Funded for the legs (between the floor and the ceiling), where the netted book alone would have let the
        # margin go down to nothing.
        assert need > 0 and 3 * need <= adapter.margin().net_collateral <= 8 * need

    # The vault's exposure to each venue, in /metrics.
    assert keeper.jobs.reconcile.run() == 0
    withdrawing = {}
    for venue_id, adapter in enumerate(client.adapters()):
        collateral = keeper.metrics.venue_collateral.labels(adapter.name)._value.get()
        assert collateral == adapter.margin().net_collateral
        withdrawing[adapter.name] = keeper.metrics.venue_withdrawals.labels(adapter.name)._value.get()
        assert withdrawing[adapter.name] == adapter.pending_withdrawals()
        posted = keeper.metrics.venue_margin_posted.labels(adapter.name)._value.get()
        assert posted == client.exposure(venue_id, adapter).margin_posted > 0
        pnl = keeper.metrics.venue_pnl.labels(adapter.name)._value.get()
        assert pnl == collateral + withdrawing[adapter.name] - posted
    assert withdrawing["rabbitx"] > 0, "the excess is on its way back from the venue with delayed withdrawals"


def test_a_venue_that_cannot_answer_is_one_line_when_it_stops_and_one_when_it_answers_again(
    traders: Chain, tmp_path: Path, caplog: Any
) -> None:
    """A venue whose views revert (here its contract reverts every call; a stale feed does the same to its margin)
    failed the margin and reconcile jobs with a traceback every cycle, and the other venue went unreconciled."""
    keeper = keeper_for(traders, tmp_path, margin_minimum=0, jobs=("margin", "reconcile"))
    dydx = traders.deployment.venues[0]
    code = traders.w3.eth.get_code(dydx.address)

    def set_code(hex_code: str) -> None:
        traders.w3.provider.make_request("anvil_setCode", [dydx.address, hex_code])  # type: ignore[arg-type]

    set_code("0x60006000fd")
    with caplog.at_level("INFO", logger="primevault.keeper"):
        for _ in range(2):
            keeper.jobs.margin.run()
            assert keeper.jobs.reconcile.run() == 0
        set_code("0x" + code.hex().removeprefix("0x"))
        keeper.jobs.margin.run()
        keeper.jobs.reconcile.run()
    said = [r.getMessage() for r in caplog.records if "dydx" in r.getMessage()]
    assert said == [
        "margin: dydx cannot answer now (execution reverted): its margin is left as it is meanwhile",
        "reconcile: dydx cannot answer now (execution reverted): not reconciled meanwhile",
        "margin: dydx answers again",
        "reconcile: dydx answers again",
    ]
    assert not [r for r in caplog.records if r.exc_info], "no traceback"
    client = keeper.clients.trading
    assert client is not None
    rabbitx = client.adapters()[1]
    assert keeper.metrics.venue_collateral.labels("rabbitx")._value.get() == rabbitx.margin().net_collateral


def test_a_venue_that_burns_its_gas_is_one_that_cannot_answer(traders: Chain, tmp_path: Path, caplog: Any) -> None:
    """An adapter that never returns makes the node stop the call ("EVM error OutOfGas", a Web3RPCError, not a
    revert): the margin and reconcile jobs caught only reverts, so every cycle ended there, and rabbitx went
    unreconciled."""
    keeper = keeper_for(traders, tmp_path, margin_minimum=0, jobs=("margin", "reconcile"))
    adapter = traders.deployment.venues[0].adapter
    traders.w3.provider.make_request("anvil_setCode", [adapter, "0x5b600056"])  # type: ignore[arg-type]
    with caplog.at_level("INFO", logger="primevault.keeper"):
        keeper.jobs.margin.run()
        assert keeper.jobs.reconcile.run() == 0
    said = [r.getMessage() for r in caplog.records if "dydx" in r.getMessage()]
    gas = "its contract used up all the gas the node allows a call, and never answered (EVM error OutOfGas)"
    assert said == [
        f"margin: dydx cannot answer now ({gas}): its margin is left as it is meanwhile",
        f"reconcile: dydx cannot answer now ({gas}): not reconciled meanwhile",
    ]
    client = keeper.clients.trading
    assert client is not None
    rabbitx = client.adapters()[1]
    assert keeper.metrics.venue_collateral.labels("rabbitx")._value.get() == rabbitx.margin().net_collateral


def test_the_backstop_is_unwound_at_the_venues_that_answer(traders: Chain, tmp_path: Path) -> None:
    """`Unwinder.plan` caught only PrimeVaultError per slot, but a venue reader raises web3's ContractLogicError: one
    venue down and no slot at any venue was unwound (a traceback each block)."""
    alice = trading(traders, 1)
    me = traders.account(1).address
    alice.submit(me, "BTC-USD", Decimal(6), Decimal(61_500), deadline(traders))
    keeper = keeper_for(traders, tmp_path)
    keeper.jobs.orders.run()
    traders.set_price("WBTC", 54_000)
    keeper.jobs.liquidation.run()
    assert {b.venue for b in alice.backstop()} == {"dydx", "rabbitx"}
    rabbitx = traders.deployment.venues[1]
    traders.w3.provider.make_request("anvil_setCode", [rabbitx.address, "0x60006000fd"])  # type: ignore[arg-type]
    slices = keeper.jobs.backstop.run()
    assert [s.venue for s in slices if s.size] == ["dydx"]


# ---------------------------------------------------------------------- orders


def test_invalid_orders_are_cancelled_with_their_reasons_and_the_rest_execute(
    traders: Chain, tmp_path: Path, caplog: Any
) -> None:
    alice, bob = trading(traders, 1), trading(traders, 2)
    a, b = traders.account(1).address, traders.account(2).address
    first = alice.submit(a, "BTC-USD", Decimal("0.5"), Decimal(61_000), deadline(traders))
    too_large = bob.submit(b, "BTC-USD", Decimal(-1), Decimal(59_000), deadline(traders), reduce_only=True)
    unroutable = bob.submit(b, "ETH-USD", Decimal("0.0001"), Decimal(3_100), deadline(traders))  # below every step
    last = alice.submit(a, "ETH-USD", Decimal(-2), Decimal(2_900), deadline(traders))
    keeper = keeper_for(traders, tmp_path)
    with caplog.at_level("WARNING"):
        keeper.jobs.orders.run()
    statuses = {i: alice.order(i).status for i in (first, too_large, unroutable, last)}
    assert statuses == {first: "executed", too_large: "cancelled", unroutable: "cancelled", last: "executed"}
    assert f"order {too_large} cancelled: ReduceOnlyIncreases" in caplog.text
    assert f"order {unroutable} could not be routed" in caplog.text, "sent anyway, for the contract to judge"
    assert f"order {unroutable} cancelled: VenueInvalidSize" in caplog.text
    assert keeper.metrics.orders_executed._value.get() == 2
    assert keeper.metrics.orders_cancelled.labels("ReduceOnlyIncreases")._value.get() == 1


def test_a_venue_that_answers_nothing_takes_no_part_of_the_orders_job(traders: Chain, tmp_path: Path) -> None:
    """web3's BadFunctionCallOutput (a venue call that returns no data) was not a venue's failure: the router's
    pricing raised it and the orders job stopped for every open order, though dydx could take them."""
    alice = trading(traders, 1)
    me = traders.account(1).address
    alice.submit(me, "ETH-USD", Decimal(1), Decimal(3_100), deadline(traders))
    rabbitx = traders.deployment.venues[1]
    traders.w3.provider.make_request("anvil_setCode", [rabbitx.address, "0x00"])  # type: ignore[arg-type]
    keeper = keeper_for(traders, tmp_path)
    keeper.jobs.orders.run()
    assert {(p.venue, p.size) for p in alice.positions(me)} == {("dydx", Decimal(1))}


def test_an_order_closed_after_it_was_listed_does_not_stop_the_batch(traders: Chain) -> None:
    alice = trading(traders, 1)
    a = traders.account(1).address
    gone = alice.submit(a, "BTC-USD", Decimal("0.5"), Decimal(61_000), deadline(traders))
    kept = alice.submit(a, "ETH-USD", Decimal(1), Decimal(3_100), deadline(traders))
    alice.cancel(gone)  # its owner cancels it after the keeper listed the open orders
    outcomes = trading(traders, 0).execute([gone, kept], skip_closed=True)
    assert [(o.order_id, o.executed) for o in outcomes] == [(kept, True)]


def test_closing_orders_go_to_the_venues_that_hold_the_position(traders: Chain, tmp_path: Path) -> None:
    alice = trading(traders, 1)
    me = traders.account(1).address
    opened = alice.submit(me, "BTC-USD", Decimal(2), Decimal(61_500), deadline(traders))
    keeper = keeper_for(traders, tmp_path)
    keeper.jobs.orders.run()
    held = {p.venue: p.size for p in alice.positions(me)}
    assert alice.order(opened).status == "executed" and len(held) == 2, "the router split the opening order"
    # Reduce-only and as large as the position: each venue's leg closes where it is held.
    reduce_only = alice.submit(me, "BTC-USD", Decimal(-2), Decimal(58_000), deadline(traders), reduce_only=True)
    keeper.jobs.orders.run()
    assert alice.order(reduce_only).status == "executed"
    assert alice.positions(me) == []
    # Not reduce-only, and larger than the position: closes each venue's leg, routes only the rest.
    alice.submit(me, "BTC-USD", Decimal(2), Decimal(61_500), deadline(traders))
    keeper.jobs.orders.run()
    closing = alice.submit(me, "BTC-USD", Decimal(-3), Decimal(58_000), deadline(traders))
    keeper.jobs.orders.run()
    assert alice.order(closing).status == "executed"
    positions = {p.venue: p.size for p in alice.positions(me)}
    assert sum(positions.values()) == Decimal(-1)
    assert all(size <= 0 for size in positions.values()), "no venue kept a long against a short elsewhere"


def test_paused_trading_skips_the_orders_job_with_one_line(traders: Chain, tmp_path: Path, caplog: Any) -> None:
    alice = trading(traders, 1)
    me = traders.account(1).address
    order_id = alice.submit(me, "BTC-USD", Decimal("0.5"), Decimal(61_000), deadline(traders))
    admin = traders.client(0)
    assert admin.sender is not None
    admin.sender.transact("pause", admin.contract.functions.setPaused(PAUSE_TRADE))
    keeper = keeper_for(traders, tmp_path)
    sent = len(keeper.sender.sent)
    with caplog.at_level("INFO", logger="primevault.keeper"):
        keeper.jobs.orders.run()
        keeper.jobs.orders.run()
    assert alice.order(order_id).status == "open"
    assert len(keeper.sender.sent) == sent, "nothing sent"
    assert [r.getMessage() for r in caplog.records if "paused" in r.getMessage()] == [
        "trading is paused: the orders job is skipped and open orders wait"
    ]
    admin.sender.transact("unpause", admin.contract.functions.setPaused(0))
    keeper.jobs.orders.run()
    assert alice.order(order_id).status == "executed"


# ---------------------------------------------------------------------- roles


def test_the_start_up_line_names_the_roles_the_key_holds(traders: Chain, tmp_path: Path, caplog: Any) -> None:
    with caplog.at_level("INFO", logger="primevault.keeper"):
        keeper_for(traders, tmp_path, dev_account=0)
    [line] = [r.getMessage() for r in caplog.records if " holds " in r.getMessage()]
    assert line.endswith(
        "holds EXECUTOR_ROLE, RISK_MANAGER_ROLE; jobs: liquidation, orders, backstop, margin, reconcile, haircuts"
    )
    caplog.clear()
    with caplog.at_level("INFO", logger="primevault.keeper"):
        keeper_for(traders, tmp_path, dev_account=8, jobs=("liquidation", "reconcile"))
    [line] = [r.getMessage() for r in caplog.records if " holds " in r.getMessage()]
    assert line.endswith("holds no role; jobs: liquidation, reconcile"), "liquidation needs no role"


def test_a_missing_role_stops_the_keeper_naming_the_role_and_the_job(traders: Chain, tmp_path: Path) -> None:
    with pytest.raises(MissingRoleError) as missing:
        keeper_for(traders, tmp_path, dev_account=8, jobs=("liquidation", "backstop"))
    message = str(missing.value)
    assert "lacks EXECUTOR_ROLE on the trading module (needed by the backstop job)" in message
    assert "--jobs liquidation" in message
    with pytest.raises(MissingRoleError, match=r"RISK_MANAGER_ROLE on the vault \(needed by the haircuts job\)"):
        keeper_for(traders, tmp_path, dev_account=8, jobs=("haircuts",))
    keeper_for(traders, tmp_path, dev_account=8, jobs=("haircuts",), apply_haircuts=False)  # proposals only


def test_the_keeper_command_exits_with_one_line_when_a_role_is_missing(traders: Chain, tmp_path: Path) -> None:
    command = [
        sys.executable, "-c", "from keeper.cli.main import main; main()",
        "--deployment", str(traders.deployment_file), "--rpc-url", traders.url, "--dev-account", "8",
        "keeper", "run", "--metrics-port", "off", "--data-dir", str(tmp_path / "d"),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if not line.startswith("{")]  # JSON lines are logs
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith("Error: keeper key ")
    assert "lacks EXECUTOR_ROLE on the trading module (needed by the orders, backstop and margin jobs)" in errors[0]
    assert "RISK_MANAGER_ROLE on the vault (needed by the haircuts job)" in errors[0]


def test_the_margin_job_tops_a_venue_at_its_minimum_up_to_the_band_above_it(
    traders: Chain, tmp_path: Path, caplog: Any
) -> None:
    """A venue at `margin_minimum` was topped up back to the minimum, so every small loss sent another deposit: it goes
    to minimum x target / floor (5/3 of 400,000 USDC here), and the next run leaves it."""
    keeper = keeper_for(traders, tmp_path, margin_minimum=400_000, jobs=("margin",))
    assert keeper.sender is not None
    keeper.jobs.margin.run()
    adapters = [a for a in trading(traders, 0).adapters() if not a.venue.fills_off_chain]
    assert [a.margin().net_collateral for a in adapters] == [666_666_666_667] * 2
    sent = keeper.w3.eth.get_transaction_count(keeper.sender.address)
    with caplog.at_level("INFO", logger="primevault.keeper"):
        keeper.jobs.margin.run()
    assert keeper.w3.eth.get_transaction_count(keeper.sender.address) == sent
    assert not [m for m in caplog.messages if "depositing" in m or "withdrawing" in m]


def test_the_keeper_refuses_seat_venues_the_deployment_does_not_list(traders: Chain, tmp_path: Path) -> None:
    """A `deployments/local-keeper.toml` left by an earlier `devnet --seat`, run against a devnet without the seat:
    the keeper ran, its seat job failing over and over and its orders job refusing every order (each looks the seat
    up by name), so nothing traded. It stops at start with one line instead."""
    with pytest.raises(ConfigError) as caught:
        keeper_for(traders, tmp_path, seat_venues=("rabbitx-seat",))
    assert str(caught.value) == (
        "invalid keeper configuration: seat_venues: no venue 'rabbitx-seat' in this deployment (its venues: dydx, "
        "rabbitx)"
    )


def test_the_keeper_refuses_a_liquidity_addon_for_an_asset_the_deployment_does_not_list(
    traders: Chain, tmp_path: Path
) -> None:
    """A config not read through `load_config` (built in code, or with a deployment file it could not read) is checked
    where the keeper starts, against the deployment it connects to."""
    with pytest.raises(ConfigError) as caught:
        keeper_for(traders, tmp_path, liquidity_addon_bps={"WETH": 200, "DOGE": 100})
    assert str(caught.value) == (
        "invalid keeper configuration: liquidity_addon_bps: 'DOGE' is not a collateral asset of the deployment; "
        "it lists WETH, WBTC"
    )

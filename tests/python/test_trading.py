"""Perp trading through the package on a real anvil: routing, netting, funding, the backstop book, cancellations,
venue margin with a withdrawal delay, and the `trade` command's errors."""

from __future__ import annotations

import functools
import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from keeper.chain.artifacts import load_artifact
from keeper.cli.main import cli
from keeper.cli.quotes import quote_document
from keeper.client.trading import BackstopUnwind, TradingClient
from keeper.client.venues import Venue
from keeper.devnet.deploy import seed_local_liquidity
from keeper.exceptions import TransactionReverted
from keeper.risk.backstop import unwind_slice
from keeper.risk.band import band_limit
from keeper.routing import route
from tests.python.conftest import Chain
from tests.python.test_cli import assert_one_line_error
from tests.python.test_keeper import keeper_for


@pytest.fixture
def market(chain: Chain) -> Chain:
    """The pool lent and margin posted at both venues; dev accounts 1 and 2 hold 20 WETH each in the vault."""
    admin = chain.client(0)
    assert admin.sender is not None
    seed_local_liquidity(admin.sender, chain.deployment)
    for index in (1, 2):
        chain.mint(index, "WETH", 20)
        chain.client(index).deposit(chain.account(index).address, "WETH", 20 * 10**18)
    return chain


def trader(chain: Chain, index: int) -> TradingClient:
    client = chain.client(index)
    return TradingClient(chain.w3, chain.deployment, client.sender)


def deadline(chain: Chain, seconds: int = 600) -> int:
    return int(chain.w3.eth.get_block("latest")["timestamp"]) + seconds


def adapter_position(chain: Chain, venue: int, market_id: int) -> int:
    adapter = chain.deployment.venues[venue].adapter
    contract = chain.w3.eth.contract(address=adapter, abi=load_artifact("DydxAdapter").abi)
    return int(contract.functions.position(market_id).call())


def test_weth_only_account_shorts_btc_across_both_venues_at_the_routers_optimum(market: Chain) -> None:
    alice, keeper = trader(market, 1), trader(market, 0)
    me = market.account(1).address
    order_id = alice.submit(me, "BTC-USD", Decimal(-2), Decimal(59_000), deadline(market))
    models = [v.cost_model("BTC-USD") for v in keeper.venues()]
    expected = route(Decimal(2), -1, models)
    [outcome] = keeper.execute([order_id])
    assert outcome.executed, outcome.reason
    assert all(size > 0 for size in expected.sizes), "2 BTC is worth splitting"
    assert outcome.split == tuple(
        (name, size) for name, size in zip(("dydx", "rabbitx"), expected.sizes, strict=True) if size
    )
    positions = {(p.venue, p.market): p.size for p in alice.positions(me)}
    assert positions == {("dydx", "BTC-USD"): -expected.sizes[0], ("rabbitx", "BTC-USD"): -expected.sizes[1]}
    assert adapter_position(market, 0, 0) == int(-expected.sizes[0] * 10**18)
    assert adapter_position(market, 1, 0) == int(-expected.sizes[1] * 10**18)
    health = market.client(1).health(me)
    assert health.initial_requirement == 12_000 * 10**6 + 12_000 * 10**6  # 20% of 60,000 WETH + 10% of 120,000


def test_a_routed_position_closes_at_the_venues_that_hold_it(market: Chain) -> None:
    alice, keeper = trader(market, 1), trader(market, 0)
    me = market.account(1).address
    opened = alice.submit(me, "ETH-USD", Decimal(40), Decimal(3100), deadline(market))
    assert keeper.execute([opened])[0].executed
    assert len(alice.positions(me)) == 2, "40 ETH is split across both venues"
    closing = alice.submit(me, "ETH-USD", Decimal(-40), Decimal(2900), deadline(market), reduce_only=True)
    [outcome] = keeper.execute([closing])
    assert outcome.executed, outcome.reason
    assert alice.positions(me) == []
    assert adapter_position(market, 0, 1) == 0 and adapter_position(market, 1, 1) == 0


def test_a_venue_that_cannot_price_takes_no_part_of_the_split(market: Chain) -> None:
    """dYdX stops answering (its contract reverts every call): the order goes to RabbitX alone. The router used to
    fail on dYdX's cost model, and the order was sent whole to venue 0, dYdX, where the contract cancelled it."""
    alice, keeper = trader(market, 1), trader(market, 0)
    me = market.account(1).address
    order_id = alice.submit(me, "ETH-USD", Decimal(2), Decimal(3100), deadline(market))
    dydx = market.deployment.venues[0]
    assert dydx.name == "dydx"
    market.w3.provider.make_request("anvil_setCode", [dydx.address, "0x60006000fd"])  # type: ignore[arg-type]
    [outcome] = keeper.execute([order_id])
    assert outcome.executed, outcome.reason
    assert outcome.split == (("rabbitx", Decimal(2)),)
    assert {(p.venue, p.market): p.size for p in alice.positions(me)} == {("rabbitx", "ETH-USD"): Decimal(2)}
    quoted = quote_document(market.w3, market.deployment, "ETH-USD", Decimal(1), "buy", 8, None)
    assert quoted["venues"][0] == {
        "venue": "dydx",
        "error": "unknown market 'ETH-USD': dydx lists nothing (it answers no clobPair read: is it down?)",
    }


def test_a_long_and_a_short_net_at_the_venue(market: Chain) -> None:
    keeper = trader(market, 0)
    a, b = market.account(1).address, market.account(2).address
    first = trader(market, 1).submit(a, "ETH-USD", Decimal(5), Decimal(3100), deadline(market))
    second = trader(market, 2).submit(b, "ETH-USD", Decimal(-5), Decimal(2900), deadline(market))
    assert all(o.executed for o in keeper.execute([first, second]))
    for venue in (0, 1):
        clients = sum(
            p.size
            for t in (1, 2)
            for p in trader(market, t).positions(market.account(t).address)
            if p.venue == ("dydx", "rabbitx")[venue]
        )
        assert adapter_position(market, venue, 1) == int(clients * 10**18)
    # The clients hold 5 ETH long and 5 ETH short; the venues hold only what does not net out (the two
    # routes can differ by a step, since buy and sell costs differ slightly).
    exposure = abs(adapter_position(market, 0, 1)) + abs(adapter_position(market, 1, 1))
    assert exposure <= 2 * 10**16


def set_funding_rates(market: Chain, percent_a_day: tuple[int, int]) -> None:
    """Sets BTC-USD's funding at the two local venues (dYdX's, then RabbitX's) to these percents a day, longs paying."""
    admin = market.client(0).sender
    assert admin is not None
    for venue, rate in zip(market.deployment.venues, percent_a_day, strict=True):
        abi = load_artifact("DydxStyleVenue" if venue.name == "dydx" else "RabbitStyleVenue").abi
        contract = market.w3.eth.contract(address=venue.address, abi=abi)
        admin.transact("set funding", contract.functions.setFundingRate(0, rate * 10**18 // 100 // 86_400))


def test_funding_accrual_moves_equity(market: Chain) -> None:
    alice, keeper = trader(market, 1), trader(market, 0)
    me = market.account(1).address
    order_id = alice.submit(me, "BTC-USD", Decimal("0.5"), Decimal(61_000), deadline(market))
    assert keeper.execute([order_id])[0].executed
    before = market.client(1).health(me).equity
    set_funding_rates(market, (1, 1))
    market.advance(86_400)
    after = market.client(1).health(me).equity
    # Longs pay 1% of the 30,000 notional over the day.
    assert before - after == pytest.approx(300 * 10**6, rel=0.02)


def test_trade_positions_values_each_position_as_the_vault_does(market: Chain) -> None:
    """`trade positions` shows each position's mark, PnL and funding owed; summed and rounded as the vault rounds
    them, they are the vault's own unrealized PnL. A figure it cannot know is unknown, and said why, never 0."""
    alice, keeper = trader(market, 1), trader(market, 0)
    me = market.account(1).address
    order_id = alice.submit(me, "BTC-USD", Decimal("0.5"), Decimal(61_000), deadline(market))
    assert keeper.execute([order_id])[0].executed
    set_funding_rates(market, (1, 3))
    market.advance(12 * 3600)
    market.set_price("WBTC", 62_345.675)

    shown = json.loads(run(market, 1, "trade", "positions", "--json").output)["positions"]
    assert {p["venue"] for p in shown} == {"dydx", "rabbitx"}, "the order was split across both venues"
    wad = Decimal(10**18)
    pnl_wad = sum(int(Decimal(p["pnl"]) * wad) - int(Decimal(p["funding"]) * wad) for p in shown)
    assert pnl_wad // 10**12 == market.client(1).health(me).unrealized_pnl, "the vault's figure, to the unit"
    for p in shown:
        assert p["mark"] == "62345.675"
        assert Decimal(p["pnl"]) == (Decimal(p["size"]) * (Decimal("62345.675") - Decimal(p["entry"]))).quantize(
            Decimal(1).scaleb(-18), rounding="ROUND_FLOOR"
        )
        assert Decimal(p["funding"]) > 0, "a long pays"
    funding = {p["venue"]: Decimal(p["funding"]) / Decimal(p["size"]) for p in shown}
    assert funding["rabbitx"] == pytest.approx(3 * funding["dydx"], rel=Decimal("0.001")), "each at its venue's rate"
    table = run(market, 1, "trade", "positions").output
    assert "62,345.67 " in table and "PnL" in table and "?" not in table, "the mark rounded down, as the web app does"

    market.advance(8 * 86_400)  # past every feed's staleness: the vault cannot value the positions now
    unknown = run(market, 1, "trade", "positions")
    assert unknown.exit_code == 0, unknown.output
    assert "BTC-USD: mark and PnL unknown: its price feed is stale or invalid" in unknown.output
    assert "dydx: funding unknown: the venue cannot report its funding index now" in unknown.output
    assert [p["pnl"] for p in json.loads(run(market, 1, "trade", "positions", "--json").output)["positions"]] == [
        None,
        None,
    ], "unknown, not 0"


def test_trade_positions_shows_funding_received_below_half_a_cent_as_zero(market: Chain) -> None:
    """A short where longs pay receives funding: rounded toward zero to the cent, as the vault owes it (and the web app
    shows it), less than half a cent received is 0.00, not "-0.00"."""
    alice, keeper = trader(market, 1), trader(market, 0)
    me = market.account(1).address
    order_id = alice.submit(me, "BTC-USD", Decimal("-0.01"), Decimal(59_000), deadline(market))
    assert keeper.execute([order_id])[0].executed
    set_funding_rates(market, (1, 1))
    market.advance(30)

    [shown] = json.loads(run(market, 1, "trade", "positions", "--json").output)["positions"]
    assert Decimal("-0.005") < Decimal(shown["funding"]) < 0, "a short receives less than half a cent"
    [row] = run(market, 1, "trade", "positions").output.splitlines()[1:]
    assert row.split()[-1] == "0.00"


def test_liquidation_moves_part_of_the_position_to_the_backstop_and_the_keeper_unwinds_it(market: Chain) -> None:
    alice, keeper = trader(market, 1), trader(market, 0)
    me = market.account(1).address
    order_id = alice.submit(me, "BTC-USD", Decimal(6), Decimal(61_500), deadline(market))
    assert keeper.execute([order_id])[0].executed
    venue_before = adapter_position(market, 0, 0) + adapter_position(market, 1, 0)
    market.set_price("WBTC", 54_000)
    assert market.client(1).health(me).liquidatable

    result = market.client(0).liquidate([me])
    assert [e.account for e in result.liquidated] == [me]
    remaining = sum(p.size for p in alice.positions(me))
    assert Decimal(0) < remaining < Decimal(6), "only part of the position was taken"
    assert not market.client(1).health(me).liquidatable
    assert market.client(1).collateral_balance(me, "WETH") == 20 * 10**18, "collateral untouched"
    books = keeper.backstop()
    assert sum(b.size for b in books) == Decimal(6) - remaining, "the rest is the backstop's, venue by venue"
    assert adapter_position(market, 0, 0) + adapter_position(market, 1, 0) == venue_before, "no venue fill yet"

    # The executor closes the book at the venues in slices inside the contract's band (small books in one).
    limit = band_limit(Decimal(54_000), -1)
    slices = 0
    while books := keeper.backstop():
        book = books[0]
        reader = keeper.venues()[book.venue_id]
        step = reader.cost_model("BTC-USD").step
        size = unwind_slice(book.size, step, functools.partial(_sell_price, reader), limit, -1)
        assert 0 < size <= book.size
        [outcome] = keeper.unwind_backstop([BackstopUnwind(book.market_id, book.venue_id, size, limit)])
        assert not isinstance(outcome, TransactionReverted), outcome
        slices += 1
    assert slices >= 1
    assert adapter_position(market, 0, 0) + adapter_position(market, 1, 0) == int(remaining * 10**18)


def test_the_keeper_liquidates_an_account_trading_at_both_venues_in_one_cycle(market: Chain, tmp_path: Path) -> None:
    """An account short BTC at both venues and long ETH (three slots), under water after ETH falls. The vault's
    liquidation caught running out of gas inside the positions' absorption as the account's failure, so at a limit
    too low for it the account was skipped and the transaction succeeded: the gas estimate settled there, and the
    keeper failed to liquidate the account at every cycle. A limit too low now reverts, so the estimate is the real
    figure and one cycle liquidates it."""
    alice, keeper = trader(market, 1), trader(market, 0)
    me = market.account(1).address
    btc = alice.submit(me, "BTC-USD", Decimal(-2), Decimal(59_000), deadline(market))
    eth = alice.submit(me, "ETH-USD", Decimal(6), Decimal(3_100), deadline(market))
    assert all(outcome.executed for outcome in keeper.execute([btc, eth]))
    assert len({p.venue for p in alice.positions(me) if p.market == "BTC-USD"}) == 2, "the short at both venues"
    market.client(1).borrow(me, 20_000 * 10**6)
    price = 3_000
    while not market.client(1).health(me).liquidatable:
        price -= 100
        market.set_price("WETH", price)
    results = keeper_for(market, tmp_path, jobs=("liquidation",)).jobs.liquidation.run()
    assert [e.account for r in results for e in r.liquidated] == [me]
    assert not market.client(1).health(me).liquidatable


def _sell_price(reader: Venue, size: Decimal) -> Decimal:
    return reader.quote("BTC-USD", size, -1).average_price


def test_limit_and_deadline_cancel_with_a_decoded_reason(market: Chain) -> None:
    alice, keeper = trader(market, 1), trader(market, 0)
    me = market.account(1).address
    tight = alice.submit(me, "BTC-USD", Decimal(1), Decimal(59_000), deadline(market))
    late = alice.submit(me, "BTC-USD", Decimal(1), Decimal(61_000), deadline(market, 60))
    market.advance(120)
    outcomes = {o.order_id: o for o in keeper.execute([tight, late])}
    assert outcomes[tight].reason is not None and outcomes[tight].reason.name == "VenuePriceLimitExceeded"
    assert outcomes[late].reason is not None and outcomes[late].reason.name == "OrderExpired"
    assert alice.order(tight).status == "cancelled" and alice.order(late).status == "cancelled"
    assert alice.positions(me) == []


def test_an_order_that_fails_after_its_fills_does_not_stop_the_batch(market: Chain) -> None:
    """An order refused at its end (both venues filled, then the health check) burns far more than an order refused
    at once; its estimate reverts, so its gas is the keeper's allowance. Too small an allowance ended the whole
    batch (the try/catch keeps 1/64 of the gas for the cancellation), and the valid order beside it waited."""
    keeper = trader(market, 0)
    market.mint(3, "WETH", 1)
    market.client(3).deposit(market.account(3).address, "WETH", 10**18)  # 3,000: no margin for 2 BTC
    greedy = trader(market, 3).submit(
        market.account(3).address, "BTC-USD", Decimal(2), Decimal(61_000), deadline(market)
    )
    me = market.account(1).address
    valid = trader(market, 1).submit(me, "BTC-USD", Decimal("0.1"), Decimal(61_000), deadline(market))
    outcomes = {o.order_id: o for o in keeper.execute([greedy, valid])}
    assert len(outcomes[greedy].split) == 2, "routed over both venues, so both fill before the refusal"
    assert outcomes[greedy].reason is not None and outcomes[greedy].reason.name == "InsufficientEquity"
    assert outcomes[valid].executed, outcomes[valid].reason


def test_a_batch_closes_what_its_earlier_order_opens(market: Chain) -> None:
    """A reduce-only order after the order that opens its position, in one batch, is split over the position it
    will meet, not the one held before the batch."""
    alice, keeper = trader(market, 1), trader(market, 0)
    me = market.account(1).address
    opened = alice.submit(me, "ETH-USD", Decimal(40), Decimal(3100), deadline(market))
    closing = alice.submit(me, "ETH-USD", Decimal(-40), Decimal(2900), deadline(market), reduce_only=True)
    outcomes = keeper.execute([opened, closing])
    assert all(o.executed for o in outcomes), [o.reason for o in outcomes]
    assert alice.positions(me) == []


def test_venue_withdrawal_delay_is_respected(market: Chain) -> None:
    keeper = trader(market, 0)
    admin = market.client(0).sender
    assert admin is not None
    vault_usdc = market.client(0).token("USDC").contract.functions.balanceOf(market.deployment.vault)
    before = vault_usdc.call()
    admin.transact("request", keeper.contract.functions.requestMarginWithdrawal(1, 10_000 * 10**6))
    admin.transact("claim early", keeper.contract.functions.claimMarginWithdrawals(1))
    assert vault_usdc.call() == before, "nothing before the delay"
    market.advance(86_400)
    admin.transact("claim", keeper.contract.functions.claimMarginWithdrawals(1))
    assert vault_usdc.call() == before + 10_000 * 10**6
    admin.transact("instant", keeper.contract.functions.requestMarginWithdrawal(0, 5_000 * 10**6))
    assert vault_usdc.call() == before + 15_000 * 10**6, "the dydx-style venue pays at once"


def run(chain: Chain, dev: int, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--deployment", str(chain.deployment_file), "--dev-account", str(dev), *args])


# No key from the environment: a read that needs none must not ask for one.
NO_KEY = {"PRIMEVAULT_DEV_ACCOUNT": None, "PRIMEVAULT_KEYSTORE": None, "PRIMEVAULT_PASSWORD_FILE": None}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["DOGE-USD", "1", "--side", "buy"], "unknown market 'DOGE-USD'"),
        (["BTC-USD", "0.00005", "--side", "buy"], "not a multiple of any venue's step"),
        (["BTC-USD", "0", "--side", "buy"], "must be greater than zero"),
        (["BTC-USD", "one", "--side", "buy"], "is not a number"),
    ],
)
def test_trade_submit_bad_input(market: Chain, args: list[str], message: str) -> None:
    result = run(market, 1, "trade", "submit", *args)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_trade_submit_takes_the_steps_of_the_venues_that_answer(market: Chain) -> None:
    """`trade submit` (and `account bundle`, `session trade`) read every venue's step first: one venue down and no
    order could be submitted, though the router leaves that venue out, in a line naming neither venue nor remedy."""
    rabbitx, dydx = (next(v for v in market.deployment.venues if v.name == n) for n in ("rabbitx", "dydx"))
    market.w3.provider.make_request("anvil_setCode", [rabbitx.address, "0x60006000fd"])  # type: ignore[arg-type]
    result = run(market, 1, "trade", "submit", "ETH-USD", "1", "--side", "buy")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("order 0: buy 1 ETH-USD")

    market.w3.provider.make_request("anvil_setCode", [dydx.address, "0x60006000fd"])  # type: ignore[arg-type]
    result = run(market, 1, "trade", "submit", "ETH-USD", "1", "--side", "buy")
    assert (result.exit_code, result.output.strip()) == (
        1,
        "Error: no venue can take ETH-USD now: dydx: unknown market 'ETH-USD': dydx lists nothing (it answers no "
        "clobPair read: is it down?); rabbitx: its contract reverted without giving a reason",
    )


def test_trade_commands_end_to_end(market: Chain) -> None:
    submitted = run(market, 1, "trade", "submit", "ETH-USD", "3", "--side", "buy")
    assert submitted.exit_code == 0, submitted.output
    crossed = run(market, 1, "trade", "submit", "ETH-USD", "3", "--side", "buy", "--limit", "2000")
    assert crossed.exit_code == 0
    executed = run(market, 0, "trade", "execute", "0", "1")
    assert executed.exit_code == 1
    assert "order 0 executed across" in executed.output
    assert "order 1 cancelled: the venue's fill price 3,0" in executed.output, "in human units"
    assert "is worse than the limit 2,000.00 USD; use a wider limit or a smaller size [VenuePriceLimitExceeded]" in (
        executed.output
    )
    shown = run(market, 1, "trade", "positions")
    assert "ETH-USD" in shown.output
    listed = run(market, 1, "trade", "list")
    assert "executed" in listed.output and "cancelled" in listed.output
    assert "worse than the limit 2,000.00 USD" in listed.output
    assert '"reason": "VenuePriceLimitExceeded(' in run(market, 1, "trade", "list", "--json").output, "raw in JSON"

    # An order left past its deadline is listed as expired, and `--open` leaves it out (it listed it as open).
    late = run(market, 1, "trade", "submit", "ETH-USD", "1", "--side", "buy", "--ttl", "60")
    assert late.exit_code == 0, late.output
    market.advance(120)
    assert "expired" in run(market, 1, "trade", "list").output
    assert run(market, 1, "trade", "list", "--open").output.strip() == "no orders"

    # One its account voided with `cancelAllOrders` can no longer execute either: listed as voided, not open.
    voided = run(market, 1, "trade", "submit", "ETH-USD", "1", "--side", "buy")
    assert voided.exit_code == 0, voided.output
    me = market.account(1).address
    trading = trader(market, 1)
    trading.contract.functions.cancelAllOrders(me).transact({"from": me})
    rows = {r["id"]: r["status"] for r in json.loads(run(market, 1, "trade", "list", "--json").output)}
    assert rows[trading.order_count() - 1] == "voided" and "open" not in rows.values()
    assert run(market, 1, "trade", "list", "--open").output.strip() == "no orders"


def test_account_show_names_the_venue_its_health_waits_for_and_shows_the_rest(market: Chain) -> None:
    """The vault's health view asks every venue of the account's positions for its funding index (`perpRisk`): while
    one cannot answer, `account show` failed whole. It shows the balances and positions, and which venue the health
    waits for; once the venue answers, the health again."""
    alice, keeper = trader(market, 1), trader(market, 0)
    me = market.account(1).address
    opened = alice.submit(me, "ETH-USD", Decimal(40), Decimal(3100), deadline(market))
    assert keeper.execute([opened])[0].executed
    assert {p.venue for p in alice.positions(me)} == {"dydx", "rabbitx"}, "40 ETH is split across both venues"
    dydx = market.deployment.venues[0]
    assert dydx.name == "dydx"
    code = market.w3.eth.get_code(dydx.address)
    market.w3.provider.make_request("anvil_setCode", [dydx.address, "0x60006000fd"])  # type: ignore[arg-type]
    try:
        with pytest.raises(TransactionReverted):
            market.client(1).health(me)
        shown = run(market, 1, "account", "show")
        as_json = run(market, 1, "account", "show", "--json")
    finally:
        market.w3.provider.make_request("anvil_setCode", [dydx.address, "0x" + code.hex()])  # type: ignore[arg-type]
    assert shown.exit_code == 0, shown.output
    assert "WETH       20" in shown.output
    assert "position   ETH-USD at dydx" in shown.output and "position   ETH-USD at rabbitx" in shown.output
    assert (
        "health                   cannot be computed until dydx answers (dydx's funding index: it reverts without "
        "a reason); withdrawing and borrowing wait for it too"
    ) in shown.output
    assert "equity" not in shown.output and "liquidatable" not in shown.output, "no figure it cannot know"
    view = json.loads(as_json.output)
    assert view["health"] is None and view["health_waits_for"] == ["dydx"]
    assert view["collateral"]["WETH"] == {"balance": "20", "withdrawable": None}
    assert sum(Decimal(p["size"]) for p in view["positions"]) == 40
    back = run(market, 1, "account", "show")
    assert back.exit_code == 0 and "cannot be computed" not in back.output and "health  " in back.output


@pytest.mark.parametrize("limit", ["0", "-5"])
def test_a_limit_that_is_not_positive_names_the_option(market: Chain, limit: str) -> None:
    """It said "amount '0' must be greater than zero", of an order whose size was 1: which amount?"""
    sent = market.w3.eth.get_transaction_count(market.account(1).address)
    result = run(market, 1, "trade", "submit", "ETH-USD", "1", "--side", "buy", "--limit", limit)
    assert_one_line_error(result, f"--limit {limit} must be greater than zero")
    assert market.w3.eth.get_transaction_count(market.account(1).address) == sent
    assert trader(market, 1).order_count() == 0


def test_trade_list_all_refuses_a_sub_account_and_needs_no_key(market: Chain) -> None:
    """`trade list --all --sub 3` listed every account's orders, --sub dropped silently."""
    assert run(market, 1, "trade", "submit", "ETH-USD", "1", "--side", "buy").exit_code == 0
    for sub in ("3", "0"):
        assert_one_line_error(
            run(market, 1, "trade", "list", "--all", "--sub", sub),
            f"--all lists every account's orders and --sub {sub} names one of yours: give one of them",
        )
    keyless = CliRunner().invoke(
        cli, ["--deployment", str(market.deployment_file), "trade", "list", "--all", "--json"], env=NO_KEY
    )
    assert keyless.exit_code == 0, keyless.output
    assert [o["account"] for o in json.loads(keyless.output)] == [market.account(1).address]

"""The keeper's scheduled jobs on a real anvil: orders (an invalid order among valid ones, paused trading),
the backstop unwind, and the start-up role check."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from keeper.chain.deploy import seed_local_liquidity
from keeper.daemon.config import KeeperConfig
from keeper.daemon.runner import Keeper
from keeper.trading import TradingClient
from tests.python.conftest import Chain

PAUSE_TRADE = 1 << 3


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


def test_one_invalid_order_is_cancelled_with_its_reason_and_the_rest_execute(
    traders: Chain, tmp_path: Path, caplog: Any
) -> None:
    alice, bob = trading(traders, 1), trading(traders, 2)
    a, b = traders.account(1).address, traders.account(2).address
    first = alice.submit(a, "BTC-USD", Decimal("0.5"), Decimal(61_000), deadline(traders))
    invalid = bob.submit(b, "BTC-USD", Decimal(-1), Decimal(59_000), deadline(traders), reduce_only=True)
    last = alice.submit(a, "ETH-USD", Decimal(-2), Decimal(2_900), deadline(traders))
    keeper = keeper_for(traders, tmp_path)
    with caplog.at_level("WARNING", logger="primevault.keeper"):
        keeper.orders_job()
    statuses = {i: alice.order(i).status for i in (first, invalid, last)}
    assert statuses == {first: "executed", invalid: "cancelled", last: "executed"}
    assert f"order {invalid} cancelled: ReduceOnlyIncreases" in caplog.text
    assert keeper.metrics.orders_executed._value.get() == 2


def test_a_closing_order_goes_to_the_venue_that_holds_the_position(traders: Chain, tmp_path: Path) -> None:
    alice = trading(traders, 1)
    me = traders.account(1).address
    opened = alice.submit(me, "BTC-USD", Decimal(2), Decimal(61_500), deadline(traders))
    keeper = keeper_for(traders, tmp_path)
    keeper.orders_job()
    held = {p.venue: p.size for p in alice.positions(me)}
    assert alice.order(opened).status == "executed" and len(held) == 2, "the router split the opening order"
    # Not reduce-only, and larger than the position: closes each venue's leg, routes only the rest.
    closing = alice.submit(me, "BTC-USD", Decimal(-3), Decimal(58_000), deadline(traders))
    keeper.orders_job()
    assert alice.order(closing).status == "executed"
    positions = {p.venue: p.size for p in alice.positions(me)}
    assert sum(positions.values()) == Decimal(-1)
    assert all(size <= 0 for size in positions.values()), "no venue kept a long against a short elsewhere"


def test_paused_trading_leaves_orders_open(traders: Chain, tmp_path: Path, caplog: Any) -> None:
    alice = trading(traders, 1)
    me = traders.account(1).address
    order_id = alice.submit(me, "BTC-USD", Decimal("0.5"), Decimal(61_000), deadline(traders))
    admin = traders.client(0)
    assert admin.sender is not None
    admin.sender.transact("pause", admin.contract.functions.setPaused(PAUSE_TRADE))
    keeper = keeper_for(traders, tmp_path)
    with caplog.at_level("INFO", logger="primevault.keeper"):
        keeper.orders_job()
    assert alice.order(order_id).status == "open"
    assert "trading is paused" in caplog.text
    admin.sender.transact("unpause", admin.contract.functions.setPaused(0))
    keeper.orders_job()
    assert alice.order(order_id).status == "executed"


def test_the_keeper_unwinds_the_backstop_book_in_slices(traders: Chain, tmp_path: Path) -> None:
    alice = trading(traders, 1)
    me = traders.account(1).address
    alice.submit(me, "BTC-USD", Decimal(6), Decimal(61_500), deadline(traders))
    keeper = keeper_for(traders, tmp_path)
    keeper.orders_job()
    traders.set_price("WBTC", 54_000)
    [result] = keeper.risk_cycle()
    assert [e.account for e in result.liquidated] == [me]
    book = sum(b.size for b in alice.backstop())
    assert book > 0
    runs = 0
    while alice.backstop():
        keeper.backstop_job()
        runs += 1
        assert runs < 10, "the book shrinks every run"
    assert keeper.metrics.backstop_unwound._value.get() >= runs
    assert keeper.reconcile_job() == 0, "venue positions still equal the books"


def test_the_start_up_line_names_the_roles_and_the_jobs_switched_off(
    traders: Chain, tmp_path: Path, caplog: Any
) -> None:
    with caplog.at_level("INFO", logger="primevault.keeper"):
        operator = keeper_for(traders, tmp_path, dev_account=0)
    assert operator.is_executor and operator.is_risk_manager
    assert "holds EXECUTOR_ROLE, RISK_MANAGER_ROLE: liquidation on, every job on" in caplog.text
    caplog.clear()
    with caplog.at_level("INFO", logger="primevault.keeper"):
        liquidator = keeper_for(traders, tmp_path, dev_account=8)
    assert not liquidator.is_executor
    [line] = [r.getMessage() for r in caplog.records if "holds" in r.getMessage()]
    assert "holds no role: liquidation on; off: orders, backstop unwinding and venue margin need EXECUTOR_ROLE" in line
    order_id = trading(traders, 1).submit(
        traders.account(1).address, "BTC-USD", Decimal("0.5"), Decimal(61_000), deadline(traders)
    )
    liquidator.orders_job()
    assert trading(traders, 1).order(order_id).status == "open", "the switched-off job sends nothing"

"""`account bundle` on anvil: a deposit with the token's permit, a borrow and an order in one transaction (after
the bundler's one-time operator grant), and a bundle that fails changing nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from keeper.client.bundler import BundlerClient
from keeper.client.trading import TradingClient
from keeper.devnet.deploy import seed_local_liquidity
from tests.python.conftest import Chain
from tests.python.test_cli import assert_one_line_error, run

TRADER = 3


@pytest.fixture
def pool(chain: Chain) -> Chain:
    admin = chain.client(0)
    assert admin.sender is not None
    seed_local_liquidity(admin.sender, chain.deployment)
    chain.mint(TRADER, "WETH", 10)
    return chain


def test_deposit_borrow_and_order_in_one_transaction(pool: Chain) -> None:
    chain = pool
    me = chain.account(TRADER).address
    vault = chain.client(TRADER)
    nonce = chain.w3.eth.get_transaction_count(me)
    bundled = run(
        chain, "account", "bundle", "2", "WETH", "--borrow", "1000", "--market", "ETH-USD", "--size", "0.5",
        "--side", "buy", dev=TRADER,
    )  # fmt: skip
    assert bundled.exit_code == 0, bundled.output
    assert "made the bundler" in bundled.output and "(withdraw, trade)" in bundled.output
    assert "deposited 2 WETH" in bundled.output and "borrowed 1,000 USDC" in bundled.output
    assert chain.w3.eth.get_transaction_count(me) == nonce + 2, "the grant, then the bundle: no approval"
    assert vault.collateral_balance(me, "WETH") == 2 * 10**18
    assert vault.base_balance(me) <= -1000 * 10**6
    trading = TradingClient(chain.w3, chain.deployment)
    order = trading.order(trading.order_count() - 1)
    assert order.account == me and order.size == Decimal("0.5") and order.status == "open"

    again = run(chain, "account", "bundle", "1", "WETH", dev=TRADER)
    assert again.exit_code == 0, again.output
    assert "made the bundler" not in again.output
    assert chain.w3.eth.get_transaction_count(me) == nonce + 3, "granted once: a later bundle is one transaction"
    assert vault.collateral_balance(me, "WETH") == 3 * 10**18
    assert not BundlerClient(chain.w3, chain.deployment).needs_grant(me)


def test_a_bundle_that_would_leave_the_account_unhealthy_changes_nothing(pool: Chain) -> None:
    chain = pool
    me = chain.account(TRADER).address
    vault = chain.client(TRADER)
    BundlerClient(chain.w3, chain.deployment, vault.sender).grant(me)  # the one-time grant is its own transaction
    refused = run(chain, "account", "bundle", "1", "WETH", "--borrow", "2900", dev=TRADER)
    assert_one_line_error(refused, "would make the account unhealthy", "[InsufficientEquity]")
    assert vault.collateral_balance(me, "WETH") == 0 and vault.base_balance(me) == 0
    assert vault.token("WETH").balance_of(me) == 10 * 10**18


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["1", "WETH", "--market", "ETH-USD"], "an order needs --market, --size and --side together"),
        (["1", "WETH", "--limit", "2000"], "--limit is for an order, and no order is given: add --market"),
        (["1", "WETH", "--ttl", "60", "--slippage-bps", "5"], "--slippage-bps, --ttl are for an order"),
        (["1", "WETH", "--borrow", "lots"], "--borrow lots is not a number"),
        (["1", "DOGE"], "unknown asset 'DOGE'"),
        (["1", "WETH", "--market", "ETH-USD", "--size", "0.0000001", "--side", "buy"], "is not a multiple of any"),
        # the deposit's margin counts (the first test's order only fits with it), but not beyond what it adds
        (["1", "WETH", "--market", "ETH-USD", "--size", "1000", "--side", "buy"], "of initial margin but"),
        # the borrow alone is more than the collateral carries: said of the borrow, not blamed on the order, and the
        # most as the vault books a principal (4,800 of free margin carries 4,799.999999 once the index has grown)
        (
            ["2", "WETH", "--borrow", "100000", "--market", "ETH-USD", "--size", "0.5", "--side", "buy"],
            "can carry: with the 2 WETH deposited it can borrow at most 4,799.999999 USDC, before any order",
        ),
    ],
)
def test_bundle_bad_input(pool: Chain, args: list[str], message: str) -> None:
    assert_one_line_error(run(pool, "account", "bundle", *args, dev=TRADER), message)
    me = pool.account(TRADER).address
    assert pool.client(TRADER).collateral_balance(me, "WETH") == 0, "a refused bundle deposits nothing"

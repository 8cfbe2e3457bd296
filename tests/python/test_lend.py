"""`primevault lend` against anvil: a lender deposits through the ERC-4626 vault, a borrower pays interest, the
lender withdraws with it; asking for more than the pool's idle cash is one clear line."""

from __future__ import annotations

import json

import pytest

from keeper.client.lender import LenderClient
from keeper.client.tokens import TokenClient
from keeper.units import plain_units
from tests.python.conftest import Chain
from tests.python.test_cli import assert_one_line_error, run

pytestmark = pytest.mark.chain


def _borrow(chain: Chain, usdc: int) -> None:
    """Dev account 3 borrows `usdc` base units against plenty of WETH."""
    chain.mint(3, "WETH", 10_000)
    owner = chain.account(3).address
    chain.client(3).deposit(owner, "WETH", 10_000 * 10**18)
    chain.client(3).withdraw(owner, "USDC", usdc)


def test_a_lender_withdraws_with_interest(chain: Chain) -> None:
    chain.mint(1, "USDC", 10_000)
    me = chain.account(1).address
    usdc = TokenClient(chain.w3, chain.deployment.base)
    assert run(chain, "lend", "deposit", "10000").exit_code == 0
    assert usdc.balance_of(me) == 0
    lender = LenderClient(chain.w3, chain.deployment)
    # The supply index has not moved: PrimeVault stores the deposit exactly, and the shares are worth all of it.
    assert lender.position(me).assets == 10_000 * 10**6, "worth exactly what PrimeVault credited"
    _borrow(chain, 9_000 * 10**6)  # 90% of the pool
    chain.w3.provider.make_request("evm_increaseTime", [365 * 86_400])  # type: ignore[arg-type]
    chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    shown = run(chain, "lend", "show", "--json")
    assert shown.exit_code == 0, shown.output
    assert '"symbol": "USDC"' in shown.output
    assert lender.position(me).assets > 10_100 * 10**6, "a year of interest on a pool 90% lent"
    assert_one_line_error(run(chain, "lend", "withdraw", "all"), "can be withdrawn now, the rest is lent out")
    chain.mint(3, "USDC", 5_000)  # the interest on top of the 9,000 borrowed
    chain.client(3).repay(chain.account(3).address)
    result = run(chain, "lend", "withdraw", "all")
    assert result.exit_code == 0, result.output
    assert usdc.balance_of(me) > 10_100 * 10**6
    assert lender.position(me).shares == 0


def test_more_than_the_pools_cash_is_one_line(chain: Chain) -> None:
    chain.mint(1, "USDC", 50_000)
    assert run(chain, "lend", "deposit", "50000").exit_code == 0
    cash = TokenClient(chain.w3, chain.deployment.base).balance_of(chain.deployment.vault)
    _borrow(chain, cash - 1_000 * 10**6)  # 1,000 USDC left idle
    assert_one_line_error(
        run(chain, "lend", "withdraw", "5000"),
        "you can withdraw 1,000.00 USDC now",
        "less than the 5,000.00 USDC asked for",
    )
    assert_one_line_error(run(chain, "lend", "withdraw", "-3"), "amount")
    # Beyond Decimal's default 28 digits: said exactly, not a traceback.
    assert_one_line_error(
        run(chain, "lend", "withdraw", "1e30"), "less than the 1,000,000,000,000,000,000,000,000,000,000.00 USDC"
    )
    assert run(chain, "lend", "withdraw", "1000").exit_code == 0


def test_what_a_lender_can_take_is_never_shown_rounded_up(chain: Chain) -> None:
    """7,499.999998 USDC idle and 7,500 asked for: the refusal said "you can withdraw 7,500.00 USDC now, less than
    the 7,500.00 USDC asked for", the same amount twice (the first rounded up). `lend show --json` printed thousands
    separators and the shares in raw units."""
    chain.mint(1, "USDC", 10_000)
    me = chain.account(1).address
    assert run(chain, "lend", "deposit", "10000").exit_code == 0
    cash = TokenClient(chain.w3, chain.deployment.base).balance_of(chain.deployment.vault)
    _borrow(chain, cash - 7_499_999_998)
    lender = LenderClient(chain.w3, chain.deployment)
    assert lender.position(me).max_withdraw == 7_499_999_998

    sent = chain.w3.eth.get_transaction_count(me)
    assert_one_line_error(
        run(chain, "lend", "withdraw", "7500"),
        "you can withdraw 7,499.999998 USDC now, less than the 7,500.00 USDC asked for: the rest is lent out",
    )
    assert chain.w3.eth.get_transaction_count(me) == sent, "nothing sent"

    shown = run(chain, "lend", "show")
    assert shown.exit_code == 0, shown.output
    assert f"{me}: 10,000 USDC, of which withdrawable now 7,499.999998" in shown.output
    document = json.loads(run(chain, "lend", "show", "--json").output)
    share_decimals = int(lender.contract.functions.decimals().call())
    assert document["shares"] == plain_units(lender.position(me).shares, share_decimals) == "10000"
    assert (document["value"], document["withdrawable_now"]) == ("10000", "7499.999998")
    assert "," not in document["total_assets"]
    assert run(chain, "lend", "withdraw", "7499.999998").exit_code == 0, "exactly what it said can be withdrawn"


def test_a_withdrawal_says_which_limit_binds(chain: Chain) -> None:
    """The holder's own shares, not funds lent out, when the pool has plenty idle; no shares at all, said first."""
    assert_one_line_error(run(chain, "lend", "withdraw", "5"), "you hold no lender shares")
    chain.mint(1, "USDC", 600)
    assert run(chain, "lend", "deposit", "599.5").exit_code == 0
    chain.mint(2, "USDC", 50_000)
    assert run(chain, "lend", "deposit", "50000", dev=2).exit_code == 0  # the pool holds far more idle
    result = run(chain, "lend", "withdraw", "5000000")
    assert_one_line_error(result, "your lender shares are worth 599.50 USDC, less than the 5,000,000.00 USDC asked for")
    assert "lent out" not in result.output


def test_a_deposit_while_deposits_are_paused_sends_no_approval(chain: Chain) -> None:
    """The lender vault's `maxDeposit` is 0 while PrimeVault's deposits are paused: the deposit is refused before
    the approval it would have left behind, and nothing is sent."""
    chain.mint(1, "USDC", 100)
    me = chain.account(1).address
    chain.client(0).set_paused(1)  # PAUSE_DEPOSIT
    lender = LenderClient(chain.w3, chain.deployment)
    assert lender.max_deposit(me) == 0
    sent = chain.w3.eth.get_transaction_count(me)
    assert_one_line_error(run(chain, "lend", "deposit", "7"), "the lender vault takes no deposits now", "paused")
    assert chain.w3.eth.get_transaction_count(me) == sent
    assert TokenClient(chain.w3, chain.deployment.base).allowance(me, lender.address) == 0
    chain.client(0).set_paused(0)
    assert run(chain, "lend", "deposit", "7").exit_code == 0
    assert TokenClient(chain.w3, chain.deployment.base).allowance(me, lender.address) == 0

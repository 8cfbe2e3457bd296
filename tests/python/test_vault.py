"""The Python package against the real contracts on anvil: deposits, interest, liquidation, decoded errors."""

from __future__ import annotations

import random

import pytest
from web3 import Web3

from keeper.client.vault import LiquidationResult, sub_account
from keeper.exceptions import TransactionReverted
from keeper.liquidator import risk_parameters, scan
from keeper.risk.health import exact_health
from tests.python.conftest import Chain


def test_deposits_in_each_decimal_size(chain: Chain) -> None:
    for symbol in ("USDC", "WETH", "WBTC"):
        chain.mint(1, symbol, 1000)
    client = chain.client(1)
    me = chain.account(1).address
    client.deposit(me, "WETH", 15 * 10**17)  # 18 decimals
    client.deposit(me, "WBTC", 25 * 10**6)  # 8 decimals
    client.deposit(me, "USDC", 100 * 10**6)  # 6 decimals
    assert client.collateral_balance(me, "WETH") == 15 * 10**17
    assert client.collateral_balance(me, "WBTC") == 25 * 10**6
    health = client.health(me)
    assert health.base_balance == 100 * 10**6
    assert health.collateral_value == 19_500 * 10**6  # 1.5 x 3,000 + 0.25 x 60,000
    assert health.equity == 19_600 * 10**6
    assert health.initial_requirement == 3_900 * 10**6


def test_a_deposit_is_one_transaction_with_a_permit(chain: Chain) -> None:
    chain.mint(1, "WETH", 3)
    client = chain.client(1)
    me = chain.account(1).address
    nonce = chain.w3.eth.get_transaction_count(me)
    receipt = client.deposit(me, "WETH", 2 * 10**18)
    assert chain.w3.eth.get_transaction_count(me) == nonce + 1, "no separate approval"
    assert receipt["to"] == chain.deployment.vault
    assert client.collateral_balance(me, "WETH") == 2 * 10**18
    assert client.token("WETH").allowance(me, chain.deployment.vault) == 0, "the permit was for exactly the deposit"


def test_a_deposit_to_a_mistyped_address_is_refused(chain: Chain) -> None:
    # One letter of a checksummed address changed: another account, which only the checksum tells apart. web3 refuses
    # it; the client must not checksum it afresh and fund that account.
    chain.mint(1, "WETH", 1)
    client = chain.client(1)
    me = chain.account(1).address
    typo = me[:-1] + ("1" if me[-1] != "1" else "2")
    assert not Web3.is_checksum_address(typo)
    with pytest.raises(ValueError, match="not an address"):
        client.deposit(typo, "WETH", 10**18)
    assert client.token("WETH").balance_of(me) == 10**18
    assert client.collateral_balance(Web3.to_checksum_address(typo), "WETH") == 0


def test_borrow_accrues_interest_across_a_time_jump(chain: Chain) -> None:
    chain.mint(2, "USDC", 100_000)
    lender = chain.client(2)
    lender.deposit(chain.account(2).address, "USDC", 100_000 * 10**6)
    chain.mint(1, "WETH", 10)
    borrower = chain.client(1)
    me = chain.account(1).address
    borrower.deposit(me, "WETH", 10 * 10**18)
    borrower.withdraw(me, "USDC", 20_000 * 10**6)
    assert borrower.market().utilization_wad == pytest.approx(2 * 10**17, rel=1e-6)

    chain.advance(365 * 24 * 3600)
    # 20% utilization: 1% + 5% x 20% = 2% a year; suppliers get 2% x 20% x 90%.
    debt = -borrower.base_balance(me)
    assert debt == pytest.approx(20_400 * 10**6, rel=1e-4)
    assert lender.base_balance(chain.account(2).address) == pytest.approx(100_360 * 10**6, rel=1e-4)


def _open_loans(chain: Chain, fractions: list[float]) -> list[str]:
    """One sub-account of dev account 1 per fraction, each with 1 WETH borrowing that fraction of 2,400."""
    chain.mint(2, "USDC", 1_000_000)
    chain.client(2).deposit(chain.account(2).address, "USDC", 1_000_000 * 10**6)
    chain.mint(1, "WETH", len(fractions))
    client = chain.client(1)
    accounts = []
    for i, fraction in enumerate(fractions):
        account = sub_account(chain.account(1).address, i)
        client.deposit(account, "WETH", 10**18)
        client.withdraw(account, "USDC", int(2400 * fraction) * 10**6)
        accounts.append(account)
    return accounts


def test_a_batch_reports_what_it_wrote_off(chain: Chain) -> None:
    """An account whose debt outgrows its collateral is absorbed whole; the debt left with nothing to absorb is the
    shortfall, of which what reserves cannot cover is written off, and the batch's result reports both."""
    (account,) = _open_loans(chain, [0.99])
    chain.set_price("WETH", 1500)
    keeper = chain.clients(9).vault
    (outcome,) = keeper.liquidate_batches([[account]])
    assert isinstance(outcome, LiquidationResult)
    (event,) = outcome.liquidated
    assert event.account == account and event.shortfall > 0
    assert 0 < outcome.bad_debt <= event.shortfall
    assert keeper.collateral_balance(account, "WETH") == 0 and keeper.base_balance(account) == 0


def test_price_crash_then_batch_liquidation(chain: Chain) -> None:
    fractions = [0.5, 0.8, 0.9, 0.95, 0.99, 0.7]
    accounts = _open_loans(chain, fractions)
    clients = chain.clients(9)
    keeper = clients.vault
    assert scan(clients).liquidatable == []

    chain.set_price("WETH", 2400)  # maintenance: debt > 2,400 x 85% = 2,040, i.e. fraction > 0.85
    result = scan(clients)
    expected = {a for a, f in zip(accounts, fractions, strict=True) if 2400 * f > 2040}
    assert set(result.liquidatable) == expected
    assert result.liquidatable[0] == accounts[4], "most underwater first"

    pairs = [result.liquidatable[i : i + 2] for i in range(0, len(result.liquidatable), 2)]
    outcomes = [r for r in keeper.liquidate_batches(pairs) if isinstance(r, LiquidationResult)]
    assert len(outcomes) == len(pairs), "no batch reverted"
    liquidated = {e.account for r in outcomes for e in r.liquidated}
    assert liquidated == expected
    assert scan(clients).liquidatable == []
    assert sum(r.reward for r in outcomes) > 0
    for account in accounts:
        kept = keeper.collateral_balance(account, "WETH")
        assert kept < 10**18 if account in expected else kept == 10**18
    # Partial liquidation: the 0.9 loan keeps part of its WETH (only what brings it back to maintenance + 5%
    # is absorbed); for the 0.95 and 0.99 loans all of it is needed (docs/risk.md: f >= 1).
    assert 0 < keeper.collateral_balance(accounts[2], "WETH") < 10**18
    assert keeper.collateral_balance(accounts[3], "WETH") == 0
    assert keeper.collateral_balance(accounts[4], "WETH") == 0


def test_a_batch_survives_a_competing_keeper(chain: Chain) -> None:
    accounts = _open_loans(chain, [0.95, 0.96, 0.97])
    chain.set_price("WETH", 2400)
    chain.client(8).liquidate(accounts[:2])
    result = chain.client(9).liquidate(accounts)
    assert [e.account for e in result.liquidated] == [accounts[2]]


def test_a_revert_is_reported_with_its_decoded_error(chain: Chain) -> None:
    chain.mint(2, "USDC", 10_000)
    chain.client(2).deposit(chain.account(2).address, "USDC", 10_000 * 10**6)
    chain.mint(1, "WETH", 1)
    client = chain.client(1)
    me = chain.account(1).address
    client.deposit(me, "WETH", 10**18)
    with pytest.raises(TransactionReverted) as caught:
        client.withdraw(me, "USDC", 2401 * 10**6)
    assert caught.value.error.name == "InsufficientEquity"
    args = caught.value.error.args
    assert (args["account"], args["initialRequirement"]) == (me, 600 * 10**6)
    # 3,000 - 2,401 of debt; the borrow index may have grown by a second of base rate since the last block.
    assert 599 * 10**6 - 10 <= args["equity"] <= 599 * 10**6
    assert client.base_balance(me) == 0, "nothing was sent"


def test_exact_health_matches_the_contract(chain: Chain) -> None:
    rng = random.Random(5)
    chain.mint(2, "USDC", 1_000_000)
    chain.client(2).deposit(chain.account(2).address, "USDC", 1_000_000 * 10**6)
    for symbol in ("WETH", "WBTC"):
        chain.mint(1, symbol, 1000)
    client = chain.client(1)
    for i in range(12):
        account = sub_account(chain.account(1).address, i)
        client.deposit(account, "WETH", rng.randrange(1, 10**19))
        client.deposit(account, "WBTC", rng.randrange(1, 10**8))
        capacity = client.health(account).collateral_value - client.health(account).initial_requirement
        client.withdraw(account, "USDC", max(capacity * rng.randrange(60, 100) // 100, 100 * 10**6))
    chain.set_price("WETH", rng.uniform(1500, 2600))
    chain.set_price("WBTC", rng.uniform(40_000, 60_000))
    params = risk_parameters(chain.clients(1))
    for snapshot in client.lens.iter_accounts(page_size=5):
        on_chain = client.health(snapshot.account)
        exact = exact_health(snapshot.base_balance, snapshot.collateral, params)
        assert (exact.collateral_value, exact.equity) == (on_chain.collateral_value, on_chain.equity)
        assert exact.maintenance_requirement == on_chain.maintenance_requirement
        assert exact.liquidatable == on_chain.liquidatable

"""The borrowable and withdrawable amounts against a brute-force replica of the vault's check."""

from __future__ import annotations

import random

from keeper.risk.capacity import (
    CollateralHolding,
    borrowable,
    deposit_free_gain,
    free_equity,
    withdrawable_base,
    withdrawable_collateral,
)

WETH = CollateralHolding(balance=10**18, price=3000 * 10**8, scale_exponent=20, initial_haircut_bps=2000)


def test_worked_example() -> None:
    # 1 WETH at 3,000 USD with a 20% haircut, 2,000 USDC debt: equity 1,000, requirement 600, free 400.
    equity, requirement = 3000 * 10**6 - 2000 * 10**6, 600 * 10**6
    free = free_equity(equity, requirement)
    assert free == 400 * 10**6
    debt, dust = -2000 * 10**6, 100 * 10**6
    assert borrowable(equity, requirement, 10**12, debt, dust) == 400 * 10**6
    assert borrowable(equity, requirement, 5, debt, dust) == 5
    # Each WETH withdrawn costs 3,000 x 80% = 2,400 of free equity: 400 / 2,400 = 0.1666... WETH.
    amount = withdrawable_collateral(WETH, free, checked=True)
    assert amount == 166_666_666_666_666_666


def test_a_borrow_that_would_leave_dust_debt_is_not_borrowable() -> None:
    # 1,050 of free equity over a 1,000 USDC supply: taking it all would leave 50 of debt, below the 100 minimum, so
    # only the supply can come out; with 1,200 free the whole 1,200 can (debt 200).
    supply, dust = 1000 * 10**6, 100 * 10**6
    assert borrowable(1050 * 10**6, 0, 10**12, supply, dust) == supply
    assert borrowable(1200 * 10**6, 0, 10**12, supply, dust) == 1200 * 10**6
    assert borrowable(50 * 10**6, 0, 10**12, 0, dust) == 0, "no supply, and 50 of debt is too little"


def test_accounts_without_debt_withdraw_everything() -> None:
    assert withdrawable_collateral(WETH, free=0, checked=False) == WETH.balance
    assert withdrawable_base(500, free=0, checked=False, available_liquidity=10**9) == 500
    assert withdrawable_base(500, free=200, checked=True, available_liquidity=10**9) == 200
    assert withdrawable_base(-500, free=200, checked=True, available_liquidity=10**9) == 0
    assert withdrawable_base(500, free=0, checked=False, available_liquidity=120) == 120, "the pool's cash is lent out"


def test_the_amount_is_the_largest_the_vault_accepts() -> None:
    rng = random.Random(11)
    for _ in range(300):
        holding = CollateralHolding(
            balance=rng.randrange(1, 10**20),
            price=rng.randrange(1, 10**13),
            scale_exponent=rng.choice([20, 22, 10]),
            initial_haircut_bps=rng.randrange(0, 9000),
        )
        free = rng.randrange(0, 10**10)

        amount = withdrawable_collateral(holding, free, checked=True)
        assert accepted(holding, free, amount)
        assert amount == holding.balance or not accepted(holding, free, amount + 1)


def accepted(holding: CollateralHolding, free: int, amount: int) -> bool:
    """The vault's check, written out: the free equity a withdrawal of `amount` uses is at most `free`."""

    def value(a: int) -> int:
        return a * holding.price // 10**holding.scale_exponent

    def requirement(a: int) -> int:
        return -(-value(a) * holding.initial_haircut_bps // 10_000)

    before = value(holding.balance) - requirement(holding.balance)
    after = value(holding.balance - amount) - requirement(holding.balance - amount)
    return before - after <= free


def test_a_deposit_frees_its_value_less_the_haircut_rounded_for_the_vault() -> None:
    # 1 WETH more at 3,000 USD with a 20% haircut frees 2,400 USD.
    assert deposit_free_gain(WETH, 10**18) == 2400 * 10**6
    # One wei of WETH is worth 0.000003 USDC, rounded down to nothing: it frees nothing.
    assert deposit_free_gain(WETH, 1) == 0
    # 1 base unit of value with a 20% haircut: the requirement rounds up to 1, so it frees nothing either.
    odd = CollateralHolding(balance=0, price=10**8, scale_exponent=20, initial_haircut_bps=2000)
    assert deposit_free_gain(odd, 10**12) == 0
    # A deposit never frees more than a withdrawal of the same amount takes back.
    rng = random.Random(5)
    for _ in range(200):
        holding = CollateralHolding(rng.randrange(10**20), rng.randrange(1, 10**12), 20, rng.randrange(0, 9000))
        amount = rng.randrange(1, 10**20)
        gain = deposit_free_gain(holding, amount)
        after = CollateralHolding(holding.balance + amount, holding.price, 20, holding.initial_haircut_bps)
        assert withdrawable_collateral(after, gain, checked=True) >= amount
        assert gain >= 0

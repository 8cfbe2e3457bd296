"""The borrowable and withdrawable amounts against a brute-force replica of the vault's check."""

from __future__ import annotations

import random

from keeper.risk.capacity import (
    INDEX_SCALE,
    CollateralHolding,
    Indices,
    borrowable,
    deposit_free_gain,
    withdrawable_base,
    withdrawable_collateral,
)

UNIT = Indices(INDEX_SCALE, INDEX_SCALE)  # indices at 1: the vault books base balances exactly
WETH = CollateralHolding(balance=10**18, price=3000 * 10**8, scale_exponent=20, initial_haircut_bps=2000)


def test_worked_example() -> None:
    # 1 WETH at 3,000 USD with a 20% haircut, 2,000 USDC debt: equity 1,000, requirement 600, free 400.
    equity, requirement = 3000 * 10**6 - 2000 * 10**6, 600 * 10**6
    free = equity - requirement
    assert free == 400 * 10**6
    debt, dust = -2000 * 10**6, 100 * 10**6
    assert borrowable(equity, requirement, 10**12, debt, dust, UNIT) == 400 * 10**6
    assert borrowable(equity, requirement, 5, debt, dust, UNIT) == 5
    # Each WETH withdrawn costs 3,000 x 80% = 2,400 of free equity: 400 / 2,400 = 0.1666... WETH.
    amount = withdrawable_collateral(WETH, free, checked=True)
    assert amount == 166_666_666_666_666_666


def test_a_borrow_that_would_leave_dust_debt_is_not_borrowable() -> None:
    # 1,050 of free equity over a 1,000 USDC supply: taking it all would leave 50 of debt, below the 100 minimum, so
    # only the supply can come out; with 1,200 free the whole 1,200 can (debt 200).
    supply, dust = 1000 * 10**6, 100 * 10**6
    assert borrowable(1050 * 10**6, 0, 10**12, supply, dust, UNIT) == supply
    assert borrowable(1200 * 10**6, 0, 10**12, supply, dust, UNIT) == 1200 * 10**6
    assert borrowable(50 * 10**6, 0, 10**12, 0, dust, UNIT) == 0, "no supply, and 50 of debt is too little"


def test_accounts_without_debt_withdraw_everything() -> None:
    assert withdrawable_collateral(WETH, free=0, checked=False) == WETH.balance
    assert withdrawable_base(500, free=0, checked=False, available_liquidity=10**9, indices=UNIT) == 500
    assert withdrawable_base(500, free=200, checked=True, available_liquidity=10**9, indices=UNIT) == 200
    assert withdrawable_base(-500, free=200, checked=True, available_liquidity=10**9, indices=UNIT) == 0
    lent_out = withdrawable_base(500, free=0, checked=False, available_liquidity=120, indices=UNIT)
    assert lent_out == 120, "the pool's cash is lent out"


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


def test_the_base_amounts_are_the_largest_the_vault_books_within_the_free_equity() -> None:
    """The vault books a base balance through its principal, rounded for itself both ways, so taking out `v` can
    cost a few units more than `v` once the indices have grown: "borrowable" was the free equity itself, and
    borrowing exactly that was refused (free 2,400 USDC at a borrow index of 1.002035226402538 booked one unit
    more). Each amount is the largest the vault accepts, against the vault's arithmetic written out."""
    indices = Indices(INDEX_SCALE, 1002035226402538)
    free = 2_400 * 10**6
    assert borrowable(free, 0, 10**12, 0, 100 * 10**6, indices) == free - 1
    rng = random.Random(5)
    for _ in range(2_000):
        indices = Indices(rng.randrange(INDEX_SCALE, 30 * INDEX_SCALE), rng.randrange(INDEX_SCALE, 30 * INDEX_SCALE))
        balance = vault_balance(rng.randrange(-(10**13), 10**13), indices)
        free, liquidity = rng.randrange(0, 10**12), rng.randrange(0, 10**13)
        amount = borrowable(free, 0, liquidity, balance, 0, indices)
        assert amount <= liquidity and vault_takes(balance, amount, free, indices)
        assert amount == liquidity or not vault_takes(balance, amount + 1, free, indices)
        carried = borrowable(free, 0, None, balance, 0, indices)  # whatever the pool holds
        assert vault_takes(balance, carried, free, indices) and not vault_takes(balance, carried + 1, free, indices)
        supply = withdrawable_base(balance, free, True, liquidity, indices)
        assert supply <= max(balance, 0) and vault_takes(balance, supply, free, indices)
        assert supply == min(max(balance, 0), liquidity) or not vault_takes(balance, supply + 1, free, indices)


def vault_balance(principal: int, indices: Indices) -> int:
    """`InterestLib.presentValue`: supply rounded down, debt up (Python's floor division of a negative number rounds
    its magnitude up)."""
    return principal * (indices.supply if principal >= 0 else indices.borrow) // INDEX_SCALE


def vault_takes(balance: int, amount: int, free: int, indices: Indices) -> bool:
    """The vault's withdrawal of `amount` from a base balance of `balance`: the new balance's principal
    (`InterestLib.principalValue`: supply down, debt up) read back, and the equity it costs at most `free`."""
    value = balance - amount
    principal = value * INDEX_SCALE // (indices.supply if value >= 0 else indices.borrow)
    return balance - vault_balance(principal, indices) <= free


def test_nothing_leaves_a_checked_account_below_its_initial_requirement() -> None:
    """Equity 4,001.234567 below an initial requirement of 4,800.246914 (10 WETH at 2,400.12345678, 20,000 USDC
    owed): the vault wants equity >= initial after a withdrawal, so nothing can leave, though a few wei of WETH would
    not move the rounded figure (with the shortfall read as 0 free, 0.000000000333316187 WETH "fitted")."""
    holding = CollateralHolding(10 * 10**18, 240_012_345_678, 20, 2000)
    equity, initial = 4_001_234_567, 4_800_246_914
    assert withdrawable_collateral(holding, 0, checked=True) == 333_316_187, "at equity = initial, these wei fit"
    assert withdrawable_collateral(holding, equity - initial, checked=True) == 0
    assert withdrawable_collateral(holding, equity - initial, checked=False) == holding.balance
    assert withdrawable_base(500, equity - initial, True, 10**9, UNIT) == 0
    assert withdrawable_base(500, equity - initial, False, 10**9, UNIT) == 500
    assert borrowable(equity, initial, 10**12, 500, 0, UNIT) == 0
    assert borrowable(equity, initial, None, -20_000 * 10**6, 0, UNIT) == 0

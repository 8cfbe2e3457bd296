"""How much a sub-account can still borrow or withdraw, replicating the vault's integer arithmetic (no I/O).

The vault requires equity >= initial requirement after a borrow or a withdrawal by an account with debt or
positions. Per collateral asset it adds `value = amount x price / 10^scale` (rounded down) to the equity and
`ceil(value x haircut / 10,000)` to the requirement, and books a base balance through its principal, rounded for
itself both ways, so the amounts below are exact, not estimates, for prices and indices as they stand; interest
accrued before the transaction is mined can shave a few base units off them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

BPS = 10_000
INDEX_SCALE = 10**15  # the vault's unit of its supply and borrow indices (`InterestLib.INDEX_SCALE`)


@dataclass(frozen=True)
class Indices:
    """The vault's supply and borrow indices as its views accrue them, in `INDEX_SCALE` units."""

    supply: int
    borrow: int


@dataclass(frozen=True)
class CollateralHolding:
    """One collateral asset of an account, in the vault's units."""

    balance: int
    price: int  # feed units
    scale_exponent: int  # value = amount x price / 10^scale_exponent, in base units
    initial_haircut_bps: int


def _value(amount: int, h: CollateralHolding) -> int:
    return int(amount * h.price // 10**h.scale_exponent)


def _requirement(value: int, haircut_bps: int) -> int:
    return -(-value * haircut_bps // BPS)


def borrowable(
    equity: int,
    initial_requirement: int,
    available_liquidity: int | None,
    base_balance: int,
    min_borrow: int,
    indices: Indices,
) -> int:
    """Base units the account can take out now: each costs at least a unit of equity (the vault's rounding of the
    principal can cost it a few more, `booked_balance`), capped by the pool's `available_liquidity` (None: what the
    account's equity carries, whatever the pool holds). The vault refuses to leave debt below `min_borrow`
    (`BorrowTooSmall`), so when the most would leave less, only the supply balance can come out. Nothing when the
    equity is below the initial requirement: the vault checks every borrow and every withdrawal of an account that
    could be below it (one with debt or positions)."""
    if equity < initial_requirement:
        return 0
    free = equity - initial_requirement
    cap = free if available_liquidity is None else min(free, available_liquidity)
    amount = _most_taken(base_balance, free, cap, indices)
    if 0 < amount - base_balance < min_borrow:
        return min(amount, max(base_balance, 0))
    return amount


def withdrawable_collateral(holding: CollateralHolding, free: int, checked: bool) -> int:
    """Units of one collateral asset that can leave without taking the account below its initial requirement.

    `free` is equity minus the initial requirement, signed: below zero nothing can leave a checked account (the
    vault wants `equity >= initial` after the withdrawal, and an amount too small to move the rounded value leaves
    it below all the same). `checked` is False for an account without debt or positions, which the vault lets
    withdraw everything. Found by bisection over the exact integer effect on equity minus requirement (monotone in
    the amount).
    """
    if not checked:
        return holding.balance
    if free < 0:
        return 0
    value_now = _value(holding.balance, holding)
    requirement_now = _requirement(value_now, holding.initial_haircut_bps)

    def fits(amount: int) -> bool:
        value_after = _value(holding.balance - amount, holding)
        lost_equity = value_now - value_after
        freed_requirement = requirement_now - _requirement(value_after, holding.initial_haircut_bps)
        return lost_equity - freed_requirement <= free

    low, high = 0, holding.balance  # fits(low) always holds
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


def withdrawable_from_book(balance: int, free_after: Callable[[int], int]) -> int:
    """Units of one collateral asset that can leave an account in portfolio mode, whose initial requirement is its
    whole book's: collateral taken out of a hedge raises it, so the standard rule's haircut (`withdrawable_collateral`)
    would offer what the vault refuses. `free_after(amount)` is equity minus the initial requirement once `amount` has
    left, as the vault computes both. The whole balance when it fits, else the largest amount found by bisection from
    nothing (exact while free equity falls as more leaves: a unit of value carries less than a unit of requirement).
    For an account with debt or positions only: the vault checks no other."""
    if free_after(0) < 0:
        return 0
    if free_after(balance) >= 0:
        return balance
    low, high = 0, balance - 1  # free_after(low) >= 0
    while low < high:
        middle = (low + high + 1) // 2
        if free_after(middle) >= 0:
            low = middle
        else:
            high = middle - 1
    return low


def deposit_free_gain(holding: CollateralHolding, amount: int) -> int:
    """Base units by which depositing `amount` more of a collateral asset raises equity above the initial
    requirement: the value it adds, less the haircut's requirement on it (both exact, as the vault rounds)."""
    value_now = _value(holding.balance, holding)
    value_after = _value(holding.balance + amount, holding)
    added_requirement = _requirement(value_after, holding.initial_haircut_bps) - _requirement(
        value_now, holding.initial_haircut_bps
    )
    return value_after - value_now - added_requirement


def withdrawable_base(balance: int, free: int, checked: bool, available_liquidity: int, indices: Indices) -> int:
    """Base units of a positive base balance (supply) that can leave: all of it without debt or positions, and never
    more than the vault holds (`withdraw` refuses more with `InsufficientLiquidity`, however much is supplied).
    `free` is signed, as for `withdrawable_collateral`: nothing while a checked account is below its requirement."""
    if balance <= 0 or (checked and free < 0):
        return 0
    cap = max(min(balance, available_liquidity), 0)
    return cap if not checked else _most_taken(balance, free, cap, indices)


def booked_balance(value: int, indices: Indices) -> int:
    """The base balance the vault books for a present value of `value` base units: it stores the principal (supply
    rounded down, debt up) and reads the balance back from it (supply down, debt up), so never above `value`."""
    scale, supply, borrow = INDEX_SCALE, indices.supply, indices.borrow
    if value >= 0:
        return value * scale // supply * supply // scale
    principal = (-value * scale + borrow - 1) // borrow
    return -((principal * borrow + scale - 1) // scale)


def _most_taken(balance: int, free: int, cap: int, indices: Indices) -> int:
    """The most base units, at most `cap`, that can leave a base balance of `balance` while equity loses at most
    `free`: the booked balance falls with the amount, so the loss rises with it and a bisection finds the largest."""
    low, high = 0, max(cap, 0)
    while low < high:
        middle = (low + high + 1) // 2
        if balance - booked_balance(balance - middle, indices) <= free:
            low = middle
        else:
            high = middle - 1
    return low

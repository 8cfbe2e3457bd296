"""End to end on the replicas: a deposit made while a withdrawal waits on x/ratelimit still reaches the subaccount
(the refused IBC leg out of the bank does not hold the other legs back)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from keeper.devnet.dydx.chain import WITHDRAWAL_FLOOR
from keeper.risk.margin import MarginPolicy
from tests.python.conftest import Chain as Anvil
from tests.python.seats.dydx_bench import ADDRESS, NOBLE_ADDRESS, Bench, dydx_bench, wait

D = Decimal


@pytest.fixture
def bench(market: Anvil) -> Iterator[Bench]:
    with dydx_bench(market) as bench:
        yield bench


def test_a_deposit_made_while_a_withdrawal_waits_on_the_rate_limit_reaches_the_subaccount(bench: Bench) -> None:
    keeper = bench.keeper
    policy = MarginPolicy(floor=1.2, target=1.5, ceiling=2.0, minimum=30_000 * 10**6)

    async def scenario() -> None:
        async with bench.seat() as seat:
            await seat.post_account()
            bench.dydx.withdrawals.append((time.monotonic(), WITHDRAWAL_FLOOR))  # the hour's capacity spent
            assert await seat.withdraw_margin(2_000 * 10**6) == 2_000 * 10**6
            before = bench.dydx.subaccounts[(ADDRESS, 0)].usdc_quantums
            keeper.deposit_margin(bench.venue, 1_500 * 10**6)  # margin call: the vault sends margin
            wait(lambda: bench.noble.balance(NOBLE_ADDRESS) == 1_500 * 10**6, "never minted on Noble")
            for _ in range(3):
                await seat.manage_margin(policy)
                await asyncio.sleep(0.5)
            # Netted, Noble's 1,500 pays the pending withdrawal and 1,500 of the bank's 2,000 goes into the
            # subaccount: the refused IBC leg does not keep the deposit on Noble for the hour.
            assert bench.noble.balance(NOBLE_ADDRESS) < 1_500 * 10**6, "the deposit is held on Noble"
            assert bench.dydx.subaccounts[(ADDRESS, 0)].usdc_quantums > before

    asyncio.run(scenario())

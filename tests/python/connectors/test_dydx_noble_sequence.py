"""Two Noble transactions in one margin check (a burn, then the rest sent to dYdX), before a block: a real node's
auth query answers the committed sequence until the block, so the second must not be signed with the first's."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from keeper.connectors.dydx import DydxConnector
from keeper.connectors.dydx.noble import rebech

from .dydx_replica import ADDRESS, Bench

D = Decimal
NOBLE = rebech(ADDRESS, "noble")
ADAPTER = "0x00000000000000000000000000000000000a11ce"


def test_two_noble_transactions_before_a_block_take_two_sequences(dydx: Bench) -> None:
    async def scenario() -> None:
        dydx.replica.noble.credit(NOBLE, 100 * 10**6)
        async with DydxConnector(dydx.settings()) as connector:
            noble = connector._noble
            committed = await noble.get_account(NOBLE)  # the state of the last block, until the next

            async def as_a_node(address: str) -> object:
                return committed

            noble.get_account = as_a_node
            await connector.burn_to_ethereum(D(40), ADAPTER)
            await connector.noble_to_dydx(D(60))  # signed with the sequence after the burn's
        assert dydx.replica.noble.balance(NOBLE) == 0

    asyncio.run(asyncio.wait_for(scenario(), timeout=60))

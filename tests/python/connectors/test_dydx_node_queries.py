"""The replica validator's chain-state queries read through the official client's `NodeClient`: a subaccount's USDC
and positions in quantums, the withdrawal gate, and each market's clob pair, perpetual and oracle price."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import grpc
import pytest
from dydx_v4_client.network import NodeConfig, insecure_channel
from dydx_v4_client.node.client import NodeClient
from dydx_v4_client.utility import to_serializable_vec

from keeper.connectors.dydx import DydxConnector, OrderRequest, Side
from keeper.devnet.dydx.chain import NEGATIVE_TNC_GATE_BLOCKS, SELL
from keeper.devnet.dydx.queries import serializable_int

from .dydx_replica import ADDRESS, Bench

D = Decimal


def run(scenario: Any) -> None:
    asyncio.run(asyncio.wait_for(scenario, 30))


def _integer(serialized: bytes) -> int:
    """A SerializableInt read back: sign byte 0x02 (+) or 0x03 (-), then the magnitude big-endian."""
    assert serialized[0] in (0x02, 0x03), serialized
    return int.from_bytes(serialized[1:], "big") * (-1 if serialized[0] == 0x03 else 1)


async def _node(bench: Bench) -> NodeClient:
    channel = insecure_channel(bench.replica.validator_url.removeprefix("http://"))
    return await NodeClient.connect(NodeConfig(bench.chain.chain_id, "", "usdc", channel))


@pytest.mark.parametrize("value", [0, 1, 255, 256, -1, -(10**12), 2**70])
def test_serializable_ints_are_written_as_the_official_client_writes_them(value: int) -> None:
    assert serializable_int(value) == to_serializable_vec(value)
    assert _integer(serializable_int(value)) == value


def test_a_subaccount_its_gate_and_the_markets_read_through_the_official_node_client(dydx: Bench) -> None:
    dydx.seed("BTC-USD", SELL, (60_000, "0.2"))

    async def scenario() -> None:
        node = await _node(dydx)
        async with DydxConnector(dydx.settings()) as connector:
            bought = await connector.order_result(
                await connector.place_order(OrderRequest("BTC-USD", Side.BUY, D("0.2"), D(60_000)))
            )
            assert bought.filled_size == D("0.2")
            usdc = (await connector.subaccount()).usdc

        subaccount = await node.get_subaccount(ADDRESS, 0)
        assert (subaccount.id.owner, subaccount.id.number, subaccount.margin_enabled) == (ADDRESS, 0, True)
        (asset,) = subaccount.asset_positions
        assert (asset.asset_id, _integer(asset.quantums)) == (0, int(usdc.scaleb(6)))
        (position,) = subaccount.perpetual_positions
        assert (position.perpetual_id, _integer(position.quantums)) == (0, 2 * 10**9)  # 0.2 BTC at 10^-10
        assert ADDRESS in {s.id.owner for s in (await node.get_subaccounts()).subaccount}
        empty = await node.get_subaccount(ADDRESS, 7)
        assert (empty.id.number, list(empty.asset_positions), list(empty.perpetual_positions)) == (7, [], [])

        gate = await node.get_withdrawal_and_transfer_gating_status(0)
        assert (gate.negative_tnc_subaccount_seen_at_block, gate.withdrawals_and_transfers_unblocked_at_block) == (0, 0)
        dydx.chain.mark_negative_collateral()
        seen = dydx.chain.negative_tnc_seen_at
        assert seen is not None
        gate = await node.get_withdrawal_and_transfer_gating_status(0)
        assert gate.negative_tnc_subaccount_seen_at_block == seen
        assert gate.withdrawals_and_transfers_unblocked_at_block == seen + NEGATIVE_TNC_GATE_BLOCKS + 1

        btc = await node.get_clob_pair(0)
        assert (btc.perpetual_clob_metadata.perpetual_id, btc.step_base_quantums, btc.subticks_per_tick) == (
            0,
            1_000_000,
            100_000,
        )
        assert btc.quantum_conversion_exponent == -9
        assert [pair.id for pair in (await node.get_clob_pairs()).clob_pair] == [0, 1]
        perpetual = (await node.get_perpetual(0)).perpetual
        assert (perpetual.params.ticker, perpetual.params.atomic_resolution) == ("BTC-USD", -10)
        assert _integer(perpetual.open_interest) == 2 * 10**9
        assert [(p.id, p.exponent, p.price) for p in (await node.get_prices()).market_prices] == [
            (0, -5, 6_000_000_000),
            (1, -6, 3_000_000_000),
        ]
        dydx.chain.set_oracle_price("ETH-USD", D("3123.456789"))
        assert (await node.get_price(1)).price == 3_123_456_789

        with pytest.raises(grpc.RpcError) as unknown:
            await node.get_clob_pair(9)
        assert unknown.value.code() == grpc.StatusCode.NOT_FOUND

    run(scenario())

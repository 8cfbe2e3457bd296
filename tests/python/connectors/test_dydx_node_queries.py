"""The replica validator's chain-state queries read through the official client's `NodeClient`: a subaccount's USDC
and positions in quantums, the withdrawal gate, and each market's clob pair, perpetual and oracle price; the fee
tiers, a user's fee tier and trading stats, the equity tier limits, the withdrawal capacity, the node's info; the
transactions it included found by hash; and a batch cancel of short-term orders."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import grpc
import pytest
from dydx_v4_client.network import NodeConfig, insecure_channel
from dydx_v4_client.node.client import NodeClient
from dydx_v4_client.utility import to_serializable_vec
from dydx_v4_client.wallet import Wallet
from v4_proto.cosmos.bank.v1beta1 import query_pb2 as bank_query
from v4_proto.cosmos.bank.v1beta1 import query_pb2_grpc as bank_grpc
from v4_proto.cosmos.tx.v1beta1 import service_pb2, service_pb2_grpc
from v4_proto.dydxprotocol.clob.tx_pb2 import OrderBatch
from v4_proto.dydxprotocol.sending.transfer_pb2 import MsgWithdrawFromSubaccount
from v4_proto.dydxprotocol.subaccounts.subaccount_pb2 import SubaccountId

from keeper.connectors.dydx import DydxConnector, OrderRequest, Side, TimeInForce
from keeper.connectors.dydx.noble import rebech
from keeper.connectors.dydx.settings import MAINNET_USDC_DENOM
from keeper.devnet.dydx.chain import NEGATIVE_TNC_GATE_BLOCKS, SELL
from keeper.devnet.dydx.queries import serializable_int

from .dydx_replica import ADDRESS, MAKER, MNEMONIC, Bench

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


async def _next_block(bench: Bench) -> None:
    target = bench.chain.height + 1
    while bench.chain.height < target:
        await asyncio.sleep(0.01)


def test_fees_stats_limits_capacity_and_node_info_read_through_the_official_node_client(dydx: Bench) -> None:
    dydx.seed("BTC-USD", SELL, (60_000, "0.2"))

    async def scenario() -> None:
        node = await _node(dydx)
        async with DydxConnector(dydx.settings()) as connector:
            bought = await connector.order_result(
                await connector.place_order(OrderRequest("BTC-USD", Side.BUY, D("0.2"), D(60_000)))
            )
            assert bought.filled_size == D("0.2")
            await connector.withdraw(D(100))
            await connector.send_to_noble(D(100))  # x/ratelimit counts what leaves by IBC, not the withdrawal

        (tier,) = (await node.get_fee_tiers()).params.tiers
        assert (tier.name, tier.absolute_volume_requirement, tier.maker_fee_ppm, tier.taker_fee_ppm) == (
            "1",
            0,
            100,
            500,
        )
        mine = await node.get_user_fee_tier(ADDRESS)
        assert (mine.index, mine.tier) == (0, tier)

        taker, maker = await node.get_user_stats(ADDRESS), await node.get_user_stats(MAKER)
        assert (taker.stats.taker_notional, taker.stats.maker_notional) == (12_000 * 10**6, 0)  # 0.2 x 60,000 USDC
        assert (maker.stats.taker_notional, maker.stats.maker_notional) == (0, 12_000 * 10**6)
        assert (await node.get_user_stats("dydx1nobody")).stats.taker_notional == 0

        equity_tiers = await node.get_equity_tier_limit_config()
        assert list(equity_tiers.short_term_order_equity_tiers) == []
        assert [(_integer(t.usd_tnc_required), t.limit) for t in equity_tiers.stateful_order_equity_tiers] == [
            (0, 0),
            (20 * 10**6, 10),
            (100 * 10**6, 20),
            (1_000 * 10**6, 40),
            (10_000 * 10**6, 100),
            (50_000 * 10**6, 200),
        ]

        (limiter,) = (await node.get_withdrawal_capacity_by_denom(MAINNET_USDC_DENOM)).limiter_capacity_list
        assert (limiter.limiter.period.seconds, limiter.limiter.baseline_tvl_ppm) == (3600, 10_000)
        assert _integer(limiter.limiter.baseline_minimum) == 1_000_000 * 10**6
        assert _integer(limiter.capacity) == (1_000_000 - 100) * 10**6, "the hour's IBC send taken off"
        assert list((await node.get_withdrawal_capacity_by_denom("adydx")).limiter_capacity_list) == []

        info = await node.get_node_info()
        assert (info.default_node_info.network, info.application_version.app_name) == (
            dydx.chain.chain_id,
            "dydxprotocold",
        )
        assert info.default_node_info.protocol_version.block == 11

    run(scenario())


def test_included_transactions_are_found_by_hash_and_short_term_orders_are_not(dydx: Bench) -> None:
    dydx.seed("BTC-USD", SELL, (60_000, "0.1"))

    async def scenario() -> None:
        node = await _node(dydx)
        async with DydxConnector(dydx.settings()) as connector:
            withdrawal = await connector.withdraw(D(25))
            order = await connector.place_order(OrderRequest("BTC-USD", Side.BUY, D("0.1"), D(60_000)))
        await _next_block(dydx)

        tx = await node.query_transaction(withdrawal)
        (message,) = tx.body.messages
        assert message.type_url == "/dydxprotocol.sending.MsgWithdrawFromSubaccount"
        sent = MsgWithdrawFromSubaccount.FromString(message.value)
        assert (sent.sender.owner, sent.recipient, sent.quantums) == (ADDRESS, ADDRESS, 25 * 10**6)

        stub = service_pb2_grpc.ServiceStub(node.channel)
        found = stub.GetTx(service_pb2.GetTxRequest(hash=withdrawal.lower()))
        assert (found.tx_response.txhash, found.tx_response.code, found.tx) == (withdrawal, 0, tx)
        assert 0 < found.tx_response.height <= dydx.chain.height
        assert found.tx_response.tx.type_url == "/cosmos.tx.v1beta1.Tx"
        for never_in_a_block in (order.tx_hash, "AB" * 32):
            with pytest.raises(grpc.RpcError) as missing:
                stub.GetTx(service_pb2.GetTxRequest(hash=never_in_a_block))
            assert missing.value.code() == grpc.StatusCode.NOT_FOUND
            assert missing.value.details() == f"tx not found: {never_in_a_block}"

    run(scenario())


def test_a_batch_cancel_sent_by_the_official_client_cancels_resting_short_term_orders(dydx: Bench) -> None:
    async def scenario() -> None:
        node = await _node(dydx)
        async with DydxConnector(dydx.settings()) as connector:
            resting = [
                await connector.place_order(
                    OrderRequest(ticker, Side.BUY, size, price, time_in_force=TimeInForce.GOOD_TIL_BLOCK)
                )
                for ticker, size, price in (("BTC-USD", D("0.1"), D(50_000)), ("ETH-USD", D(1), D(2_000)))
            ]
            await _next_block(dydx)
            assert [len(dydx.chain.books[order.clob_pair_id]) for order in resting] == [1, 1]

            wallet = await Wallet.from_mnemonic(node, MNEMONIC, ADDRESS)
            batches = [OrderBatch(clob_pair_id=order.clob_pair_id, client_ids=[order.client_id]) for order in resting]
            height = await node.latest_block_height()
            response = await node.batch_cancel_orders(
                wallet, SubaccountId(owner=ADDRESS, number=0), batches, height + 5
            )
            assert (response.tx_response.code, response.tx_response.raw_log) == (0, "")
            assert [dydx.chain.books[order.clob_pair_id] for order in resting] == [[], []]
            await _next_block(dydx)
            statuses = [(await connector.order(order.indexer_order_id)) for order in resting]
            assert [indexed.status for indexed in statuses if indexed is not None] == ["CANCELED", "CANCELED"]

            dydx.replica.pause_blocks()  # the height stays what was read: 25 blocks ahead stays past the window
            height = await node.latest_block_height()
            response = await node.batch_cancel_orders(
                wallet, SubaccountId(owner=ADDRESS, number=0), batches, height + 25
            )
            dydx.replica.resume_blocks()
            assert (response.tx_response.codespace, response.tx_response.code) == ("clob", 11)

    run(scenario())


def test_bank_balances_of_what_is_not_an_address_are_refused_as_cosmos_refuses_them(dydx: Bench) -> None:
    """x/bank's Balance and AllBalances on dYdX and on Noble: an address that is not one of the chain's (garbage,
    the other chain's prefix) is INVALID_ARGUMENT "invalid address", not a balance of 0; so is an empty denom. The
    owner's own address still reads its balance."""

    async def scenario() -> None:
        node = await _node(dydx)
        dydx.chain.bank[ADDRESS] = 7 * 10**6
        denom = dydx.chain.usdc_denom
        assert (await node.get_account_balance(ADDRESS, denom)).balance.amount == str(7 * 10**6)
        for address in ("garbage", rebech(ADDRESS, "noble"), ""):
            for call in (node.get_account_balance(address, denom), node.get_account_balances(address)):
                with pytest.raises(grpc.RpcError) as refused:
                    await call
                assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert "invalid address" in str(refused.value.details())
        with pytest.raises(grpc.RpcError) as no_denom:
            await node.get_account_balance(ADDRESS, "")
        assert no_denom.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        noble = dydx.replica.noble_url.removeprefix("http://")
        with grpc.insecure_channel(noble) as channel, pytest.raises(grpc.RpcError) as on_noble:
            bank_grpc.QueryStub(channel).AllBalances(bank_query.QueryAllBalancesRequest(address=ADDRESS))
        assert on_noble.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    run(scenario())

"""The dYdX connector's pure parts: orders on dYdX's grid, exactly (a sell's limit rounds down as the client
rounds), sizes and limits below one step or tick refused, client ids never shared by live orders, the indexer's
order ids, and the indexer's JSON read into records."""

from __future__ import annotations

import random
from decimal import ROUND_FLOOR, Decimal

import pytest
from dydx_v4_client.node.market import Market as ClientMarket

from keeper.connectors.dydx.errors import (
    DuplicateClientIdError,
    DydxResponseError,
    LimitBelowTickError,
    SizeBelowStepError,
)
from keeper.connectors.dydx.models import Fill, Market, OrderRequest, Side, Subaccount, TimeInForce, indexer_order_id
from keeper.connectors.dydx.orders import ClientIds, build_order
from keeper.exceptions import InputError

D = Decimal
ADDRESS = "dydx19rl4cm2hmr8afy4kldpxz3fka4jguq0a4erelz"

BTC_ROW = {
    "ticker": "BTC-USD",
    "clobPairId": "0",
    "atomicResolution": -10,
    "quantumConversionExponent": -9,
    "stepBaseQuantums": 1_000_000,
    "subticksPerTick": 100_000,
    "oraclePrice": "60000",
    "initialMarginFraction": "0.05",
    "maintenanceMarginFraction": "0.03",
}
ETH_ROW = {**BTC_ROW, "ticker": "ETH-USD", "clobPairId": "1", "atomicResolution": -9, "oraclePrice": "3000"}


def on_grid(market: Market, size: Decimal, price: Decimal) -> tuple[int, int]:
    """The quantums and subticks of `size` and `price` rounded down to the step and the tick, in Decimal arithmetic
    (what the client's helpers compute, without their floats)."""
    steps = (size / market.step_size).to_integral_value(ROUND_FLOOR)
    ticks = (price / market.tick_size).to_integral_value(ROUND_FLOOR)
    return int(steps) * market.step_base_quantums, int(ticks) * market.subticks_per_tick


@pytest.mark.parametrize("row", [BTC_ROW, ETH_ROW], ids=["BTC", "ETH"])
@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
@pytest.mark.parametrize(
    ("size", "price"),
    [("0.3", "60100"), ("0.29", "60049.7"), ("1.23456789", "2999.99"), ("0.0057", "3000.05"), ("2", "1")],
)
def test_orders_land_on_the_grid_rounded_down_as_the_client_rounds(
    row: dict[str, object], side: Side, size: str, price: str
) -> None:
    market = Market.from_json(row)
    request = OrderRequest(market.ticker, side, D(size), D(price))
    order = build_order(market, request, ADDRESS, 0, 7, 42)
    assert (order.quantums, order.subticks) == on_grid(market, D(size), D(price))
    assert order.subticks % market.subticks_per_tick == 0 and order.quantums % market.step_base_quantums == 0
    assert market.subticks_to_price(order.subticks) <= D(price), "the client rounds a limit down, a sell's too"
    assert (order.good_til_block, order.order_id.client_id, order.order_id.order_flags) == (42, 7, 0)
    assert order.side == (1 if side is Side.BUY else 2)
    assert order.time_in_force == 1  # IOC
    assert order.client_metadata == 2  # the client's own mark on the orders it builds


def test_sizes_and_limits_on_the_grid_keep_every_step_and_tick() -> None:
    """The client's float helpers turn 0.0003 BTC into 0.0002 and an ETH sell of 1.001 at 1024.1 into 1.000 at
    1024.0 (a sell one tick below its limit); every size and limit on the grid must reach the chain as it is."""
    btc, eth = Market.from_json(BTC_ROW), Market.from_json(ETH_ROW)
    small = build_order(btc, OrderRequest("BTC-USD", Side.BUY, D("0.0003"), D(60000)), ADDRESS, 0, 1, 10)
    assert (btc.quantums_to_size(small.quantums), btc.subticks_to_price(small.subticks)) == (D("0.0003"), D(60000))
    sell = build_order(eth, OrderRequest("ETH-USD", Side.SELL, D("1.001"), D("1024.1")), ADDRESS, 0, 2, 10)
    assert (eth.quantums_to_size(sell.quantums), eth.subticks_to_price(sell.subticks)) == (D("1.001"), D("1024.1"))

    lost_steps = []
    for steps in range(1, 100_000):  # every BTC size 0.0001 .. 9.9999
        size = btc.step_size * steps
        order = build_order(btc, OrderRequest("BTC-USD", Side.BUY, size, D(60000)), ADDRESS, 0, 1, 10)
        if order.quantums != steps * btc.step_base_quantums:
            lost_steps.append(size)
    assert lost_steps == []
    lost_ticks = []
    for ticks in range(10_000, 50_000):  # every ETH limit 1000.0 .. 4999.9
        price = eth.tick_size * ticks
        order = build_order(eth, OrderRequest("ETH-USD", Side.SELL, D("0.001"), price), ADDRESS, 0, 1, 10)
        if order.subticks != ticks * eth.subticks_per_tick:
            lost_ticks.append(price)
    assert lost_ticks == []


def test_a_random_sample_of_sizes_and_limits_rounds_down_exactly() -> None:
    """A dense random sample of sizes and limits, half on the grid (up to 1000 BTC or ETH, limits up to 100,000) and
    half off it with up to 18 decimals (what the trading module books), each rounded down to exactly the step and
    the tick Decimal arithmetic gives."""
    markets = [Market.from_json(BTC_ROW), Market.from_json(ETH_ROW)]
    draw = random.Random(20261206)
    wrong = []
    for _ in range(20_000):
        market = draw.choice(markets)
        if draw.random() < 0.5:
            size = market.step_size * draw.randint(1, 1000 * 10**4)
            price = market.tick_size * draw.randint(1, 100_000 * 10)
        else:
            size = D(draw.randrange(10**15, 10**21)).scaleb(-18)
            price = D(draw.randrange(10**18, 10**23)).scaleb(-18)
        request = OrderRequest(market.ticker, draw.choice([Side.BUY, Side.SELL]), size, price)
        order = build_order(market, request, ADDRESS, 0, 1, 10)
        if (order.quantums, order.subticks) != on_grid(market, size, price):
            wrong.append((market.ticker, size, price, order.quantums, order.subticks))
    assert wrong == []


def test_the_ticks_and_steps_follow_reference_units() -> None:
    btc, eth = Market.from_json(BTC_ROW), Market.from_json(ETH_ROW)
    assert (btc.tick_size, btc.step_size) == (D(1), D("0.0001"))
    assert (eth.tick_size, eth.step_size) == (D("0.1"), D("0.001"))
    assert btc.subticks_to_price(6_000_000_000) == D(60000)


def test_a_limit_below_one_tick_is_refused_where_the_client_would_send_a_full_tick() -> None:
    market = Market.from_json(BTC_ROW)
    assert ClientMarket(dict(BTC_ROW)).calculate_subticks(0.5) == 100_000  # one tick: $1, not the $0.50 asked
    with pytest.raises(LimitBelowTickError, match="below its tick 1"):
        build_order(market, OrderRequest("BTC-USD", Side.BUY, D("0.1"), D("0.5")), ADDRESS, 0, 1, 10)
    with pytest.raises(SizeBelowStepError, match=r"below its step 0\.0001"):
        build_order(market, OrderRequest("BTC-USD", Side.SELL, D("0.00005"), D(60000)), ADDRESS, 0, 1, 10)


def test_post_only_and_resting_orders_keep_their_time_in_force() -> None:
    market = Market.from_json(BTC_ROW)
    post = build_order(
        market, OrderRequest("BTC-USD", Side.BUY, D(1), D(1), time_in_force=TimeInForce.POST_ONLY), ADDRESS, 0, 1, 5
    )
    rest = build_order(
        market,
        OrderRequest("BTC-USD", Side.BUY, D(1), D(1), time_in_force=TimeInForce.GOOD_TIL_BLOCK),
        ADDRESS,
        0,
        2,
        5,
    )
    reduce = build_order(market, OrderRequest("BTC-USD", Side.SELL, D(1), D(1), reduce_only=True), ADDRESS, 0, 3, 5)
    assert (post.time_in_force, rest.time_in_force, reduce.reduce_only) == (2, 0, True)


def test_client_ids_are_never_shared_by_live_orders_even_within_one_block() -> None:
    ids = ClientIds(start=2**32 - 2)
    taken = [ids.take(None, good_til_block=110, height=100) for _ in range(3)]
    assert taken == [2**32 - 2, 2**32 - 1, 0], "they wrap around past the largest uint32"
    with pytest.raises(DuplicateClientIdError, match="live until block 110"):
        ids.take(0, good_til_block=111, height=101)
    ids.take(0, good_til_block=120, height=110)  # its order expired at 110: the id is free again
    ids.release(0)
    assert ids.take(0, good_til_block=121, height=111) == 0
    with pytest.raises(InputError, match="outside"):
        ids.take(2**32, good_til_block=121, height=111)


def test_random_starts_keep_restarted_keepers_apart() -> None:
    assert len({ClientIds().take(None, 10, 1) for _ in range(20)}) == 20


def test_indexer_order_ids_are_v4_chains_uuid5s() -> None:
    # OrderTable.uuid(SubaccountTable.uuid(address, 0), 7, 0, 0) as the indexer computes it (uuid5, its namespace).
    first = indexer_order_id(ADDRESS, 0, 7, 0, 0)
    assert first == indexer_order_id(ADDRESS, 0, 7, 0, 0)
    assert len({first, indexer_order_id(ADDRESS, 1, 7, 0, 0), indexer_order_id(ADDRESS, 0, 8, 0, 0)}) == 3


def test_indexer_rows_are_read_or_refused_by_name() -> None:
    row = {
        "id": "f1",
        "side": "SELL",
        "liquidity": "TAKER",
        "type": "LIMIT",
        "market": "BTC-USD",
        "marketType": "PERPETUAL",
        "price": "60000",
        "size": "0.1",
        "fee": "3",
        "createdAt": "2026-01-01T00:00:00.000Z",
        "createdAtHeight": "12",
        "orderId": "o1",
        "subaccountNumber": 0,
    }
    fill = Fill.from_json(row)
    assert (fill.side, fill.price, fill.size, fill.fee, fill.created_at_height) == (
        Side.SELL,
        D(60000),
        D("0.1"),
        D(3),
        12,
    )
    with pytest.raises(DydxResponseError, match="fill without 'price'"):
        Fill.from_json({k: v for k, v in row.items() if k != "price"})
    with pytest.raises(DydxResponseError, match="cannot be read"):
        Fill.from_json({**row, "size": 0.1})
    with pytest.raises(DydxResponseError, match="cannot be read"):  # JSON's 1e999: an OverflowError, no ValueError
        Fill.from_json({**row, "createdAtHeight": float("inf")})
    with pytest.raises(DydxResponseError, match="cannot be read"):  # exact as text; any arithmetic on it overflows
        Fill.from_json({**row, "size": "1e1000000"})
    short = Subaccount.from_json(
        {
            "address": ADDRESS,
            "subaccountNumber": 0,
            "equity": "10",
            "freeCollateral": "5",
            "assetPositions": {"USDC": {"size": "20", "side": "SHORT"}},
            "openPerpetualPositions": {},
        }
    )
    assert (short.usdc, short.positions, short.updated_at_height) == (D(-20), (), 0)

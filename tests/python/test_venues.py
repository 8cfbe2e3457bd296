"""The venue readers against the deployed venues: units, quotes, the router's cost model, the CLI view."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import cast

import pytest
from click.testing import CliRunner
from web3.exceptions import BadFunctionCallOutput, ContractLogicError, Web3RPCError

from keeper.chain.deployment import Deployment
from keeper.cli.explain import refusal
from keeper.cli.main import cli
from keeper.client.venues import ANSWERED_NOTHING, VenueMarketParams, failure_reason, node_failure
from keeper.client.venues.dydx import ClobPair
from keeper.client.venues.registry import load_venues
from keeper.exceptions import InputError
from keeper.routing import route
from tests.python.conftest import Chain

BTC_PAIR = ClobPair(0, "BTC-USD", -10, -9, 1_000_000, 100_000)


def test_dydx_units() -> None:
    assert BTC_PAIR.to_quantums(Decimal("1")) == 10**10
    assert BTC_PAIR.to_quantums(Decimal("0.0003")) == 3_000_000
    assert BTC_PAIR.subticks_to_price(6_002_100_000) == Decimal("60021")
    assert BTC_PAIR.price_to_subticks(Decimal("60021")) == 6_002_100_000
    with pytest.raises(InputError, match=r"step 0\.0001"):
        BTC_PAIR.to_quantums(Decimal("0.00015"))
    # An order's quantums are a uint64: the largest BTC order is 1,844,674,407.3709 (on the step), one step more is
    # refused by name rather than by the ABI encoder.
    assert BTC_PAIR.to_quantums(Decimal("1844674407.3709")) == 18_446_744_073_709_000_000
    with pytest.raises(InputError, match=r"more than dydx takes in one BTC-USD order \(1844674407\.3709\)"):
        BTC_PAIR.to_quantums(Decimal("1844674407.371"))


def test_cost_model_matches_the_venues_quotes(chain: Chain) -> None:
    venues = load_venues(chain.w3, chain.deployment)
    assert [v.name for v in venues] == ["dydx", "rabbitx"]
    mark = Decimal(60_000)
    for venue in venues:
        model = venue.cost_model("BTC-USD")
        for size in (Decimal("0.1"), Decimal("2.5"), Decimal("40")):
            for side in (1, -1):
                q = venue.quote("BTC-USD", size, side)
                actual = (q.average_price - mark) * size * side + q.fee
                modelled = Decimal(model.cost(float(size), side, 0)) * mark
                assert actual == pytest.approx(modelled, rel=Decimal("1e-6"), abs=Decimal("0.02"))


def test_routed_cost_on_chain_is_never_worse_than_one_venue(chain: Chain) -> None:
    venues = load_venues(chain.w3, chain.deployment)
    models = [v.cost_model("ETH-USD") for v in venues]
    for size in (Decimal("0.5"), Decimal("7.25"), Decimal("120"), Decimal("900")):
        split = route(size, 1, models)
        routed = sum(
            (venue.quote("ETH-USD", part, 1).average_price - 3000) * part + venue.quote("ETH-USD", part, 1).fee
            for venue, part in zip(venues, split.sizes, strict=True)
            if part
        )
        singles = [
            (v.quote("ETH-USD", size, 1).average_price - 3000) * size + v.quote("ETH-USD", size, 1).fee for v in venues
        ]
        assert routed <= min(singles) + Decimal("0.01")


def test_quotes_command(chain: Chain) -> None:
    result = CliRunner().invoke(cli, ["--deployment", str(chain.deployment_file), "quotes", "btc-usd", "10"])
    assert result.exit_code == 0, result.output
    assert "dydx" in result.output and "rabbitx" in result.output
    assert "routed     dydx 6.767, rabbitx 3.233" in result.output
    assert "saving" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["DOGE-USD", "1"], "unknown market 'DOGE-USD'"),
        (["BTC-USD", "1.00005"], "not a multiple of the venues' steps"),
        (["BTC-USD", "lots"], "is not a number"),
        (["BTC-USD", "0"], "must be greater than zero"),
    ],
)
def test_quotes_bad_input(chain: Chain, args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["--deployment", str(chain.deployment_file), "quotes", *args])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def _sell_fill_price(mark: int, half_spread_ppm: int, depth: int, size: int) -> int:
    """`PerpExchange._fillPrice` of a sell, WAD: mark x (1 - impact), nothing once the impact reaches 1."""
    impact = half_spread_ppm * 10**12 + size * 10**18 // (2 * depth)
    return 0 if impact >= 10**18 else mark * (10**18 - impact) // 10**18


def test_the_largest_sell_is_the_last_step_the_venue_fills_at_a_price_above_zero() -> None:
    rng = random.Random(5)
    for _ in range(2000):
        params = VenueMarketParams(
            taker_fee_ppm=500,
            half_spread_ppm=rng.randrange(0, 10_000),
            depth=rng.randrange(1, 10**6) * 10 ** rng.randrange(12, 22),
            step_size=10 ** rng.randrange(10, 19),
            funding_rate_per_second=0,
        )
        largest = params.max_sell_size()
        mark = rng.randrange(1, 10**6) * 10**18
        assert largest % params.step_size == 0
        if largest:
            assert _sell_fill_price(mark, params.half_spread_ppm, params.depth, largest) > 0
        assert _sell_fill_price(mark, params.half_spread_ppm, params.depth, largest + params.step_size) == 0
        assert params.cost_model("v").max_sell == Decimal(largest) / 10**18


def test_the_largest_sell_on_chain(chain: Chain) -> None:
    """rabbitx quotes its fill price as it is: the largest sell still gets a price above zero, one step more none."""
    [rabbitx] = [v for v in load_venues(chain.w3, chain.deployment) if v.name == "rabbitx"]
    for market in ("BTC-USD", "ETH-USD"):
        model = rabbitx.cost_model(market)
        assert model.max_sell is not None and model.capacity(1) is None and model.capacity(-1) == model.max_sell
        assert rabbitx.quote(market, model.max_sell, -1).average_price > 0
        assert rabbitx.quote(market, model.max_sell + model.step, -1).average_price == 0


def _node_error(message: str, code: int = -32603) -> Web3RPCError:
    error = {"code": code, "message": message}
    return Web3RPCError(str(error), rpc_response={"jsonrpc": "2.0", "id": 1, "error": error})


def test_a_venue_failure_is_told_from_the_nodes_own() -> None:
    """The EVM stopping one venue's call (anvil's "EVM error OutOfGas", geth's "out of gas") is that venue's failure;
    a node that cannot serve the read at all (a pruned block, a rate limit) is the node's, re-raised where a venue's
    read is caught, so that it is said as the node's and not as every venue failing."""
    out_of_gas = _node_error("EVM error OutOfGas")
    assert not node_failure(out_of_gas) and not node_failure(_node_error("out of gas", -32000))
    assert not node_failure(BadFunctionCallOutput("no data")) and not node_failure(ContractLogicError("reverted"))
    for message in ("header not found", "missing trie node abc (path )", "rate limit exceeded"):
        assert node_failure(_node_error(message, -32000))
    words = "its contract used up all the gas the node allows a call, and never answered (EVM error OutOfGas)"
    assert failure_reason(out_of_gas) == words
    assert failure_reason(BadFunctionCallOutput("Could not decode contract function call")) == ANSWERED_NOTHING
    deployment = cast(Deployment, None)  # not read: neither carries revert data to decode
    assert refusal(out_of_gas, deployment) == words, "not the node's JSON-RPC error object"
    assert (
        refusal(_node_error("header not found", -32000), deployment) == "the node refused the request: header not found"
    )

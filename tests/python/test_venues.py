"""The venue readers against the deployed venues: units, quotes, the router's cost model, the CLI view."""

from __future__ import annotations

from decimal import Decimal

import pytest
from click.testing import CliRunner

from keeper.cli.main import cli
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

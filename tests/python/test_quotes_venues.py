"""`primevault quotes` when a venue cannot price: its row says why, the split goes to the venues that can, and only
no venue able to price is an error, in one line."""

from __future__ import annotations

import dataclasses
import json
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from web3.exceptions import Web3RPCError

from keeper.chain.deployment import MarketInfo
from keeper.cli.main import cli
from keeper.client.trading import TradingClient
from keeper.client.venues import ANSWERED_NOTHING
from keeper.client.venues.dydx import ClobPair, DydxListing, DydxVenue
from keeper.client.venues.rabbitx import RabbitListing, RabbitVenue
from keeper.devnet.deploy import FEED_DECIMALS, LOCAL_MARKETS, _create
from keeper.units import format_units
from tests.python.conftest import Chain

HOUR = 3600
GENEROUS = 7 * 24 * HOUR  # the local venues' staleness limit
STALE_ON_DYDX = (
    "the venue cannot price it: the SOL-USD price feed is stale or invalid; try again once it updates [VenueBadPrice]"
)


def list_sol(
    chain: Chain, tmp_path: Path, dydx_staleness: int | None, dydx_step_base_quantums: int = 1_000_000
) -> Path:
    """SOL-USD on a feed of its own, listed on rabbitx with the local staleness limit and on dydx with
    `dydx_staleness` (not at all with None), so that one venue can fail to price it while the other prices; the
    deployment file that names it."""
    sender = chain.client(0).sender
    assert sender is not None
    eth = LOCAL_MARKETS[1]  # its parameters, under the new ticker
    feed = _create(
        sender, "MockPriceFeed", "deploy SOL feed", "SOL / USD", FEED_DECIMALS, 150 * 10**FEED_DECIMALS, sender.address
    )
    venues = {v.name: v.address for v in chain.deployment.on_chain_venues}
    if dydx_staleness is not None:
        pair = ClobPair(0, "SOL-USD", eth.atomic_resolution, eth.quantum_conversion_exponent,
                        dydx_step_base_quantums, eth.subticks_per_tick)  # fmt: skip
        depth = eth.dydx_depth * 10 ** (-eth.atomic_resolution)
        DydxVenue(chain.w3, venues["dydx"], sender).create_clob_pair(
            DydxListing(pair, feed, dydx_staleness, eth.dydx_fee_ppm, eth.dydx_half_spread_ppm, depth)
        )
    RabbitVenue(chain.w3, venues["rabbitx"], ["SOL-USD"], sender).add_market(
        RabbitListing("SOL-USD", feed, GENEROUS, eth.rabbit_imf_ppm, eth.rabbit_mmf_ppm, eth.rabbit_fee_ppm,
                      eth.rabbit_half_spread_ppm, eth.rabbit_depth * 10**18, eth.rabbit_step, eth.rabbit_tick)
    )  # fmt: skip
    deployment = dataclasses.replace(chain.deployment, markets=(*chain.deployment.markets, MarketInfo("SOL-USD", feed)))
    path = tmp_path / "with-sol.json"
    deployment.save(path)
    return path


def quotes(deployment: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--deployment", str(deployment), "quotes", *args])
    return result.exit_code, result.output


def quotes_json(deployment: Path, *args: str) -> dict[str, Any]:
    code, output = quotes(deployment, *args, "--json")
    assert code == 0, output
    document: dict[str, Any] = json.loads(output)
    return document


def test_a_venue_on_a_stale_price_is_a_row_and_the_others_take_the_order(chain: Chain, tmp_path: Path) -> None:
    deployment = list_sol(chain, tmp_path, dydx_staleness=HOUR)
    chain.advance(2 * HOUR)  # past dydx's limit for SOL-USD, well within rabbitx's

    document = quotes_json(deployment, "SOL-USD", "2")
    dydx, rabbitx = document["venues"]
    assert dydx == {"venue": "dydx", "error": STALE_ON_DYDX}
    assert rabbitx["venue"] == "rabbitx" and "error" not in rabbitx and float(rabbitx["average_price"]) > 150
    assert document["routed"]["sizes"] == {"rabbitx": "2"}
    assert document["routed"]["best_single_venue"] == "rabbitx"

    code, output = quotes(deployment, "SOL-USD", "2")
    assert code == 0, output
    assert f"dydx       {STALE_ON_DYDX}" in output.splitlines()
    assert "routed     rabbitx 2: expected cost" in output


def test_the_book_view_leaves_out_a_venue_whose_book_cannot_be_read(chain: Chain, tmp_path: Path) -> None:
    deployment = list_sol(chain, tmp_path, dydx_staleness=HOUR)
    chain.advance(2 * HOUR)

    document = quotes_json(deployment, "SOL-USD", "2", "--book", "--levels", "4")
    assert document["book_errors"] == [{"venue": "dydx", "error": STALE_ON_DYDX}]
    assert {row["venue"] for side in document["book"].values() for row in side} == {"rabbitx"}
    assert document["book_routed"]["sizes"] == {"rabbitx": "2"}

    code, output = quotes(deployment, "SOL-USD", "2", "--book", "--levels", "4")
    assert code == 0, output
    assert f"-     dydx       left out: {STALE_ON_DYDX}" in output.splitlines()
    assert "book route rabbitx 2 at" in output


def test_a_venue_that_does_not_list_the_market_is_a_row(chain: Chain, tmp_path: Path) -> None:
    deployment = list_sol(chain, tmp_path, dydx_staleness=None)
    document = quotes_json(deployment, "SOL-USD", "1")
    assert document["venues"][0] == {
        "venue": "dydx",
        "error": "unknown market 'SOL-USD': dydx lists BTC-USD, ETH-USD",
    }
    assert document["routed"]["sizes"] == {"rabbitx": "1"}


def test_a_venue_off_its_step_takes_no_part_when_it_cannot_price(chain: Chain, tmp_path: Path) -> None:
    """A size off one venue's step is said as such when the venue prices (it may still take a part on its steps);
    when it cannot price at all, that is its reason, and the split leaves it out."""
    deployment = list_sol(chain, tmp_path, dydx_staleness=HOUR, dydx_step_base_quantums=10_000_000)  # 0.01 SOL
    live = quotes_json(deployment, "SOL-USD", "10.005")
    assert live["venues"][0] == {"venue": "dydx", "error": "size is not a multiple of its step 0.01"}
    assert "dydx" in live["routed"]["sizes"], "a part on its steps"

    chain.advance(2 * HOUR)
    stale = quotes_json(deployment, "SOL-USD", "10.005")
    assert stale["venues"][0] == {"venue": "dydx", "error": STALE_ON_DYDX}
    assert stale["routed"]["sizes"] == {"rabbitx": "10.005"}


def test_no_venue_able_to_price_is_one_line(chain: Chain) -> None:
    chain.advance(8 * 24 * HOUR)  # every feed past every venue's limit
    code, output = quotes(chain.deployment_file, "ETH-USD", "1")
    assert code == 1
    assert output.strip().splitlines() == [
        "Error: no venue can price 1 ETH-USD now: dydx, rabbitx: the venue cannot price it: the WETH / ETH-USD price "
        "feed is stale or invalid; try again once it updates [VenueBadPrice]"
    ]


RETURNS_NOTHING = "0x00"  # STOP: a call succeeds with no output (a proxy whose implementation is gone)
BURNS_GAS = "0x5b600056"  # JUMPDEST PUSH1 0 JUMP: a venue that never returns


def break_venue(chain: Chain, name: str, code: str) -> None:
    """The venue contract itself (not the vault's adapter) stops answering."""
    [venue] = [v for v in chain.deployment.venues if v.name == name]
    chain.w3.provider.make_request("anvil_setCode", [venue.address, code])  # type: ignore[arg-type]


def test_a_venue_that_answers_nothing_is_a_row(chain: Chain) -> None:
    """web3's BadFunctionCallOutput was not a venue's failure: one venue answering with no output ended `quotes` (and
    /api/quotes with a 500) as "a contract in the deployment file does not answer", though dydx could take it."""
    break_venue(chain, "rabbitx", RETURNS_NOTHING)
    document = quotes_json(chain.deployment_file, "ETH-USD", "1")
    assert document["venues"][1] == {"venue": "rabbitx", "error": ANSWERED_NOTHING}
    assert "error" not in document["venues"][0]
    assert document["routed"]["sizes"] == {"dydx": "1"}
    code, output = quotes(chain.deployment_file, "ETH-USD", "1")
    assert code == 0, output
    assert f"rabbitx    {ANSWERED_NOTHING}" in output.splitlines()


def test_a_venue_that_burns_its_gas_is_a_row_in_words(chain: Chain) -> None:
    """The node stops a call that never returns ("EVM error OutOfGas", a Web3RPCError): its row printed the node's
    raw JSON-RPC error object."""
    break_venue(chain, "rabbitx", BURNS_GAS)
    document = quotes_json(chain.deployment_file, "ETH-USD", "1")
    assert document["venues"][1] == {
        "venue": "rabbitx",
        "error": "its contract used up all the gas the node allows a call, and never answered (EVM error OutOfGas)",
    }
    assert document["routed"]["sizes"] == {"dydx": "1"}


def test_a_sell_past_where_a_venues_price_reaches_zero_is_not_routed_there(chain: Chain) -> None:
    """A local venue sells at mark x (1 - half-spread - size / 2 depth), and at nothing past that: a huge sell was
    quoted at an average price of 0.00 at both venues, and the router, whose cost model keeps growing there, routed
    it over both at an "expected cost" above either single venue's. ETH-USD: dydx's depth 20,000 and half-spread
    0.015% fill at most 39,993.999 at a price above zero, rabbitx's 10,000 and 0.008% at most 19,998.399."""
    document = quotes_json(chain.deployment_file, "ETH-USD", "50000", "--side", "sell")
    assert [row["error"] for row in document["venues"]] == [
        "cannot take a sell of 50000: it fills at most 39993.999 at a price above zero",
        "cannot take a sell of 50000: it fills at most 19998.399 at a price above zero",
    ]
    sizes = {name: Decimal(size) for name, size in document["routed"]["sizes"].items()}
    assert sum(sizes.values()) == 50_000 and sizes["dydx"] <= Decimal("39993.999")
    assert sizes["rabbitx"] <= Decimal("19998.399")
    assert document["routed"]["best_single_venue"] is None and document["routed"]["saving_vs_best_single"] is None
    assert 0 < Decimal(document["routed"]["expected_cost"]) < 50_000 * 3_000, "less than giving it all away"
    code, output = quotes(chain.deployment_file, "ETH-USD", "50000", "--side", "sell")
    assert code == 0, output
    assert "0.00" not in output.splitlines()[2] and "no single venue can take it whole" in output

    code, output = quotes(chain.deployment_file, "ETH-USD", "100000000", "--side", "sell")
    assert (code, output.strip()) == (
        1,
        "Error: not enough liquidity to sell 100000000: the venues fill at most dydx 39993.999, rabbitx 19998.399 "
        "of a sell at a price above zero; sell less",
    )
    code, output = quotes(chain.deployment_file, "ETH-USD", "-100000000")
    assert (code, output.strip()) == (
        2,
        "Error: -100000000 is negative: amounts, sizes and ids are positive numbers (to sell, give --side sell)",
    )


def test_a_node_that_cannot_serve_a_venues_read_is_the_nodes_failure(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the EVM stopping a venue's call is that venue's failure: a node that cannot serve the read (here "header
    not found") is said as the node's, not as a row for each venue."""
    error = {"code": -32000, "message": "header not found"}

    def refused(*_: object) -> None:
        raise Web3RPCError(str(error), rpc_response={"jsonrpc": "2.0", "id": 1, "error": error})

    monkeypatch.setattr(RabbitVenue, "quote", refused)
    code, output = quotes(chain.deployment_file, "ETH-USD", "1")
    assert (code, output.strip()) == (1, "Error: the node refused the request: header not found")


def test_a_sells_zero_funding_is_never_negative_zero(chain: Chain) -> None:
    """A sell's funding at a zero rate is -1 x 0: it printed "-0.00" in the table and "-0" in JSON."""
    document = quotes_json(chain.deployment_file, "ETH-USD", "1", "--side", "sell")
    assert [row["funding"] for row in document["venues"]] == ["0", "0"]
    code, output = quotes(chain.deployment_file, "ETH-USD", "1", "--side", "sell")
    assert code == 0, output
    assert "-0.00" not in output
    assert all(line.split()[3] == "0.00" for line in output.splitlines()[2:4]), output


def test_risk_venues_shows_every_amount_to_the_cent_and_margins_rounded_up(chain: Chain, tmp_path: Path) -> None:
    """The maintenance margin printed as 1,031.976 beside columns of 2 decimals (and 250,000 with none)."""
    chain.seed_pool()
    me = chain.fund(1, "WETH", 20)
    admin = chain.clients(0)
    assert admin.trading is not None
    trading = TradingClient(chain.w3, chain.deployment, chain.client(1).sender)
    now = int(chain.w3.eth.get_block("latest")["timestamp"])
    opened = trading.submit(me, "ETH-USD", Decimal("12.345"), Decimal(3100), now + 600)
    assert admin.trading.execute([opened])[0].executed
    exposures = {a.name: admin.trading.exposure(i, a) for i, a in enumerate(admin.trading.adapters())}
    assert any(e.maintenance_margin % 10_000 for e in exposures.values()), "a margin of more than 2 decimals"

    result = CliRunner().invoke(
        cli,
        ["--deployment", str(chain.deployment_file), "risk", "venues"],
        env={"PRIMEVAULT_DATA_DIR": str(tmp_path / "data"), "PRIMEVAULT_DEV_ACCOUNT": None},
    )
    assert result.exit_code == 0, result.output
    decimals = chain.deployment.base.decimals
    for line in result.output.splitlines()[1:]:
        name, collateral, initial, maintenance, withdrawing, depositing = line.split()[:6]
        e = exposures[name]
        assert collateral == format_units(e.net_collateral, decimals, 2, ROUND_FLOOR)
        assert initial == format_units(e.initial_margin, decimals, 2, ROUND_CEILING)
        assert maintenance == format_units(e.maintenance_margin, decimals, 2, ROUND_CEILING)
        assert (withdrawing, depositing) == ("0.00", "0.00")
        posted, pnl, cap_room = line.split()[6:9]
        assert e.margin_posted is not None and e.pnl is not None
        assert posted == format_units(e.margin_posted, decimals, 2, ROUND_FLOOR)
        assert pnl == format_units(e.pnl, decimals, 2, ROUND_FLOOR)
        assert cap_room == "-", "a venue that fills on chain has no margin cap"

"""The web app's server over HTTP, without a browser: what it hands the page, and one line of JSON for a bad
request (the page shows it as it is)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from eth_abi import encode
from web3 import Web3

from keeper.chain.revert import DecodedError, error_decoder
from keeper.cli.explain import describe
from keeper.cli.main import cli
from keeper.cli.web import DEFAULT_DIST
from keeper.client.portfolio import PortfolioMarginClient
from keeper.client.trading import TradingClient
from keeper.client.vault import sub_account
from keeper.devnet.deploy import seed_local_liquidity
from keeper.web.server import WebSettings, _without_cli_pointers, serving_in_thread
from tests.python.conftest import Chain
from tests.python.fault_proxy import rpc_faults
from tests.python.test_quotes_venues import HOUR, STALE_ON_DYDX, list_sol


def fetch(url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        is_json = error.headers.get_content_type() == "application/json"
        return error.code, json.loads(error.read()) if is_json else None


def test_config_abis_quotes_and_explanations(chain: Chain) -> None:
    with serving_in_thread(WebSettings(chain.deployment_file, chain.url, DEFAULT_DIST)) as url:
        status, config = fetch(f"{url}/config.json")
        assert status == 200
        assert config["vault"] == chain.deployment.vault and config["chainId"] == 31337
        # Accounts 1-8: not the deployer (0, every role) nor the keeper's (9).
        assert [a["index"] for a in config["devAccounts"]] == list(range(1, 9))
        assert config["devAccounts"][0]["address"] == chain.account(1).address

        status, abi = fetch(f"{url}/abi/PrimeVault.json")
        assert status == 200 and any(item.get("name") == "depositWithPermit" for item in abi)
        assert fetch(f"{url}/abi/NotAContract.json")[0] == 404

        status, quotes = fetch(f"{url}/api/quotes?market=ETH-USD&side=buy&size=2")
        assert status == 200 and quotes["market"] == "ETH-USD"
        assert sum(float(size) for size in quotes["routed"]["sizes"].values()) == 2

        me = chain.account(1).address
        selector = Web3.keccak(text="InsufficientEquity(address,int256,uint256)")[:4]
        data = selector + encode(["address", "int256", "uint256"], [me, -500 * 10**6, 300 * 10**6])
        status, explained = fetch(f"{url}/api/explain", {"action": "withdraw WETH", "data": Web3.to_hex(data)})
        assert status == 200 and explained["name"] == "InsufficientEquity"
        assert explained["message"] == (
            "withdraw WETH failed: would make the account unhealthy: equity would be -500.00 USDC, below the initial "
            "requirement of 300.00 USDC; deposit collateral or use a smaller amount [InsufficientEquity]"
        )


def test_the_riskiest_accounts_come_from_the_keepers_scan_lowest_first(chain: Chain) -> None:
    vault = chain.client(0)
    assert vault.sender is not None
    seed_local_liquidity(vault.sender, chain.deployment)
    me = chain.account(0).address
    safe, risky = sub_account(me, 1), sub_account(me, 2)  # sub-account 0 supplies the pool
    portfolio = sub_account(me, 3)  # as `risky`, margined by the portfolio rule: 6.25% maintenance, not 15%
    chain.mint(0, "WETH", 3)
    vault.deposit(portfolio, "WETH", 10**18)
    vault.set_portfolio_mode(portfolio, True)
    for account in (safe, risky):
        vault.deposit(account, "WETH", 10**18)
    for account, debt in ((safe, 1_000), (risky, 2_300), (portfolio, 2_300)):
        vault.withdraw(account, "USDC", debt * 10**6)
    with serving_in_thread(WebSettings(chain.deployment_file, chain.url, DEFAULT_DIST)) as url:
        status, answer = fetch(f"{url}/api/riskiest?limit=5")
        assert fetch(f"{url}/api/riskiest?limit=500")[0] == 400
    assert status == 200 and answer["exposed"] >= 2
    ranked = [row["account"] for row in answer["accounts"]]
    assert ranked.index(risky) < ranked.index(safe)
    assert ranked.index(risky) < ranked.index(portfolio), "its own rule asks less of it"
    for account in (risky, portfolio):
        row = answer["accounts"][ranked.index(account)]
        health = vault.health(account)
        assert (
            abs(int(row["equity"]) - health.equity) <= 1
            and abs(int(row["maintenance"]) - health.maintenance_requirement) <= 1
        ), (account, row, health)
        assert row["ratio"] == pytest.approx(health.equity / health.maintenance_requirement)


def test_the_riskiest_name_the_accounts_that_cannot_be_valued(chain: Chain) -> None:
    """An account holding an asset or trading a market without a usable price has no health to rank: it is listed
    apart with the reason, largest debt first, never ranked on figures that price it at 0 (nor left out)."""
    vault = chain.client(0)
    assert vault.sender is not None
    seed_local_liquidity(vault.sender, chain.deployment)
    me = chain.account(0).address
    on_weth, on_wbtc, eth_trader = sub_account(me, 1), sub_account(me, 2), sub_account(me, 3)
    chain.mint(0, "WETH", 1)
    chain.mint(0, "WBTC", 2)
    vault.deposit(on_weth, "WETH", 10**18)
    vault.deposit(on_wbtc, "WBTC", 10**8)
    vault.deposit(eth_trader, "WBTC", 10**8)
    for account in (on_weth, on_wbtc):
        vault.withdraw(account, "USDC", 1_000 * 10**6)
    trading = TradingClient(chain.w3, chain.deployment, vault.sender)
    deadline = int(chain.w3.eth.get_block("latest")["timestamp"]) + 600
    order = trading.submit(eth_trader, "ETH-USD", Decimal("0.5"), Decimal(3_100), deadline)
    assert trading.execute([order])[0].executed
    chain.set_price("WETH", 0)  # an invalid answer: WETH and the ETH-USD mark (the same feed) have no usable price

    with serving_in_thread(WebSettings(chain.deployment_file, chain.url, DEFAULT_DIST)) as url:
        status, answer = fetch(f"{url}/api/riskiest?limit=5")
        first = fetch(f"{url}/api/riskiest?limit=1")[1]
    assert status == 200
    ranked = [row["account"] for row in answer["accounts"]]
    assert on_wbtc in ranked and on_weth not in ranked and eth_trader not in ranked
    assert answer["unpriced"] == [
        {
            "account": on_weth,
            "holds": ["WETH"],
            "trades": [],
            "reason": "holds WETH without a usable price now (a stale or invalid feed): its health cannot be computed",
        },
        {
            "account": eth_trader,
            "holds": [],
            "trades": ["ETH-USD"],
            "reason": "trades ETH-USD without a usable price now (a stale or invalid feed): its health cannot be "
            "computed",
        },
    ]
    assert answer["unpriced_count"] == 2 and answer["exposed"] >= 3
    assert [row["account"] for row in first["unpriced"]] == [on_weth] and first["unpriced_count"] == 2


def test_quotes_leave_out_a_venue_that_cannot_price(chain: Chain, tmp_path: Path) -> None:
    deployment = list_sol(chain, tmp_path, dydx_staleness=HOUR)
    chain.advance(2 * HOUR)  # past dydx's staleness limit for SOL-USD, not rabbitx's
    with serving_in_thread(WebSettings(deployment, chain.url, DEFAULT_DIST)) as url:
        status, answer = fetch(f"{url}/api/quotes?market=SOL-USD&side=sell&size=3")
    assert status == 200
    assert answer["venues"][0] == {"venue": "dydx", "error": STALE_ON_DYDX}
    assert answer["venues"][1]["venue"] == "rabbitx" and "average_price" in answer["venues"][1]
    assert answer["routed"]["sizes"] == {"rabbitx": "3"}


def test_the_scenario_grid_is_the_portfolio_rule_on_chain(chain: Chain) -> None:
    vault = chain.client(0)
    me = sub_account(chain.account(0).address, 3)
    chain.mint(0, "WETH", 2)
    vault.deposit(me, "WETH", 2 * 10**18)
    with serving_in_thread(WebSettings(chain.deployment_file, chain.url, DEFAULT_DIST)) as url:
        status, answer = fetch(f"{url}/api/portfolio?account={me}")
        bad = fetch(f"{url}/api/portfolio?account=0x1234")
    assert bad[0] == 400 and "is not an address" in bad[1]["error"]
    assert status == 200 and answer["margined_by"] == "standard"
    portfolio = answer["portfolio"]
    (eth,) = portfolio["grid"]
    assert eth["underlying"] == "ETH" and len(eth["losses"]) == len(portfolio["scenarios"]) == 9
    losses = [float(loss) for loss in eth["losses"]]
    assert eth["worst"] == portfolio["scenarios"][losses.index(max(losses))]
    assert losses[portfolio["scenarios"].index("+S")] < 0, "collateral gains when its price rises"
    (leg,) = eth["legs"]
    assert leg["leg"] == "WETH collateral" and float(leg["loss"]) == max(losses)
    assert chain.deployment.portfolio is not None
    initial, maintenance = PortfolioMarginClient(chain.w3, chain.deployment).requirements(me)
    decimals = chain.deployment.base.decimals
    assert Decimal(portfolio["initial"]) == Decimal(initial).scaleb(-decimals)
    assert Decimal(portfolio["maintenance"]) == Decimal(maintenance).scaleb(-decimals)


def test_the_scenario_grid_on_a_stale_price_says_why_there_is_none(chain: Chain) -> None:
    """It answered figures computed with the stale price read as 0 (an equity and requirements of 0)."""
    me = sub_account(chain.account(0).address, 4)
    chain.mint(0, "WETH", 2)
    chain.client(0).deposit(me, "WETH", 2 * 10**18)
    chain.advance(10 * 86_400)
    with serving_in_thread(WebSettings(chain.deployment_file, chain.url, DEFAULT_DIST)) as url:
        status, answer = fetch(f"{url}/api/portfolio?account={me}")
    assert status == 503
    assert answer["error"].startswith("the WETH price feed is stale or invalid at block "), answer
    assert "cannot be computed until it updates" in answer["error"]


def test_a_dead_node_is_one_line_of_json(chain: Chain) -> None:
    me = chain.account(0).address
    dead = "http://127.0.0.1:1"
    with serving_in_thread(WebSettings(chain.deployment_file, dead, DEFAULT_DIST)) as url:
        for path in (f"/api/portfolio?account={me}", "/api/quotes?market=ETH-USD&side=buy&size=1", "/api/riskiest"):
            status, answer = fetch(f"{url}{path}")
            assert (status, answer) == (502, {"error": f"lost the connection to {dead}: is the node running?"}), path


@pytest.mark.parametrize("fault", ["garbage", "html", "null"])
def test_a_node_answering_garbage_is_the_gateways_502_not_the_servers_500(chain: Chain, fault: str) -> None:
    """An HTML page, a cut body or a null result from the node (a proxy in front of it failing) was the server's own
    failure: a 500 that sent the user to the server's log, and a traceback there at every request."""
    me = chain.account(0).address
    with (
        rpc_faults(chain.url) as (faults, node),
        serving_in_thread(WebSettings(chain.deployment_file, node, DEFAULT_DIST)) as url,
    ):
        faults.break_answers("eth_call", fault)
        for path in (f"/api/portfolio?account={me}", "/api/quotes?market=ETH-USD&side=buy&size=1", "/api/riskiest"):
            status, answer = fetch(f"{url}{path}")
            assert (status, answer) == (
                502,
                {"error": f"the node at {node} answered eth_call with something that is not JSON-RPC: try again"},
            ), path


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/api/quotes?market=DOGE-USD&side=buy&size=1", None, "DOGE-USD"),
        ("/api/quotes?market=ETH-USD&side=up&size=1", None, "side 'up' is not buy or sell"),
        ("/api/quotes?market=ETH-USD&side=buy&size=lots", None, "lots"),
        ("/api/quotes?market=ETH-USD&side=buy&size=1&horizon_hours=-1", None, "horizon_hours -1 is not in"),
        ("/api/explain", {"data": "0x1234"}, 'explain takes {"action"'),
        ("/api/explain", {"action": "withdraw", "data": "not hex"}, 'explain takes {"action"'),
    ],
)
def test_a_bad_request_is_one_line_of_json(chain: Chain, path: str, body: dict[str, Any] | None, message: str) -> None:
    with serving_in_thread(WebSettings(chain.deployment_file, chain.url, DEFAULT_DIST)) as url:
        status, answer = fetch(f"{url}{path}", body)
    assert status == 400
    assert message in answer["error"] and "\n" not in answer["error"]


def test_the_command_says_what_is_missing(chain: Chain, tmp_path: Path) -> None:
    runner = CliRunner()
    unbuilt = runner.invoke(cli, ["--deployment", str(chain.deployment_file), "web", "--dist", str(tmp_path)])
    assert unbuilt.exit_code != 0 and "run `make web`" in unbuilt.output and "Traceback" not in unbuilt.output
    missing = runner.invoke(cli, ["--deployment", str(tmp_path / "none.json"), "web"])
    assert missing.exit_code != 0 and "none.json" in missing.output and "Traceback" not in missing.output


def test_the_servers_own_problems_are_a_generic_500(chain: Chain, tmp_path: Path) -> None:
    """Review 2: a deployment file gone is the server's problem, not the request's: a 500 whose sentence names none
    of the server's files (they are in its log)."""
    missing = tmp_path / "gone.json"
    with serving_in_thread(WebSettings(missing, chain.url, DEFAULT_DIST)) as url:
        status, answer = fetch(f"{url}/config.json")
    assert status == 500
    assert "its log has the details" in answer["error"] and str(tmp_path) not in answer["error"]


def test_json_the_server_cannot_decode_itself_is_its_generic_500(chain: Chain, monkeypatch: pytest.MonkeyPatch) -> None:
    """A JSON decoding error that is not the node's answer is the server's own fault: the generic 500, still JSON."""

    def broken(*_: object) -> None:
        raise json.JSONDecodeError("Expecting value", "{", 1)

    monkeypatch.setattr("keeper.web.server.config_document", broken)
    with serving_in_thread(WebSettings(chain.deployment_file, chain.url, DEFAULT_DIST)) as url:
        status, answer = fetch(f"{url}/config.json")
    assert (status, answer) == (500, {"error": "the page's server failed on GET /config.json; its log has the details"})


def test_a_revert_that_cannot_be_explained_is_still_json(chain: Chain, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review 2: decoding a revert failing is one generic sentence, not aiohttp's plain-text 500."""

    def broken() -> None:
        raise RuntimeError("no decoder")

    monkeypatch.setattr("keeper.web.server.error_decoder", broken)
    # The market's own feed reverts: no quote without a mark (a venue that reverts is only a row of the quote).
    feed = chain.deployment.market("ETH-USD").feed
    chain.w3.provider.make_request("anvil_setCode", [feed, "0x60006000fd"])  # type: ignore[arg-type]
    with serving_in_thread(WebSettings(chain.deployment_file, chain.url, DEFAULT_DIST)) as url:
        status, answer = fetch(f"{url}/api/quotes?market=ETH-USD&side=buy&size=1")
    assert (status, answer) == (
        503,
        {"error": "quotes failed: a contract reverted and its reason could not be decoded"},
    )


def test_no_sentence_handed_to_the_page_points_at_a_command(chain: Chain) -> None:
    """Review 12: the CLI's pointers to its commands are left out of every sentence the page gets."""
    names = {name for name, _, _ in error_decoder()._errors.values()}
    for name in sorted(names):
        sentence = _without_cli_pointers(describe(DecodedError(name, {}), chain.deployment))
        assert "`" not in sentence, (name, sentence)

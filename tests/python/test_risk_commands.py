"""`primevault risk stress`, `risk haircuts` and `risk explain` against a real anvil: read-only, so they run without a
key; amounts in the deployment's base token; --json with exact decimal strings. Only `haircuts --apply` signs."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from eth_account import Account

from keeper.cli.main import cli
from keeper.client.trading import ChildSpec, TradingClient
from keeper.client.vault import sub_account
from keeper.devnet.deploy import add_rabbitx_seat, deploy_rabbitx_custody, seed_local_liquidity
from keeper.devnet.rabbitx.exchange import ExchangeConfig
from keeper.pricestore import PriceStore
from keeper.units import format_units
from tests.python.conftest import Chain


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No key or setting from the environment: the commands must not need one."""
    for key in list(__import__("os").environ):
        if key.startswith("PRIMEVAULT_"):
            monkeypatch.delenv(key)
    yield


def run(chain: Chain, tmp_path: Path, *args: str, key: tuple[str, ...] = ()) -> Result:
    """The command without a signing key unless `key` gives one; the keeper's data in `tmp_path`."""
    options = ["--deployment", str(chain.deployment_file), "--rpc-url", chain.url, *key]
    return CliRunner().invoke(cli, [*options, *args], env={"PRIMEVAULT_DATA_DIR": str(tmp_path / "data")})


@pytest.fixture
def borrowers(chain: Chain) -> list[str]:
    """Three sub-accounts of dev account 3, each 1 WETH (3,000) borrowing 2,000 of the base token."""
    admin = chain.client(0)
    assert admin.sender is not None
    seed_local_liquidity(admin.sender, chain.deployment)
    chain.mint(3, "WETH", 3)
    owner = chain.client(3)
    accounts = [sub_account(chain.account(3).address, i) for i in range(3)]
    for account in accounts:
        owner.deposit(account, "WETH", 10**18)
        owner.withdraw(account, chain.deployment.base.symbol, 2_000 * 10**chain.deployment.base.decimals)
    return accounts


def test_risk_stress_needs_no_key_and_counts_in_the_base_token(
    chain: Chain, tmp_path: Path, borrowers: list[str]
) -> None:
    base = chain.deployment.base
    result = run(chain, tmp_path, "risk", "stress", "--shock", "ETH=-25%")
    assert result.exit_code == 0, result.output
    assert "liquidatable now          0" in result.output
    assert "liquidatable after shock  3" in result.output  # 1 WETH at 2,250, 2,000 of debt: equity 250 < 337.5
    [reserves_line] = [line for line in result.output.splitlines() if line.startswith("reserves")]
    assert reserves_line.endswith(f" {base.symbol}")
    assert "covered by reserves       yes" in result.output

    shown = run(chain, tmp_path, "risk", "stress", "--shock", "ETH=-50%", "--json")
    assert shown.exit_code == 0, shown.output
    document = json.loads(shown.output)
    reserves = chain.client(0).market().reserves
    assert document["symbol"] == base.symbol
    assert document["reserves"] == format_units(reserves, base.decimals).replace(",", "")
    assert (document["accounts"], document["liquidatable_now"], document["liquidatable_after_shock"]) >= (3, 0, 3)
    assert document["shocks"] == {"ETH": "-0.5"}
    # 1 WETH at 1,500 less its penalty cannot pay 2,000: each account leaves a shortfall, in whole base units.
    shortfall = document["shortfall"]
    assert "," not in shortfall and "e" not in shortfall.lower()
    assert 3 * 500 < float(shortfall) < 3 * 2_000
    assert len(shortfall.partition(".")[2]) <= base.decimals
    assert document["covered"] is False


def test_risk_stress_counts_the_accounts_it_cannot_judge(chain: Chain, tmp_path: Path, borrowers: list[str]) -> None:
    """With WETH's feed stale the borrowers cannot be valued: stress said nothing of them, so a shock that would
    liquidate all three read as one that liquidates none."""
    chain.advance(10 * 86_400)
    result = run(chain, tmp_path, "risk", "stress", "--shock", "ETH=-25%")
    assert result.exit_code == 0, result.output
    assert "liquidatable after shock  0" in result.output
    assert "not judged                3: their health cannot be computed" in result.output
    assert "without a usable price now (stale or invalid: WETH, " in result.output
    document = json.loads(run(chain, tmp_path, "risk", "stress", "--shock", "ETH=-25%", "--json").output)
    assert document["unpriced"] == 3 and "WETH" in document["unusable_prices"]


def test_risk_venues_and_stress_with_a_venue_that_cannot_answer(
    chain: Chain, tmp_path: Path, borrowers: list[str]
) -> None:
    """The vault's dYdX adapter reverts every call: both commands failed whole on it. `venues` gives its row a
    reason and reports the other; `stress` still judges every account, and says that the vault's reserves count that
    venue's account as nothing (its margin and its withdrawals on their way back), so whether they cover is unknown."""
    adapter = chain.deployment.venues[0].adapter
    chain.w3.provider.make_request("anvil_setCode", [adapter, "0x60006000fd"])  # type: ignore[arg-type]
    venues = run(chain, tmp_path, "risk", "venues")
    assert venues.exit_code == 0, venues.output
    rows = venues.output.splitlines()[1:]
    assert rows[0].startswith("dydx") and "cannot answer: its contract reverted without giving a reason" in rows[0]
    assert rows[1].split()[0] == "rabbitx" and rows[1].split()[1] != "cannot"
    document = json.loads(run(chain, tmp_path, "risk", "venues", "--json").output)
    assert document["venues"][0] == {"venue": "dydx", "error": "its contract reverted without giving a reason"}
    assert "net_collateral" in document["venues"][1]

    stressed = run(chain, tmp_path, "risk", "stress", "--shock", "ETH=-25%")
    assert stressed.exit_code == 0, stressed.output
    assert "liquidatable after shock  3" in stressed.output
    reason = "its contract reverted without giving a reason"
    assert f"counting dydx's account as nothing ({reason})" in stressed.output
    assert "covered by reserves       unknown" in stressed.output
    shown = json.loads(run(chain, tmp_path, "risk", "stress", "--shock", "ETH=-25%", "--json").output)
    assert shown["reserves"] is not None and shown["covered"] is None and shown["liquidatable_after_shock"] == 3
    assert shown["reserves_count_as_nothing"] == [{"venue": "dydx", "error": reason}]


def test_risk_stress_says_the_reserves_count_a_venue_that_cannot_answer_as_nothing(
    chain: Chain, tmp_path: Path, borrowers: list[str]
) -> None:
    """The venue itself (not the vault's adapter) reverts: the trading module's `venueAssets` counts its account as
    nothing instead of reverting, so the vault's reserves read, short by the venue's whole margin (-250,000 against
    about 0 here), and stress printed them with "covered by reserves yes", not a word of the venue left out."""
    [rabbitx] = [v for v in chain.deployment.venues if v.name == "rabbitx"]
    chain.w3.provider.make_request("anvil_setCode", [rabbitx.address, "0x60006000fd"])  # type: ignore[arg-type]
    reason = "its contract reverted without giving a reason"
    result = run(chain, tmp_path, "risk", "stress", "--shock", "ETH=-10%")
    assert result.exit_code == 0, result.output
    [reserves] = [line for line in result.output.splitlines() if line.startswith("reserves")]
    assert reserves.endswith(f" {chain.deployment.base.symbol}, counting rabbitx's account as nothing ({reason})")
    assert "covered by reserves       unknown" in result.output
    shown = json.loads(run(chain, tmp_path, "risk", "stress", "--shock", "ETH=-10%", "--json").output)
    assert shown["covered"] is None and shown["reserves"] is not None
    assert shown["reserves_count_as_nothing"] == [{"venue": "rabbitx", "error": reason}]


def test_risk_stress_goes_on_past_a_venue_that_burns_its_gas(
    chain: Chain, tmp_path: Path, borrowers: list[str]
) -> None:
    """A venue that never returns: the lens's funding reads and the vault's `venueAssets` give each of its views
    bounded gas, so the account scan and the reserves still read (unbounded, the lens ran out of gas and stress
    failed whole), and the venue is named where the reserves count it as nothing."""
    [rabbitx] = [v for v in chain.deployment.venues if v.name == "rabbitx"]
    chain.w3.provider.make_request("anvil_setCode", [rabbitx.address, "0x5b600056"])  # type: ignore[arg-type]
    shown = json.loads(run(chain, tmp_path, "risk", "stress", "--shock", "ETH=-10%", "--json").output)
    assert shown["reserves"] is not None and shown["covered"] is None
    assert [v["venue"] for v in shown["reserves_count_as_nothing"]] == ["rabbitx"]


def test_risk_haircuts_leaves_out_a_zero_price_an_older_keeper_recorded(chain: Chain, tmp_path: Path) -> None:
    """A keeper recorded 0 for a stale feed: the log return from it is infinite, and `risk haircuts` failed with a
    traceback (the haircuts job at every run) for as long as the row stayed in the history."""
    now = int(time.time())
    (tmp_path / "data").mkdir()
    store = PriceStore(tmp_path / "data" / "prices.sqlite")
    for k in range(48):
        store.record("WETH", now - (48 - k) * 3600, 0.0 if k == 20 else 3000.0 * (1.01 if k % 2 else 0.99))
    store.close()
    result = run(chain, tmp_path, "risk", "haircuts")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1].split()[:2] == ["WETH", "46"], "the 47 real prices' returns"


def test_risk_haircuts_proposes_without_a_key(chain: Chain, tmp_path: Path) -> None:
    now = int(time.time())
    (tmp_path / "data").mkdir()
    store = PriceStore(tmp_path / "data" / "prices.sqlite")
    for k in range(48):  # hourly prices: 47 returns
        store.record("WETH", now - (48 - k) * 3600, 3000.0 * (1.01 if k % 2 else 0.99))
    store.close()
    before = [(c.initial_haircut_bps, c.maintenance_haircut_bps) for c in chain.client(0).asset_configs()]

    result = run(chain, tmp_path, "risk", "haircuts")
    assert result.exit_code == 0, result.output
    assert "pushed" not in result.output, "proposals only"
    [header, weth, wbtc, short, shocks] = result.output.splitlines()
    assert header.split()[:2] == ["asset", "samples"]
    assert weth.split()[:2] == ["WETH", "47"] and wbtc.split()[:4] == ["WBTC", "0", "-", "-"], "no volatility yet"
    assert short.startswith("WBTC: fewer than 5 price returns in "), short
    # The keeper records a price a minute of block time, not at every cycle (a block): five returns take minutes.
    assert short.endswith(
        "the keeper records each asset's price every 60 s of block time (`price_record_interval`; `primevault keeper "
        "run`, same data_dir)"
    ), short
    # WETH's volatility (about 4.9% a day) asks ETH's portfolio shock for about 16%: one 2.5% step from 10%.
    assert shocks == "portfolio shocks (bps, a step a run within bounds): ETH 1000 -> 1250"

    shown = run(chain, tmp_path, "risk", "haircuts", "--json")
    assert shown.exit_code == 0, shown.output
    document = json.loads(shown.output)
    assert "pushed" not in document
    assert [p["asset"] for p in document["proposals"]] == ["WETH", "WBTC"]
    proposal = document["proposals"][0]
    assert proposal["samples"] == 47
    assert [proposal["current_bps"]["initial"], proposal["current_bps"]["maintenance"]] == list(before[0])
    assert float(proposal["ewma_daily_vol"]) > 0 and "e" not in proposal["ewma_daily_vol"].lower()
    assert document["portfolio_shocks_bps"] == {"ETH": {"current": 1000, "next": 1250}}
    after = [(c.initial_haircut_bps, c.maintenance_haircut_bps) for c in chain.client(0).asset_configs()]
    assert after == before, "nothing sent"


def test_risk_haircuts_apply_needs_the_risk_managers_key(chain: Chain, tmp_path: Path) -> None:
    refused = run(chain, tmp_path, "risk", "haircuts", "--apply")
    assert refused.exit_code == 1
    assert refused.output.startswith("Error: invalid keeper configuration: key: set keystore")
    assert len(refused.output.splitlines()) == 1
    lacking = run(chain, tmp_path, "risk", "haircuts", "--apply", key=("--dev-account", "8"))
    assert lacking.exit_code == 1
    assert "lacks RISK_MANAGER_ROLE on the vault (needed by the haircuts job)" in lacking.output
    applied = run(chain, tmp_path, "risk", "haircuts", "--apply", "--json", key=("--dev-account", "0"))
    assert applied.exit_code == 0, applied.output
    assert json.loads(applied.output[applied.output.index("{") :])["pushed"] == []  # no history: nothing to change


def test_keeper_run_once_liquidates_what_is_due_and_says_so(chain: Chain, tmp_path: Path, borrowers: list[str]) -> None:
    chain.set_price("WETH", 2_200)  # 1 WETH at 2,200 against 2,000 of debt: equity 200 < maintenance 330
    result = run(
        chain,
        tmp_path,
        "keeper",
        "run",
        "--once",
        "--jobs",
        "liquidation,reconcile",
        "--metrics-port",
        "off",
        key=("--dev-account", "9"),
    )
    assert result.exit_code == 0, result.output
    [summary] = [line for line in result.output.splitlines() if line.startswith("one cycle done")]
    assert "3 liquidatable" in summary, summary
    vault = chain.client(0)
    for account in borrowers:
        assert not vault.health(account).liquidatable, "each restored by the one cycle"
        assert vault.collateral_balance(account, "WETH") < 10**18, "partially absorbed"


def test_venues_shows_the_vaults_exposure_to_each_venue_without_a_key(chain: Chain, tmp_path: Path) -> None:
    admin = chain.client(0)
    assert admin.sender is not None
    seed_local_liquidity(admin.sender, chain.deployment)
    result = run(chain, tmp_path, "risk", "venues", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["symbol"] == chain.deployment.base.symbol
    venues = {v["venue"]: v for v in document["venues"]}
    assert set(venues) == {v.name for v in chain.deployment.venues}
    for view in venues.values():
        assert view["net_collateral"] == "250000", "the margin the local seed posted, exact"
        assert view["withdrawals_pending"] == "0" and view["reported_at"] is None
        assert view["positions"] == {m.ticker: "0" for m in chain.deployment.markets}
    table = run(chain, tmp_path, "risk", "venues")
    assert table.exit_code == 0, table.output
    assert "250,000" in table.output and "on chain" in table.output


def test_risk_explain_shows_a_hedged_book_under_both_rules(chain: Chain, tmp_path: Path) -> None:
    """10 WETH against a 10 ETH short: the standard rule charges the haircut and the perp margin; the portfolio rule
    nets the legs, and once the account is switched to it its figures are the vault's own."""
    chain.seed_pool()
    admin = chain.client(0)
    me = chain.fund(1, "WETH", 10)
    trading = TradingClient(chain.w3, chain.deployment, chain.client(1).sender)
    now = int(chain.w3.eth.get_block("latest")["timestamp"])
    order_id = trading.submit(me, "ETH-USD", Decimal(-10), Decimal(2900), now + 600)
    assert TradingClient(chain.w3, chain.deployment, admin.sender).execute([order_id])[0].executed

    result = run(chain, tmp_path, "risk", "explain", me, "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    client = chain.client(1)
    health = client.health(me)
    decimals = chain.deployment.base.decimals
    assert Decimal(figures["standard"]["maintenance"]) == Decimal(health.maintenance_requirement).scaleb(-decimals)
    assert Decimal(figures["equity"]) == Decimal(health.equity).scaleb(-decimals)
    standard, portfolio = Decimal(figures["standard"]["maintenance"]), Decimal(figures["portfolio"]["maintenance"])
    assert portfolio < standard / 4, "the hedge nets: far below the haircut plus the perp margin"
    assert set(figures["portfolio"]["worst"]) == {"ETH"}
    assert figures["portfolio"]["unmapped"] == {}, "every asset of the deployment is in the rule"

    text = run(chain, tmp_path, "risk", "explain", me)
    assert text.exit_code == 0, text.output
    venues = tuple(v.name for v in chain.deployment.venues)
    assert "WETH collateral: notional" in text.output
    assert any(f"ETH-USD at {name}: notional" in text.output for name in venues), "the venue by its name"
    assert "less maintenance" in text.output

    assert "margined by the standard rule" in text.output

    client.set_portfolio_mode(me, True)
    switched = json.loads(run(chain, tmp_path, "risk", "explain", me, "--json").output)
    assert switched["margined_by"] == "portfolio"
    health = client.health(me)
    assert Decimal(switched["portfolio"]["maintenance"]) == Decimal(health.maintenance_requirement).scaleb(-decimals)

    unknown = run(chain, tmp_path, "risk", "explain", "0x12")
    assert unknown.exit_code == 2 and "Traceback" not in unknown.output


def test_risk_explain_rounds_as_account_show_does(chain: Chain, tmp_path: Path) -> None:
    """One account at one block: `risk explain` printed its equity and requirements rounded half to even, so a
    depositor read an equity a cent above what `account show` said and requirements a cent below (here 601.37 of
    equity against show's 601.36, an initial requirement of 375.17 against 375.18): what the account has is
    rounded down, what it needs up, in both."""
    chain.seed_pool()
    me = chain.fund(1, "WETH", 1)
    client = chain.client(1)
    client.set_portfolio_mode(me, True)
    chain.set_price("WETH", 3001.37)  # 12.5% of it is 375.17125: the initial requirement is off the cent
    client.withdraw(me, "USDC", 2_400_004_000, me)  # equity 601.366 less the debt's rounding
    health = client.health(me)
    decimals = chain.deployment.base.decimals
    equity = format_units(health.equity, decimals, 2, ROUND_FLOOR)
    initial = format_units(health.initial_requirement, decimals, 2, ROUND_CEILING)
    maintenance = format_units(health.maintenance_requirement, decimals, 2, ROUND_CEILING)
    assert (equity, initial) == ("601.36", "375.18")

    shown = run(chain, tmp_path, "--dev-account", "1", "account", "show")
    assert f"equity                   {equity} USDC" in shown.output, shown.output
    assert f"initial requirement      {initial} USDC" in shown.output, shown.output
    explained = run(chain, tmp_path, "risk", "explain", me)
    assert explained.exit_code == 0, explained.output
    assert f"equity                        {equity} USDC" in explained.output, explained.output
    assert f"portfolio rule                initial {initial} USDC, maintenance {maintenance} USDC" in explained.output


def test_risk_explain_says_when_both_rules_ask_the_same(chain: Chain, tmp_path: Path) -> None:
    """1 BTC short alone asks 3,000 of maintenance under either rule (docs/risk.md's worked numbers): `risk explain`
    said the portfolio rule needs "0.0% less maintenance"."""
    chain.seed_pool()
    me = chain.fund(1, "USDC", 7_000)
    trading = TradingClient(chain.w3, chain.deployment, chain.client(1).sender)
    now = int(chain.w3.eth.get_block("latest")["timestamp"])
    order_id = trading.submit(me, "BTC-USD", Decimal(-1), Decimal(59_000), now + 600)
    assert TradingClient(chain.w3, chain.deployment, chain.client(0).sender).execute([order_id])[0].executed
    text = run(chain, tmp_path, "risk", "explain", me)
    assert text.exit_code == 0, text.output
    assert "standard rule                 initial 6,000.00 USDC, maintenance 3,000.00 USDC" in text.output
    assert "portfolio rule                initial 6,000.00 USDC, maintenance 3,000.00 USDC" in text.output
    assert "portfolio rule needs          the same maintenance" in text.output, text.output


def test_risk_explain_counts_the_margin_open_children_reserve(chain: Chain, tmp_path: Path) -> None:
    """An open child at a seat reserves initial margin, which the vault adds to the initial requirement of either
    rule: `risk explain` must print the vault's figures, not the book's without it (it printed 3,000 less here, the
    reservation of a 10 ETH buy limited at 3,000)."""
    chain.seed_pool()
    admin = chain.client(0)
    assert admin.sender is not None
    exchange = ExchangeConfig(signer_key="0x" + "11" * 32)
    custody = deploy_rabbitx_custody(admin.sender, chain.deployment, Account.from_key(exchange.signer_key).address)
    deployment = add_rabbitx_seat(admin.sender, chain.deployment, custody, exchange.markets, exchange.default_leverage)
    seated = dataclasses.replace(chain, deployment=deployment, deployment_file=tmp_path / "seat.json")
    deployment.save(seated.deployment_file)
    trader = TradingClient(seated.w3, deployment, seated.client(1).sender)
    executor = TradingClient(seated.w3, deployment, admin.sender)
    decimals = deployment.base.decimals
    seated.mint(1, "WETH", 20)
    for sub_id, portfolio in ((0, False), (1, True)):
        me = sub_account(seated.account(1).address, sub_id)
        seated.client(1).deposit(me, "WETH", 10 * 10**18)
        if portfolio:
            seated.client(1).set_portfolio_mode(me, True)  # refused while children are open
        now = int(seated.w3.eth.get_block("latest")["timestamp"])
        order_id = trader.submit(me, "ETH-USD", Decimal(10), Decimal(3000), now + 600)
        executor.commit_split(order_id, [ChildSpec(2, Decimal(10), Decimal(3000), now + 300)])
        reserved, open_children = trader.reservation(me)
        assert reserved > 0 and open_children == 1
        result = run(seated, tmp_path, "risk", "explain", me, "--json")
        assert result.exit_code == 0, result.output
        figures = json.loads(result.output)
        health = seated.client(1).health(me)
        rule = figures["portfolio" if portfolio else "standard"]
        assert Decimal(rule["initial"]) == Decimal(health.initial_requirement).scaleb(-decimals), portfolio
        assert Decimal(rule["maintenance"]) == Decimal(health.maintenance_requirement).scaleb(-decimals), portfolio

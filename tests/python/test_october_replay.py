"""The October 2025 crash replayed on books in portfolio mode at their maximum leverage (issue 13): zero bad debt,
every book that the crash made unhealthy liquidated, none left below maintenance, no book left out."""

from __future__ import annotations

from click.testing import CliRunner

from keeper.cli.main import cli
from keeper.devnet.deploy import seed_local_liquidity
from keeper.devnet.october import BOOKS, run_october
from tests.python.conftest import Chain


def test_the_crash_leaves_no_bad_debt_and_no_unhealthy_book(chain: Chain) -> None:
    admin = chain.client(0).sender
    assert admin is not None
    seed_local_liquidity(admin, chain.deployment)
    report = run_october(admin, chain.deployment)
    assert [b.name for b in report.books] == [b.name for b in BOOKS], "no exclusions"
    assert report.bad_debt == 0
    assert not report.reverted
    by_name = {b.name: b for b in report.books}
    for book in report.books:
        # At maximum leverage: equity is the initial requirement plus the one unit of the base asset left over.
        assert book.equity_before - book.initial_before <= 10**6, book.name
        assert not book.liquidatable_after, book.name
    # Hedges hold through the crash; the naked books are liquidated on the way down, the -90% asset included.
    assert by_name["10 WETH hedged by a 10 ETH short"].liquidations == 0
    assert by_name["BTC long and short at two venues"].liquidations == 0
    for naked in ("10 WETH alone", "1 WBTC alone", "ATOM alone"):
        assert by_name[naked].liquidations > 0, naked
    # Portfolio mode lent the hedged book far more than the standard rule would have.
    hedged = by_name["10 WETH hedged by a 10 ETH short"]
    assert hedged.initial_before * 10 < hedged.standard_initial_before


def test_the_replay_is_a_demo_scenario() -> None:
    result = CliRunner().invoke(cli, ["demo", "--scenario", "october-2025"])
    assert result.exit_code == 0, result.output
    assert "bad debt 0.00 USDC; books below maintenance after: 0" in result.output
    assert "ATOM -90%" in result.output

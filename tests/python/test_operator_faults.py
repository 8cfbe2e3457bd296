"""What an operator met running the keeper on the devnet: the margin job claiming RabbitX-style withdrawals a day
before they mature (a transaction that moves nothing every `margin_interval`) and logging raw units, a data_dir the
keeper cannot write to (a traceback at start), settings accepted that run nothing or can never be mined, and a
devnet port refused for a minute after its anvil was killed."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from web3 import Web3

from keeper.chain.anvil import Anvil, free_port
from keeper.cli.main import cli
from keeper.client.feeds import FeedClient
from keeper.client.trading import TradingClient
from keeper.daemon.config import MAX_GAS_BUDGET, load_config
from keeper.daemon.runner import Keeper
from keeper.devnet.deploy import LOCAL_VENUE_MARGIN, RABBIT_WITHDRAWAL_DELAY
from keeper.exceptions import AnvilError, ConfigError, PriceHistoryError
from keeper.pricestore import PriceStore
from tests.python.conftest import Chain
from tests.python.test_keeper_jobs import keeper_for

USDC = 10**6


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("PRIMEVAULT_"):
            monkeypatch.delenv(key)


@contextlib.contextmanager
def made_read_only(directory: Path) -> Iterator[Path]:
    """`directory` with no file to be made in it while inside. Root writes through a directory's mode, so as root it
    is made immutable too (`chattr +i`, which the test machines' file systems take; one that does not fails here)."""
    directory.chmod(0o500)
    as_root = os.geteuid() == 0
    try:
        if as_root:
            subprocess.run(["chattr", "+i", str(directory)], check=True, capture_output=True)
        yield directory
    finally:
        if as_root:
            subprocess.run(["chattr", "-i", str(directory)], check=False, capture_output=True)
        directory.chmod(0o700)


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """An empty directory no file can be made in."""
    directory = tmp_path / "read-only"
    directory.mkdir()
    with made_read_only(directory):
        yield directory


def deployment_file(path: Path) -> Path:
    path.write_text('{"rpc_url": "http://127.0.0.1:1111"}')
    return path


# ---------------------------------------------------------------------- A, D: the margin job


def margin_keeper(chain: Chain, tmp_path: Path) -> Keeper:
    """A keeper running only the margin job, keeping 30,000 USDC at each venue: with no positions that is the floor,
    and a venue is taken to the target 5/3 of it (50,000 USDC) above the ceiling (80,000 USDC)."""
    return keeper_for(chain, tmp_path, jobs=("margin",), margin_minimum=30_000)


def test_the_margin_job_claims_a_delayed_withdrawal_only_once_it_has_matured(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The devnet's RabbitX-style venue pays a withdrawal 24 h after its request: the job sent a claim that moved
    nothing (46,771 gas, no logs) every 30 s for that day."""
    chain.seed_pool()  # 250,000 USDC margin at each venue, no positions: 200,000 above the target
    keeper = margin_keeper(chain, tmp_path)
    trading = TradingClient(chain.w3, chain.deployment)
    rabbitx = trading.venue_id("rabbitx")
    adapter = trading.adapters()[rabbitx]
    me = chain.account(0).address
    keeper.jobs.margin.run()
    withdrawn = (LOCAL_VENUE_MARGIN - 50_000) * USDC
    assert adapter.pending_withdrawals() == withdrawn

    sent = chain.w3.eth.get_transaction_count(me)
    for _ in range(3):  # margin_interval after margin_interval within the venue's delay
        keeper.jobs.margin.run()
    assert chain.w3.eth.get_transaction_count(me) == sent, "nothing has matured: no claim is sent"
    assert adapter.claimable_withdrawals() == 0

    chain.advance(RABBIT_WITHDRAWAL_DELAY)
    for market in chain.deployment.markets:  # a day later the feeds are stale: their oracle answers again
        feed = FeedClient(chain.w3, market.feed, chain.client(0).sender)
        feed.set_answer(feed.price())
    clients = chain.clients(0)
    assert adapter.claimable_withdrawals() == withdrawn
    vault_before = clients.vault.token("USDC").balance_of(chain.deployment.vault)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="primevault.keeper"):
        keeper.jobs.margin.run()
    assert adapter.pending_withdrawals() == 0
    assert clients.vault.token("USDC").balance_of(chain.deployment.vault) - vault_before == withdrawn
    assert f"venue {rabbitx}: claiming 200,000 USDC of matured withdrawals" in caplog.messages
    sent = chain.w3.eth.get_transaction_count(me)
    keeper.jobs.margin.run()
    assert chain.w3.eth.get_transaction_count(me) == sent, "claimed: nothing is pending any more"


def test_the_margin_job_logs_amounts_in_base_tokens(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """It said `venue 0 margin 250000000000 above its ceiling: withdrawing 200000000000`."""
    chain.seed_pool()
    with caplog.at_level(logging.INFO, logger="primevault.keeper"):
        margin_keeper(chain, tmp_path).jobs.margin.run()
    assert [m for m in caplog.messages if "ceiling" in m] == [
        f"venue {v} margin 250,000 USDC above its ceiling: withdrawing 200,000 USDC"
        for v in range(len(chain.deployment.venues))
    ]


# ---------------------------------------------------------------------- B: the price history's directory


def test_a_data_dir_the_keeper_cannot_write_to_is_one_config_error(tmp_path: Path, read_only_dir: Path) -> None:
    path = deployment_file(tmp_path / "d.json")
    for data_dir, problem in (
        (read_only_dir, f"data_dir: {read_only_dir} is not writable"),
        (read_only_dir / "keeper", f"data_dir: {read_only_dir / 'keeper'} cannot be made, {read_only_dir} is not"),
    ):
        with pytest.raises(ConfigError) as caught:
            load_config(None, {"dev_account": 1, "deployment": path, "data_dir": data_dir})
        assert len(str(caught.value).splitlines()) == 1
        assert problem in str(caught.value)
    assert load_config(None, {"dev_account": 1, "deployment": path, "data_dir": tmp_path / "writable"})
    assert not any(p.name.startswith(".primevault-write-check-") for p in tmp_path.iterdir()), "the probe is removed"


def test_an_empty_data_dir_is_refused_rather_than_the_working_directory(tmp_path: Path) -> None:
    toml = tmp_path / "keeper.toml"
    toml.write_text(f'[keeper]\ndeployment = "{deployment_file(tmp_path / "d.json")}"\ndata_dir = ""\n')
    with pytest.raises(ConfigError, match='data_dir: "" would put the keeper\'s files wherever it is started'):
        load_config(toml, {"dev_account": 1})


def test_an_empty_data_dir_flag_is_refused_too(tmp_path: Path) -> None:
    """`--data-dir ''` reached the config as the working directory (a path type reads "" as ".")."""
    result = CliRunner().invoke(
        cli,
        ["--dev-account", "1", "--deployment", str(deployment_file(tmp_path / "d.json")), "keeper", "run", "--once",
         "--data-dir", ""],
    )  # fmt: skip
    assert result.exit_code == 2 and "--data-dir" in result.output and "is empty" in result.output, result.output


def test_a_price_history_it_cannot_open_is_said_not_taken_for_a_corrupt_file(read_only_dir: Path) -> None:
    """sqlite's "unable to open database file" was taken for a corrupt file, and moving a file that was never there
    aside failed with FileNotFoundError: a traceback at start."""
    with pytest.raises(PriceHistoryError, match=f"price history {read_only_dir / 'prices.sqlite'} cannot be opened"):
        PriceStore(read_only_dir / "prices.sqlite")
    assert list(read_only_dir.iterdir()) == []


def test_a_corrupt_price_history_is_still_moved_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "prices.sqlite"
    path.write_text("not a database")
    store = PriceStore(path)
    store.record("WETH", 1, 3000.0)
    assert store.series("WETH") == ([1], [3000.0])
    assert [p.name.startswith("prices.sqlite.corrupt-") for p in tmp_path.iterdir() if p != path] == [True]
    assert any("is unreadable" in m and "moved to" in m for m in caplog.messages)


def test_a_price_history_write_that_fails_raises_one_price_history_error(tmp_path: Path) -> None:
    """A write that fails while the keeper runs (here its directory turned read-only, so SQLite cannot make its
    journal) is one PrimeVaultError for the liquidation job to log in a line, not a raw sqlite3 error."""
    directory = tmp_path / "data"
    store = PriceStore(directory / "prices.sqlite")
    store.record("WETH", 1, 3000.0)
    with (
        made_read_only(directory),
        pytest.raises(PriceHistoryError, match=f"price history {directory / 'prices.sqlite'}: cannot record"),
    ):
        store.record("WETH", 2, 3001.0)
    store.record("WETH", 3, 3002.0)
    assert store.series("WETH") == ([1, 3], [3000.0, 3002.0]), "the failed write was rolled back, not kept"


# ---------------------------------------------------------------------- C: settings that run nothing


def test_a_file_that_lists_no_job_is_refused_as_the_flag_is(tmp_path: Path) -> None:
    toml = tmp_path / "keeper.toml"
    path = deployment_file(tmp_path / "d.json")
    toml.write_text(f'[keeper]\ndeployment = "{path}"\njobs = []\n')
    with pytest.raises(ConfigError, match=r"jobs: \[\] names no job: list some of liquidation, orders, .*"):
        load_config(toml, {"dev_account": 1})
    # The commands that run no job (onboarding a seat, reading settings) pass jobs=() themselves.
    assert load_config(toml, {"dev_account": 1, "jobs": ()}).jobs == ()


def test_a_gas_budget_no_block_can_hold_is_refused(tmp_path: Path) -> None:
    path = deployment_file(tmp_path / "d.json")
    with pytest.raises(ConfigError) as caught:
        load_config(None, {"dev_account": 1, "deployment": path, "gas_budget": 40_000_000})
    assert str(caught.value) == (
        "invalid keeper configuration: gas_budget: 40000000 is more than a block holds: a batch that large is never "
        f"mined (at most {MAX_GAS_BUDGET})"
    )
    assert load_config(None, {"dev_account": 1, "deployment": path, "gas_budget": MAX_GAS_BUDGET}).gas_budget


# ---------------------------------------------------------------------- E: the devnet's port


def test_a_port_whose_anvil_was_killed_is_free_again_at_once() -> None:
    """A killed node's connections stay in TIME_WAIT on its port for about a minute: a bind without SO_REUSEADDR
    took them for a node listening there, and `primevault devnet --port P` was refused meanwhile."""
    port = free_port()
    first = Anvil(port=port).start()
    w3 = Web3(Web3.HTTPProvider(first.url))
    assert w3.eth.block_number == 0  # a kept-alive connection, closed by the node when it dies
    first.stop()
    with Anvil(port=port) as second:
        assert Web3(Web3.HTTPProvider(second.url)).eth.block_number == 0


def test_a_port_something_listens_on_is_still_refused() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as anvil's own listener does
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(AnvilError, match=f"port {port} is in use"):
            Anvil(port=port).start()


def test_the_margin_job_judges_the_ceiling_without_the_withdrawals_it_just_claimed(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A venue holding 70,000 USDC (between its target of 50,000 and its ceiling of 80,000) with 200,000 of matured
    withdrawals: the job claims them, and then nothing is on its way out. It counted them still pending against the
    ceiling (270,000 > 80,000) and withdrew 20,000 more, a move the policy does not make."""
    chain.seed_pool()
    keeper = margin_keeper(chain, tmp_path)
    trading = TradingClient(chain.w3, chain.deployment, chain.client(0).sender)
    rabbitx = trading.venue_id("rabbitx")
    adapter = trading.adapters()[rabbitx]
    keeper.jobs.margin.run()  # 200,000 asked back, 50,000 left
    trading.deposit_margin(rabbitx, 20_000 * USDC)
    chain.advance(RABBIT_WITHDRAWAL_DELAY)
    for market in chain.deployment.markets:
        feed = FeedClient(chain.w3, market.feed, chain.client(0).sender)
        feed.set_answer(feed.price())
    assert adapter.claimable_withdrawals() == 200_000 * USDC
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="primevault.keeper"):
        keeper.jobs.margin.run()
    assert adapter.pending_withdrawals() == 0
    assert adapter.margin().net_collateral == 70_000 * USDC, "within its band: left as it is"
    assert not [m for m in caplog.messages if f"venue {rabbitx}" in m and "withdrawing" in m]

"""Findings of the outside review of the web app: an order the account cannot carry refused before it is signed and
the reason of a cancelled order shown, a session grant simulated whole before its first transaction, operator
settings that change nothing refused, a debt rounded up, small rates, borrowing by a withdrawal said, the dev-wallet
list without the deployer and the keeper."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from decimal import ROUND_CEILING, Decimal
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, Route, expect

from keeper.client.lender import LenderClient
from keeper.client.sessions import SessionKeysClient
from keeper.client.trading import TradingClient
from keeper.client.vault import PERMISSIONS, VaultClient
from tests.python.conftest import Chain
from tests.python.processes import is_anvil, kill_child
from tests.python.test_cli import run
from tests.python.web.conftest import STEP_TIMEOUT_MS, TRADER
from tests.python.web.test_web_app import connect
from tests.python.web.test_web_careless import quote


def on_the_trade_page_with_3_weth(chain: Chain, page: Page) -> None:
    """The trader's account holds 3 WETH; connected, the page is on the Trade tab."""
    me = chain.account(TRADER).address
    chain.client(TRADER).deposit(me, "WETH", 3 * 10**18)
    connect(page, TRADER)
    page.get_by_role("tab", name="Trade").click()


def test_an_order_the_account_cannot_carry_is_refused_before_it_is_signed(funded: Chain, page: Page) -> None:
    """Finding 1: a buy of 50 ETH on ~9,000 USDC of equity: the CLI's sentence, nothing sent."""
    chain = funded
    on_the_trade_page_with_3_weth(chain, page)
    trading = TradingClient(chain.w3, chain.deployment)
    quote(page, "ETH-USD", "buy", "50")
    page.get_by_test_id("send-order").click()
    expect(page.get_by_role("alert")).to_contain_text(
        re.compile(r"this order needs about [\d,.]+ USDC of initial margin but 0x[0-9a-fA-F]{40} has [\d,.]+ USDC free")
    )
    assert trading.order_count() == 0
    # An order it can carry still goes.
    quote(page, "ETH-USD", "buy", "0.5")
    page.get_by_test_id("send-order").click()
    expect(page.get_by_test_id("activity")).to_have_text(re.compile(r": done$"), timeout=STEP_TIMEOUT_MS)
    assert trading.order_count() == 1


def test_the_trade_page_shows_why_an_order_was_cancelled(funded: Chain, page: Page) -> None:
    """Finding 1 and 10: an order the keeper cancelled (sent around the page's check) shows its decoded reason on the
    Trade page, never the raw selector."""
    chain = funded
    me = chain.account(TRADER).address
    chain.client(TRADER).deposit(me, "WETH", 3 * 10**18)
    trader = TradingClient(chain.w3, chain.deployment, chain.client(TRADER).sender)
    deadline = int(chain.w3.eth.get_block("latest")["timestamp"]) + 600
    order = trader.submit(me, "ETH-USD", Decimal(50), Decimal(4_000), deadline)
    keeper = TradingClient(chain.w3, chain.deployment, chain.client(0).sender)
    assert not keeper.execute([order])[0].executed
    assert keeper.order(order).status == "cancelled"
    connect(page, TRADER)
    page.get_by_role("tab", name="Trade").click()
    latest = page.get_by_test_id("latest-order")
    expect(latest).to_contain_text(f"Order #{order} ETH-USD: cancelled: order {order} failed:")
    expect(latest).to_contain_text("InsufficientEquity")
    assert "0x" not in (latest.text_content() or "")
    page.get_by_role("tab", name="Portfolio").click()
    expect(page.get_by_test_id("order-status")).to_contain_text("InsufficientEquity")


def sent(chain: Chain) -> int:
    """How many transactions the trader's wallet has sent."""
    return chain.w3.eth.get_transaction_count(chain.account(TRADER).address)


def test_a_session_grant_with_a_bad_acceptance_sends_nothing(funded: Chain, page: Page) -> None:
    """Finding 2: a signature of the wrong shape is refused before anything; one of the right shape by another key is
    refused by simulating both transactions, before the first (the operator setting) is sent."""
    chain = funded
    me = chain.account(TRADER).address
    vault = chain.client(TRADER)
    sessions_address = chain.deployment.sessions
    assert sessions_address is not None
    key = chain.account(5)
    connect(page, TRADER)
    before = sent(chain)
    page.get_by_role("tab", name="Actions").click()
    page.get_by_label("session key", exact=True).check()
    page.get_by_test_id("operator").fill(key.address)
    page.get_by_test_id("accepted").fill("0x1234")
    expect(page.get_by_test_id("preview-error")).to_contain_text("is 2 bytes, not the 65 of a signature by")
    page.get_by_test_id("submit-action").click()
    expect(page.get_by_test_id("preview-error")).to_contain_text("is 2 bytes")
    sessions = SessionKeysClient(chain.w3, chain.deployment)
    wrong = sessions.accept(chain.account(6), me)  # another key's acceptance: 65 bytes, not the key's
    page.get_by_test_id("accepted").fill("0x" + wrong.hex())
    page.get_by_test_id("submit-action").click()
    expect(page.get_by_test_id("activity")).to_contain_text("grant session failed", timeout=STEP_TIMEOUT_MS)
    expect(page.get_by_test_id("activity")).to_contain_text("SessionNotAccepted")
    assert sent(chain) == before
    assert vault.operator_permissions(me, sessions_address) == 0
    # With the session contract already a trade operator, a good grant sends the grant alone.
    page.get_by_test_id("accepted").fill("0x" + sessions.accept(key, me).hex())
    vault.set_operator(me, sessions_address, PERMISSIONS["trade"] | PERMISSIONS["transfer"])
    before = sent(chain)
    page.get_by_test_id("submit-action").click()
    expect(page.get_by_test_id("activity")).to_have_text("grant session: done", timeout=STEP_TIMEOUT_MS)
    assert sent(chain) == before + 1
    assert sessions.session(key.address).owner == me
    assert vault.operator_permissions(me, sessions_address) == PERMISSIONS["trade"] | PERMISSIONS["transfer"]


def test_an_operator_setting_that_changes_nothing_is_refused(funded: Chain, page: Page) -> None:
    """Finding 3 and 13: the same permissions twice, or revoking an operator that has none: a sentence, nothing sent;
    no error under an empty field not yet typed in."""
    chain = funded
    me = chain.account(TRADER).address
    vault = chain.client(TRADER)
    bot, other = chain.account(4).address, chain.account(7).address
    vault.set_operator(me, bot, PERMISSIONS["trade"])
    connect(page, TRADER)
    page.get_by_role("tab", name="Actions").click()
    page.get_by_label("operator", exact=True).check()
    expect(page.get_by_test_id("preview")).to_contain_text("This does not change the account's health.")
    expect(page.get_by_test_id("preview-error")).to_have_count(0)
    page.get_by_label("session key", exact=True).check()
    expect(page.get_by_test_id("preview-error")).to_have_count(0)
    page.get_by_label("operator", exact=True).check()
    before = sent(chain)
    page.get_by_test_id("operator").fill(bot)  # trade, the form's default: what it holds
    expect(page.get_by_test_id("preview-error")).to_contain_text(
        f"{bot} holds exactly these permissions on {me} already (trade): nothing to change"
    )
    page.get_by_test_id("submit-action").click()
    page.get_by_test_id("operator").fill(other)
    page.get_by_label("trade", exact=True).uncheck()  # none: revoke
    expect(page.get_by_test_id("preview-error")).to_contain_text(
        f"{other} holds no permissions on {me}: nothing to revoke"
    )
    page.get_by_test_id("submit-action").click()
    expect(page.get_by_test_id("preview-error")).to_contain_text("nothing to revoke")
    assert sent(chain) == before
    assert vault.operator_permissions(me, bot) == PERMISSIONS["trade"]
    # A real change still goes.
    page.get_by_test_id("operator").fill(bot)
    expect(page.get_by_test_id("preview-error")).to_have_count(0)
    page.get_by_test_id("submit-action").click()
    expect(page.get_by_test_id("activity")).to_have_text("revoke operator: done", timeout=STEP_TIMEOUT_MS)
    assert vault.operator_permissions(me, bot) == 0


def test_web_devnet_stops_with_one_line_when_its_anvil_dies(tmp_path: Path) -> None:
    """Finding 4: `web --devnet` watches its anvil as `devnet` does, instead of serving a dead chain in silence."""
    path = tmp_path / "local.json"
    command = [sys.executable, "-c", "from keeper.cli.main import main; main()", "--deployment", str(path)]
    command += ["web", "--devnet", "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=os.environ.copy())
    assert process.stdout is not None
    try:
        seen: list[str] = []
        while not (seen and seen[-1].startswith("Ctrl-C stops it")):
            line = process.stdout.readline().decode()
            assert line, "".join(seen)
            seen.append(line)
        output = kill_child(process, is_anvil)
    finally:  # should it not start
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 1, output
    assert output.splitlines()[-1] == "Error: anvil stopped (killed by SIGKILL): the devnet is gone; start it again"


def test_the_lend_page_says_which_withdrawal_limit_binds(funded: Chain, page: Page) -> None:
    """Finding 5: no shares, or shares worth less than asked while the pool has plenty idle: said so, nothing sent."""
    chain = funded
    me = chain.account(TRADER).address
    connect(page, TRADER)
    page.get_by_role("tab", name="Lend").click()
    expect(page.get_by_test_id("lend")).to_be_visible()
    before = sent(chain)
    page.get_by_test_id("lend-amount").fill("5")
    page.get_by_test_id("lend-withdraw").click()
    expect(page.get_by_test_id("lend-problem")).to_have_text("you hold no lender shares: deposit first")
    LenderClient(chain.w3, chain.deployment, chain.client(TRADER).sender).deposit(599_500_000)
    before = sent(chain)
    expect(page.get_by_test_id("lend-value")).to_contain_text("599.")
    page.get_by_test_id("lend-amount").fill("5000000")
    page.get_by_test_id("lend-withdraw").click()
    expect(page.get_by_test_id("lend-problem")).to_contain_text(
        re.compile(r"your lender shares are worth 599\.\d\d USDC, less than the 5,000,000\.00 USDC asked for")
    )
    assert "lent out" not in (page.get_by_test_id("lend-problem").text_content() or "")
    assert sent(chain) == before
    assert LenderClient(chain.w3, chain.deployment).position(me).shares > 0


def borrowed_three_days_ago(chain: Chain) -> VaultClient:
    """The trader's account holds 2 WETH and borrowed 3,000 USDC three days ago: a debt grown by the interest since.
    Returns the trader's vault client."""
    me = chain.account(TRADER).address
    vault = chain.client(TRADER)
    vault.deposit(me, "WETH", 2 * 10**18)
    vault.withdraw(me, "USDC", 3_000 * 10**6)
    chain.w3.provider.make_request("evm_increaseTime", [3 * 86_400])  # type: ignore[arg-type]
    chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    return vault


def test_a_debt_is_rounded_up_as_the_cli_shows_it(funded: Chain, page: Page) -> None:
    """Finding 6: what is owed is never shown below it."""
    chain = funded
    me = chain.account(TRADER).address
    vault = borrowed_three_days_ago(chain)
    balance = vault.base_balance(me)
    assert balance % 10_000 != 0, "a debt with a fraction of a cent"
    shown = (Decimal(-balance) / 10**6).quantize(Decimal("0.01"), rounding=ROUND_CEILING)
    connect(page, TRADER)
    expect(page.get_by_test_id("debt")).to_have_text(f"{shown:,.2f} USDC")
    expect(page.get_by_test_id("vault-USDC")).to_contain_text(f"-{shown:,.2f} USDC")


def test_a_small_supply_rate_is_not_shown_as_none(funded: Chain, page: Page) -> None:
    """Finding 7: a rate below 0.01% has its significant digits, as the CLI's."""
    chain = funded
    me = chain.account(TRADER).address
    vault = chain.client(TRADER)
    vault.deposit(me, "WETH", 10**18)
    vault.withdraw(me, "USDC", 200 * 10**6)  # a small borrow from a large pool: a tiny supply rate
    shown = run(chain, "lend", "show", "--json")
    assert shown.exit_code == 0, shown.output
    cli_rate = Decimal(json.loads(shown.output)["supply_apr"].rstrip("%"))
    assert 0 < cli_rate < Decimal("0.01"), cli_rate
    connect(page, TRADER)
    page.get_by_role("tab", name="Lend").click()
    rate = page.get_by_test_id("lend")
    expect(rate).to_contain_text("% a year")
    text = re.search(r"([\d.]+)% a year", rate.text_content() or "")
    assert text is not None
    assert Decimal(text.group(1)) > 0 and abs(Decimal(text.group(1)) - cli_rate) <= cli_rate / 10


def fill_in_a_usdc_withdrawal(page: Page, amount: str) -> None:
    """On the Actions tab, a withdrawal of `amount` USDC filled in, not submitted."""
    page.get_by_role("tab", name="Actions").click()
    page.get_by_label("withdraw", exact=True).check()
    page.get_by_test_id("asset").select_option("USDC")
    page.get_by_test_id("amount").fill(amount)


def withdrawal_from_a_supply_of_100_usdc(chain: Chain, page: Page, amount: str) -> VaultClient:
    """The trader's account holds 2 WETH and 100 USDC supplied; connected, the page has a withdrawal of `amount` USDC
    filled in. Returns the trader's vault client."""
    me = chain.account(TRADER).address
    vault = chain.client(TRADER)
    vault.deposit(me, "WETH", 2 * 10**18)
    vault.deposit(me, "USDC", 100 * 10**6)
    connect(page, TRADER)
    fill_in_a_usdc_withdrawal(page, amount)
    return vault


def test_a_withdrawal_past_the_supply_says_what_it_borrows(funded: Chain, page: Page) -> None:
    """Finding 8: the preview and the result say "and borrowed X USDC of it", as the CLI does."""
    chain = funded
    me = chain.account(TRADER).address
    vault = withdrawal_from_a_supply_of_100_usdc(chain, page, "50")
    expect(page.get_by_test_id("preview")).to_contain_text("After this withdraw")
    expect(page.get_by_test_id("preview-note")).to_have_count(0)
    page.get_by_test_id("amount").fill("500")
    expect(page.get_by_test_id("preview-note")).to_have_text(
        "This withdraws 500.00 USDC and borrows 400.00 USDC of it: the account has 100.00 USDC supplied."
    )
    page.get_by_test_id("submit-action").click()
    expect(page.get_by_test_id("activity")).to_have_text(
        "withdrew 500.00 USDC and borrowed 400.00 USDC of it: done", timeout=STEP_TIMEOUT_MS
    )
    assert -400 * 10**6 - 1 <= vault.base_balance(me) <= -400 * 10**6  # the vault rounds what is owed up


def press_while_the_node_hangs(page: Page, chain: Chain, button: str, *also: str) -> None:
    """Presses the `button` test id while every request to the node (and to the paths matching the `also` patterns)
    hangs, unanswered; once the page shows the node down, lets the held requests through: the activity says the
    node is not answering and nothing was sent."""
    held: list[Route] = []
    patterns = [re.compile("^" + re.escape(chain.url)), *(re.compile(path) for path in also)]
    for pattern in patterns:
        page.route(pattern, lambda route: held.append(route))
    page.get_by_test_id(button).click()
    expect(page.get_by_test_id("node-down")).to_be_visible(timeout=STEP_TIMEOUT_MS)
    for pattern in patterns:
        page.unroute(pattern)
    for route in held:
        with contextlib.suppress(PlaywrightError):  # the page gave up on it meanwhile (a timeout)
            route.continue_()
    expect(page.get_by_test_id("activity")).to_contain_text(
        "the node is not answering; nothing was sent", timeout=60_000
    )


def test_an_action_asked_for_while_the_node_hangs_is_never_sent_later(funded: Chain, page: Page) -> None:
    """Finding 9: a deposit submitted while the node hangs is refused once it answers, not sent on its own."""
    chain = funded
    me = chain.account(TRADER).address
    vault = chain.client(TRADER)
    connect(page, TRADER)
    page.get_by_role("tab", name="Actions").click()
    page.get_by_test_id("asset").select_option("WETH")
    page.get_by_test_id("amount").fill("1")
    expect(page.get_by_test_id("preview")).to_contain_text("After this deposit")
    before = sent(chain)
    press_while_the_node_hangs(page, chain, "submit-action")
    expect(page.get_by_test_id("node-down")).to_have_count(0)
    page.wait_for_timeout(2_000)
    assert sent(chain) == before
    assert vault.collateral_balance(me, "WETH") == 0
    # Asked again, it goes.
    page.get_by_test_id("amount").fill("1")
    page.get_by_test_id("submit-action").click()
    expect(page.get_by_test_id("activity")).to_have_text(re.compile(r": done$"), timeout=STEP_TIMEOUT_MS)
    assert vault.collateral_balance(me, "WETH") == 10**18


def test_the_dev_wallet_offers_neither_the_deployer_nor_the_keeper(funded: Chain, page: Page) -> None:
    """Finding 11: accounts 1-8; 0 holds every role, 9 is the keeper's."""
    options = page.get_by_test_id("dev-account").locator("option")
    expect(options).to_have_count(8)
    assert [options.nth(i).get_attribute("value") for i in range(8)] == [str(i) for i in range(1, 9)]


def test_a_repayment_taken_as_the_whole_debt_keeps_its_note_when_the_wallet_is_short(funded: Chain, page: Page) -> None:
    """Finding 12: the note says what the repayment was taken as, also when the wallet cannot pay it."""
    chain = funded
    index = 2  # a wallet with no USDC but what it borrows
    me = chain.account(index).address
    chain.mint(index, "WETH", 2)
    vault = chain.client(index)
    vault.deposit(me, "WETH", 10**18)
    vault.withdraw(me, "USDC", 200 * 10**6)
    chain.w3.provider.make_request("evm_increaseTime", [86_400])  # type: ignore[arg-type]
    chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    assert vault.token("USDC").balance_of(me) < -vault.base_balance(me), "the wallet is short of the debt"
    connect(page, index)
    page.get_by_role("tab", name="Actions").click()
    page.get_by_label("repay", exact=True).check()
    page.get_by_test_id("amount").fill("150")
    expect(page.get_by_test_id("preview-error")).to_be_visible()
    expect(page.get_by_test_id("preview-note")).to_contain_text(
        re.compile(r"This repays 200\.\d\d USDC, your whole debt: what would be left is below the minimum borrow")
    )

"""A depositor's whole day in the web app, in Chromium against anvil: connect, deposit, borrow, trade, watch the
fill, close, repay, withdraw, with the chain's state asserted after each step; and an action the vault refuses,
explained before anything is signed and again if sent."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from keeper.client.lender import LenderClient
from keeper.client.sessions import SessionKeysClient
from keeper.client.trading import TradingClient
from keeper.client.vault import sub_account
from tests.python.conftest import Chain
from tests.python.web.conftest import STEP_TIMEOUT_MS, TRADER, browser_wallet


def connect(page: Page, index: int) -> None:
    page.get_by_test_id("dev-account").select_option(str(index))
    page.get_by_test_id("use-dev").click()
    expect(page.get_by_test_id("wallet")).to_contain_text(f"dev account {index}")
    expect(page.get_by_test_id("equity")).to_be_visible()


def act(page: Page, kind: str, amount: str, asset: str | None = None) -> None:
    """One action from the Actions tab, waited on until the page reports it done."""
    page.get_by_role("tab", name="Actions").click()
    page.get_by_label(kind, exact=True).check()
    if asset is not None:
        page.get_by_test_id("asset").select_option(asset)
    page.get_by_test_id("amount").fill(amount)
    expect(page.get_by_test_id("preview")).to_contain_text(f"After this {kind}")
    page.get_by_test_id("submit-action").click()
    expect(page.get_by_test_id("activity")).to_have_text(re.compile(r": done$"), timeout=STEP_TIMEOUT_MS)
    page.get_by_role("tab", name="Portfolio").click()


def execute_open_orders(chain: Chain) -> None:
    """The keeper's part: route and execute every open order (dev account 0 holds the executor role)."""
    keeper = TradingClient(chain.w3, chain.deployment, chain.client(0).sender)
    open_ids = [i for i in range(keeper.order_count()) if keeper.order(i).status == "open"]
    assert open_ids, "the page submitted no order"
    assert all(outcome.executed for outcome in keeper.execute(open_ids)), "the keeper could not execute the order"


def test_connect_deposit_borrow_trade_close_repay_withdraw(
    funded: Chain, page: Page, screenshot: Callable[[str], None]
) -> None:
    chain = funded
    me = chain.account(TRADER).address
    vault = chain.client(TRADER)
    trading = TradingClient(chain.w3, chain.deployment)
    connect(page, TRADER)

    act(page, "deposit", "5", "WETH")
    assert vault.collateral_balance(me, "WETH") == 5 * 10**18
    expect(page.get_by_test_id("vault-WETH")).to_have_text("5 WETH")

    act(page, "borrow", "3000")
    assert vault.base_balance(me) <= -3000 * 10**6
    expect(page.get_by_test_id("debt")).to_contain_text("3,000")

    page.get_by_role("tab", name="Trade").click()
    page.get_by_test_id("market").select_option(label="ETH-USD")
    page.get_by_test_id("trade-size").fill("1")
    page.get_by_test_id("get-quotes").click()
    expect(page.get_by_test_id("routed")).to_contain_text("all-in cost")
    screenshot("trade")
    page.get_by_test_id("send-order").click()
    expect(page.get_by_test_id("latest-order")).to_contain_text("open", timeout=STEP_TIMEOUT_MS)
    execute_open_orders(chain)
    expect(page.get_by_test_id("latest-order")).to_contain_text("executed", timeout=STEP_TIMEOUT_MS)
    held = sum(p.size for p in trading.positions(me))
    assert held == 1
    page.get_by_role("tab", name="Portfolio").click()
    expect(page.get_by_test_id("positions")).to_contain_text("ETH-USD")
    expect(page.get_by_test_id("grid")).to_contain_text("ETH")
    screenshot("portfolio")
    page.get_by_role("tab", name="Trade").click()

    page.get_by_test_id("close-ETH-USD").click()
    expect(page.get_by_test_id("latest-order")).to_contain_text("open", timeout=STEP_TIMEOUT_MS)
    execute_open_orders(chain)
    expect(page.get_by_test_id("latest-order")).to_contain_text("executed", timeout=STEP_TIMEOUT_MS)
    assert trading.positions(me) == []
    page.get_by_role("tab", name="Portfolio").click()
    expect(page.get_by_test_id("no-positions")).to_be_visible()

    act(page, "repay", "max")
    assert vault.base_balance(me) >= 0

    act(page, "withdraw", "5", "WETH")
    assert vault.collateral_balance(me, "WETH") == 0
    assert vault.token("WETH").balance_of(me) == 10 * 10**18


def test_a_withdrawal_that_would_make_the_account_unhealthy_is_explained_and_changes_nothing(
    funded: Chain, page: Page, screenshot: Callable[[str], None]
) -> None:
    chain = funded
    me = chain.account(TRADER).address
    vault = chain.client(TRADER)
    connect(page, TRADER)
    act(page, "deposit", "1", "WETH")
    act(page, "borrow", "2000")
    debt_before = vault.base_balance(me)

    page.get_by_role("tab", name="Actions").click()
    page.get_by_label("withdraw", exact=True).check()
    page.get_by_test_id("asset").select_option("WETH")
    page.get_by_test_id("amount").fill("0.5")
    refusal = re.compile(r"withdraw WETH failed: would make the account unhealthy: .* \[InsufficientEquity\]")
    expect(page.get_by_test_id("preview-error")).to_have_text(refusal)
    page.get_by_test_id("submit-action").click()
    expect(page.get_by_test_id("activity")).to_have_text(refusal, timeout=STEP_TIMEOUT_MS)
    screenshot("refused-withdrawal")
    assert vault.collateral_balance(me, "WETH") == 10**18
    assert vault.base_balance(me) == debt_before


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        # "1,5" is one and a half to some and fifteen to others: refused, as the CLI refuses it
        ("1,5", '"1,5" has a comma: write decimals with a dot'),
        ("1.5e3", '"1.5e3" is not an amount of WETH'),
        ("0.0000000000000000001", "WETH has 18 decimals"),
        ("0", "the amount must be more than 0 WETH"),
        ("9" * 80, "is more than any token can hold"),
    ],
)
def test_an_amount_that_is_not_one_is_explained_and_nothing_is_sent(
    funded: Chain, page: Page, typed: str, message: str
) -> None:
    chain = funded
    me = chain.account(TRADER).address
    nonce = chain.w3.eth.get_transaction_count(me)
    connect(page, TRADER)
    page.get_by_role("tab", name="Actions").click()
    page.get_by_label("deposit", exact=True).check()
    page.get_by_test_id("asset").select_option("WETH")
    page.get_by_test_id("amount").fill(typed)
    expect(page.get_by_test_id("preview-error")).to_contain_text(message)
    page.get_by_test_id("submit-action").click()
    expect(page.get_by_test_id("preview-error")).to_contain_text(message)
    assert chain.w3.eth.get_transaction_count(me) == nonce, "nothing was sent"
    assert chain.client(TRADER).collateral_balance(me, "WETH") == 0


def test_the_preview_shows_health_after_a_borrow_without_sending_it(
    funded: Chain, page: Page, screenshot: Callable[[str], None]
) -> None:
    chain = funded
    me = chain.account(TRADER).address
    connect(page, TRADER)
    act(page, "deposit", "2", "WETH")  # 6,000 USDC of WETH: 1,200 initial, 900 maintenance requirement
    page.get_by_role("tab", name="Actions").click()
    page.get_by_label("borrow", exact=True).check()
    page.get_by_test_id("amount").fill("1500")
    preview = page.get_by_test_id("preview")
    # 6,000 - 1,500 less one unit: the vault rounds the new debt up (and the page shows what is held rounded down,
    # what is owed rounded up, as the CLI does).
    expect(preview.get_by_test_id("equity")).to_have_text("4,499.99 USDC")
    expect(preview.get_by_test_id("debt")).to_have_text("1,500.01 USDC")
    screenshot("actions")
    assert chain.client(TRADER).base_balance(me) == 0  # a preview sends nothing


def test_lend_deposit_and_withdraw_everything(funded: Chain, page: Page, screenshot: Callable[[str], None]) -> None:
    chain = funded
    me = chain.account(TRADER).address
    lender = LenderClient(chain.w3, chain.deployment)
    connect(page, TRADER)
    page.get_by_role("tab", name="Lend").click()
    page.get_by_test_id("lend-amount").fill("400")
    page.get_by_test_id("lend-deposit").click()
    expect(page.get_by_test_id("activity")).to_have_text("lend deposit: done", timeout=STEP_TIMEOUT_MS)
    position = lender.position(me)
    # No interest has accrued yet: PrimeVault stores the deposit exactly and the shares are worth all of it.
    assert position.shares > 0 and position.assets == 400 * 10**6
    expect(page.get_by_test_id("lend-value")).to_have_text("400.00 USDC")
    screenshot("lend")
    page.get_by_test_id("lend-amount").fill("all")
    page.get_by_test_id("lend-withdraw").click()
    expect(page.get_by_test_id("activity")).to_have_text("lend withdraw: done", timeout=STEP_TIMEOUT_MS)
    assert lender.position(me).shares == 0


def test_the_protocol_page_shows_the_market_and_the_riskiest_account(
    funded: Chain, page: Page, screenshot: Callable[[str], None]
) -> None:
    chain = funded
    me = chain.account(TRADER).address
    vault = chain.client(TRADER)
    vault.deposit(me, "WETH", 10**18)
    vault.withdraw(me, "USDC", 2_000 * 10**6)  # a borrow
    page.get_by_role("tab", name="Protocol").click()
    expect(page.get_by_test_id("total-borrow")).to_contain_text("2,000")
    expect(page.get_by_test_id("riskiest")).to_contain_text(me)
    expect(page.get_by_test_id("venues")).to_contain_text("reconciled")
    screenshot("protocol")


def test_phone_width_and_keyboard(funded: Chain, page: Page, screenshot: Callable[[str], None]) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    connect(page, TRADER)
    # Tables scroll inside their own boxes; the page itself never scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot("phone")
    # The tabs are one tab stop (ARIA's tab pattern): the arrow keys move between them, Tab goes on to the panel.
    page.get_by_role("tab", name="Portfolio").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Actions")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Tab")
    expect(page.get_by_role("tabpanel")).to_be_focused()


def test_transfer_operator_and_session_key(funded: Chain, page: Page) -> None:
    chain = funded
    me = chain.account(TRADER).address
    vault = chain.client(TRADER)
    bot = chain.account(4).address
    connect(page, TRADER)
    act(page, "deposit", "2", "WETH")
    act(page, "transfer", "0.5", "WETH")  # to sub-account 1, the form's default
    sub_1 = sub_account(me, 1)
    assert vault.collateral_balance(sub_1, "WETH") == 5 * 10**17
    assert vault.collateral_balance(me, "WETH") == 15 * 10**17
    page.get_by_role("tab", name="Actions").click()
    page.get_by_label("transfer", exact=True).first.check()
    page.get_by_label("To sub-account").fill("")  # not sub-account 0
    page.get_by_test_id("amount").fill("0.5")
    expect(page.get_by_test_id("preview-error")).to_contain_text("enter a sub-account, a whole number from 0 to 255")

    page.get_by_label("operator", exact=True).check()
    page.get_by_test_id("operator").fill(bot)
    page.get_by_label("transfer", exact=True).last.check()  # the permission, besides the default trade
    page.get_by_test_id("submit-action").click()
    expect(page.get_by_test_id("activity")).to_have_text("set operator: done", timeout=STEP_TIMEOUT_MS)
    assert vault.operator_permissions(me, bot) == 2 | 4  # transfer | trade

    page.get_by_label("session key", exact=True).check()
    page.get_by_test_id("operator").fill(chain.account(5).address)
    expect(page.get_by_test_id("preview-error")).to_contain_text("paste the key's acceptance of you")
    sessions = SessionKeysClient(chain.w3, chain.deployment)
    page.get_by_test_id("accepted").fill("0x" + sessions.accept(chain.account(5), me).hex())
    page.get_by_test_id("submit-action").click()
    expect(page.get_by_test_id("activity")).to_have_text("grant session: done", timeout=STEP_TIMEOUT_MS)
    session = sessions.session(chain.account(5).address)
    assert session.owner == me and session.scope.sub_accounts == (0,) and session.scope.markets == (0,)
    assert session.scope.max_notional_per_order == 10_000 * 10**18


def test_a_browser_wallet_is_switched_to_the_chain_and_signs(funded: Chain, page: Page) -> None:
    chain = funded
    me = chain.account(TRADER).address
    browser_wallet(page, chain, chain_id=1)  # on mainnet, as wallets often start
    page.reload()
    page.get_by_role("button", name="Connect browser wallet").click()
    expect(page.get_by_test_id("wallet")).to_have_text(re.compile(r"^browser wallet 0x7099"))
    assert page.evaluate("window.__switches") == [hex(chain.deployment.chain_id)]
    act(page, "deposit", "1.25", "WETH")  # the permit signed by the wallet (eth_signTypedData_v4)
    assert chain.client(TRADER).collateral_balance(me, "WETH") == 125 * 10**16


def test_portfolio_mode_is_switched_on_and_refused_off_when_the_standard_rule_is_not_met(
    funded: Chain, page: Page
) -> None:
    """10 WETH alone: the portfolio rule asks 3,750 of initial margin where the standard rule asks 6,000, so a
    25,000 borrow fits only the first, and switching back is explained and changes nothing."""
    chain = funded
    me = chain.account(TRADER).address
    vault = chain.client(TRADER)
    connect(page, TRADER)
    act(page, "deposit", "10", "WETH")
    expect(page.get_by_test_id("margin-mode")).to_contain_text("standard rule")
    page.get_by_test_id("switch-margin").click()
    expect(page.get_by_test_id("activity")).to_have_text(
        re.compile(r"enter portfolio mode: done$"), timeout=STEP_TIMEOUT_MS
    )
    expect(page.get_by_test_id("margin-mode")).to_contain_text("portfolio rule")
    expect(page.get_by_test_id("initial-requirement")).to_contain_text("3,750.00")
    # The grid that decides: one underlying, its worst scenario marked, the same initial requirement.
    expect(page.get_by_test_id("scenario-grid")).to_contain_text("(initial 3,750.00 USDC =")
    expect(page.get_by_test_id("grid").locator("tbody tr")).to_have_count(1)
    expect(page.get_by_test_id("grid").locator("td.worst")).to_have_count(1)
    expect(page.get_by_test_id("scenario-grid")).to_contain_text("WETH collateral loses")
    assert vault.portfolio_mode(me)

    act(page, "borrow", "25000")
    page.get_by_test_id("switch-margin").click()
    refusal = re.compile(r"leave portfolio mode failed: would make the account unhealthy: .* \[InsufficientEquity\]")
    expect(page.get_by_test_id("activity")).to_have_text(refusal, timeout=STEP_TIMEOUT_MS)
    assert vault.portfolio_mode(me)
    assert vault.base_balance(me) <= -25_000 * 10**6

"""The web app driven as a careless or hostile user would: a form changed after its quote, junk in every field, a
second click while a transaction is pending, the node going away and coming back, a price feed gone stale, a browser
wallet that switches chains and accounts or refuses to sign. Every case ends in the order the user saw, one sentence
saying what is wrong (never a library's dump, NaN or a stuck button), and nothing sent that should not be."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from keeper.chain.anvil import Anvil
from keeper.cli.web import DEFAULT_DIST
from keeper.client.trading import TradingClient
from keeper.client.vault import sub_account
from keeper.web.server import WebSettings, serving_in_thread
from tests.python.conftest import Chain
from tests.python.test_quotes_venues import HOUR, STALE_ON_DYDX, list_sol
from tests.python.web.conftest import STEP_TIMEOUT_MS, TRADER, browser_wallet
from tests.python.web.test_web_app import connect

# What no sentence on the page may contain: viem's multi-line dumps, JavaScript's non-numbers.
RAW = re.compile(r"Version: viem|Request body|URL: http|Details:|NaN|undefined|Infinity|\[object Object\]")
DAY = 86_400


class Node:
    """The node as the page sees it: `down()` makes every request of the page to the RPC URL fail (the server's own
    requests still reach it), `up()` brings it back."""

    def __init__(self, page: Page, url: str) -> None:
        self.page, self.pattern = page, re.compile("^" + re.escape(url))

    def down(self) -> None:
        self.page.route(self.pattern, self._refuse)

    def up(self) -> None:
        self.page.unroute(self.pattern, self._refuse)

    @staticmethod
    def _refuse(route: Route) -> None:
        route.abort("connectionrefused")


@pytest.fixture
def node(page: Page, chain: Chain) -> Iterator[Node]:
    node = Node(page, chain.url)
    yield node
    node.up()


@pytest.fixture
def manual_mining(chain: Chain) -> Iterator[None]:
    """Transactions wait in the pool until the test mines them (anvil's automine is not part of a snapshot)."""
    chain.w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        yield
    finally:
        chain.w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]


def mine(chain: Chain) -> None:
    chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def open_position(chain: Chain, size: str = "0.5") -> None:
    """The trader's sub-account 0 holds 2 WETH and a long ETH-USD position the keeper executed."""
    me = chain.account(TRADER).address
    chain.client(TRADER).deposit(me, "WETH", 2 * 10**18)
    trader = TradingClient(chain.w3, chain.deployment, chain.client(TRADER).sender)
    deadline = int(chain.w3.eth.get_block("latest")["timestamp"]) + 600
    order = trader.submit(me, "ETH-USD", Decimal(size), Decimal(3_100), deadline)
    keeper = TradingClient(chain.w3, chain.deployment, chain.client(0).sender)
    assert keeper.execute([order])[0].executed


def quote(page: Page, market: str, side: str, size: str) -> None:
    page.get_by_test_id("market").select_option(label=market)
    page.get_by_label(side, exact=True).check()
    page.get_by_test_id("trade-size").fill(size)
    page.get_by_test_id("get-quotes").click()
    expect(page.get_by_test_id("routed")).to_contain_text("all-in cost")


def test_a_quote_is_dropped_when_its_market_side_or_size_changes(funded: Chain, page: Page) -> None:
    """Finding 1: the order sent is the one quoted, and the button says which."""
    connect(page, TRADER)
    page.get_by_role("tab", name="Trade").click()
    send = page.get_by_test_id("send-order")
    quote(page, "ETH-USD", "buy", "1")
    expect(send).to_have_text("Send: buy 1 ETH-USD")
    page.get_by_label("sell", exact=True).check()
    expect(send).to_have_count(0)
    quote(page, "ETH-USD", "sell", "1")
    expect(send).to_have_text("Send: sell 1 ETH-USD")
    page.get_by_test_id("market").select_option(label="BTC-USD")
    expect(send).to_have_count(0)
    quote(page, "BTC-USD", "sell", "0.1")
    page.get_by_test_id("trade-size").fill("0.2")
    expect(send).to_have_count(0)
    assert TradingClient(funded.w3, funded.deployment).order_count() == 0


def test_close_checks_the_slippage_as_send_does(funded: Chain, page: Page) -> None:
    """Finding 2: junk slippage is one sentence for Close and Send alike; nothing sent, no script error."""
    chain = funded
    open_position(chain)
    trading = TradingClient(chain.w3, chain.deployment)
    connect(page, TRADER)
    page.get_by_role("tab", name="Trade").click()
    quote(page, "ETH-USD", "buy", "0.1")
    problem = page.locator("section[aria-label=Trade] > .activity.error")
    for slippage, message in [
        ("abc", 'slippage "abc" is not a number of basis points'),
        ("1e3", 'slippage "1e3" is not a number of basis points'),
        ("", 'slippage "" is not a number of basis points'),
        ("20000", "slippage 20000 bps is not between 1 and 5,000 bps"),
    ]:
        page.get_by_label("Slippage").fill(slippage)
        page.get_by_test_id("close-ETH-USD").click()
        expect(problem).to_contain_text(message)
        page.get_by_test_id("send-order").click()
        expect(problem).to_contain_text(message)
    assert trading.order_count() == 1  # only the position's own order


def test_close_with_the_node_down_says_so_and_frees_the_buttons(funded: Chain, page: Page, node: Node) -> None:
    """Finding 2: a node that does not answer while the order is prepared is one sentence, and the buttons come
    back; a later success clears the earlier slippage error."""
    chain = funded
    open_position(chain)
    trading = TradingClient(chain.w3, chain.deployment)
    connect(page, TRADER)
    page.get_by_role("tab", name="Trade").click()
    page.get_by_label("Slippage").fill("abc")
    page.get_by_test_id("close-ETH-USD").click()
    problem = page.locator("section[aria-label=Trade] > .activity.error")
    expect(problem).to_be_visible()
    page.get_by_label("Slippage").fill("100")
    node.down()
    page.get_by_test_id("close-ETH-USD").click()
    down = rf"the node at {re.escape(chain.url)}/? does not answer; try again when it is back$"
    activity = page.get_by_test_id("activity")
    expect(activity).to_have_text(re.compile(rf"^close ETH-USD: {down}"), timeout=STEP_TIMEOUT_MS)
    expect(problem).to_have_count(0)
    node.up()
    expect(page.get_by_test_id("close-ETH-USD")).to_be_enabled()
    page.get_by_test_id("close-ETH-USD").click()
    expect(activity).to_have_text("close ETH-USD: done", timeout=STEP_TIMEOUT_MS)
    closing = trading.order(trading.order_count() - 1)
    assert closing.reduce_only and closing.size == Decimal("-0.5")


def test_one_action_at_a_time_across_tabs(funded: Chain, page: Page, manual_mining: None) -> None:
    """Finding 3: while a transaction waits for its block, every view's buttons are disabled, also after switching
    tabs, so nothing is sent twice."""
    chain = funded
    me = chain.account(TRADER).address
    connect(page, TRADER)
    nonce = chain.w3.eth.get_transaction_count(me)
    page.get_by_role("tab", name="Lend").click()
    page.get_by_test_id("lend-amount").fill("100")
    page.get_by_test_id("lend-deposit").click()
    expect(page.get_by_test_id("activity")).to_contain_text("waiting for a block", timeout=STEP_TIMEOUT_MS)
    expect(page.get_by_test_id("lend-deposit")).to_be_disabled()
    page.get_by_role("tab", name="Actions").click()
    page.get_by_test_id("amount").fill("1")
    expect(page.get_by_test_id("submit-action")).to_be_disabled()
    page.get_by_test_id("amount").press("Enter")
    page.get_by_role("tab", name="Portfolio").click()
    expect(page.get_by_test_id("switch-margin")).to_be_disabled()
    page.get_by_role("tab", name="Lend").click()
    expect(page.get_by_test_id("lend-deposit")).to_be_disabled()
    page.get_by_test_id("lend-deposit").click(force=True)
    activity = page.get_by_test_id("activity")
    for _ in range(20):  # the approval, then the deposit
        mine(chain)
        if activity.text_content() == "lend deposit: done":
            break
        time.sleep(0.5)
    expect(activity).to_have_text("lend deposit: done")
    assert chain.w3.eth.get_transaction_count(me) == nonce + 2
    expect(page.get_by_test_id("lend-deposit")).to_be_enabled()


def test_repay_is_limited_to_the_debt(funded: Chain, page: Page) -> None:
    """Finding 4: no repayment without debt; one above the debt repays the debt and approves no more than it (and
    the interest until it is mined); the lender vault's "all" without shares is refused."""
    chain = funded
    me = chain.account(TRADER).address
    vault = chain.client(TRADER)
    connect(page, TRADER)
    nonce = chain.w3.eth.get_transaction_count(me)
    page.get_by_role("tab", name="Actions").click()
    page.get_by_label("repay", exact=True).check()
    page.get_by_test_id("amount").fill("500")
    expect(page.get_by_test_id("preview-error")).to_have_text("the account has no debt to repay")
    page.get_by_test_id("submit-action").click()
    expect(page.get_by_test_id("preview-error")).to_have_text("the account has no debt to repay")

    page.get_by_role("tab", name="Lend").click()
    expect(page.get_by_test_id("lend")).to_be_visible()
    page.get_by_test_id("lend-amount").fill("all")
    page.get_by_test_id("lend-withdraw").click()
    expect(page.get_by_test_id("lend-problem")).to_have_text("you hold no lender shares: deposit first")
    page.get_by_test_id("lend-amount").press("Enter")  # Enter chooses neither action
    expect(page.get_by_test_id("lend-problem")).to_contain_text("press Deposit or Withdraw")
    assert chain.w3.eth.get_transaction_count(me) == nonce, "nothing was sent"

    vault.deposit(me, "WETH", 10**18)
    vault.withdraw(me, "USDC", 200 * 10**6)
    page.get_by_role("tab", name="Portfolio").click()
    expect(page.get_by_test_id("debt")).to_contain_text("200.0")
    page.get_by_role("tab", name="Actions").click()
    page.get_by_label("repay", exact=True).check()
    page.get_by_test_id("amount").fill("900")
    expect(page.get_by_test_id("preview-note")).to_contain_text(re.compile(r"This repays 200\.0\d USDC, your debt"))
    page.get_by_test_id("submit-action").click()
    expect(page.get_by_test_id("activity")).to_have_text("repay: done", timeout=STEP_TIMEOUT_MS)
    assert vault.base_balance(me) == 0
    usdc = vault.token("USDC")
    assert usdc.allowance(me, chain.deployment.vault) <= 201 * 10**6 // 1000  # the 0.1% margin for interest, at most
    assert usdc.balance_of(me) >= 1_200 * 10**6 - 201 * 10**6


def connect_browser_wallet(page: Page, chain: Chain) -> None:
    browser_wallet(page, chain, chain.deployment.chain_id)
    page.reload()
    page.get_by_role("button", name="Connect browser wallet").click()
    expect(page.get_by_test_id("wallet")).to_have_text(re.compile(r"^browser wallet 0x7099"))
    expect(page.get_by_test_id("equity")).to_be_visible()


def test_a_refused_signature_and_a_node_that_does_not_answer_are_one_sentence(
    funded: Chain, page: Page, node: Node
) -> None:
    """Finding 5: the permit refused in the wallet, and a deposit with the node away, each said in one sentence."""
    chain = funded
    connect_browser_wallet(page, chain)
    page.evaluate("window.__w.reject.add('eth_signTypedData_v4')")
    page.get_by_role("tab", name="Actions").click()
    page.get_by_test_id("asset").select_option("WETH")
    page.get_by_test_id("amount").fill("1")
    expect(page.get_by_test_id("preview")).to_contain_text("After this deposit")
    page.get_by_test_id("submit-action").click()
    activity = page.get_by_test_id("activity")
    expect(activity).to_have_text("deposit WETH: you rejected it in the wallet", timeout=STEP_TIMEOUT_MS)

    node.down()
    page.get_by_test_id("amount").fill("1.5")  # a new preview, with the node away
    down = rf"the node at {re.escape(chain.url)}/? does not answer; try again when it is back$"
    expect(page.get_by_test_id("preview-error")).to_have_text(re.compile(rf"^deposit: {down}"), timeout=STEP_TIMEOUT_MS)
    page.get_by_test_id("submit-action").click()
    expect(activity).to_have_text(re.compile(rf"^deposit WETH: {down}"), timeout=STEP_TIMEOUT_MS)
    for text in (activity.text_content() or "", page.locator("body").inner_text()):
        assert not RAW.search(text), text
    assert chain.client(TRADER).collateral_balance(chain.account(TRADER).address, "WETH") == 0


def test_a_node_away_is_shown_and_the_page_recovers_when_it_is_back(funded: Chain, page: Page, node: Node) -> None:
    """Finding 6: opening the page with the node away retries until it answers; while it is away a banner says the
    figures may be stale; when it is back the banner and the errors go, without waiting for a new block."""
    node.down()
    page.reload()
    expect(page.locator("#app")).to_contain_text("PrimeVault cannot start: the node at", timeout=STEP_TIMEOUT_MS)
    expect(page.locator("#app")).to_contain_text("trying again every 3 seconds")
    node.up()
    connect(page, TRADER)
    page.get_by_role("tab", name="Lend").click()
    expect(page.get_by_test_id("lend")).to_be_visible()

    node.down()
    banner = page.get_by_test_id("node-down")
    expect(banner).to_contain_text(f"The node at {funded.url} is unreachable since", timeout=STEP_TIMEOUT_MS)
    expect(banner).to_contain_text("the figures below may be stale")
    page.get_by_role("tab", name="Protocol").click()
    expect(page.locator("main .activity.error")).to_contain_text("does not answer", timeout=STEP_TIMEOUT_MS)
    node.up()  # no block is mined: the page must notice the node itself
    expect(banner).to_have_count(0, timeout=STEP_TIMEOUT_MS)
    expect(page.locator("main .activity.error")).to_have_count(0, timeout=STEP_TIMEOUT_MS)
    expect(page.get_by_test_id("total-borrow")).to_be_visible()
    page.get_by_role("tab", name="Portfolio").click()
    expect(page.get_by_test_id("equity")).to_be_visible()
    expect(page.locator(".activity.error")).to_have_count(0)


def test_a_stale_price_feed_is_explained_and_deposits_and_repayments_still_work(funded: Chain, page: Page) -> None:
    """Finding 7: past the feeds' staleness limit the vault cannot value the account; the page shows what needs no
    price, says which feed is stale, lets the user repay, and the quotes and protocol pages decode the reason."""
    chain = funded
    me = chain.account(TRADER).address
    vault = chain.client(TRADER)
    open_position(chain)
    vault.withdraw(me, "USDC", 200 * 10**6)
    chain.advance(8 * DAY)
    connect_stale(page)
    stale = page.get_by_test_id("health-unknown")
    expect(stale).to_contain_text("health cannot be computed now: the WETH / ETH-USD price feed is stale")
    expect(page.get_by_test_id("debt")).to_have_text(re.compile(r"^200\.\d\d USDC$"))  # with 8 days of interest
    expect(page.get_by_test_id("vault-WETH")).to_have_text("2 WETH")
    expect(page.get_by_test_id("positions")).to_contain_text("feed stale or invalid")

    page.get_by_role("tab", name="Actions").click()
    page.get_by_label("repay", exact=True).check()
    page.get_by_test_id("amount").fill("max")
    expect(page.get_by_test_id("preview-unknown")).to_contain_text(
        "This would go through, but the account's health after it cannot be computed: the WETH / ETH-USD price feed"
    )
    page.get_by_test_id("submit-action").click()
    activity = page.get_by_test_id("activity")
    expect(activity).to_have_text("repay: done", timeout=STEP_TIMEOUT_MS)
    assert vault.base_balance(me) == 0
    page.get_by_label("deposit", exact=True).check()
    page.get_by_test_id("asset").select_option("WETH")
    page.get_by_test_id("amount").fill("0.5")
    expect(page.get_by_test_id("preview-unknown")).to_be_visible()
    page.get_by_test_id("submit-action").click()
    expect(activity).to_have_text("deposit WETH: done", timeout=STEP_TIMEOUT_MS)
    assert vault.collateral_balance(me, "WETH") == 25 * 10**17

    page.get_by_role("tab", name="Trade").click()
    page.get_by_test_id("market").select_option(label="ETH-USD")
    page.get_by_test_id("trade-size").fill("1")
    page.get_by_test_id("get-quotes").click()
    expect(page.locator("section[aria-label=Trade] > .activity.error")).to_have_text(
        "no venue can price 1 ETH-USD now: dydx, rabbitx: the venue cannot price it: the WETH / ETH-USD price feed is "
        "stale or invalid; try again once it updates [VenueBadPrice]"
    )
    page.get_by_role("tab", name="Protocol").click()
    # The vault's reserves count what its clients are owed on their positions, at the market's own feed, now stale
    # (a venue that cannot value its account on that price counts as nothing, no longer stopping the read there).
    venue_refuses = "the venue cannot price it: the WETH / ETH-USD price feed is stale or invalid"
    expect(page.get_by_test_id("market-problem")).to_contain_text(
        "cannot be read now: the WETH / ETH-USD price feed is stale; try again once it updates"
    )
    expect(page.get_by_test_id("markets")).to_contain_text("stale or invalid")
    expect(page.get_by_test_id("venues")).to_contain_text(venue_refuses)
    assert not RAW.search(page.locator("body").inner_text())


def connect_stale(page: Page) -> None:
    """`connect`, but the account's health cannot be shown: the page says so instead."""
    page.get_by_test_id("dev-account").select_option(str(TRADER))
    page.get_by_test_id("use-dev").click()
    expect(page.get_by_test_id("wallet")).to_contain_text(f"dev account {TRADER}")


def test_the_quotes_of_a_stale_feed_are_one_line_of_json(funded: Chain, app_url: str) -> None:
    """Finding 7, without a browser: the venues' reverts decoded, as JSON (it was a plain-text 500)."""
    funded.advance(8 * DAY)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{app_url}/api/quotes?market=ETH-USD&side=buy&size=1", timeout=30)
    assert refused.value.code == 503
    assert refused.value.headers.get_content_type() == "application/json"
    assert json.loads(refused.value.read()) == {
        "error": "no venue can price 1 ETH-USD now: dydx, rabbitx: the venue cannot price it: the WETH / ETH-USD "
        "price feed is stale or invalid; try again once it updates [VenueBadPrice]"
    }


def test_a_venue_that_cannot_price_is_a_row_and_no_part_of_the_split(
    funded: Chain, browser: Browser, tmp_path: Path
) -> None:
    """One venue on a stale price: the page shows its reason in its row and routes the order to the others."""
    chain = funded
    deployment = list_sol(chain, tmp_path, dydx_staleness=HOUR)
    chain.advance(2 * HOUR)  # past dydx's staleness limit for SOL-USD, not rabbitx's
    with serving_in_thread(WebSettings(deployment, chain.url, DEFAULT_DIST)) as url:
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(url)
        connect(page, TRADER)
        page.get_by_role("tab", name="Trade").click()
        quote(page, "SOL-USD", "buy", "2")
        expect(page.get_by_test_id("quote-error-dydx")).to_have_text(f"dydx{STALE_ON_DYDX}")
        expect(page.get_by_test_id("routed")).to_contain_text("Routed: rabbitx 2; all-in cost")
        expect(page.get_by_test_id("routed")).not_to_contain_text("dydx")
        assert not RAW.search(page.locator("body").inner_text())
        context.close()
    assert not errors, f"script errors on the page: {errors}"


def test_the_protocol_page_lists_the_accounts_that_cannot_be_valued(funded: Chain, page: Page) -> None:
    """A borrower whose collateral has no usable price is not lost from the riskiest accounts: it is listed apart,
    with the reason."""
    chain = funded
    me = chain.account(TRADER).address
    vault = chain.client(TRADER)
    vault.deposit(me, "WETH", 10**18)
    vault.withdraw(me, "USDC", 1_000 * 10**6)
    chain.set_price("WETH", 0)  # an invalid answer
    page.get_by_role("tab", name="Protocol").click()
    expect(page.get_by_test_id("unpriced-note")).to_have_text(
        "1 account that borrows or trades cannot be valued now: a price it needs is stale or invalid, so neither the "
        "keeper nor the vault can judge it until the feed updates:"
    )
    row = page.get_by_test_id("unpriced").locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(me)
    expect(row).to_contain_text(
        "holds WETH without a usable price now (a stale or invalid feed): its health cannot be computed"
    )
    expect(page.get_by_test_id("riskiest")).to_have_count(0)  # the only borrower: nothing to rank
    assert not RAW.search(page.locator("body").inner_text())


def test_a_browser_wallet_switching_chain_or_account_is_followed(funded: Chain, page: Page) -> None:
    """Finding 8: on another chain nothing can be sent, with an offer to switch back; another account is shown as
    such."""
    chain = funded
    other = chain.account(2).address
    connect_browser_wallet(page, chain)
    page.get_by_role("tab", name="Actions").click()
    page.get_by_test_id("amount").fill("1")
    page.evaluate("window.__w.chainId = '0x1'; window.__emit('chainChanged', '0x1')")
    expect(page.get_by_test_id("wrong-chain")).to_contain_text("Your wallet is on chain 1, not this deployment's chain")
    expect(page.get_by_test_id("submit-action")).to_be_disabled()
    page.get_by_test_id("switch-chain").click()
    expect(page.get_by_test_id("wrong-chain")).to_have_count(0)
    expect(page.get_by_test_id("submit-action")).to_be_enabled()

    page.evaluate(f"window.__w.account = '{other}'; window.__emit('accountsChanged', ['{other}'])")
    expect(page.get_by_test_id("wallet")).to_have_text(f"browser wallet {other[:6]}…{other[-4:]}")
    expect(page.get_by_test_id("account-address")).to_have_text(other)
    expect(page.get_by_test_id("activity")).to_contain_text(f"the browser wallet switched to {other}")
    page.evaluate("window.__emit('accountsChanged', [])")
    expect(page.get_by_test_id("wallet")).to_have_count(0)


def test_the_sub_account_field_keeps_what_is_typed_and_applies_only_valid_ids(funded: Chain, page: Page) -> None:
    """Finding 9: a new block does not undo typing; an invalid id is said and the last valid one stays in use."""
    chain = funded
    me = chain.account(TRADER).address
    connect(page, TRADER)
    field = page.get_by_test_id("sub-account")
    field.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("5")
    mine(chain)
    time.sleep(1.5)  # the page re-reads on the new block
    expect(field).to_have_value("5")
    expect(page.get_by_test_id("account-address")).to_have_text(sub_account(me, 5))
    for typed in ("300", "-1", "1.5", ""):
        field.fill(typed)
        expect(page.get_by_test_id("sub-account-problem")).to_contain_text("still showing sub-account 5")
        expect(field).to_have_value(typed)
        expect(page.get_by_test_id("account-address")).to_have_text(sub_account(me, 5))
    field.fill("7")
    expect(page.get_by_test_id("sub-account-problem")).to_have_count(0)
    expect(page.get_by_test_id("account-address")).to_have_text(sub_account(me, 7))


def test_phone_tabs_and_arrow_keys(funded: Chain, page: Page) -> None:
    """Findings 10 and 15: at 375 px every tab is on screen, and the arrow keys move between them."""
    page.set_viewport_size({"width": 375, "height": 740})
    connect(page, TRADER)
    for name in ("Portfolio", "Actions", "Trade", "Lend", "Protocol"):
        box = page.get_by_role("tab", name=name).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375, (name, box)
    meter = page.get_by_test_id("health").locator("meter").bounding_box()
    assert meter is not None and meter["width"] >= 90
    page.get_by_role("tab", name="Portfolio").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Actions")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("tab", name="Actions")).to_be_focused()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect(page.get_by_role("tab", name="Protocol")).to_have_attribute("aria-selected", "true")


def test_addresses_and_hours_are_read_strictly(funded: Chain, page: Page) -> None:
    """Finding 11 and 12: pasted addresses trimmed, one-case addresses taken, a wrong checksum and yourself refused;
    hours as a plain decimal."""
    chain = funded
    me = chain.account(TRADER).address
    bot = chain.account(4).address
    connect(page, TRADER)
    page.get_by_role("tab", name="Actions").click()
    page.get_by_label("operator", exact=True).check()
    operator = page.get_by_test_id("operator")
    operator.fill(me)
    expect(page.get_by_test_id("preview-error")).to_contain_text("that is your own address")
    letter = next(i for i, c in enumerate(bot) if i > 1 and c.isalpha())
    wrong_case = bot[:letter] + bot[letter].swapcase() + bot[letter + 1 :]
    operator.fill(wrong_case)
    expect(page.get_by_test_id("preview-error")).to_contain_text("has a bad checksum")
    operator.fill(f"  {bot.upper().replace('0X', '0x')} ")
    expect(page.get_by_test_id("preview")).to_contain_text("This does not change the account's health.")
    page.get_by_test_id("submit-action").click()
    expect(page.get_by_test_id("activity")).to_have_text("set operator: done", timeout=STEP_TIMEOUT_MS)
    assert chain.client(TRADER).operator_permissions(me, bot) == 4

    page.get_by_label("session key", exact=True).check()
    operator.fill(chain.account(5).address)
    page.get_by_test_id("accepted").fill("0x" + "11" * 65)
    for hours, message in (("1e3", '"1e3" is not a number of hours'), ("0x10", '"0x10" is not a number of hours')):
        page.get_by_label("For").fill(hours)
        expect(page.get_by_test_id("preview-error")).to_contain_text(message)


def test_a_wallet_repeating_its_account_keeps_the_portfolio(funded: Chain, page: Page) -> None:
    """Review 1: a wallet that emits accountsChanged with the account it already has (in lower case, as some do)
    leaves the portfolio on screen, with no new block needed to read it again."""
    me = funded.account(TRADER).address
    connect_browser_wallet(page, funded)
    page.evaluate(f"window.__emit('accountsChanged', ['{me.lower()}'])")
    page.wait_for_timeout(1_500)  # no block is mined meanwhile
    expect(page.get_by_test_id("equity")).to_be_visible()
    expect(page.get_by_text("Reading the account…")).to_have_count(0)
    expect(page.get_by_test_id("activity")).to_have_count(0)


def frozen_block_number(page: Page, chain: Chain) -> None:
    """The page's node answers eth_blockNumber with the block of now, forever: the page sees no new block, so its
    last read of the account grows old while the chain moves on."""
    block = hex(chain.w3.eth.block_number)

    def answer(route: Route) -> None:
        body = route.request.post_data_json
        if isinstance(body, dict) and body.get("method") == "eth_blockNumber":
            route.fulfill(json={"jsonrpc": "2.0", "id": body.get("id"), "result": block})
        else:
            route.continue_()

    page.route(re.compile("^" + re.escape(chain.url)), answer)


def test_repay_all_approves_the_debt_of_the_moment_it_is_sent(funded: Chain, page: Page) -> None:
    """Review 3: interest accrued since the page last read the account (here a year, far above the 0.1% margin) is
    in the approval: the debt is read when the repayment is sent, not taken from the figures shown."""
    chain = funded
    me = chain.account(TRADER).address
    vault = chain.client(TRADER)
    vault.deposit(me, "WETH", 10**18)
    vault.withdraw(me, "USDC", 200 * 10**6)
    connect(page, TRADER)
    expect(page.get_by_test_id("debt")).to_contain_text("200.0")
    frozen_block_number(page, chain)
    chain.advance(365 * DAY)
    assert -vault.base_balance(me) > 201 * 10**6, "a year of interest is more than the 0.1% margin"
    page.get_by_role("tab", name="Actions").click()
    page.get_by_label("repay", exact=True).check()
    page.get_by_test_id("amount").fill("max")
    expect(page.get_by_test_id("preview-note")).to_contain_text("your debt (all of it")
    page.get_by_test_id("submit-action").click()
    expect(page.get_by_test_id("activity")).to_have_text("repay: done", timeout=STEP_TIMEOUT_MS)
    assert vault.base_balance(me) == 0


def test_a_repayment_that_would_leave_less_than_the_minimum_borrow_repays_it_all(funded: Chain, page: Page) -> None:
    """Review 4: the vault refuses to leave less than its minimum borrow (100 USDC here) owed, so 150 of a 200 debt
    (or the debt as shown, to the cent, with interest on top) repays the whole debt, and the preview says so."""
    chain = funded
    me = chain.account(TRADER).address
    vault = chain.client(TRADER)
    vault.deposit(me, "WETH", 10**18)
    vault.withdraw(me, "USDC", 200 * 10**6)
    connect(page, TRADER)
    page.get_by_role("tab", name="Actions").click()
    page.get_by_label("repay", exact=True).check()
    page.get_by_test_id("amount").fill("50")
    expect(page.get_by_test_id("preview")).to_contain_text("After this repay")
    expect(page.get_by_test_id("preview-note")).to_have_count(0)  # 150 left: a partial repayment
    page.get_by_test_id("amount").fill("150")
    expect(page.get_by_test_id("preview-note")).to_contain_text(
        re.compile(
            r"This repays 200\.0\d USDC, your whole debt: what would be left is below the minimum borrow of 100\.00"
        )
    )
    page.get_by_test_id("submit-action").click()
    expect(page.get_by_test_id("activity")).to_have_text("repay: done", timeout=STEP_TIMEOUT_MS)
    assert vault.base_balance(me) == 0


def test_the_server_refuses_to_start_on_a_node_of_another_chain(chain: Chain) -> None:
    """As every command refuses it, in one line: started, the page's every figure failed with a 500."""
    with Anvil(chain_id=4242) as other:
        command = [sys.executable, "-m", "keeper.cli", "--deployment", str(chain.deployment_file)]
        command += ["--rpc-url", other.url, "web", "--port", "0"]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            output = process.communicate(timeout=30)[0].decode()
        except subprocess.TimeoutExpired:
            process.kill()
            pytest.fail(f"the server started on chain 4242 for a chain 31337 deployment: {process.communicate()[0]!r}")
    assert process.returncode == 1
    assert output == (
        f"Error: {chain.deployment_file} is for chain 31337 but {other.url} is chain 4242: pass the matching "
        "--deployment\n"
    )

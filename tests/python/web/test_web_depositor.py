"""A depositor's careless and hostile use of the web app, a later review: figures the account owes or needs shown
rounded up as the CLI shows them, mistakes said next to the field they are about, and an action whose planning
reads the chain kept inside the app's one-action guard."""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, Decimal

from playwright.sync_api import Page, Route, expect

from keeper.chain.artifacts import load_artifact
from keeper.client.lender import LenderClient
from keeper.client.trading import TradingClient
from keeper.risk.health import MAX_VENUES
from tests.python.conftest import Chain
from tests.python.web.conftest import STEP_TIMEOUT_MS, TRADER, browser_wallet
from tests.python.web.test_web_app import connect
from tests.python.web.test_web_careless import open_position, quote
from tests.python.web.test_web_review import (
    borrowed_three_days_ago,
    fill_in_a_usdc_withdrawal,
    on_the_trade_page_with_3_weth,
    press_while_the_node_hangs,
    sent,
    withdrawal_from_a_supply_of_100_usdc,
)


def cents_up(units: int) -> str:
    return f"{(Decimal(units) / 10**6).quantize(Decimal('0.01'), rounding=ROUND_CEILING):,.2f} USDC"


def test_requirements_are_rounded_up_as_the_cli_shows_them(funded: Chain, page: Page) -> None:
    """What the account needs is never shown below it: `account show` rounds both requirements up to the cent."""
    chain = funded
    me = chain.account(TRADER).address
    vault = chain.client(TRADER)
    vault.deposit(me, "WETH", 1_234_567_890_000_000_000)  # 1.23456789 WETH: a haircut with a fraction of a cent
    health = vault.health(me)
    assert health.initial_requirement % 10_000 != 0 and health.maintenance_requirement % 10_000 != 0
    connect(page, TRADER)
    expect(page.get_by_test_id("initial-requirement")).to_have_text(cents_up(health.initial_requirement))
    expect(page.get_by_test_id("maintenance-requirement")).to_have_text(cents_up(health.maintenance_requirement))


def test_a_withdrawal_asked_for_while_the_node_hangs_is_never_sent_later(funded: Chain, page: Page) -> None:
    """A base withdrawal reads the account's supply to plan itself: that read, while the node hangs, was made before
    the app's one-action guard, so the withdrawal went out on its own once the node answered, the outage unseen."""
    chain = funded
    me = chain.account(TRADER).address
    vault = chain.client(TRADER)
    vault.deposit(me, "USDC", 100 * 10**6)
    connect(page, TRADER)
    fill_in_a_usdc_withdrawal(page, "50")
    expect(page.get_by_test_id("preview")).to_contain_text("After this withdraw")
    before = sent(chain)
    press_while_the_node_hangs(page, chain, "submit-action")
    page.wait_for_timeout(2_000)
    assert sent(chain) == before
    assert vault.base_balance(me) == 100 * 10**6


def test_a_mistake_is_tied_to_the_field_it_is_about(funded: Chain, page: Page) -> None:
    """A screen reader on the amount (or address) field hears what is wrong with it: the field is marked invalid and
    described by the sentence; the lend page's sentence is also dropped once the amount is typed again."""
    connect(page, TRADER)
    page.get_by_role("tab", name="Actions").click()
    amount = page.get_by_test_id("amount")
    amount.fill("1,5")
    expect(amount).to_have_attribute("aria-invalid", "true")
    expect(amount).to_have_accessible_description(re.compile(r'"1,5" has a comma'))
    amount.fill("1.5")
    expect(page.get_by_test_id("preview")).to_contain_text("After this deposit")
    expect(amount).to_have_attribute("aria-invalid", "false")
    page.get_by_label("operator", exact=True).check()
    address = page.get_by_test_id("operator")
    address.fill("0x1234")
    expect(address).to_have_accessible_description(re.compile(r'"0x1234" is not an address'))
    expect(address).to_have_attribute("aria-invalid", "true")

    page.get_by_role("tab", name="Lend").click()
    lend = page.get_by_test_id("lend-amount")
    lend.fill("-5")
    page.get_by_test_id("lend-deposit").click()
    expect(lend).to_have_attribute("aria-invalid", "true")
    expect(lend).to_have_accessible_description('"-5" is not an amount of USDC: write e.g. 1.5')
    lend.fill("5")
    expect(page.get_by_test_id("lend-problem")).to_have_count(0)
    expect(lend).to_have_attribute("aria-invalid", "false")


def test_the_approval_a_repayment_asks_for_is_not_shown_below_it(funded: Chain, page: Page) -> None:
    """The note's "X at most is approved": the wallet is asked to approve a little more than the debt, and X was rounded
    down, below what is approved."""
    chain = funded
    me = chain.account(TRADER).address
    vault = borrowed_three_days_ago(chain)
    debt = -vault.base_balance(me)
    approval = debt + debt // 1000 + 1  # the CLI's: the debt and the interest until the repayment is mined
    assert approval % 10_000 != 0, "an approval with a fraction of a cent"
    connect(page, TRADER)
    page.get_by_role("tab", name="Actions").click()
    page.get_by_label("repay", exact=True).check()
    page.get_by_test_id("amount").fill("max")
    expect(page.get_by_test_id("preview-note")).to_have_text(
        f"This repays {cents_up(debt)}, your debt (all of it, with the interest until it is mined); "
        f"{cents_up(approval)} at most is approved."
    )


def test_an_order_asked_for_while_the_node_hangs_is_never_sent_later(funded: Chain, page: Page) -> None:
    """The margin check of an order (the server's, which reads the same node) ran before the app's one-action guard:
    an order sent while the node hung went out on its own once the node answered, the outage unseen."""
    chain = funded
    on_the_trade_page_with_3_weth(chain, page)
    trading = TradingClient(chain.w3, chain.deployment)
    quote(page, "ETH-USD", "buy", "0.5")
    press_while_the_node_hangs(page, chain, "send-order", r"/api/order-check")  # and the server's check on it
    page.wait_for_timeout(2_000)
    assert trading.order_count() == 0


def test_funding_owed_is_rounded_up_as_the_contract_rounds_it(funded: Chain, page: Page) -> None:
    """The positions table's "Funding owed" is what the account owes: the contract rounds it up
    (`PerpMathLib.fundingOwed`), and the page rounded it down, twice (to a base unit, then to the cent)."""
    chain = funded
    me = chain.account(TRADER).address
    open_position(chain, "0.5")
    trading = TradingClient(chain.w3, chain.deployment)
    market = [m.ticker for m in chain.deployment.markets].index("ETH-USD")
    admin = chain.client(0).sender
    assert admin is not None
    for venue in chain.deployment.venues:
        abi = load_artifact("DydxStyleVenue" if venue.name == "dydx" else "RabbitStyleVenue").abi
        contract = chain.w3.eth.contract(address=venue.address, abi=abi)
        admin.transact("set funding", contract.functions.setFundingRate(market, 10**18 // 100 // 86_400))
    chain.advance(3_607)
    [(slot, entry)] = trading.book_entries(me)
    index = trading.adapters()[slot % MAX_VENUES].funding_index(market)
    product = entry.size * (index - entry.funding_index)
    owed = -(-product // 10**18)  # USD WAD, rounded up as the contract rounds what is owed
    assert owed > 0 and owed % 10**16 != 0
    shown = (Decimal(owed) / 10**18).quantize(Decimal("0.01"), rounding=ROUND_CEILING)
    connect(page, TRADER)
    expect(page.get_by_test_id("positions").locator("tbody td").nth(6)).to_have_text(f"{shown:,.2f} USDC")


def test_a_mistake_on_the_trade_page_is_tied_to_its_field(funded: Chain, page: Page) -> None:
    """The size or the slippage at fault is marked invalid and described by the sentence, as on the other forms."""
    chain = funded
    on_the_trade_page_with_3_weth(chain, page)
    size, slippage = page.get_by_test_id("trade-size"), page.get_by_test_id("slippage")
    size.fill("1,5")
    page.get_by_test_id("get-quotes").click()
    expect(size).to_have_attribute("aria-invalid", "true")
    expect(size).to_have_accessible_description(re.compile(r'"1,5" has a comma'))
    expect(slippage).to_have_attribute("aria-invalid", "false")
    quote(page, "ETH-USD", "buy", "0.5")
    expect(size).to_have_attribute("aria-invalid", "false")
    slippage.fill("1e3")
    page.get_by_test_id("send-order").click()
    expect(slippage).to_have_attribute("aria-invalid", "true")
    expect(slippage).to_have_accessible_description(re.compile(r'slippage "1e3" is not a number of basis points'))
    slippage.fill("100")
    expect(slippage).to_have_attribute("aria-invalid", "false")
    assert TradingClient(chain.w3, chain.deployment).order_count() == 0


def test_a_deposit_waiting_on_its_permit_says_the_wallet_asks_for_a_signature(funded: Chain, page: Page) -> None:
    """A deposit's permit is signed in the wallet before anything is sent: while the wallet waited for it, the page
    said only "preparing", and the user was not told to look at the wallet."""
    chain = funded
    me = chain.account(TRADER).address
    browser_wallet(page, chain, chain_id=chain.deployment.chain_id)
    page.reload()
    page.get_by_role("button", name="Connect browser wallet").click()
    expect(page.get_by_test_id("wallet")).to_have_text(re.compile(r"^browser wallet 0x7099"))
    held: list[Route] = []
    node = re.compile("^" + re.escape(chain.url))

    def sign_later(route: Route) -> None:
        if "eth_signTypedData_v4" in (route.request.post_data or ""):
            held.append(route)  # the user has not signed yet
        else:
            route.continue_()

    page.route(node, sign_later)
    page.get_by_role("tab", name="Actions").click()
    page.get_by_test_id("asset").select_option("WETH")
    page.get_by_test_id("amount").fill("1")
    expect(page.get_by_test_id("preview")).to_contain_text("After this deposit")
    page.get_by_test_id("submit-action").click()
    expect(page.get_by_test_id("activity")).to_have_text(
        "deposit WETH: waiting for your signature of the permit", timeout=STEP_TIMEOUT_MS
    )
    for _ in range(200):  # the page said it asks before Playwright hands this test the request it holds
        if held:
            break
        page.wait_for_timeout(50)
    assert len(held) == 1
    held[0].continue_()  # signed
    expect(page.get_by_test_id("activity")).to_have_text("deposit WETH: done", timeout=STEP_TIMEOUT_MS)
    assert chain.client(TRADER).collateral_balance(me, "WETH") == 10**18


def test_every_cancel_button_and_the_health_meter_have_a_name(funded: Chain, page: Page) -> None:
    """A screen reader listing the page's controls heard "Cancel" once per open order, none saying which, and an
    unnamed meter."""
    chain = funded
    me = chain.account(TRADER).address
    chain.client(TRADER).deposit(me, "WETH", 3 * 10**18)
    trader = TradingClient(chain.w3, chain.deployment, chain.client(TRADER).sender)
    deadline = int(chain.w3.eth.get_block("latest")["timestamp"]) + 600
    first = trader.submit(me, "ETH-USD", Decimal("0.1"), Decimal(3_100), deadline)
    second = trader.submit(me, "ETH-USD", Decimal("0.2"), Decimal(3_100), deadline)
    connect(page, TRADER)
    expect(page.get_by_role("meter", name=re.compile(r"^health: [\d.]+\u00d7 maintenance$"))).to_be_visible()
    page.get_by_role("button", name=f"Cancel order {second}", exact=True).click()
    expect(page.get_by_test_id("activity")).to_have_text(f"cancel order {second}: done", timeout=STEP_TIMEOUT_MS)
    assert trader.order(second).status == "cancelled" and trader.order(first).status == "open"


def test_a_mistake_in_another_field_of_an_action_is_tied_to_that_field(funded: Chain, page: Page) -> None:
    """A transfer to the sub-account it is from, or a session's hours that are not hours: the sentence described the
    amount or the address field, which were right, and not the field at fault."""
    connect(page, TRADER)
    page.get_by_role("tab", name="Actions").click()
    page.get_by_label("transfer", exact=True).check()
    page.get_by_test_id("amount").fill("1")
    to = page.get_by_label("To sub-account")
    to.fill("0")
    expect(to).to_have_attribute("aria-invalid", "true")
    expect(to).to_have_accessible_description("choose another sub-account to transfer to")
    expect(page.get_by_test_id("amount")).to_have_attribute("aria-invalid", "false")
    page.get_by_label("session key", exact=True).check()
    page.get_by_test_id("operator").fill(funded.account(2).address)
    accepted = page.get_by_test_id("accepted")
    accepted.fill("0x1234")
    expect(accepted).to_have_accessible_description(re.compile(r"^the acceptance \"0x1234\" is 2 bytes"))
    accepted.fill("0x" + "11" * 65)  # of the right shape: the hours are checked next
    hours = page.get_by_label("For")
    hours.fill("1e3")
    expect(hours).to_have_accessible_description('"1e3" is not a number of hours: write e.g. 24')
    expect(hours).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("operator")).to_have_attribute("aria-invalid", "false")


def test_the_health_ratio_is_rounded_down_as_the_cli_shows_it(funded: Chain, page: Page) -> None:
    """Equity over maintenance is what the account has above the liquidation line: 1.996 read 2.00 (rounded to the
    nearest); `account show` rounds it down."""
    chain = funded
    me = chain.account(TRADER).address
    vault = chain.client(TRADER)
    vault.deposit(me, "WETH", 2 * 10**18)
    before = vault.health(me)
    vault.withdraw(me, "USDC", before.equity - before.maintenance_requirement * 1996 // 1000)  # a ratio of 1.996
    health = vault.health(me)
    hundredths = health.equity * 100 // health.maintenance_requirement
    assert hundredths == 199
    connect(page, TRADER)
    expect(page.get_by_test_id("health")).to_have_text("1.99\u00d7 maintenance")


def test_the_protocol_page_rounds_an_accounts_maintenance_up(funded: Chain, page: Page) -> None:
    """The riskiest accounts' maintenance requirement, as the Portfolio's: what an account needs, never shown below."""
    chain = funded
    me = chain.account(TRADER).address
    vault = chain.client(TRADER)
    vault.deposit(me, "WETH", 1_234_567_890_000_000_000)
    vault.withdraw(me, "USDC", 2_000 * 10**6)  # a borrow: the account is listed
    maintenance = vault.health(me).maintenance_requirement
    assert maintenance % 10_000 != 0
    page.get_by_role("tab", name="Protocol").click()
    row = page.get_by_test_id("riskiest").locator("tr", has_text=me)
    expect(row.locator("td").nth(2)).to_have_text(cents_up(maintenance))


def test_a_second_close_while_the_first_waits_is_refused(funded: Chain, page: Page) -> None:
    """Close pressed again before the keeper executed the first close (the position still shows): a second
    reduce-only order went out, to be cancelled by the keeper, its gas spent for nothing."""
    chain = funded
    open_position(chain)
    trading = TradingClient(chain.w3, chain.deployment)
    connect(page, TRADER)
    page.get_by_role("tab", name="Trade").click()
    page.get_by_test_id("close-ETH-USD").click()
    expect(page.get_by_test_id("activity")).to_have_text("close ETH-USD: done", timeout=STEP_TIMEOUT_MS)
    count = trading.order_count()
    expect(page.get_by_test_id("latest-order")).to_contain_text(f"Order #{count - 1} ETH-USD: open")
    page.get_by_test_id("close-ETH-USD").click()
    expect(page.get_by_role("alert")).to_have_text(
        f"order #{count - 1} closes ETH-USD already: the keeper executes it (cancel it on the Portfolio page to send "
        "another)"
    )
    page.wait_for_timeout(1_000)
    assert trading.order_count() == count


def test_a_withdrawal_past_the_supply_says_its_amounts_exactly(funded: Chain, page: Page) -> None:
    """500.123456 USDC past a supply of 100 read "withdraws 500.12 USDC and borrows 400.13 USDC": one rounded down,
    the other up, so the two did not add up; the CLI says both exactly."""
    chain = funded
    me = chain.account(TRADER).address
    vault = withdrawal_from_a_supply_of_100_usdc(chain, page, "500.123456")
    expect(page.get_by_test_id("preview-note")).to_have_text(
        "This withdraws 500.123456 USDC and borrows 400.123456 USDC of it: the account has 100.00 USDC supplied."
    )
    page.get_by_test_id("submit-action").click()
    expect(page.get_by_test_id("activity")).to_have_text(
        "withdrew 500.123456 USDC and borrowed 400.123456 USDC of it: done", timeout=STEP_TIMEOUT_MS
    )
    assert -400_123_456 - 1 <= vault.base_balance(me) <= -400_123_456  # the vault rounds what is owed up


def test_a_lend_deposit_already_approved_is_one_transaction(funded: Chain, page: Page) -> None:
    """The Lend page approved every deposit again, an approval already in place included: a transaction, and its gas,
    for nothing (the CLI approves only when the allowance is short)."""
    chain = funded
    me = chain.account(TRADER).address
    lender = chain.deployment.lender
    assert lender is not None
    chain.client(TRADER).token("USDC").approve(lender, 10 * 10**6)
    connect(page, TRADER)
    page.get_by_role("tab", name="Lend").click()
    before = sent(chain)
    page.get_by_test_id("lend-amount").fill("5")
    page.get_by_test_id("lend-deposit").click()
    expect(page.get_by_test_id("activity")).to_have_text("lend deposit: done", timeout=STEP_TIMEOUT_MS)
    assert sent(chain) == before + 1
    assert LenderClient(chain.w3, chain.deployment).position(me).shares > 0

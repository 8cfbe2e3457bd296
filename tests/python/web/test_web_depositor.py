"""A depositor's careless and hostile use of the web app, a later review: figures the account owes or needs shown
rounded up as the CLI shows them, mistakes said next to the field they are about, and an action whose planning
reads the chain kept inside the app's one-action guard."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from playwright.sync_api import Page, expect

from tests.python.conftest import Chain
from tests.python.web.conftest import TRADER
from tests.python.web.test_web_app import connect


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

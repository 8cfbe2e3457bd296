"""The web app in a real browser: the server on a thread over the session's anvil, and Playwright driving Chromium
(Debian's package or the build npm installs; `keeper.toolchain.find_chromium`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from keeper.cli.web import DEFAULT_DIST
from keeper.devnet.deploy import seed_local_liquidity
from keeper.toolchain import find_chromium
from keeper.web.server import WebSettings, serving_in_thread
from tests.python.conftest import Chain

TRADER = 1  # the dev account the browser tests connect as
STEP_TIMEOUT_MS = 20_000

# `make screenshots` sets this: the tests' screens are saved there (docs/screenshots/, shown in the README).
SCREENSHOTS = os.environ.get("PRIMEVAULT_SCREENSHOTS")
# No sandbox: containers (CI) have no user namespaces for it.
CHROMIUM_ARGS = ["--no-sandbox"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def app_url(chain: Chain) -> Iterator[str]:
    with serving_in_thread(WebSettings(chain.deployment_file, chain.url, DEFAULT_DIST)) as url:
        yield url


@pytest.fixture
def funded(chain: Chain) -> Chain:
    """The pool lent and venue margin posted; the trader's wallet holds 10 WETH and 1,000 USDC (for interest)."""
    admin = chain.client(0)
    assert admin.sender is not None
    seed_local_liquidity(admin.sender, chain.deployment)
    chain.mint(TRADER, "WETH", 10)
    chain.mint(TRADER, "USDC", 1_000)
    return chain


@pytest.fixture
def page(browser: Browser, app_url: str) -> Iterator[Page]:
    """A fresh page at the app; an uncaught script error anywhere fails the test."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(app_url)
    yield page
    context.close()
    assert not errors, f"script errors on the page: {errors}"


@pytest.fixture
def screenshot(page: Page) -> Callable[[str], None]:
    """Saves the whole page as NAME.png when screenshots are asked for; a no-op otherwise."""

    def take(name: str) -> None:
        if SCREENSHOTS:
            Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=Path(SCREENSHOTS) / f"{name}.png", full_page=True)

    return take

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


# A browser wallet as MetaMask presents it (EIP-1193), over anvil's unlocked accounts: it starts on the chain it is
# given (wallets often start on another), records the page's requests to switch (`window.__switches`), can be made
# to refuse a method as a user pressing Reject (`window.__w.reject`), and emits chainChanged and accountsChanged
# (`window.__emit`) as wallets do.
_BROWSER_WALLET = """
window.__switches = [];
window.__w = { chainId: CHAIN_ID, account: ACCOUNT, reject: new Set(), listeners: {} };
window.ethereum = {
  async request({ method, params }) {
    const w = window.__w;
    if (w.reject.has(method)) throw Object.assign(new Error("User rejected the request."), { code: 4001 });
    if (method === "eth_requestAccounts" || method === "eth_accounts") return [w.account];
    if (method === "eth_chainId") return w.chainId;
    if (method === "wallet_switchEthereumChain") {
      window.__switches.push(params[0].chainId);
      w.chainId = params[0].chainId;
      return null;
    }
    const response = await fetch(RPC, { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: params ?? [] }) });
    const body = await response.json();
    if (body.error) throw Object.assign(new Error(body.error.message), body.error);
    return body.result;
  },
  on(event, listener) { (window.__w.listeners[event] ??= []).push(listener); },
  removeListener(event, listener) {
    window.__w.listeners[event] = (window.__w.listeners[event] ?? []).filter((l) => l !== listener);
  },
};
window.__emit = (event, argument) => (window.__w.listeners[event] ?? []).forEach((listener) => listener(argument));
"""


def browser_wallet(page: Page, chain: Chain, chain_id: int) -> None:
    """Injects the browser wallet into `page` (from its next load) for `TRADER`'s account, starting on `chain_id`."""
    script = _BROWSER_WALLET.replace("CHAIN_ID", f'"{hex(chain_id)}"').replace("RPC", f'"{chain.url}"')
    page.add_init_script(script.replace("ACCOUNT", f'"{chain.account(TRADER).address}"'))

"""`primevault` against a real anvil: depositor flows and every bad-input case, each a one-line error."""

from __future__ import annotations

import json
import os
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner, Result
from web3 import Web3
from web3.types import RPCEndpoint

from keeper.chain.revert import DecodedError
from keeper.cli.account import render_account
from keeper.cli.explain import describe
from keeper.cli.main import cli
from keeper.client.feeds import FeedClient
from keeper.client.tokens import TokenClient
from keeper.client.trading import TradingClient
from keeper.client.vault import sub_account
from keeper.exceptions import TransactionFateUnknown, TransactionReverted
from tests.python.conftest import Chain
from tests.python.fault_proxy import node_switch


def run(chain: Chain, *args: str, dev: int | None = 1) -> Result:
    options = ["--deployment", str(chain.deployment_file)]
    if dev is not None:
        options += ["--dev-account", str(dev)]
    return CliRunner().invoke(cli, [*options, *args])


def assert_one_line_error(result: Result, *fragments: str) -> None:
    """One line starting with "Error: ", exit code 1 (or 2 for a command line that does not parse)."""
    assert result.exit_code in (1, 2), result.output
    lines = [line for line in result.output.splitlines() if not line.startswith("warning:")]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def funded(chain: Chain) -> Chain:
    for symbol in ("USDC", "WETH", "WBTC"):
        chain.mint(1, symbol, 1000)
    chain.mint(2, "USDC", 100_000)
    chain.client(2).deposit(chain.account(2).address, "USDC", 100_000 * 10**6)
    return chain


def test_depositor_round_trip(funded: Chain) -> None:
    empty = run(funded, "account", "show")
    assert "owner      none yet (recorded when its owner first acts on it)" in empty.output, "not the zero address"
    assert run(funded, "account", "deposit", "1.5", "weth").exit_code == 0
    result = run(funded, "account", "borrow", "2000")
    assert result.exit_code == 0, result.output
    assert "owes 2,000.00 USDC" in result.output
    shown = run(funded, "account", "show")
    assert f"owner      {funded.account(1).address}" in shown.output
    assert "WETH       1.5" in shown.output
    # 2,499.999999: the debt's principal is rounded up by the vault, and the equity shown down to the cent
    assert "equity                   2,499.99 USDC" in shown.output
    assert "liquidatable             no" in shown.output
    assert run(funded, "account", "repay", "max").exit_code == 0
    assert funded.client(1).base_balance(funded.account(1).address) == 0
    assert run(funded, "account", "withdraw", "1.5", "WETH").exit_code == 0


def test_transfer_between_sub_accounts_and_operator(funded: Chain) -> None:
    me = funded.account(1).address
    assert run(funded, "account", "deposit", "2", "WETH").exit_code == 0
    assert run(funded, "account", "transfer", "0.5", "WETH", "--from-sub", "0", "--to-sub", "3").exit_code == 0
    assert funded.client(1).collateral_balance(sub_account(me, 3), "WETH") == 5 * 10**17
    operator = funded.account(4).address
    assert run(funded, "account", "set-operator", operator, "--permissions", "withdraw").exit_code == 0
    result = run(funded, "account", "withdraw", "0.1", "WETH", "--account", me, dev=4)
    assert result.exit_code == 0, result.output


def test_unknown_asset(funded: Chain) -> None:
    assert_one_line_error(run(funded, "account", "deposit", "1", "DOGE"), "unknown asset 'DOGE'", "USDC, WETH, WBTC")


def test_amount_not_a_number(funded: Chain) -> None:
    assert_one_line_error(run(funded, "account", "deposit", "one", "WETH"), "amount 'one' WETH is not a number")


def test_too_many_decimals(funded: Chain) -> None:
    assert_one_line_error(run(funded, "account", "deposit", "0.000000001", "WBTC"), "more than 8 decimal places")


def test_not_the_owner_nor_an_operator(funded: Chain) -> None:
    assert run(funded, "account", "deposit", "1", "WETH").exit_code == 0
    owner = funded.account(1).address
    result = run(funded, "account", "withdraw", "1", "WETH", "--account", owner, dev=3)
    assert_one_line_error(
        result, f"{funded.account(3).address} is not the owner of {owner}", "withdraw permission", "[NotAuthorized]"
    )
    assert funded.client(1).collateral_balance(owner, "WETH") == 10**18, "nothing moved"


def test_would_make_the_account_unhealthy(funded: Chain) -> None:
    assert run(funded, "account", "deposit", "1", "WETH").exit_code == 0
    assert_one_line_error(
        run(funded, "account", "borrow", "2401"),
        "would make the account unhealthy",
        "equity would be 598.999999 USDC",  # the debt's principal rounded up, said exactly
        "initial requirement of 600.00 USDC",
        "[InsufficientEquity]",
    )


def test_wallet_balance_too_small(funded: Chain) -> None:
    assert_one_line_error(
        run(funded, "account", "deposit", "5000", "WETH"), "your wallet holds 1,000 WETH, less than the 5,000 WETH"
    )
    weth = funded.client(1).token("WETH").contract
    assert weth.functions.allowance(funded.account(1).address, funded.deployment.vault).call() == 0, "no approval"


def test_repaying_more_than_the_debt_approves_no_more_than_the_debt(funded: Chain) -> None:
    """The vault takes at most the debt: an approval for all of a larger amount was left behind for later calls, and
    the margin for interest is taken back after the repayment."""
    me = funded.account(1).address
    assert run(funded, "account", "deposit", "1.5", "weth").exit_code == 0
    assert run(funded, "account", "borrow", "2000").exit_code == 0
    assert run(funded, "account", "repay", "1000000").exit_code == 0
    assert funded.client(1).base_balance(me) == 0
    usdc = funded.client(1).token("USDC").contract
    assert usdc.functions.allowance(me, funded.deployment.vault).call() == 0, "the interest margin taken back"


def test_a_withdrawal_past_the_balance_says_what_it_borrowed(funded: Chain) -> None:
    me = funded.account(1).address
    assert run(funded, "account", "deposit", "1.5", "WETH").exit_code == 0
    assert run(funded, "account", "deposit", "100", "USDC").exit_code == 0
    result = run(funded, "account", "withdraw", "500", "USDC")
    assert result.exit_code == 0, result.output
    assert f"withdrew 500 USDC from {me} and borrowed 400 USDC of it; {me} now owes 400.00 USDC" in result.output
    plain = run(funded, "account", "withdraw", "0.5", "WETH")
    assert plain.exit_code == 0 and "borrowed" not in plain.output, plain.output


def test_an_orders_deadline_is_by_the_chains_clock(funded: Chain) -> None:
    # The chain's clock an hour ahead of this machine's: a deadline from the machine's clock is past at once.
    funded.advance(3600)
    assert run(funded, "account", "deposit", "2", "WETH").exit_code == 0
    submitted = run(funded, "trade", "submit", "ETH-USD", "0.1", "--side", "buy", "--ttl", "600")
    assert submitted.exit_code == 0, submitted.output
    order_id = int(submitted.output.split(":")[0].removeprefix("order "))
    now = int(funded.w3.eth.get_block("latest")["timestamp"])
    assert TradingClient(funded.w3, funded.deployment).order(order_id).deadline > now + 590


def test_minimum_borrow(funded: Chain) -> None:
    assert run(funded, "account", "deposit", "1", "WETH").exit_code == 0
    assert_one_line_error(run(funded, "account", "borrow", "10"), "below the minimum borrow of 100.00 USDC")


def test_address_with_a_wrong_checksum(funded: Chain) -> None:
    good = funded.account(4).address
    bad = good[:-1] + (good[-1].lower() if good[-1].isupper() else good[-1].upper())
    if bad == good or bad.lower() == bad:
        bad = "0x" + good[2:].swapcase()
    assert_one_line_error(run(funded, "account", "set-operator", bad, "--permissions", "trade"), "wrong checksum")


def test_missing_deployment_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--deployment", str(tmp_path / "none.json"), "account", "show"])
    assert_one_line_error(result, "deployment file", "does not exist")


@pytest.mark.parametrize("group", [(), ("account",), ("risk",), ("keeper",)])
def test_a_group_without_a_command_shows_its_help(group: tuple[str, ...]) -> None:
    """Click's help as it is, its lines and the list of commands, not squashed into one error line."""
    result = CliRunner().invoke(cli, list(group), prog_name="primevault")
    assert result.exit_code == 2
    assert result.output.startswith(f"Usage: {' '.join(('primevault', *group))} [OPTIONS] COMMAND [ARGS]...\n")
    assert "\nCommands:\n" in result.output
    assert "Error" not in result.output


def test_unreachable_rpc(funded: Chain) -> None:
    result = run(funded, "--rpc-url", "http://127.0.0.1:9", "account", "show")
    assert_one_line_error(result, "cannot reach the RPC at http://127.0.0.1:9")


def test_a_deposit_sent_just_before_the_node_went_away_is_named_not_said_lost(
    funded: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deposit broadcast just before the node stopped answering ended, `NODE_SILENT_SECONDS` later, as "lost the
    connection to URL: is the node running?": no word that it was sent. It is mined once the node is back, so a user
    who ran the command again deposited twice. The line names the transaction and says to check it first."""
    for key in [k for k in os.environ if k.startswith("PRIMEVAULT_")]:
        monkeypatch.delenv(key)
    node = funded.w3.provider
    me = funded.account(1).address
    before = funded.client(1).collateral_balance(me, "WETH")
    start = funded.w3.eth.block_number
    with node_switch(funded.url) as switch:
        node.make_request(RPCEndpoint("evm_setAutomine"), [False])

        def cut_once_sent() -> None:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if node.make_request(RPCEndpoint("txpool_content"), [])["result"]["pending"]:
                    switch.switch(up=False)
                    return
                time.sleep(0.05)

        cutter = threading.Thread(target=cut_once_sent)
        cutter.start()
        try:
            result = CliRunner().invoke(
                cli,
                ["--deployment", str(funded.deployment_file), "--rpc-url", switch.url, "--dev-account", "1",
                 "account", "deposit", "1", "WETH"],
                env={"PRIMEVAULT_DATA_DIR": str(tmp_path / "data")},
            )  # fmt: skip
        finally:
            cutter.join()
            node.make_request(RPCEndpoint("evm_setAutomine"), [True])
        switch.switch(up=True)
    node.make_request(RPCEndpoint("evm_mine"), [])
    assert funded.client(1).collateral_balance(me, "WETH") - before == 10**18, "mined once the node was back"
    blocks = range(start + 1, funded.w3.eth.block_number + 1)
    [sent] = [t for n in blocks for t in funded.w3.eth.get_block(n, full_transactions=True)["transactions"]]
    tx_hash = "0x" + bytes(sent["hash"]).hex()
    assert_one_line_error(
        result, f"sent as {tx_hash} (nonce {sent['nonce']})", "stopped answering before it was mined", "before sending"
    )


def test_no_key(funded: Chain) -> None:
    assert_one_line_error(run(funded, "account", "deposit", "1", "WETH", dev=None), "no key given")


def test_unknown_permission(funded: Chain) -> None:
    result = run(funded, "account", "set-operator", funded.account(4).address, "--permissions", "steal")
    assert_one_line_error(result, "unknown permission 'steal'")


def test_roles_and_markets_are_named(funded: Chain) -> None:
    """A missing role by its name, not its hash; a market by its ticker, not its index."""
    who = funded.account(1).address
    role = DecodedError(
        "AccessControlUnauthorizedAccount", {"account": who, "neededRole": Web3.keccak(text="EXECUTOR_ROLE")}
    )
    assert (
        describe(role, funded.deployment)
        == f"{who} does not hold the EXECUTOR_ROLE role this needs; the admin grants it"
    )
    scope = DecodedError("SessionMarketNotInScope", {"key": who, "market": 1})
    assert (
        describe(scope, funded.deployment)
        == f"{funded.deployment.markets[1].ticker} is not in this session key's scope"
    )


def test_a_withdrawal_to_a_token_contract_is_refused(funded: Chain) -> None:
    assert run(funded, "account", "deposit", "1", "WETH").exit_code == 0
    usdc = funded.deployment.base.address
    assert_one_line_error(
        run(funded, "account", "withdraw", "0.5", "WETH", "--to", usdc), f"{usdc} is the USDC token contract"
    )
    assert funded.client(1).collateral_balance(funded.account(1).address, "WETH") == 10**18


def test_risk_explain_on_a_stale_price_says_so(funded: Chain) -> None:
    """An unusable price reads as 0 in the lens: `risk explain` printed an equity of minus the debt and requirements
    of 0 as the account's figures. It says which feed and that nothing can be computed until it updates."""
    assert run(funded, "account", "deposit", "1.5", "WETH").exit_code == 0
    assert run(funded, "account", "borrow", "200").exit_code == 0
    funded.advance(10 * 86_400)
    result = run(funded, "risk", "explain", funded.account(1).address)
    assert_one_line_error(result, "the WETH price feed is stale or invalid", "cannot be computed until it updates")


def test_two_amounts_a_sentence_compares_never_read_as_one(funded: Chain) -> None:
    """To the cent, 599.999999 below 600.000001 read "equity would be 600.00 USDC, below the initial requirement of
    600.00 USDC": amounts a sentence compares are said exactly (with the cents at least)."""
    refusal = DecodedError("InsufficientEquity", {"equity": 599_999_999, "initialRequirement": 600_000_001})
    assert "equity would be 599.999999 USDC, below the initial requirement of 600.000001 USDC" in describe(
        refusal, funded.deployment
    )
    apart = DecodedError("InsufficientEquity", {"equity": 500_000_000, "initialRequirement": 600_000_000})
    assert "equity would be 500.00 USDC, below the initial requirement of 600.00 USDC" in describe(
        apart, funded.deployment
    )


def test_account_show_rounds_to_the_cent_in_the_protocols_favour() -> None:
    """Rounded half to even, a borrowable 2,400.005999 showed as 2,400.01, which the vault then refused: what the
    account has or can take is rounded down, what it owes up."""
    view = {
        "account": "0x" + "11" * 20,
        "owner": "0x" + "11" * 20,
        "margin": "standard",
        "base": {"symbol": "USDC", "balance": "-100.001", "withdrawable": "0", "borrowable": "2400.005999"},
        "collateral": {},
        "positions": [],
        "collateral_value": "3000.019",
        "unrealized_pnl": "0",
        "equity": "2900.018",
        "initial_requirement": "600.001",
        "maintenance_requirement": "300.0001",
        "health": "9.667",
        "liquidatable": False,
    }
    shown = render_account(view)
    for line in (
        "USDC       -100.01 (debt)",
        "collateral value         3,000.01 USDC",
        "equity                   2,900.01 USDC",
        "initial requirement      600.01 USDC",
        "maintenance requirement  300.01 USDC",
        "borrowable now           2,400.00 USDC",
    ):
        assert line in shown, shown


def test_a_venue_refusal_reads_in_human_units(funded: Chain) -> None:
    """A cancel reason from a venue without margin read `VenueInsufficientMargin(netCollateral=-195773, ...)`."""
    refusal = DecodedError("VenueInsufficientMargin", {"netCollateral": -195_773, "initialMargin": 6_000_000})
    base = funded.deployment.base.symbol
    assert describe(refusal, funded.deployment) == (
        f"the vault's margin at the venue (-0.195773 {base}) is below the 6.00 {base} the trade needs there; the keeper"
        " tops venue margin up each cycle (`primevault keeper run`): try again after it has"
    )


def _set_weth_price(chain: Chain, price: str) -> None:
    """The WETH feed's answer, exactly (`Chain.set_price` takes a float)."""
    feed = chain.deployment.token("WETH").feed
    assert feed is not None
    FeedClient(chain.w3, feed, chain.client(0).sender).set_answer(Decimal(price))


def _show(chain: Chain, *args: str) -> dict[str, Any]:
    shown = run(chain, "account", "show", "--json", *args)
    assert shown.exit_code == 0, shown.output
    return dict(json.loads(shown.output))


def test_nothing_is_withdrawable_below_the_initial_requirement(funded: Chain) -> None:
    """10 WETH, 20,000 USDC owed, ETH at 2,400.12345678: equity 4,001.234567 under an initial requirement of
    4,800.246914. `show` said 0.000000000333316187 WETH could leave (too little to move the rounded value), and the
    vault refused it: nothing can leave while equity is below the requirement."""
    assert run(funded, "account", "deposit", "10", "WETH").exit_code == 0
    assert run(funded, "account", "borrow", "20000").exit_code == 0
    _set_weth_price(funded, "2400.12345678")
    view = _show(funded)
    assert Decimal(view["equity"]) < Decimal(view["initial_requirement"]) == Decimal("4800.246914")
    assert view["collateral"]["WETH"]["withdrawable"] == "0"
    assert view["base"]["borrowable"] == "0"
    me = funded.account(1).address
    with pytest.raises(TransactionReverted) as refused:
        funded.client(1).withdraw(me, "WETH", 333_316_187)
    assert refused.value.error.name == "InsufficientEquity"


def test_the_health_of_a_liquidatable_account_never_reads_one(funded: Chain) -> None:
    """Equity 0.0002 under the maintenance requirement: a float's rounding to three decimals read 1.000 beside
    "liquidatable"; the exact ratio, rounded down, reads 0.999, in the JSON and the table."""
    assert run(funded, "account", "deposit", "10", "WETH").exit_code == 0
    assert run(funded, "account", "borrow", "20000").exit_code == 0
    _set_weth_price(funded, "2352.8581")
    view = _show(funded)
    equity, maintenance = Decimal(view["equity"]), Decimal(view["maintenance_requirement"])
    assert equity < maintenance and f"{equity / maintenance:.3f}" == "1.000"
    assert view["liquidatable"] is True
    assert view["health"] == "0.999"
    table = run(funded, "account", "show")
    assert "health                   0.999" in table.output, table.output
    assert "liquidatable             YES" in table.output


def test_a_credit_that_would_leave_dust_debt_is_refused_with_what_to_do(funded: Chain) -> None:
    """Repaying, depositing USDC into or moving USDC into an account with debt repays part of it, and the vault
    refuses to leave less than the minimum borrow: each is refused before any approval or transaction, saying
    what to do."""
    me = funded.account(1).address
    assert run(funded, "account", "deposit", "1", "WETH").exit_code == 0
    assert run(funded, "account", "borrow", "101").exit_code == 0
    assert run(funded, "account", "deposit", "1", "WETH", "--sub", "1").exit_code == 0
    assert run(funded, "account", "borrow", "150", "--sub", "1").exit_code == 0
    assert run(funded, "account", "deposit", "100", "USDC", "--sub", "2").exit_code == 0
    sent = funded.w3.eth.get_transaction_count(me)
    advice = "repay all of it with `account repay max`, or leave at least 100.00 USDC owed"
    assert_one_line_error(
        run(funded, "account", "repay", "2"), "repaying 2.00 USDC would leave 99.", "[BorrowTooSmall]", advice
    )
    assert_one_line_error(
        run(funded, "account", "deposit", "2", "USDC"), f"depositing 2.00 USDC into {me} would leave 99.", advice
    )
    assert_one_line_error(
        run(funded, "account", "transfer", "60", "USDC", "--from-sub", "2", "--to-sub", "1"),
        "moving 60.00 USDC into sub 1 would leave 90.",
        "repay all of it with `account repay max --sub 1`, or leave at least 100.00 USDC owed, move at most 50.",
    )
    assert funded.w3.eth.get_transaction_count(me) == sent, "no approval, no transaction"
    assert TokenClient(funded.w3, funded.deployment.base).allowance(me, funded.deployment.vault) == 0
    assert run(funded, "account", "transfer", "40", "USDC", "--from-sub", "2", "--to-sub", "1").exit_code == 0
    assert run(funded, "account", "repay", "1").exit_code == 0


def test_a_repayment_leaves_no_allowance_behind(funded: Chain) -> None:
    """The approval carries a margin for the interest until the repayment is mined (0.1% of the debt, 4.80 USDC on
    4,800): what it did not use is taken back, so the allowance after is what it was before."""
    me = funded.account(1).address
    usdc = TokenClient(funded.w3, funded.deployment.base)
    assert run(funded, "account", "deposit", "5", "WETH").exit_code == 0
    assert run(funded, "account", "borrow", "4800").exit_code == 0
    before = usdc.allowance(me, funded.deployment.vault)
    repaid = run(funded, "account", "repay", "99999")
    assert repaid.exit_code == 0, repaid.output
    assert funded.client(1).base_balance(me) == 0
    assert usdc.allowance(me, funded.deployment.vault) == before == 0


def _in_debt(chain: Chain) -> str:
    """Dev account 1 with 5 WETH deposited and 4,800 USDC borrowed: its address."""
    me = chain.account(1).address
    client = chain.client(1)
    client.deposit(me, "WETH", 5 * 10**18)
    client.borrow(me, 4800 * 10**6)
    return me


def test_a_repayment_whose_fate_is_unknown_is_still_said_so(funded: Chain, monkeypatch: pytest.MonkeyPatch) -> None:
    """The repay went out and the node went away: the user gets the `TransactionFateUnknown` naming its hash (never to
    send it again blindly), not the failure of an allowance restore that asks the node that is away; and no approval
    goes out at the next nonce, where its wait could replace the repayment as stuck."""
    me = _in_debt(funded)
    client = funded.client(1)
    real_send = client.send
    lost = "0x" + "ab" * 32

    def send(action: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if action == "repay":
            raise TransactionFateUnknown("repay", lost, 7)  # sent, then the node went away
        return real_send(action, fn, *args, **kwargs)

    monkeypatch.setattr(client, "send", send)
    real_allowance = TokenClient.allowance
    reads = {"n": 0}

    def allowance(self: TokenClient, owner: str, spender: str) -> int:
        reads["n"] += 1
        if reads["n"] > 2:  # the node is away by the time the repayment's wait ends
            raise requests.ConnectionError("node away")
        return int(real_allowance(self, owner, spender))

    monkeypatch.setattr(TokenClient, "allowance", allowance)
    with pytest.raises(TransactionFateUnknown) as raised:
        client.repay(me)
    assert raised.value.tx_hash == lost
    monkeypatch.setattr(TokenClient, "allowance", real_allowance)
    approved = TokenClient(funded.w3, funded.deployment.base).allowance(me, funded.deployment.vault)
    assert approved > 4800 * 10**6, "left at the approved amount: no restoring approval was sent"


def test_a_reverted_repayment_takes_its_approval_back(funded: Chain, monkeypatch: pytest.MonkeyPatch) -> None:
    """A repayment that completed by reverting used none of the approval sent for it: the allowance is as before."""
    me = _in_debt(funded)
    client = funded.client(1)
    real_send = client.send

    def send(action: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if action == "repay":
            raise TransactionReverted("repay", DecodedError("Paused", {}))
        return real_send(action, fn, *args, **kwargs)

    monkeypatch.setattr(client, "send", send)
    with pytest.raises(TransactionReverted):
        client.repay(me)
    assert TokenClient(funded.w3, funded.deployment.base).allowance(me, funded.deployment.vault) == 0


def test_the_deployments_own_contracts_are_not_operators(funded: Chain) -> None:
    """As `deposit --to` refuses them: none acts as an operator. The session keys contract and the bundler do, with
    what `session grant` and `account bundle` give them, and no more; revoking is always allowed."""
    d = funded.deployment
    me = funded.account(1).address
    assert d.sessions and d.bundler and d.lender
    sent = funded.w3.eth.get_transaction_count(me)
    for address, name in ((d.vault, "the vault"), (d.lender, "the lender vault"), (d.base.address, "the USDC token")):
        for extra in ((), ("--sign-only",)):
            assert_one_line_error(
                run(funded, "account", "set-operator", address, "--permissions", "withdraw", *extra),
                f"{address} is {name} contract, which never acts as an operator",
            )
    assert_one_line_error(
        run(funded, "account", "set-operator", d.bundler, "--permissions", "withdraw,transfer"),
        "acts only with withdraw, trade (`account bundle` grants them): it has no use for transfer",
    )
    assert_one_line_error(
        run(funded, "account", "set-operator", d.sessions, "--permissions", "withdraw"), "it has no use for withdraw"
    )
    assert funded.w3.eth.get_transaction_count(me) == sent
    assert run(funded, "account", "set-operator", d.sessions, "--permissions", "trade").exit_code == 0
    assert run(funded, "account", "set-operator", d.bundler, "--permissions", "withdraw,trade").exit_code == 0
    assert run(funded, "account", "set-operator", d.bundler, "--permissions", "none").exit_code == 0
    assert funded.client(1).operator_permissions(me, d.sessions) == 4

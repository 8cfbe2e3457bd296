"""Session keys from the CLI against anvil: a trader grants a bot a key, the bot trades within its scope and is
refused outside it (one line), signs an order a relayer submits, cannot move collateral, and the grant is revoked
with the bot's open orders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keeper.client.sessions import SessionKeysClient
from keeper.client.vault import OPERATOR_PERMIT_KIND
from tests.python.conftest import Chain
from tests.python.test_cli import assert_one_line_error, run
from tests.python.test_keeper_jobs import keeper_for, traders, trading  # noqa: F401 (fixture)

pytestmark = pytest.mark.chain

OWNER, BOT, RELAYER = 1, 4, 5


def _order_id(output: str) -> int:
    return int(output.split(":")[0].removeprefix("order "))


def _accepted(chain: Chain, owner: str) -> str:
    """The bot key's acceptance of `owner`'s grant, as `session accept` prints it."""
    accepted = run(chain, "session", "accept", owner, dev=BOT)
    assert accepted.exit_code == 0, accepted.output
    return accepted.output.strip()


def _grant(chain: Chain, bot: str, accepted: str) -> list[str]:
    return ["session", "grant", bot, "--market", "ETH-USD", "--max-order", "10000", "--max-total", "25000",
            "--accepted", accepted]  # fmt: skip


def test_a_bot_trades_within_its_session_and_dies_with_it(traders: Chain, tmp_path: Path) -> None:  # noqa: F811
    chain = traders
    owner, bot = chain.account(OWNER).address, chain.account(BOT).address
    granted = run(chain, *_grant(chain, bot, _accepted(chain, owner)), dev=OWNER)
    assert granted.exit_code == 0, granted.output
    assert "up to 10,000.00 USD an order" in granted.output

    # The checks `trade submit` makes: a limit near the mark, reduce-only against the position.
    far = run(chain, "session", "trade", "ETH-USD", "1", "--side", "buy", "--limit", "1", dev=BOT)
    assert_one_line_error(far, "more than 50% away from the ETH-USD mark")
    reduce = ["session", "trade", "ETH-USD", "1", "--side", "sell", "--limit", "2900", "--reduce-only"]
    assert_one_line_error(run(chain, *reduce, dev=BOT), "would not reduce")
    placed = run(chain, "session", "trade", "ETH-USD", "1", "--side", "buy", "--limit", "3100", dev=BOT)
    assert placed.exit_code == 0, placed.output
    first = _order_id(placed.output)
    keeper_for(chain, tmp_path).jobs.orders.run()
    assert [p.market for p in trading(chain, OWNER).positions(owner)] == ["ETH-USD"]

    assert_one_line_error(
        run(chain, "session", "trade", "BTC-USD", "0.1", "--side", "buy", "--limit", "61000", dev=BOT),
        "not in this session key's scope",
    )
    assert_one_line_error(
        run(chain, "session", "trade", "ETH-USD", "4", "--side", "buy", "--limit", "3100", dev=BOT),
        "above the session's cap of 10,000.00 USD an order",
    )
    assert_one_line_error(run(chain, "account", "withdraw", "1", "WETH", "--account", owner, dev=BOT), "not the owner")

    signed = run(chain, "session", "trade", "ETH-USD", "1", "--side", "buy", "--limit", "3100", "--sign-only", dev=BOT)
    assert signed.exit_code == 0, signed.output
    path = tmp_path / "order.json"
    path.write_text(signed.output)
    assert json.loads(signed.output)["key"] == bot
    relayed = run(chain, "relay", str(path), dev=RELAYER)
    assert relayed.exit_code == 0, relayed.output
    assert_one_line_error(run(chain, "relay", str(path), dev=RELAYER), "was used or cancelled")
    pending = _order_id(relayed.output)

    revoked = run(chain, "session", "revoke", bot, dev=OWNER)
    assert revoked.exit_code == 0, revoked.output
    assert "1 open order(s) cancelled" in revoked.output
    assert trading(chain, OWNER).order(pending).status == "cancelled"
    assert trading(chain, OWNER).order(first).status != "cancelled"
    assert_one_line_error(
        run(chain, "session", "trade", "ETH-USD", "1", "--side", "buy", "--limit", "3100", dev=BOT), "was revoked"
    )
    signed = ["session", "trade", "ETH-USD", "1", "--side", "buy", "--limit", "3100", "--sign-only"]
    assert_one_line_error(run(chain, *signed, dev=BOT), "was revoked")
    listed = run(chain, "session", "list", "--json", dev=OWNER)
    assert json.loads(listed.output)[0]["status"] == "revoked"
    # Nothing left to do: refused in one line, no transaction sent.
    sent = chain.w3.eth.get_transaction_count(owner)
    assert_one_line_error(run(chain, "session", "revoke", bot, dev=OWNER), "is revoked already")
    assert_one_line_error(
        run(chain, "session", "withdraw-relayer-funds", bot, "all", dev=OWNER), "has no relayer funds to withdraw"
    )
    assert chain.w3.eth.get_transaction_count(owner) == sent
    assert SessionKeysClient(chain.w3, chain.deployment).session(bot).notional_used == 6_200 * 10**18


def test_a_malformed_signed_order_file_is_one_line(chain: Chain, tmp_path: Path) -> None:
    good = {"sub_account": "0", "market": "0", "size": "1", "limit_price": "1", "deadline": "1", "nonce": "1"}
    good |= {"relayer_fee": "0"}
    for broken in ({"key": "0x12", "signature": "0x00"}, {"key": chain.account(BOT).address, "signature": "0xzz"}):
        path = tmp_path / "order.json"
        path.write_text(json.dumps({**good, "reduce_only": False, **broken}))
        assert_one_line_error(run(chain, "relay", str(path), dev=RELAYER), "is not a signed order")
    path.write_text("not json")
    assert_one_line_error(run(chain, "relay", str(path), dev=RELAYER), "is not a signed order")


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("sub_account", "256", "sub_account 256 does not fit a uint8"),
        ("market", "-1", "market -1 does not fit a uint8"),
        ("limit_price", "-1", "limit_price -1 does not fit a uint256"),
        ("size", str(2**255), f"size {2**255} does not fit an int256"),
        ("nonce", str(2**256), f"nonce {2**256} does not fit a uint256"),
        ("permissions", str(2**300), f"permissions {2**300} does not fit a uint256"),
        ("deadline", "-5", "deadline -5 does not fit a uint256"),
    ],
)
def test_a_signed_file_with_a_field_out_of_range_is_one_line(
    chain: Chain, tmp_path: Path, field: str, value: str, fragment: str
) -> None:
    key, owner = chain.account(BOT).address, chain.account(OWNER).address
    if field in ("permissions", "deadline"):
        signed = {"kind": OPERATOR_PERMIT_KIND, "owner": owner, "account": owner, "operator": key}
        signed |= {"permissions": "4", "nonce": "0", "deadline": "1"}
    else:
        signed = {"key": key, "sub_account": "0", "market": "0", "size": "1", "limit_price": "1", "deadline": "1"}
        signed |= {"reduce_only": False, "nonce": "1", "relayer_fee": "0"}
    path = tmp_path / "signed.json"
    path.write_text(json.dumps({**signed, field: value, "signature": "0x" + "11" * 65}))
    sent = chain.w3.eth.get_transaction_count(chain.account(RELAYER).address)
    assert_one_line_error(
        run(chain, "relay", str(path), dev=RELAYER),
        f"{path} is not a signed order or operator permit ({fragment}): use the JSON",
    )
    assert chain.w3.eth.get_transaction_count(chain.account(RELAYER).address) == sent


def test_a_relayer_is_paid_from_the_funds_the_owner_put_up(traders: Chain, tmp_path: Path) -> None:  # noqa: F811
    chain = traders
    owner, bot, relayer = (chain.account(i).address for i in (OWNER, BOT, RELAYER))
    chain.mint(OWNER, "USDC", 10)
    usdc = chain.client(OWNER).token("USDC")
    assert run(chain, *_grant(chain, bot, _accepted(chain, owner)), dev=OWNER).exit_code == 0
    funded = run(chain, "session", "fund-relayer", bot, "5", dev=OWNER)
    assert funded.exit_code == 0 and "relayer funds of" in funded.output and "5 USDC" in funded.output, funded.output

    signed = run(
        chain, "session", "trade", "ETH-USD", "1", "--side", "buy", "--limit", "3100", "--sign-only",
        "--relayer-fee", "1.5", dev=BOT,
    )  # fmt: skip
    assert signed.exit_code == 0, signed.output
    assert json.loads(signed.output)["relayer_fee"] == "1500000"
    path = tmp_path / "order.json"
    path.write_text(signed.output)
    before = usdc.balance_of(relayer)
    relayed = run(chain, "relay", str(path), dev=RELAYER)
    assert relayed.exit_code == 0 and "paid 1.5 USDC" in relayed.output, relayed.output
    assert usdc.balance_of(relayer) == before + 1_500_000
    sessions = SessionKeysClient(chain.w3, chain.deployment)
    assert sessions.relayer_funds(bot) == 3_500_000
    assert json.loads(run(chain, "session", "list", "--json", dev=OWNER).output)[0]["relayer_funds"] == "3.50"

    too_much = ["session", "trade", "ETH-USD", "1", "--side", "buy", "--limit", "3100", "--sign-only"]
    assert_one_line_error(run(chain, *too_much, "--relayer-fee", "10", dev=BOT), "more than this key's relayer funds")
    assert_one_line_error(
        run(
            chain, "session", "trade", "ETH-USD", "1", "--side", "buy", "--limit", "3100", "--relayer-fee", "1", dev=BOT
        ),
        "use it with --sign-only",
    )
    assert_one_line_error(run(chain, "session", "withdraw-relayer-funds", bot, "1", dev=BOT), "only the owner")
    withdrawn = run(chain, "session", "withdraw-relayer-funds", bot, "all", dev=OWNER)
    assert withdrawn.exit_code == 0, withdrawn.output
    assert usdc.balance_of(owner) == 10 * 10**6 - 5 * 10**6 + 3_500_000
    assert sessions.relayer_funds(bot) == 0


def test_a_grant_needs_the_keys_acceptance_of_that_owner(chain: Chain) -> None:
    owner, bot, other = (chain.account(i).address for i in (OWNER, BOT, RELAYER))
    sessions = SessionKeysClient(chain.w3, chain.deployment)
    sent = chain.w3.eth.get_transaction_count(other)
    # What someone who copies the owner's pending grant holds: the key's acceptance of the owner, not of them.
    assert_one_line_error(
        run(chain, *_grant(chain, bot, _accepted(chain, owner)), dev=RELAYER),
        f"{bot} has not accepted a grant from {other}",
    )
    assert_one_line_error(run(chain, *_grant(chain, bot, "0x12zz"), dev=OWNER), "is not a signature")
    assert_one_line_error(
        run(chain, *_grant(chain, bot, "0x1234"), dev=OWNER), f"is 2 bytes, not the 65 of a signature by {bot}"
    )
    assert chain.w3.eth.get_transaction_count(other) == sent, "nothing sent, the operator permission included"
    assert int(sessions.session(bot).owner, 16) == 0
    assert run(chain, *_grant(chain, bot, _accepted(chain, owner)), dev=OWNER).exit_code == 0
    assert sessions.session(bot).owner == owner
    assert_one_line_error(run(chain, "session", "accept", other, dev=BOT), f"was granted by {owner} already")


def _grant_wide(chain: Chain, owner_index: int, bot_index: int) -> None:
    """`owner_index` grants `bot_index` a key for ETH-USD on sub-account 0, with caps far above any order here."""
    owner, bot = chain.account(owner_index).address, chain.account(bot_index).address
    accepted = run(chain, "session", "accept", owner, dev=bot_index)
    assert accepted.exit_code == 0, accepted.output
    granted = run(
        chain, "session", "grant", bot, "--market", "ETH-USD", "--max-order", "100000", "--max-total", "200000",
        "--accepted", accepted.output.strip(), dev=owner_index,
    )  # fmt: skip
    assert granted.exit_code == 0, granted.output


def test_a_session_order_the_account_cannot_carry_is_refused_before_it_is_sent(traders: Chain) -> None:  # noqa: F811
    """`session trade` skipped the margin check `trade submit` makes: 10 ETH on 100 USDC was sent, cancelled at
    execution for want of equity, and still used up 31,000 USD of the key's total notional cap."""
    chain = traders
    owner_index, bot_index = 6, 7
    _grant_wide(chain, owner_index, bot_index)
    owner, bot = chain.fund(owner_index, "USDC", 100), chain.account(bot_index).address
    sessions = SessionKeysClient(chain.w3, chain.deployment)
    orders = trading(chain, 0).order_count()
    sent = chain.w3.eth.get_transaction_count(bot)
    order = ["session", "trade", "ETH-USD", "10", "--side", "buy", "--limit", "3100"]
    for extra in ((), ("--sign-only",)):
        assert_one_line_error(
            run(chain, *order, *extra, dev=bot_index),
            f"this order needs about 3,000.00 USDC of initial margin but {owner} has 100.00 USDC free",
        )
    assert chain.w3.eth.get_transaction_count(bot) == sent, "nothing sent"
    assert trading(chain, 0).order_count() == orders
    assert sessions.session(bot).notional_used == 0, "the key's cap untouched"
    # An order the account can carry still goes through.
    carried = run(chain, "session", "trade", "ETH-USD", "0.1", "--side", "buy", "--limit", "3100", dev=bot_index)
    assert carried.exit_code == 0, carried.output


def test_session_list_shows_only_the_orders_that_can_still_execute(traders: Chain) -> None:  # noqa: F811
    """The session contract's list of a key's open orders is pruned only at the key's next submission: `session
    list` showed orders executed, cancelled and past their deadline as open."""
    chain = traders
    owner, bot = chain.account(OWNER).address, chain.account(BOT).address
    assert run(chain, *_grant(chain, bot, _accepted(chain, owner)), dev=OWNER).exit_code == 0
    order = ["session", "trade", "ETH-USD", "1", "--side", "buy", "--limit", "3100"]
    executed, late, live, cancelled = (
        _order_id(run(chain, *order, *ttl, dev=BOT).output) for ttl in ((), ("--ttl", "60"), (), ())
    )
    assert trading(chain, 0).execute([executed])[0].executed
    trading(chain, OWNER).cancel(cancelled)
    chain.advance(120)  # past the late order's deadline, within the others'
    assert SessionKeysClient(chain.w3, chain.deployment).session(bot).open_orders == (executed, late, live, cancelled)

    listed = run(chain, "session", "list", "--json", dev=OWNER)
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.output)[0]["open_orders"] == [live]
    shown = run(chain, "session", "list", dev=OWNER)
    assert f"open orders [{live}]" in shown.output, shown.output


def test_a_session_limit_that_is_not_positive_names_the_option(traders: Chain) -> None:  # noqa: F811
    chain = traders
    owner, bot = chain.account(OWNER).address, chain.account(BOT).address
    assert run(chain, *_grant(chain, bot, _accepted(chain, owner)), dev=OWNER).exit_code == 0
    sent = chain.w3.eth.get_transaction_count(bot)
    for limit in ("0", "-5"):
        for extra in ((), ("--sign-only",)):
            result = run(chain, "session", "trade", "ETH-USD", "1", "--side", "buy", "--limit", limit, *extra, dev=BOT)
            assert_one_line_error(result, f"--limit {limit} must be greater than zero")
    assert chain.w3.eth.get_transaction_count(bot) == sent


def test_the_keys_scope_is_checked_before_the_margin(traders: Chain) -> None:  # noqa: F811
    """An order outside the key's scope is refused as such, not as a margin shortfall of the account it may not
    trade (sub-account 5 of the owner holds nothing): the sub-account, the market and the caps, in the contract's
    terms, before anything is signed or sent."""
    chain = traders
    owner, bot = chain.account(OWNER).address, chain.account(BOT).address
    assert run(chain, *_grant(chain, bot, _accepted(chain, owner)), dev=OWNER).exit_code == 0
    sent = chain.w3.eth.get_transaction_count(bot)
    outside = ["session", "trade", "ETH-USD", "1", "--side", "buy", "--limit", "3000", "--sub", "5"]
    assert_one_line_error(
        run(chain, *outside, dev=BOT), "sub-account 5 is not in this session key's scope (it may trade sub-accounts 0)"
    )
    assert_one_line_error(run(chain, *outside, "--sign-only", dev=BOT), "sub-account 5 is not in this session key's")
    # |size| x the higher of the limit and the mark (3,000), rounded up: 4 x 3,000 = 12,000 over the 10,000 an order.
    big = ["session", "trade", "ETH-USD", "4", "--side", "sell", "--limit", "2900", "--sub", "0"]
    assert_one_line_error(
        run(chain, *big, dev=BOT), "the order's notional 12,000.00 USD is above the session's cap of 10,000.00 USD"
    )
    assert chain.w3.eth.get_transaction_count(bot) == sent

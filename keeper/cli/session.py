"""`primevault session` and `primevault relay`: scoped session keys for trading bots (the owner grants, lists and
revokes; the key trades, or signs orders that anyone relays)."""

from __future__ import annotations

import json
import time
from dataclasses import fields
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path

import click
from eth_abi.abi import is_encodable
from eth_typing import ChecksumAddress

from keeper.chain.artifacts import load_artifact
from keeper.cli.context import CliContext, pass_context
from keeper.cli.params import ADDRESS, JSON_OPTION, SUB_OPTION, FiniteFloatRange
from keeper.cli.trade import chain_time, check_margin, checked_order, held_position
from keeper.client.clients import Clients
from keeper.client.sessions import OrderIntent, SessionKeysClient, SessionScope, SignedOrder
from keeper.client.trading import TradingClient
from keeper.client.vault import OPERATOR_PERMIT_KIND, PERMISSIONS, OperatorPermit, sub_account
from keeper.exceptions import InputError
from keeper.units import UINT256_MAX, format_units, parse_amount, parse_size

WAD = 10**18


@click.group()
def session() -> None:
    """Session keys: let a bot trade some of your sub-accounts and markets, within caps, until an expiry."""


def _client(ctx: CliContext, write: bool = True) -> SessionKeysClient:
    return SessionKeysClient(ctx.w3, ctx.deployment, ctx.sender() if write else None)


@session.command()
@click.argument("key", type=ADDRESS)
@click.option(
    "--sub",
    "subs",
    type=click.IntRange(0, 255),
    multiple=True,
    default=(0,),
    show_default=True,
    help="A sub-account id the key may trade; repeatable.",
)
@click.option("--market", "markets", multiple=True, required=True, help="A ticker the key may trade; repeatable.")
@click.option("--max-order", "max_order", required=True, help="Largest notional of one order, USD.")
@click.option("--max-total", "max_total", required=True, help="Notional of all its orders together, USD.")
@click.option(
    "--hours", type=FiniteFloatRange(0.01, 24 * 365), default=24, show_default=True, help="How long the key lives."
)
@click.option(
    "--accepted",
    "accepted_hex",
    required=True,
    help="The key's acceptance of your grant: what `session accept YOUR_ADDRESS` printed, run as the key.",
)
@pass_context
def grant(
    ctx: CliContext, key: ChecksumAddress, subs: tuple[int, ...], markets: tuple[str, ...], max_order: str,
    max_total: str, hours: float, accepted_hex: str,
) -> None:  # fmt: skip
    """Grant session KEY the right to trade your sub-accounts --sub in --market, within the caps.

    The session contract is made an operator of each sub-account with the trade permission only (your other
    operator permissions on it are kept); the key can never withdraw or transfer. The key must have accepted
    you as its owner (`session accept`), so no one who sees your grant can take the key first.
    """
    accepted = _signature(accepted_hex)
    if len(accepted) != 65 and not ctx.w3.eth.get_code(key):
        # A key without code signs with its private key: 65 bytes, or it is no acceptance at all (the contract
        # would say only that the key has not accepted).
        raise InputError(
            f'--accepted "{accepted_hex}" is {len(accepted)} bytes, not the 65 of a signature by {key}: pass the '
            "0x... line `session accept` printed for the key"
        )
    tickers = [ctx.deployment.market(m).ticker for m in markets]
    market_ids = tuple(i for i, m in enumerate(ctx.deployment.markets) if m.ticker in tickers)
    per_order = _session_cap("--max-order", max_order)
    total = _session_cap("--max-total", max_total)
    if per_order > total:
        raise InputError(f"--max-order {max_order} is above --max-total {max_total}: an order could never use it all")
    client = _client(ctx)
    vault = ctx.writer()
    scope = SessionScope(tuple(subs), market_ids, per_order, total, chain_time(ctx) + int(hours * 3600))
    # The grant is simulated first: a key it refuses (already granted, the zero address) must not leave the session
    # contract an operator of the sub-accounts.
    client.check_grant(key, scope, accepted)
    for sub in subs:
        account = sub_account(ctx.account.address, sub)
        held = vault.operator_permissions(account, client.address)
        if not held & PERMISSIONS["trade"]:
            vault.set_operator(account, client.address, held | PERMISSIONS["trade"])
    client.grant(key, scope, accepted)
    click.echo(
        f"granted {key}: sub-accounts {', '.join(map(str, subs))}, {', '.join(tickers)}, up to "
        f"{Decimal(per_order) / WAD:,.2f} USD an order and {Decimal(total) / WAD:,.2f} USD in all, for {hours:g} h"
    )


# The scope's notional caps are uint128 on chain (USD, 18 decimals).
MAX_SESSION_CAP = 2**128 - 1


def _session_cap(option: str, text: str) -> int:
    """A notional cap in USD WAD, refused beyond what the scope's uint128 holds."""
    cap = parse_amount(text, 18, option=option)
    if cap > MAX_SESSION_CAP:
        raise InputError(
            f"{option} {text} is more than a session cap can hold: give at most {format_units(MAX_SESSION_CAP, 18)} USD"
        )
    return cap


def _signature(text: str) -> bytes:
    """The key's acceptance as hex: 65 bytes from `session accept`, any length from a contract key's own signing
    (a Safe's holds one signature per owner); the grant's simulation checks it against the key."""
    try:
        signature = bytes.fromhex(text.strip().removeprefix("0x"))
    except ValueError:
        signature = b""
    if not signature:
        raise InputError(
            f'--accepted "{text}" is not a signature: pass the 0x... line `session accept` printed for the key'
        )
    return signature


@session.command()
@click.argument("owner", type=ADDRESS)
@pass_context
def accept(ctx: CliContext, owner: ChecksumAddress) -> None:
    """As a session key (your key), accept a grant from OWNER: prints the signature OWNER passes to `session grant
    --accepted`. Nothing is sent; a key is granted once, by the owner it accepted."""
    client = _client(ctx, write=False)
    granted = client.session(ctx.account.address)
    if int(granted.owner, 16) != 0:
        raise InputError(
            f"{ctx.account.address} was granted by {granted.owner} already (a key is granted once): use another key"
        )
    click.echo("0x" + client.accept(ctx.account, owner).hex())


@session.command()
@click.argument("key", type=ADDRESS)
@pass_context
def revoke(ctx: CliContext, key: ChecksumAddress) -> None:
    """Revoke session KEY now; its open orders are cancelled."""
    client = _client(ctx)
    view = client.session(key)
    if view.revoked and not view.open_orders and client.relayer_funds(key) == 0:
        raise InputError(f"{key} is revoked already, with no open orders or relayer funds: nothing to do")
    cancelled = client.revoke(key)
    click.echo(f"revoked {key}; {cancelled} open order(s) cancelled")
    # The contract revokes even when the token refuses the refund (a blacklist, a pause); the funds stay.
    kept = client.relayer_funds(key)
    if kept:
        base = ctx.deployment.base
        click.echo(
            f"the token refused to return {format_units(kept, base.decimals)} {base.symbol} of relayer funds: they"
            f" stay for `primevault session withdraw-relayer-funds {key} AMOUNT`"
        )


@session.command("fund-relayer")
@click.argument("key", type=ADDRESS)
@click.argument("amount")
@pass_context
def fund_relayer(ctx: CliContext, key: ChecksumAddress, amount: str) -> None:
    """Put up AMOUNT of the base asset for relayers of KEY's signed orders.

    Each signed order names its fee, paid from these funds to whoever relays it. A leaked key can give them all
    away, so fund only what relaying should cost; they come back with `withdraw-relayer-funds` or `revoke`.
    """
    base = ctx.deployment.base
    units = parse_amount(amount, base.decimals, base.symbol)
    client = _client(ctx)
    client.fund_relayer(key, units)
    funds = client.relayer_funds(key)
    click.echo(f"relayer funds of {key}: {format_units(funds, base.decimals)} {base.symbol}")


@session.command("withdraw-relayer-funds")
@click.argument("key", type=ADDRESS)
@click.argument("amount")
@pass_context
def withdraw_relayer_funds(ctx: CliContext, key: ChecksumAddress, amount: str) -> None:
    """Take back AMOUNT (or `all`) of KEY's relayer funds."""
    base = ctx.deployment.base
    client = _client(ctx)
    held = client.relayer_funds(key)
    units = held if amount.strip().lower() == "all" else parse_amount(amount, base.decimals, base.symbol)
    if units == 0:
        raise InputError(f"{key} has no relayer funds to withdraw")
    client.withdraw_relayer_funds(key, units)
    click.echo(
        f"withdrew {format_units(units, base.decimals)} {base.symbol}; "
        f"{format_units(held - units, base.decimals)} {base.symbol} left for relayers of {key}"
    )


@session.command("list")
@JSON_OPTION
@pass_context
def list_sessions(ctx: CliContext, as_json: bool) -> None:
    """The session keys you granted, with what they used and their open orders."""
    client = _client(ctx, write=False)
    views = [client.session(k) for k in client.keys_of(ctx.account.address)]
    now = chain_time(ctx)
    trading = TradingClient(ctx.w3, ctx.deployment)
    rows: list[dict[str, object]] = []
    for v in views:
        status = "revoked" if v.revoked else ("expired" if v.scope.expiry <= now else "active")
        tickers = [ctx.deployment.markets[m].ticker for m in v.scope.markets if m < len(ctx.deployment.markets)]
        rows.append(
            {
                "key": v.key,
                "status": status,
                "sub_accounts": list(v.scope.sub_accounts),
                "markets": tickers,
                "used_usd": format_units(v.notional_used, 18, 2),
                "max_total_usd": format_units(v.scope.max_notional_total, 18, 2),
                "expiry": v.scope.expiry,
                "open_orders": _live_orders(trading, v.open_orders, now),
                "relayer_funds": format_units(client.relayer_funds(v.key), ctx.deployment.base.decimals, 2),
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no session keys granted")
    for r in rows:
        click.echo(
            f"{r['key']}  {r['status']!s:<8} subs {r['sub_accounts']} markets {r['markets']}  used "
            f"{r['used_usd']} of {r['max_total_usd']} USD  open orders {r['open_orders'] or 'none'}  relayer funds "
            f"{r['relayer_funds']} {ctx.deployment.base.symbol}"
        )


def _live_orders(trading: TradingClient, order_ids: tuple[int, ...], now: int) -> list[int]:
    """The orders of `order_ids` that can still execute: open on chain, within their deadline and not voided by the
    owner's `cancelAllOrders`, or routed to the venues and working there. The session contract's list keeps a key's
    done orders (executed, cancelled, past their deadline, voided) until the key's next submission prunes it, so each
    one's status is read."""
    live = []
    for order_id in order_ids:
        order = trading.order(order_id)
        if order.status == "routed" or (order.status == "open" and order.deadline >= now and not order.voided):
            live.append(order_id)
    return live


@session.command("trade")
@click.argument("market")
@click.argument("size")
@click.option("--side", type=click.Choice(["buy", "sell"]), required=True, help="Buy (long) or sell (short).")
@click.option("--limit", "limit_text", required=True, help="Worst average price accepted, USD.")
@SUB_OPTION
@click.option("--ttl", type=click.IntRange(1, 30 * 86_400), default=600, show_default=True, help="Seconds to live.")
@click.option("--reduce-only", is_flag=True, help="Only shrink the position, never open or grow one.")
@click.option("--sign-only", is_flag=True, help="Print the signed order as JSON for `primevault relay` instead.")
@click.option(
    "--nonce",
    type=click.IntRange(0, UINT256_MAX),
    help="The signed order's nonce, a uint256 (default: the time in ms).",
)
@click.option(
    "--relayer-fee",
    "fee_text",
    help="With --sign-only: pay whoever relays it this much of the base asset, from the key's relayer funds.",
)
@pass_context
def trade_as_key(
    ctx: CliContext, market: str, size: str, side: str, limit_text: str, sub_id: int, ttl: int, reduce_only: bool,
    sign_only: bool, nonce: int | None, fee_text: str | None,
) -> None:  # fmt: skip
    """As a session key (your key is the session's), submit or sign an order for SIZE of MARKET on the owner's
    sub-account --sub."""
    ticker = ctx.deployment.market(market).ticker
    market_id = next(i for i, m in enumerate(ctx.deployment.markets) if m.ticker == ticker)
    amount = parse_size(size)
    # The checks `trade submit` makes, before anything is signed or sent: the session alive, the size on a venue's
    # step, the limit near the mark, reduce-only against the position it would reduce, the initial margin it adds
    # against the owner's free equity (an order the account cannot carry is cancelled at execution, and would still
    # use up the key's total notional cap).
    view = _client(ctx, write=False).session(ctx.account.address)
    if int(view.owner, 16) == 0:
        raise InputError(f"{ctx.account.address} is not a session key: the owner grants it with `session grant`")
    if view.revoked:
        raise InputError(f"this session key was revoked by its owner {view.owner}")
    if view.scope.expiry <= chain_time(ctx):
        raise InputError("this session key has expired: ask the owner for a new grant")
    # The key's scope, as the session contract checks it (`_submit`), before the margin: an order outside it is
    # refused whatever the account's margin.
    scope = view.scope
    if sub_id not in scope.sub_accounts:
        subs = ", ".join(map(str, scope.sub_accounts))
        raise InputError(
            f"sub-account {sub_id} is not in this session key's scope (it may trade sub-accounts {subs}): pass one "
            "of those with --sub, or ask the owner for a grant that includes it"
        )
    if market_id not in scope.markets:
        tickers = ", ".join(ctx.deployment.markets[m].ticker for m in scope.markets if m < len(ctx.deployment.markets))
        raise InputError(
            f"{ticker} is not in this session key's scope (it may trade {tickers}): trade one of those, or ask the "
            "owner for a grant that includes it"
        )
    trading = TradingClient(ctx.w3, ctx.deployment)
    direction, limit, mark = checked_order(ctx, trading, ticker, amount, side, limit_text, 0)
    _check_notional(scope, view.notional_used, amount, limit, mark)
    account = sub_account(view.owner, sub_id)
    held = held_position(trading, account, ticker, direction * amount, reduce_only)
    check_margin(Clients.build(ctx.w3, ctx.deployment), account, ticker, direction * amount, held, mark)
    order = OrderIntent(sub_id, market_id, direction * amount, limit, chain_time(ctx) + ttl, reduce_only)
    base = ctx.deployment.base
    if fee_text and not sign_only:
        raise InputError("--relayer-fee pays a relayer of a signed order: use it with --sign-only")
    fee = parse_amount(fee_text, base.decimals, option="--relayer-fee") if fee_text else 0
    if sign_only:
        client = _client(ctx, write=False)
        funds = client.relayer_funds(ctx.account.address)
        if fee > funds:
            raise InputError(
                f"the relayer fee {format_units(fee, base.decimals)} {base.symbol} is more than this key's relayer "
                f"funds ({format_units(funds, base.decimals)} {base.symbol}): the owner adds to them with "
                "`session fund-relayer`"
            )
        signed = client.sign(ctx.account, order, nonce if nonce is not None else time.time_ns() // 10**6, fee)
        click.echo(json.dumps(signed.to_json(), indent=2))
        return
    order_id = _client(ctx).submit(order)
    click.echo(f"order {order_id}: {side} {amount.normalize():f} {ticker} as session key, limit {limit:,.2f}")


def _check_notional(scope: SessionScope, used: int, size: Decimal, limit: Decimal, mark: Decimal) -> None:
    """Refuses an order beyond the key's notional caps, with the session contract's notional (`_notional`): |size| x
    the higher of the limit and the oracle's mark, in USD WAD, rounded up; against the per-order cap, and with what
    the key has used against the total cap."""
    product = abs(int(size * WAD)) * max(int(limit * WAD), int(mark * WAD))
    notional = -(-product // WAD)

    def usd(value: int) -> str:
        return f"{format_units(value, 18, 2, ROUND_CEILING)} USD"

    def cap(value: int) -> str:
        return f"{format_units(value, 18, 2, ROUND_FLOOR)} USD"

    if notional > scope.max_notional_per_order:
        raise InputError(
            f"the order's notional {usd(notional)} is above the session's cap of {cap(scope.max_notional_per_order)} "
            "an order: trade less"
        )
    if used + notional > scope.max_notional_total:
        left = max(scope.max_notional_total - used, 0)
        raise InputError(
            f"the session would reach {usd(used + notional)} of notional, above its total cap of "
            f"{cap(scope.max_notional_total)} ({cap(left)} left): trade less, or ask the owner for a new grant"
        )


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_context
def relay(ctx: CliContext, file: Path) -> None:
    """Submit what someone signed in FILE, paying the gas: a session key's order (`session trade --sign-only`) or
    an owner's operator permit (`account set-operator --sign-only`)."""
    try:
        data = json.loads(file.read_text())
        permit = data.get("kind") == OPERATOR_PERMIT_KIND
        signed: OperatorPermit | SignedOrder = OperatorPermit.from_json(data) if permit else SignedOrder.from_json(data)
        _require_encodable(signed)
    except FileNotFoundError:
        raise InputError(f"{file} does not exist") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(
            f"{file} is not a signed order or operator permit ({exc}): use the JSON `session trade --sign-only` or "
            "`account set-operator --sign-only` prints"
        ) from None
    if isinstance(signed, OperatorPermit):
        ctx.writer().set_operator_with_sig(signed)
        granted = ", ".join(name for name, bit in PERMISSIONS.items() if signed.permissions & bit)
        click.echo(f"operator {signed.operator} on {signed.account}: {granted or 'revoked'} (permit of {signed.owner})")
        return
    order_id = _client(ctx).relay(signed)
    base = ctx.deployment.base
    paid = f"; paid {format_units(signed.relayer_fee, base.decimals)} {base.symbol}" if signed.relayer_fee else ""
    click.echo(f"order {order_id}: relayed for session key {signed.key}{paid}")


def _require_encodable(signed: OperatorPermit | SignedOrder) -> None:
    """Raises ValueError naming the first field of `signed` beyond its type in the ABI of the function that submits
    it (a sub_account of 256 for a uint8): web3 would refuse to encode it, with a traceback."""
    artifact, function = (
        ("PrimeVault", "setOperatorWithSig") if isinstance(signed, OperatorPermit) else ("SessionKeys", "submitSigned")
    )
    abi = next(e for e in load_artifact(artifact).abi if e["type"] == "function" and e["name"] == function)
    values = signed.as_tuple()  # the struct the function takes, in the order of the dataclass's first fields
    for field, component, value in zip(
        fields(signed)[: len(values)], abi["inputs"][0]["components"], values, strict=True
    ):
        if not is_encodable(component["type"], value):
            article = "an" if component["type"].startswith("int") else "a"
            raise ValueError(f"{field.name} {value} does not fit {article} {component['type']}")

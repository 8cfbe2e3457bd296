"""`primevault account`: a depositor's view and actions on their sub-accounts, in human units."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from decimal import ROUND_CEILING, Decimal
from typing import Any

import click
from click.core import ParameterSource
from eth_typing import ChecksumAddress
from web3.exceptions import ContractLogicError

from keeper.chain.revert import revert_reason
from keeper.cli.context import CliContext, pass_context
from keeper.cli.params import ADDRESS, JSON_OPTION, SLIPPAGE_OPTION, SUB_OPTION, chosen_account
from keeper.cli.trade import chain_time, check_margin, checked_order
from keeper.client.bundler import BundledOrder, BundlerClient
from keeper.client.clients import Clients
from keeper.client.portfolio import PortfolioMarginClient
from keeper.client.trading import WAD, PositionView, TradingClient
from keeper.client.vault import PERMISSIONS, VaultClient, sub_account
from keeper.exceptions import InputError, PrimeVaultError, TransactionReverted
from keeper.liquidator import parameters
from keeper.risk.capacity import (
    CollateralHolding,
    Indices,
    booked_balance,
    borrowable,
    deposit_free_gain,
    withdrawable_base,
    withdrawable_collateral,
    withdrawable_from_book,
)
from keeper.risk.health import MAX_VENUES
from keeper.risk.portfolio import exact_portfolio
from keeper.units import format_exact, format_units, format_usd, parse_amount, parse_size, plain_units

_account_option = click.option(
    "--account",
    "on_behalf",
    type=ADDRESS,
    help="Act on this account as its operator instead of on your own sub-account.",
)


@click.group()
def account() -> None:
    """Show and manage your sub-accounts."""


def _own(ctx: CliContext, sub_id: int) -> ChecksumAddress:
    return sub_account(ctx.account.address, sub_id)


def _remember_symbol(symbol: str) -> None:
    click.get_current_context().meta["primevault.symbol"] = symbol


@account.command()
@click.argument("address", type=ADDRESS, required=False)
@SUB_OPTION
@JSON_OPTION
@pass_context
def show(ctx: CliContext, address: ChecksumAddress | None, sub_id: int, as_json: bool) -> None:
    """Balances, positions, debt, equity and health of a sub-account.

    ADDRESS (a sub-account's full address) or your own sub-account --sub. Also shows how much it can borrow and
    withdraw now.
    """
    client = ctx.reader()
    target = chosen_account(ctx, sub_id, address, "ADDRESS")
    trading = TradingClient(client.w3, client.deployment) if client.deployment.trading else None
    view = account_view(client, target, trading)
    click.echo(json.dumps(view, indent=2) if as_json else render_account(view))


def account_view(client: VaultClient, target: str, trading: TradingClient | None) -> dict[str, Any]:
    """Everything `show` prints, as exact decimal strings in human units (for --json and the table). While a venue
    of the account's positions cannot answer its funding index, the vault cannot compute the account's health (its
    view asks every one of them): the balances and positions are shown, and which venue it waits for."""
    d = client.deployment
    base = d.base
    positions = trading.positions(target) if trading is not None else []
    # Open child orders (order protocol v2) count as positions for the vault's check, as held positions do.
    has_positions = bool(positions) or (trading is not None and trading.reservation(target)[1] > 0)
    try:
        health = client.health(target)
    except (TransactionReverted, ContractLogicError):
        waiting = venues_without_funding(trading, target) if trading is not None else {}
        if not waiting:
            raise
        return _view_without_health(client, target, positions, waiting)
    # The vault checks the requirement only for accounts with debt or positions (`_requireInitialHealth`).
    checked = health.base_balance < 0 or has_positions
    # Signed: below the initial requirement a checked account can take nothing out, however little.
    free = health.equity - health.initial_requirement
    liquidity = client.available_liquidity()
    market = client.market()
    indices = Indices(market.supply_index, market.borrow_index)
    holdings = _holdings(client, target)
    in_portfolio = client.portfolio_mode(target)
    # In portfolio mode the requirement is the whole book's: a withdrawal from a hedge raises it.
    book_free_after = (
        _portfolio_free_after(client, target, trading, list(holdings.values()), health.equity)
        if in_portfolio and checked
        else None
    )
    collateral = {}
    for i, (symbol, holding) in enumerate(holdings.items()):
        if holding.balance:
            decimals = d.token(symbol).decimals
            if book_free_after is None:
                most = withdrawable_collateral(holding, free, checked)
            else:
                most = withdrawable_from_book(holding.balance, functools.partial(book_free_after, i))
            collateral[symbol] = {
                "balance": plain_units(holding.balance, decimals),
                "withdrawable": plain_units(most, decimals),
            }

    def usd(units: int) -> str:
        return plain_units(units, base.decimals)

    return {
        "account": target,
        "owner": client.owner_of(target),
        "margin": "portfolio" if in_portfolio else "standard",
        "base": {
            "symbol": base.symbol,
            "balance": usd(health.base_balance),
            "withdrawable": usd(withdrawable_base(health.base_balance, free, checked, liquidity, indices)),
            "borrowable": usd(
                borrowable(
                    health.equity,
                    health.initial_requirement,
                    liquidity,
                    health.base_balance,
                    client.min_borrow(),
                    indices,
                )
            ),
        },
        "collateral": collateral,
        "collateral_value": usd(health.collateral_value),
        "unrealized_pnl": usd(health.unrealized_pnl),
        "equity": usd(health.equity),
        "initial_requirement": usd(health.initial_requirement),
        "maintenance_requirement": usd(health.maintenance_requirement),
        "health": health_ratio(health.equity, health.maintenance_requirement),
        "liquidatable": health.liquidatable,
        "positions": _positions_view(positions),
    }


def _portfolio_free_after(
    client: VaultClient,
    target: str,
    trading: TradingClient | None,
    holdings: list[CollateralHolding],
    equity: int,
) -> Callable[[int, int], int]:
    """For an account in portfolio mode: its equity minus the rule's initial requirement (and the margin its open
    children reserve) once an amount of collateral asset `asset` (in the vault's order) has left, as the vault
    computes both after a withdrawal."""
    params = parameters(Clients.build(client.w3, client.deployment).lens.risk_state())
    rule, layout = PortfolioMarginClient(client.w3, client.deployment).rule()
    entries = trading.book_entries(target) if trading is not None else []
    positions = [(slot, e.size, e.entry_price, e.funding_index) for slot, e in entries]
    reserved = trading.reservation(target)[0] if trading is not None else 0
    balances = [h.balance for h in holdings]

    def free_after(asset: int, amount: int) -> int:
        held = holdings[asset]
        after = [*balances[:asset], held.balance - amount, *balances[asset + 1 :]]
        value_now = held.balance * held.price // int(10**held.scale_exponent)
        value_after = (held.balance - amount) * held.price // int(10**held.scale_exponent)
        initial = exact_portfolio(after, positions, params, layout, rule).initial + reserved
        return equity - (value_now - value_after) - initial

    return free_after


def health_ratio(equity: int, maintenance: int) -> str | None:
    """Equity over the maintenance requirement to three decimals, exact and rounded down (toward the liquidation):
    an account below its requirement never reads 1.000. None without a requirement."""
    if maintenance <= 0:
        return None
    return f"{Decimal(equity * 1000 // maintenance).scaleb(-3):.3f}"


def venues_without_funding(trading: TradingClient, target: str) -> dict[str, str]:
    """The venues of `target`'s positions that cannot answer their funding index now, each with why: the vault's
    health view (`perpRisk`) reverts while one cannot, as withdrawals and borrowing do; a liquidation goes on without
    it (`liquidationRisk`)."""
    adapters = trading.adapters()
    waiting: dict[str, str] = {}
    for slot, _ in trading.book_entries(target):
        market_id, venue_id = divmod(slot, MAX_VENUES)
        try:
            adapters[venue_id].funding_index(market_id)
        except TransactionReverted as exc:
            empty = exc.error.name == "UnknownError" and not exc.error.args.get("data")
            waiting.setdefault(trading.venue_name(venue_id), "it reverts without a reason" if empty else str(exc.error))
        except ContractLogicError as exc:
            waiting.setdefault(trading.venue_name(venue_id), revert_reason(exc))
    return waiting


def _view_without_health(
    client: VaultClient, target: str, positions: list[PositionView], waiting: dict[str, str]
) -> dict[str, Any]:
    """`account_view` while the vault cannot compute the account's health: its balances and positions, and every
    figure that needs the health (value, equity, requirements, what can be withdrawn or borrowed) None."""
    d = client.deployment
    reasons = "; ".join(f"{venue}'s funding index: {reason}" for venue, reason in waiting.items())
    answers = "answers" if len(waiting) == 1 else "answer"
    collateral = {}
    for token in d.collateral:
        balance = client.collateral_balance(target, token.symbol)
        if balance:
            collateral[token.symbol] = {"balance": plain_units(balance, token.decimals), "withdrawable": None}
    return {
        "account": target,
        "owner": client.owner_of(target),
        "margin": "portfolio" if client.portfolio_mode(target) else "standard",
        "base": {
            "symbol": d.base.symbol,
            "balance": plain_units(client.base_balance(target), d.base.decimals),
            "withdrawable": None,
            "borrowable": None,
        },
        "collateral": collateral,
        "collateral_value": None,
        "unrealized_pnl": None,
        "equity": None,
        "initial_requirement": None,
        "maintenance_requirement": None,
        "health": None,
        "liquidatable": None,
        "positions": _positions_view(positions),
        "health_waits_for": list(waiting),
        "health_unavailable": (
            f"cannot be computed until {' and '.join(waiting)} {answers} ({reasons}); withdrawing and borrowing wait "
            "for it too"
        ),
    }


def _positions_view(positions: list[PositionView]) -> list[dict[str, str]]:
    return [
        {"market": p.market, "venue": p.venue, "size": format(p.size, "f"), "entry_price": format(p.entry_price, "f")}
        for p in positions
    ]


def render_account(view: dict[str, Any]) -> str:
    base = view["base"]
    symbol = base["symbol"]

    def usd(text: str, owed: bool = False) -> str:
        return format_usd(Decimal(text), owed)

    # The vault records an owner when one first acts on the account's prefix (address zero until then): a deposit
    # into the account by someone else records none.
    owner = "none yet (recorded when its owner first acts on it)" if int(view["owner"], 16) == 0 else view["owner"]
    lines = [f"account    {view['account']}", f"owner      {owner}", f"margin     {view['margin']} rule"]
    debt = " (debt)" if Decimal(base["balance"]) < 0 else ""
    lines.append(f"{symbol:<10} {usd(base['balance'])}{debt}")
    for name, held in view["collateral"].items():
        withdrawable = "" if held["withdrawable"] is None else f" withdrawable {held['withdrawable']}"
        lines.append(f"{name:<10} {held['balance']:<24}{withdrawable}".rstrip())
    for p in view["positions"]:
        lines.append(f"position   {p['market'] + ' at ' + p['venue']:<24} {p['size']} @ {p['entry_price']}")
    if view.get("health_unavailable"):
        lines.append(f"health                   {view['health_unavailable']}")
        return "\n".join(lines)
    lines += [
        f"collateral value         {usd(view['collateral_value'])} {symbol}",
        f"unrealized perp PnL      {usd(view['unrealized_pnl'])} {symbol}",
        f"equity                   {usd(view['equity'])} {symbol}",
        f"initial requirement      {usd(view['initial_requirement'], owed=True)} {symbol}",
        f"maintenance requirement  {usd(view['maintenance_requirement'], owed=True)} {symbol}",
        f"borrowable now           {usd(base['borrowable'])} {symbol}",
    ]
    if Decimal(base["balance"]) > 0:
        lines.append(f"withdrawable {symbol:<11} {usd(base['withdrawable'])} {symbol}")
    if view["health"] is not None:
        lines.append(f"health                   {view['health']}")
    lines.append(f"liquidatable             {'YES' if view['liquidatable'] else 'no'}")
    return "\n".join(lines)


@account.command()
@click.argument("amount")
@click.argument("asset")
@SUB_OPTION
@click.option("--to", "to_account", type=ADDRESS, help="Deposit into this account instead of your own.")
@pass_context
def deposit(ctx: CliContext, amount: str, asset: str, sub_id: int, to_account: ChecksumAddress | None) -> None:
    """Deposit AMOUNT of ASSET into a sub-account.

    For example `deposit 1.5 WETH`. USDC repays debt first, then supplies.
    """
    token = ctx.deployment.token(asset)
    _remember_symbol(token.symbol)
    units = parse_amount(amount, token.decimals, token.symbol)
    target = chosen_account(ctx, sub_id, to_account, "--to")
    _require_an_account_someone_can_use(ctx, target)
    client = ctx.writer()
    if token.symbol == ctx.deployment.base.symbol:
        # A base deposit into an account with debt repays part of it: the vault refuses one that leaves dust debt.
        own = f" --sub {sub_id}" if sub_id and to_account is None else ""
        _refuse_dust_debt(client, target, units, f"depositing {{amount}} into {target}", "deposit at most {most}", own)
    receipt = client.deposit(target, token.symbol, units)
    click.echo(
        f"deposited {format_units(units, token.decimals)} {token.symbol} into {target} (block {receipt['blockNumber']})"
    )


@account.command()
@click.argument("amount")
@click.argument("asset")
@SUB_OPTION
@_account_option
@click.option("--to", "receiver", type=ADDRESS, help="Send to this address instead of your wallet.")
@pass_context
def withdraw(
    ctx: CliContext,
    amount: str,
    asset: str,
    sub_id: int,
    on_behalf: ChecksumAddress | None,
    receiver: ChecksumAddress | None,
) -> None:
    """Withdraw AMOUNT of ASSET to your wallet.

    The account must stay above its initial requirement.
    """
    token = ctx.deployment.token(asset)
    _remember_symbol(token.symbol)
    units = parse_amount(amount, token.decimals, token.symbol)
    target = chosen_account(ctx, sub_id, on_behalf)
    if receiver is not None:
        _require_not_a_protocol_contract(ctx, receiver)
    client = ctx.writer()
    # A base withdrawal past the account's supply borrows the rest: said, with the debt, as `borrow` says it.
    supplied = max(client.base_balance(target), 0) if token.symbol == ctx.deployment.base.symbol else None
    receipt = client.withdraw(target, token.symbol, units, receiver)
    withdrew = f"withdrew {format_units(units, token.decimals)} {token.symbol} from {target}"
    block = f"(block {receipt['blockNumber']})"
    if supplied is None or units <= supplied:
        click.echo(f"{withdrew} {block}")
        return
    debt = max(-client.base_balance(target), 0)
    click.echo(
        f"{withdrew} and borrowed {format_units(units - supplied, token.decimals)} {token.symbol} of it; {target} now "
        f"owes {format_units(debt, token.decimals, 2)} {token.symbol} {block}"
    )


@account.command()
@click.argument("amount")
@SUB_OPTION
@_account_option
@pass_context
def borrow(ctx: CliContext, amount: str, sub_id: int, on_behalf: ChecksumAddress | None) -> None:
    """Borrow AMOUNT of USDC against the sub-account's collateral."""
    base = ctx.deployment.base
    _remember_symbol(base.symbol)
    units = parse_amount(amount, base.decimals, base.symbol)
    target = chosen_account(ctx, sub_id, on_behalf)
    client = ctx.writer()
    receipt = client.borrow(target, units)
    balance = client.base_balance(target)
    click.echo(
        f"borrowed {format_units(units, base.decimals)} {base.symbol}; {target} now owes "
        f"{format_units(max(-balance, 0), base.decimals, 2)} {base.symbol} (block {receipt['blockNumber']})"
    )


@account.command()
@click.argument("amount")
@SUB_OPTION
@pass_context
def repay(ctx: CliContext, amount: str, sub_id: int) -> None:
    """Repay AMOUNT of USDC debt, or `max` for all of it."""
    base = ctx.deployment.base
    _remember_symbol(base.symbol)
    units = None if amount.lower() == "max" else parse_amount(amount, base.decimals, base.symbol)
    target = _own(ctx, sub_id)
    client = ctx.writer()
    debt = max(-client.base_balance(target), 0)
    if debt == 0:
        raise InputError(f"nothing to repay: {target} owes no {base.symbol}")
    if units is not None:
        own = f" --sub {sub_id}" if sub_id else ""
        _refuse_dust_debt(client, target, units, "repaying {amount}", "repay at most {most}", own)
    client.repay(target, units)
    remaining = max(-client.base_balance(target), 0)
    click.echo(f"repaid; {target} owes {format_units(remaining, base.decimals, 2)} {base.symbol}")


@account.command()
@click.argument("mode", type=click.Choice(["on", "off"]))
@SUB_OPTION
@pass_context
def portfolio(ctx: CliContext, mode: str, sub_id: int) -> None:
    """Margin a sub-account by the portfolio rule (`on`) or the standard one (`off`).

    In portfolio mode one requirement covers the whole book, so hedges net (docs/risk.md, "Portfolio margin"); a
    liquidation then cuts every leg by the same fraction. The account must meet the new rule's initial requirement.
    """
    target = _own(ctx, sub_id)
    client = ctx.writer()
    if client.portfolio_mode(target) == (mode == "on"):
        rule = "portfolio" if mode == "on" else "standard"
        raise InputError(f"{target} is margined by the {rule} rule already: nothing to change")
    try:
        client.set_portfolio_mode(target, mode == "on")
    except TransactionReverted as exc:
        if exc.error.name != "InsufficientEquity":
            raise
        base = ctx.deployment.base
        # Exactly: rounded to the cent, an equity a unit short of the requirement read as equal to it.
        equity, need = (format_exact(int(exc.error.args[k]), base.decimals) for k in ("equity", "initialRequirement"))
        rule = "portfolio" if mode == "on" else "standard"
        raise InputError(
            f"under the {rule} rule {target} would need {need} {base.symbol} of initial margin and has {equity}: "
            "deposit collateral, repay or reduce positions first [InsufficientEquity]"
        ) from None
    health = client.health(target)
    base = ctx.deployment.base
    # Rounded up, as `account show` prints what an account needs.
    click.echo(
        f"{target} is margined by the {'portfolio' if mode == 'on' else 'standard'} rule: initial requirement "
        f"{format_units(health.initial_requirement, base.decimals, 2, ROUND_CEILING)} {base.symbol}, maintenance "
        f"{format_units(health.maintenance_requirement, base.decimals, 2, ROUND_CEILING)} {base.symbol}"
    )


@account.command()
@click.argument("amount")
@click.argument("asset")
@click.option("--from-sub", type=click.IntRange(0, 255), required=True, help="Source sub-account id.")
@click.option("--to-sub", type=click.IntRange(0, 255), required=True, help="Destination sub-account id.")
@pass_context
def transfer(ctx: CliContext, amount: str, asset: str, from_sub: int, to_sub: int) -> None:
    """Move AMOUNT of ASSET between your sub-accounts.

    One transaction; both must be yours.
    """
    token = ctx.deployment.token(asset)
    _remember_symbol(token.symbol)
    units = parse_amount(amount, token.decimals, token.symbol)
    if from_sub == to_sub:
        raise InputError("--from-sub and --to-sub are the same sub-account")
    source, target = _own(ctx, from_sub), _own(ctx, to_sub)
    client = ctx.writer()
    if token.symbol == ctx.deployment.base.symbol:
        # Base moved into a sub-account with debt repays part of it: the vault refuses one that leaves dust debt.
        _refuse_dust_debt(
            client,
            target,
            units,
            f"moving {{amount}} into sub {to_sub}",
            "move at most {most}",
            f" --sub {to_sub}" if to_sub else "",
        )
    client.transfer(source, target, token.symbol, units)
    click.echo(f"moved {format_units(units, token.decimals)} {token.symbol} from sub {from_sub} to sub {to_sub}")


@account.command()
@click.argument("amount")
@click.argument("asset")
@click.option("--borrow", "borrow_text", help="Also borrow this much of the base asset to your wallet.")
@click.option("--market", help="Also submit an order in this market, e.g. ETH-USD (with --size and --side).")
@click.option("--size", "size_text", help="The order's size in base units, e.g. 0.5.")
@click.option("--side", type=click.Choice(["buy", "sell"]), help="The order's side.")
@click.option("--limit", "limit_text", help="The order's worst average price (default: mark +/- --slippage-bps).")
@SLIPPAGE_OPTION
@click.option(
    "--ttl", type=click.IntRange(1, 30 * 86_400), default=600, show_default=True, help="Order's seconds to live."
)
@SUB_OPTION
@pass_context
def bundle(
    ctx: CliContext,
    amount: str,
    asset: str,
    borrow_text: str | None,
    market: str | None,
    size_text: str | None,
    side: str | None,
    limit_text: str | None,
    slippage_bps: int,
    ttl: int,
    sub_id: int,
) -> None:
    """Deposit AMOUNT of ASSET, borrow and submit an order in one transaction with one signature.

    For example `bundle 2 WETH --borrow 1000 --market ETH-USD --size 0.5 --side buy`. The deposit is taken with
    the token's permit (signed here, for exactly AMOUNT); the bundler acts as the sub-account's operator with the
    withdraw and trade permissions, granted in a transaction of its own the first time.
    """
    token = ctx.deployment.token(asset)
    _remember_symbol(token.symbol)  # the deposit's errors, in its units
    units = parse_amount(amount, token.decimals, token.symbol)
    base = ctx.deployment.base
    borrow = parse_amount(borrow_text, base.decimals, option="--borrow") if borrow_text else 0
    order_parts = (market, size_text, side)
    if any(order_parts) and not all(order_parts):
        raise InputError("an order needs --market, --size and --side together (or none of them for no order)")
    click_ctx = click.get_current_context()
    order_options = {"limit_text": "--limit", "slippage_bps": "--slippage-bps", "ttl": "--ttl"}
    given = [
        name
        for key, name in order_options.items()
        if click_ctx.get_parameter_source(key) is ParameterSource.COMMANDLINE
    ]
    if given and not any(order_parts):
        one = len(given) == 1
        raise InputError(
            f"{', '.join(given)} {'is' if one else 'are'} for an order, and no order is given: add --market, --size "
            f"and --side, or leave {'it' if one else 'them'} out"
        )
    target = _own(ctx, sub_id)
    client = BundlerClient(ctx.w3, ctx.deployment, ctx.sender())
    order = None
    described = ""
    if market and size_text and side:
        trading = TradingClient(ctx.w3, ctx.deployment)
        ticker = ctx.deployment.market(market).ticker
        size = parse_size(size_text)
        direction, limit, mark = checked_order(ctx, trading, ticker, size, side, limit_text, slippage_bps)
        position = sum((p.size for p in trading.positions(target) if p.market == ticker), Decimal(0))
        gain = _deposit_free_gain(ctx.reader(), target, token.symbol, units)
        # A borrow the collateral cannot carry is said as such: the order's margin check would blame the order.
        most = _borrowable_after_deposit(ctx.reader(), target, token.symbol, units, gain)
        if borrow and borrow > most:
            raise InputError(
                f"borrowing {format_units(borrow, base.decimals)} {base.symbol} is more than {target} can carry: with "
                f"the {format_units(units, token.decimals)} {token.symbol} deposited it can borrow at most "
                f"{format_units(max(most, 0), base.decimals)} {base.symbol}, before any order; borrow less or "
                "deposit more"
            )
        clients = Clients.build(ctx.w3, ctx.deployment)
        check_margin(clients, target, ticker, direction * size, position, mark, free_gain=gain - borrow)
        deadline = chain_time(ctx) + ttl
        order = BundledOrder(trading.market_id(ticker), int(direction * size * WAD), int(limit * WAD), deadline)
        described = f"{side} {size.normalize():f} {ticker}, limit {limit:,.2f}"
    # The grant is a transaction of its own before the bundle: what the bundle would refuse for certain is refused
    # first, and a bundle refused after a grant made here takes the grant back, so that a failure leaves nothing.
    vault = ctx.writer()
    wallet = vault.token(token.symbol).balance_of(ctx.account.address)
    if wallet < units:
        raise InputError(
            f"your wallet holds {format_units(wallet, token.decimals)} {token.symbol}, less than the "
            f"{format_units(units, token.decimals)} {token.symbol} to deposit"
        )
    held = vault.operator_permissions(target, client.address)
    granted = client.needs_grant(target)
    if granted:
        client.check_after_grant(target, token.symbol, units, borrow, order)
        client.grant(target)
    try:
        result = client.deposit_borrow_and_submit(target, token.symbol, units, borrow, order)
    except PrimeVaultError:
        if granted:
            vault.set_operator(target, client.address, held)
        raise
    if granted:
        click.echo(f"made the bundler {client.address} an operator of {target} (withdraw, trade): once per sub-account")
    parts = [f"deposited {format_units(units, token.decimals)} {token.symbol} into {target}"]
    if borrow:
        parts.append(f"borrowed {format_units(borrow, base.decimals)} {base.symbol}")
    if result.order_id is not None:
        parts.append(f"order {result.order_id}: {described}")
    click.echo(f"{'; '.join(parts)} (one transaction, block {result.receipt['blockNumber']})")


def _refuse_dust_debt(
    client: VaultClient, account: str, units: int, doing: str, smaller: str, sub_option: str = ""
) -> None:
    """Refuses crediting `units` of the base asset to `account` (a repayment, a base deposit or a base transfer into
    it) when that repays part of its debt and leaves less than the vault's minimum borrow, as the vault would
    (`BorrowTooSmall`), before any approval or transaction. `doing` names the action with an `{amount}` field,
    `smaller` the smaller amount that would do with a `{most}` field, `sub_option` the sub-account's option for the
    advice to repay all of it."""
    base = client.deployment.base
    debt = max(-client.base_balance(account), 0)
    left = debt - units
    minimum = client.min_borrow()
    if debt == 0 or not 0 < left < minimum:
        return

    def usd(value: int) -> str:
        return f"{format_exact(value, base.decimals)} {base.symbol}"

    most = f", {smaller.format(most=usd(debt - minimum))}" if debt > minimum else ""
    raise InputError(
        f"{doing.format(amount=usd(units))} would leave {usd(left)} of its {usd(debt)} debt owed, below the minimum "
        f"borrow of {usd(minimum)} [BorrowTooSmall]: repay all of it with `account repay max{sub_option}`, or leave at "
        f"least {usd(minimum)} owed{most}"
    )


def _holdings(client: VaultClient, target: str) -> dict[str, CollateralHolding]:
    """`target`'s holding of every collateral asset, by symbol, with its price and initial haircut now."""
    prices = client.lens.prices().prices
    holdings = {}
    for config, price in zip(client.asset_configs(), prices, strict=True):
        token = next(t for t in client.deployment.collateral if t.address == config.address)
        holdings[token.symbol] = CollateralHolding(
            client.collateral_balance(target, token.symbol), price, config.scale_exponent, config.initial_haircut_bps
        )
    return holdings


def _borrowable_after_deposit(client: VaultClient, target: str, symbol: str, units: int, deposit_gain: int) -> int:
    """Base units `target` can borrow once a deposit of `units` of `symbol`, adding `deposit_gain` of free margin,
    is in: as the vault books the principal (`borrowable`; the pool's cash is the contract's to check)."""
    health = client.health(target)
    market = client.market()
    indices = Indices(market.supply_index, market.borrow_index)
    base_balance = health.base_balance
    if symbol == client.deployment.base.symbol:
        base_balance = booked_balance(base_balance + units, indices)
    return borrowable(
        health.equity + deposit_gain,
        health.initial_requirement,
        None,
        base_balance,
        client.min_borrow(),
        indices,
    )


def _deposit_free_gain(client: VaultClient, target: str, symbol: str, units: int) -> int:
    """Base units of free margin a deposit of `units` of `symbol` adds to `target`: all of a base deposit, a
    collateral deposit's value less its initial haircut, or in portfolio mode less what it adds to the rule's
    requirement (which falls when the deposit hedges a short)."""
    if symbol == client.deployment.base.symbol:
        return units
    holdings = _holdings(client, target)
    if not client.portfolio_mode(target):
        return deposit_free_gain(holdings[symbol], units)
    trading = TradingClient(client.w3, client.deployment) if client.deployment.trading else None
    free_after = _portfolio_free_after(client, target, trading, list(holdings.values()), 0)
    asset = list(holdings).index(symbol)
    return free_after(asset, -units) - free_after(asset, 0)


@account.command("set-operator")
@click.argument("operator", type=ADDRESS)
@click.option(
    "--permissions",
    required=True,
    help=f"Comma-separated: {', '.join(PERMISSIONS)}; or `none` to revoke. No default: withdraw is a choice.",
)
@SUB_OPTION
@click.option(
    "--sign-only",
    is_flag=True,
    help="Print an EIP-712 permit (JSON) for anyone to submit with `primevault relay`; send nothing.",
)
@click.option(
    "--ttl",
    type=click.IntRange(60, 30 * 86_400),
    help="With --sign-only: seconds the permit stays valid (default 3600).",
)
@pass_context
def set_operator(
    ctx: CliContext, operator: ChecksumAddress, permissions: str, sub_id: int, sign_only: bool, ttl: int | None
) -> None:
    """Let OPERATOR act on a sub-account.

    OPERATOR is an address, for example a trading bot's; --permissions says what it may do. With --sign-only
    nothing is sent: the permit printed lets any relayer (or the operator itself) set it, paying the gas.
    """
    mask = _permission_mask(permissions)
    if ttl is not None and not sign_only:
        raise InputError("--ttl is how long a signed permit lives: use it with --sign-only")
    target = _own(ctx, sub_id)
    owner = ctx.account.address
    if operator == owner:
        raise InputError(f"{operator} is the owner, which always acts on its sub-accounts: an operator is another key")
    if mask:
        _require_an_operator_someone_can_be(ctx, operator, mask)
    if ctx.reader().operator_permissions(target, operator) == mask:
        held = ", ".join(name for name, bit in PERMISSIONS.items() if mask & bit) or "no permissions"
        raise InputError(f"{operator} holds exactly these permissions on {target} already ({held}): nothing to change")
    if sign_only:
        vault = ctx.reader()
        deadline = chain_time(ctx) + (ttl or 3600)
        permit = vault.sign_operator_permit(ctx.account, target, operator, mask, deadline)
        click.echo(json.dumps(permit.to_json(), indent=2))
        return
    ctx.writer().set_operator(target, operator, mask)
    granted = ", ".join(name for name, bit in PERMISSIONS.items() if mask & bit)
    click.echo(f"operator {operator} on {target}: {granted or 'revoked'}")


def _protocol_contracts(ctx: CliContext) -> dict[str, str]:
    """The deployment's own contracts (tokens, the vault, ...), address -> what it is."""
    d = ctx.deployment
    contracts: dict[str, str] = {t.address: f"the {t.symbol} token" for t in (d.base, *d.collateral)}
    named = {"vault": d.vault, "lens": d.lens, "trading module": d.trading, "lender vault": d.lender}
    named |= {"session keys contract": d.sessions, "bundler": d.bundler, "portfolio rule": d.portfolio}
    return contracts | {address: f"the {name}" for name, address in named.items() if address}


def _require_not_a_protocol_contract(ctx: CliContext, address: ChecksumAddress) -> None:
    """Refuses `address` as a receiver of tokens when it is one of the deployment's own contracts (a token, the
    vault, ...): nothing there sends tokens on, so what is sent is lost."""
    contracts = _protocol_contracts(ctx)
    if address in contracts:
        raise InputError(f"{address} is {contracts[address]} contract: what is sent there is lost; give a wallet")


def _require_an_account_someone_can_use(ctx: CliContext, account: ChecksumAddress) -> None:
    """Refuses a deposit into a sub-account of one of the deployment's own contracts (the account's first 19 bytes
    are the contract's): only its owner's address can act on it, and those contracts never do, so what is
    deposited there is lost (into the lender vault's, a gift to its lenders)."""
    for address, name in _protocol_contracts(ctx).items():
        if int(address, 16) >> 8 == int(account, 16) >> 8:
            raise InputError(
                f"{account} is a sub-account of {name} contract, which never acts on it: a deposit there is lost; "
                "give your own sub-account (--sub) or one of a wallet's"
            )


def _require_an_operator_someone_can_be(ctx: CliContext, operator: ChecksumAddress, mask: int) -> None:
    """Refuses granting permissions to one of the deployment's own contracts (or an address of their sub-accounts),
    as `deposit --to` refuses them: none acts on others' accounts as an operator, so the grant does nothing but
    leave a permission where no one looks. The two that do are the session keys contract (trade, which `session
    grant` gives it) and the bundler (withdraw and trade, which `account bundle` gives it): they may be granted those,
    no more. Revoking (`none`) is always allowed."""
    d = ctx.deployment
    allowed: dict[str, int] = {}
    if d.sessions:
        allowed[d.sessions] = PERMISSIONS["trade"]
    if d.bundler:
        allowed[d.bundler] = PERMISSIONS["withdraw"] | PERMISSIONS["trade"]
    contracts = _protocol_contracts(ctx)
    for address, name in contracts.items():
        if address in allowed and address == operator:
            extra = mask & ~allowed[address]
            if extra:
                needs = ", ".join(n for n, bit in PERMISSIONS.items() if allowed[address] & bit)
                given = ", ".join(n for n, bit in PERMISSIONS.items() if extra & bit)
                how = "`session grant` gives it" if address == d.sessions else "`account bundle` grants them"
                raise InputError(
                    f"{operator} is {name} contract, which acts only with {needs} ({how}): it has no use for "
                    f"{given}; give --permissions {needs.replace(' ', '')} or none"
                )
            return
        if int(address, 16) >> 8 == int(operator, 16) >> 8:
            what = f"{name} contract" if address == operator else f"a sub-account of {name} contract"
            raise InputError(
                f"{operator} is {what}, which never acts as an operator: a grant to it does nothing; give the "
                "address of the key that will act (a bot's wallet)"
            )


def _permission_mask(text: str) -> int:
    names = [name.strip().lower() for name in text.split(",")]
    if names == ["none"]:
        return 0
    if not all(names):
        raise InputError(
            f"--permissions {text!r} has an empty name: list {', '.join(PERMISSIONS)} separated by commas, "
            "or write none to revoke"
        )
    mask = 0
    for name in names:
        if name not in PERMISSIONS:
            raise InputError(f"unknown permission {name!r}: use {', '.join(PERMISSIONS)} or none")
        mask |= PERMISSIONS[name]
    return mask

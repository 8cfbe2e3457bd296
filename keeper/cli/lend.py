"""`primevault lend`: the ERC-4626 lender vault for passive lenders of the base asset, in human units."""

from __future__ import annotations

import json

import click

from keeper.cli.context import CliContext, pass_context
from keeper.cli.explain import lender_withdraw_limit
from keeper.cli.params import ADDRESS, JSON_OPTION
from keeper.client.lender import LenderClient
from keeper.exceptions import InputError
from keeper.units import format_units, parse_amount, plain_units


@click.group()
def lend() -> None:
    """Lend the base asset through the ERC-4626 lender vault: shares of one supply position in PrimeVault."""


def _remember_base(ctx: CliContext) -> None:
    click.get_current_context().meta["primevault.symbol"] = ctx.deployment.base.symbol


@lend.command()
@click.argument("address", type=ADDRESS, required=False)
@JSON_OPTION
@pass_context
def show(ctx: CliContext, address: str | None, as_json: bool) -> None:
    """The lender vault's share price and rate, and ADDRESS's position (default: yours).

    Amounts are exact: the value of the shares and what can be withdrawn now are the vault's own figures, which
    round down (never more than the holder can take)."""
    base = ctx.deployment.base
    lender = LenderClient(ctx.w3, ctx.deployment)
    holder = address or ctx.account.address
    state = lender.state(ctx.reader().market().supply_rate_per_second)
    position = lender.position(holder)
    if as_json:
        # Plain decimal strings, as every --json prints them; shares in whole shares, as the value in whole tokens.
        document = {
            "holder": holder,
            "shares": plain_units(position.shares, lender.share_decimals()),
            "value": plain_units(position.assets, base.decimals),
            "withdrawable_now": plain_units(position.max_withdraw, base.decimals),
            "total_assets": plain_units(state.total_assets, base.decimals),
            "share_price": f"{state.share_price:.6f}",
            "supply_apr": f"{state.supply_apr:.4%}",
            "symbol": base.symbol,
        }
        click.echo(json.dumps(document, indent=2))
        return
    click.echo(f"lender vault        {lender.address}")
    click.echo(
        f"total lent          {format_units(state.total_assets, base.decimals)} {base.symbol}, supply rate "
        f"{state.supply_apr:.4%} a year"
    )
    click.echo(f"share price         {state.share_price:.6f} {base.symbol} per share")
    click.echo(
        f"{holder}: {format_units(position.assets, base.decimals)} {base.symbol}, of which withdrawable now "
        f"{format_units(position.max_withdraw, base.decimals)}"
    )


@lend.command()
@click.argument("amount")
@pass_context
def deposit(ctx: CliContext, amount: str) -> None:
    """Lend AMOUNT of the base asset, e.g. `lend deposit 1000`."""
    base = ctx.deployment.base
    _remember_base(ctx)
    units = parse_amount(amount, base.decimals, base.symbol)
    lender = LenderClient(ctx.w3, ctx.deployment, ctx.sender())
    # A deposit too small for PrimeVault to credit (the pool's supply index above 1 rounds it away) mints no share:
    # the vault would take the amount for nothing, so it is refused before anything is sent.
    if lender.preview_deposit(units) == 0:
        smallest = lender.preview_mint(1)
        raise InputError(
            f"lending {format_units(units, base.decimals)} {base.symbol} buys no lender share (it rounds to nothing "
            f"at the pool's interest index): lend at least {format_units(smallest, base.decimals)} {base.symbol}"
        )
    receipt = lender.deposit(units)
    click.echo(f"lent {format_units(units, base.decimals)} {base.symbol} (block {receipt['blockNumber']})")


@lend.command()
@click.argument("amount")
@pass_context
def withdraw(ctx: CliContext, amount: str) -> None:
    """Withdraw AMOUNT of the base asset, or `all` (or `max`) of your shares."""
    base = ctx.deployment.base
    _remember_base(ctx)
    withdraw_all = amount.lower() in ("all", "max")  # `max`, as `account repay max` takes it
    units = 0 if withdraw_all else parse_amount(amount, base.decimals, base.symbol)
    lender = LenderClient(ctx.w3, ctx.deployment, ctx.sender())
    before = lender.position(ctx.account.address)
    # Said before the vault's own refusal, which for a holder of nothing reads as funds lent out.
    if before.shares == 0:
        raise InputError("you hold no lender shares: `primevault lend deposit AMOUNT` first")
    if withdraw_all:
        if lender.max_redeem(ctx.account.address) < before.shares:
            now, held = (format_units(v, base.decimals) for v in (before.max_withdraw, before.assets))
            raise InputError(
                f"only {now} of your {held} {base.symbol} can be withdrawn now, the rest is lent out: withdraw that "
                "amount, or wait for repayments"
            )
        receipt = lender.redeem_all()
        click.echo(
            f"redeemed all shares, worth {format_units(before.assets, base.decimals)} {base.symbol} before "
            f"rounding (block {receipt['blockNumber']})"
        )
        return
    if units > before.max_withdraw:  # said with the limit that binds: the vault's refusal cannot tell which
        raise InputError(lender_withdraw_limit(units, before.max_withdraw, before.assets, base))
    receipt = lender.withdraw(units)
    click.echo(f"withdrew {format_units(units, base.decimals)} {base.symbol} (block {receipt['blockNumber']})")

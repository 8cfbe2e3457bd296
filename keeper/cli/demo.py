"""`primevault demo`: the main job on a local chain it starts itself."""

from __future__ import annotations

import click

from keeper.demo import run_demo
from keeper.units import format_units


def _usd(units: int) -> str:
    return f"{format_units(units, 6, 2)} USDC"


@click.command()
@click.option("--depositors", type=click.IntRange(1, 500), default=12, show_default=True)
@click.option("--eth-drop", type=click.FloatRange(0.01, 0.95), default=0.25, show_default=True, help="Fraction.")
@click.option("--seed", type=int, default=7, show_default=True, help="Same seed, same run.")
def demo(depositors: int, eth_drop: float, seed: int) -> None:
    """Start anvil, deploy, seed depositors, drop the ETH price, liquidate, and report."""
    report = run_demo(depositors=depositors, eth_drop=eth_drop, seed=seed, progress=lambda m: click.echo(f"- {m}"))
    click.echo("")
    click.echo(f"{'account':<44} {'WETH':>8} {'WBTC':>8} {'borrowed':>16}  outcome")
    liquidated = set(report.liquidated)
    for d in report.depositors:
        click.echo(
            f"{d.account:<44} {format_units(d.weth, 18, 3):>8} {format_units(d.wbtc, 8, 3):>8} "
            f"{format_units(d.borrowed, 6, 2):>16}  {'LIQUIDATED' if d.account in liquidated else 'healthy'}"
        )
    click.echo("")
    rows = [
        ("ETH price", f"{report.eth_price_before / 1e8:,.2f} -> {report.eth_price_after / 1e8:,.2f}"),
        ("liquidatable before the drop", str(report.liquidatable_before_drop)),
        ("accounts liquidated", f"{len(report.liquidated)} of {len(report.depositors)}"),
        ("keeper's prediction matched the chain", "yes" if report.predicted_match else "NO"),
        ("debt cleared", _usd(report.debt_cleared)),
        ("shortfall (debt beyond collateral)", _usd(report.shortfall)),
        ("bad debt written off", _usd(report.bad_debt)),
        ("keeper reward", _usd(report.keeper_reward)),
        ("gas per liquidated account", f"{report.gas_per_account:,}"),
        ("reserves before -> after", f"{_usd(report.reserves_before)} -> {_usd(report.reserves_after)}"),
        (
            "absorbed collateral for sale",
            ", ".join(
                f"{format_units(v, t.decimals, 4)} {t.symbol}"
                for t, v in zip(report.deployment.collateral, report.collateral_reserves.values(), strict=True)
            ),
        ),
        ("liquidatable after the keeper pass", str(report.liquidatable_after)),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        click.echo(f"{key:<{width}}  {value}")

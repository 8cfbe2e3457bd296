"""`primevault demo`: the market-crash run on a local chain it starts itself."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from keeper.cli.params import FiniteFloatRange, check_writable_folder
from keeper.units import format_units

if TYPE_CHECKING:
    from keeper.devnet.crash import CrashReport


@click.command()
@click.option(
    "--scenario",
    type=click.Choice(["crash", "october-2025"]),
    default="crash",
    show_default=True,
    help="crash: the market-crash run with the keeper daemon and both seats; october-2025: the 10-11 October 2025 "
    "crash replayed on books in portfolio mode at their maximum leverage.",
)
@click.option(
    "--depositors",
    type=click.IntRange(5, 2000),
    default=200,
    show_default=True,
    help="Depositors on the local chain (about two in five also trade perps).",
)
@click.option("--crash", type=FiniteFloatRange(0.05, 0.8), default=0.35, show_default=True, help="ETH's fall.")
@click.option("--seed", type=int, default=7, show_default=True, help="Same seed, same run.")
@click.option(
    "--report-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path(".primevault"),
    show_default=True,
    help="Where the PNG report and the keeper's, exchange's and dYdX replica's logs are written.",
)
def demo(scenario: str, depositors: int, crash: float, seed: int, report_dir: Path) -> None:
    """The crash run: a local market crash, liquidated and reported.

    Starts anvil, deploys, seeds depositors and traders, runs the keeper daemon, crashes ETH and BTC and
    reports what happened. `--scenario october-2025` replays that crash on portfolio-mode books instead.
    """
    if scenario == "october-2025":
        _october()
        return
    # Imported here: the crash run is the devnet part (matplotlib), which the core CLI does not load; without it
    # installed the import raises a one-line `MissingExtraError` naming the install command.
    from keeper.devnet.crash import run_crash

    check_writable_folder(report_dir, "--report-dir")
    bars: dict[str, Any] = {}
    totals = {"depositors": depositors, "orders": depositors, "deployed": 1}

    def progress(label: str, n: int) -> None:
        key = label if label in totals else "price steps"
        if key not in bars:
            for bar in bars.values():
                bar.render_finish()
            bars[key] = click.progressbar(length=totals.get(key, 6), label=f"{key:<12}", width=40)
            bars[key].__enter__()
        bars[key].update(n)

    report = run_crash(depositors=depositors, crash=crash, seed=seed, report_dir=report_dir, progress=progress)
    for bar in bars.values():
        bar.render_finish()
    click.echo("")
    _print(report)


def _october() -> None:
    from keeper.devnet.october import CRASH, STEP_SECONDS, STEPS, replay_october

    report = replay_october(lambda label, n: click.echo(f"  {label}"))
    moves = ", ".join(f"{symbol} {float(end - 1):+.0%}" for symbol, end in CRASH.items())
    click.echo(f"\nOctober 2025 replay: {moves} in {STEPS} steps of {STEP_SECONDS // 60} minutes")
    decimals, symbol = report.base_decimals, report.base_symbol
    click.echo(
        f"{'book (' + symbol + ')':<40} {'initial':>10} {'standard':>10} {'liquidated':>10} {'equity after':>13}"
    )
    for b in report.books:
        initial, standard = (format_units(v, decimals, 0) for v in (b.initial_before, b.standard_initial_before))
        after = format_units(b.equity_after, decimals, 2)
        click.echo(f"{b.name:<40} {initial:>10} {standard:>10} {b.liquidations:>10} {after:>13}")
    unhealthy = sum(b.liquidatable_after for b in report.books)
    click.echo(
        f"liquidation transactions {report.liquidation_transactions} ({report.liquidation_gas:,} gas; "
        f"${report.gas_dollars:,} at $600 a transaction); "
        f"bad debt {format_units(report.bad_debt, decimals, 2)} {symbol}; "
        f"books below maintenance after: {unhealthy}"
    )


def _print(r: CrashReport) -> None:
    base = r.deployment.base

    def _usd(units: int) -> str:
        return f"{format_units(units, base.decimals, 2)} {base.symbol}"

    liquidated = {a for _, a, *_ in r.liquidations}
    rows = [
        ("depositors (of them perp traders)", f"{r.depositors} ({r.traders})"),
        ("orders filled at the venues, through their APIs", str(r.orders_executed)),
        ("  parts filled per venue (split by the router)", _counts(r.children_filled)),
        (
            "accounts liquidated (partially: only what restores health)",
            f"{len(liquidated)} in {len(r.liquidations)} calls",
        ),
        ("  of them kept collateral", _kept(r)),
        ("  average share of collateral value kept", _average_kept(r)),
        ("  share of collateral each absorption took", _taken(r)),
        ("positions moved to the backstop book", _moved(r)),
        ("  unwound by the keeper at the venues", _unwound(r)),
        ("  backstop book still open", _sizes(r.backstop_left) or "none"),
        ("collateral absorbed", ", ".join(f"{_amount(r, s, v)} {s}" for s, v in r.absorbed.items()) or "none"),
        ("absorbed collateral sold", ", ".join(f"{_amount(r, s, v)} {s}" for s, v in r.sold.items()) or "none"),
        ("reserves before -> after", f"{_usd(r.reserves_before)} -> {_usd(r.reserves_after)}"),
        ("bad debt (expected: zero)", _usd(r.bad_debt)),
        ("shortfalls covered by reserves", _usd(sum(s for *_, s in r.liquidations) - r.bad_debt)),
        ("liquidatable after each step", ", ".join(str(s.liquidatable_after) for s in r.steps)),
        ("haircuts before (initial/maintenance bps)", _haircuts(r.haircuts_before)),
        ("haircuts after recalibration", _haircuts(r.haircuts_after)),
        (
            "venue margin (net / maintenance)",
            ", ".join(f"{n} {_usd(a)} / {_usd(b)}" for n, (a, b) in r.venue_margin.items()),
        ),
        ("reconciliation", "venue positions match the books" if not r.reconciliation else "; ".join(r.reconciliation)),
        ("keeper exit on SIGTERM", "clean" if r.keeper_exit_code == 0 else f"code {r.keeper_exit_code}"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        click.echo(f"{key:<{width}}  {value}")
    click.echo("\nblocks from each price step to its liquidations:")
    for label, delays in r.blocks_to_liquidation():
        shown = "none needed" if not delays else f"{len(delays)} in {sorted(set(delays))} block(s)"
        click.echo(f"  {label:<28} {shown}")
    click.echo(f"\nreport: {r.png}")


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(counts.items())) or "none"


def _taken(r: CrashReport) -> str:
    shares = sorted(r.taken_per_liquidation)
    if not shares:
        return "none absorbed"
    return f"median {shares[len(shares) // 2]:.0%} over {len(shares)} absorptions (all of it: {shares.count(1.0)})"


def _kept(r: CrashReport) -> str:
    keeping = [x for x in r.collateral_kept.values() if x > 0]
    return f"{len(keeping)} of the {len(r.collateral_kept)} that held collateral"


def _average_kept(r: CrashReport) -> str:
    """Borrowers and perp traders apart: a leveraged long loses its margin to the crash itself, whatever the
    liquidation takes, and averaged together the two hide what partial liquidation leaves a borrower."""
    traders = {a for _, a, *_ in r.positions_absorbed}
    groups = {
        "borrowers": [s for a, s in r.collateral_kept.items() if a not in traders],
        "perp traders": [s for a, s in r.collateral_kept.items() if a in traders],
    }
    parts = [f"{name} {sum(v) / len(v):.0%} ({len(v)})" for name, v in groups.items() if v]
    return f"{', '.join(parts)} (at the final prices)" if parts else "-"


def _moved(r: CrashReport) -> str:
    if not r.positions_absorbed:
        return "none"
    accounts = len({a for _, a, *_ in r.positions_absorbed})
    sizes: dict[str, float] = {}
    for _, _, market, size in r.positions_absorbed:
        sizes[market] = sizes.get(market, 0.0) + size / 1e18
    return f"{len(r.positions_absorbed)} slots of {accounts} accounts: {_sizes(sizes)}"


def _unwound(r: CrashReport) -> str:
    if not r.backstop_unwound:
        return "none"
    sizes: dict[str, float] = {}
    for _, market, _, size in r.backstop_unwound:
        sizes[market] = sizes.get(market, 0.0) + size / 1e18
    return f"{len(r.backstop_unwound)} slices: {_sizes(sizes)}"


def _sizes(sizes: dict[str, float]) -> str:
    return ", ".join(f"{size:,.3f} {market.split('-')[0]}" for market, size in sorted(sizes.items()))


def _amount(r: CrashReport, symbol: str, units: int) -> str:
    return format_units(units, r.deployment.token(symbol).decimals, 4)


def _haircuts(h: dict[str, tuple[int, int]]) -> str:
    return ", ".join(f"{s} {i}/{m}" for s, (i, m) in h.items())

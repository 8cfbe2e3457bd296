"""Issue 13's figures computed by the contracts on a chain: the October 2025 replay (`keeper/devnet/october.py`)
opens every book in portfolio mode on a fresh anvil, reads the vault's requirements for each, then crashes the
prices and liquidates. Prints a section of bench/RESULTS.md."""

from __future__ import annotations

from keeper.devnet.october import CRASH, STEPS, replay_october
from keeper.units import format_units

# The reference notionals: one leg of each hedge.
HEDGES = {"10 WETH hedged by a 10 ETH short": 30_000, "BTC long and short at two venues": 60_000}
BASKET = "hedged basket (docs/risk.md)"


def main() -> None:
    report = replay_october()
    d = report.base_decimals

    def usd(units: int) -> str:
        return format_units(units, d, 0)

    print("## Portfolio margin (issue 13): computed by the contracts on anvil\n")
    print("Each book in portfolio mode, its requirements read from the vault (`accountHealth`) beside the standard")
    print(f"rule's for the same book, in {report.base_symbol}.\n")
    print("| book | portfolio initial / maintenance | standard initial / maintenance | maintenance |")
    print("| --- | ---: | ---: | --- |")
    for b in report.books:
        if b.name in HEDGES:
            note = f"{b.maintenance_before / 10**d / HEDGES[b.name]:.3%} of the notional (goal: at most 1.25%)"
        elif b.name == BASKET:
            note = f"{1 - b.maintenance_before / b.standard_maintenance_before:.1%} less (goal: at least 75%)"
        else:
            note = f"{b.maintenance_before / b.standard_maintenance_before:.2f}x the standard rule's"
        print(
            f"| {b.name} | {usd(b.initial_before)} / {usd(b.maintenance_before)} | "
            f"{usd(b.standard_initial_before)} / {usd(b.standard_maintenance_before)} | {note} |"
        )
    moves = ", ".join(f"{symbol} {float(end - 1):+.0%}" for symbol, end in CRASH.items())
    print(f"\n### The October 2025 replay: {moves} in {STEPS} five-minute steps\n")
    print("Every book above at its maximum leverage (equity = initial requirement + 1), the keeper's scan and one")
    print("`liquidate` transaction after each step (`primevault demo --scenario october-2025`).\n")
    print("| book | liquidations | equity after | below maintenance after |")
    print("| --- | ---: | ---: | --- |")
    for b in report.books:
        below = "YES" if b.liquidatable_after else "no"
        print(f"| {b.name} | {b.liquidations} | {format_units(b.equity_after, d, 2)} | {below} |")
    print(
        f"\nBad debt: {format_units(report.bad_debt, d, 2)} {report.base_symbol}. Liquidation transactions: "
        f"{report.liquidation_transactions} ({report.liquidation_gas:,} gas; ${report.gas_dollars:,} at $600 a "
        "transaction, the crash's gas price).\n"
    )


if __name__ == "__main__":
    main()

"""Finding and liquidating unhealthy accounts: one paged read of every account, a vectorized health pass,
exact confirmation near the threshold, and liquidation batches sized to a gas budget."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from web3.types import BlockIdentifier

from keeper.chain.artifacts import load_artifact
from keeper.chain.oracle import feed_answer
from keeper.risk.health import MAX_VENUES, WAD, HealthArrays, PerpArrays, RiskParameters, compute_health, exact_health
from keeper.vault import AccountSnapshot, VaultClient

# Gas of one account in a liquidation batch and of the batch itself (from the gas snapshot, with margin).
LIQUIDATION_GAS_PER_ACCOUNT = 40_000
LIQUIDATION_GAS_BASE = 120_000
DELEVERAGE_GAS_PER_ACCOUNT = 450_000


@dataclass(frozen=True)
class Scan:
    """The outcome of one risk scan, all read at `block`."""

    block: int
    accounts: list[AccountSnapshot]
    params: RiskParameters
    health: HealthArrays
    liquidatable: list[str]  # most underwater first
    with_positions: frozenset[str]  # those of `liquidatable` that hold perp positions


def risk_parameters(client: VaultClient, block: BlockIdentifier = "latest") -> RiskParameters:
    """Prices, haircuts, perp marks, margins and funding indexes, read at `block`."""
    prices = client.prices(block)  # first: a bad feed is reported as the vault's own oracle error
    configs = client.asset_configs()
    perp: dict[str, list[int]] = {"marks": [], "initial": [], "maintenance": []}
    funding: list[int] = []
    trading = client.deployment.trading
    if trading is not None:
        module = client.w3.eth.contract(address=trading, abi=load_artifact("TradingModule").abi)
        for market in module.functions.markets().call(block_identifier=block):
            feed, _, feed_decimals, initial_bps, maintenance_bps, _ = market
            answer = feed_answer(client.w3, feed, block)
            perp["marks"].append(answer * 10 ** (18 - feed_decimals))
            perp["initial"].append(initial_bps)
            perp["maintenance"].append(maintenance_bps)
        funding = [int(f) for f in client.read("read funding indexes", module.functions.fundingIndexes(), block)]
        funding = funding[: len(perp["marks"]) * MAX_VENUES]
    return RiskParameters(
        prices=prices,
        scale_exponents=[c.scale_exponent for c in configs],
        initial_haircut_bps=[c.initial_haircut_bps for c in configs],
        maintenance_haircut_bps=[c.maintenance_haircut_bps for c in configs],
        perp_marks=perp["marks"],
        perp_initial_bps=perp["initial"],
        perp_maintenance_bps=perp["maintenance"],
        funding_indexes=funding,
    )


def arrays(accounts: Sequence[AccountSnapshot], params: RiskParameters) -> tuple[np.ndarray, np.ndarray, PerpArrays]:
    """Base balances (n,), collateral (n, assets) and positions (n, slots) as float64 arrays."""
    n = len(accounts)
    base = np.fromiter((a.base_balance for a in accounts), dtype=np.float64, count=n)
    collateral = np.array([a.collateral for a in accounts], dtype=np.float64).reshape(n, len(params.prices))
    sizes, entries, funding = (np.zeros((n, params.slots)) for _ in range(3))
    for i, account in enumerate(accounts):
        for p in account.positions:
            sizes[i, p.slot] = p.size / WAD
            entries[i, p.slot] = p.entry_price / WAD
            funding[i, p.slot] = p.funding_index / WAD
    return base, collateral, PerpArrays.build(sizes, entries, funding)


def scan(client: VaultClient, shard: tuple[int, int] = (0, 1), page_size: int = 1000) -> Scan:
    """Reads every account (of this shard) at one block and returns those below their maintenance
    requirement, most underwater first. Shard i of n takes the accounts whose list index is i mod n."""
    block = client.w3.eth.block_number
    params = risk_parameters(client, block)
    index, count = shard
    accounts = [a for k, a in enumerate(client.iter_accounts(page_size=page_size, block=block)) if k % count == index]
    base, collateral, perp = arrays(accounts, params)
    health = compute_health(base, collateral, params, perp)
    due = health.liquidatable.copy()
    for i in np.flatnonzero(health.near_threshold):
        a = accounts[i]
        positions = [(p.slot, p.size, p.entry_price, p.funding_index) for p in a.positions]
        due[i] = exact_health(a.base_balance, a.collateral, params, positions).liquidatable
    order = np.argsort((health.equity - health.maintenance_requirement)[due])
    candidates = [accounts[i].account for i in np.flatnonzero(due)[order]]
    trading = frozenset(accounts[i].account for i in np.flatnonzero(due) if accounts[i].positions)
    return Scan(block, accounts, params, health, candidates, trading)


def batches(
    accounts: Sequence[str], gas_budget: int, per_account: int = LIQUIDATION_GAS_PER_ACCOUNT
) -> list[list[str]]:
    """Splits `accounts` into batches whose estimated gas stays within `gas_budget`."""
    size = max(1, (gas_budget - LIQUIDATION_GAS_BASE) // per_account)
    return [list(accounts[i : i + size]) for i in range(0, len(accounts), size)]

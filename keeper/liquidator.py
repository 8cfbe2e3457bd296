"""Finding and liquidating unhealthy accounts: one paged read of every account, a vectorized health pass,
exact confirmation near the threshold, and liquidation batches."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from web3.types import BlockIdentifier

from keeper.risk.health import HealthArrays, RiskParameters, compute_health, exact_health
from keeper.vault import AccountSnapshot, LiquidationResult, VaultClient


@dataclass(frozen=True)
class Scan:
    """The outcome of one risk scan, all read at `block`."""

    block: int
    accounts: list[AccountSnapshot]
    health: HealthArrays
    liquidatable: list[str]  # most underwater first


def risk_parameters(client: VaultClient, block: BlockIdentifier = "latest") -> RiskParameters:
    configs = client.asset_configs()
    return RiskParameters(
        prices=client.prices(block),
        scale_exponents=[c.scale_exponent for c in configs],
        initial_haircut_bps=[c.initial_haircut_bps for c in configs],
        maintenance_haircut_bps=[c.maintenance_haircut_bps for c in configs],
    )


def scan(client: VaultClient) -> Scan:
    """Reads every account at one block and returns those below their maintenance requirement."""
    block = client.w3.eth.block_number
    params = risk_parameters(client, block)
    accounts = list(client.iter_accounts(block=block))
    base = np.array([a.base_balance for a in accounts], dtype=np.float64)
    collateral = np.array([a.collateral for a in accounts], dtype=np.float64).reshape(len(accounts), len(params.prices))
    health = compute_health(base, collateral, params)
    due = health.liquidatable.copy()
    for i in np.flatnonzero(health.near_threshold):
        due[i] = exact_health(accounts[i].base_balance, accounts[i].collateral, params).liquidatable
    order = np.argsort((health.equity - health.maintenance_requirement)[due])
    candidates = [accounts[i].account for i in np.flatnonzero(due)[order]]
    return Scan(block, accounts, health, candidates)


def liquidate_all(client: VaultClient, accounts: list[str], batch_size: int = 50) -> list[LiquidationResult]:
    """Liquidates `accounts` in batches of `batch_size`; each batch is simulated before it is sent."""
    return [client.liquidate(accounts[i : i + batch_size]) for i in range(0, len(accounts), batch_size)]

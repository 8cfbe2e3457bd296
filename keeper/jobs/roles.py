"""The roles the keeper's jobs need, checked once at start."""

from __future__ import annotations

import logging

from keeper.client.base import AccessControlledClient
from keeper.client.clients import Clients
from keeper.daemon.config import KeeperConfig
from keeper.exceptions import MissingRoleError

log = logging.getLogger("primevault.keeper")

# The role each job needs, and where; liquidation and reconciliation need none, haircuts only when applied.
ROLES_NEEDED = {
    "orders": ("EXECUTOR_ROLE", "trading module"),
    "backstop": ("EXECUTOR_ROLE", "trading module"),
    "margin": ("EXECUTOR_ROLE", "trading module"),
    "haircuts": ("RISK_MANAGER_ROLE", "vault"),
    "seat": ("EXECUTOR_ROLE", "trading module"),
}


def check_roles(config: KeeperConfig, clients: Clients, me: str) -> frozenset[str]:
    """The roles `me` holds. Checks that it holds the role every enabled job needs, and says in one line which roles
    it holds and which jobs run; a missing role stops the keeper with a one-line `MissingRoleError` that names it and
    the jobs that need it."""
    contracts: dict[str, AccessControlledClient | None] = {"vault": clients.vault, "trading module": clients.trading}
    held = set()
    for role, where in sorted(set(ROLES_NEEDED.values())):
        contract = contracts[where]
        if contract is not None and contract.has_role(role, me):
            held.add(role)
    jobs = list(config.enabled_jobs)
    missing: dict[tuple[str, str], list[str]] = {}
    for job in jobs:
        need = role_needed(job, config, clients)
        if need is not None and need[0] not in held:
            missing.setdefault(need, []).append(job)
    if missing:
        lacks = " and ".join(
            f"{role} on the {where} (needed by the {_and(needers)} job{'s' if len(needers) > 1 else ''})"
            for (role, where), needers in missing.items()
        )
        others = [job for job in jobs if not any(job in needers for needers in missing.values())]
        raise MissingRoleError(
            f"keeper key {me} lacks {lacks}: grant {'them' if len(missing) > 1 else 'it'}, "
            f"or run only the jobs it can (--jobs {','.join(others) or 'liquidation'})"
        )
    log.info("keeper %s holds %s; jobs: %s", me, ", ".join(sorted(held)) or "no role", ", ".join(jobs) or "none")
    return frozenset(held)


def role_needed(job: str, config: KeeperConfig, clients: Clients) -> tuple[str, str] | None:
    """The (role, contract) `job` needs with this configuration and deployment, or None."""
    need = ROLES_NEEDED.get(job)
    if need is None or (need[1] == "trading module" and clients.trading is None):
        return None  # nothing to do without a trading module
    if job == "haircuts" and not config.apply_haircuts:
        return None  # only proposed
    return need


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"

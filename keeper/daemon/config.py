"""Keeper configuration from a TOML file, the environment (and `.env`), and command-line overrides, checked
at start with one line per bad field."""

from __future__ import annotations

import json
import math
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keeper.connectors.rabbitx.settings import ENV_PREFIX as RABBITX_ENV_PREFIX
from keeper.connectors.rabbitx.settings import RabbitXSettings
from keeper.exceptions import ConfigError, MissingExtraError

if TYPE_CHECKING:
    from keeper.connectors.dydx.settings import DydxSettings

ENV_PREFIX = "PRIMEVAULT_"

# The keeper's jobs, in the order a cycle runs them (one module each in `keeper/jobs/`). Liquidation and
# reconciliation need no role; the others need the roles in `keeper.jobs.roles.ROLES_NEEDED`, checked at start.
# The seat runs only when a seat is configured (`seat_venues`).
JOBS = ("liquidation", "orders", "backstop", "margin", "reconcile", "haircuts", "seat")
# The venues a keeper can hold a seat at: each has a connector and a settings table named after it.
SEAT_KINDS = ("rabbitx", "dydx")


@dataclass(frozen=True)
class KeeperConfig:
    rpc_urls: tuple[str, ...] = ("http://127.0.0.1:8545",)
    deployment: Path = Path("deployments/local.json")
    data_dir: Path = Path(".primevault")
    keystore: Path | None = None
    password_file: Path | None = None
    dev_account: int | None = None
    # Loop and job intervals, seconds.
    poll_interval: float = 0.2
    orders_interval: float = 2.0
    margin_interval: float = 30.0
    reconcile_interval: float = 30.0
    haircut_interval: float = 3600.0
    price_record_interval: float = 60.0
    # Transactions.
    gas_budget: int = 10_000_000  # a liquidation batch's gas limit at most: three fill a 30,000,000-gas block
    max_fee_gwei: float = 500.0
    replace_after: float = 30.0
    receipt_timeout: float = 180.0
    # Health and metrics.
    metrics_port: int | None = 9464
    stale_after: float = 120.0
    start_timeout: float = 60.0  # how long to wait for the RPC to answer at start
    rpc_timeout: float = 10.0  # each RPC request's
    # Venue margin, as multiples of the venue's initial margin on the netted positions there (2% of notional
    # on the local venues): the floor leaves room for a 4% move before a top-up, the target for 8%.
    margin_floor: float = 3.0
    margin_target: float = 5.0
    margin_ceiling: float = 8.0
    margin_minimum: int = 50_000  # USDC kept at every venue so new orders can fill before the next top-up
    # Haircuts.
    liquidity_addon_bps: dict[str, int] = field(default_factory=lambda: {"WETH": 200, "WBTC": 250})
    apply_haircuts: bool = True
    # Jobs to run (a subset of JOBS); at start the key must hold the roles each one needs.
    jobs: tuple[str, ...] = JOBS
    # The keeper's seats at venues that match off chain (order protocol v2): off unless `seat_venues` names the
    # deployment's seat venues ("rabbitx-seat", "dydx-seat"); each connector's settings come from its table
    # (`[rabbitx]`, `[dydx]`) or PRIMEVAULT_RABBITX_* / PRIMEVAULT_DYDX_*.
    seat_venues: tuple[str, ...] = ()
    seat_interval: float = 1.0  # seconds between seat cycles (place new children, close finished ones)
    child_ttl: float = 60.0  # seconds a child committed to a seat may live (never past its order's deadline)
    rabbitx: RabbitXSettings | None = None
    dydx: DydxSettings | None = None
    # Modes.
    dry_run: bool = False
    once: bool = False
    shard: tuple[int, int] = (0, 1)

    @property
    def enabled_jobs(self) -> tuple[str, ...]:
        """The jobs that run, in cycle order: `jobs` without the seat unless a seat is configured."""
        return tuple(job for job in JOBS if job in self.jobs and (job != "seat" or self.seat_venues))


_INTERVALS = (
    "poll_interval",
    "orders_interval",
    "margin_interval",
    "reconcile_interval",
    "haircut_interval",
    "price_record_interval",
    "replace_after",
    "receipt_timeout",
    "stale_after",
    "start_timeout",
    "rpc_timeout",
    "seat_interval",
    "child_ttl",
)


def load_config(
    path: Path | None = None, overrides: dict[str, Any] | None = None, need_key: bool = True
) -> KeeperConfig:
    """Defaults < TOML file (`[keeper]` table) < environment (`PRIMEVAULT_<FIELD>`) < overrides (flags given on the
    command line). Without an RPC URL from any of them, the deployment file's own is used. Every bad field is
    reported, all in one `ConfigError`. Without `need_key` (read-only commands) no signing key is required."""
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            document = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"config file {path} is not text: pass a TOML file with a [keeper] table") from None
        raw.update(document.get("keeper", document))
        tables = {kind: document.get(kind) for kind in SEAT_KINDS}
    else:
        tables = dict.fromkeys(SEAT_KINDS)
    for kind in SEAT_KINDS:
        raw.pop(kind, None)
    names = {f.name for f in fields(KeeperConfig)} - set(SEAT_KINDS)
    for name in names:
        value = os.environ.get(ENV_PREFIX + name.upper())
        if value is not None and value != "":
            raw[name] = value
    if os.environ.get(ENV_PREFIX + "RPC_URL") and "rpc_urls" not in raw:
        raw["rpc_urls"] = os.environ[ENV_PREFIX + "RPC_URL"]
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    errors = [f"{key}: unknown setting" for key in sorted(set(raw) - names)]
    values: dict[str, Any] = {}
    for f in fields(KeeperConfig):
        if f.name in raw:
            try:
                values[f.name] = _coerce(f.name, raw[f.name])
            except (ValueError, TypeError):
                errors.append(f"{f.name}: {raw[f.name]!r} is not {_KINDS.get(f.name, 'a number')}")
    if "rpc_urls" not in values:
        deployment_url = _deployment_rpc_url(values.get("deployment", KeeperConfig.deployment))
        if deployment_url:
            values["rpc_urls"] = (deployment_url,)
    # Fields that did not parse keep their defaults, so that the checks below still report every other bad field.
    config = KeeperConfig(**values)
    for venue in config.seat_venues:
        kind = venue.removesuffix("-seat")
        if kind not in SEAT_KINDS:
            errors.append(f"seat_venues: {venue!r} is not a seat venue ({', '.join(k + '-seat' for k in SEAT_KINDS)})")
            continue
        try:
            values[kind] = _seat_settings(kind, tables[kind], config.data_dir)
        except ConfigError as exc:
            errors.append(f"seat {venue}: {exc}")
    config = KeeperConfig(**values)
    errors += _problems(config, need_key)
    if errors:
        raise ConfigError("invalid keeper configuration: " + "; ".join(errors))
    return config


# What a field that does not parse should have been, for its error message.
_KINDS = {
    "dev_account": "a whole number",
    "gas_budget": "a whole number",
    "margin_minimum": "a whole number",
    "metrics_port": "a port number or off",
    "shard": "i/n, for example 0/2",
    "liquidity_addon_bps": "ASSET=bps pairs, for example ETH=50,BTC=80",
    "dry_run": "true or false",
    "once": "true or false",
    "apply_haircuts": "true or false",
}


def _seat_settings(kind: str, table: object, data_dir: Path) -> RabbitXSettings | DydxSettings:
    """A seat's connector settings: its TOML table (`[rabbitx]`, `[dydx]`), then its PRIMEVAULT_<KIND>_* variables
    over it. The RabbitX fill store goes in the keeper's `data_dir` unless the table says otherwise; the dYdX
    connector needs its extra (`pip install 'primevault[dydx]'`)."""
    if table is not None and not isinstance(table, dict):
        raise ConfigError(f"[{kind}] must be a table")
    values: dict[str, object] = dict(table or {})
    if kind == "rabbitx":
        values = {"data_dir": str(data_dir), **values}
    prefix = RABBITX_ENV_PREFIX if kind == "rabbitx" else f"{ENV_PREFIX}{kind.upper()}_"
    for key, value in os.environ.items():
        if key.startswith(prefix) and value != "":
            values[key[len(prefix) :].lower()] = value
    if kind == "rabbitx":
        return RabbitXSettings.from_mapping(values)
    try:
        from keeper.connectors.dydx.settings import DydxSettings
    except ImportError:
        raise MissingExtraError("the dYdX seat needs the dydx extra: pip install 'primevault[dydx]'") from None
    return DydxSettings.from_mapping(values)


def _deployment_rpc_url(path: Path) -> str | None:
    try:
        return str(json.loads(path.read_text()).get("rpc_url") or "") or None
    except (OSError, ValueError, AttributeError):
        return None  # a missing or bad deployment file is reported by the checks


def _coerce(name: str, value: Any) -> Any:
    if name == "rpc_urls":
        return tuple(u.strip() for u in (value.split(",") if isinstance(value, str) else value) if u.strip())
    if name in ("deployment", "data_dir", "keystore", "password_file"):
        return Path(value)
    if name in ("dev_account", "gas_budget", "margin_minimum"):
        return int(value)
    if name == "metrics_port":
        return None if str(value).lower() in ("", "none", "off") else int(value)
    if name == "seat_venues":
        names = value.split(",") if isinstance(value, str) else list(value)
        return tuple(dict.fromkeys(str(n).strip().lower() for n in names if str(n).strip()))
    if name in ("dry_run", "once", "apply_haircuts"):
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("1", "true", "yes", "on"):
            return True
        if str(value).lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{value!r} is not a boolean")
    if name == "jobs":
        names = value.split(",") if isinstance(value, str) else list(value)
        return tuple(dict.fromkeys(str(n).strip().lower() for n in names if str(n).strip()))
    if name == "shard":
        if isinstance(value, tuple):
            return value
        index, _, count = str(value).partition("/")
        return (int(index), int(count))
    if name == "liquidity_addon_bps":
        if isinstance(value, str):
            pairs = (p.split("=") for p in value.split(",") if p)
            return {k.strip().upper(): int(v) for k, v in pairs}
        return {str(k).upper(): int(v) for k, v in dict(value).items()}
    number = float(value)
    if not math.isfinite(number):  # TOML and float() both accept nan and inf; no interval or fee means either
        raise ValueError(f"{value!r} is not finite")
    return number


def _problems(c: KeeperConfig, need_key: bool = True) -> list[str]:
    errors = []
    if not c.rpc_urls:
        errors.append("rpc_urls: at least one RPC URL is needed")
    for url in c.rpc_urls:
        if not url.startswith(("http://", "https://")):
            errors.append(f"rpc_urls: {url!r} is not an http(s) URL")
    if not c.deployment.is_file():
        errors.append(f"deployment: {c.deployment} does not exist (start `primevault devnet` or run `deploy`)")
    for name in _INTERVALS:
        if getattr(c, name) <= 0:
            errors.append(f"{name}: must be greater than zero, got {getattr(c, name)}")
    if c.gas_budget < 200_000:
        errors.append(f"gas_budget: {c.gas_budget} is too small for one liquidation batch (at least 200000)")
    if c.max_fee_gwei <= 0:
        errors.append("max_fee_gwei: must be greater than zero")
    index, count = c.shard
    if count < 1 or not 0 <= index < count:
        errors.append(f"shard: {index}/{count} is not i/n with 0 <= i < n")
    if not 1 <= c.margin_floor <= c.margin_target <= c.margin_ceiling:
        errors.append("margin_floor <= margin_target <= margin_ceiling must hold, each at least 1")
    if need_key and c.keystore is None and c.dev_account is None:
        errors.append("key: set keystore and password_file (or dev_account on a local chain)")
    if c.keystore is not None and c.password_file is None:
        errors.append("password_file: needed with keystore")
    unknown_jobs = [j for j in c.jobs if j not in JOBS]
    if unknown_jobs:
        errors.append(f"jobs: unknown {', '.join(unknown_jobs)} (known: {', '.join(JOBS)})")
    if c.metrics_port is not None and not 0 <= c.metrics_port < 65_536:
        errors.append(f"metrics_port: {c.metrics_port} is not a port")
    return errors

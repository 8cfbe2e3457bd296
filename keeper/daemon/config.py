"""Keeper configuration from a TOML file, the environment (and `.env`), and command-line overrides, checked
at start with one line per bad field."""

from __future__ import annotations

import json
import math
import os
import tempfile
import tomllib
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keeper.chain.transactions import DEFAULT_MAX_FEE_GWEI
from keeper.client.lens import DEFAULT_CALL_GAS, MIN_CALL_GAS
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
# The most gas a liquidation batch may be given: the block gas limit anvil uses (and Ethereum's for years). A batch
# whose limit is over its chain's block limit is never mined, and every liquidation waits behind it.
MAX_GAS_BUDGET = 30_000_000
MAX_FEE_GWEI = 1_000_000  # 1,000 times Ethereum's highest base fee on record


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
    # The gas the lens's account pages name in `eth_call`, to which they are sized (10,000 an account): the node's cap
    # on a call's gas, geth's, reth's and erigon's `--rpc.gascap` (50,000,000 unless set). A node that caps lower is
    # found out (a page stops short and is read again in halves; a node that refuses the gas, asked with half).
    call_gas_cap: int = DEFAULT_CALL_GAS
    max_fee_gwei: float = float(DEFAULT_MAX_FEE_GWEI)
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
    # The smallest deposit or withdrawal the margin job sends, as a share of the venue's target (0 to below 1): a
    # smaller one waits unless the venue holds less than its requirement. Each move is a ~50k-gas transaction.
    margin_min_move: float = 0.1
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
    # Seconds between the seats' reads of their venues' state (order books for the router, the account posted on
    # chain, margin): each read spends the venue's request budget (RabbitX: 1,200 tokens a minute, 60 a read of two
    # markets).
    seat_state_interval: float = 5.0
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
    "seat_state_interval",
    "child_ttl",
)
# The longest interval or timeout taken, in seconds: a year. Far longer ones (TOML's 1e80) overflow what the
# scheduler's timedelta, a lock's wait and a socket's timeout can hold, and stopped the daemon with a traceback.
MAX_INTERVAL = 365 * 24 * 3600


def load_config(
    path: Path | None = None, overrides: dict[str, Any] | None = None, need_key: bool = True
) -> KeeperConfig:
    """Defaults < TOML file (`[keeper]` table) < environment (`PRIMEVAULT_<FIELD>`) < overrides (flags given on the
    command line). Without an RPC URL from any of them, the deployment file's own is used. Every bad field is
    reported, all in one `ConfigError`. Without `need_key` (read-only commands) no signing key is required."""
    raw: dict[str, Any] = {}
    document: dict[str, Any] = {}
    if path is not None:
        try:
            document = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"config file {path} is not text: pass a TOML file with a [keeper] table") from None
        tables = {kind: document.get(kind) for kind in SEAT_KINDS}
        keeper_table = document.get("keeper", document)
        if not isinstance(keeper_table, dict):
            raise ConfigError(f"config file {path}: keeper must be a table ([keeper]), not {keeper_table!r}")
        raw.update(keeper_table)
    else:
        tables = dict.fromkeys(SEAT_KINDS)
    for kind in SEAT_KINDS:
        raw.pop(kind, None)
    names = {f.name for f in fields(KeeperConfig)} - set(SEAT_KINDS)
    # Keys outside the [keeper] table and the seats' tables are reported as unknown, as those inside are (a typo
    # such as [kepper], or a setting written above [keeper], would otherwise be ignored).
    errors = []
    if path is not None and "keeper" in document:
        for key in sorted(set(document) - {"keeper", *SEAT_KINDS}):
            where = "outside the [keeper] table: move it under [keeper]" if key in names else "unknown setting"
            errors.append(f"{key}: {where}")
    errors += _unknown_table_keys(tables)
    for name in names:
        value = os.environ.get(ENV_PREFIX + name.upper())
        if value is not None and value != "":
            raw[name] = value
    if os.environ.get(ENV_PREFIX + "RPC_URL") and "rpc_urls" not in raw:
        raw["rpc_urls"] = os.environ[ENV_PREFIX + "RPC_URL"]
    flags = {k: v for k, v in (overrides or {}).items() if v is not None}
    raw.update(flags)
    errors += [f"{key}: unknown setting" for key in sorted(set(raw) - names)]
    values: dict[str, Any] = {}
    for f in fields(KeeperConfig):
        if f.name in raw:
            try:
                values[f.name] = _coerce(f.name, raw[f.name])
            except _BadEntry as exc:
                errors.append(f"{f.name}: {exc}")
            except (ValueError, TypeError):
                errors.append(f"{f.name}: {raw[f.name]!r} is not {_KINDS.get(f.name, 'a number')}")
    # As `keeper run --jobs ''` is refused: a keeper that runs no job looks alive and does nothing. The commands that
    # run no job (onboarding a seat, reading settings) say so by passing jobs=() themselves.
    if values.get("jobs") == () and "jobs" not in flags:
        errors.append(
            f"jobs: {raw['jobs']!r} names no job: list some of {', '.join(JOBS)}, or leave the setting out for all"
        )
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
            values[kind] = _seat_settings(kind, _known_keys(kind, tables[kind]), config.data_dir)
        except ConfigError as exc:
            errors.append(f"seat {venue}: {exc}")
    config = KeeperConfig(**values)
    if config.jobs == ("seat",) and not config.seat_venues:
        # As an empty list is refused: the seat job alone, with no seat to run, is a keeper that runs nothing.
        errors.append("jobs: the seat job runs only at the seats seat_venues names: set seat_venues, or list more jobs")
    errors += _problems(config, need_key)
    collateral = _deployment_collateral(config.deployment) if "liquidity_addon_bps" in values else None
    if collateral is not None:
        errors += addon_problems(config.liquidity_addon_bps, collateral)
    if errors:
        raise ConfigError("invalid keeper configuration: " + "; ".join(errors))
    return config


# What a field that does not parse should have been, for its error message.
_KINDS = {
    "rpc_urls": 'a URL or a list of URLs, for example ["http://127.0.0.1:8545"]',
    "deployment": "a path (a string)",
    "data_dir": "a path (a string)",
    "keystore": "a path (a string)",
    "password_file": "a path (a string)",
    "jobs": f'a list of job names, for example ["liquidation", "orders"] (known: {", ".join(JOBS)})',
    "seat_venues": 'a list of seat venues, for example ["rabbitx-seat"]',
    "dev_account": "a whole number",
    "gas_budget": "a whole number",
    "call_gas_cap": "a whole number",
    "margin_minimum": "a whole number",
    "metrics_port": "a port number or off",
    "shard": "i/n, for example 0/2",
    "liquidity_addon_bps": "ASSET=bps pairs naming the deployment's collateral, for example WETH=200,WBTC=250",
    "dry_run": "true or false",
    "once": "true or false",
    "apply_haircuts": "true or false",
}


class _BadEntry(ValueError):
    """One entry of a field's value is bad: its message names the entry (not the whole value) and what it should be."""


def _seat_keys(kind: str) -> frozenset[str] | None:
    """The settings a seat's table takes, or None when its connector is not installed (the dYdX extra)."""
    if kind == "rabbitx":
        from keeper.connectors.rabbitx.settings import KNOWN_SETTINGS

        return frozenset(KNOWN_SETTINGS)
    try:
        from keeper.connectors.dydx.settings import KNOWN_SETTINGS as DYDX_KNOWN
    except ImportError:
        return None
    return frozenset(DYDX_KNOWN)


def _unknown_table_keys(tables: dict[str, object]) -> list[str]:
    """`[rabbitx] foo` and `[dydx] foo`: unknown settings, said like the [keeper] table's, whether or not the seat is
    configured."""
    errors = []
    for kind, table in tables.items():
        known = _seat_keys(kind) if isinstance(table, dict) else None
        if isinstance(table, dict) and known is not None:
            errors += [f"{kind}.{key}: unknown setting" for key in sorted(set(table) - known)]
    return errors


def _known_keys(kind: str, table: object) -> object:
    """`table` without the keys `_unknown_table_keys` already reported (so that each is said once)."""
    known = _seat_keys(kind) if isinstance(table, dict) else None
    if not isinstance(table, dict) or known is None:
        return table
    return {key: value for key, value in table.items() if key in known}


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


def _names(value: Any) -> list[str]:
    """A comma-separated string or a list of strings (TOML), as a list; anything else is a TypeError."""
    if isinstance(value, str):
        return value.split(",")
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return list(value)
    raise TypeError(f"{value!r} is not a list of strings")


def _whole(value: Any) -> int:
    """A whole number: an int, a float without a fraction (TOML's 1e7) or its text; never a bool or 1.5 cut to 1."""
    if isinstance(value, bool):
        raise TypeError(f"{value!r} is not a number")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{value!r} is not whole")
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                exact = Decimal(value.strip())  # the text of 1e7, as TOML takes it
            except InvalidOperation:
                raise ValueError(f"{value!r} is not a number") from None
            if not exact.is_finite() or exact != exact.to_integral_value():
                raise ValueError(f"{value!r} is not whole") from None
            return int(exact)
    raise TypeError(f"{value!r} is not a number")


def _coerce(name: str, value: Any) -> Any:
    if name == "rpc_urls":
        return tuple(u.strip() for u in _names(value) if u.strip())
    if name in ("deployment", "data_dir", "keystore", "password_file"):
        if not isinstance(value, str | Path):
            raise TypeError(f"{value!r} is not a path")
        if name == "data_dir" and not str(value).strip():
            # Path("") is the working directory: the keeper's state files would land wherever it was started.
            raise _BadEntry(
                '"" would put the keeper\'s files wherever it is started: give a directory (it is made if missing)'
            )
        return Path(value)
    if name in ("dev_account", "gas_budget", "call_gas_cap", "margin_minimum"):
        return _whole(value)
    if name == "metrics_port":
        return None if str(value).lower() in ("", "none", "off") else _whole(value)
    if name == "seat_venues":
        return tuple(dict.fromkeys(n.strip().lower() for n in _names(value) if n.strip()))
    if name in ("dry_run", "once", "apply_haircuts"):
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("1", "true", "yes", "on"):
            return True
        if str(value).lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{value!r} is not a boolean")
    if name == "jobs":
        return tuple(dict.fromkeys(n.strip().lower() for n in _names(value) if n.strip()))
    if name == "shard":
        if isinstance(value, tuple):
            return value
        index, _, count = str(value).partition("/")
        return (int(index), int(count))
    if name == "liquidity_addon_bps":
        return _addons(value)
    if isinstance(value, bool):  # float(True) is 1.0
        raise TypeError(f"{value!r} is not a number")
    number = float(value)
    if not math.isfinite(number):  # TOML and float() both accept nan and inf; no interval or fee means either
        raise ValueError(f"{value!r} is not finite")
    return number


def _addons(value: Any) -> dict[str, int]:
    """`WETH=200,WBTC=250` or a TOML table of asset = bps; a bad entry is named on its own, not with the whole value.
    The assets are spelled as the deployment lists them (checked against it by `addon_problems`)."""
    example = "ASSET=bps pairs, for example WETH=200,WBTC=250"
    if isinstance(value, str):
        entries: list[tuple[str, Any]] = []
        for pair in filter(None, (p.strip() for p in value.split(","))):
            asset, equals, bps = pair.partition("=")
            if not equals or not asset.strip():
                raise _BadEntry(f"{pair!r} is not ASSET=bps ({example})")
            entries.append((asset.strip(), bps.strip()))
    elif isinstance(value, dict):
        entries = [(str(asset), bps) for asset, bps in value.items()]
    else:
        raise _BadEntry(f"{value!r} is not {example} (or a [keeper.liquidity_addon_bps] table)")
    addons: dict[str, int] = {}
    for asset, bps in entries:
        if asset in addons:
            raise _BadEntry(f"{asset} is given twice")
        try:
            number = _whole(bps)
        except (ValueError, TypeError):
            raise _BadEntry(f"{asset}={bps!r} is not a whole number of basis points ({example})") from None
        if not 0 <= number <= 10_000:
            raise _BadEntry(f"{asset}={number} is not between 0 and 10000 basis points")
        addons[asset] = number
    return addons


DEFAULT_ADDONS = KeeperConfig().liquidity_addon_bps


def addon_problems(addons: dict[str, int], collateral: tuple[str, ...] | list[str]) -> list[str]:
    """One line per `liquidity_addon_bps` key that is not a collateral symbol of the deployment (`collateral`): the
    haircuts job looks each asset up by its symbol, so a misspelt key (`DOGE`, `weth`, `ETH`) would leave the asset's
    add-on at 0 and push lower haircuts than intended. The defaults (the local deployment's WETH and WBTC) are not
    checked: they are not the operator's words, and an asset the deployment lacks is never looked up."""
    if addons == DEFAULT_ADDONS:
        return []
    listed = ", ".join(collateral)
    problems = []
    for key in addons:
        if key in collateral:
            continue
        near = [symbol for symbol in collateral if symbol.upper() == key.upper()]
        hint = f" (spelled {near[0]})" if near else ""
        problems.append(
            f"liquidity_addon_bps: {key!r} is not a collateral asset of the deployment{hint}; it lists {listed}"
        )
    return problems


def _deployment_collateral(path: Path) -> tuple[str, ...] | None:
    """The deployment file's collateral symbols, or None when it cannot say (missing, or not the file `deploy`
    writes: reported by the checks, or when the keeper starts)."""
    try:
        collateral = json.loads(path.read_text())["collateral"]
        return tuple(str(token["symbol"]) for token in collateral)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


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
        elif getattr(c, name) > MAX_INTERVAL:
            errors.append(f"{name}: {getattr(c, name)} seconds is more than a year: give at most {MAX_INTERVAL}")
    if c.gas_budget < 200_000:
        errors.append(f"gas_budget: {c.gas_budget} is too small for one liquidation batch (at least 200000)")
    elif c.gas_budget > MAX_GAS_BUDGET:
        errors.append(
            f"gas_budget: {c.gas_budget} is more than a block holds: a batch that large is never mined "
            f"(at most {MAX_GAS_BUDGET})"
        )
    if c.call_gas_cap < MIN_CALL_GAS:
        errors.append(
            f"call_gas_cap: {c.call_gas_cap} cannot read the lens's risk state and a page of accounts in one call "
            f"(at least {MIN_CALL_GAS}; nodes cap calls at 50000000 unless set lower)"
        )
    if c.max_fee_gwei <= 0:
        errors.append("max_fee_gwei: must be greater than zero")
    elif c.max_fee_gwei > MAX_FEE_GWEI:
        # A cap no chain's fees reach is no cap: a liquidation batch could spend the key's balance on one fee spike.
        errors.append(f"max_fee_gwei: {c.max_fee_gwei:g} is no cap at all (at most {MAX_FEE_GWEI:,} gwei)")
    index, count = c.shard
    if count < 1 or not 0 <= index < count:
        errors.append(f"shard: {index}/{count} is not i/n with 0 <= i < n")
    if not 1 <= c.margin_floor <= c.margin_target <= c.margin_ceiling:
        errors.append("margin_floor <= margin_target <= margin_ceiling must hold, each at least 1")
    if c.margin_minimum < 0:
        errors.append(f"margin_minimum: must be zero or more, got {c.margin_minimum}")
    if not 0 <= c.margin_min_move < 1:
        errors.append(f"margin_min_move: must be a share of the target from 0 to below 1, got {c.margin_min_move}")
    errors += _data_dir_problems(c.data_dir)
    if need_key and c.keystore is None and c.dev_account is None:
        errors.append("key: set keystore and password_file (or dev_account on a local chain)")
    if c.keystore is not None and c.dev_account is not None:
        errors.append(
            f"key: both keystore ({c.keystore}) and dev_account ({c.dev_account}) are set (by the file, "
            "PRIMEVAULT_* variables or flags): keep one, the keeper signs with one key"
        )
    if c.keystore is not None and c.password_file is None:
        errors.append("password_file: needed with keystore")
    if need_key:
        for name in ("keystore", "password_file"):
            file = getattr(c, name)
            if file is not None and not file.is_file():
                errors.append(f"{name}: {file} {'is not a file' if file.exists() else 'does not exist'}")
    unknown_jobs = [j for j in c.jobs if j not in JOBS]
    if unknown_jobs:
        errors.append(f"jobs: unknown {', '.join(unknown_jobs)} (known: {', '.join(JOBS)})")
    if c.metrics_port is not None and not 0 <= c.metrics_port < 65_536:
        errors.append(f"metrics_port: {c.metrics_port} is not a port")
    return errors


def _data_dir_problems(data_dir: Path) -> list[str]:
    """A data_dir that is a file, or under one, cannot be created or written to; nor can one where a file cannot be
    made (read-only, or another user's), which would otherwise fail the first write of the nonce file or the price
    history with a traceback. Tried by making a file there (or in the nearest directory above a data_dir not made
    yet) and removing it."""
    if data_dir.exists():
        if not data_dir.is_dir():
            return [f"data_dir: {data_dir} is a file, not a directory: give a directory (it is made if missing)"]
        return _unwritable(data_dir, f"data_dir: {data_dir} is not writable")
    for parent in data_dir.parents:
        if parent.exists():
            if not parent.is_dir():
                return [f"data_dir: {parent} is a file, so {data_dir} cannot be made: give a directory"]
            return _unwritable(parent, f"data_dir: {data_dir} cannot be made, {parent} is not writable")
    return []


def _unwritable(directory: Path, problem: str) -> list[str]:
    """`problem` (with the reason) if no file can be made in `directory`; the file tried is removed at once."""
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".primevault-write-check-"):
            return []
    except OSError as exc:
        return [f"{problem} ({exc.strerror or exc}): give a directory the keeper can write to"]

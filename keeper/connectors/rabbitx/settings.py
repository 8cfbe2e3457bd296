"""The connector's configuration: where the exchange is, the account's credentials, where the durable fill store
lives, and how fills are followed. Pointing the keeper at the real RabbitX changes only these values."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from keeper.connectors.rabbitx.client import Credentials
from keeper.exceptions import ConfigError

ENV_PREFIX = "PRIMEVAULT_RABBITX_"


@dataclass(frozen=True)
class RabbitXSettings:
    base_url: str
    """REST base URL: ``https://api.prod.rabbitx.io`` for RabbitX mainnet, the printed URL for the devnet."""
    credentials: Credentials
    data_dir: Path
    """The keeper's data directory; the fill store is a SQLite file in it."""
    ws_url: str = ""
    """WebSocket URL; empty means the base URL's host with ``/ws`` (RabbitX's and the devnet's layout)."""
    exchange_id: str = "rbx"
    """RabbitX's ``EID`` header: which chain's exchange (API keys are per chain)."""
    request_timeout: float = 10.0
    """Seconds a REST request or WebSocket handshake may take."""
    reconnect_delay: float = 1.0
    """Seconds between WebSocket reconnection attempts; fills are polled over REST at the same pace meanwhile."""
    quiet_reconcile: float = 30.0
    """Seconds without any account push after which fills are checked over REST anyway."""
    recovery_overlap: float = 300.0
    """Seconds before the newest stored fill that a REST recovery reads again, so that a fill reported late or out
    of order is not skipped (the store drops the ones already seen by their id)."""

    @property
    def websocket_url(self) -> str:
        if self.ws_url:
            return self.ws_url
        parts = urlsplit(self.base_url)
        scheme = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
        return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/ws", "", ""))

    @property
    def store_path(self) -> Path:
        return self.data_dir / f"rabbitx-{self.exchange_id}-{self.credentials.profile_id}.sqlite"

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> RabbitXSettings:
        """Settings from a flat mapping (a TOML ``[rabbitx]`` table): base_url, api_key, api_secret, jwt,
        profile_id and data_dir are required; one ConfigError lists every field that is missing or malformed."""
        problems = [f"rabbitx.{name} is required" for name in _REQUIRED if values.get(name) in (None, "")]
        problems += [f"rabbitx.{name} is not a setting" for name in sorted(set(values) - KNOWN_SETTINGS)]
        changes: dict[str, Any] = {name: str(values[name]) for name in ("ws_url", "exchange_id") if values.get(name)}
        for name in _SECONDS:
            if values.get(name) not in (None, ""):
                changes[name] = _number(values[name], name, float, problems)
        profile_id = _number(values.get("profile_id") or 0, "profile_id", int, problems)
        if problems:
            raise ConfigError("; ".join(problems))
        credentials = Credentials(
            api_key=str(values["api_key"]),
            secret=str(values["api_secret"]),
            jwt=str(values["jwt"]),
            profile_id=int(profile_id),
        )
        settings = cls(str(values["base_url"]), credentials, Path(str(values["data_dir"])))
        return dataclasses.replace(settings, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> RabbitXSettings:
        """Settings from ``PRIMEVAULT_RABBITX_<NAME>`` variables (``PRIMEVAULT_RABBITX_API_SECRET``, ...)."""
        return cls.from_mapping(
            {key[len(ENV_PREFIX) :].lower(): value for key, value in environ.items() if key.startswith(ENV_PREFIX)}
        )


_REQUIRED = ("base_url", "api_key", "api_secret", "jwt", "profile_id", "data_dir")
_SECONDS = ("request_timeout", "reconnect_delay", "quiet_reconcile", "recovery_overlap")
KNOWN_SETTINGS = {*_REQUIRED, *_SECONDS, "ws_url", "exchange_id"}


def _number(value: object, name: str, kind: type[int] | type[float], problems: list[str]) -> float:
    try:
        number = kind(str(value))
    except ValueError:
        problems.append(f"rabbitx.{name} must be {'an integer' if kind is int else 'a number'}, got {value!r}")
        return 0
    if number < 0:
        problems.append(f"rabbitx.{name} must not be negative, got {value!r}")
    return number

"""The deployment file: where a PrimeVault system lives on a chain, written by `deploy` and read by everything
else."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from eth_typing import ChecksumAddress
from web3 import Web3

from keeper.exceptions import ConfigError, InputError
from keeper.units import format_units


@dataclass(frozen=True)
class TokenInfo:
    symbol: str
    address: ChecksumAddress
    decimals: int
    feed: ChecksumAddress | None = None  # price feed, for collateral assets

    def format(self, units: int) -> str:
        """`units` of this token as a log or a sentence says them: "200,000 USDC"."""
        return f"{format_units(units, self.decimals)} {self.symbol}"


OFF_CHAIN_VENUES = frozenset({"rabbitx-seat", "dydx-seat"})
"""Venue kinds that match off chain behind an exchange's API: the vault holds a seat there (its adapter is the
exchange account), orders reach them only as child orders, and they come after every on-chain venue."""


@dataclass(frozen=True)
class VenueInfo:
    name: str  # "dydx" or "rabbitx" (local venues that fill on chain), "rabbitx-seat" or "dydx-seat" (seats)
    address: ChecksumAddress  # the venue contract; for a seat, the exchange's custody contract or the bridge
    adapter: ChecksumAddress | None = None  # the vault's adapter for it

    @property
    def fills_off_chain(self) -> bool:
        return self.name in OFF_CHAIN_VENUES


@dataclass(frozen=True)
class MarketInfo:
    ticker: str  # "BTC-USD"
    feed: ChecksumAddress  # the oracle both venues and the vault mark it with


@dataclass(frozen=True)
class Deployment:
    chain_id: int
    vault: ChecksumAddress
    lens: ChecksumAddress
    base: TokenInfo
    collateral: tuple[TokenInfo, ...]
    block: int = 0
    roles: dict[str, str] = field(default_factory=dict)
    rpc_url: str | None = None  # where it was deployed from, as a default for later commands
    trading: ChecksumAddress | None = None  # the trading module
    venues: tuple[VenueInfo, ...] = ()
    markets: tuple[MarketInfo, ...] = ()  # perp markets, in market-id order
    lender: ChecksumAddress | None = None  # the ERC-4626 lender vault over the base asset
    sessions: ChecksumAddress | None = None  # SessionKeys: scoped trading keys over the trading module
    bundler: ChecksumAddress | None = None  # PrimeVaultBundler: deposit, borrow and an order in one transaction
    portfolio: ChecksumAddress | None = None  # PortfolioMargin: the portfolio rule for accounts in portfolio mode

    def __post_init__(self) -> None:
        kinds = [v.fills_off_chain for v in self.venues]
        if kinds != sorted(kinds):
            raise ConfigError(
                "the deployment lists a venue that fills on chain after a seat at an off-chain exchange: seats come "
                "last (the keeper's routers index on-chain venues from 0)"
            )

    @property
    def on_chain_venues(self) -> tuple[VenueInfo, ...]:
        """The venues that fill inside a transaction, ids 0..n-1."""
        return tuple(v for v in self.venues if not v.fills_off_chain)

    def market(self, ticker: str) -> MarketInfo:
        """The perp market `ticker` (case-insensitive)."""
        for info in self.markets:
            if info.ticker.upper() == ticker.upper():
                return info
        known = ", ".join(m.ticker for m in self.markets) or "none"
        shown = ticker if len(ticker) <= 40 else ticker[:40] + "..."  # a name pasted by mistake is not echoed whole
        raise InputError(f"unknown market {shown!r}: this deployment has {known}")

    def token(self, symbol: str) -> TokenInfo:
        """The base or collateral token called `symbol` (case-insensitive)."""
        for info in (self.base, *self.collateral):
            if info.symbol.upper() == symbol.upper():
                return info
        known = ", ".join(t.symbol for t in (self.base, *self.collateral))
        raise InputError(f"unknown asset {symbol!r}: this deployment has {known}")

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path | str) -> Deployment:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(
                f"deployment file {path} does not exist: start `primevault devnet` or run `primevault deploy`"
            ) from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"deployment file {path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
        except UnicodeDecodeError:
            raise ConfigError(f"deployment file {path} is not text: pass the JSON file `deploy` wrote") from None
        except OSError as exc:
            raise ConfigError(f"cannot read deployment file {path}: {exc.strerror}") from None
        if not isinstance(data, dict):
            raise ConfigError(
                f"deployment file {path} holds a JSON {type(data).__name__}, not the object `deploy` writes: pass the "
                "right --deployment"
            )
        try:
            return cls(
                chain_id=int(data["chain_id"]),
                vault=Web3.to_checksum_address(data["vault"]),
                lens=Web3.to_checksum_address(data["lens"]),
                base=_token(data["base"]),
                collateral=tuple(_token(t) for t in data["collateral"]),
                block=int(data.get("block", 0)),
                roles=dict(data.get("roles", {})),
                rpc_url=data.get("rpc_url"),
                trading=Web3.to_checksum_address(data["trading"]) if data.get("trading") else None,
                venues=tuple(
                    VenueInfo(
                        str(v["name"]),
                        Web3.to_checksum_address(str(v["address"])),
                        Web3.to_checksum_address(str(v["adapter"])) if v.get("adapter") else None,
                    )
                    for v in data.get("venues", [])
                ),
                markets=tuple(
                    MarketInfo(str(m["ticker"]), Web3.to_checksum_address(str(m["feed"])))
                    for m in data.get("markets", [])
                ),
                lender=Web3.to_checksum_address(data["lender"]) if data.get("lender") else None,
                sessions=Web3.to_checksum_address(data["sessions"]) if data.get("sessions") else None,
                bundler=Web3.to_checksum_address(data["bundler"]) if data.get("bundler") else None,
                portfolio=Web3.to_checksum_address(data["portfolio"]) if data.get("portfolio") else None,
            )
        except KeyError as exc:
            raise ConfigError(
                f"deployment file {path} is missing or has a bad field: it lacks {exc}; pass the file `deploy` wrote"
            ) from None
        except (TypeError, ValueError, AttributeError):
            # Python's own wording ("invalid literal for int()") means nothing to an operator; the fix is the same.
            raise ConfigError(
                f"deployment file {path} is missing or has a bad field: a number, an address or a token entry is "
                "not what `deploy` writes; pass the file it wrote"
            ) from None


def _token(data: dict[str, object]) -> TokenInfo:
    feed = data.get("feed")
    return TokenInfo(
        symbol=str(data["symbol"]),
        address=Web3.to_checksum_address(str(data["address"])),
        decimals=int(str(data["decimals"])),
        feed=Web3.to_checksum_address(str(feed)) if feed else None,
    )

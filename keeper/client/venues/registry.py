"""The venues of a deployment, as `Venue` readers."""

from __future__ import annotations

from web3 import Web3

from keeper.chain.deployment import Deployment
from keeper.client.venues import Venue
from keeper.client.venues.dydx import DydxVenue
from keeper.client.venues.rabbitx import RabbitVenue
from keeper.exceptions import ConfigError


def load_venues(w3: Web3, deployment: Deployment) -> list[Venue]:
    """One reader per venue that fills on chain, in venue-id order (seats at off-chain exchanges come after them and
    are read through their exchange's API)."""
    venues: list[Venue] = []
    for info in deployment.on_chain_venues:
        if info.name == "dydx":
            venues.append(DydxVenue(w3, info.address))
        elif info.name == "rabbitx":
            venues.append(RabbitVenue(w3, info.address, [m.ticker for m in deployment.markets]))
        else:
            raise ConfigError(f"deployment lists venue {info.name!r}, which this keeper does not know")
    if not venues:
        raise ConfigError("this deployment has no perp venues: redeploy with `primevault devnet` or `deploy`")
    return venues

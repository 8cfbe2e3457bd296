"""The keeper's RabbitX connector: RabbitX's public REST and WebSocket API, signed as RabbitX's own clients sign.

Base URL, WebSocket URL and credentials come from configuration (`RabbitXSettings`), so the devnet replica
(keeper/devnet/rabbitx/) and the real exchange differ only there. README.md says how to use it;
keeper/devnet/rabbitx/API_NOTES.md records the API with its sources.
"""

from keeper.connectors.rabbitx.client import Credentials
from keeper.connectors.rabbitx.connector import RabbitXConnector
from keeper.connectors.rabbitx.errors import RabbitXError
from keeper.connectors.rabbitx.fills import FillFeed
from keeper.connectors.rabbitx.models import Balance, Fill, Order, OrderRequest, Position, Withdrawal
from keeper.connectors.rabbitx.settings import RabbitXSettings
from keeper.connectors.rabbitx.vocabulary import OrderStatus, OrderType, Side, TimeInForce

__all__ = [
    "Balance",
    "Credentials",
    "Fill",
    "FillFeed",
    "Order",
    "OrderRequest",
    "OrderStatus",
    "OrderType",
    "Position",
    "RabbitXConnector",
    "RabbitXError",
    "RabbitXSettings",
    "Side",
    "TimeInForce",
    "Withdrawal",
]

"""The keeper's dYdX v4 connector, built on the official Python client (``dydx-v4-client``, the ``dydx`` extra).

Indexer URL, validator endpoint, chain id and mnemonic come from configuration (`DydxSettings`), so the devnet
replica (keeper/devnet/dydx/) and the real chain differ only there. README.md says how to use it.
"""

from keeper.connectors.dydx.connector import DydxConnector, dydx_address
from keeper.connectors.dydx.errors import (
    DuplicateClientIdError,
    DydxConnectionError,
    DydxError,
    DydxOrderUnknownError,
    DydxTxRejectedError,
    LimitBelowTickError,
    SizeBelowStepError,
)
from keeper.connectors.dydx.models import (
    Fill,
    FundingRate,
    Market,
    OrderBook,
    OrderRequest,
    OrderResult,
    PlacedOrder,
    Position,
    Side,
    Subaccount,
    TimeInForce,
)
from keeper.connectors.dydx.settings import DydxSettings

__all__ = [
    "DuplicateClientIdError",
    "DydxConnectionError",
    "DydxConnector",
    "DydxError",
    "DydxOrderUnknownError",
    "DydxSettings",
    "DydxTxRejectedError",
    "Fill",
    "FundingRate",
    "LimitBelowTickError",
    "Market",
    "OrderBook",
    "OrderRequest",
    "OrderResult",
    "PlacedOrder",
    "Position",
    "Side",
    "SizeBelowStepError",
    "Subaccount",
    "TimeInForce",
    "dydx_address",
]

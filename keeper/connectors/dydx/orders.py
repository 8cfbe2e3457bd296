"""Short-term orders as dYdX wants them, built with the official client's own message helpers.

Quantums and subticks are the client's `Market.calculate_quantums`/`calculate_subticks`, computed exactly in
integers (`Market.size_to_quantums`/`price_to_subticks`): the client computes them in floats, which drops a whole
step or tick from thousands of sizes and limits already on the grid. Sizes and limits round down, a sell's limit
included, as the client rounds. The client lifts anything below one step or one tick to a full step or tick; the
connector refuses those instead (`SizeBelowStepError`, `LimitBelowTickError`), since a buy at one tick above its
limit or a size larger than asked is not what the caller meant.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

from dydx_v4_client import MAX_CLIENT_ID, OrderFlags
from dydx_v4_client.indexer.rest.constants import OrderType
from dydx_v4_client.node.chain_helpers import OrderHelper
from dydx_v4_client.node.market import Market as ClientMarket
from dydx_v4_client.node.message import order as order_message
from v4_proto.dydxprotocol.clob.order_pb2 import Order

from keeper.connectors.dydx.errors import DuplicateClientIdError, LimitBelowTickError, SizeBelowStepError
from keeper.connectors.dydx.models import Market, OrderRequest, Side, TimeInForce
from keeper.exceptions import InputError

SHORT_TERM = int(OrderFlags.SHORT_TERM)

_SIDES = {Side.BUY: Order.Side.SIDE_BUY, Side.SELL: Order.Side.SIDE_SELL}
_TIME_IN_FORCE = {
    TimeInForce.IOC: Order.TimeInForce.TIME_IN_FORCE_IOC,
    TimeInForce.GOOD_TIL_BLOCK: Order.TimeInForce.TIME_IN_FORCE_UNSPECIFIED,
    TimeInForce.POST_ONLY: Order.TimeInForce.TIME_IN_FORCE_UNSPECIFIED,
}


def check_grid(market: Market, size: Decimal, price: Decimal) -> None:
    """Refuses a size below one step or a limit below one tick (the client's helpers would round those up)."""
    if size < market.step_size:
        raise SizeBelowStepError(f"size {size} of {market.ticker} is below its step {market.step_size.normalize()}")
    if price < market.tick_size:
        raise LimitBelowTickError(f"limit {price} of {market.ticker} is below its tick {market.tick_size.normalize()}")


def build_order(
    market: Market, request: OrderRequest, address: str, subaccount_number: int, client_id: int, good_til_block: int
) -> Any:
    """The `v4_proto` Order for `request`, short-term until `good_til_block`, made as the client's `Market.order`
    makes a limit order, with the exact quantums and subticks in place of the client's float ones."""
    check_grid(market, request.size, request.price)
    order_id = ClientMarket(dict(market.row)).order_id(address, subaccount_number, client_id, SHORT_TERM)
    post_only = request.time_in_force is TimeInForce.POST_ONLY
    return order_message(
        order_id=order_id,
        side=_SIDES[request.side],
        quantums=market.size_to_quantums(request.size),
        subticks=market.price_to_subticks(request.price),
        time_in_force=OrderHelper.calculate_time_in_force(
            OrderType.LIMIT, _TIME_IN_FORCE[request.time_in_force], post_only
        ),
        reduce_only=request.reduce_only,
        good_til_block=good_til_block,
        client_metadata=OrderHelper.calculate_client_metadata(OrderType.LIMIT),
        condition_type=OrderHelper.calculate_condition_type(OrderType.LIMIT),
    )


class ClientIds:
    """Client ids for one subaccount's short-term orders, never two live at once.

    dYdX identifies an order by (subaccount, client id, flags, clob pair): a second order with the id of a live one
    is a replacement, refused unless its goodTilBlock is later. An id stays taken until its order's goodTilBlock has
    passed (a cancelled id too: dYdX refuses to place it again before then). Ids the caller does not choose count
    up from a random start, so a restarted keeper does not reuse the live ids of the process before it.
    """

    def __init__(self, start: int | None = None) -> None:
        self._next = secrets.randbelow(MAX_CLIENT_ID + 1) if start is None else start
        self._live: dict[int, int] = {}
        """client id -> goodTilBlock of its order"""

    def take(self, requested: int | None, good_til_block: int, height: int) -> int:
        """An id for an order living until `good_til_block`, at chain height `height`: `requested` if free."""
        self._live = {client_id: until for client_id, until in self._live.items() if until > height}
        if requested is not None:
            if requested in self._live:
                live_until = self._live[requested]
                raise DuplicateClientIdError(f"client id {requested} belongs to an order live until block {live_until}")
            if not 0 <= requested <= MAX_CLIENT_ID:
                raise InputError(f"client id {requested} is outside dYdX's 0..{MAX_CLIENT_ID}")
            client_id = requested
        else:
            while self._next in self._live:
                self._next = (self._next + 1) % (MAX_CLIENT_ID + 1)
            client_id = self._next
            self._next = (self._next + 1) % (MAX_CLIENT_ID + 1)
        self._live[client_id] = good_til_block
        return client_id

    def release(self, client_id: int) -> None:
        """Frees an id whose order never reached the validator (the broadcast was refused)."""
        self._live.pop(client_id, None)

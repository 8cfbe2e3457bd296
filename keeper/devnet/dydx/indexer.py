"""The replica's indexer: the REST endpoints of dYdX's indexer (comlink) the connector reads, over the `Chain`, in
the indexer's shapes (decimal strings, heights as strings, newest first) and only as of the latest block.

``/v4/height``, ``/v4/time``, ``/v4/perpetualMarkets``, ``/v4/orderbooks/perpetualMarket/{ticker}``,
``/v4/trades/perpetualMarket/{ticker}``, ``/v4/historicalFunding/{ticker}``, ``/v4/addresses/{address}``,
``/v4/addresses/{address}/subaccountNumber/{n}``, ``/v4/perpetualPositions``, ``/v4/assetPositions``, ``/v4/orders``,
``/v4/orders/{orderId}``, ``/v4/fills``, ``/v4/transfers``, ``/v4/fundingPayments`` and ``/v4/historical-pnl``
(one tick, as of the latest block). As the real one, /v4/fills filters by ``market`` with ``marketType`` and ignores
parameters it does not know (the client sends ``ticker``).

Their parent-subaccount variants, a parent N (0..127) aggregating the subaccounts N, N + 128, ... that exist:
``/v4/addresses/{address}/parentSubaccountNumber/{n}``, ``/v4/perpetualPositions/parentSubaccountNumber``,
``/v4/assetPositions/parentSubaccountNumber``, ``/v4/orders/parentSubaccountNumber``,
``/v4/fills/parentSubaccountNumber``, ``/v4/transfers/parentSubaccountNumber``,
``/v4/fundingPayments/parentSubaccount`` and ``/v4/historical-pnl/parentSubaccountNumber``.

Candles and sparklines built from the replica's trades (`candles.py`): ``/v4/candles/perpetualMarkets/{ticker}``
and ``/v4/sparklines``. The screens, which pass every address: ``/v4/screen``, ``/v4/compliance/screen/{address}``.

Beside them, with an attester key, the route of Circle's attestation service the keeper reads to bring a withdrawal
back to Ethereum: ``/v1/messages/{sourceDomain}/{transactionHash}`` (each CCTP message the transaction sent, with its
attestation once its block is produced, ``PENDING`` before).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Container, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from keeper.connectors.dydx.cctp import NOBLE_DOMAIN
from keeper.devnet.dydx.bridge import attest, cctp_message
from keeper.devnet.dydx.candles import RESOLUTION_SECONDS, SPARKLINE_PERIODS, market_candles, sparklines
from keeper.devnet.dydx.chain import (
    BUY,
    INDEXER_NAMESPACE,
    SELL,
    Chain,
    ClosedPosition,
    MarketConfig,
    PerpPosition,
    SubaccountState,
    iso,
    plain,
)

MAX_LIMIT = 1000
"""comlink's API_LIMIT_V4: the most rows a request may ask for, and what one that asks for no number gets."""
MAX_PARENT_SUBACCOUNTS = 128
CHILD_SUBACCOUNT_MULTIPLIER = 1000
"""A parent subaccount N (0..127) stands for its children N, N + 128, ... below 128 x 1000 (v4-chain's postgres
constants): isolated positions live in the children, cross-margined ones in N itself."""
NATURAL_NUMBER = re.compile(r"[0-9]+")
"""A count, height, subaccount number or limit as the indexer's validators take one: ASCII digits. Python's int()
also reads "-5", " 5", "1_0" and other scripts' digits, and str.isdigit takes "²", which int() then refuses."""


ADDRESS = re.compile(r"[a-zA-Z0-9]{1,90}")
"""An address as comlink's isValidAddress takes one: at most 90 ASCII letters and digits (no bech32 check)."""


def indexer_app(chain: Chain, attester_key: str | None = None) -> web.Application:
    """The indexer's routes over `chain`; with `attester_key`, the attestation route too."""
    app = web.Application()
    app.add_routes(_parent_routes(chain))  # before /v4/orders/{orderId}, which would take parentSubaccountNumber
    app.add_routes(_chart_routes(chain))
    app.add_routes(_compliance_routes())
    routes = web.RouteTableDef()

    @routes.get("/v4/height")
    async def height(request: web.Request) -> web.Response:
        with chain.lock:
            return web.json_response({"height": str(chain.height), "time": chain.block_times[chain.height]})

    @routes.get("/v4/time")
    async def now(request: web.Request) -> web.Response:
        moment = datetime.now(UTC)
        return web.json_response({"iso": iso(moment), "epoch": moment.timestamp()})

    @routes.get("/v4/perpetualMarkets")
    async def markets(request: web.Request) -> web.Response:
        """Every market, up to ``limit``, or the one ``ticker`` (or ``market``) names: 404 if none is listed."""
        query = request.query
        if "ticker" in query and "market" in query:
            raise _bad_request("Only one of ticker or market may be provided")
        limit = _limit(query)
        ticker = query.get("ticker", query.get("market"))
        if ticker is not None:
            _known(chain, ticker)
        listed = markets_json(chain, ticker)
        return web.json_response({"markets": dict(list(listed["markets"].items())[:limit])})

    @routes.get("/v4/orderbooks/perpetualMarket/{ticker}")
    async def orderbook(request: web.Request) -> web.Response:
        return web.json_response(orderbook_json(chain, _known(chain, request.match_info["ticker"])))

    @routes.get("/v4/fills")
    async def fills(request: web.Request) -> web.Response:
        query = request.query
        address, number = _subaccount_query(query)
        _check_market_pair(query)
        market = query.get("market")
        if market is not None and (query["marketType"] != "PERPETUAL" or chain.market_by_ticker(market) is None):
            raise _not_found(f"{market} not found in markets of type {query['marketType']}")
        before, moment = _int(query, "createdBeforeOrAtHeight", 0), _moment(query, "createdBeforeOrAt")
        page = None
        if "page" in query:
            page = _int(query, "page", 0)
            if page == 0:
                raise _bad_request("page must be a non-negative integer")  # comlink's words for "from 1"
        answer = fills_json(chain, address, (number,), _limit(query), before, query.get("market"), moment, page)
        return web.json_response(answer)

    @routes.get("/v4/trades/perpetualMarket/{ticker}")
    async def trades(request: web.Request) -> web.Response:
        market = _known(chain, request.match_info["ticker"])
        before = _int(request.query, "createdBeforeOrAtHeight", 0)
        return web.json_response({"trades": trades_json(chain, market, before)[: _limit(request.query)]})

    @routes.get("/v4/orders")
    async def orders(request: web.Request) -> web.Response:
        address, number = _subaccount_query(request.query)
        _check_order_filters(chain, request.query)
        return web.json_response(_chosen_orders(_orders(chain, address, (number,)), request.query))

    @routes.get("/v4/orders/{order_id}")
    async def order(request: web.Request) -> web.Response:
        try:
            uuid.UUID(request.match_info["order_id"])
        except ValueError:
            raise _bad_request("Invalid value") from None  # express-validator's isUUID, with no message of its own
        with chain.lock:
            record = chain.orders.get(request.match_info["order_id"])
            if record is None or int(str(record["createdAtHeight"])) > chain.height:
                raise _not_found(f"Unable to find order id {request.match_info['order_id']}")
            return web.json_response(_public(record))

    @routes.get("/v4/transfers")
    async def transfers(request: web.Request) -> web.Response:
        address, number = _subaccount_query(request.query)
        visible = _transfers(chain, address, (number,), *_created_bounds(request.query))
        return web.json_response(_page("transfers", visible, _limit(request.query), _int(request.query, "page", 1)))

    @routes.get("/v1/messages/{domain}/{tx_hash}")
    async def messages(request: web.Request) -> web.Response:
        tx_hash = request.match_info["tx_hash"]
        with chain.lock:
            burns = chain.noble.burns if chain.noble is not None else []
            sent = [b for b in burns if b.tx_hash == tx_hash and b.height <= chain.height]
        if _int(request.match_info, "domain", -1) != NOBLE_DOMAIN or not sent:
            return web.json_response({"error": "Message hash not found"}, status=404)
        rows = []
        for burn in sent:
            message = cctp_message(burn)
            attestation = "0x" + attest(attester_key, message).hex() if attester_key else "PENDING"
            rows.append({"attestation": attestation, "message": "0x" + message.hex(), "eventNonce": str(burn.nonce)})
        return web.json_response({"messages": rows})

    @routes.get("/v4/addresses/{address}/subaccountNumber/{number}")
    async def subaccount(request: web.Request) -> web.Response:
        path = request.match_info
        address, number = _subaccount_query({"address": path["address"], "subaccountNumber": path["number"]})
        with chain.lock:
            account = chain.subaccounts.get((address, number))
            if account is None:
                raise _not_found(f"No subaccount found with address {address} and subaccountNumber {number}")
            return web.json_response({"subaccount": subaccount_json(chain, account)})

    @routes.get("/v4/addresses/{address}")
    async def address(request: web.Request) -> web.Response:
        owner = request.match_info["address"]
        if not ADDRESS.fullmatch(owner):
            raise _bad_request("address must be a valid address")
        with chain.lock:
            owned = sorted((a for a in chain.subaccounts.values() if a.owner == owner), key=lambda a: a.number)
            if not owned:
                raise _not_found(f"No subaccounts found for address {owner}")
            rows = [subaccount_json(chain, account) for account in owned]
        return web.json_response({"subaccounts": rows, "totalTradingRewards": "0"})

    @routes.get("/v4/perpetualPositions")
    async def perpetual_positions(request: web.Request) -> web.Response:
        address, number = _subaccount_query(request.query)
        return web.json_response({"positions": _perpetual_positions(chain, address, (number,), request.query)})

    @routes.get("/v4/assetPositions")
    async def asset_positions(request: web.Request) -> web.Response:
        address, number = _subaccount_query(request.query)
        return web.json_response({"positions": _asset_positions(chain, address, (number,))})

    @routes.get("/v4/fundingPayments")
    async def funding_payments(request: web.Request) -> web.Response:
        query = request.query
        address, number = _subaccount_query(query)
        return web.json_response(_funding_payments(chain, address, (number,), query, query.get("ticker")))

    @routes.get("/v4/historical-pnl")
    async def historical_pnl(request: web.Request) -> web.Response:
        address, number = _subaccount_query(request.query)
        with chain.lock:
            accounts = _accounts(chain, address, (number,))
            ticks = [_pnl_tick(chain, address, (number,), accounts)] if accounts else []
        return web.json_response({"historicalPnl": ticks})

    @routes.get("/v4/historicalFunding/{ticker}")
    async def funding(request: web.Request) -> web.Response:
        """The market's funding periods, newest first, those effective at or before ``effectiveBeforeOrAtHeight``
        and ``effectiveBeforeOrAt`` (how a client pages back), up to ``limit``."""
        market = _known(chain, request.match_info["ticker"])
        limit = _limit(request.query)
        height = _int(request.query, "effectiveBeforeOrAtHeight", 0)
        moment = _moment(request.query, "effectiveBeforeOrAt")
        with chain.lock:
            rates = [
                rate
                for rate in chain.funding.get(market.ticker, [])
                if (not height or int(rate["effectiveAtHeight"]) <= height)
                and (moment is None or datetime.fromisoformat(rate["effectiveAt"]) <= moment)
            ]
        return web.json_response({"historicalFunding": rates[:limit]})

    app.add_routes(routes)
    return app


def _parent_routes(chain: Chain) -> web.RouteTableDef:
    """The parent-subaccount variants of the subaccount reads: each aggregates the parent's children that exist,
    its rows keeping the child's ``subaccountNumber`` (transfers name parents instead)."""
    routes = web.RouteTableDef()

    @routes.get("/v4/addresses/{address}/parentSubaccountNumber/{parentSubaccountNumber}")
    async def parent_subaccount(request: web.Request) -> web.Response:
        address, parent = _parent_query(request.match_info)
        with chain.lock:
            children = _accounts(chain, address, _children(parent))
            if not children:
                raise _not_found(f"No subaccounts found for address {address} and parentSubaccountNumber {parent}")
            answer = {
                "address": address,
                "parentSubaccountNumber": parent,
                "equity": plain(sum((chain.equity(child) for child in children), Decimal(0))),
                "freeCollateral": plain(sum((chain.free_collateral(child) for child in children), Decimal(0))),
                "childSubaccounts": [subaccount_json(chain, child) for child in children],
            }
        return web.json_response({"subaccount": answer})

    @routes.get("/v4/perpetualPositions/parentSubaccountNumber")
    async def parent_perpetual_positions(request: web.Request) -> web.Response:
        address, parent = _parent_query(request.query)
        return web.json_response({"positions": _perpetual_positions(chain, address, _children(parent), request.query)})

    @routes.get("/v4/assetPositions/parentSubaccountNumber")
    async def parent_asset_positions(request: web.Request) -> web.Response:
        address, parent = _parent_query(request.query)
        return web.json_response({"positions": _asset_positions(chain, address, _children(parent))})

    @routes.get("/v4/orders/parentSubaccountNumber")
    async def parent_orders(request: web.Request) -> web.Response:
        address, parent = _parent_query(request.query)
        _check_order_filters(chain, request.query)
        return web.json_response(_chosen_orders(_orders(chain, address, _children(parent)), request.query))

    @routes.get("/v4/fills/parentSubaccountNumber")
    async def parent_fills(request: web.Request) -> web.Response:
        """As the real one (comlink's FillsController.getFillsForParentSubaccount), it checks ``market`` with
        ``marketType`` but filters by neither, nor by height."""
        address, parent = _parent_query(request.query)
        _check_market_pair(request.query)
        return web.json_response(fills_json(chain, address, _children(parent), _limit(request.query)))

    @routes.get("/v4/transfers/parentSubaccountNumber")
    async def parent_transfers(request: web.Request) -> web.Response:
        address, parent = _parent_query(request.query)
        with chain.lock:
            if not _accounts(chain, address, _children(parent)):
                raise _not_found(f"No subaccount found with address {address} and parentSubaccountNumber {parent}")
        visible = _transfers(chain, address, _children(parent), *_created_bounds(request.query))
        rows = [_parent_transfer(transfer) for transfer in visible]
        return web.json_response(_page("transfers", rows, _limit(request.query), _int(request.query, "page", 1)))

    @routes.get("/v4/fundingPayments/parentSubaccount")
    async def parent_funding_payments(request: web.Request) -> web.Response:
        """As the real one, it does not filter by ``ticker``."""
        address, parent = _parent_query(request.query)
        return web.json_response(_funding_payments(chain, address, _children(parent), request.query, None))

    @routes.get("/v4/historical-pnl/parentSubaccountNumber")
    async def parent_historical_pnl(request: web.Request) -> web.Response:
        address, parent = _parent_query(request.query)
        children = _children(parent)
        with chain.lock:
            accounts = _accounts(chain, address, children)
            if not accounts:
                raise _not_found(f"No subaccounts found with address {address} and parentSubaccountNumber {parent}")
            tick = _pnl_tick(chain, address, children, accounts)
        return web.json_response({"historicalPnl": [tick]})

    return routes


def _chart_routes(chain: Chain) -> web.RouteTableDef:
    """Candles and sparklines, built from the replica's trades (`candles.py`)."""
    routes = web.RouteTableDef()

    @routes.get("/v4/candles/perpetualMarkets/{ticker}")
    async def candles(request: web.Request) -> web.Response:
        """The market's candles of ``resolution``, newest first, those that started in [``fromISO``, ``toISO``)."""
        query, ticker = request.query, request.match_info["ticker"]
        if chain.market_by_ticker(ticker) is None:
            raise _bad_request("ticker must be a valid ticker (BTC-USD, etc)")
        resolution = query.get("resolution", "")
        if resolution not in RESOLUTION_SECONDS:
            raise _bad_request(f"resolution must be a valid Candle Resolution, one of {','.join(RESOLUTION_SECONDS)}")
        start, end = _moment(query, "fromISO"), _moment(query, "toISO")
        rows = [candle for candle in market_candles(chain, ticker, resolution) if _started_within(candle, start, end)]
        return web.json_response({"candles": rows[: _limit(query)]})

    @routes.get("/v4/sparklines")
    async def sparkline(request: web.Request) -> web.Response:
        period = request.query.get("timePeriod", "")
        if period not in SPARKLINE_PERIODS:
            raise _bad_request(f"timePeriod must be a valid Time Period, one of {','.join(SPARKLINE_PERIODS)}")
        return web.json_response(sparklines(chain, period))

    return routes


def _compliance_routes() -> web.RouteTableDef:
    """The address screens: nothing is restricted on a local chain, so every address passes, as an address the
    compliance provider does not flag does on the real indexer."""
    routes = web.RouteTableDef()

    @routes.get("/v4/screen")
    async def screen(request: web.Request) -> web.Response:
        if not request.query.get("address"):
            raise _bad_request("Invalid value")
        return web.json_response({"restricted": False})

    @routes.get("/v4/compliance/screen/{address}")
    async def compliance_screen(request: web.Request) -> web.Response:
        return web.json_response({"status": "COMPLIANT"})

    return routes


def markets_json(chain: Chain, ticker: str | None = None) -> dict[str, Any]:
    """``/v4/perpetualMarkets``: every market, or the one `ticker` names."""
    return {"markets": {m.ticker: _market(m) for m in chain.markets if ticker in (None, m.ticker)}}


def orderbook_json(chain: Chain, market: MarketConfig) -> dict[str, Any]:
    """``/v4/orderbooks/perpetualMarket/{ticker}``: the book's levels, best first."""
    levels: dict[int, dict[int, int]] = {BUY: {}, SELL: {}}
    with chain.lock:
        for order in chain.books[market.clob_pair_id]:
            side = levels[order.side]
            side[order.subticks] = side.get(order.subticks, 0) + order.remaining
    return {
        "bids": _levels(market, levels[BUY], descending=True),
        "asks": _levels(market, levels[SELL], descending=False),
    }


def trades_json(chain: Chain, market: MarketConfig, before: int = 0) -> list[dict[str, Any]]:
    """``/v4/trades/perpetualMarket/{ticker}``'s trades: each taker fill seen by the latest block (or by
    `before`), newest first."""
    with chain.lock:
        taken = [
            fill
            for fill in chain.fills
            if fill["market"] == market.ticker
            and fill["liquidity"] == "TAKER"
            and int(str(fill["createdAtHeight"])) <= min(chain.height, before or chain.height)
        ]
    keys = ("id", "side", "size", "price", "type", "createdAt", "createdAtHeight")
    return [{key: fill[key] for key in keys} for fill in reversed(taken)]


def orders_json(chain: Chain, address: str, number: int) -> list[dict[str, Any]]:
    """``/v4/orders``' rows of one subaccount seen by the latest block, the latest updated first."""
    return _orders(chain, address, (number,))


def fills_json(
    chain: Chain,
    address: str,
    numbers: Container[int],
    limit: int,
    before: int = 0,
    market: str | None = None,
    moment: datetime | None = None,
    page: int | None = None,
) -> dict[str, Any]:
    """``/v4/fills``' page: the fills of `address`'s subaccounts `numbers` seen by the latest block (or by block
    `before`, and made by `moment`), on `market` if given, newest first; or with `page`, as comlink pages them, that
    page of them in the order they were made."""
    with chain.lock:
        visible = [
            fill
            for fill in chain.fills
            if fill["_owner"] == address
            and fill["subaccountNumber"] in numbers
            and int(str(fill["createdAtHeight"])) <= min(chain.height, before or chain.height)
            and _created_by(fill, moment)
            and market in (None, fill["market"])
        ]
    if page is not None:
        return _page("fills", [_public(fill) for fill in visible], limit, page)
    newest = sorted(visible, key=lambda fill: -int(str(fill["createdAtHeight"])))
    return _page("fills", [_public(fill) for fill in newest], limit)


def _orders(chain: Chain, address: str, numbers: Container[int]) -> list[dict[str, Any]]:
    """The orders of `address`'s subaccounts `numbers` seen by the latest block, the latest updated first."""
    with chain.lock:
        ids = {_subaccount_uuid(owner, n) for owner, n in chain.subaccounts if owner == address and n in numbers}
        chosen = [
            _public(record)
            for record in chain.orders.values()
            if record["subaccountId"] in ids and int(str(record["createdAtHeight"])) <= chain.height
        ]
    return sorted(chosen, key=lambda record: -int(str(record["updatedAtHeight"])))


ORDER_SIDES = ("BUY", "SELL")
ORDER_TYPES = (
    "LIMIT", "MARKET", "STOP_LIMIT", "STOP_MARKET", "TRAILING_STOP", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TWAP",
    "TWAP_SUBORDER",
)  # fmt: skip
ORDER_STATUSES = ("OPEN", "FILLED", "CANCELED", "BEST_EFFORT_CANCELED", "UNTRIGGERED", "ERROR", "BEST_EFFORT_OPENED")
"""comlink's OrderSide, OrderType and APIOrderStatusEnum: what ``/v4/orders`` takes as filters."""


def _check_order_filters(chain: Chain, query: Any) -> None:
    """``/v4/orders``' filters checked as comlink checks them: a filter naming nothing that exists is a 400, not an
    empty answer."""
    if "ticker" in query and chain.market_by_ticker(query["ticker"]) is None:
        raise _bad_request("ticker must be a valid ticker (BTC-USD, etc)")
    for name, allowed in (("side", ORDER_SIDES), ("type", ORDER_TYPES)):
        if name in query and query[name] not in allowed:
            raise _bad_request(f"{name} must be one of {','.join(allowed)}")
    if not _list(query, "status") <= set(ORDER_STATUSES):
        raise _bad_request(f"status must be one of {','.join(ORDER_STATUSES)}")


def _chosen_orders(rows: list[dict[str, Any]], query: Any) -> list[dict[str, Any]]:
    """The orders ``/v4/orders``' filters keep (ticker, side, type, statuses, goodTilBlock bounds), up to its
    limit."""
    statuses = _list(query, "status")
    gtb_at_most = _int(query, "goodTilBlockBeforeOrAt", 0)
    gtb_above = _int(query, "goodTilBlockAfter", 0)
    chosen = [
        record
        for record in rows
        if query.get("ticker") in (None, record["ticker"])
        and query.get("side") in (None, record["side"])
        and query.get("type") in (None, record["type"])
        and (not statuses or record["status"] in statuses)
        and (not gtb_at_most or int(str(record["goodTilBlock"])) <= gtb_at_most)
        and int(str(record["goodTilBlock"])) > gtb_above
    ]
    return chosen[: _limit(query)]


def _transfers(
    chain: Chain, address: str, numbers: Container[int], before: int, moment: datetime | None
) -> list[dict[str, Any]]:
    """The transfers into or out of `address`'s subaccounts `numbers` seen by the latest block (or by block
    `before`, and made by `moment`), newest first."""
    with chain.lock:
        visible = [
            transfer
            for transfer in chain.transfers
            if _involves(transfer, address, numbers)
            and int(str(transfer["createdAtHeight"])) <= min(chain.height, before or chain.height)
            and _created_by(transfer, moment)
        ]
    return sorted(visible, key=lambda transfer: -int(str(transfer["createdAtHeight"])))


def _perpetual_positions(chain: Chain, address: str, numbers: Container[int], query: Any) -> list[dict[str, Any]]:
    """``/v4/perpetualPositions``' rows: the open and closed positions of `address`'s subaccounts `numbers`, with
    its status and height filters, newest first, up to its limit."""
    statuses = _list(query, "status")
    if not statuses <= {"OPEN", "CLOSED", "LIQUIDATED"}:  # comlink's PerpetualPositionStatus
        raise _bad_request("status must be a valid Position Status (OPEN, etc)")
    before = _int(query, "createdBeforeOrAtHeight", 0)
    with chain.lock:
        rows: list[dict[str, Any]] = []
        if not statuses or "OPEN" in statuses:
            rows += [
                _position(chain.market(clob), position, account.number)
                for account in _accounts(chain, address, numbers)
                for clob, position in account.positions.items()
            ]
        if not statuses or "CLOSED" in statuses:
            rows += [
                _closed_position(chain.market(closed.clob_pair_id), closed)
                for closed in chain.closed_positions
                if closed.owner == address and closed.number in numbers and closed.closed_at_height <= chain.height
            ]
    visible = [r for r in rows if not before or int(r["createdAtHeight"]) <= before]
    return sorted(visible, key=lambda row: -int(row["createdAtHeight"]))[: _limit(query)]


def _asset_positions(chain: Chain, address: str, numbers: Container[int]) -> list[dict[str, Any]]:
    """``/v4/assetPositions``' rows: the USDC position of each of `address`'s subaccounts `numbers`."""
    with chain.lock:
        return [
            row
            for account in _accounts(chain, address, numbers)
            for row in subaccount_json(chain, account)["assetPositions"].values()
        ]


def _funding_payments(
    chain: Chain, address: str, numbers: Container[int], query: Any, ticker: str | None
) -> dict[str, Any]:
    """``/v4/fundingPayments``' page: the payments of `address`'s subaccounts `numbers` (on `ticker` if given) from
    ``afterOrAt`` on, newest first, the ``page``-th ``limit`` of them."""
    limit = _limit(query)
    with chain.lock:
        paid = [
            payment
            for payment in chain.funding_payments
            if payment["_owner"] == address
            and int(str(payment["subaccountNumber"])) in numbers
            and ticker in (None, payment["ticker"])
            and str(payment["createdAt"]) >= query.get("afterOrAt", "")
        ]
    newest = [_public(payment) for payment in reversed(paid)]
    start = (max(_int(query, "page", 1), 1) - 1) * limit
    return {
        "fundingPayments": newest[start : start + limit],
        "pageSize": limit,
        "totalResults": len(paid),
        "offset": start,
    }


def _pnl_tick(chain: Chain, address: str, numbers: Container[int], accounts: list[SubaccountState]) -> dict[str, str]:
    """The PnL tick of `accounts` (`address`'s subaccounts `numbers`) as of the latest block: their equity, what
    transfers brought in net, and the difference."""
    equity = sum((chain.equity(account) for account in accounts), Decimal(0))
    net_transfers = sum((_signed_transfer(transfer, address, numbers) for transfer in chain.transfers), Decimal(0))
    return {
        "equity": plain(equity),
        "totalPnl": plain(equity - net_transfers),
        "netTransfers": plain(net_transfers),
        "createdAt": chain.block_times[chain.height],
        "blockHeight": str(chain.height),
        "blockTime": chain.block_times[chain.height],
    }


def _accounts(chain: Chain, address: str, numbers: Container[int]) -> list[SubaccountState]:
    """`address`'s subaccounts among `numbers`, by number (the caller holds the lock)."""
    owned = (account for (owner, n), account in chain.subaccounts.items() if owner == address and n in numbers)
    return sorted(owned, key=lambda account: account.number)


def _page(name: str, rows: list[dict[str, Any]], limit: int, page: int = 1) -> dict[str, Any]:
    """A paginated answer: the `page`-th `limit` of `rows` (pages count from 1, as in ``/v4/fundingPayments``)
    under `name`, with the count of them all."""
    offset = (max(page, 1) - 1) * limit
    return {name: rows[offset : offset + limit], "pageSize": limit, "totalResults": len(rows), "offset": offset}


def _market(market: MarketConfig) -> dict[str, Any]:
    return {
        "clobPairId": str(market.clob_pair_id),
        "ticker": market.ticker,
        "status": "ACTIVE",
        "oraclePrice": plain(market.oracle_price),
        "priceChange24H": "0",
        "volume24H": "0",
        "trades24H": 0,
        "nextFundingRate": "0",
        "initialMarginFraction": plain(market.initial_margin_fraction),
        "maintenanceMarginFraction": plain(market.maintenance_margin_fraction),
        "openInterest": "0",
        "atomicResolution": market.atomic_resolution,
        "quantumConversionExponent": market.quantum_conversion_exponent,
        "tickSize": plain(market.price(market.subticks_per_tick)),
        "stepSize": plain(market.size(market.step_base_quantums)),
        "stepBaseQuantums": market.step_base_quantums,
        "subticksPerTick": market.subticks_per_tick,
        "marketType": "CROSS",
        "baseOpenInterest": "0",
    }


def _levels(market: MarketConfig, levels: dict[int, int], descending: bool) -> list[dict[str, str]]:
    """Price levels best first: bids from the highest price, asks from the lowest."""
    ordered = sorted(levels, reverse=descending)
    return [{"price": plain(market.price(s)), "size": plain(market.size(levels[s]))} for s in ordered]


def subaccount_json(chain: Chain, account: SubaccountState) -> dict[str, Any]:
    """``/v4/addresses/{address}/subaccountNumber/{n}``'s subaccount."""
    usdc = Decimal(account.usdc_quantums).scaleb(-6)
    positions = {
        chain.market(clob).ticker: _position(chain.market(clob), position, account.number)
        for clob, position in account.positions.items()
    }
    return {
        "address": account.owner,
        "subaccountNumber": account.number,
        "equity": plain(chain.equity(account)),
        "freeCollateral": plain(chain.free_collateral(account)),
        "openPerpetualPositions": positions,
        "assetPositions": {
            "USDC": {
                "symbol": "USDC",
                "side": "LONG" if usdc >= 0 else "SHORT",
                "size": plain(abs(usdc)),
                "assetId": "0",
                "subaccountNumber": account.number,
            }
        },
        "marginEnabled": True,
        "updatedAtHeight": str(account.updated_at_height),
        "latestProcessedBlockHeight": str(chain.height),
    }


def _position(market: MarketConfig, position: PerpPosition, number: int) -> dict[str, Any]:
    size = market.size(position.quantums)
    return {
        "market": market.ticker,
        "status": "OPEN",
        "side": "LONG" if size > 0 else "SHORT",
        "size": plain(size),
        "maxSize": plain(position.max_size),
        "entryPrice": plain(position.entry_price),
        "realizedPnl": plain(position.realized_pnl + position.net_funding),
        "createdAt": position.created_at,
        "createdAtHeight": str(position.created_at_height),
        "sumOpen": plain(position.sum_open),
        "sumClose": plain(position.sum_close),
        "netFunding": plain(position.net_funding),
        "unrealizedPnl": plain((market.oracle_price - position.entry_price) * size),
        "closedAt": None,
        "exitPrice": None,
        "subaccountNumber": number,
    }


def _closed_position(market: MarketConfig, closed: ClosedPosition) -> dict[str, Any]:
    position = closed.position
    row = _position(market, position, closed.number)
    row.update(
        {
            "status": "CLOSED",
            "side": closed.side,
            "size": "0",
            "unrealizedPnl": "0",
            "closedAt": closed.closed_at,
            "exitPrice": plain(position.close_notional / position.sum_close) if position.sum_close else None,
        }
    )
    return row


def _signed_transfer(transfer: dict[str, Any], address: str, numbers: Container[int]) -> Decimal:
    """What the transfer moved into the subaccounts (negative: out of them)."""
    into = _holds(transfer["recipient"], address, numbers)
    out = _holds(transfer["sender"], address, numbers)
    return Decimal(str(transfer["size"])) * (int(into) - int(out))


def _public(record: Mapping[str, object]) -> dict[str, object]:
    """An object as the indexer shows it: without the replica's own keys (those starting with ``_``)."""
    return {key: value for key, value in record.items() if not key.startswith("_")}


def _list(query: Any, name: str) -> set[str]:
    """A filter given as a comma-separated list or by repeating the parameter."""
    return {part for value in query.getall(name, []) for part in str(value).split(",") if part}


def _involves(transfer: dict[str, Any], address: str, numbers: Container[int]) -> bool:
    """Whether one of the subaccounts sent or received the transfer."""
    return _holds(transfer["sender"], address, numbers) or _holds(transfer["recipient"], address, numbers)


def _holds(party: dict[str, Any], address: str, numbers: Container[int]) -> bool:
    """Whether a transfer's sender or recipient is one of `address`'s subaccounts `numbers` (not a wallet)."""
    number = party.get("subaccountNumber")
    return party.get("address") == address and isinstance(number, int) and number in numbers


def _parent_transfer(transfer: dict[str, Any]) -> dict[str, Any]:
    """A transfer as the parent-subaccount route shows it: a subaccount party named by its parent's number (comlink's
    transferToParentSubaccountResponseObject). The replica records deposits and withdrawals only, whose type reads
    the same from the parent."""
    return {**transfer, "sender": _as_parent(transfer["sender"]), "recipient": _as_parent(transfer["recipient"])}


def _as_parent(party: dict[str, Any]) -> dict[str, Any]:
    if "subaccountNumber" not in party:
        return party
    return {"address": party["address"], "parentSubaccountNumber": party["subaccountNumber"] % MAX_PARENT_SUBACCOUNTS}


def _children(parent: int) -> range:
    """The numbers of a parent subaccount's children, itself first."""
    return range(parent, MAX_PARENT_SUBACCOUNTS * CHILD_SUBACCOUNT_MULTIPLIER, MAX_PARENT_SUBACCOUNTS)


def _parent_query(values: Any) -> tuple[str, int]:
    """``address`` and ``parentSubaccountNumber`` (query or path), checked as the real one checks them."""
    if not values.get("address"):
        raise _bad_request("address must be a valid address")
    raw = str(values.get("parentSubaccountNumber", ""))
    if not NATURAL_NUMBER.fullmatch(raw) or int(raw) >= MAX_PARENT_SUBACCOUNTS:
        raise _bad_request(f"parentSubaccountNumber must be a non-negative integer less than {MAX_PARENT_SUBACCOUNTS}")
    return str(values["address"]), int(raw)


def _created_bounds(query: Any) -> tuple[int, datetime | None]:
    """``createdBeforeOrAtHeight`` (0 when absent) and ``createdBeforeOrAt``, how clients page back in time."""
    return _int(query, "createdBeforeOrAtHeight", 0), _moment(query, "createdBeforeOrAt")


def _created_by(row: Mapping[str, object], moment: datetime | None) -> bool:
    """Whether a fill or transfer was made at or before `moment` (any, if None)."""
    return moment is None or datetime.fromisoformat(str(row["createdAt"])) <= moment


def _started_within(candle: dict[str, Any], start: datetime | None, end: datetime | None) -> bool:
    """Whether the candle started in [`start`, `end`), either bound open if None (CandleTable.findAll's filter)."""
    started = datetime.fromisoformat(candle["startedAt"])
    return (start is None or started >= start) and (end is None or started < end)


def _moment(query: Any, name: str) -> datetime | None:
    """An ISO 8601 time parameter (UTC unless it says otherwise), None if absent."""
    raw = query.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise _bad_request(f"{name} must be an ISO 8601 time, got {raw!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _subaccount_uuid(address: str, number: int) -> str:
    """The indexer's subaccount id (v4-chain's SubaccountTable.uuid)."""
    return str(uuid.uuid5(INDEXER_NAMESPACE, f"{address}-{number}"))


def _check_market_pair(query: Any) -> None:
    """The fills endpoints take ``market`` and ``marketType`` together or not at all, and a market type comlink
    knows."""
    if ("market" in query) != ("marketType" in query):
        raise _bad_request("market must be provided if marketType is provided and vice-versa")
    if query.get("marketType") not in (None, "PERPETUAL", "SPOT"):
        raise _bad_request("marketType must be a valid market type (PERPETUAL/SPOT)")


def _known(chain: Chain, ticker: str) -> MarketConfig:
    market = chain.market_by_ticker(ticker)
    if market is None:
        raise _not_found(f"{ticker} not found in markets of type PERPETUAL")
    return market


def _subaccount_query(values: Any) -> tuple[str, int]:
    """``address`` and ``subaccountNumber`` (query or path), checked as comlink's CheckSubaccountSchema checks them:
    an address of at most 90 letters and digits, a number up to 128,000."""
    if not values.get("address") or values.get("subaccountNumber") in (None, ""):
        raise _bad_request("address and subaccountNumber are required")
    if not ADDRESS.fullmatch(values["address"]):
        raise _bad_request("address must be a valid dydx address")
    raw = str(values["subaccountNumber"])
    if not NATURAL_NUMBER.fullmatch(raw) or int(raw) > MAX_PARENT_SUBACCOUNTS * CHILD_SUBACCOUNT_MULTIPLIER:
        raise _bad_request(
            "subaccountNumber must be a non-negative integer less than "
            f"{MAX_PARENT_SUBACCOUNTS * CHILD_SUBACCOUNT_MULTIPLIER + 1}"
        )
    return str(values["address"]), int(raw)


def _limit(query: Any) -> int:
    """The page size asked for, `MAX_LIMIT` unless given; as comlink's limit check, anything but a whole number in
    1..`MAX_LIMIT` is refused (a larger one is not cut down to it)."""
    raw = query.get("limit")
    if raw is None:
        return MAX_LIMIT
    if not NATURAL_NUMBER.fullmatch(raw) or not 0 < int(raw) <= MAX_LIMIT:
        raise _bad_request(f"limit must be a positive integer that is not greater than max: {MAX_LIMIT}")
    return int(raw)


def _int(values: Any, name: str, default: int) -> int:
    """A non-negative integer parameter (query or path), `default` when absent. None of the indexer's is negative: a
    negative limit used to cut rows off the end of a page instead."""
    raw = values.get(name)
    if raw in (None, ""):
        return default
    if not NATURAL_NUMBER.fullmatch(str(raw)):
        raise _bad_request(f"{name} must be a non-negative integer, got {raw!r}")
    return int(raw)


def _errors(status: type[web.HTTPException], message: str) -> web.HTTPException:
    """An error as the indexer answers one: ``{"errors": [{"msg": ...}]}``."""
    return status(text=json.dumps({"errors": [{"msg": message}]}), content_type="application/json")


def _bad_request(message: str) -> web.HTTPException:
    return _errors(web.HTTPBadRequest, message)


def _not_found(message: str) -> web.HTTPException:
    return _errors(web.HTTPNotFound, message)

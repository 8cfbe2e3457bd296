"""The replica's indexer: the REST endpoints of dYdX's indexer (comlink) the connector reads, over the `Chain`, in
the indexer's shapes (decimal strings, heights as strings, newest first) and only as of the latest block.

``/v4/height``, ``/v4/perpetualMarkets``, ``/v4/orderbooks/perpetualMarket/{ticker}``, ``/v4/fills``,
``/v4/orders/{orderId}``, ``/v4/transfers``, ``/v4/addresses/{address}/subaccountNumber/{n}``,
``/v4/historicalFunding/{ticker}``. As the real one, /v4/fills filters by ``market`` with ``marketType`` and ignores
parameters it does not know (the client sends ``ticker``).

Beside them, with an attester key, the route of Circle's attestation service the keeper reads to bring a withdrawal
back to Ethereum: ``/v1/messages/{sourceDomain}/{transactionHash}`` (each CCTP message the transaction sent, with its
attestation once its block is produced, ``PENDING`` before).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from aiohttp import web

from keeper.connectors.dydx.cctp import NOBLE_DOMAIN
from keeper.devnet.dydx.bridge import attest, cctp_message
from keeper.devnet.dydx.chain import BUY, SELL, Chain, MarketConfig, PerpPosition, SubaccountState, plain

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def indexer_app(chain: Chain, attester_key: str | None = None) -> web.Application:
    """The indexer's routes over `chain`; with `attester_key`, the attestation route too."""
    app = web.Application()
    routes = web.RouteTableDef()

    @routes.get("/v4/height")
    async def height(request: web.Request) -> web.Response:
        with chain.lock:
            return web.json_response({"height": str(chain.height), "time": chain.block_times[chain.height]})

    @routes.get("/v4/perpetualMarkets")
    async def markets(request: web.Request) -> web.Response:
        ticker = request.query.get("ticker")
        chosen = [m for m in chain.markets if ticker in (None, m.ticker)]
        return web.json_response({"markets": {m.ticker: _market(m) for m in chosen}})

    @routes.get("/v4/orderbooks/perpetualMarket/{ticker}")
    async def orderbook(request: web.Request) -> web.Response:
        market = _known(chain, request.match_info["ticker"])
        levels: dict[int, dict[int, int]] = {BUY: {}, SELL: {}}
        with chain.lock:
            for order in chain.books[market.clob_pair_id]:
                side = levels[order.side]
                side[order.subticks] = side.get(order.subticks, 0) + order.remaining
        return web.json_response(
            {
                "bids": _levels(market, levels[BUY], descending=True),
                "asks": _levels(market, levels[SELL], descending=False),
            }
        )

    @routes.get("/v4/fills")
    async def fills(request: web.Request) -> web.Response:
        query = request.query
        address, number = _subaccount_query(query)
        if ("market" in query) != ("marketType" in query):
            raise _bad_request("market must be provided if marketType is provided and vice-versa")
        limit = min(_int(query, "limit", DEFAULT_LIMIT), MAX_LIMIT)
        before = _int(query, "createdBeforeOrAtHeight", 0)
        with chain.lock:
            visible = [
                fill
                for fill in chain.fills
                if fill["_owner"] == address
                and fill["subaccountNumber"] == number
                and int(str(fill["createdAtHeight"])) <= min(chain.height, before or chain.height)
                and query.get("market") in (None, fill["market"])
            ]
        newest = sorted(visible, key=lambda fill: -int(str(fill["createdAtHeight"])))[:limit]
        rows = [{k: v for k, v in fill.items() if not k.startswith("_")} for fill in newest]
        return web.json_response({"fills": rows, "pageSize": limit, "totalResults": len(visible), "offset": 0})

    @routes.get("/v4/orders/{order_id}")
    async def order(request: web.Request) -> web.Response:
        with chain.lock:
            record = chain.orders.get(request.match_info["order_id"])
            if record is None or int(str(record["createdAtHeight"])) > chain.height:
                raise _not_found(f"Unable to find order id {request.match_info['order_id']}")
            return web.json_response(dict(record))

    @routes.get("/v4/transfers")
    async def transfers(request: web.Request) -> web.Response:
        address, number = _subaccount_query(request.query)
        limit = min(_int(request.query, "limit", DEFAULT_LIMIT), MAX_LIMIT)
        before = _int(request.query, "createdBeforeOrAtHeight", 0)
        with chain.lock:
            visible = [
                transfer
                for transfer in chain.transfers
                if _involves(transfer, address, number)
                and int(str(transfer["createdAtHeight"])) <= min(chain.height, before or chain.height)
            ]
        newest = sorted(visible, key=lambda transfer: -int(str(transfer["createdAtHeight"])))[:limit]
        return web.json_response({"transfers": newest, "pageSize": limit, "totalResults": len(visible), "offset": 0})

    @routes.get("/v1/messages/{domain}/{tx_hash}")
    async def messages(request: web.Request) -> web.Response:
        tx_hash = request.match_info["tx_hash"]
        with chain.lock:
            sent = [b for b in chain.burns if b.tx_hash == tx_hash and b.height <= chain.height]
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
        address, number = request.match_info["address"], _int(request.match_info, "number", 0)
        with chain.lock:
            account = chain.subaccounts.get((address, number))
            if account is None:
                raise _not_found(f"No subaccount found with address {address} and subaccountNumber {number}")
            return web.json_response({"subaccount": _subaccount(chain, account)})

    @routes.get("/v4/historicalFunding/{ticker}")
    async def funding(request: web.Request) -> web.Response:
        market = _known(chain, request.match_info["ticker"])
        limit = min(_int(request.query, "limit", DEFAULT_LIMIT), MAX_LIMIT)
        with chain.lock:
            rates = list(chain.funding.get(market.ticker, []))
        return web.json_response({"historicalFunding": rates[:limit]})

    app.add_routes(routes)
    return app


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


def _subaccount(chain: Chain, account: SubaccountState) -> dict[str, Any]:
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


def _involves(transfer: dict[str, Any], address: str, number: int) -> bool:
    """Whether the subaccount sent or received the transfer."""
    return any(
        transfer[side].get("address") == address and transfer[side].get("subaccountNumber") == number
        for side in ("sender", "recipient")
    )


def _known(chain: Chain, ticker: str) -> MarketConfig:
    market = chain.market_by_ticker(ticker)
    if market is None:
        raise _not_found(f"{ticker} not found in markets of type PERPETUAL")
    return market


def _subaccount_query(query: Any) -> tuple[str, int]:
    if not query.get("address") or query.get("subaccountNumber") in (None, ""):
        raise _bad_request("address and subaccountNumber are required")
    return str(query["address"]), _int(query, "subaccountNumber", 0)


def _int(values: Any, name: str, default: int) -> int:
    raw = values.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise _bad_request(f"{name} must be an integer, got {raw!r}") from None


def _errors(status: type[web.HTTPException], message: str) -> web.HTTPException:
    """An error as the indexer answers one: ``{"errors": [{"msg": ...}]}``."""
    return status(text=json.dumps({"errors": [{"msg": message}]}), content_type="application/json")


def _bad_request(message: str) -> web.HTTPException:
    return _errors(web.HTTPBadRequest, message)


def _not_found(message: str) -> web.HTTPException:
    return _errors(web.HTTPNotFound, message)

"""The replica's gRPC queries of chain state, which the official client's `NodeClient` reads beside trading:

- ``dydxprotocol.subaccounts.Query/Subaccount``, ``/SubaccountAll`` (`get_subaccount`, `get_subaccounts`): USDC as
  asset 0 and each perpetual position in quantums, written as dYdX writes its `SerializableInt` (a sign byte, 0x02
  or 0x03, then the magnitude big-endian); an unknown subaccount reads empty, as on the chain.
- ``/GetWithdrawalAndTransfersBlockedInfo`` (`get_withdrawal_and_transfer_gating_status`): the block a subaccount
  with negative collateral was last seen at and the block withdrawals and transfers open again.
- ``dydxprotocol.clob.Query/ClobPair``, ``/ClobPairAll``; ``dydxprotocol.perpetuals.Query/Perpetual``,
  ``/AllPerpetuals``; ``dydxprotocol.prices.Query/MarketPrice``, ``/AllMarketPrices``: each market's units and
  oracle price. On the replica a market's clob pair, perpetual and price share one id; funding indices are not kept
  on chain (the indexer reports funding payments).

Pagination requests are answered with everything.
"""

from __future__ import annotations

from typing import Any

import grpc
from v4_proto.dydxprotocol.clob import query_pb2 as clob_query
from v4_proto.dydxprotocol.clob import query_pb2_grpc as clob_grpc
from v4_proto.dydxprotocol.clob.clob_pair_pb2 import ClobPair, PerpetualClobMetadata
from v4_proto.dydxprotocol.perpetuals import query_pb2 as perpetuals_query
from v4_proto.dydxprotocol.perpetuals import query_pb2_grpc as perpetuals_grpc
from v4_proto.dydxprotocol.perpetuals.perpetual_pb2 import Perpetual, PerpetualMarketType, PerpetualParams
from v4_proto.dydxprotocol.prices import query_pb2 as prices_query
from v4_proto.dydxprotocol.prices import query_pb2_grpc as prices_grpc
from v4_proto.dydxprotocol.prices.market_price_pb2 import MarketPrice
from v4_proto.dydxprotocol.subaccounts import query_pb2 as subaccounts_query
from v4_proto.dydxprotocol.subaccounts import query_pb2_grpc as subaccounts_grpc
from v4_proto.dydxprotocol.subaccounts.asset_position_pb2 import AssetPosition
from v4_proto.dydxprotocol.subaccounts.perpetual_position_pb2 import PerpetualPosition
from v4_proto.dydxprotocol.subaccounts.subaccount_pb2 import Subaccount, SubaccountId

from keeper.devnet.dydx.chain import NEGATIVE_TNC_GATE_BLOCKS, Chain, MarketConfig, SubaccountState

USDC_ASSET_ID = 0


def serializable_int(value: int) -> bytes:
    """dYdX's `SerializableInt` bytes (Go's `big.Int` GobEncode): 0x02 for zero or positive, 0x03 for negative,
    then the magnitude big-endian in as few bytes as it takes."""
    magnitude = abs(value)
    return bytes([0x03 if value < 0 else 0x02]) + magnitude.to_bytes((magnitude.bit_length() + 7) // 8, "big")


def add_query_services(chain: Chain, server: grpc.Server) -> None:
    """Registers the chain-state queries on the validator's gRPC `server`."""
    subaccounts_grpc.add_QueryServicer_to_server(_Subaccounts(chain), server)
    clob_grpc.add_QueryServicer_to_server(_Clob(chain), server)
    perpetuals_grpc.add_QueryServicer_to_server(_Perpetuals(chain), server)
    prices_grpc.add_QueryServicer_to_server(_Prices(chain), server)


def _subaccount(owner: str, number: int, state: SubaccountState | None) -> Subaccount:
    subaccount = Subaccount(id=SubaccountId(owner=owner, number=number), margin_enabled=True)
    if state is None:
        return subaccount
    if state.usdc_quantums != 0:
        subaccount.asset_positions.append(
            AssetPosition(asset_id=USDC_ASSET_ID, quantums=serializable_int(state.usdc_quantums))
        )
    for perpetual_id in sorted(state.positions):
        quantums = serializable_int(state.positions[perpetual_id].quantums)
        subaccount.perpetual_positions.append(PerpetualPosition(perpetual_id=perpetual_id, quantums=quantums))
    return subaccount


def _known(chain: Chain, market_id: int, context: Any) -> MarketConfig:
    for market in chain.markets:
        if market.clob_pair_id == market_id:
            return market
    context.abort(grpc.StatusCode.NOT_FOUND, f"market {market_id} not found")
    raise AssertionError("abort raises")


class _Subaccounts(subaccounts_grpc.QueryServicer):  # type: ignore[misc]
    def __init__(self, chain: Chain) -> None:
        self.chain = chain

    def Subaccount(self, request: Any, context: Any) -> Any:
        with self.chain.lock:
            state = self.chain.subaccounts.get((request.owner, int(request.number)))
            return subaccounts_query.QuerySubaccountResponse(
                subaccount=_subaccount(request.owner, int(request.number), state)
            )

    def SubaccountAll(self, request: Any, context: Any) -> Any:
        with self.chain.lock:
            states = sorted(self.chain.subaccounts.values(), key=lambda s: (s.owner, s.number))
            return subaccounts_query.QuerySubaccountAllResponse(
                subaccount=[_subaccount(s.owner, s.number, s) for s in states]
            )

    def GetWithdrawalAndTransfersBlockedInfo(self, request: Any, context: Any) -> Any:
        with self.chain.lock:
            seen = self.chain.negative_tnc_seen_at
        # The replica refuses withdrawals through block seen + NEGATIVE_TNC_GATE_BLOCKS (chain.py).
        return subaccounts_query.QueryGetWithdrawalAndTransfersBlockedInfoResponse(
            negative_tnc_subaccount_seen_at_block=seen or 0,
            withdrawals_and_transfers_unblocked_at_block=0 if seen is None else seen + NEGATIVE_TNC_GATE_BLOCKS + 1,
        )


def _clob_pair(market: MarketConfig) -> ClobPair:
    return ClobPair(
        id=market.clob_pair_id,
        perpetual_clob_metadata=PerpetualClobMetadata(perpetual_id=market.clob_pair_id),
        step_base_quantums=market.step_base_quantums,
        subticks_per_tick=market.subticks_per_tick,
        quantum_conversion_exponent=market.quantum_conversion_exponent,
        status=ClobPair.Status.STATUS_ACTIVE,
    )


class _Clob(clob_grpc.QueryServicer):  # type: ignore[misc]
    def __init__(self, chain: Chain) -> None:
        self.chain = chain

    def ClobPair(self, request: Any, context: Any) -> Any:
        return clob_query.QueryClobPairResponse(clob_pair=_clob_pair(_known(self.chain, int(request.id), context)))

    def ClobPairAll(self, request: Any, context: Any) -> Any:
        return clob_query.QueryClobPairAllResponse(clob_pair=[_clob_pair(m) for m in self.chain.markets])


class _Perpetuals(perpetuals_grpc.QueryServicer):  # type: ignore[misc]
    def __init__(self, chain: Chain) -> None:
        self.chain = chain

    def _perpetual(self, market: MarketConfig) -> Perpetual:
        with self.chain.lock:
            longs = sum(
                max(state.positions[market.clob_pair_id].quantums, 0)
                for state in self.chain.subaccounts.values()
                if market.clob_pair_id in state.positions
            )
        params = PerpetualParams(
            id=market.clob_pair_id,
            ticker=market.ticker,
            market_id=market.clob_pair_id,
            atomic_resolution=market.atomic_resolution,
            market_type=PerpetualMarketType.PERPETUAL_MARKET_TYPE_CROSS,
        )
        return Perpetual(params=params, open_interest=serializable_int(longs))

    def Perpetual(self, request: Any, context: Any) -> Any:
        market = _known(self.chain, int(request.id), context)
        return perpetuals_query.QueryPerpetualResponse(perpetual=self._perpetual(market))

    def AllPerpetuals(self, request: Any, context: Any) -> Any:
        return perpetuals_query.QueryAllPerpetualsResponse(perpetual=[self._perpetual(m) for m in self.chain.markets])


def _market_price(market: MarketConfig) -> MarketPrice:
    price = int(market.oracle_price.scaleb(-market.price_exponent))
    return MarketPrice(id=market.clob_pair_id, exponent=market.price_exponent, price=price)


class _Prices(prices_grpc.QueryServicer):  # type: ignore[misc]
    def __init__(self, chain: Chain) -> None:
        self.chain = chain

    def MarketPrice(self, request: Any, context: Any) -> Any:
        market = _known(self.chain, int(request.id), context)
        return prices_query.QueryMarketPriceResponse(market_price=_market_price(market))

    def AllMarketPrices(self, request: Any, context: Any) -> Any:
        return prices_query.QueryAllMarketPricesResponse(market_prices=[_market_price(m) for m in self.chain.markets])

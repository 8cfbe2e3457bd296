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
- ``dydxprotocol.clob.Query/EquityTierLimitConfiguration`` (`get_equity_tier_limit_config`): mainnet's, as dYdX
  documents it: no limit on short-term orders, open stateful orders by net collateral (the replica takes no
  stateful orders, so the stateful tiers never bind).
- ``dydxprotocol.feetiers.Query/PerpetualFeeParams``, ``/UserFeeTier`` (`get_fee_tiers`, `get_user_fee_tier`): the one
  tier the replica charges everyone, its maker and taker fees (mainnet lowers them with 30-day volume; the replica
  keeps no volume history, so every user is in tier "1").
- ``dydxprotocol.stats.Query/UserStats`` (`get_user_stats`): the user's taker and maker notional, in quote quantums,
  of every fill the replica made (mainnet's window is 30 days).
- ``dydxprotocol.ratelimit.Query/CapacityByDenom`` (`get_withdrawal_capacity_by_denom`): for USDC, the replica's one
  withdrawal limiter (an hour: the greater of 1M USDC and 1% of the USDC in subaccounts) and what of it is left;
  other denoms have no limiter, as on the chain.

Pagination requests are answered with everything.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import grpc
from google.protobuf.duration_pb2 import Duration
from v4_proto.dydxprotocol.clob import query_pb2 as clob_query
from v4_proto.dydxprotocol.clob import query_pb2_grpc as clob_grpc
from v4_proto.dydxprotocol.clob.clob_pair_pb2 import ClobPair, PerpetualClobMetadata
from v4_proto.dydxprotocol.clob.equity_tier_limit_config_pb2 import EquityTierLimit, EquityTierLimitConfiguration
from v4_proto.dydxprotocol.feetiers import query_pb2 as feetiers_query
from v4_proto.dydxprotocol.feetiers import query_pb2_grpc as feetiers_grpc
from v4_proto.dydxprotocol.feetiers.params_pb2 import PerpetualFeeParams, PerpetualFeeTier
from v4_proto.dydxprotocol.perpetuals import query_pb2 as perpetuals_query
from v4_proto.dydxprotocol.perpetuals import query_pb2_grpc as perpetuals_grpc
from v4_proto.dydxprotocol.perpetuals.perpetual_pb2 import Perpetual, PerpetualMarketType, PerpetualParams
from v4_proto.dydxprotocol.prices import query_pb2 as prices_query
from v4_proto.dydxprotocol.prices import query_pb2_grpc as prices_grpc
from v4_proto.dydxprotocol.prices.market_price_pb2 import MarketPrice
from v4_proto.dydxprotocol.ratelimit import query_pb2 as ratelimit_query
from v4_proto.dydxprotocol.ratelimit import query_pb2_grpc as ratelimit_grpc
from v4_proto.dydxprotocol.ratelimit.capacity_pb2 import LimiterCapacity
from v4_proto.dydxprotocol.ratelimit.limit_params_pb2 import Limiter
from v4_proto.dydxprotocol.stats import query_pb2 as stats_query
from v4_proto.dydxprotocol.stats import query_pb2_grpc as stats_grpc
from v4_proto.dydxprotocol.stats.stats_pb2 import UserStats
from v4_proto.dydxprotocol.subaccounts import query_pb2 as subaccounts_query
from v4_proto.dydxprotocol.subaccounts import query_pb2_grpc as subaccounts_grpc
from v4_proto.dydxprotocol.subaccounts.asset_position_pb2 import AssetPosition
from v4_proto.dydxprotocol.subaccounts.perpetual_position_pb2 import PerpetualPosition
from v4_proto.dydxprotocol.subaccounts.subaccount_pb2 import Subaccount, SubaccountId

from keeper.connectors.dydx.settings import MAINNET_USDC_DENOM
from keeper.devnet.dydx.chain import (
    NEGATIVE_TNC_GATE_BLOCKS,
    USDC_DECIMALS,
    WITHDRAWAL_FLOOR,
    WITHDRAWAL_TVL_SHARE,
    WITHDRAWAL_WINDOW_SECONDS,
    Chain,
    MarketConfig,
    SubaccountState,
)

USDC_ASSET_ID = 0
PPM = 1_000_000
STATEFUL_ORDER_EQUITY_TIERS = ((0, 0), (20, 10), (100, 20), (1_000, 40), (10_000, 100), (50_000, 200))
"""(net collateral in USDC, open stateful orders allowed from there): mainnet's configuration as dYdX documents it
(docs.dydx.xyz, equity tier limits); it has no short-term tiers."""


def serializable_int(value: int) -> bytes:
    """dYdX's `SerializableInt` bytes (Go's `big.Int` GobEncode): 0x02 for zero or positive, 0x03 for negative,
    then the magnitude big-endian in as few bytes as it takes."""
    magnitude = abs(value)
    return bytes([0x03 if value < 0 else 0x02]) + magnitude.to_bytes((magnitude.bit_length() + 7) // 8, "big")


def add_query_services(chain: Chain, server: grpc.Server) -> None:
    """Registers the chain-state queries on the validator's gRPC `server`."""
    subaccounts_grpc.add_QueryServicer_to_server(_Subaccounts(chain), server)
    clob_grpc.add_QueryServicer_to_server(_Clob(chain), server)
    feetiers_grpc.add_QueryServicer_to_server(_FeeTiers(chain), server)
    stats_grpc.add_QueryServicer_to_server(_Stats(chain), server)
    ratelimit_grpc.add_QueryServicer_to_server(_RateLimit(chain), server)
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

    def EquityTierLimitConfiguration(self, request: Any, context: Any) -> Any:
        stateful = [
            EquityTierLimit(usd_tnc_required=serializable_int(usdc * 10**USDC_DECIMALS), limit=limit)
            for usdc, limit in STATEFUL_ORDER_EQUITY_TIERS
        ]
        return clob_query.QueryEquityTierLimitConfigurationResponse(
            equity_tier_limit_config=EquityTierLimitConfiguration(stateful_order_equity_tiers=stateful)
        )


class _FeeTiers(feetiers_grpc.QueryServicer):  # type: ignore[misc]
    def __init__(self, chain: Chain) -> None:
        self.chain = chain

    def _tier(self) -> PerpetualFeeTier:
        return PerpetualFeeTier(
            name="1", maker_fee_ppm=int(self.chain.maker_fee * PPM), taker_fee_ppm=int(self.chain.taker_fee * PPM)
        )

    def PerpetualFeeParams(self, request: Any, context: Any) -> Any:
        return feetiers_query.QueryPerpetualFeeParamsResponse(params=PerpetualFeeParams(tiers=[self._tier()]))

    def UserFeeTier(self, request: Any, context: Any) -> Any:
        return feetiers_query.QueryUserFeeTierResponse(index=0, tier=self._tier())


class _Stats(stats_grpc.QueryServicer):  # type: ignore[misc]
    def __init__(self, chain: Chain) -> None:
        self.chain = chain

    def UserStats(self, request: Any, context: Any) -> Any:
        notional = {"TAKER": 0, "MAKER": 0}
        with self.chain.lock:
            for fill in self.chain.fills:
                if fill["_owner"] == request.user:
                    quote = Decimal(str(fill["price"])) * Decimal(str(fill["size"]))
                    notional[str(fill["liquidity"])] += int(quote.scaleb(USDC_DECIMALS))
        return stats_query.QueryUserStatsResponse(
            stats=UserStats(taker_notional=notional["TAKER"], maker_notional=notional["MAKER"])
        )


class _RateLimit(ratelimit_grpc.QueryServicer):  # type: ignore[misc]
    def __init__(self, chain: Chain) -> None:
        self.chain = chain

    def CapacityByDenom(self, request: Any, context: Any) -> Any:
        if request.denom != MAINNET_USDC_DENOM:
            return ratelimit_query.QueryCapacityByDenomResponse()
        _, left = self.chain.withdrawal_capacity()
        limiter = Limiter(
            period=Duration(seconds=int(WITHDRAWAL_WINDOW_SECONDS)),
            baseline_minimum=serializable_int(int(WITHDRAWAL_FLOOR.scaleb(USDC_DECIMALS))),
            baseline_tvl_ppm=int(WITHDRAWAL_TVL_SHARE * PPM),
        )
        capacity = LimiterCapacity(limiter=limiter, capacity=serializable_int(int(left.scaleb(USDC_DECIMALS))))
        return ratelimit_query.QueryCapacityByDenomResponse(limiter_capacity_list=[capacity])


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

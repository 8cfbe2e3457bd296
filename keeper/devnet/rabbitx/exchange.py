"""The devnet exchange's state machine: accounts, orders, fills, funding, liquidation, deposits and withdrawals.

Synchronous and single-threaded: the HTTP app (app.py) calls it from its event loop and runs the matching commands
(`process_order`, `process_cancel`, ...) from one queue, a moment after the request answered "processing", the way
RabbitX does. Every change is described by publications (channel, data) collected in `outbox` for the WebSocket hub.
JSON shapes follow RabbitX's REST and WebSocket docs; decimals are strings.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from eth_account import Account
from eth_utils.address import to_checksum_address

from keeper.connectors.rabbitx.numbers import decimal_string
from keeper.connectors.rabbitx.vocabulary import OrderStatus, OrderType, Side, TimeInForce
from keeper.devnet.rabbitx import risk
from keeper.devnet.rabbitx.book import Match, OrderBook, Reject, check_order_shape
from keeper.devnet.rabbitx.numbers import ZERO, InputError, now_micros
from keeper.devnet.rabbitx.risk import Health, MarginAccount, MarketRisk, OpenOrder, Position
from keeper.devnet.rabbitx.withdrawals import sign_withdrawal

MICROS = 1_000_000
_LIVE = (OrderStatus.OPEN, OrderStatus.PROCESSING, OrderStatus.CANCELING, OrderStatus.AMENDING)
"""Statuses of an order that can still trade or be cancelled."""


class ExchangeError(Exception):
    """A request the exchange refuses outright (HTTP 400), with the reason as message; `code` is RabbitX's documented
    error code for it (rabbitx-docs `api-documentation/data-structure.md`), which leads the message, where it has
    one."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.code = code


class ErrorCode:
    """The documented error codes the devnet answers with."""

    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
    CLIENT_ORDER_ID_DUPLICATE = "CLIENT_ORDER_ID_DUPLICATE"
    WRONG_MARKET_ID = "WRONG_MARKET_ID"
    WRONG_ORDER_STATUS = "WRONG_ORDER_STATUS"


@dataclass(frozen=True)
class MarketConfig:
    market_id: str
    min_tick: Decimal
    min_order: Decimal
    index_price: Decimal
    risk: MarketRisk = field(default_factory=MarketRisk.minor)
    maker_fee: Decimal = ZERO
    taker_fee: Decimal = Decimal("0.0005")
    """Fee rates: a fill pays size * price * rate (RabbitX reports it negative in `fee`)."""


def default_markets() -> list[MarketConfig]:
    return [
        MarketConfig("BTC-USD", Decimal(1), Decimal("0.0001"), Decimal(60000), MarketRisk.major()),
        MarketConfig("ETH-USD", Decimal("0.1"), Decimal("0.001"), Decimal(3000), MarketRisk.major()),
        MarketConfig("SOL-USD", Decimal("0.001"), Decimal("0.01"), Decimal(150), MarketRisk.minor()),
    ]


WITHDRAWAL_TIERS: tuple[tuple[Decimal, int], ...] = (
    (Decimal(0), 1),
    (Decimal(10_000), 10),
    (Decimal(100_000), 100),
    (Decimal(1_000_000), 1800),
)


class WithdrawalStatus:
    """A withdrawal's balance-op statuses (docs.rabbitx.io `deposit-withdrawal`: Pending, Claimable, Success; a pending
    one can be cancelled, the spelling is the devnet's, as RabbitX's orders spell it)."""

    PENDING = "pending"
    CLAIMABLE = "claimable"
    SUCCESS = "success"
    CANCELED = "canceled"


def withdrawal_blocks(amount: Decimal, tiers: Iterable[tuple[Decimal, int]] = WITHDRAWAL_TIERS) -> int:
    """The processing blocks a withdrawal of `amount` waits: the tier of the largest floor it reaches."""
    blocks = 0
    for floor, tier_blocks in sorted(tiers):
        if amount >= floor:
            blocks = tier_blocks
    return blocks


@dataclass
class ExchangeConfig:
    signer_key: str
    """Private key (hex) that signs withdrawals; its address is also the insurance account's wallet."""
    markets: list[MarketConfig] = field(default_factory=default_markets)
    chain_id: int = 31337
    custody_address: str = "0x0000000000000000000000000000000000000000"
    collateral_decimals: int = 6
    default_leverage: int = 20
    insurance_balance: Decimal = Decimal(1_000_000)
    liquidation_band: Decimal = Decimal("0.05")
    """A liquidation closes against the book no further than this fraction from the fair price."""
    snapshot_fills: int = 50
    fill_client_order_ids: bool = True
    """Whether fills carry their order's client_order_id. RabbitX's documented fill rows have none (rabbitx-docs
    `data-structure.md`, `private-endpoints/fills.md`): off, the devnet sends none, as a client must expect."""
    withdrawal_tiers: tuple[tuple[Decimal, int], ...] = WITHDRAWAL_TIERS
    """(smallest amount, processing blocks) a withdrawal waits "pending" before it is "claimable", by amount: RabbitX's
    table (docs.rabbitx.io `deposit-withdrawal`): under 10,000 1 block, under 100,000 10, under 1,000,000 100, from
    1,000,000 1,800 (about 6 hours)."""
    withdrawal_block_seconds: float = 0.5
    """Seconds one processing block lasts on the devnet (RabbitX: 10-20 s), so that a small withdrawal is claimable
    within a second, a 1,000,000 one in 15 minutes. 0: every withdrawal is claimable at once."""


@dataclass
class Order:
    id: str
    profile_id: int
    market_id: str
    side: Side
    order_type: OrderType
    price: Decimal | None
    initial_size: Decimal
    time_in_force: TimeInForce
    client_order_id: str
    reduce_only: bool
    created_at: int
    status: OrderStatus = OrderStatus.PROCESSING
    remaining: Decimal = ZERO
    total_filled: Decimal = ZERO
    reason: str = ""
    updated_at: int = 0
    is_liquidation: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "profile_id": self.profile_id,
            "market_id": self.market_id,
            "order_type": self.order_type.value,
            "type": self.order_type.value,
            "status": self.status.value,
            "price": decimal_string(self.price) if self.price is not None else None,
            "size": decimal_string(self.remaining),
            "remaining_size": decimal_string(self.remaining),
            "initial_size": decimal_string(self.initial_size),
            "total_filled_size": decimal_string(self.total_filled),
            "side": self.side.value,
            "timestamp": self.created_at,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "reason": self.reason,
            "client_order_id": self.client_order_id,
            "time_in_force": self.time_in_force.value,
            "reduce_only": self.reduce_only,
            "is_liquidation": self.is_liquidation,
        }


@dataclass(frozen=True)
class Fill:
    id: str
    sequence: int
    """Per-account, gap-free: the n-th fill of this profile (devnet extension, see API_NOTES.md)."""
    profile_id: int
    market_id: str
    order_id: str
    trade_id: str
    price: Decimal
    size: Decimal
    side: Side
    is_maker: bool
    fee: Decimal
    liquidation: bool
    timestamp: int
    client_order_id: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sequence": self.sequence,
            "profile_id": self.profile_id,
            "market_id": self.market_id,
            "order_id": self.order_id,
            "trade_id": self.trade_id,
            "price": decimal_string(self.price),
            "size": decimal_string(self.size),
            "side": self.side.value,
            "is_maker": self.is_maker,
            "fee": decimal_string(self.fee),
            "liquidation": self.liquidation,
            "timestamp": self.timestamp,
            **({"client_order_id": self.client_order_id} if self.client_order_id else {}),
        }


@dataclass(frozen=True)
class Trade:
    id: str
    market_id: str
    timestamp: int
    price: Decimal
    size: Decimal
    liquidation: bool
    taker_side: Side

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "market_id": self.market_id,
            "timestamp": self.timestamp,
            "price": decimal_string(self.price),
            "size": decimal_string(self.size),
            "liquidation": self.liquidation,
            "taker_side": self.taker_side.value,
        }


@dataclass
class BalanceOp:
    id: str
    profile_id: int
    wallet: str
    ops_type: str
    amount: Decimal
    timestamp: int
    status: str = "success"
    reason: str = ""
    txhash: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ops_id2": self.id,
            "profile_id": self.profile_id,
            "wallet": self.wallet,
            "ops_type": self.ops_type,
            "amount": decimal_string(self.amount),
            "status": self.status,
            "reason": self.reason,
            "txhash": self.txhash,
            "timestamp": self.timestamp,
            **self.extra,
        }


@dataclass(frozen=True)
class FundingRecord:
    market_id: str
    funding_rate: Decimal
    timestamp: int

    def to_json(self) -> dict[str, Any]:
        return {
            "market_id": self.market_id,
            "funding_rate": decimal_string(self.funding_rate),
            "timestamp": self.timestamp,
        }


@dataclass
class Profile:
    id: int
    wallet: str
    profile_type: str
    margin: MarginAccount
    status: str = "active"
    created_at: int = 0
    last_update: int = 0
    cum_trading_volume: Decimal = ZERO
    fill_sequence: int = 0
    order_ids: list[str] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    balance_ops: list[BalanceOp] = field(default_factory=list)


@dataclass
class Market:
    config: MarketConfig
    book: OrderBook
    index_price: Decimal
    last_trade_price: Decimal = ZERO
    trades: list[Trade] = field(default_factory=list)
    funding: list[FundingRecord] = field(default_factory=list)
    last_funding_rate: Decimal = ZERO
    last_funding_time: int = 0
    sequence: int = 0
    published: dict[Side, dict[Decimal, Decimal]] = field(default_factory=lambda: {Side.LONG: {}, Side.SHORT: {}})

    @property
    def id(self) -> str:
        return self.config.market_id

    @property
    def fair_price(self) -> Decimal:
        return self.index_price


@dataclass(frozen=True)
class Publication:
    channel: str
    data: Any


@dataclass
class _Delta:
    orders: dict[str, Order] = field(default_factory=dict)
    fills: list[Fill] = field(default_factory=list)
    markets: set[str] = field(default_factory=set)
    balance_ops: list[BalanceOp] = field(default_factory=list)


class Exchange:
    def __init__(self, config: ExchangeConfig) -> None:
        self.config = config
        self.markets: dict[str, Market] = {
            m.market_id: Market(m, OrderBook(m.market_id), m.index_price) for m in config.markets
        }
        self.risks = {m.market_id: m.risk for m in config.markets}
        self.profiles: dict[int, Profile] = {}
        self._by_wallet: dict[str, int] = {}
        self.orders: dict[str, Order] = {}
        self._order_seq = itertools.count(1)
        self._fill_seq = itertools.count(1)
        self._profile_seq = itertools.count(1)
        self._withdrawal_seq = itertools.count(1)
        self._deposits: dict[str, tuple[str, int]] = {}
        self.withdrawals: dict[int, BalanceOp] = {}
        self._claimable_at: dict[int, int] = {}  # pending withdrawal id -> when it becomes claimable (microseconds)
        self.outbox: list[Publication] = []
        self._deltas: dict[int, _Delta] = {}
        self._touched_markets: set[str] = set()
        self._new_trades: dict[str, list[Trade]] = {}
        self._batch_depth = 0
        self.signer_address = str(Account.from_key(config.signer_key).address)
        insurance = self.create_profile(self.signer_address, "insurance")
        self.insurance_id = insurance.id
        self._credit(insurance, config.insurance_balance, "deposit", now_micros())
        self._deltas.clear()

    # ----------------------------------------------------------------- profiles and money

    def create_profile(self, wallet: str, profile_type: str = "trader") -> Profile:
        checksummed = to_checksum_address(wallet)
        existing = self._by_wallet.get(checksummed.lower())
        if existing is not None:
            return self.profiles[existing]
        now = now_micros()
        profile = Profile(next(self._profile_seq), checksummed, profile_type, MarginAccount(), created_at=now)
        profile.last_update = now
        self.profiles[profile.id] = profile
        self._by_wallet[checksummed.lower()] = profile.id
        return profile

    def profile_for_wallet(self, wallet: str) -> Profile | None:
        profile_id = self._by_wallet.get(wallet.lower())
        return None if profile_id is None else self.profiles[profile_id]

    def profile(self, profile_id: int) -> Profile:
        try:
            return self.profiles[profile_id]
        except KeyError:
            raise ExchangeError(f"unknown profile {profile_id}") from None

    def units_to_amount(self, units: int) -> Decimal:
        return Decimal(units).scaleb(-self.config.collateral_decimals)

    def amount_to_units(self, amount: Decimal) -> int:
        scaled = amount.scaleb(self.config.collateral_decimals)
        if scaled != scaled.to_integral_value():
            raise ExchangeError(
                f"amount {decimal_string(amount)} has more than {self.config.collateral_decimals} decimals "
                "(the collateral's)"
            )
        return int(scaled)

    def credit_deposit(self, trader: str, amount: int, deposit_id: str) -> bool:
        """Credit a deposit of `amount` collateral base units to wallet `trader`; False if this id was credited.

        Idempotent by `deposit_id` (a chain watcher may see the same event twice); the same id with a different
        trader or amount raises ExchangeError. A wallet that never onboarded gets a profile.
        """
        if amount <= 0:
            raise ExchangeError(f"deposit {deposit_id}: amount must be positive, got {amount}")
        trader = to_checksum_address(trader)
        seen = self._deposits.get(deposit_id)
        if seen is not None:
            if seen != (trader, amount):
                raise ExchangeError(
                    f"deposit {deposit_id} was credited as {seen[1]} to {seen[0]}, now reported as {amount} to {trader}"
                )
            return False
        self._deposits[deposit_id] = (trader, amount)
        profile = self.create_profile(trader)
        op = self._credit(profile, self.units_to_amount(amount), "deposit", now_micros())
        op.extra["deposit_id"] = deposit_id
        self._commit()
        return True

    def request_withdrawal(self, profile_id: int, amount: Decimal, now: int) -> BalanceOp:
        """Debit `amount` now and return the withdrawal, "pending" until its processing blocks pass
        (`withdrawal_tiers`, `withdrawal_block_seconds`), then "claimable" with the exchange's EIP-712 signature."""
        profile = self.profile(profile_id)
        if amount <= 0:
            raise ExchangeError(f"withdrawal amount must be positive, got {decimal_string(amount)}")
        self.amount_to_units(amount)  # refuses more decimals than the collateral's
        free = self._withdrawable(profile)
        if amount > free:
            raise ExchangeError(
                f"insufficient withdrawable balance: asked {decimal_string(amount)}, "
                f"withdrawable {decimal_string(free)}"
            )
        withdrawal_id = next(self._withdrawal_seq)
        op = self._credit(profile, -amount, "withdrawal", now, op_id=str(withdrawal_id))
        op.status = WithdrawalStatus.PENDING
        blocks = withdrawal_blocks(amount, self.config.withdrawal_tiers)
        self._claimable_at[withdrawal_id] = now + int(blocks * self.config.withdrawal_block_seconds * 1_000_000)
        self.withdrawals[withdrawal_id] = op
        self.release_withdrawals(now)
        self._commit()
        return op

    def release_withdrawals(self, now: int) -> list[int]:
        """Makes every pending withdrawal whose processing blocks have passed by `now` (microseconds) claimable, with
        the exchange's signature; returns their ids."""
        released = []
        for withdrawal_id, due in list(self._claimable_at.items()):
            op = self.withdrawals[withdrawal_id]
            if op.status != WithdrawalStatus.PENDING:
                del self._claimable_at[withdrawal_id]
                continue
            if due > now:
                continue
            del self._claimable_at[withdrawal_id]
            units = self.amount_to_units(-op.amount)
            signed = sign_withdrawal(
                self.config.signer_key,
                withdrawal_id,
                op.wallet,
                units,
                self.config.chain_id,
                self.config.custody_address,
            )
            op.status = WithdrawalStatus.CLAIMABLE
            op.extra.update(
                {
                    "withdrawal_id": withdrawal_id,
                    "trader": signed.trader,
                    "amount_units": str(units),
                    "chain_id": self.config.chain_id,
                    "verifying_contract": to_checksum_address(self.config.custody_address),
                    "signer": self.signer_address,
                    "signature": signed.signature,
                    "v": signed.v,
                    "r": signed.r,
                    "s": signed.s,
                }
            )
            self._delta(op.profile_id).balance_ops.append(op)
            released.append(withdrawal_id)
        if released:
            self._commit()
        return released

    def _own_withdrawal(self, profile_id: int, withdrawal_id: int) -> BalanceOp:
        op = self.withdrawals.get(withdrawal_id)
        if op is None or op.profile_id != profile_id:
            raise ExchangeError(f"unknown withdrawal {withdrawal_id}")
        return op

    def claim_withdrawal(self, profile_id: int, withdrawal_id: int, now: int) -> BalanceOp:
        """`POST /balanceops/claim`: the claimable withdrawal with its signed claim; refused while it is pending (or
        once it is cancelled or paid). The claim itself is the contract call anyone makes with the signature."""
        self.release_withdrawals(now)
        op = self._own_withdrawal(profile_id, withdrawal_id)
        if op.status != WithdrawalStatus.CLAIMABLE:
            raise ExchangeError(f"withdrawal {withdrawal_id} is {op.status}, not claimable")
        return op

    def cancel_withdrawal(self, profile_id: int, withdrawal_id: int, now: int) -> BalanceOp:
        """`POST /balanceops/cancel`: cancels a pending withdrawal, its amount back in the account's balance. Refused
        once it is claimable: the devnet cannot take back the signature it gave (RabbitX lets one be cancelled until
        the claim is executed)."""
        self.release_withdrawals(now)
        op = self._own_withdrawal(profile_id, withdrawal_id)
        if op.status != WithdrawalStatus.PENDING:
            raise ExchangeError(f"withdrawal {withdrawal_id} is {op.status}: only a pending one can be cancelled")
        op.status = WithdrawalStatus.CANCELED
        op.reason = "canceled by the account"
        self._claimable_at.pop(withdrawal_id, None)
        profile = self.profile(profile_id)
        profile.margin.balance -= op.amount  # op.amount is negative: the amount goes back
        self._delta(profile_id).balance_ops.append(op)
        self._commit()
        return op

    def withdrawal_claimed(self, withdrawal_id: int, txhash: str = "") -> bool:
        """The custody contract paid this withdrawal (its `WithdrawalReceipt`); False if it was marked paid already."""
        op = self.withdrawals.get(withdrawal_id)
        if op is None:
            raise ExchangeError(f"unknown withdrawal {withdrawal_id}")
        if op.status == WithdrawalStatus.SUCCESS:
            return False
        op.status = WithdrawalStatus.SUCCESS
        op.txhash = txhash
        self._delta(op.profile_id).balance_ops.append(op)
        self._commit()
        return True

    def set_leverage(self, profile_id: int, market_id: str, leverage: int) -> None:
        market = self._market(market_id)
        if not 1 <= leverage <= market.config.risk.max_leverage:
            raise ExchangeError(f"leverage must be from 1 to {market.config.risk.max_leverage} on {market_id}")
        profile = self.profile(profile_id)
        previous = profile.margin.leverage.get(market_id)
        profile.margin.leverage[market_id] = leverage
        if self._shortfall(profile, []) is not None:
            if previous is None:
                del profile.margin.leverage[market_id]
            else:
                profile.margin.leverage[market_id] = previous
            raise ExchangeError(f"{Reject.INSUFFICIENT_MARGIN}: leverage {leverage} on {market_id} needs more margin")
        self._delta(profile_id)
        self._commit()

    # ----------------------------------------------------------------- orders

    def submit_order(
        self,
        profile_id: int,
        market_id: str,
        side: Side,
        order_type: OrderType,
        price: Decimal | None,
        size: Decimal,
        time_in_force: TimeInForce | None = None,
        client_order_id: str = "",
        reduce_only: bool = False,
    ) -> Order:
        """Record an order as "processing"; `process_order` decides it. Unknown markets, a client_order_id used
        before and an order off the market's grid fail here (ExchangeError)."""
        profile = self.profile(profile_id)
        cfg = self._market(market_id).config
        if time_in_force is None:
            time_in_force = (
                TimeInForce.IMMEDIATE_OR_CANCEL if order_type is OrderType.MARKET else TimeInForce.GOOD_TILL_CANCEL
            )
        if order_type is OrderType.MARKET:
            # RabbitX's pre-create check replaces a market order's price by the fair price times the market's limit
            # ratio, whatever was sent; the devnet has no such band, so its market orders take the book as it is.
            price = None
        # RabbitX's API checks the order's shape before it takes the order: a refusal is the answer, not a status.
        refusal = check_order_shape(market_id, cfg.min_tick, cfg.min_order, order_type, price, size, time_in_force)
        if refusal is not None:
            raise ExchangeError(refusal)
        if client_order_id and any(self.orders[oid].client_order_id == client_order_id for oid in profile.order_ids):
            raise ExchangeError(
                f"client_order_id {client_order_id!r} was used before by this account",
                ErrorCode.CLIENT_ORDER_ID_DUPLICATE,
            )
        now = now_micros()
        order = Order(
            id=f"{market_id}@{next(self._order_seq)}",
            profile_id=profile_id,
            market_id=market_id,
            side=side,
            order_type=order_type,
            price=price,
            initial_size=size,
            time_in_force=time_in_force,
            client_order_id=client_order_id,
            reduce_only=reduce_only,
            created_at=now,
            remaining=size,
            updated_at=now,
        )
        self.orders[order.id] = order
        self.profiles[profile_id].order_ids.append(order.id)
        self._delta(profile_id).orders[order.id] = order
        self._commit()
        return order

    def process_order(self, order_id: str) -> Order:
        order = self.orders[order_id]
        if order.status is not OrderStatus.PROCESSING:
            return order
        try:
            reason = self._admit(order)
            if reason is not None:
                self._finish(order, OrderStatus.REJECTED, reason)
                return order
            self._execute(order)
        finally:
            self._commit()
        return order

    def _admit(self, order: Order, replacing: str | None = None) -> str | None:
        """Why `order` (its unfilled `remaining`) may not trade, or None. `replacing`: the resting order it
        amends, left out of the account's open orders when its margin is checked."""
        market = self.markets[order.market_id]
        profile = self.profiles[order.profile_id]
        if profile.status == "liquidating":
            return Reject.ACCOUNT_LIQUIDATING
        position = profile.margin.positions.get(order.market_id, Position())
        if order.reduce_only:
            reducible = -position.size if order.side is Side.LONG else position.size
            if reducible <= 0 or order.remaining > reducible:
                return (
                    f"{Reject.REDUCE_ONLY}: position {decimal_string(position.size)} on {order.market_id}, "
                    f"{order.side.value} {decimal_string(order.remaining)}"
                )
        if order.time_in_force is TimeInForce.POST_ONLY:
            assert order.price is not None
            if market.book.would_cross(order.side, order.price):
                return f"{Reject.POST_ONLY}: {order.side.value} at {decimal_string(order.price)}"
        margin_price = order.price if order.price is not None else market.fair_price
        new = OpenOrder(order.market_id, order.side, margin_price, order.remaining)
        shortfall = self._shortfall(profile, [new], replacing)
        if shortfall is not None:
            have, need = shortfall
            return (
                f"{Reject.INSUFFICIENT_MARGIN}: equity {decimal_string(have.quantize(Decimal('0.000001')))} "
                f"< required {decimal_string(need.quantize(Decimal('0.000001')))}"
            )
        return None

    def _execute(self, order: Order) -> None:
        market = self.markets[order.market_id]
        limit = order.price
        fok = order.time_in_force is TimeInForce.FILL_OR_KILL
        if fok and market.book.fillable(order.side, limit) < order.remaining:
            self._finish(
                order, OrderStatus.CANCELED, f"{Reject.FILL_OR_KILL}: {decimal_string(order.remaining)} wanted"
            )
            return
        for match in market.book.match(order.side, order.remaining, limit):
            self._trade(market, order, match)
        if order.remaining == 0:
            self._finish(order, OrderStatus.CLOSED, "")
        elif order.order_type is OrderType.LIMIT and order.time_in_force in (
            TimeInForce.GOOD_TILL_CANCEL,
            TimeInForce.POST_ONLY,
        ):
            assert order.price is not None
            market.book.add(order.id, order.profile_id, order.side, order.price, order.remaining)
            order.status = OrderStatus.OPEN
            self._touch_order(order)
            self._touched_markets.add(market.id)
        else:
            unfilled = decimal_string(order.remaining)
            if order.total_filled == 0:
                reason = f"{order.time_in_force.value} order expired unfilled ({unfilled}): no liquidity at its price"
            else:
                reason = f"{order.time_in_force.value} order expired with {unfilled} unfilled"
            self._finish(order, OrderStatus.CANCELED, reason)

    def _finish(self, order: Order, status: OrderStatus, reason: str) -> None:
        order.status = status
        order.reason = reason
        self._touch_order(order)

    def _touch_order(self, order: Order) -> None:
        order.updated_at = now_micros()
        self._delta(order.profile_id).orders[order.id] = order

    def request_cancel(self, profile_id: int, market_id: str, order_id: str = "", client_order_id: str = "") -> Order:
        """Mark an order "canceling"; `process_cancel` takes it off the book."""
        order = self.find_order(profile_id, market_id, order_id, client_order_id)
        if order.status not in (OrderStatus.OPEN, OrderStatus.PROCESSING, OrderStatus.AMENDING):
            raise ExchangeError(
                f"order {order.id} is {order.status.value}, it cannot be canceled", ErrorCode.WRONG_ORDER_STATUS
            )
        return order

    def request_amend(
        self, profile_id: int, market_id: str, order_id: str, price: Decimal | None, size: Decimal | None
    ) -> Order:
        """Mark a resting limit order "amending"; `process_amend` changes it. `size` is the order's new total size
        (what it has filled counts toward it), or None to keep it; `price` its limit, which RabbitX requires."""
        order = self.find_order(profile_id, market_id, order_id)
        if order.status is not OrderStatus.OPEN:
            raise ExchangeError(
                f"order {order.id} is {order.status.value}: only an open order can be amended",
                ErrorCode.WRONG_ORDER_STATUS,
            )
        # As for a new order, RabbitX's API refuses an amendment off the market's grid in its answer, and one
        # without a price ("bad order price": its docs have only the size optional).
        cfg = self.markets[order.market_id].config
        refusal = check_order_shape(
            order.market_id, cfg.min_tick, cfg.min_order, order.order_type, price,
            order.initial_size if size is None else size, order.time_in_force,
        )  # fmt: skip
        if refusal is not None:
            raise ExchangeError(refusal)
        order.status = OrderStatus.AMENDING
        self._touch_order(order)
        self._commit()
        return order

    def process_amend(self, order_id: str, price: Decimal | None, size: Decimal | None) -> Order:
        """Apply an amendment as RabbitX's matching engine would. A smaller size at the same price keeps the order's
        place in the queue; any other change takes it out and places it again, matching what it now crosses
        (a post-only order that would cross is refused instead). A refused amendment leaves the order as it was,
        open, with the reason in `reason`. An order filled or cancelled before its amendment's turn stays so."""
        order = self.orders[order_id]
        if order.status is not OrderStatus.AMENDING:
            return order
        market = self.markets[order.market_id]
        try:
            amended = dataclasses.replace(
                order,
                price=order.price if price is None else price,
                remaining=order.remaining if size is None else size - order.total_filled,
            )
            shrinks = amended.price == order.price and amended.remaining <= order.remaining
            if amended.remaining <= 0:
                refusal: str | None = (
                    f"{Reject.BAD_SIZE}: size {decimal_string(size or ZERO)} is not above the "
                    f"{decimal_string(order.total_filled)} already filled"
                )
            else:
                # Its shape was checked when it was asked (request_amend); a smaller size needs no more margin.
                refusal = None if shrinks else self._admit(amended, replacing=order.id)
            if refusal is not None:
                order.status = OrderStatus.OPEN
                order.reason = f"amendment refused: {refusal}"
                self._touch_order(order)
                return order
            order.reason = ""
            order.initial_size = order.total_filled + amended.remaining
            if shrinks:
                market.book.shrink(order.id, amended.remaining)
                order.remaining = amended.remaining
                order.status = OrderStatus.OPEN
                self._touch_order(order)
            else:
                market.book.remove(order.id)
                order.price, order.remaining = amended.price, amended.remaining
                self._execute(order)
            self._touched_markets.add(market.id)
        finally:
            self._commit()
        return order

    def find_order(self, profile_id: int, market_id: str, order_id: str = "", client_order_id: str = "") -> Order:
        if order_id:
            order = self.orders.get(order_id)
            if order is None or order.profile_id != profile_id:
                raise ExchangeError(f"order {order_id} not found", ErrorCode.ORDER_NOT_FOUND)
            if market_id and order.market_id != market_id:
                raise ExchangeError(f"order {order_id} is not on {market_id}", ErrorCode.WRONG_MARKET_ID)
            return order
        if client_order_id:
            for oid in reversed(self.profiles[profile_id].order_ids):
                candidate = self.orders[oid]
                if candidate.client_order_id == client_order_id and candidate.market_id == market_id:
                    return candidate
            raise ExchangeError(
                f"order with client_order_id {client_order_id!r} not found on {market_id}", ErrorCode.ORDER_NOT_FOUND
            )
        raise ExchangeError("order_id or client_order_id is required")

    def process_cancel(self, order_id: str, reason: str = "canceled by user") -> Order:
        order = self.orders[order_id]
        try:
            if order.status in _LIVE:
                if self.markets[order.market_id].book.remove(order.id) is not None:
                    self._touched_markets.add(order.market_id)
                self._finish(order, OrderStatus.CANCELED, reason)
        finally:
            self._commit()
        return order

    def open_orders(self, profile_id: int, market_id: str | None = None) -> list[Order]:
        out = []
        for oid in self.profiles[profile_id].order_ids:
            order = self.orders[oid]
            if order.status in _LIVE and (market_id is None or order.market_id == market_id):
                out.append(order)
        return out

    def cancel_all(
        self, profile_id: int, market_id: str | None = None, reason: str = "canceled by user"
    ) -> list[Order]:
        canceled = []
        for order in self.open_orders(profile_id, market_id):
            if self.markets[order.market_id].book.remove(order.id) is not None:
                self._touched_markets.add(order.market_id)
            self._finish(order, OrderStatus.CANCELED, reason)
            canceled.append(order)
        self._commit()
        return canceled

    def replace_quotes(
        self, profile_id: int, market_id: str, quotes: Iterable[tuple[Side, Decimal, Decimal]]
    ) -> list[Order]:
        """Cancel `profile_id`'s orders on `market_id` and place GTC limits (side, price, size) in one step."""
        with self.batch():
            forget = set()
            for order in self.open_orders(profile_id, market_id):
                self.markets[market_id].book.remove(order.id)
                self._finish(order, OrderStatus.CANCELED, "requoted")
                if order.total_filled == 0:
                    forget.add(order.id)
            if forget:  # quotes that never traded are not kept: a market maker requotes for ever
                profile = self.profiles[profile_id]
                profile.order_ids = [oid for oid in profile.order_ids if oid not in forget]
                for oid in forget:
                    del self.orders[oid]
            self._touched_markets.add(market_id)
            placed = []
            for side, price, size in quotes:
                order = self.submit_order(profile_id, market_id, side, OrderType.LIMIT, price, size)
                self.process_order(order.id)
                placed.append(order)
            return placed

    # ----------------------------------------------------------------- trading

    def _trade(self, market: Market, taker: Order, match: Match, liquidation: bool = False) -> Trade:
        maker = self.orders[match.maker_order_id]
        now = now_micros()
        trade = Trade(f"{market.id}-{next(self._fill_seq)}", market.id, now, match.price, match.size, liquidation,
                      taker.side)  # fmt: skip
        market.trades.append(trade)
        del market.trades[:-1000]
        market.last_trade_price = match.price
        self._new_trades.setdefault(market.id, []).append(trade)
        self._touched_markets.add(market.id)
        for order, is_maker in ((maker, True), (taker, False)):
            order.remaining -= match.size
            order.total_filled += match.size
            if order is maker and order.remaining == 0:
                self._finish(order, OrderStatus.CLOSED, "")
            else:
                self._touch_order(order)
            rate = market.config.maker_fee if is_maker else market.config.taker_fee
            self._fill(
                market, self.profiles[order.profile_id], order.id, order.client_order_id, trade, order.side,
                match.size, match.price, is_maker, -(match.size * match.price * rate),
                liquidation and order is taker,
            )  # fmt: skip
        return trade

    def _fill(
        self,
        market: Market,
        profile: Profile,
        order_id: str,
        client_order_id: str,
        trade: Trade,
        side: Side,
        size: Decimal,
        price: Decimal,
        is_maker: bool,
        fee: Decimal,
        liquidation: bool,
    ) -> Fill:
        profile.fill_sequence += 1
        fill = Fill(
            id=f"{market.id}-{next(self._fill_seq)}",
            sequence=profile.fill_sequence,
            profile_id=profile.id,
            market_id=market.id,
            order_id=order_id,
            trade_id=trade.id,
            price=price,
            size=size,
            side=side,
            is_maker=is_maker,
            fee=fee,
            liquidation=liquidation,
            timestamp=trade.timestamp,
            client_order_id=client_order_id if self.config.fill_client_order_ids else "",
        )
        profile.fills.append(fill)
        position = profile.margin.positions.setdefault(market.id, Position())
        realized = position.apply_fill(side.sign * size, price)
        profile.cum_trading_volume += size * price
        if realized != 0:
            self._credit(profile, realized, "pnl", trade.timestamp)
        if fee != 0:
            self._credit(profile, fee, "fee", trade.timestamp)
        delta = self._delta(profile.id)
        delta.fills.append(fill)
        delta.markets.add(market.id)
        return fill

    def _credit(self, profile: Profile, amount: Decimal, ops_type: str, now: int, op_id: str = "") -> BalanceOp:
        profile.margin.balance += amount
        op = BalanceOp(op_id or str(uuid.uuid4()), profile.id, profile.wallet, ops_type, amount, now)
        profile.balance_ops.append(op)
        self._delta(profile.id).balance_ops.append(op)
        return op

    # ----------------------------------------------------------------- prices, funding, liquidation

    def set_index_price(self, market_id: str, price: Decimal) -> None:
        if price <= 0:
            raise ExchangeError(f"index price must be positive, got {decimal_string(price)}")
        market = self._market(market_id)
        if market.index_price != price:
            market.index_price = price
            self._touched_markets.add(market_id)
            for profile in self.profiles.values():
                if market_id in profile.margin.positions:
                    self._delta(profile.id).markets.add(market_id)
            self._commit()

    def marks(self) -> dict[str, Decimal]:
        return {m.id: m.fair_price for m in self.markets.values()}

    def instant_funding_rate(self, market_id: str) -> Decimal:
        market = self.markets[market_id]
        return risk.funding_rate(market.book.mid(), market.index_price)

    def apply_funding(self, market_id: str, now: int | None = None) -> FundingRecord:
        """Pay one funding period on `market_id` at the current premium; returns the rate applied."""
        market = self._market(market_id)
        now = now if now is not None else now_micros()
        rate = self.instant_funding_rate(market_id)
        record = FundingRecord(market_id, rate, now)
        market.funding.append(record)
        market.last_funding_rate = rate
        market.last_funding_time = now
        for profile in self.profiles.values():
            position = profile.margin.positions.get(market_id)
            if position is None or position.size == 0:
                continue
            payment = risk.funding_payment(position, market.fair_price, rate)
            if payment != 0:
                op = self._credit(profile, payment, "funding", now)
                op.extra["market_id"] = market_id
                self._delta(profile.id).markets.add(market_id)
        self._touched_markets.add(market_id)
        self._commit()
        return record

    def run_liquidations(self) -> list[int]:
        """Liquidate every account below maintenance; returns their profile ids."""
        liquidated = []
        marks = self.marks()
        for profile in list(self.profiles.values()):
            if profile.id == self.insurance_id:
                continue
            state = risk.health(profile.margin, marks, self.risks)
            if state is Health.OK:
                continue
            liquidated.append(profile.id)
            self._liquidate(profile, state)
        self._commit()
        return liquidated

    def _liquidate(self, profile: Profile, state: Health) -> None:
        profile.status = "liquidating"
        self.cancel_all(profile.id, reason="account liquidation")
        insurance = self.profiles[self.insurance_id]
        for market_id, position in list(profile.margin.positions.items()):
            if position.size == 0:
                continue
            market = self.markets[market_id]
            if state is Health.LIQUIDATE:
                self._close_against_book(profile, market, position)
            if position.size != 0:
                self._transfer_position(profile, insurance, market, position.size, market.fair_price)
        if state is Health.AUTO_CLOSE or profile.margin.balance < 0:
            # Auto-close takes the positions at the zero-equity price; a deficit after a book close is covered.
            rest = profile.margin.balance
            if rest != 0:
                self._credit(profile, -rest, "liquidation", now_micros())
                self._credit(insurance, rest, "liquidation", now_micros())
        profile.status = "active"
        self._delta(profile.id)

    def _close_against_book(self, profile: Profile, market: Market, position: Position) -> None:
        side = Side.SHORT if position.size > 0 else Side.LONG
        fraction = self.config.liquidation_band
        limit = market.fair_price * (1 - fraction) if side is Side.SHORT else market.fair_price * (1 + fraction)
        tick = market.config.min_tick
        limit = (limit / tick).to_integral_value(rounding=ROUND_CEILING if side is Side.SHORT else ROUND_FLOOR) * tick
        now = now_micros()
        order = Order(
            id=f"{market.id}@{next(self._order_seq)}",
            profile_id=profile.id,
            market_id=market.id,
            side=side,
            order_type=OrderType.MARKET,
            price=limit,
            initial_size=abs(position.size),
            time_in_force=TimeInForce.IMMEDIATE_OR_CANCEL,
            client_order_id="",
            reduce_only=True,
            created_at=now,
            remaining=abs(position.size),
            updated_at=now,
            is_liquidation=True,
        )
        self.orders[order.id] = order
        profile.order_ids.append(order.id)
        for match in market.book.match(side, order.remaining, limit):
            self._trade(market, order, match, liquidation=True)
        if order.remaining == 0:
            self._finish(order, OrderStatus.CLOSED, "liquidation")
        else:
            self._finish(
                order, OrderStatus.CANCELED, f"liquidation: {decimal_string(order.remaining)} left for the insurance"
            )

    def _transfer_position(
        self, source: Profile, target: Profile, market: Market, size: Decimal, price: Decimal
    ) -> None:
        """Move `size` (signed, as `source` holds it) of `source`'s position to `target` at `price`."""
        now = now_micros()
        taker_side = Side.SHORT if size > 0 else Side.LONG
        trade = Trade(f"{market.id}-{next(self._fill_seq)}", market.id, now, price, abs(size), True, taker_side)
        market.trades.append(trade)
        self._new_trades.setdefault(market.id, []).append(trade)
        self._touched_markets.add(market.id)
        self._fill(market, source, "", "", trade, taker_side, abs(size), price, False, ZERO, True)
        self._fill(market, target, "", "", trade, taker_side.opposite, abs(size), price, True, ZERO, True)

    # ----------------------------------------------------------------- margin helpers

    def _open_orders_margin_view(self, profile: Profile, excluding: str | None = None) -> list[OpenOrder]:
        out = []
        for order in self.open_orders(profile.id):
            if order.price is not None and order.id != excluding and order.id in self.markets[order.market_id].book:
                out.append(OpenOrder(order.market_id, order.side, order.price, order.remaining))
        return out

    def _shortfall(
        self, profile: Profile, extra: list[OpenOrder], excluding: str | None = None
    ) -> tuple[Decimal, Decimal] | None:
        return risk.margin_shortfall(
            profile.margin,
            self.marks(),
            self.risks,
            self._open_orders_margin_view(profile, excluding) + extra,
            self.config.default_leverage,
        )

    def _withdrawable(self, profile: Profile) -> Decimal:
        return risk.withdrawable(
            profile.margin, self.marks(), self.risks, self._open_orders_margin_view(profile),
            self.config.default_leverage,
        )  # fmt: skip

    def profile_json(self, profile_id: int) -> dict[str, Any]:
        """`GET /profile`: the fee tier the account's traded volume reaches, and the next one."""
        volume = self.profile(profile_id).cum_trading_volume
        reached = [tier for tier in VIP_TIERS if volume >= tier[1]]
        current = reached[-1]
        following = VIP_TIERS[len(reached)] if len(reached) < len(VIP_TIERS) else None
        return {
            "tier_status": {
                "current": _tier_json(current),
                "next": _tier_json(following) if following is not None else None,
                "needed_volume": decimal_string(following[1] - volume) if following is not None else "0",
            }
        }

    def candles(self, market_id: str, start: int, end: int, period_minutes: int) -> list[dict[str, Any]]:
        """`GET /candles`: OHLCV of the market's recent trades (the last 1,000), `period_minutes` wide, from
        `start` to `end` (UNIX seconds, both included), oldest first; a period without trades has no candle."""
        if period_minutes not in CANDLE_PERIODS:
            periods = ", ".join(map(str, CANDLE_PERIODS))
            raise InputError(f"period must be one of {periods} (minutes), got {period_minutes}")
        width = period_minutes * 60
        buckets: dict[int, list[Trade]] = {}
        for trade in self.market(market_id).trades:
            second = trade.timestamp // MICROS
            if start <= second <= end:
                buckets.setdefault(second - second % width, []).append(trade)
        return [
            {
                "time": time,
                "low": decimal_string(min(t.price for t in trades)),
                "high": decimal_string(max(t.price for t in trades)),
                "open": decimal_string(trades[0].price),
                "close": decimal_string(trades[-1].price),
                "volume": decimal_string(sum((t.size for t in trades), ZERO)),
            }
            for time, trades in sorted(buckets.items())
        ]

    def _market(self, market_id: str) -> Market:
        market = self.markets.get(market_id)
        if market is None:
            raise ExchangeError(
                f"{Reject.UNKNOWN_MARKET} {market_id!r}: markets are {', '.join(self.markets)}",
                ErrorCode.WRONG_MARKET_ID,
            )
        return market

    def market(self, market_id: str) -> Market:
        return self._market(market_id)

    # ----------------------------------------------------------------- JSON views

    def account_json(self, profile_id: int) -> dict[str, Any]:
        profile = self.profile(profile_id)
        marks = self.marks()
        margin = profile.margin
        orders = self._open_orders_margin_view(profile)
        default = self.config.default_leverage
        leverage = {m: str(min(margin.leverage.get(m, default), self.risks[m].max_leverage)) for m in self.markets}
        notional = risk.total_notional(margin, marks)
        equity = risk.equity(margin, marks)
        return {
            "id": profile.id,
            "profile_type": profile.profile_type,
            "status": profile.status,
            "wallet": profile.wallet,
            "last_update": now_micros(),
            "last_liq_check": 0,
            "balance": decimal_string(margin.balance),
            "account_equity": decimal_string(equity),
            "total_position_margin": decimal_string(risk.position_margin(margin, marks, self.risks, default)),
            "total_order_margin": decimal_string(risk.order_margin(margin, orders, self.risks, default)),
            "total_notional": decimal_string(notional),
            "account_margin": decimal_string(risk.account_margin_ratio(margin, marks)),
            "account_leverage": decimal_string(notional / equity) if equity > 0 else "0",
            "cum_unrealized_pnl": decimal_string(risk.unrealized_pnl(margin, marks)),
            "cum_trading_volume": decimal_string(profile.cum_trading_volume),
            "health": decimal_string(min(risk.account_margin_ratio(margin, marks), Decimal(1))),
            "leverage": leverage,
            "withdrawable_balance": decimal_string(self._withdrawable(profile)),
            "last_fill_sequence": profile.fill_sequence,
        }

    def position_json(self, profile_id: int, market_id: str) -> dict[str, Any]:
        profile = self.profile(profile_id)
        position = profile.margin.positions.get(market_id, Position())
        market = self.markets[market_id]
        fair = market.fair_price
        fraction = risk.initial_fraction(profile.margin, market_id, self.risks[market_id], self.config.default_leverage)
        return {
            "id": f"pos-{market_id}-tr-{profile.id}",
            "market_id": market_id,
            "profile_id": profile.id,
            "size": decimal_string(abs(position.size)),
            "side": position.side.value,
            "entry_price": decimal_string(position.entry_price),
            "fair_price": decimal_string(fair),
            "notional": decimal_string(position.notional(fair)),
            "margin": decimal_string(position.notional(fair) * fraction),
            "unrealized_pnl": decimal_string(position.unrealized_pnl(fair)),
            "liquidation_price": decimal_string(
                risk.liquidation_price(profile.margin, market_id, self.marks(), self.risks)
            ),
        }

    def positions_json(self, profile_id: int) -> list[dict[str, Any]]:
        profile = self.profile(profile_id)
        return [self.position_json(profile_id, m) for m, p in profile.margin.positions.items() if p.size != 0]

    def market_json(self, market_id: str) -> dict[str, Any]:
        market = self._market(market_id)
        cfg = market.config
        bid, ask, mid = market.book.best_bid(), market.book.best_ask(), market.book.mid()
        open_interest = sum(
            (max(p.margin.positions.get(market_id, Position()).size, ZERO) for p in self.profiles.values()), ZERO
        )
        return {
            "id": market_id,
            "status": "active",
            "market_title": market_id.replace("-", "/"),
            "icon_url": "",
            "min_initial_margin": decimal_string(cfg.risk.imf),
            "forced_margin": decimal_string(cfg.risk.mmf),
            "liquidation_margin": decimal_string(cfg.risk.acmf),
            "max_leverage": str(cfg.risk.max_leverage),
            "min_tick": decimal_string(cfg.min_tick),
            "min_order": decimal_string(cfg.min_order),
            "maker_fee": decimal_string(cfg.maker_fee),
            "taker_fee": decimal_string(cfg.taker_fee),
            "best_bid": decimal_string(bid) if bid is not None else "0",
            "best_ask": decimal_string(ask) if ask is not None else "0",
            "market_price": decimal_string(mid) if mid is not None else decimal_string(market.index_price),
            "index_price": decimal_string(market.index_price),
            "fair_price": decimal_string(market.fair_price),
            "last_trade_price": decimal_string(market.last_trade_price),
            "open_interest": decimal_string(open_interest),
            "instant_funding_rate": decimal_string(self.instant_funding_rate(market_id)),
            "last_funding_rate_basis": decimal_string(market.last_funding_rate),
            "last_funding_update_time": market.last_funding_time,
            "last_update_time": now_micros(),
            "last_update_sequence": market.sequence,
            "average_daily_volume": decimal_string(sum((t.size * t.price for t in market.trades), ZERO)),
        }

    def orderbook_json(self, market_id: str, depth: int | None = None) -> dict[str, Any]:
        market = self._market(market_id)
        return {
            "market_id": market_id,
            "bids": [[decimal_string(p), decimal_string(s)] for p, s in market.book.levels(Side.LONG, depth)],
            "asks": [[decimal_string(p), decimal_string(s)] for p, s in market.book.levels(Side.SHORT, depth)],
            "sequence": market.sequence,
            "timestamp": now_micros(),
        }

    def account_snapshot(self, profile_id: int) -> dict[str, Any]:
        """What a WebSocket account subscription starts with: the account, positions, open orders, recent fills."""
        profile = self.profile(profile_id)
        data = self.account_json(profile_id)
        data["positions"] = self.positions_json(profile_id)
        data["orders"] = [o.to_json() for o in self.open_orders(profile_id)]
        data["fills"] = [f.to_json() for f in profile.fills[-self.config.snapshot_fills :]]
        data["balance_operations"] = [op.to_json() for op in profile.balance_ops[-self.config.snapshot_fills :]]
        return data

    # ----------------------------------------------------------------- publications

    def _delta(self, profile_id: int) -> _Delta:
        delta = self._deltas.get(profile_id)
        if delta is None:
            delta = _Delta()
            self._deltas[profile_id] = delta
        return delta

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Publish the changes made inside the block once, at its end (no intermediate book states)."""
        self._batch_depth += 1
        try:
            yield
        finally:
            self._batch_depth -= 1
            self._commit()

    def _commit(self) -> None:
        """Turn what changed since the last commit into publications."""
        if self._batch_depth:
            return
        for market_id in sorted(self._touched_markets):
            market = self.markets[market_id]
            changes: dict[Side, list[list[str]]] = {}
            for side in (Side.LONG, Side.SHORT):
                now_levels = market.book.level_map(side)
                before = market.published[side]
                changed = sorted(set(now_levels) | set(before))
                changes[side] = [
                    [decimal_string(p), decimal_string(now_levels.get(p, ZERO))]
                    for p in changed
                    if now_levels.get(p) != before.get(p)
                ]
                market.published[side] = now_levels
            if changes[Side.LONG] or changes[Side.SHORT]:
                market.sequence += 1
                self.outbox.append(
                    Publication(
                        f"orderbook:{market_id}",
                        {
                            "market_id": market_id,
                            "bids": changes[Side.LONG],
                            "asks": changes[Side.SHORT],
                            "sequence": market.sequence,
                            "timestamp": now_micros(),
                        },
                    )
                )
            trades = self._new_trades.pop(market_id, [])
            if trades:
                self.outbox.append(Publication(f"trade:{market_id}", [t.to_json() for t in trades]))
            self.outbox.append(Publication(f"market:{market_id}", self.market_json(market_id)))
        self._touched_markets.clear()
        for profile_id, delta in sorted(self._deltas.items()):
            data = self.account_json(profile_id)
            if delta.orders:
                data["orders"] = [o.to_json() for o in delta.orders.values()]
            if delta.fills:
                data["fills"] = [f.to_json() for f in delta.fills]
            if delta.markets:
                data["positions"] = [self.position_json(profile_id, m) for m in sorted(delta.markets)]
            if delta.balance_ops:
                data["balance_operations"] = [op.to_json() for op in delta.balance_ops]
            self.outbox.append(Publication(f"account@{profile_id}", data))
        self._deltas.clear()

    def drain(self) -> list[Publication]:
        out, self.outbox = self.outbox, []
        return out


VIP_TIERS: tuple[tuple[int, Decimal], ...] = (
    (0, Decimal(0)),
    (1, Decimal(100_000)),
    (2, Decimal(500_000)),
    (3, Decimal(10_000_000)),
    (4, Decimal(50_000_000)),
    (5, Decimal(250_000_000)),
    (6, Decimal(1_500_000_000)),
)
"""RabbitX's fee tiers by traded volume in USD (docs `trading-fees/api-fees.md`). The devnet reports them; its
fees stay each market's `maker_fee` and `taker_fee`."""

CANDLE_PERIODS = (1, 5, 15, 30, 60, 240, 1440)
"""Candle widths in minutes that `GET /candles` takes (docs `public-endpoints/candles.md`)."""


def _tier_json(tier: tuple[int, Decimal]) -> dict[str, Any]:
    return {"tier": tier[0], "title": f"VIP {tier[0]}", "min_volume": decimal_string(tier[1])}


def parse_side(value: object) -> Side:
    try:
        return Side(str(value).lower())
    except ValueError:
        raise InputError(f"side must be 'long' or 'short', got {value!r}") from None


def parse_order_type(value: object) -> OrderType:
    try:
        return OrderType(str(value).lower())
    except ValueError:
        raise InputError(
            f"type must be 'limit' or 'market' (stop and take-profit types are not on the devnet), got {value!r}"
        ) from None


def parse_time_in_force(value: object) -> TimeInForce | None:
    if value is None or value == "":
        return None
    try:
        return TimeInForce(str(value).lower())
    except ValueError:
        choices = ", ".join(t.value for t in TimeInForce)
        raise InputError(f"time_in_force must be one of {choices}, got {value!r}") from None

"""The replica's state: blocks, accounts, subaccounts, the order books with their matching, fills, funding and
withdrawals, behind one lock (the validator's gRPC threads, the indexer's loop and the block ticker all use it).

It reproduces what a trader of dYdX v4 sees: short-term orders accepted only with goodTilBlock in
[next block, latest + 20], an order id refused while a live order holds it, IOC orders matched at once against the
book at the makers' prices with the rest cancelled, reduce-only orders never filled past zero, taker and maker fees,
a collateral check per fill, funding paid by one side to the other, and withdrawals gated for 50 blocks after a
subaccount with negative collateral was seen and capped at max(1M USDC, 1% of deposits) an hour. Matching happens
when the order reaches the validator; its fills belong to the next block, which is when the indexer shows them.

USDC crosses to and from Ethereum as on mainnet, through Noble (`noble.py`, linked as `noble`): CCTP mints it on Noble,
an IBC transfer brings it to an account's bank balance here (`ibc_receive`), and MsgDepositToSubaccount moves it into
a subaccount (`deposit_to_subaccount`); out, MsgWithdrawFromSubaccount pays a ``dydx1...`` bank balance (any other
recipient is refused, sending code 6, as the chain's ValidateBasic refuses it), an IBC transfer to Noble
(`ibc_send`, under x/ratelimit's hourly capacity) takes it there, and Noble's MsgDepositForBurn sends it to Ethereum.
`credit_bridge_deposit` (a deposit straight into subaccount 0) is a shortcut for tests of the indexer only.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keeper.devnet.dydx.noble import Noble

SHORT_BLOCK_WINDOW = 20
NEGATIVE_TNC_GATE_BLOCKS = 50
"""Withdrawals and transfers stay blocked this many blocks after a negative-collateral subaccount was seen."""
WITHDRAWAL_FLOOR = Decimal(1_000_000)
WITHDRAWAL_TVL_SHARE = Decimal("0.01")
WITHDRAWAL_WINDOW_SECONDS = 3600.0
USDC_DECIMALS = 6
INDEXER_NAMESPACE = uuid.UUID("0f9da948-a6fb-4c45-9edc-4685c3f3317d")
DONE_STATUSES = ("FILLED", "CANCELED")
# As the connector names them (keeper.connectors.dydx.noble, .settings); not imported, so that the keeper's core,
# which reads this module, does not load the dYdX client.
DYDX_PREFIX = "dydx"
TRANSFER_PORT = "transfer"
DYDX_TO_NOBLE_CHANNEL = "channel-0"
MAINNET_USDC_DENOM = "ibc/8E27BA2D5493AF5636760E354E46004562C46AB7EC0CC4C1CA14E9E20E2545B5"


class TimeInForce(Enum):
    """v4-proto's Order.TimeInForce numbers."""

    UNSPECIFIED = 0
    IOC = 1
    POST_ONLY = 2
    FILL_OR_KILL = 3


BUY, SELL = 1, 2
"""v4-proto's Order.Side numbers."""


class Rejected(Exception):
    """A transaction the chain refuses: `codespace` and `code` as dYdX registers them, and its message."""

    def __init__(self, codespace: str, code: int, message: str) -> None:
        super().__init__(message)
        self.codespace = codespace
        self.code = code


@dataclass(frozen=True)
class MarketConfig:
    ticker: str
    clob_pair_id: int
    atomic_resolution: int
    quantum_conversion_exponent: int
    step_base_quantums: int
    subticks_per_tick: int
    oracle_price: Decimal
    initial_margin_fraction: Decimal = Decimal("0.05")
    maintenance_margin_fraction: Decimal = Decimal("0.03")
    price_exponent: int = -5
    """The x/prices market's exponent: its price is an integer times 10^exponent (BTC-USD -5, ETH-USD -6)."""

    def size(self, quantums: int) -> Decimal:
        return Decimal(quantums).scaleb(self.atomic_resolution)

    def price(self, subticks: int) -> Decimal:
        return Decimal(subticks).scaleb(-(self.atomic_resolution - self.quantum_conversion_exponent + USDC_DECIMALS))

    def quote_quantums(self, quantums: int, subticks: int) -> int:
        """USDC quantums of `quantums` at `subticks`: quantums x subticks x 10^quantumConversionExponent."""
        return int(Decimal(quantums * subticks).scaleb(self.quantum_conversion_exponent))


MAINNET_LIKE_MARKETS = (
    MarketConfig("BTC-USD", 0, -10, -9, 1_000_000, 100_000, Decimal(60_000)),
    MarketConfig("ETH-USD", 1, -9, -9, 1_000_000, 100_000, Decimal(3_000), price_exponent=-6),
)
"""BTC-USD and ETH-USD with dYdX mainnet's units (REFERENCE.md)."""


@dataclass
class Account:
    address: str
    account_number: int
    sequence: int = 0


@dataclass
class PerpPosition:
    quantums: int = 0
    """Signed: negative for a short."""
    entry_price: Decimal = Decimal(0)
    realized_pnl: Decimal = Decimal(0)
    net_funding: Decimal = Decimal(0)
    max_size: Decimal = Decimal(0)
    sum_open: Decimal = Decimal(0)
    sum_close: Decimal = Decimal(0)
    close_notional: Decimal = Decimal(0)
    """Sum of price x size over the fills that closed part of it: its exit price is this over `sum_close`."""
    created_at_height: int = 0
    created_at: str = ""


@dataclass(frozen=True)
class ClosedPosition:
    """A position brought back to zero, as the indexer keeps it (status CLOSED). A fill that takes a position
    through zero to the other side keeps it open on the replica, as one position."""

    owner: str
    number: int
    clob_pair_id: int
    side: str
    """LONG or SHORT: the side it had while open."""
    position: PerpPosition
    closed_at: str
    closed_at_height: int


@dataclass
class SubaccountState:
    owner: str
    number: int
    usdc_quantums: int = 0
    positions: dict[int, PerpPosition] = field(default_factory=dict)
    updated_at_height: int = 0


OrderKey = tuple[str, int, int, int, int]
"""(owner, subaccount number, client id, order flags, clob pair id): dYdX's OrderId."""


@dataclass
class RestingOrder:
    key: OrderKey
    side: int
    subticks: int
    remaining: int
    good_til_block: int | None
    """None: a maker seeded by the replica's operator that never expires."""
    sequence: int
    reduce_only: bool = False


@dataclass(frozen=True)
class PlaceOrder:
    """A MsgPlaceOrder as the chain reads it."""

    key: OrderKey
    side: int
    quantums: int
    subticks: int
    good_til_block: int
    time_in_force: int
    reduce_only: bool
    client_metadata: int = 0


@dataclass(frozen=True)
class CctpBurn:
    """USDC Noble's MsgDepositForBurn sent towards Ethereum: message `nonce` from Noble's domain."""

    nonce: int
    recipient: str  # the Ethereum address paid
    quantums: int
    tx_hash: str  # the Noble transaction that burned it
    height: int  # the block it belongs to


@dataclass(frozen=True)
class Packet:
    """An IBC transfer of USDC in flight between dYdX and Noble."""

    to_noble: bool  # False: from Noble to dYdX
    sender: str
    receiver: str
    quantums: int


@dataclass(frozen=True)
class StoredAuthenticator:
    """An authenticator as MsgAddAuthenticator added it (dYdX's AccountAuthenticator)."""

    id: int
    type: str
    config: bytes


@dataclass
class Chain:
    """The whole replica state. Every public method takes the lock; the indexer reads through `snapshot` methods."""

    chain_id: str = "primevault-dydx-devnet"
    markets: tuple[MarketConfig, ...] = MAINNET_LIKE_MARKETS
    taker_fee: Decimal = Decimal("0.0005")
    maker_fee: Decimal = Decimal("0.0001")
    height: int = 1
    block_times: dict[int, str] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    subaccounts: dict[tuple[str, int], SubaccountState] = field(default_factory=dict)
    books: dict[int, list[RestingOrder]] = field(default_factory=dict)
    fills: list[dict[str, object]] = field(default_factory=list)
    funding: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    funding_index: dict[str, Decimal] = field(default_factory=dict)
    """Per market, the funding paid so far by a long of one unit (the sum of rate x oracle price)."""
    funding_payments: list[dict[str, object]] = field(default_factory=list)
    """The indexer's funding payment objects, one per position a settlement touched (`_owner`: its address)."""
    closed_positions: list[ClosedPosition] = field(default_factory=list)
    live_ids: dict[OrderKey, int] = field(default_factory=dict)
    """Short-term order ids placed or cancelled, with the goodTilBlock that holds them."""
    orders: dict[str, dict[str, object]] = field(default_factory=dict)
    """The indexer's order objects of placed short-term orders, by the indexer's order id."""
    transfers: list[dict[str, object]] = field(default_factory=list)
    """The indexer's transfer objects: deposits into subaccounts and withdrawals from them."""
    bridge_nonces: set[int] = field(default_factory=set)
    usdc_denom: str = MAINNET_USDC_DENOM
    """USDC's denomination in bank balances (Noble's uusdc, as IBC names it here)."""
    bank: dict[str, int] = field(default_factory=dict)
    """x/bank: each address's USDC, in quantums (uusdc)."""
    noble: Noble | None = None
    """The Noble replica across the IBC channel (`Noble` links itself)."""
    packets: list[Packet] = field(default_factory=list)
    """IBC transfers sent either way and not relayed yet: delivered with the next block (in flight until then)."""
    negative_tnc_seen_at: int | None = None
    withdrawals: list[tuple[float, Decimal]] = field(default_factory=list)
    authenticators: dict[str, dict[int, StoredAuthenticator]] = field(default_factory=dict)
    """x/accountplus: each account's authenticators by id (ids are global, counting up from 0)."""
    next_authenticator_id: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)
    _sequence: Iterator[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.block_times[self.height] = _now()
        self.books = {market.clob_pair_id: [] for market in self.markets}

    # Blocks and accounts

    def produce_block(self) -> int:
        """Commits the next block: expired short-term orders leave the book and free their ids, and the relayer
        delivers the IBC packets sent before it (`packets`)."""
        with self.lock:
            self.height += 1
            self.block_times[self.height] = _now()
            self._relay()
            for clob_pair_id, book in self.books.items():
                self.books[clob_pair_id] = [
                    o for o in book if o.good_til_block is None or o.good_til_block > self.height
                ]
            self.live_ids = {key: until for key, until in self.live_ids.items() if until > self.height}
            for record in self.orders.values():
                if record["status"] == "OPEN" and int(str(record["goodTilBlock"])) <= self.height:
                    record["status"] = "CANCELED"
            return self.height

    def fund(self, address: str, usdc: Decimal, number: int = 0) -> None:
        """Credits `usdc` to a subaccount, creating the account as a deposit through the bridge would."""
        with self.lock:
            if address not in self.accounts:
                self.accounts[address] = Account(address, len(self.accounts) + 1)
            self._subaccount(address, number).usdc_quantums += int(usdc.scaleb(USDC_DECIMALS))

    def market(self, clob_pair_id: int) -> MarketConfig:
        for market in self.markets:
            if market.clob_pair_id == clob_pair_id:
                return market
        raise Rejected("clob", 8, "ClobPair ID does not reference a valid CLOB")

    def market_by_ticker(self, ticker: str) -> MarketConfig | None:
        return next((market for market in self.markets if market.ticker == ticker), None)

    # Permissioned keys (x/accountplus)

    def add_authenticator(self, owner: str, kind: str, config: bytes) -> int:
        """Stores an authenticator `owner` added (the validator has initialized it); returns its id."""
        with self.lock:
            authenticator = StoredAuthenticator(self.next_authenticator_id, kind, bytes(config))
            self.authenticators.setdefault(owner, {})[authenticator.id] = authenticator
            self.next_authenticator_id += 1
            return authenticator.id

    def remove_authenticator(self, owner: str, authenticator_id: int, *, execute: bool = True) -> None:
        with self.lock:
            self.authenticator(owner, authenticator_id)
            if execute:
                del self.authenticators[owner][authenticator_id]

    def authenticator(self, owner: str, authenticator_id: int) -> StoredAuthenticator:
        """`owner`'s authenticator `authenticator_id`; `accountplus` 1 when the account holds none with that id."""
        with self.lock:
            found = self.authenticators.get(owner, {}).get(authenticator_id)
            if found is None:
                raise Rejected(
                    "accountplus",
                    1,
                    f"authenticator {authenticator_id} not found for account {owner}: Authenticator is not found",
                )
            return found

    def account_authenticators(self, owner: str) -> list[StoredAuthenticator]:
        with self.lock:
            return sorted(self.authenticators.get(owner, {}).values(), key=lambda a: a.id)

    # Orders

    def rest_order(self, owner: str, number: int, ticker: str, side: int, price: Decimal, size: Decimal) -> None:
        """A maker's order that rests until taken (seeded liquidity; it never expires)."""
        market = self.market_by_ticker(ticker)
        assert market is not None, ticker
        with self.lock:
            self._subaccount(owner, number)
            subticks = int(price.scaleb(market.atomic_resolution - market.quantum_conversion_exponent + USDC_DECIMALS))
            quantums = int(size.scaleb(-market.atomic_resolution))
            sequence = next(self._sequence)
            key = (owner, number, sequence, 64, market.clob_pair_id)
            self._insert(RestingOrder(key, side, subticks, quantums, None, sequence))

    def set_oracle_price(self, ticker: str, price: Decimal) -> None:
        """The market's oracle price, as dYdX's validators' price updates set it (margin, funding, PnL)."""
        with self.lock:
            self.markets = tuple(
                dataclasses.replace(m, oracle_price=price) if m.ticker == ticker else m for m in self.markets
            )

    def replace_resting(
        self, owner: str, number: int, ticker: str, quotes: Sequence[tuple[int, Decimal, Decimal]]
    ) -> None:
        """Replaces the seeded maker orders of `owner`'s subaccount on `ticker` with `quotes` (side, price, size)."""
        market = self.market_by_ticker(ticker)
        assert market is not None, ticker
        with self.lock:
            book = self.books[market.clob_pair_id]
            self.books[market.clob_pair_id] = [o for o in book if o.key[:2] != (owner, number)]
            for side, price, size in quotes:
                self.rest_order(owner, number, ticker, side, price, size)

    def check_order(self, order: PlaceOrder) -> MarketConfig:
        """CheckTx's stateless and window checks, in dYdX's order and with its codes."""
        market = self.market(order.key[4])
        if order.quantums <= 0 or order.quantums % market.step_base_quantums:
            raise Rejected("clob", 4, "Invalid order quantums")
        if order.subticks <= 0 or order.subticks % market.subticks_per_tick:
            raise Rejected("clob", 6, "Invalid order subticks")
        self._check_window(order.good_til_block)
        held = self.live_ids.get(order.key)
        if held is not None and order.good_til_block <= held:
            raise Rejected(
                "clob",
                20,
                "An order with the same `OrderId` already exists for this CLOB with a greater-than-or-equal "
                "`GoodTilBlock` or Order Hash",
            )
        return market

    def place_order(self, order: PlaceOrder) -> None:
        """Places a short-term order: checked, matched against the book at the makers' prices, the rest resting
        (good-til-block, post-only) or cancelled (IOC)."""
        with self.lock:
            market = self.check_order(order)
            if order.time_in_force == TimeInForce.POST_ONLY.value and self._crosses(order):
                raise Rejected("clob", 2003, "Post-only order would cross one or more maker orders")
            self.live_ids[order.key] = order.good_til_block
            self._subaccount(order.key[0], order.key[1])
            for book_order in self.books[market.clob_pair_id]:
                if book_order.key == order.key:
                    self.books[market.clob_pair_id].remove(book_order)
                    break
            record = self._record(market, order)
            remaining = self._match(market, order)
            if remaining and order.time_in_force == TimeInForce.IOC.value:
                record["status"] = "CANCELED"
            elif remaining:
                sequence = next(self._sequence)
                self._insert(
                    RestingOrder(
                        order.key,
                        order.side,
                        order.subticks,
                        remaining,
                        order.good_til_block,
                        sequence,
                        order.reduce_only,
                    )
                )

    def cancel_order(self, key: OrderKey, good_til_block: int) -> None:
        with self.lock:
            self._check_window(good_til_block)
            book = self.books[self.market(key[4]).clob_pair_id]
            self.books[key[4]] = [o for o in book if o.key != key]
            self.live_ids[key] = max(self.live_ids.get(key, 0), good_til_block)
            record = self.orders.get(order_uuid(key))
            if record is not None and record["status"] not in DONE_STATUSES:
                record["status"] = "CANCELED"

    def _record(self, market: MarketConfig, order: PlaceOrder) -> dict[str, object]:
        """The indexer's object for a placed order (comlink's OrderResponseObject), shown from the next block."""
        owner, number, client_id, flags, clob_pair_id = order.key
        record: dict[str, object] = {
            "id": order_uuid(order.key),
            "subaccountId": str(uuid.uuid5(INDEXER_NAMESPACE, f"{owner}-{number}")),
            "clientId": str(client_id),
            "clobPairId": str(clob_pair_id),
            "side": "BUY" if order.side == BUY else "SELL",
            "size": plain(market.size(order.quantums)),
            "totalFilled": "0",
            "price": plain(market.price(order.subticks)),
            "type": "LIMIT",
            "status": "OPEN",
            "timeInForce": "IOC" if order.time_in_force == TimeInForce.IOC.value else "GTT",
            "reduceOnly": order.reduce_only,
            "orderFlags": str(flags),
            "goodTilBlock": str(order.good_til_block),
            "createdAtHeight": str(self.height + 1),
            "clientMetadata": str(order.client_metadata),
            "updatedAt": _now(),
            "updatedAtHeight": str(self.height + 1),
            "postOnly": order.time_in_force == TimeInForce.POST_ONLY.value,
            "ticker": market.ticker,
            "subaccountNumber": number,
        }
        self.orders[str(record["id"])] = record
        return record

    def _check_window(self, good_til_block: int) -> None:
        """A short-term order or cancel must live from the next block to at most ShortBlockWindow blocks ahead."""
        if good_til_block < self.height + 1:
            raise Rejected("clob", 10, "The next block height is greater than the GoodTilBlock of the message")
        if good_til_block > self.height + SHORT_BLOCK_WINDOW:
            raise Rejected(
                "clob", 11, "The GoodTilBlock of the message is further than ShortBlockWindow blocks into the future"
            )

    def _crosses(self, order: PlaceOrder) -> bool:
        return any(self._would_match(order.side, order.subticks, maker) for maker in self.books[order.key[4]])

    @staticmethod
    def _would_match(side: int, subticks: int, maker: RestingOrder) -> bool:
        if maker.side == side:
            return False
        return maker.subticks <= subticks if side == BUY else maker.subticks >= subticks

    def _insert(self, order: RestingOrder) -> None:
        book = self.books[order.key[4]]
        book.append(order)
        book.sort(key=lambda o: (o.side, -o.subticks if o.side == BUY else o.subticks, o.sequence))

    def _match(self, market: MarketConfig, order: PlaceOrder) -> int:
        """Fills `order` against the book, best maker price first, each fill at the maker's price. Returns what
        is left of it."""
        remaining = order.quantums
        taker = self._subaccount(order.key[0], order.key[1])
        if order.reduce_only:
            remaining = min(remaining, self._reducible(taker, market, order.side))
        book = self.books[market.clob_pair_id]
        for maker in [o for o in book if self._would_match(order.side, order.subticks, o)]:
            if remaining == 0:
                break
            if maker.key[:2] == order.key[:2]:
                continue
            size = min(remaining, maker.remaining)
            maker_account = self._subaccount(maker.key[0], maker.key[1])
            if maker.reduce_only:
                size = min(size, self._reducible(maker_account, market, maker.side))
            if size == 0:
                continue
            if not self._collateralized_after(taker, market, order.side, size, maker.subticks, self.taker_fee):
                break
            if not self._collateralized_after(maker_account, market, maker.side, size, maker.subticks, self.maker_fee):
                book.remove(maker)
                continue
            self._fill(market, order.key, order.side, taker, size, maker.subticks, "TAKER", order.client_metadata)
            self._fill(market, maker.key, maker.side, maker_account, size, maker.subticks, "MAKER", 0)
            remaining -= size
            maker.remaining -= size
            if maker.remaining == 0:
                book.remove(maker)
        return remaining

    def _reducible(self, account: SubaccountState, market: MarketConfig, side: int) -> int:
        held = account.positions.get(market.clob_pair_id, PerpPosition()).quantums
        return max(0, -held if side == BUY else held)

    def _collateralized_after(
        self, account: SubaccountState, market: MarketConfig, side: int, quantums: int, subticks: int, fee: Decimal
    ) -> bool:
        """dYdX's per-fill collateral check: a fill that leaves the subaccount under its initial margin is allowed
        only if it reduces the subaccount's risk."""
        signed = quantums if side == BUY else -quantums
        held = account.positions.get(market.clob_pair_id, PerpPosition()).quantums
        if abs(held + signed) <= abs(held):
            return True
        quote = market.quote_quantums(quantums, subticks)
        usdc = account.usdc_quantums + (-quote if side == BUY else quote) - int(fee * quote)
        sizes = {clob: position.quantums for clob, position in account.positions.items()}
        sizes[market.clob_pair_id] = held + signed
        return self._equity(usdc, sizes) >= self._requirement(sizes)

    def _fill(
        self,
        market: MarketConfig,
        key: OrderKey,
        side: int,
        account: SubaccountState,
        quantums: int,
        subticks: int,
        liquidity: str,
        client_metadata: int,
    ) -> None:
        price, size = market.price(subticks), market.size(quantums)
        quote = market.quote_quantums(quantums, subticks)
        fee_rate = self.taker_fee if liquidity == "TAKER" else self.maker_fee
        fee = int(fee_rate * quote)
        account.usdc_quantums += (-quote if side == BUY else quote) - fee
        position = account.positions.setdefault(
            market.clob_pair_id, PerpPosition(created_at_height=self.height + 1, created_at=_now())
        )
        signed = quantums if side == BUY else -quantums
        held = position.quantums
        if held == 0 or (held > 0) == (signed > 0):
            total = abs(held) + quantums
            position.entry_price = (position.entry_price * abs(held) + price * quantums) / total
            position.sum_open += size
        else:
            closed = min(abs(held), quantums)
            direction = 1 if held > 0 else -1
            position.realized_pnl += (price - position.entry_price) * market.size(closed) * direction
            position.sum_close += market.size(closed)
            position.close_notional += price * market.size(closed)
            if quantums > abs(held):
                position.entry_price = price
        position.quantums = held + signed
        position.max_size = max(position.max_size, abs(market.size(position.quantums)))
        if position.quantums == 0:
            del account.positions[market.clob_pair_id]
            self.closed_positions.append(
                ClosedPosition(
                    account.owner,
                    account.number,
                    market.clob_pair_id,
                    "LONG" if held > 0 else "SHORT",
                    position,
                    _now(),
                    self.height + 1,
                )
            )
        account.updated_at_height = self.height + 1
        record = self.orders.get(order_uuid(key))
        if record is not None:
            filled = Decimal(str(record["totalFilled"])) + size
            record["totalFilled"] = plain(filled)
            record["updatedAtHeight"] = str(self.height + 1)
            if filled == Decimal(str(record["size"])):
                record["status"] = "FILLED"
        self.fills.append(
            {
                "id": str(uuid.uuid4()),
                "side": "BUY" if side == BUY else "SELL",
                "liquidity": liquidity,
                "type": "LIMIT",
                "market": market.ticker,
                "marketType": "PERPETUAL",
                "price": plain(price),
                "size": plain(size),
                "fee": plain(Decimal(fee).scaleb(-USDC_DECIMALS)),
                "createdAt": _now(),
                "createdAtHeight": str(self.height + 1),
                "orderId": order_uuid(key),
                "clientMetadata": str(client_metadata),
                "subaccountNumber": key[1],
                "_owner": key[0],
            }
        )
        if self.equity(account) < 0:
            self.negative_tnc_seen_at = self.height + 1

    # Funding and withdrawals

    def settle_funding(self, ticker: str, rate: Decimal) -> None:
        """One funding payment: every position pays size x oracle price x rate (longs pay a positive rate)."""
        market = self.market_by_ticker(ticker)
        assert market is not None, ticker
        with self.lock:
            index = self.funding_index.get(ticker, Decimal(0)) + rate * market.oracle_price
            self.funding_index[ticker] = index
            for account in self.subaccounts.values():
                position = account.positions.get(market.clob_pair_id)
                if position is None:
                    continue
                size = market.size(position.quantums)
                payment = size * market.oracle_price * rate
                account.usdc_quantums -= int(payment.scaleb(USDC_DECIMALS))
                position.net_funding -= payment
                if self.equity(account) < 0:
                    self.negative_tnc_seen_at = self.height
                self.funding_payments.append(
                    {
                        "createdAt": _now(),
                        "createdAtHeight": str(self.height),
                        "perpetualId": str(market.clob_pair_id),
                        "ticker": ticker,
                        "oraclePrice": plain(market.oracle_price),
                        "size": plain(abs(size)),
                        "side": "LONG" if size > 0 else "SHORT",
                        "rate": plain(rate),
                        "payment": plain(-payment),
                        "subaccountNumber": str(account.number),
                        "fundingIndex": plain(index),
                        "_owner": account.owner,
                    }
                )
            self.funding.setdefault(ticker, []).insert(
                0,
                {
                    "ticker": ticker,
                    "rate": plain(rate),
                    "price": plain(market.oracle_price),
                    "effectiveAt": _now(),
                    "effectiveAtHeight": str(self.height),
                },
            )

    def mark_negative_collateral(self) -> None:
        """Records that some subaccount was seen with negative collateral at the latest block."""
        with self.lock:
            self.negative_tnc_seen_at = self.height

    def check_withdrawal(self, owner: str, number: int, quantums: int, recipient: str) -> None:
        """The chain's checks on MsgWithdrawFromSubaccount past its ValidateBasic (the validator's): the
        negative-collateral gate and the subaccount's collateral after the withdrawal. x/ratelimit does not limit it:
        it limits IBC sends (`ibc_send`)."""
        with self.lock:
            gate = self.negative_tnc_seen_at
            if gate is not None and self.height <= gate + NEGATIVE_TNC_GATE_BLOCKS:
                raise Rejected(
                    "subaccounts",
                    2,
                    f"WithdrawalsAndTransfersBlocked: a subaccount with negative collateral was seen at block {gate}; "
                    f"withdrawals are blocked until block {gate + NEGATIVE_TNC_GATE_BLOCKS + 1}",
                )
            amount = Decimal(quantums).scaleb(-USDC_DECIMALS)
            account = self.subaccounts.get((owner, number))
            if account is None or self.free_collateral(account) < amount:
                raise Rejected("subaccounts", 2, "NewlyUndercollateralized: the withdrawal exceeds free collateral")

    def withdrawal_capacity(self) -> tuple[Decimal, Decimal]:
        """x/ratelimit's hourly limit on USDC leaving by IBC, in USDC: its capacity, max(WITHDRAWAL_FLOOR,
        WITHDRAWAL_TVL_SHARE of the USDC on the chain, in subaccounts and bank balances), and what of it the last
        WITHDRAWAL_WINDOW_SECONDS' IBC sends left."""
        with self.lock:
            now = time.monotonic()
            recent = sum((a for t, a in self.withdrawals if now - t < WITHDRAWAL_WINDOW_SECONDS), Decimal(0))
            held = [a.usdc_quantums for a in self.subaccounts.values()] + list(self.bank.values())
            deposits = Decimal(sum(held))
            capacity = max(WITHDRAWAL_FLOOR, WITHDRAWAL_TVL_SHARE * deposits.scaleb(-USDC_DECIMALS))
            return capacity, capacity - recent

    def withdraw(self, owner: str, number: int, quantums: int, recipient: str, tx_hash: str) -> None:
        """MsgWithdrawFromSubaccount: debits the subaccount and credits `recipient`'s bank balance."""
        with self.lock:
            self.check_withdrawal(owner, number, quantums, recipient)
            self.subaccounts[(owner, number)].usdc_quantums -= quantums
            self._account(recipient)
            self.bank[recipient] = self.bank.get(recipient, 0) + quantums
            sender: dict[str, object] = {"address": owner, "subaccountNumber": number}
            self._transfer("WITHDRAWAL", sender, {"address": recipient}, quantums, tx_hash)

    def check_deposit(self, sender: str, owner: str, quantums: int) -> None:
        """MsgDepositToSubaccount's checks past its ValidateBasic (the validator's): the sender signs (see the
        validator) and holds the USDC in its bank."""
        with self.lock:
            held = self.bank.get(sender, 0)
            if held < quantums:
                raise Rejected("sdk", 5, f"spendable balance {held}{self.usdc_denom} is smaller than {quantums}: "
                               "insufficient funds")  # fmt: skip

    def deposit_to_subaccount(self, sender: str, owner: str, number: int, quantums: int, tx_hash: str) -> None:
        """MsgDepositToSubaccount: `sender`'s bank USDC into subaccount (`owner`, `number`)."""
        with self.lock:
            self.check_deposit(sender, owner, quantums)
            self.bank[sender] -= quantums
            self._subaccount(owner, number).usdc_quantums += quantums
            recipient: dict[str, object] = {"address": owner, "subaccountNumber": number}
            self._transfer("DEPOSIT", {"address": sender}, recipient, quantums, tx_hash)

    def check_ibc_send(self, sender: str, port: str, channel: str, denom: str, quantums: int) -> None:
        """MsgTransfer's checks here: the channel to Noble, USDC, the sender's balance, and x/ratelimit's capacity
        (max(WITHDRAWAL_FLOOR, WITHDRAWAL_TVL_SHARE of the USDC held) an hour)."""
        with self.lock:
            if (port, channel) != (TRANSFER_PORT, DYDX_TO_NOBLE_CHANNEL) or self.noble is None:
                raise Rejected("channel", 1, f"channel not found: port ID ({port}) channel ID ({channel})")
            if denom != self.usdc_denom or quantums <= 0:
                raise Rejected("transfer", 2, f"invalid token {quantums}{denom}: the replica carries USDC only")
            held = self.bank.get(sender, 0)
            if held < quantums:
                raise Rejected(
                    "sdk", 5, f"spendable balance {held}{denom} is smaller than {quantums}: insufficient funds"
                )
            capacity, left = self.withdrawal_capacity()
            if Decimal(quantums).scaleb(-USDC_DECIMALS) > left:
                raise Rejected("ratelimit", 1001, f"withdrawal amount would exceed rate-limit capacity {capacity}")

    def ibc_send(self, sender: str, port: str, channel: str, denom: str, quantums: int, receiver: str) -> None:
        """MsgTransfer from here to Noble: the sender's USDC leaves, in flight until the relayer delivers it to
        `receiver` on Noble with the next block."""
        with self.lock:
            self.check_ibc_send(sender, port, channel, denom, quantums)
            self.bank[sender] -= quantums
            self.withdrawals.append((time.monotonic(), Decimal(quantums).scaleb(-USDC_DECIMALS)))
            self.packets.append(Packet(True, sender, receiver, quantums))

    def _relay(self) -> None:
        """Delivers every packet in flight; one whose receiver the other side cannot take is refunded to its sender,
        as its error acknowledgement would have it."""
        packets, self.packets = self.packets, []
        for packet in packets:
            if packet.to_noble:
                assert self.noble is not None
                if not self.noble.ibc_receive(packet.receiver, packet.quantums):
                    self.bank[packet.sender] += packet.quantums
            elif not self.ibc_receive(packet.receiver, packet.quantums):
                assert self.noble is not None
                self.noble.credit(packet.sender, packet.quantums)

    def ibc_receive(self, receiver: str, quantums: int) -> bool:
        """An IBC transfer from Noble arriving: USDC into `receiver`'s bank; False (refunded) if not an address."""
        with self.lock:
            if not is_dydx_address(receiver):
                return False
            self._account(receiver)
            self.bank[receiver] = self.bank.get(receiver, 0) + quantums
            return True

    def _account(self, address: str) -> Account:
        if address not in self.accounts:
            self.accounts[address] = Account(address, len(self.accounts) + 1)
        return self.accounts[address]

    def check_transfer(self, owner: str, number: int, quantums: int) -> SubaccountState:
        """MsgCreateTransfer's checks past its ValidateBasic (the validator's): the withdrawals' gate and the
        sender's collateral (the rate limit applies to IBC sends only). Returns the sending subaccount."""
        with self.lock:
            gate = self.negative_tnc_seen_at
            if gate is not None and self.height <= gate + NEGATIVE_TNC_GATE_BLOCKS:
                raise Rejected("subaccounts", 2, f"WithdrawalsAndTransfersBlocked since block {gate}")
            account = self.subaccounts.get((owner, number))
            if account is None or self.free_collateral(account) < Decimal(quantums).scaleb(-USDC_DECIMALS):
                raise Rejected("subaccounts", 2, "NewlyUndercollateralized: the transfer exceeds free collateral")
            return account

    def transfer(self, owner: str, number: int, quantums: int, recipient: tuple[str, int]) -> None:
        """MsgCreateTransfer: USDC from one subaccount to another (`check_transfer`)."""
        with self.lock:
            account = self.check_transfer(owner, number, quantums)
            account.usdc_quantums -= quantums
            self._subaccount(*recipient).usdc_quantums += quantums

    def credit_bridge_deposit(self, nonce: int, address: str, quantums: int, tx_hash: str) -> bool:
        """Credits `quantums` to `address`'s subaccount 0 as a deposit, once per nonce; False if it was. A shortcut for
        tests of the indexer: the bridge's deposits take the real route (CCTP to Noble, IBC, MsgDepositToSubaccount)."""
        with self.lock:
            if nonce in self.bridge_nonces:
                return False
            self.bridge_nonces.add(nonce)
            self.fund(address, Decimal(quantums).scaleb(-USDC_DECIMALS))
            recipient: dict[str, object] = {"address": address, "subaccountNumber": 0}
            self._transfer("DEPOSIT", {"address": address}, recipient, quantums, tx_hash)
            return True

    def _transfer(
        self, kind: str, sender: dict[str, object], recipient: dict[str, object], quantums: int, tx_hash: str
    ) -> None:
        self.transfers.append(
            {
                "id": str(uuid.uuid4()),
                "sender": sender,
                "recipient": recipient,
                "size": plain(Decimal(quantums).scaleb(-USDC_DECIMALS)),
                "createdAt": _now(),
                "createdAtHeight": str(self.height + 1),
                "symbol": "USDC",
                "type": kind,
                "transactionHash": tx_hash,
            }
        )

    # Reads (for the indexer)

    def equity(self, account: SubaccountState) -> Decimal:
        return self._equity(account.usdc_quantums, {c: p.quantums for c, p in account.positions.items()})

    def free_collateral(self, account: SubaccountState) -> Decimal:
        sizes = {clob: position.quantums for clob, position in account.positions.items()}
        return self._equity(account.usdc_quantums, sizes) - self._requirement(sizes)

    def _equity(self, usdc_quantums: int, sizes: dict[int, int]) -> Decimal:
        """USDC plus every position at its oracle price."""
        value = sum((self.market(c).size(q) * self.market(c).oracle_price for c, q in sizes.items()), Decimal(0))
        return Decimal(usdc_quantums).scaleb(-USDC_DECIMALS) + value

    def _requirement(self, sizes: dict[int, int]) -> Decimal:
        """The initial margin of the positions: |size| x oracle price x initial margin fraction."""
        return sum(
            (
                abs(self.market(c).size(q)) * self.market(c).oracle_price * self.market(c).initial_margin_fraction
                for c, q in sizes.items()
            ),
            Decimal(0),
        )

    def _subaccount(self, owner: str, number: int) -> SubaccountState:
        return self.subaccounts.setdefault((owner, number), SubaccountState(owner, number))


def order_uuid(key: OrderKey) -> str:
    """The indexer's order id: uuid5 over "<subaccount uuid>-<client id>-<clob pair id>-<order flags>", the
    subaccount's uuid being uuid5 over "<address>-<number>" (v4-chain's SubaccountTable.uuid, OrderTable.uuid)."""
    owner, number, client_id, flags, clob_pair_id = key
    subaccount = uuid.uuid5(INDEXER_NAMESPACE, f"{owner}-{number}")
    return str(uuid.uuid5(INDEXER_NAMESPACE, f"{subaccount}-{client_id}-{clob_pair_id}-{flags}"))


def is_dydx_address(address: str) -> bool:
    """Whether `address` is a ``dydx1...`` account address (the connector's reading, imported here only when a
    replica checks one, so that this module does not load the dYdX client)."""
    from keeper.connectors.dydx.noble import address_bytes

    return address_bytes(address, DYDX_PREFIX) is not None


def plain(value: Decimal) -> str:
    """A Decimal as the indexer writes it: plain digits, no exponent, no trailing zeros."""
    return "0" if value == 0 else format(value.normalize(), "f")


def iso(moment: datetime) -> str:
    """A UTC moment as the indexer writes its times: ISO 8601 to the millisecond, with ``Z``."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _now() -> str:
    return iso(datetime.now(UTC))

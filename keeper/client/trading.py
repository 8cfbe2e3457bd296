"""Client for the trading module: submit, list and cancel orders, read positions and the backstop book, execute
orders with the router's split (the executor's job), move venue margin, and the admin's venue and market
listing."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.logs import DISCARD
from web3.types import BlockIdentifier, TxParams, TxReceipt

from keeper.chain.deployment import Deployment
from keeper.chain.revert import DecodedError
from keeper.chain.transactions import Sender
from keeper.client.adapters import AdapterClient, SeatAdapterClient, VenueExposure
from keeper.client.base import AccessControlledClient, struct
from keeper.client.lens import FUNDING_UNREADABLE, LensClient
from keeper.client.venues import VENUE_FAILURES, Venue, failure_reason, node_failure, priced_cost_model
from keeper.client.venues.registry import load_venues
from keeper.exceptions import ConfigError, InputError, NoVenueCanPrice, PrimeVaultError, TransactionReverted
from keeper.risk.health import MAX_VENUES, funding_owed, position_pnl
from keeper.risk.margin import slot_exposure
from keeper.routing import VenueCostModel, route

log = logging.getLogger("primevault.trading")
WAD = Decimal(10) ** 18
STATUSES = ("none", "open", "executed", "cancelled", "routed")
BATCH_BASE_GAS = 50_000
"""`executeOrders`' own gas around its orders: the transaction, the pause check, the loop."""
PER_ORDER_GAS = 10_000
"""Each order's part of the batch beyond its own execution: the try/catch, a cancellation's event."""
FAILING_ORDER_GAS = 500_000
"""An order whose estimate reverts, at one venue: what it may burn before its revert (it can fail at its end, after
its fills: a limit or health check) and its cancellation. It may also succeed in the batch, after an earlier order
of its account. Unused gas is not charged; too little would end the whole batch (the try/catch keeps 1/64 of the
gas for the cancellation, and a cancellation needs more)."""
FAILING_ORDER_GAS_PER_VENUE = 250_000
"""Each further venue of such an order: an order that opens new positions at two venues and is refused by the health
check after both fills burns about 530,000 (`test_an_order_that_fails_after_its_fills_does_not_stop_the_batch`)."""
CHILD_STATUSES = ("none", "open", "filled", "rejected", "expired", "cancelled")


@dataclass(frozen=True)
class OrderView:
    order_id: int
    account: ChecksumAddress
    market: str
    size: Decimal  # signed, base units
    limit_price: Decimal
    deadline: int
    reduce_only: bool
    status: str
    # An open order its account's `cancelAllOrders` voided: it can no longer execute, and stays "open" on chain until
    # someone cancels it.
    voided: bool = False


@dataclass(frozen=True)
class ChildOrderView:
    """One venue's part of a routed order (order protocol v2), in human units."""

    child_id: int
    order_id: int
    account: ChecksumAddress
    market: str
    venue_id: int
    size: Decimal  # signed with the parent order's direction, base units
    filled: Decimal  # absolute, base units; late fills (booked to the backstop) included
    limit_price: Decimal
    deadline: int
    reservation: int  # initial margin reserved at commit, base-token units (the account's live total: `reservation`)
    status: str


@dataclass(frozen=True)
class ChildSpec:
    """The executor's instruction for one child at commit: absolute size, a limit at least as good as the order's,
    and a deadline after now and at most the order's."""

    venue_id: int
    size: Decimal
    limit_price: Decimal
    deadline: int


@dataclass(frozen=True)
class FillReport:
    """One venue fill of a child, as reported on chain. `venue_fill_id` is 32 bytes derived from the venue's own
    fill id: the contract books each id once, ever."""

    child_id: int
    venue_fill_id: bytes
    price: Decimal
    size: Decimal  # absolute, base units
    fee: int  # base-token units the venue charged


@dataclass(frozen=True)
class BackstopView:
    """The protocol's backstop book in one (market, venue): positions taken from liquidated accounts."""

    market_id: int
    venue_id: int
    market: str
    venue: str
    size: Decimal  # signed, base units
    entry_price: Decimal


@dataclass(frozen=True)
class PositionView:
    market: str
    venue: str
    size: Decimal
    entry_price: Decimal
    funding_index: int  # USD WAD: the venue's funding index when the position was last booked


@dataclass(frozen=True)
class PositionValue:
    """A position valued as the vault values it now, with `PerpMathLib`'s roundings, in USD: None where the oracle's
    mark is not usable (stale or invalid) or the venue cannot report its funding index."""

    position: PositionView
    mark: Decimal | None
    pnl: Decimal | None  # at the mark, rounded down
    funding: Decimal | None  # owed since the last booking (negative: received), what the account owes rounded up


@dataclass(frozen=True)
class PerpMarket:
    """One of the module's perp markets, as `markets()` lists them (in market-id order)."""

    feed: ChecksumAddress
    max_staleness: int
    feed_decimals: int
    initial_margin_bps: int
    maintenance_margin_bps: int
    ticker: str


@dataclass(frozen=True)
class BookEntry:
    """A position as the module books it (an account's or the backstop's), WAD units."""

    size: int
    entry_price: int
    funding_index: int


@dataclass(frozen=True)
class BackstopUnwind:
    """One `unwindBackstop` call: close `size` (absolute, base units) of the backstop at a venue within `limit`."""

    market_id: int
    venue_id: int
    size: Decimal
    limit_price: Decimal


@dataclass(frozen=True)
class ExecutionOutcome:
    order_id: int
    split: tuple[tuple[str, Decimal], ...]
    executed: bool
    average_price: Decimal | None
    fees: Decimal | None
    reason: DecodedError | None


class TradingClient(AccessControlledClient):
    def __init__(self, w3: Web3, deployment: Deployment, sender: Sender | None = None) -> None:
        if deployment.trading is None:
            raise ConfigError("this deployment has no trading module: redeploy with `primevault devnet` or `deploy`")
        super().__init__(w3, deployment.trading, "TradingModule", sender)
        self.deployment = deployment

    @cached_property
    def _venue_names(self) -> list[str]:
        """Venue names in the module's venue-id order (read once: venues are only ever added at deployment)."""
        by_adapter = {v.adapter: v.name for v in self.deployment.venues}
        return [by_adapter.get(a, a) for a in self.adapter_addresses()]

    def adapter_addresses(self, block: BlockIdentifier = "latest") -> list[ChecksumAddress]:
        """The module's venue adapters, in venue-id order."""
        return [Web3.to_checksum_address(a) for a in self.contract.functions.venues().call(block_identifier=block)]

    def adapters(self) -> list[AdapterClient]:
        """A client per venue adapter, in venue-id order, each with its own venue's ABI."""
        by_adapter = {v.adapter: v for v in self.deployment.venues if v.adapter}
        clients = []
        for address in self.adapter_addresses():
            if address not in by_adapter:
                raise ConfigError(f"the trading module's adapter {address} is not in the deployment file")
            info = by_adapter[address]
            kind = SeatAdapterClient if info.fills_off_chain else AdapterClient
            clients.append(kind(self.w3, info, self.sender))
        return clients

    def exposure(self, venue_id: int, adapter: AdapterClient) -> VenueExposure:
        """The vault's exposure to venue `venue_id` (`adapter`, one of `adapters()`), with the margin posted there."""
        return dataclasses.replace(
            adapter.exposure(len(self.deployment.markets)),
            margin_posted=int(self.contract.functions.venueMarginSent(venue_id).call()),
        )

    def seat_adapter(self, venue_id: int) -> SeatAdapterClient:
        """The adapter of the seat at venue `venue_id` (a venue that fills off chain)."""
        adapter = self.adapters()[venue_id]
        if not isinstance(adapter, SeatAdapterClient):
            raise ConfigError(f"venue {adapter.name!r} fills on chain: it has no seat at an exchange")
        return adapter

    def venue_id(self, name: str) -> int:
        """The module's id of the venue the deployment names `name`."""
        if name not in self._venue_names:
            raise ConfigError(f"no venue {name!r} in this deployment (its venues: {', '.join(self._venue_names)})")
        return self._venue_names.index(name)

    def venue_name(self, venue_id: int) -> str:
        """The deployment's name of the module's venue `venue_id`."""
        return self._venue_names[venue_id]

    def market_id(self, ticker: str) -> int:
        wanted = self.deployment.market(ticker).ticker
        return [m.ticker for m in self.deployment.markets].index(wanted)

    def venues(self) -> list[Venue]:
        """Readers of the venues that fill on chain, in the module's venue-id order (ids 0..n-1: seats at off-chain
        exchanges come after them, see `Deployment`)."""
        readers = {v.name: v for v in load_venues(self.w3, self.deployment)}
        return [readers[name] for name in self._venue_names if name in readers]

    # ------------------------------------------------------------------ reads

    def order(self, order_id: int) -> OrderView:
        count = self.order_count()
        if not 0 <= order_id < count:
            ids = f"ids run from 0 to {count - 1}" if count else "no order has been submitted yet"
            raise InputError(f"no order {order_id}: {ids}")
        return self._order_view(order_id)

    def order_count(self) -> int:
        return int(self.contract.functions.orderCount().call())

    def orders(self, account: str | None = None, open_only: bool = False) -> list[OrderView]:
        views = [self._order_view(i) for i in range(self.order_count())]
        return [
            v
            for v in views
            if (account is None or v.account == Web3.to_checksum_address(account))
            and (not open_only or v.status == "open")
        ]

    def cancel_reasons(self) -> dict[int, DecodedError]:
        """Why each cancelled order was cancelled: the custom error its `OrderCancelled` event carries, by order
        id. Reads the module's events from the first block (a real chain's RPC may limit the range)."""
        events = self.contract.events.OrderCancelled().get_logs(from_block=0)
        return {int(e["args"]["orderId"]): self.decoder.decode(bytes(e["args"]["reason"])) for e in events}

    def positions(self, account: str) -> list[PositionView]:
        return [self._position_view(slot, entry) for slot, entry in self.book_entries(account)]

    def position_values(self, account: str) -> list[PositionValue]:
        """`positions(account)`, each valued at the lens's marks and funding indexes, read at one block."""
        state = LensClient(self.w3, self.deployment.lens, self.deployment.vault).risk_state()
        values = []
        for slot, entry in self.book_entries(account, state.block):
            market_id = slot // MAX_VENUES
            mark = state.marks[market_id] if state.marks_usable[market_id] else None
            # A slot the lens does not report (a venue past the ones it lists) has no known funding either.
            now = state.funding_indexes[slot] if slot < len(state.funding_indexes) else FUNDING_UNREADABLE
            values.append(
                PositionValue(
                    self._position_view(slot, entry),
                    None if mark is None else Decimal(mark) / WAD,
                    None if mark is None else Decimal(position_pnl(entry.size, entry.entry_price, mark)) / WAD,
                    None
                    if now == FUNDING_UNREADABLE
                    else Decimal(funding_owed(entry.size, entry.funding_index, now)) / WAD,
                )
            )
        return values

    def _position_view(self, slot: int, entry: BookEntry) -> PositionView:
        market_id, venue_id = divmod(slot, MAX_VENUES)
        return PositionView(
            self.deployment.markets[market_id].ticker,
            self._venue_names[venue_id],
            Decimal(entry.size) / WAD,
            Decimal(entry.entry_price) / WAD,
            entry.funding_index,
        )

    def book_entries(self, account: str, block: BlockIdentifier = "latest") -> list[tuple[int, BookEntry]]:
        """The account's open positions as the module books them, with their slots (market x MAX_VENUES + venue)."""
        entries = []
        for market_id in range(len(self.deployment.markets)):
            for venue_id in range(len(self._venue_names)):
                fn = self.contract.functions.position(account, market_id, venue_id)
                entry = struct(BookEntry, fn, fn.call(block_identifier=block))
                if entry.size:
                    entries.append((market_id * MAX_VENUES + venue_id, entry))
        return entries

    def markets(self, block: BlockIdentifier = "latest") -> list[PerpMarket]:
        fn = self.contract.functions.markets()
        return [struct(PerpMarket, fn, raw) for raw in fn.call(block_identifier=block)]

    def net_position(self, market_id: int, venue_id: int, block: BlockIdentifier = "latest") -> int:
        """The vault's netted position at a venue as the module books it at `block`, WAD base units."""
        return int(self.contract.functions.netPosition(market_id, venue_id).call(block_identifier=block))

    # ------------------------------------------------------------------ writes

    def submit(
        self, account: str, ticker: str, size: Decimal, limit_price: Decimal, deadline: int, reduce_only: bool = False
    ) -> int:
        """Submits an order (size signed, base units; limit in USD) and returns its id."""
        fn = self.contract.functions.submitOrder(
            Web3.to_checksum_address(account),
            self.market_id(ticker),
            _to_wad(size),
            _to_wad(limit_price),
            deadline,
            reduce_only,
        )
        receipt = self.send("submit order", fn)
        events = self.contract.events.OrderSubmitted().process_receipt(receipt, errors=DISCARD)
        return int(events[0]["args"]["orderId"])

    def cancel(self, order_id: int) -> None:
        self.send("cancel order", self.contract.functions.cancelOrder(order_id))

    # ------------------------------------------------------------------ asynchronous venues (order protocol v2)

    def child_order_count(self) -> int:
        return int(self.contract.functions.childOrderCount().call())

    def child_order(self, child_id: int) -> ChildOrderView:
        fn = self.contract.functions.childOrder(child_id)
        raw = struct(_StoredChild, fn, fn.call())
        parent = self._order_view(raw.order_id)
        direction = 1 if parent.size > 0 else -1
        return ChildOrderView(
            child_id,
            raw.order_id,
            parent.account,
            parent.market,
            raw.venue,
            direction * Decimal(raw.size) / WAD,
            Decimal(raw.filled) / WAD,
            Decimal(raw.limit_price) / WAD,
            int(raw.deadline),
            int(raw.reservation),
            CHILD_STATUSES[raw.status],
        )

    def child_orders(self, start: int = 0, venue_id: int | None = None) -> list[ChildOrderView]:
        """Child orders from id `start` on, optionally only those at `venue_id`."""
        children = [self.child_order(i) for i in range(start, self.child_order_count())]
        return [c for c in children if venue_id is None or c.venue_id == venue_id]

    def commit_split(self, order_id: int, children: Sequence[ChildSpec]) -> int:
        """Routes open order `order_id` as `children` (one per venue) and returns the first child's id."""
        specs = [(c.venue_id, _to_wad(c.size), _to_wad(c.limit_price), c.deadline) for c in children]
        self.send("commit split", self.contract.functions.commitSplit(order_id, specs))
        return self.child_order_count() - len(children)

    def cancel_unroutable(self, order_ids: Sequence[int]) -> list[ExecutionOutcome]:
        """Closes open orders the executor will not route, in one transaction: `executeOrders` with no venue for
        each, which the contract cancels with the first check the order fails (its deadline, its authority; else
        `InvalidSplit`). Nothing is traded."""
        executions: list[tuple[int, list[int], list[int]]] = [(order_id, [], []) for order_id in order_ids]
        receipt = self.send("cancel unroutable orders", self.contract.functions.executeOrders(executions))
        return self._outcomes(receipt, {order_id: () for order_id in order_ids})

    def report_fills(self, fills: Sequence[FillReport]) -> TxReceipt:
        """Books venue fills on chain in one transaction; a fill id booked before is skipped, not refused."""
        reports = [(f.child_id, f.venue_fill_id, _to_wad(f.price), _to_wad(f.size), f.fee) for f in fills]
        return self.send("report fills", self.contract.functions.reportFills(reports))

    def commit_backstop_unwind(
        self, market_id: int, venue_id: int, size: Decimal, limit_price: Decimal, deadline: int
    ) -> int:
        """Commits a child that closes `size` (absolute) of the backstop book at venue `venue_id`, a venue that fills
        off chain; its fills, reported as any child's, book to the backstop. Returns the child's id."""
        fn = self.contract.functions.commitBackstopUnwind(
            market_id, venue_id, _to_wad(size), _to_wad(limit_price), deadline
        )
        receipt = self.send("commit backstop unwind", fn)
        (event,) = self.contract.events.BackstopUnwindCommitted().process_receipt(receipt, errors=DISCARD)
        return int(event["args"]["childId"])

    def reject_child(self, child_id: int, reason: bytes) -> TxReceipt:
        return self.send("reject child", self.contract.functions.rejectChild(child_id, reason))

    def expire_child(self, child_id: int) -> TxReceipt:
        return self.send("expire child", self.contract.functions.expireChild(child_id))

    def reservation(self, account: str, block: BlockIdentifier = "latest") -> tuple[int, int]:
        """The initial margin `account`'s open children reserve (base-token units) and how many are open."""
        fn = self.contract.functions.reservation(Web3.to_checksum_address(account))
        reserved, open_children, _epoch = fn.call(block_identifier=block)
        return int(reserved), int(open_children)

    def fill_id_used(self, venue_fill_id: bytes) -> bool:
        return bool(self.contract.functions.fillIdUsed(venue_fill_id).call())

    def fill_ids_used(self, venue_fill_ids: Sequence[bytes], block: BlockIdentifier = "latest") -> list[bool]:
        """`fill_id_used` of each id at `block`, in one JSON-RPC batch request (a batch of fills is read in one round
        trip)."""
        if not venue_fill_ids:
            return []
        with self.w3.batch_requests() as batch:
            for venue_fill_id in venue_fill_ids:
                batch.add(self.contract.functions.fillIdUsed(venue_fill_id).call(block_identifier=block))
            return [bool(used) for used in batch.execute()]

    def execute(
        self,
        order_ids: Sequence[int],
        horizon_seconds: float = 0.0,
        skip_closed: bool = False,
        at_venue: int | None = None,
    ) -> list[ExecutionOutcome]:
        """Routes each order across the venues (cost-minimising split) and executes them in one batch. An order
        that is no longer open is an error, or left out with `skip_closed` (the keeper's batches: its owner may
        have cancelled it since it was listed). An order the router cannot split is still sent whole to the
        first venue, for the contract to execute or cancel with its reason; the rest of the batch executes.
        `at_venue`: send every order whole to that venue instead of routing it (a book placed leg by leg)."""
        venues = self.venues()
        executions: list[tuple[int, list[int], list[int]]] = []
        splits: dict[int, tuple[tuple[str, Decimal], ...]] = {}
        # What the batch's earlier orders do to each (account, market) per venue: a later order of the same account
        # is split over the positions it will meet (a reduce-only close after the order that opened its position).
        batch_moves: dict[tuple[str, str], dict[str, Decimal]] = {}
        for order_id in order_ids:
            o = self.order(order_id)
            if o.status != "open":
                if skip_closed:
                    continue
                raise InputError(f"order {order_id} is {o.status}, not open")
            moves = batch_moves.setdefault((o.account, o.market), {})
            try:
                parts = (
                    [(at_venue, abs(o.size))]
                    if at_venue is not None
                    else self._split(o, venues, horizon_seconds, moves)
                )
                wads = [_to_wad(part) for _, part in parts]
            except (PrimeVaultError, ContractLogicError, Web3RPCError, ArithmeticError, ValueError) as exc:
                log.warning("order %d could not be routed (%s): sent whole to venue 0 for the contract", order_id, exc)
                parts, wads = [(0, abs(o.size))], [_to_wad(abs(o.size))]
            executions.append((order_id, [i for i, _ in parts], wads))
            splits[order_id] = tuple((self._venue_names[i], part) for i, part in parts)
            for venue_id, part in parts:
                name = self._venue_names[venue_id]
                moves[name] = moves.get(name, Decimal(0)) + (part if o.size > 0 else -part)
        if not executions:
            return []
        fn = self.contract.functions.executeOrders(executions)
        receipt = self.send("execute orders", fn, gas=self._execution_gas(executions))
        return self._outcomes(receipt, splits)

    def _execution_gas(self, executions: Sequence[tuple[int, list[int], list[int]]]) -> int:
        """The gas `executeOrders` needs for every order in it to run. Each order runs in a call the module makes to
        itself inside a try/catch, which passes on at most 63/64 of the gas left (EIP-150); an estimate of the whole
        batch can therefore settle on a limit at which an order runs out of gas, is caught and cancelled, and the
        batch still succeeds. So each order is estimated alone, called from the module itself (the only caller
        `executeOrder` accepts), and the batch is given the sum."""
        total = BATCH_BASE_GAS
        for execution in executions:
            data = self.contract.encode_abi("executeOrder", args=[execution])
            call: TxParams = {"from": self.contract.address, "to": self.contract.address, "data": data}
            try:
                alone = self.w3.eth.estimate_gas(call)
            except (ContractLogicError, Web3RPCError):
                alone = FAILING_ORDER_GAS + FAILING_ORDER_GAS_PER_VENUE * (len(execution[1]) - 1)
            total += alone * 64 // 63 + PER_ORDER_GAS
        return total

    # ------------------------------------------------------------------ helpers

    def _split(
        self, o: OrderView, venues: Sequence[Venue], horizon_seconds: float, moves: dict[str, Decimal]
    ) -> list[tuple[int, Decimal]]:
        """The order's parts per venue id. Margin is charged per (market, venue), so the part of an order that
        reduces a position goes to the venues that hold it (largest first), counting `moves`, what earlier orders
        of the batch trade there; only what is left opens new exposure and is routed by cost. A reduce-only order
        larger than the position, or a size no venue can take, is still sent: the contract cancels it with a
        named reason the owner can read, and the rest of the batch executes."""
        held = dict(moves)
        for p in self.positions(o.account):
            if p.market == o.market:
                held[p.venue] = held.get(p.venue, Decimal(0)) + p.size
        remaining = abs(o.size)
        parts: dict[int, Decimal] = {}
        for venue_id, name in sorted(enumerate(self._venue_names), key=lambda v: -abs(held.get(v[1], Decimal(0)))):
            size = held.get(name, Decimal(0))
            if remaining == 0 or size == 0 or (size > 0) == (o.size > 0):
                continue
            parts[venue_id] = min(remaining, abs(size))
            remaining -= parts[venue_id]
        if remaining and o.reduce_only:
            # Beyond the position: sent to the venue that holds none, where the contract refuses it.
            spare = next((i for i in range(len(self._venue_names)) if i not in parts), 0)
            parts[spare] = parts.get(spare, Decimal(0)) + remaining
        elif remaining:
            side = 1 if o.size > 0 else -1
            priced: list[tuple[int, VenueCostModel]] = []
            for venue_id, venue in enumerate(venues):
                try:
                    priced.append((venue_id, priced_cost_model(venue, o.market, side)))
                except VENUE_FAILURES as exc:  # a venue that cannot price now takes no part of the split
                    if node_failure(exc):
                        raise
                    log.info(
                        "order %d: %s cannot price %s now (%s)", o.order_id, venue.name, o.market, failure_reason(exc)
                    )
            try:
                if not priced:
                    raise NoVenueCanPrice(f"no venue can price {o.market} now")
                split = route(remaining, side, [model for _, model in priced], horizon_seconds)
                routed = [(priced[i][0], part) for i, part in enumerate(split.sizes) if part]
            except (InputError, NoVenueCanPrice) as exc:
                log.warning("order %d could not be routed (%s): sent to venue 0 for the contract", o.order_id, exc)
                routed = [(0, remaining)]
            for venue_id, part in routed:
                parts[venue_id] = parts.get(venue_id, Decimal(0)) + part
        return sorted(parts.items())

    def backstop(self) -> list[BackstopView]:
        """Every nonzero slot of the backstop book."""
        books = []
        for market_id, market in enumerate(self.deployment.markets):
            for venue_id, venue in enumerate(self._venue_names):
                entry = self._backstop_entry(market_id, venue_id)
                if entry.size:
                    size, price = Decimal(entry.size) / WAD, Decimal(entry.entry_price) / WAD
                    books.append(BackstopView(market_id, venue_id, market.ticker, venue, size, price))
        return books

    def venue_exposures(self, venue_id: int, legs: Mapping[int, int] | None) -> list[int]:
        """Per market, the size a venue must be margined for (`keeper.risk.margin.slot_exposure`), WAD base units:
        the netted position, or with the clients' gross `legs` per slot (from a scan) the legs plus the backstop."""
        exposures = []
        for market_id in range(len(self.deployment.markets)):
            net = self.net_position(market_id, venue_id)
            slot = market_id * MAX_VENUES + venue_id
            book = self.backstop_position(market_id, venue_id) if legs is not None else 0
            exposures.append(slot_exposure(net, legs.get(slot, 0) if legs is not None else None, book))
        return exposures

    def backstop_position(self, market_id: int, venue_id: int) -> int:
        """The backstop book's signed position in one (market, venue), WAD base units."""
        return int(self._backstop_entry(market_id, venue_id).size)

    def _backstop_entry(self, market_id: int, venue_id: int) -> BookEntry:
        fn = self.contract.functions.backstopPosition(market_id, venue_id)
        return struct(BookEntry, fn, fn.call())

    def unwind_backstop(self, unwinds: Sequence[BackstopUnwind]) -> list[TxReceipt | TransactionReverted]:
        """Sends every unwind before waiting for any (to share a block); each one's receipt or decoded revert."""
        fns = [
            self.contract.functions.unwindBackstop(u.market_id, u.venue_id, _to_wad(u.size), _to_wad(u.limit_price))
            for u in unwinds
        ]
        return self.send_all("unwind backstop", fns)

    def deposit_margin(self, venue_id: int, amount: int) -> TxReceipt:
        """Moves `amount` (base units) of the vault's base token to a venue as margin (executor)."""
        return self.send("deposit margin", self.contract.functions.depositMargin(venue_id, amount))

    def request_margin_withdrawal(self, venue_id: int, amount: int) -> TxReceipt:
        """Asks a venue to send margin back (instant or after the venue's delay, see `claim_margin_withdrawals`)."""
        return self.send("withdraw margin", self.contract.functions.requestMarginWithdrawal(venue_id, amount))

    def claim_margin_withdrawals(self, venue_id: int) -> TxReceipt:
        return self.send("claim margin", self.contract.functions.claimMarginWithdrawals(venue_id))

    # ------------------------------------------------------------------ governance (the admin's key)

    def add_venue(self, name: str, adapter: str) -> TxReceipt:
        return self.send(f"add {name}", self.contract.functions.addVenue(Web3.to_checksum_address(adapter)))

    def add_market(
        self, ticker: str, feed: str, max_staleness: int, initial_margin_bps: int, maintenance_margin_bps: int
    ) -> TxReceipt:
        """Lists a perp market (the module reads its feed's decimals itself)."""
        fn = self.contract.functions.addMarket(
            ticker, Web3.to_checksum_address(feed), max_staleness, initial_margin_bps, maintenance_margin_bps
        )
        return self.send(f"list {ticker}", fn)

    def _outcomes(
        self, receipt: TxReceipt, splits: dict[int, tuple[tuple[str, Decimal], ...]]
    ) -> list[ExecutionOutcome]:
        executed = {
            int(e["args"]["orderId"]): e["args"]
            for e in self.contract.events.OrderExecuted().process_receipt(receipt, errors=DISCARD)
        }
        cancelled = {
            int(e["args"]["orderId"]): e["args"]["reason"]
            for e in self.contract.events.OrderCancelled().process_receipt(receipt, errors=DISCARD)
        }
        outcomes = []
        for order_id, split in splits.items():
            if order_id in executed:
                args = executed[order_id]
                outcomes.append(
                    ExecutionOutcome(
                        order_id,
                        split,
                        True,
                        Decimal(args["averagePrice"]) / WAD,
                        Decimal(args["fees"]).scaleb(-self.deployment.base.decimals),
                        None,
                    )
                )
            else:
                reason = self.decoder.decode(bytes(cancelled.get(order_id, b"")))
                outcomes.append(ExecutionOutcome(order_id, split, False, None, None, reason))
        return outcomes

    def _order_view(self, order_id: int) -> OrderView:
        fn = self.contract.functions.order(order_id)
        raw = struct(_StoredOrder, fn, fn.call())
        status = STATUSES[raw.status]
        voided = status == "open" and raw.epoch != self.contract.functions.orderEpoch(raw.account).call()
        return OrderView(
            order_id,
            Web3.to_checksum_address(raw.account),
            self.deployment.markets[raw.market].ticker,
            Decimal(raw.size) / WAD,
            Decimal(raw.limit_price) / WAD,
            int(raw.deadline),
            bool(raw.reduce_only),
            status,
            voided,
        )


@dataclass(frozen=True)
class _StoredChild:
    """The module's `ChildOrder` struct."""

    size: int
    filled: int
    order_id: int
    venue: int
    status: int
    limit_price: int
    reservation: int
    deadline: int


@dataclass(frozen=True)
class _StoredOrder:
    """The fields of the module's `Order` struct that an `OrderView` shows."""

    account: str
    market: int
    reduce_only: bool
    status: int
    deadline: int
    size: int
    limit_price: int
    epoch: int


def _to_wad(value: Decimal) -> int:
    scaled = value * WAD
    if scaled != scaled.to_integral_value():
        raise InputError(f"{value} has more than 18 decimal places")
    return int(scaled)

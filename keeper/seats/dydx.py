"""The seat's venue side at dYdX v4 (`DydxVenue`), and `DydxSeat`, the seat wired to it.

Orders are short-term IOC orders through the official client (`keeper.connectors.dydx`), living `good_til_blocks`
past the latest block, with the child's id as their client id, so that a restart finds an order placed before it
from the indexer instead of placing it twice (the seat's subaccount is the seat's alone). An order whose broadcast got
no answer may still be on chain until its goodTilBlock: its child stays open, the order is not sent again before the
indexer is past that block, and it is then found there, or known never to have filled. Fills are read from the
indexer as it processes blocks and passed on once per process; after a restart every fill comes out again and the
contract's used ids skip it. Custody (see the connector's README): the subaccount belongs to the owner's mnemonic; a
keeper given only a trading key (a dYdX authenticator that places and cancels orders) trades but cannot move margin,
so its seat leaves margin at the venue and says so once (a deposit then waits on Noble for the owner's key).

Margin takes dYdX's real route, through Noble, one key at both ends (the owner's ``dydx1...`` address and its
``noble1...`` twin, the same 20 bytes, which the seat adapter burns towards):
- in: the adapter's CCTP burn mints on Noble; the seat sends it by IBC to the owner's dYdX bank balance and from
  there into the subaccount (MsgDepositToSubaccount);
- out: MsgWithdrawFromSubaccount to the owner's bank balance, IBC to its Noble address (under dYdX's hourly rate
  limit), and Noble's MsgDepositForBurn towards the seat adapter, whose message Circle attests; the seat submits it
  (`receiveMessage`) and the margin is collected into the vault.
Each leg is one transaction the seat takes again from what it finds (`DydxVenue.move_funds`, every margin check):
USDC left on Noble or in the bank by a restart, a rate limit or a node away moves on at the next. What goes out is
what withdrawals owe the vault, read from the seat adapter's pending withdrawals and the local bridge's payments of
Noble's recent burns (`DydxVenue.owed`), not from the chains' transaction history. Until the subaccount credits a
deposit the contract counts it in flight, and a withdrawal pending until it is collected.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from decimal import Decimal

from dydx_v4_client import MAX_CLIENT_ID

from keeper.client.bridge import CctpBridgeClient, CctpMessage
from keeper.client.tokens import TokenClient
from keeper.client.trading import TradingClient
from keeper.connectors.dydx import (
    DydxConnectionError,
    DydxConnector,
    DydxError,
    DydxOrderUnknownError,
    DydxTxRejectedError,
    Fill,
    OrderRequest,
    PlacedOrder,
    Side,
    TimeInForce,
)
from keeper.connectors.dydx.cctp import NOBLE_DOMAIN, CctpAttestations
from keeper.connectors.dydx.models import IndexedOrder, indexer_order_id
from keeper.connectors.dydx.noble import NobleBurn
from keeper.connectors.dydx.orders import SHORT_TERM
from keeper.risk.margin import MarginPolicy
from keeper.seats.seat import (
    BookSide,
    FundingPeriod,
    Seat,
    SeatAccount,
    SeatBalance,
    SeatFill,
    SeatOrder,
    SeatOrderRefusedError,
    SeatOrderRequest,
    SeatOrderUnknownError,
    SeatPosition,
)

log = logging.getLogger("primevault.keeper")

FUNDING_PERIOD_SECONDS = 3600  # dYdX pays funding hourly


class AttestationRouteAwayError(DydxConnectionError):
    """Circle's attestation route does not answer for a burn not known paid: what withdrawals owe is unknown, and the
    legs wait (said once when the route goes away, once when it is back)."""


def _log_wait(what: str, exc: DydxError) -> None:
    """Logs a leg waiting on `exc`: a warning, unless the attestation route is away (said once already)."""
    level = logging.DEBUG if isinstance(exc, AttestationRouteAwayError) else logging.WARNING
    log.log(level, what, exc)


class DydxVenue:
    name = "dydx"
    funding_period_seconds = FUNDING_PERIOD_SECONDS

    def __init__(
        self,
        connector: DydxConnector,
        bridge: CctpBridgeClient,
        attestations: CctpAttestations,
        seat_adapter: str,
        *,
        pending_withdrawals: Callable[[], int],
        adapter_usdc: Callable[[], int],
        base_decimals: int = 6,
    ) -> None:
        """`seat_adapter` is the seat adapter's address: Noble's burns of withdrawals pay it on Ethereum.
        `pending_withdrawals` reads what the adapter holds pending (requested, not yet collected) and `adapter_usdc`
        the USDC the bridge paid it and the vault has not collected yet, both in base units of `base_decimals`
        (blocking calls: they run on a worker thread)."""
        self.connector = connector
        self.bridge = bridge
        self.attestations = attestations
        self.seat_adapter = seat_adapter
        self.pending_withdrawals = pending_withdrawals
        self.adapter_usdc = adapter_usdc
        self.base_decimals = base_decimals
        self._placed: dict[str, PlacedOrder] = {}  # the indexer's order id -> the order as placed (to cancel it)
        self._children: dict[str, int] = {}  # the indexer's order id -> child id
        self._lost: dict[str, int] = {}  # the indexer's order id -> goodTilBlock, of orders whose answer was lost
        self._fills_from = 0  # the first indexer block whose fills were not passed on yet
        self._paid: set[str] = set()  # burn transactions whose messages the bridge has paid
        self._route_away = False  # Circle's attestation route stopped answering

    def market(self, ticker: str) -> str:
        return ticker

    async def place(self, request: SeatOrderRequest) -> SeatOrder | None:
        if request.child_id > MAX_CLIENT_ID:
            raise SeatOrderRefusedError(f"child {request.child_id} is past dYdX's client ids (0..{MAX_CLIENT_ID})")
        order_id = self._order_id(request.child_id, request.market)
        earlier = await self.connector.order(order_id)  # placed before a restart, or its answer lost
        if earlier is not None:
            self._lost.pop(order_id, None)
            return self._seat_order(request.child_id, earlier)
        lost_until = self._lost.get(order_id)
        if lost_until is not None:
            # The order may still reach a block and fill until its goodTilBlock: sent again before the indexer is past
            # it, it could fill twice. Past it, an order the indexer never saw made no fill and is over.
            if await self.connector.indexer_height() < lost_until:
                raise SeatOrderUnknownError(
                    f"its order's answer was lost; unknown until dYdX is past block {lost_until}"
                )
            del self._lost[order_id]
        order_request = OrderRequest(
            request.market,
            Side.BUY if request.size > 0 else Side.SELL,
            abs(request.size),
            request.limit,
            reduce_only=request.reduce_only,
            time_in_force=TimeInForce.IOC,
            client_id=request.child_id,
        )
        try:
            placed = await self.connector.place_order(order_request)
        except DydxOrderUnknownError as exc:
            self._lost[order_id] = exc.good_til_block
            raise SeatOrderUnknownError(f"dydx's answer to its order was lost ({exc})") from None
        except DydxConnectionError as exc:  # before the broadcast: nothing was sent, the next cycle tries again
            raise SeatOrderUnknownError(f"dydx could not be reached ({exc})") from None
        except DydxError as exc:
            raise SeatOrderRefusedError(str(exc)) from None
        self._placed[order_id] = placed
        self._children[order_id] = request.child_id
        return SeatOrder(request.child_id, request.market, order_id, False, Decimal(0))

    async def find(self, child_id: int, market: str) -> SeatOrder | None:
        """The child's order as the indexer has it; None once the indexer is past the goodTilBlock of an order whose
        answer was lost and has not seen it (it made no fill)."""
        if child_id > MAX_CLIENT_ID:
            return None
        order_id = self._order_id(child_id, market)
        indexed = await self.connector.order(order_id)
        if indexed is not None:
            return self._seat_order(child_id, indexed)
        lost_until = self._lost.get(order_id)
        if lost_until is not None and await self.connector.indexer_height() < lost_until:
            raise SeatOrderUnknownError(f"its order's answer was lost; unknown until dYdX is past block {lost_until}")
        return None

    def _order_id(self, child_id: int, market: str) -> str:
        """The indexer's id of child `child_id`'s short-term order on `market` (its client id is the child's id)."""
        return indexer_order_id(
            self.connector.address,
            self.connector.subaccount_number,
            child_id,
            self.connector.market(market).clob_pair_id,
            SHORT_TERM,
        )

    async def order_status(self, order: SeatOrder) -> SeatOrder:
        """The order as the indexer has it. An IOC order no maker crossed may never reach the indexer: it is done once
        the indexer is past its goodTilBlock."""
        indexed = await self.connector.order(order.order_id)
        if indexed is not None:
            return self._seat_order(order.child_id, indexed)
        placed = self._placed.get(order.order_id)
        if placed is not None and await self.connector.indexer_height() >= placed.good_til_block:
            return SeatOrder(order.child_id, order.market, order.order_id, True, Decimal(0))
        return order

    async def cancel(self, order: SeatOrder) -> None:
        """Cancels the order if this process placed it (one placed before a restart lives 20 blocks at most)."""
        placed = self._placed.get(order.order_id)
        if placed is not None:
            await self.connector.cancel_order(placed)

    async def forward_fills(self, report: Callable[[list[SeatFill]], Awaitable[None]]) -> None:
        """Polls the indexer every `poll_interval`: each block's fills are passed on once the indexer has processed
        it, so none of a block is missed by reading it before the indexer has all of it. The fills of one poll go
        to `report` together."""
        while True:
            indexed = await self.connector.indexer_height()
            fills = await self.connector.fills(since_height=self._fills_from)
            batch = [await self.seat_fill(fill) for fill in fills if fill.created_at_height <= indexed]
            if batch:
                await report(batch)
            self._fills_from = indexed + 1
            await asyncio.sleep(self.connector.settings.poll_interval)

    async def seat_fill(self, fill: Fill) -> SeatFill:
        child_id = await self._child_of(fill)
        return SeatFill(
            f"{self.name}:{fill.fill_id}", child_id, fill.price, fill.size, fill.fee, fill.ticker, fill.side.sign
        )

    async def _child_of(self, fill: Fill) -> int | None:
        """The child whose order made the fill: its client id, read from the indexer for an order placed before a
        restart. None for a fill of no order (a liquidation, a deleveraging)."""
        if not fill.order_id:
            return None
        if fill.order_id not in self._children:
            indexed = await self.connector.order(fill.order_id)
            if indexed is None:
                return None
            self._children[fill.order_id] = indexed.client_id
        return self._children[fill.order_id]

    async def positions(self) -> list[SeatPosition]:
        account = await self.connector.subaccount()
        await self.connector.refresh_markets()  # the oracle prices the positions are valued at
        return [
            SeatPosition(p.ticker, p.size, abs(p.size) * (self.connector.market(p.ticker).oracle_price or Decimal(0)))
            for p in account.positions
        ]

    async def balance(self) -> SeatBalance:
        """Equity and free collateral from the indexer; the initial margin is their difference, and what dYdX lets
        leave is the free collateral. Credited deposits are the subaccount's deposits (the bridge's credits)."""
        account = await self.connector.subaccount()
        deposits = [t.size for t in await self.connector.transfers() if t.kind == "DEPOSIT"]
        return SeatBalance(
            equity=account.equity,
            initial_margin=account.equity - account.free_collateral,
            withdrawable=max(account.free_collateral, Decimal(0)),
            credited_deposits=sum(deposits, Decimal(0)),
        )

    async def funding(self, market: str) -> list[FundingPeriod]:
        rates = await self.connector.funding_rates(market)
        return [FundingPeriod(_micros(r.effective_at), r.rate) for r in reversed(rates)]

    async def order_book(self, market: str) -> tuple[BookSide, BookSide]:
        book = await self.connector.order_book(market)
        return tuple((x.price, x.size) for x in book.bids), tuple((x.price, x.size) for x in book.asks)

    async def withdraw(self, amount: Decimal) -> None:
        """Withdraws from the subaccount to the owner's dYdX bank balance (dYdX refuses it while withdrawals are
        gated) and returns once the withdrawal succeeded in its block (DydxError if it failed there, or its outcome
        is unknown: nothing is to be recorded on chain then), then moves it on as far as it goes now (`move_funds`,
        counting `amount` owed: the seat records the request on chain only after this returns): a leg that fails
        waits for the next call."""
        await self.connector.withdraw(amount)
        try:
            await self.move_funds(withdrawing=amount)
        except DydxError as exc:
            _log_wait(f"dydx: the withdrawal of {amount} left the subaccount and waits to move on (%s)", exc)

    async def owed(self) -> Decimal:
        """What withdrawals still owe the vault and is not yet on its way to it: the seat adapter's pending
        withdrawals, less the USDC the bridge paid it (not collected yet), less Noble's recent burns towards it
        whose CCTP message the bridge has not paid yet. Read from the contract and the local bridge, not from two
        chains' transaction history: a node whose index starts later, or a search lagging the bank balance, does
        not change it, and a restart reads the same. Raises DydxConnectionError if the attestation route does not
        answer for a burn not known paid (the legs then wait: neither guess is safe)."""
        pending = Decimal(await asyncio.to_thread(self.pending_withdrawals)).scaleb(-self.base_decimals)
        paid = Decimal(await asyncio.to_thread(self.adapter_usdc)).scaleb(-self.base_decimals)
        unpaid = Decimal(0)
        for burn in await self._burns():
            if burn.tx_hash not in self._paid and not await self._settle(burn, pay=False):
                unpaid += burn.amount
        return max(pending - paid - unpaid, Decimal(0))

    async def move_funds(self, withdrawing: Decimal = Decimal(0)) -> None:
        """Takes every leg of the route one step on from where the USDC is. What withdrawals owe the vault (`owed`,
        plus `withdrawing`: a withdrawal made and not yet recorded on chain) goes out: the bank's share by IBC to
        Noble, and Noble's burned towards the adapter. Everything else on Noble and in the bank, above the fee
        reserve kept on each (`fee_reserve`), is a deposit on its way in: by IBC to dYdX, then into the subaccount.
        USDC is fungible, so a deposit and a withdrawal under way together are netted. The IBC transfer to Noble
        refused by dYdX's rate limit sends nothing out of the bank this time: the other legs go on (Noble's USDC pays
        the withdrawal as far as owed, the rest is deposited). A USDC transfer from dYdX still in flight to Noble is
        not seen (the relayer takes seconds): a deposit in the bank meanwhile may cross to Noble and come back,
        nothing is lost."""
        connector = self.connector
        reserve = connector.settings.fee_reserve
        owed = await self.owed() + withdrawing
        bank = max(await connector.bank_balance() - reserve, Decimal(0))
        noble = max(await connector.noble_balance() - reserve, Decimal(0))
        out_of_bank = min(bank, max(owed - noble, Decimal(0)))
        if out_of_bank > 0:
            try:
                await connector.send_to_noble(out_of_bank)
            except DydxTxRejectedError as exc:  # dYdX's IBC rate limit (or another refusal): the bank's share waits
                log.warning("dydx: %s USDC of withdrawals wait in the bank (%s)", out_of_bank, exc)
                out_of_bank = Decimal(0)
            else:
                log.info("dydx: %s USDC of withdrawals sent from the bank to Noble", out_of_bank)
                bank -= out_of_bank
                noble = max(await connector.noble_balance() - reserve, Decimal(0))
        burn = min(noble, owed)
        if burn > 0:
            tx_hash = await connector.burn_to_ethereum(burn, self.seat_adapter)
            log.info("dydx: %s USDC burned on Noble towards the seat adapter (%s)", burn, tx_hash)
        if noble - burn > 0:
            await connector.noble_to_dydx(noble - burn)
            log.info("dydx: %s USDC of deposits sent from Noble to dYdX", noble - burn)
            bank = max(await connector.bank_balance() - reserve, Decimal(0))
        deposit = bank - max(owed - noble - out_of_bank, Decimal(0))
        if deposit > 0:
            await connector.deposit(deposit)
            log.info("dydx: %s USDC deposited into the subaccount", deposit)

    async def _burns(self) -> list[NobleBurn]:
        """Noble's recent burns towards the seat adapter."""
        adapter = self.seat_adapter.lower()
        return [burn for burn in await self.connector.noble_burns() if burn.recipient.lower() == adapter]

    async def _settle(self, burn: NobleBurn, pay: bool) -> bool:
        """Whether the bridge has paid every message of `burn` (remembered once so); with `pay`, submits to the bridge
        each attested message it has not paid (anyone may). False while Circle has not attested it (nobody can have
        paid it then). AttestationRouteAwayError if the attestation route does not answer."""
        try:
            messages = await self.attestations.messages(NOBLE_DOMAIN, burn.tx_hash)
        except DydxConnectionError as exc:
            # The burn on Noble is done and the amount pending on chain: it waits, counted in the venue's
            # exposure, for the route to answer; said once, not every cycle.
            if not self._route_away:
                self._route_away = True
                log.warning("dydx: the attestation route does not answer (%s): withdrawals wait pending", exc)
            raise AttestationRouteAwayError(f"burn {burn.tx_hash}: {exc}") from None
        if self._route_away:
            self._route_away = False
            log.info("dydx: the attestation route answers again: withdrawals go on")
        if not messages or any(m.attestation is None for m in messages):
            return False
        for attested in messages:
            message = CctpMessage.decode(attested.message)
            if message.recipient != self.seat_adapter:
                log.warning("burn %s: its message pays %s, not the seat", burn.tx_hash, message.recipient)
            elif not await asyncio.to_thread(self.bridge.is_paid, message):
                if not pay:
                    return False
                assert attested.attestation is not None
                await asyncio.to_thread(self.bridge.receive_message, attested.message, attested.attestation)
        self._paid.add(burn.tx_hash)
        return True

    async def pay_withdrawals(self) -> None:
        """Moves the withdrawals on (`move_funds`), then submits to the bridge every attested message of Noble's
        recent burns towards the seat adapter that the bridge has not paid (anyone may); a burn whose attestation is
        pending, or whose route does not answer, waits for the next call."""
        try:
            await self.move_funds()
        except DydxError as exc:
            _log_wait("dydx: withdrawals wait to move on (%s)", exc)
        for burn in await self._burns():
            if burn.tx_hash in self._paid:
                continue
            try:
                await self._settle(burn, pay=True)
            except DydxConnectionError:
                return

    @staticmethod
    def _seat_order(child_id: int, order: IndexedOrder) -> SeatOrder:
        return SeatOrder(child_id, order.ticker, order.order_id, order.done, order.total_filled)


def _micros(iso_time: str) -> int:
    return int(datetime.fromisoformat(iso_time).timestamp() * 10**6)


class DydxSeat(Seat):
    """The seat at dYdX: a `Seat` over a `DydxVenue` on `connector`, with the bridge from the deployment's venue
    `venue_id` and Circle's attestation service at the connector's `attestation_url`."""

    def __init__(
        self,
        trading: TradingClient,
        connector: DydxConnector,
        venue_id: int,
        unwind_ttl: int = 60,
    ) -> None:
        bridge = CctpBridgeClient(trading.w3, trading.deployment.venues[venue_id].address, trading.sender)
        attestations = CctpAttestations(connector.settings.attestation_url, connector.settings.request_timeout)
        adapter = trading.seat_adapter(venue_id)
        base = TokenClient(trading.w3, trading.deployment.base)
        self._dydx = DydxVenue(
            connector,
            bridge,
            attestations,
            adapter.address,
            pending_withdrawals=adapter.pending_withdrawals,
            adapter_usdc=lambda: base.balance_of(adapter.address),
            base_decimals=trading.deployment.base.decimals,
        )
        super().__init__(trading, self._dydx, venue_id, unwind_ttl)
        self.connector = connector
        self._said_no_owner_key = False

    async def manage_margin(
        self, policy: MarginPolicy, legs: Mapping[int, int] | None = None, account: SeatAccount | None = None
    ) -> int:
        """As `Seat.manage_margin`, after taking the route's legs one step on (`DydxVenue.move_funds`): a deposit
        minted on Noble, or USDC a restart left in the bank, moves on now. A leg that fails is logged and waits."""
        if self.connector.can_move_margin:
            try:
                await self._dydx.move_funds()
            except DydxError as exc:
                _log_wait(f"seat at {self.venue.name}: margin waits on its way (%s)", exc)
        return await super().manage_margin(policy, legs, account)

    async def withdraw_margin(self, amount: int) -> int:
        """As `Seat.withdraw_margin`, unless the keeper cannot move margin (it holds only the trading key, or knows no
        Noble node): then nothing is asked of dYdX or recorded on chain, the margin stays at the venue, and the first
        such withdrawal is logged with what is missing. Returns the base units asked for (0 then)."""
        if self.connector.can_move_margin:
            return await super().withdraw_margin(amount)
        if not self._said_no_owner_key and amount > 0:
            self._said_no_owner_key = True
            missing = (
                f"the owner's key (dydx.mnemonic of {self.connector.address}), which the keeper does not hold (it "
                "holds only the dYdX trading key)"
                if not self.connector.can_withdraw
                else "a Noble node (dydx.noble_url), through which margin leaves dYdX"
            )
            log.warning(
                "seat at %s: margin withdrawal of %s not attempted, nor any later one: withdrawing needs %s; the "
                "margin stays at the venue",
                self.venue.name,
                Decimal(amount).scaleb(-self.base_decimals),
                missing,
            )
        return 0

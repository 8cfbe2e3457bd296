"""Following the vault block by block instead of reading every account every block.

After one full load (`read_book`), each new block costs three JSON-RPC calls: the head (`eth_getBlockByNumber`), the
vault's and the trading module's logs since the last block (one `eth_getLogs`; several when blocks were skipped and
the node limits the range of one, see `AccountEventsClient.touches`), and one lens call (`follow`) that brings the
risk state with the accounts those logs touched and any accounts listed since. Every account's health is then
recomputed from memory at the new prices, base balances brought to the vault's present interest indexes.

A full load runs again every `rescan_blocks` blocks as a check on what the logs may have missed, and whenever the
chain reorganised under what was read: the head's parent is not the block last read (or, when blocks were
skipped, that block's hash changed), the head went back, or the node reports a removed log. The block hashes of
the last `keep_hashes` blocks are kept for that check. A full load (which reads no logs) also runs when the logs
since the last block cannot be had in a few requests, when the risk state's shape changed (an asset or a market
listed: the book's columns no longer fit), and after an update that failed, for any reason, part way."""

from __future__ import annotations

import logging
from collections import OrderedDict

import numpy as np
import requests
from eth_typing import ChecksumAddress

from keeper.client.account_events import MAX_LOG_QUERIES, AccountEventsClient, LogsUnavailable
from keeper.client.clients import Clients
from keeper.client.lens import RiskState, follow_page_size
from keeper.liquidator import Scan, assess, read_book
from keeper.portfolio_rule import GOVERNANCE, PortfolioRule
from keeper.risk.account_book import AccountBook

log = logging.getLogger("primevault.keeper")

RESCAN_BLOCKS = 300  # about an hour of 12-second blocks
KEEP_HASHES = 128
KEEP_ORDER_ACCOUNTS = 100_000  # order ids' accounts remembered, the newest; an older one is read again if needed


class AccountFollower:
    def __init__(
        self,
        clients: Clients,
        shard: tuple[int, int] = (0, 1),
        page_size: int | None = None,
        rescan_blocks: int = RESCAN_BLOCKS,
        keep_hashes: int = KEEP_HASHES,
        max_log_queries: int = MAX_LOG_QUERIES,
    ) -> None:
        self.clients = clients
        self.shard = shard
        # Pages sized to the gas the lens's calls name (`LensClient.call_gas`) and below any that ran out of gas under
        # the node's own cap (`LensClient.page_size`), unless given.
        self._fixed_page_size = page_size
        self.rescan_blocks = rescan_blocks
        self.keep_hashes = keep_hashes
        self.max_log_queries = max_log_queries
        deployment = clients.deployment
        addresses = [deployment.vault] + ([deployment.trading] if deployment.trading else [])
        # The portfolio rule's governance comes in the same call, for the rule (a mode change touches its account).
        also: tuple[bytes, ...] = ()
        if deployment.portfolio is not None:
            addresses.append(deployment.portfolio)
            also = GOVERNANCE
        self.events = AccountEventsClient(clients.w3, addresses, also)
        self.full_loads = 0
        self._book: AccountBook | None = None  # every listed account, in list order (all shards)
        self._last: Scan | None = None
        self._loaded_at = -1
        self._hashes: OrderedDict[int, bytes] = OrderedDict()
        self._order_accounts: OrderedDict[int, ChecksumAddress] = OrderedDict()
        self._portfolio: PortfolioRule | None = None  # rebuilt at every full load, so a reorganisation resets it
        # (collateral assets, perp markets, funding slots) of the risk state at the last full load: the book's shape
        self._shape: tuple[int, int, int] = (0, 0, 0)
        self._failed: str | None = None  # why the last update failed part way: the next one is a full load

    @property
    def page_size(self) -> int:
        return self._fixed_page_size or self.clients.lens.page_size

    @property
    def block(self) -> int:
        """The last block read, -1 before the first."""
        return self._last.block if self._last else -1

    def update(self) -> Scan:
        """The scan at the latest block: from memory and the block's logs when the chain moved on from the last
        block read, a full load when due or after a reorganisation, the last scan again when no block came."""
        head = self.clients.w3.eth.get_block("latest")
        number, block_hash = int(head["number"]), bytes(head["hash"])
        if (
            self._failed is None
            and self._last is not None
            and number == self._last.block
            and self._hashes.get(number) == block_hash
        ):
            return self._last
        try:
            return self._update(number, block_hash, bytes(head["parentHash"]))
        except BaseException as exc:
            # Whatever it left half done (a rule's logs recorded, orders' accounts, a book of the wrong shape), the
            # next update reads everything again rather than following from it.
            # requests' messages quote the URL whole, with a provider's key in it: its name only.
            quoted = not isinstance(exc, requests.RequestException)
            self._failed = f"{type(exc).__name__}: {exc}" if quoted else type(exc).__name__
            raise

    def _update(self, number: int, block_hash: bytes, parent_hash: bytes) -> Scan:
        if self._failed is not None:
            log.warning("the last update failed (%s): reading every account again", self._failed)
            return self._full_load(number, block_hash)
        if self._book is None or self._last is None or number - self._loaded_at >= self.rescan_blocks:
            return self._full_load(number, block_hash)
        if (why := self._reorganised(number, parent_hash)) is not None:
            log.warning("chain reorganised below block %d (%s): reading every account again", number, why)
            return self._full_load(number, block_hash)
        try:
            touches = self.events.touches(self._last.block + 1, number, self.max_log_queries)
        except LogsUnavailable as exc:
            log.warning(
                "logs of blocks %d to %d not read (%s): reading every account again", self._last.block + 1, number, exc
            )
            return self._full_load(number, block_hash)
        if touches.removed:
            log.warning("logs removed up to block %d: reading every account again", number)
            return self._full_load(number, block_hash)
        if self._portfolio is not None:
            self._portfolio.record(touches.passed_on)
        self._order_accounts.update(touches.order_accounts)
        touched = set(touches.accounts)
        for order_id in touches.filled_orders:
            touched.add(self._order_account(order_id))
        while len(self._order_accounts) > KEEP_ORDER_ACCOUNTS:  # a long-running daemon sees every order ever
            self._order_accounts.popitem(last=False)
        return self._follow(sorted(touched), number, block_hash)

    def _full_load(self, number: int, block_hash: bytes) -> Scan:
        if self.clients.deployment.portfolio is not None:
            self._portfolio = PortfolioRule(self.clients)
        state, book = read_book(self.clients, self.page_size, number)
        # Every account is kept, this shard's judged: the logs that follow touch accounts of every shard.
        found = assess(self.clients, state, book.shard(*self.shard), self._portfolio)
        self.full_loads += 1
        self._book, self._loaded_at = book, number
        params = found.params
        self._shape = (len(params.prices), len(params.perp_marks), len(params.funding_indexes))
        self._hashes.clear()
        # Order ids are given again on a reorganisation's new branch: the accounts of those seen are read again when
        # their orders are filled.
        self._order_accounts.clear()
        # A refusal may have been the node's passing trouble, not its range limit: ranges are tried whole again.
        self.events.max_range = None
        self._failed = None
        return self._remember(found, number, block_hash)

    def _follow(self, touched: list[ChecksumAddress], number: int, block_hash: bytes) -> Scan:
        """Reads the touched accounts and those listed since the last block with the risk state, in one call while
        they fit a page (a busy block takes more)."""
        assert self._book is not None
        fresh: list[AccountBook] = []
        start = len(self._book)
        size = follow_page_size(self.page_size)
        while True:
            part, touched = touched[:size], touched[size:]
            state, rows, total = self.clients.lens.follow(part, start, size - len(part), number)
            if (shape := _shape(state)) != self._shape:
                log.warning(
                    "risk state at block %d has %d assets, %d markets and %d funding slots, the book %d, %d and %d: "
                    "reading every account again",
                    number,
                    *shape,
                    *self._shape,
                )
                return self._full_load(number, block_hash)
            start += len(rows) - len(part)
            fresh.append(self._with_list_indexes(rows, len(part)))
            if not touched and start >= total:
                break
        book = self._book.merge(
            AccountBook.concat(fresh, self._book.assets).read_at(state.supply_index, state.borrow_index)
        )
        self._book = book
        return self._remember(assess(self.clients, state, book.shard(*self.shard), self._portfolio), number, block_hash)

    def _with_list_indexes(self, rows: AccountBook, touched: int) -> AccountBook:
        """`rows` with the touched ones (the first `touched`) given their places in the list; touched addresses that
        were never listed (an event naming an empty account) are dropped."""
        assert self._book is not None
        if not touched:
            return rows
        where = self._book.rows_of_addresses(rows.addresses[:touched])
        listed = where >= 0
        rows.indexes[:touched] = np.where(listed, self._book.indexes[np.maximum(where, 0)], -1)
        return rows.take(np.flatnonzero(rows.indexes >= 0).astype(np.intp))

    def _order_account(self, order_id: int) -> ChecksumAddress:
        """The account of an order: from the logs seen, or read once (an order submitted before the last load)."""
        if order_id not in self._order_accounts:
            assert self.clients.trading is not None
            self._order_accounts[order_id] = self.clients.trading.order(order_id).account
        return self._order_accounts[order_id]

    def _reorganised(self, number: int, parent_hash: bytes) -> str | None:
        """Why the chain at head `number` is not the one last read, or None if it is."""
        assert self._last is not None
        last = self._last.block
        known = self._hashes.get(last)
        if number < last:
            return f"the head went back from block {last}"
        if number == last + 1:
            return None if parent_hash == known else f"block {number}'s parent is not block {last} as read"
        # Blocks were skipped: the block last read must still be on the chain.
        if bytes(self.clients.w3.eth.get_block(last)["hash"]) == known:
            return None
        return f"block {last} is not the one read"

    def _remember(self, found: Scan, number: int, block_hash: bytes) -> Scan:
        self._last = found
        self._hashes[number] = block_hash
        while len(self._hashes) > self.keep_hashes:
            self._hashes.popitem(last=False)
        return found


def _shape(state: RiskState) -> tuple[int, int, int]:
    return len(state.prices), len(state.marks), len(state.funding_indexes)

"""Every account's balances and positions as numpy columns, one row per account, positions as a sparse list of
(row, slot) entries: what the lens's pages decode into, with no object per account. Floats for the screen are derived
once per book; exact integers only for the rows the integer confirmation needs."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
from eth_typing import ChecksumAddress
from web3 import Web3

from keeper.risk.health import MAX_VENUES, WAD, SparsePerp
from keeper.risk.wide_ints import WideInts

IndexArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class AccountBook:
    """n accounts over m collateral assets and P open positions. `indexes` are the accounts' places in the vault's
    list (ascending); `position_rows` (ascending, then by slot) point into the rows."""

    indexes: npt.NDArray[np.int64]  # (n,)
    addresses: npt.NDArray[np.uint8]  # (n, 20)
    base: WideInts  # (n,) signed base balance, base-token units
    collateral: WideInts  # (n, m) balance per collateral asset
    open_slots: npt.NDArray[np.uint16]  # (n,) bitmap of open (market, venue) slots
    position_rows: IndexArray  # (P,)
    position_slots: npt.NDArray[np.int64]  # (P,)
    sizes: WideInts  # (P,) WAD, signed
    entries: WideInts  # (P,) WAD
    funding: WideInts  # (P,) WAD, funding index at entry
    # (n, 2) the vault's supply and borrow index when each row was read (0: unknown), so that a row read some
    # blocks ago can be brought to the present index (`present_base`) instead of being read again.
    read_indexes: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.indexes.shape[0])

    @property
    def assets(self) -> int:
        return int(self.collateral.hi.shape[1])

    @classmethod
    def empty(cls, assets: int) -> AccountBook:
        return cls(
            np.zeros(0, dtype=np.int64),
            np.zeros((0, 20), dtype=np.uint8),
            WideInts.zeros((0,)),
            WideInts.zeros((0, assets)),
            np.zeros(0, dtype=np.uint16),
            np.zeros(0, dtype=np.intp),
            np.zeros(0, dtype=np.int64),
            WideInts.zeros((0,)),
            WideInts.zeros((0,)),
            WideInts.zeros((0,)),
            np.zeros((0, 2), dtype=np.int64),
        )

    @classmethod
    def concat(cls, books: Sequence[AccountBook], assets: int) -> AccountBook:
        """Books of consecutive pages (or any rows) one after the other."""
        books = [b for b in books if len(b)]
        if not books:
            return cls.empty(assets)
        if len(books) == 1:
            return books[0]
        starts = np.cumsum([0] + [len(b) for b in books[:-1]])
        return cls(
            np.concatenate([b.indexes for b in books]),
            np.concatenate([b.addresses for b in books]),
            WideInts.concat([b.base for b in books]),
            WideInts.concat([b.collateral for b in books]),
            np.concatenate([b.open_slots for b in books]),
            np.concatenate([b.position_rows + s for b, s in zip(books, starts, strict=True)]),
            np.concatenate([b.position_slots for b in books]),
            WideInts.concat([b.sizes for b in books]),
            WideInts.concat([b.entries for b in books]),
            WideInts.concat([b.funding for b in books]),
            np.concatenate([b.read_indexes for b in books]),
        )

    def take(self, rows: IndexArray) -> AccountBook:
        """The accounts at `rows` (distinct), in that order, with their positions."""
        rows = np.asarray(rows, dtype=np.intp)
        new_row = np.full(len(self), -1, dtype=np.intp)
        new_row[rows] = np.arange(len(rows))
        kept = new_row[self.position_rows]
        entries = np.flatnonzero(kept >= 0)
        if len(rows) > 1 and not np.all(rows[:-1] < rows[1:]):
            entries = entries[np.argsort(kept[entries], kind="stable")]  # grouped by new row, slots in order
        return AccountBook(
            self.indexes[rows],
            self.addresses[rows],
            self.base.take(rows),
            self.collateral.take(rows),
            self.open_slots[rows],
            kept[entries],
            self.position_slots[entries],
            self.sizes.take(entries),
            self.entries.take(entries),
            self.funding.take(entries),
            self.read_indexes[rows],
        )

    def shard(self, index: int, count: int) -> AccountBook:
        """The accounts whose list index is `index` mod `count`."""
        return self if count == 1 else self.take(np.flatnonzero(self.indexes % count == index))

    def merge(self, fresh: AccountBook) -> AccountBook:
        """This book with the rows of `fresh` in place of the same accounts (by list index) and new ones added."""
        if not len(fresh):
            return self
        keep = np.flatnonzero(~np.isin(self.indexes, fresh.indexes))
        both = AccountBook.concat([self.take(keep), fresh], self.assets)
        order = np.argsort(both.indexes, kind="stable")
        return both if np.all(order[:-1] < order[1:]) else both.take(order)

    def read_at(self, supply_index: int, borrow_index: int) -> AccountBook:
        """This book with every row marked as read at these indexes."""
        stamp = np.broadcast_to(np.array([supply_index, borrow_index], dtype=np.int64), (len(self), 2)).copy()
        return dataclasses.replace(self, read_indexes=stamp)

    def present_base_floats(self, supply_index: int, borrow_index: int) -> npt.NDArray[np.float64]:
        """Base balances brought from the indexes each row was read at to these: a supply grows with the supply
        index, a debt with the borrow index (rows read at an unknown index stay as read)."""
        base = self.base_floats
        then = self.read_indexes.astype(np.float64)
        known = then[:, 0] > 0
        ratio = np.where(base >= 0, supply_index / np.where(known, then[:, 0], 1.0), 0.0)
        ratio = np.where(base < 0, borrow_index / np.where(known, then[:, 1], 1.0), ratio)
        return np.where(known, base * ratio, base)

    def present_base(self, row: int, supply_index: int, borrow_index: int) -> int:
        """`present_base_floats` for one row, exactly, rounded as the vault rounds (supply down, debt up): within
        a unit or two of what the vault computes from the principal."""
        base = self.base.exact(row)
        supply_then, borrow_then = (int(i) for i in self.read_indexes[row])
        if supply_then <= 0:
            return base
        if base >= 0:
            return base * supply_index // supply_then
        return base * borrow_index // borrow_then  # floor of a negative: the debt's magnitude rounded up

    def rows_of_addresses(self, addresses: npt.NDArray[np.uint8]) -> IndexArray:
        """The row of each address (k, 20), -1 where the book does not hold it."""
        keys, order = self._address_order
        wanted = np.ascontiguousarray(addresses).view("S20").ravel()
        if not len(keys):
            return np.full(len(wanted), -1, dtype=np.intp)
        at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
        return np.where(keys[at] == wanted, order[at], -1).astype(np.intp)

    @cached_property
    def _address_order(self) -> tuple[npt.NDArray[np.bytes_], IndexArray]:
        keys = np.ascontiguousarray(self.addresses).view("S20").ravel()
        order = np.argsort(keys, kind="stable").astype(np.intp)
        return keys[order], order

    # ------------------------------------------------------------------ views

    def address(self, row: int) -> ChecksumAddress:
        return Web3.to_checksum_address(bytes(self.addresses[row]))

    def address_list(self, rows: IndexArray | None = None) -> list[ChecksumAddress]:
        chosen = self.addresses if rows is None else self.addresses[rows]
        return [Web3.to_checksum_address(bytes(a)) for a in chosen]

    def positions_of(self, row: int) -> list[tuple[int, int, int, int]]:
        """One account's positions as (slot, size, entry price, funding index at entry), WAD integers."""
        start, end = np.searchsorted(self.position_rows, [row, row + 1])
        return [
            (int(self.position_slots[k]), self.sizes.exact(k), self.entries.exact(k), self.funding.exact(k))
            for k in range(int(start), int(end))
        ]

    def exact_row(self, row: int) -> tuple[int, list[int], list[tuple[int, int, int, int]]]:
        """One account's base balance, collateral balances and positions as integers, for `exact_health`."""
        return self.base.exact(row), self.collateral.exact_row(row), self.positions_of(row)

    def slot_counts(self) -> npt.NDArray[np.int64]:
        """Open positions per account."""
        return np.bincount(self.position_rows, minlength=len(self)).astype(np.int64)

    def gross_legs(self, slots: int = 4 * MAX_VENUES) -> dict[int, int]:
        """The sum of |size| per slot over every account, exactly (as `keeper.risk.margin.gross_legs`)."""
        if not len(self.position_slots):
            return {}
        width = max(slots, int(self.position_slots.max()) + 1)
        sums = self.sizes.sum_abs_by(self.position_slots.astype(np.intp), width)
        present = np.unique(self.position_slots).tolist()
        return {slot: sums[slot] for slot in present}

    # ------------------------------------------------------------------ floats for the screen

    @cached_property
    def base_floats(self) -> npt.NDArray[np.float64]:
        return self.base.floats()

    @cached_property
    def collateral_floats(self) -> npt.NDArray[np.float64]:
        return self.collateral.floats()

    def perp(self, slots: int) -> SparsePerp:
        """The positions as the vectorized screen takes them (sizes in base units, money in USD)."""
        return self._perp if slots else SparsePerp.empty(len(self))

    @cached_property
    def _perp(self) -> SparsePerp:
        return SparsePerp.build(
            len(self),
            self.position_rows,
            self.position_slots,
            self.sizes.floats() / WAD,
            self.entries.floats() / WAD,
            self.funding.floats() / WAD,
        )

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
from eth_hash.auto import keccak
from eth_typing import ChecksumAddress, HexAddress, HexStr
from web3 import Web3

from keeper.risk.health import MAX_VENUES, WAD, SparsePerp
from keeper.risk.wide_ints import FloatArray, WideInts

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
    portfolio: npt.NDArray[np.bool_]  # (n,) margined by the portfolio rule (the vault's `setPortfolioMode`)
    position_rows: IndexArray  # (P,)
    position_slots: npt.NDArray[np.int16]  # (P,)
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
            np.zeros(0, dtype=np.bool_),
            np.zeros(0, dtype=np.intp),
            np.zeros(0, dtype=np.int16),
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
            np.concatenate([b.portfolio for b in books]),
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
            self.portfolio[rows],
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
        return checksum_addresses(self.addresses if rows is None else self.addresses[rows])

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
            _in_wad_units(self.sizes),
            _in_wad_units(self.entries),
            _in_wad_units(self.funding),
        )


_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def checksum_addresses(raw: npt.NDArray[np.uint8]) -> list[ChecksumAddress]:
    """(n, 20) address bytes as EIP-55 checksummed strings, as `Web3.to_checksum_address` spells them but with one
    keccak call an address and the casing done on arrays: a liquidation wave names ten thousand accounts, which
    web3's function takes 0.4 s to spell."""
    n = len(raw)
    nibbles = np.empty((n, 40), dtype=np.uint8)
    nibbles[:, 0::2] = raw >> 4
    nibbles[:, 1::2] = raw & 15
    lower = _HEX_DIGITS[nibbles]
    text = lower.tobytes()
    digests = np.frombuffer(b"".join([keccak(text[i : i + 40]) for i in range(0, 40 * n, 40)]), dtype=np.uint8)
    digests = digests.reshape(n, 32)[:, :20]
    hashed = np.empty((n, 40), dtype=np.uint8)
    hashed[:, 0::2] = digests >> 4
    hashed[:, 1::2] = digests & 15
    # A letter is upper case where the same nibble of the keccak of the lower-case hex is 8 or more.
    spelled = np.where((hashed >= 8) & (nibbles >= 10), lower - 32, lower).tobytes().decode("ascii")
    return [ChecksumAddress(HexAddress(HexStr("0x" + spelled[i : i + 40]))) for i in range(0, 40 * n, 40)]


def _in_wad_units(column: WideInts) -> FloatArray:
    """A WAD column as floats of its unit, divided in place (no second position-sized array)."""
    values = column.floats()
    values /= WAD
    return values


class AccountBookBuilder:
    """A book filled page by page into columns allocated once: each page's small arrays are copied in and let go, so
    that the heap holds one page at a time instead of every page beside the joined book (freed small arrays stay
    resident). Positions grow by doubling, their count being known only page by page."""

    def __init__(self, rows: int, assets: int) -> None:
        self.assets = assets
        self._rows = 0
        self._positions = 0
        self._indexes = np.empty(rows, dtype=np.int64)
        self._addresses = np.empty((rows, 20), dtype=np.uint8)
        self._base = _Limbs((rows,))
        self._collateral = _Limbs((rows, assets))
        self._open_slots = np.empty(rows, dtype=np.uint16)
        self._portfolio = np.empty(rows, dtype=np.bool_)
        self._read_indexes = np.empty((rows, 2), dtype=np.int64)
        capacity = max(rows * 3, 1024)
        self._position_rows: IndexArray = np.empty(capacity, dtype=np.intp)
        self._position_slots = np.empty(capacity, dtype=np.int16)
        self._sizes = _Limbs((capacity,))
        self._entries = _Limbs((capacity,))
        self._funding = _Limbs((capacity,))

    def add(self, page: AccountBook) -> None:
        n, k = self._rows, len(page)
        if n + k > len(self._indexes):
            raise ValueError(f"the book was sized for {len(self._indexes)} rows; {n + k} given")
        self._indexes[n : n + k] = page.indexes
        self._addresses[n : n + k] = page.addresses
        self._base.put(n, page.base)
        self._collateral.put(n, page.collateral)
        self._open_slots[n : n + k] = page.open_slots
        self._portfolio[n : n + k] = page.portfolio
        self._read_indexes[n : n + k] = page.read_indexes
        p, q = self._positions, len(page.position_rows)
        if p + q > len(self._position_rows):
            self._grow_positions(max(2 * len(self._position_rows), p + q))
        self._position_rows[p : p + q] = page.position_rows + n
        self._position_slots[p : p + q] = page.position_slots
        for limbs, column in ((self._sizes, page.sizes), (self._entries, page.entries), (self._funding, page.funding)):
            limbs.put(p, column)
        self._rows, self._positions = n + k, p + q

    def build(self) -> AccountBook:
        n, p = self._rows, self._positions
        return AccountBook(
            self._indexes[:n],
            self._addresses[:n],
            self._base.take(n),
            self._collateral.take(n),
            self._open_slots[:n],
            self._portfolio[:n],
            self._position_rows[:p],
            self._position_slots[:p],
            self._sizes.take(p),
            self._entries.take(p),
            self._funding.take(p),
            self._read_indexes[:n],
        )

    def _grow_positions(self, capacity: int) -> None:
        self._position_rows = np.resize(self._position_rows, capacity)
        self._position_slots = np.resize(self._position_slots, capacity)
        for limbs in (self._sizes, self._entries, self._funding):
            limbs.grow(capacity)


class _Limbs:
    """A `WideInts` column being filled: limbs allocated once, the side table of values too wide for them offset to
    their place in the whole column."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.hi = np.empty(shape, dtype=np.int64)
        self.lo = np.empty(shape, dtype=np.uint64)
        self.overflow: dict[int, int] = {}

    def put(self, row: int, part: WideInts) -> None:
        rows = len(part)
        self.hi[row : row + rows] = part.hi
        self.lo[row : row + rows] = part.lo
        width = part.row_width
        self.overflow.update({row * width + index: value for index, value in part.overflow.items()})

    def grow(self, rows: int) -> None:
        self.hi = np.resize(self.hi, (rows, *self.hi.shape[1:]))
        self.lo = np.resize(self.lo, (rows, *self.lo.shape[1:]))

    def take(self, rows: int) -> WideInts:
        return WideInts(self.hi[:rows], self.lo[:rows], self.overflow)

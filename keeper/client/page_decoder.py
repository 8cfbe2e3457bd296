"""The lens's `accounts(vault, offset, limit)` returndata decoded straight into numpy columns: the ABI words are read
with one `np.frombuffer`, every offset and length is followed with array indexing (checked: aligned, in bounds, the
high bytes of small values zero, one position per set bit of `openSlots`), and no object is built per account.

Layout (`(AccountSnapshot[] page, uint256 total)`): word 0 is the offset of `page`, word 1 `total`; at `page`, its
length n and then n offsets (relative to the word after the length) of the tuples; each tuple is six words (account,
baseBalance, offset of collateral, openSlots, offset of positions, portfolio, the offsets relative to the tuple's
start), the collateral array a length and one word per asset, the positions array a length and three words per
position (size int128, entryPrice uint128, fundingIndex int256)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from keeper.exceptions import LensDecodeError
from keeper.risk.account_book import AccountBook
from keeper.risk.wide_ints import WideInts

MAX_SLOTS = 16  # bits of `openSlots`
TUPLE_WORDS = 6
POSITION_WORDS = 3

Words = npt.NDArray[np.uint64]


def accounts_calldata(selector: bytes, vault: str, offset: int, limit: int) -> bytes:
    """`accounts(vault, offset, limit)`'s calldata: three static words after the selector."""
    return selector + bytes(12) + bytes.fromhex(vault.removeprefix("0x")) + offset.to_bytes(32) + limit.to_bytes(32)


def decode_accounts_page(data: bytes, first_index: int, assets: int | None = None) -> tuple[AccountBook, int]:
    """The page's accounts as columns (their list indexes from `first_index`) and the vault's account count. `assets`,
    when given, is the number of collateral assets every row must have."""
    if len(data) % 32 or len(data) < 96:
        raise LensDecodeError(f"lens page: {len(data)} bytes is not a page")
    raw = np.frombuffer(data, dtype=np.uint8).reshape(-1, 32)
    words: Words = np.frombuffer(data, dtype=">u8").reshape(-1, 4).astype(np.uint64)
    total = int(_small(words, np.array([1]), "total")[0])
    start = _offset_words(words, np.array([0]), 0, "page offset")[0]
    n = int(_small(words, np.array([start]), "page length")[0])
    content = start + 1
    tuples = _offset_words(words, content + np.arange(n), content, "account offsets")
    _check_bounds(words, tuples + TUPLE_WORDS - 1, "accounts")
    if np.any(raw[tuples, :12]):
        raise LensDecodeError("lens page: an account word has bytes above its 20")
    addresses = raw[tuples, 12:].copy()
    base = WideInts.from_words(words[tuples + 1], signed=True)
    open_slots = _small(words, tuples + 3, "openSlots")
    if np.any(open_slots >= 1 << MAX_SLOTS):
        raise LensDecodeError("lens page: openSlots wider than 16 bits")
    portfolio = _small(words, tuples + 5, "portfolio")
    if np.any(portfolio > 1):
        raise LensDecodeError("lens page: a portfolio bool other than 0 or 1")

    collateral_at = _offset_words(words, tuples + 2, tuples, "collateral offsets")
    lengths = _small(words, collateral_at, "collateral lengths")
    m = int(lengths[0]) if n else (assets or 0)
    if np.any(lengths != m) or (assets is not None and m != assets):
        raise LensDecodeError(f"lens page: collateral lengths {sorted(set(lengths.tolist()))}, expected {assets or m}")
    cells = collateral_at[:, None] + 1 + np.arange(m)
    _check_bounds(words, cells, "collateral")
    collateral = WideInts.from_words(words[cells], signed=False)

    positions_at = _offset_words(words, tuples + 4, tuples, "positions offsets")
    counts = _small(words, positions_at, "positions lengths")
    bits = (open_slots[:, None] >> np.arange(MAX_SLOTS, dtype=np.int64)) & 1
    if np.any(bits.sum(axis=1) != counts):
        raise LensDecodeError("lens page: positions do not match openSlots")
    rows, slots = np.nonzero(bits)  # row-major: by account, then by slot, the order the lens lists positions in
    within = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    first = positions_at[rows] + 1 + POSITION_WORDS * within
    _check_bounds(words, first + POSITION_WORDS - 1, "positions")
    book = AccountBook(
        indexes=first_index + np.arange(n, dtype=np.int64),
        addresses=addresses,
        base=base,
        collateral=collateral,
        open_slots=open_slots.astype(np.uint16),
        portfolio=portfolio.astype(np.bool_),
        position_rows=rows.astype(np.intp),
        position_slots=slots.astype(np.int16),
        sizes=WideInts.from_words(words[first], signed=True),
        entries=WideInts.from_words(words[first + 1], signed=False),
        funding=WideInts.from_words(words[first + 2], signed=True),
        read_indexes=np.zeros((n, 2), dtype=np.int64),
    )
    return book, total


def _check_bounds(words: Words, at: npt.NDArray[np.int64], what: str) -> None:
    if at.size and (int(at.max()) >= len(words) or int(at.min()) < 0):
        raise LensDecodeError(f"lens page: {what} run past the returndata")


def _small(words: Words, at: npt.NDArray[np.int64], what: str) -> npt.NDArray[np.int64]:
    """Words at `at` read as non-negative integers below 2^63 (lengths, offsets, counts)."""
    _check_bounds(words, at, what)
    cells = words[at]
    if np.any(cells[..., :3]) or np.any(cells[..., 3] >= np.uint64(1 << 63)):
        raise LensDecodeError(f"lens page: {what} out of range")
    return cells[..., 3].astype(np.int64)


def _offset_words(
    words: Words, at: npt.NDArray[np.int64], relative_to: int | npt.NDArray[np.int64], what: str
) -> npt.NDArray[np.int64]:
    """Byte offsets at `at` as word indexes from `relative_to`, checked aligned and inside the data."""
    offsets = _small(words, at, what)
    if np.any(offsets % 32):
        raise LensDecodeError(f"lens page: {what} not word-aligned")
    result = np.asarray(relative_to + offsets // 32, dtype=np.int64)
    _check_bounds(words, result, what)
    return result

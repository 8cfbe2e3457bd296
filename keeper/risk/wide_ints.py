"""Exact 256-bit ABI integers held as numpy columns: each value as two 64-bit limbs (`hi` signed, `lo` unsigned, value
= hi x 2^64 + lo), which covers every int128 and every uint below 2^127, with the rare value outside that range kept
exactly in a small side table. Floats for the vectorized screen come from the limbs; exact integers for the integer
confirmation are built only for the rows that need one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
UIntArray = npt.NDArray[np.uint64]
FloatArray = npt.NDArray[np.float64]

TWO_32 = 2.0**32
_ALL_ONES = np.uint64(0xFFFF_FFFF_FFFF_FFFF)


@dataclass(frozen=True)
class WideInts:
    """An array (rows first, any shape) of exact integers. `overflow` maps flat indexes to the values that do not fit
    the two limbs (their limbs are 0)."""

    hi: IntArray
    lo: UIntArray
    overflow: dict[int, int]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.hi.shape)

    def __len__(self) -> int:
        return int(self.hi.shape[0])

    @property
    def row_width(self) -> int:
        return int(np.prod(self.hi.shape[1:], dtype=np.int64))

    def floats(self) -> FloatArray:
        """Every value as float64 (rounded once per limb)."""
        # hi x 2^32 + the top half of lo is exact in float64 for any |value| below 2^85, so a small negative value
        # (hi -1, lo near 2^64) does not cancel to 0; one rounding at the end.
        # Formed in place with one limb-sized temporary: for a column of every position this is the scan's largest
        # allocation, and each temporary more raises the keeper's peak memory.
        out: FloatArray = self.hi.astype(np.float64)
        out *= TWO_32
        half = self.lo >> np.uint64(32)
        out += half
        out *= TWO_32
        np.bitwise_and(self.lo, np.uint64(0xFFFF_FFFF), out=half)
        out += half
        flat = out.reshape(-1)
        for index, value in self.overflow.items():
            flat[index] = float(value)
        return out

    def exact(self, flat_index: int) -> int:
        value = self.overflow.get(flat_index)
        if value is not None:
            return value
        return (int(self.hi.flat[flat_index]) << 64) + int(self.lo.flat[flat_index])

    def exact_row(self, row: int) -> list[int]:
        width = self.row_width
        return [self.exact(row * width + k) for k in range(width)]

    def take(self, rows: npt.NDArray[np.intp]) -> WideInts:
        """The rows `rows` (indexes), in that order."""
        rows = np.asarray(rows, dtype=np.intp)
        overflow: dict[int, int] = {}
        if self.overflow:
            width = self.row_width
            where = {int(r): k for k, r in enumerate(rows.tolist())}
            for index, value in self.overflow.items():
                row, col = divmod(index, width)
                if row in where:
                    overflow[where[row] * width + col] = value
        return WideInts(self.hi[rows], self.lo[rows], overflow)

    @classmethod
    def concat(cls, parts: Sequence[WideInts], shape_tail: tuple[int, ...] = ()) -> WideInts:
        if not parts:
            return cls.zeros((0, *shape_tail))
        overflow: dict[int, int] = {}
        start = 0
        for part in parts:
            overflow.update({start + index: value for index, value in part.overflow.items()})
            start += part.hi.size
        return cls(np.concatenate([p.hi for p in parts]), np.concatenate([p.lo for p in parts]), overflow)

    @classmethod
    def zeros(cls, shape: tuple[int, ...]) -> WideInts:
        return cls(np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=np.uint64), {})

    @classmethod
    def from_ints(cls, values: Sequence[int] | Sequence[Sequence[int]]) -> WideInts:
        """From Python integers (tests and small inputs)."""
        array = np.array(values, dtype=object)
        shape = array.shape
        hi = np.zeros(shape, dtype=np.int64)
        lo = np.zeros(shape, dtype=np.uint64)
        overflow: dict[int, int] = {}
        for k, value in enumerate(array.reshape(-1).tolist()):
            if -(2**127) <= value < 2**127:
                hi.flat[k], lo.flat[k] = value >> 64, value & 0xFFFF_FFFF_FFFF_FFFF
            else:
                overflow[k] = int(value)
        return cls(hi, lo, overflow)

    @classmethod
    def from_words(cls, limbs: UIntArray, signed: bool) -> WideInts:
        """From ABI words as four big-endian 64-bit limbs each (shape (..., 4), most significant first)."""
        l0, l1, l2, l3 = (limbs[..., k] for k in range(4))
        negative = (l2 >> np.uint64(63)).astype(bool)
        if signed:
            fits = ((l0 == 0) & (l1 == 0) & ~negative) | ((l0 == _ALL_ONES) & (l1 == _ALL_ONES) & negative)
        else:
            fits = (l0 == 0) & (l1 == 0) & ~negative
        hi = np.ascontiguousarray(l2).view(np.int64).copy()
        lo = np.ascontiguousarray(l3).copy()
        overflow: dict[int, int] = {}
        if not fits.all():
            flat = limbs.reshape(-1, 4)
            for index in np.flatnonzero(~fits).tolist():
                words = [int(w) for w in flat[index]]
                value = (words[0] << 192) | (words[1] << 128) | (words[2] << 64) | words[3]
                if signed and value >= 2**255:
                    value -= 2**256
                overflow[index] = value
                hi.flat[index], lo.flat[index] = 0, 0
        return cls(hi, lo, overflow)

    def abs_parts(self) -> tuple[UIntArray, UIntArray]:
        """|value| as two unsigned limbs (every value inside the limbs fits, -2^127 included; overflowed ones read
        as 0)."""
        negative = self.hi < 0
        hi = self.hi.view(np.uint64)
        lo = np.where(negative, ~self.lo + np.uint64(1), self.lo)
        hi = np.where(negative, ~hi + (self.lo == 0).astype(np.uint64), hi)
        return hi, lo

    def sum_abs_by(self, keys: npt.NDArray[np.intp], size: int) -> list[int]:
        """Exact sum of |value| per key in 0..size-1 (1-D arrays): the limbs summed in 32-bit parts, so that no sum
        can overflow below 2^32 values, then put together as integers."""
        hi, lo = self.abs_parts()
        low32 = np.uint64(0xFFFF_FFFF)
        parts = (hi >> np.uint64(32), hi & low32, lo >> np.uint64(32), lo & low32)
        sums = []
        for part in parts:
            acc = np.zeros(size, dtype=np.uint64)
            np.add.at(acc, keys, part)
            sums.append(acc.tolist())
        out = [(a << 96) + (b << 64) + (c << 32) + d for a, b, c, d in zip(*sums, strict=True)]
        width = self.row_width
        for index, value in self.overflow.items():
            out[int(keys[index // width])] += abs(value)
        return out

"""Sorted, merged address ranges in compact arrays: what a target set of a million ranges
(a -iL of a million scattered addresses) is kept as.

A tuple of (lo, hi) int tuples costs ~120 bytes a range; here an IPv4 range is two 64-bit
array slots (16 bytes) and an IPv6 one four (its untagged value's high and low halves), and a
range is made into a tuple only when asked for. Lookups bisect the arrays in C.
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

from .addresses import IPV4_MAX, V6, V6_MASK

Range = tuple[int, int]
_LOW64 = (1 << 64) - 1


def _u64() -> array[int]:
    return array("Q")


class RangeList(Sequence[Range]):
    """Ranges that are sorted, non-empty and neither overlap nor touch (IPv4 ones first, none
    spanning the two families); a Sequence of (lo, hi) tuples of tagged ints."""

    __slots__ = ("_lo4", "_hi4", "_lo6h", "_lo6l", "_hi6h", "_hi6l")

    def __init__(self, lo4: array[int] | None = None, hi4: array[int] | None = None,
                 lo6h: array[int] | None = None, lo6l: array[int] | None = None,
                 hi6h: array[int] | None = None, hi6l: array[int] | None = None) -> None:
        """Arrays already normalised (see from_sorted); the caller vouches for them."""
        self._lo4, self._hi4 = lo4 or _u64(), hi4 or _u64()
        self._lo6h, self._lo6l = lo6h or _u64(), lo6l or _u64()
        self._hi6h, self._hi6l = hi6h or _u64(), hi6l or _u64()

    @classmethod
    def from_sorted(cls, ranges: Iterable[Range]) -> RangeList:
        """From normalised (lo, hi) tuples of tagged ints."""
        lo4, hi4, lo6h, lo6l, hi6h, hi6l = (_u64() for _ in range(6))
        for lo, hi in ranges:
            if hi <= IPV4_MAX:
                lo4.append(lo)
                hi4.append(hi)
            else:
                lo, hi = lo & V6_MASK, hi & V6_MASK
                lo6h.append(lo >> 64)
                lo6l.append(lo & _LOW64)
                hi6h.append(hi >> 64)
                hi6l.append(hi & _LOW64)
        return cls(lo4, hi4, lo6h, lo6l, hi6h, hi6l)

    @property
    def v4_count(self) -> int:
        """How many of the ranges are IPv4 (they come first)."""
        return len(self._lo4)

    def __len__(self) -> int:
        return len(self._lo4) + len(self._lo6h)

    def low(self, i: int) -> int:
        """ranges[i][0] without making the tuple (i not negative)."""
        n4 = len(self._lo4)
        if i < n4:
            return self._lo4[i]
        j = i - n4
        return V6 | self._lo6h[j] << 64 | self._lo6l[j]

    def high(self, i: int) -> int:
        n4 = len(self._lo4)
        if i < n4:
            return self._hi4[i]
        j = i - n4
        return V6 | self._hi6h[j] << 64 | self._hi6l[j]

    @overload
    def __getitem__(self, i: int) -> Range: ...

    @overload
    def __getitem__(self, i: slice) -> tuple[Range, ...]: ...

    def __getitem__(self, i: int | slice) -> Range | tuple[Range, ...]:
        if isinstance(i, slice):
            return tuple(self[j] for j in range(*i.indices(len(self))))
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("range index out of range")
        return self.low(i), self.high(i)

    def packed(self) -> bytes:
        """The ranges as bytes, alike on every machine (each array's length, then its 64-bit
        words, little-endian): what the plan fingerprint hashes (a million ranges in
        milliseconds, where their JSON took a second)."""
        parts = []
        for words in (self._lo4, self._hi4, self._lo6h, self._lo6l, self._hi6h, self._hi6l):
            if sys.byteorder == "big":
                words = array("Q", words)
                words.byteswap()
            parts.append(len(words).to_bytes(8, "little") + words.tobytes())
        return b"".join(parts)

    def __iter__(self) -> Iterator[Range]:
        yield from zip(self._lo4, self._hi4)
        for lh, ll, hh, hl in zip(self._lo6h, self._lo6l, self._hi6h, self._hi6l):
            yield V6 | lh << 64 | ll, V6 | hh << 64 | hl

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RangeList):
            return all(getattr(self, s) == getattr(other, s) for s in self.__slots__)
        if isinstance(other, (tuple, list)):
            return len(other) == len(self) and all(a == tuple(b) for a, b in zip(self, other))
        return NotImplemented

    def __hash__(self) -> int:
        return hash((len(self), self[0] if len(self) else None, self[-1] if len(self) else None))

    def __repr__(self) -> str:
        shown = ", ".join(repr(r) for r in self[:3])
        return f"RangeList([{shown}{', ...' if len(self) > 3 else ''}] {len(self)} ranges)"

    def take(self, start: int, stop: int) -> RangeList:
        """Ranges start..stop-1 as a RangeList (array slices: no tuple is made)."""
        n4 = len(self._lo4)
        a, b = max(start - n4, 0), max(stop - n4, 0)
        return RangeList(self._lo4[start:min(stop, n4)], self._hi4[start:min(stop, n4)],
                         self._lo6h[a:b], self._lo6l[a:b], self._hi6h[a:b], self._hi6l[a:b])

    @classmethod
    def join(cls, parts: Sequence[RangeList]) -> RangeList:
        """Parts in order (each after the one before, not touching it) as one RangeList."""
        if len(parts) == 1:
            return parts[0]
        joined = cls()
        for part in parts:
            for slot in cls.__slots__:
                getattr(joined, slot).extend(getattr(part, slot))
        return joined

    def find(self, addr: int) -> int:
        """The index of the range holding addr, -1 if none does."""
        if addr <= IPV4_MAX:
            i = bisect_right(self._lo4, addr) - 1
            return i if i >= 0 and self._hi4[i] >= addr else -1
        value = addr & V6_MASK
        h, low = value >> 64, value & _LOW64
        # the last range starting at or below (h, low): among those whose high half is h,
        # else the last with a smaller one
        first, last = bisect_left(self._lo6h, h), bisect_right(self._lo6h, h)
        j = bisect_right(self._lo6l, low, first, last) - 1
        if j < 0:
            return -1
        if (self._hi6h[j], self._hi6l[j]) < (h, low):
            return -1
        return len(self._lo4) + j


def merge_sorted_arrays(starts: Any, ends: Any) -> RangeList:
    """IPv4 ranges, sorted by start (numpy int64 arrays, overlaps allowed), merged into a
    RangeList with numpy: a million ranges in a few tens of milliseconds."""
    import numpy as np

    lo = np.asarray(starts, dtype=np.int64)
    hi = np.asarray(ends, dtype=np.int64)
    if not len(lo):
        return RangeList()
    reach = np.maximum.accumulate(hi)
    new = np.empty(len(lo), dtype=bool)
    new[0] = True
    new[1:] = lo[1:] > reach[:-1] + 1
    first = np.flatnonzero(new)
    last = np.append(first[1:] - 1, len(lo) - 1)
    lo4, hi4 = array("Q"), array("Q")
    lo4.frombytes(lo[first].astype(np.uint64).tobytes())
    hi4.frombytes(reach[last].astype(np.uint64).tobytes())
    return RangeList(lo4, hi4)


def merge_sorted_addresses(addrs: Any) -> RangeList:
    """Sorted IPv4 addresses (a numpy int64 array, repeats allowed) as runs of consecutive
    ones."""
    import numpy as np

    a = np.asarray(addrs, dtype=np.int64)
    if not len(a):
        return RangeList()
    breaks = np.flatnonzero(np.diff(a) > 1)  # a run ends where the next address skips some
    lo4, hi4 = array("Q"), array("Q")
    lo4.frombytes(a[np.append(0, breaks + 1)].astype(np.uint64).tobytes())
    hi4.frombytes(a[np.append(breaks, len(a) - 1)].astype(np.uint64).tobytes())
    return RangeList(lo4, hi4)


PACKED_FORMAT = "rawscan-ranges/1"
PACKED_MIN = 4096  # ranges: a plan's JSON lists fewer as [lo, hi] pairs, more packed
_PACKED_MAX = 1 << 28  # inflated bytes: 2^24 ranges of either family, far past any -iL


def pack(ranges: RangeList) -> dict[str, str]:
    """Many ranges for a plan's JSON (sidecar, resume file): each array's little-endian bytes,
    zlib'd and base64'd (a million scattered IPv4 ranges: ~9 MB of text, not 28)."""
    import base64
    import sys
    import zlib

    out: dict[str, str] = {"format": PACKED_FORMAT}
    for slot in RangeList.__slots__:
        values: array[int] = getattr(ranges, slot)
        if sys.byteorder == "big":
            values = array("Q", values)
            values.byteswap()
        out[slot.lstrip("_")] = base64.b64encode(zlib.compress(values.tobytes(), 1)).decode()
    return out


def unpack(data: object) -> RangeList:
    """pack's inverse, for a file anyone may have written: ValueError unless the arrays
    inflate within bounds to ranges RangeList's invariants hold for."""
    import base64
    import binascii
    import sys
    import zlib

    if not isinstance(data, dict) or data.get("format") != PACKED_FORMAT:
        raise ValueError(f"targets: not a list of ranges nor {PACKED_FORMAT!r}")
    slots = []
    for slot in RangeList.__slots__:
        text = data.get(slot.lstrip("_"))
        if not isinstance(text, str):
            raise ValueError(f"targets: {slot.lstrip('_')} missing")
        try:
            inflater = zlib.decompressobj()
            raw = inflater.decompress(base64.b64decode(text, validate=True), _PACKED_MAX)
        except (binascii.Error, zlib.error) as exc:
            raise ValueError(f"targets: {exc}") from None
        if inflater.unconsumed_tail or len(raw) % 8:
            raise ValueError("targets: packed ranges too large or damaged")
        values = array("Q")
        values.frombytes(raw)
        if sys.byteorder == "big":
            values.byteswap()
        slots.append(values)
    lo4, hi4, lo6h, lo6l, hi6h, hi6l = slots
    if len(lo4) != len(hi4) or not len(lo6h) == len(lo6l) == len(hi6h) == len(hi6l):
        raise ValueError("targets: packed arrays of different lengths")
    ranges = RangeList(*slots)
    _check_normalised(ranges)
    return ranges


def _check_normalised(ranges: RangeList) -> None:
    import numpy as np

    lo4 = np.frombuffer(ranges._lo4, dtype=np.uint64)
    hi4 = np.frombuffer(ranges._hi4, dtype=np.uint64)
    if len(hi4) and (int(hi4.max()) > IPV4_MAX or bool((lo4 > hi4).any())
                     or bool((lo4[1:] <= hi4[:-1] + np.uint64(1)).any())):
        raise ValueError("targets: packed IPv4 ranges are not sorted and merged")
    # IPv6 as (high, low) halves: each range ordered, each after the last one ends + 1
    lh, ll = np.frombuffer(ranges._lo6h, np.uint64), np.frombuffer(ranges._lo6l, np.uint64)
    hh, hl = np.frombuffer(ranges._hi6h, np.uint64), np.frombuffer(ranges._hi6l, np.uint64)
    ordered = (lh < hh) | ((lh == hh) & (ll <= hl))
    after = (lh[1:] > hh[:-1]) | ((lh[1:] == hh[:-1]) & (ll[1:] > hl[:-1])
                                  & (ll[1:] - hl[:-1] > np.uint64(1)))
    if not (bool(ordered.all()) and bool(after.all())):
        raise ValueError("targets: packed IPv6 ranges are not sorted and merged")

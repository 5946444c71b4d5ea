"""A keyed pseudo-random bijection on range(n), used to spread probes over targets and
ports without a shuffled list (the trick masscan and zmap use).

A balanced 4-round Feistel network permutes the smallest even-bit domain 2**(2h) >= n;
indexes that land outside range(n) are encrypted again ("cycle walking") until they
fall inside. The domain is under 4n, so that takes under 4 encryptions on average.
Not a cryptographic cipher: it only has to look random and be cheap.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Iterator

__all__ = ["Permutation"]

_M64 = 2**64 - 1
_ROUNDS = 4
_C1 = 0x9E3779B97F4A7C15  # splitmix64 constants
_C2 = 0xBF58476D1CE4E5B9


class Permutation:
    """perm[i] for i in range(n) visits every value of range(n) exactly once, in an
    order fixed by key. Measured on CPython 3.11 (shared 2-core x86-64 box): ~2.0-2.5 us
    per lookup when n is a power of 4 (no cycle walking), ~9 us when n is just above one
    (~4 walks); blake2b as round function cost ~5.6 us without walking."""

    __slots__ = ("_n", "_half", "_mask", "_keys")

    def __init__(self, n: int, key: bytes) -> None:
        n = operator.index(n)
        if not 0 <= n <= 2**64:
            raise ValueError(f"permutation size {n} must be in 0..2**64")
        self._n = n
        # Half width h with 2**(2h) >= n; at least 1 bit so n = 0, 1, 2 need no special case.
        bits = max(1, (n - 1).bit_length())
        self._half = (bits + 1) // 2
        self._mask = (1 << self._half) - 1
        digest = hashlib.blake2b(key, digest_size=8 * _ROUNDS, person=b"rawscan-perm").digest()
        self._keys = tuple(
            int.from_bytes(digest[8 * r : 8 * r + 8], "little") for r in range(_ROUNDS)
        )

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: int) -> int:
        i = operator.index(i)
        if not 0 <= i < self._n:
            raise IndexError(f"permutation index {i} out of range")
        return self._walk(i)

    def __iter__(self) -> Iterator[int]:
        walk = self._walk
        for i in range(self._n):
            yield walk(i)

    def _walk(self, x: int) -> int:
        n, half, mask = self._n, self._half, self._mask
        k0, k1, k2, k3 = self._keys
        while True:
            left, right = x >> half, x & mask
            # Rounds unrolled (1.6x faster than a loop). Round function: splitmix64-style
            # multiply/xorshift of (half ^ round key), truncated to the half width.
            z = ((right ^ k0) * _C1) & _M64
            z = ((z ^ (z >> 31)) * _C2) & _M64
            left ^= (z ^ (z >> 29)) & mask
            z = ((left ^ k1) * _C1) & _M64
            z = ((z ^ (z >> 31)) * _C2) & _M64
            right ^= (z ^ (z >> 29)) & mask
            z = ((right ^ k2) * _C1) & _M64
            z = ((z ^ (z >> 31)) * _C2) & _M64
            left ^= (z ^ (z >> 29)) & mask
            z = ((left ^ k3) * _C1) & _M64
            z = ((z ^ (z >> 31)) * _C2) & _M64
            right ^= (z ^ (z >> 29)) & mask
            x = (left << half) | right
            if x < n:
                return x

    def __repr__(self) -> str:
        return f"Permutation(n={self._n})"

"""A keyed order over range(n) from a cyclic group, as zmap walks its address space.

Multiplying by a generator g of the group (Z/pZ)* visits every value 1..p-1 once, so
x -> x*g mod p with p the smallest safe prime above n, skipping values above n, is a
bijection on range(n) that costs one multiply and one modulo per step (far less than the
Feistel permutation it replaced: README, "Design figures"). The key picks g and the
starting point.
The walk's whole state is one int, which is what a resume file stores.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

_SMALL_PRIMES = (3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71)
_MR_BASES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41)  # exact below 3.3e24


def is_probable_prime(n: int) -> bool:
    if n < 2:
        return False
    for p in _SMALL_PRIMES + (2,):
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for a in _MR_BASES:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def safe_prime_above(n: int) -> int:
    """The smallest prime p > n with (p - 1) / 2 prime too: then p - 1 = 2q, so a generator
    is easy to test for without factoring."""
    q = max(2, n // 2)
    while True:
        p = 2 * q + 1
        if p > n and is_probable_prime(q) and is_probable_prime(p):
            return p
        q += 1


class CyclicOrder:
    """Every value of range(n) exactly once, in an order fixed by key."""

    def __init__(self, n: int, key: bytes) -> None:
        if n < 0:
            raise ValueError("size must not be negative")
        self.n = n
        self.prime = p = safe_prime_above(n + 1)
        q = (p - 1) // 2
        digest = hashlib.blake2b(key, digest_size=32, person=b"rawscan-cyclic").digest()
        a = 2 + int.from_bytes(digest[:16], "big") % (p - 3)
        while pow(a, q, p) == 1 or a * a % p == 1:  # a generates the whole group, not a subgroup
            a = 2 + (a - 1) % (p - 3)
        self.generator = a
        self.start = 1 + int.from_bytes(digest[16:], "big") % (p - 1)

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        """Indexes in walk order (the engine inlines this loop)."""
        n, g, p = self.n, self.generator, self.prime
        x = self.start
        for _ in range(p - 1):
            if x <= n:
                yield x - 1
            x = x * g % p

"""Keyed hashes that let replies be checked without a per-probe table (masscan's SYN cookies)."""

from __future__ import annotations

import hashlib
import sys
from array import array

HOST_CACHE_MAX = 1 << 12  # (src, dst) pairs remembered: enough for replies to recent probes
RANGE_MAX = 1 << 20  # targets whose host values remember_range() keeps in arrays (4 MB)


def derive_key(seed: int, purpose: str) -> bytes:
    """One independent 16-byte key per purpose, all from the scan's seed."""
    return hashlib.blake2b(
        seed.to_bytes(16, "big", signed=False), digest_size=16, person=purpose.encode()[:16]
    ).digest()


class Cookie:
    """A 32-bit keyed hash of a flow: what a genuine reply must echo back.

    One BLAKE2 call per flow costs as much as the rest of building a probe, so the
    flow hash is the XOR of three keyed values: one per (our address, target) pair (BLAKE2,
    remembered), and one per target port and per source port, read from two 65,536-entry
    tables that SHAKE-256 fills from the key in a millisecond. Nobody off the path sees any
    of them; a target sees only its own flows' cookies, which tell it nothing about another
    target's keyed value."""

    __slots__ = ("_key", "_hosts", "_dports", "_sports", "_lo", "_hi", "_by_source")

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._hosts: dict[int, int] = {}
        self._dports: array[int] | None = None
        self._sports: array[int] | None = None
        self._lo, self._hi = 1, 0  # a target range whose host values live in arrays
        self._by_source: dict[int, array[int]] = {}

    def remember_range(self, lo: int, hi: int) -> None:
        """Keep the host values of targets lo..hi in arrays (4 bytes a target and source
        address, filled as met) instead of the small cache: a /16 sweep then computes each
        target's BLAKE2 value once, not once for its probe and again for its reply."""
        if 0 <= hi - lo < RANGE_MAX:
            self._lo, self._hi, self._by_source = lo, hi, {}

    def range_table(self, src: int) -> tuple[int, int, array[int]] | None:
        """(lo, hi, values) for inlined hot loops: values[dst - lo], 0 when not yet known."""
        if self._hi < self._lo:
            return None
        table = self._by_source.get(src)
        if table is None:
            table = self._by_source[src] = array("I", bytes(4 * (self._hi - self._lo + 1)))
        return self._lo, self._hi, table

    def _table(self, purpose: bytes) -> array[int]:
        stream = hashlib.shake_256(self._key + b"rawscan-cookie-" + purpose).digest(4 * 65536)
        table = array("I", stream)
        if sys.byteorder == "little":
            table.byteswap()  # the same values on every machine: replays must agree
        return table

    def _compute(self, pair: int) -> int:
        digest = hashlib.blake2b(pair.to_bytes(34, "big"), digest_size=4, key=self._key,
                                 person=b"host").digest()
        return int.from_bytes(digest, "big")

    def host_values(self, src: int, targets: list[int]) -> bytes:
        """host(src, t) for each target, as 4 big-endian bytes each: one tight loop for the
        batch builders (a /16 sweep meets a new target with every probe)."""
        key, base = self._key, src << 136
        blake2b = hashlib.blake2b
        return b"".join([blake2b((base | t).to_bytes(34, "big"), digest_size=4, key=key,
                                 person=b"host").digest() for t in targets])

    def host(self, src: int, dst: int) -> int:
        if self._lo <= dst <= self._hi:
            table = self.range_table(src)
            assert table is not None
            values = table[2]
            value = values[dst - self._lo]
            if not value:  # not met yet (or a true 0, which is then recomputed: harmless)
                value = values[dst - self._lo] = self._compute((src << 136) | dst)
            return value
        pair = (src << 136) | dst
        cached = self._hosts.get(pair)
        if cached is None:
            if len(self._hosts) >= HOST_CACHE_MAX:
                self._hosts.clear()
            cached = self._hosts[pair] = self._compute(pair)
        return cached

    def host_table(self) -> dict[int, int]:
        """The remembered host values, keyed (src << 136) | dst: for inlined hot loops."""
        return self._hosts

    def dport_table(self) -> array[int]:
        if self._dports is None:
            self._dports = self._table(b"dport")
        return self._dports

    def sport_table(self) -> array[int]:
        if self._sports is None:
            self._sports = self._table(b"sport")
        return self._sports

    def dport(self, port: int) -> int:
        return self.dport_table()[port]

    def sport(self, port: int) -> int:
        return self.sport_table()[port]

    def __call__(self, src: int, dst: int, sport: int, dport: int) -> int:
        if self._dports is None or self._sports is None:
            return self.host(src, dst) ^ self.dport(dport) ^ self.sport(sport)
        if self._lo <= dst <= self._hi:
            values = self._by_source.get(src)
            host = values[dst - self._lo] if values is not None else 0
        else:
            host = self._hosts.get((src << 136) | dst) or 0
        if not host:
            host = self.host(src, dst)
        return host ^ self._dports[dport] ^ self._sports[sport]

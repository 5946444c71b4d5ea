"""Keyed hashes that let replies be checked without a per-probe table (masscan's SYN cookies)."""

from __future__ import annotations

import hashlib
import sys
from array import array

HOST_CACHE_MAX = 1 << 12  # (src, dst) pairs remembered: enough for replies to recent probes


def derive_key(seed: int, purpose: str) -> bytes:
    """One independent 16-byte key per purpose, all from the scan's seed."""
    return hashlib.blake2b(
        seed.to_bytes(16, "big", signed=False), digest_size=16, person=purpose.encode()[:16]
    ).digest()


class Cookie:
    """A 32-bit keyed hash of a flow: what a genuine reply must echo back.

    One BLAKE2 call per flow costs ~1.8 us, as much as the rest of building a probe, so the
    flow hash is the XOR of three keyed values: one per (our address, target) pair (BLAKE2,
    remembered), and one per target port and per source port, read from two 65,536-entry
    tables that SHAKE-256 fills from the key in a millisecond. Nobody off the path sees any
    of them; a target sees only its own flows' cookies, which tell it nothing about another
    target's keyed value."""

    __slots__ = ("_key", "_hosts", "_dports", "_sports")

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._hosts: dict[int, int] = {}
        self._dports: array | None = None
        self._sports: array | None = None

    def _table(self, purpose: bytes) -> array:
        stream = hashlib.shake_256(self._key + b"rawscan-cookie-" + purpose).digest(4 * 65536)
        table = array("I", stream)
        if sys.byteorder == "little":
            table.byteswap()  # the same values on every machine: replays must agree
        return table

    def host(self, src: int, dst: int) -> int:
        pair = (src << 136) | dst
        value = self._hosts.get(pair)
        if value is None:
            if len(self._hosts) >= HOST_CACHE_MAX:
                self._hosts.clear()
            digest = hashlib.blake2b(pair.to_bytes(34, "big"), digest_size=4, key=self._key,
                                     person=b"host").digest()
            value = self._hosts[pair] = int.from_bytes(digest, "big")
        return value

    def host_table(self) -> dict[int, int]:
        """The remembered host values, keyed (src << 136) | dst: for inlined hot loops."""
        return self._hosts

    def dport_table(self) -> array:
        if self._dports is None:
            self._dports = self._table(b"dport")
        return self._dports

    def sport_table(self) -> array:
        if self._sports is None:
            self._sports = self._table(b"sport")
        return self._sports

    def dport(self, port: int) -> int:
        return self.dport_table()[port]

    def sport(self, port: int) -> int:
        return self.sport_table()[port]

    def __call__(self, src: int, dst: int, sport: int, dport: int) -> int:
        host = self._hosts.get((src << 136) | dst)
        if host is None or self._dports is None or self._sports is None:
            return self.host(src, dst) ^ self.dport(dport) ^ self.sport(sport)
        return host ^ self._dports[dport] ^ self._sports[sport]

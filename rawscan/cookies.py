"""Keyed hashes that let replies be checked without a per-probe table (masscan's SYN cookies)."""

from __future__ import annotations

import hashlib
import struct


def derive_key(seed: int, purpose: str) -> bytes:
    """One independent 16-byte key per purpose, all from the scan's seed."""
    return hashlib.blake2b(
        seed.to_bytes(16, "big", signed=False), digest_size=16, person=purpose.encode()[:16]
    ).digest()


class Cookie:
    """A 32-bit keyed hash of a flow: what a genuine reply must echo back."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        self._key = key

    def __call__(self, src: int, dst: int, sport: int, dport: int) -> int:
        digest = hashlib.blake2b(
            struct.pack("!IIHH", src, dst, sport, dport), digest_size=4, key=self._key
        ).digest()
        return int.from_bytes(digest, "big")

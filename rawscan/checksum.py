"""Internet checksum helpers for patching prebuilt packets (RFC 1071 / RFC 1624)."""

from __future__ import annotations

import struct


def ones_sum(data: bytes) -> int:
    """Unfolded 16-bit one's-complement sum of data (zero-padded to even length)."""
    if len(data) % 2:
        data += b"\0"
    return sum(struct.unpack(f"!{len(data) // 2}H", data))


def fold(total: int) -> int:
    """Fold a running sum to 16 bits and complement it: the value to store."""
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF

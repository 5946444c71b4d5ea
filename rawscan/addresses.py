"""Addresses of both families as plain ints, in one ordered space.

An IPv4 address is its 32-bit value; an IPv6 address is its 128-bit value with bit 128 set
(V6). So ::1 and 0.0.0.1 stay distinct, IPv4 sorts before IPv6, and a prefix of either family
is still one contiguous (lo, hi) range of ints, which is what TargetSet and the engine need.
"""

from __future__ import annotations

import socket

V6 = 1 << 128
V6_MASK = V6 - 1
IPV4_MAX = (1 << 32) - 1


def is_v6(addr: int) -> bool:
    return addr >= V6


def family(addr: int) -> int:
    return socket.AF_INET6 if addr >= V6 else socket.AF_INET


def v6(value: int) -> int:
    """Tag a raw 128-bit IPv6 value."""
    return V6 | value


def addr_to_str(addr: int) -> str:
    """A tagged address int (either family) as text: '198.18.0.2', '2001:2::2'; ValueError
    for an int that is neither family's address. (The one address-to-text function.)"""
    if addr >= V6:
        if addr > V6 | V6_MASK:
            raise ValueError(f"{addr} is not an address")
        return socket.inet_ntop(socket.AF_INET6, (addr & V6_MASK).to_bytes(16, "big"))
    if not 0 <= addr <= IPV4_MAX:
        raise ValueError(f"{addr} is not an address")
    return f"{addr >> 24}.{(addr >> 16) & 255}.{(addr >> 8) & 255}.{addr & 255}"


def addr_to_bytes(addr: int) -> bytes:
    """The address as it sits in a packet header (4 or 16 bytes)."""
    return (addr & V6_MASK).to_bytes(16, "big") if addr >= V6 else addr.to_bytes(4, "big")


def addr_from_bytes(raw: bytes) -> int:
    """Inverse of addr_to_bytes: 4 bytes are IPv4, 16 bytes IPv6."""
    value = int.from_bytes(raw, "big")
    return V6 | value if len(raw) == 16 else value


def parse_addr(text: str) -> int:
    """A literal address of either family (IPv6 may be bracketed); ValueError if it is not one."""
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if ":" in text:
        if "%" in text:
            raise ValueError(f"scoped IPv6 address '{text}' is not supported")
        try:
            return V6 | int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
        except OSError:
            raise ValueError(f"invalid IPv6 address '{text}'") from None
    try:
        return int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
    except OSError:
        raise ValueError(f"invalid IPv4 address '{text}'") from None

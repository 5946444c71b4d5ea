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


def address_order(text: str) -> tuple[int, str]:
    """Sort key for a host given as text (result files, diffs): IPv4 hosts, then IPv6, each
    numerically, then anything that is no address, by its text."""
    try:
        return parse_addr(text), ""
    except ValueError:
        return 2 * V6, text


def parse_addr(text: str) -> int:
    """A literal address of either family (IPv6 may be bracketed) as a tagged int;
    ValueError saying why it is not one. (The one address parser: parse_ipv4, parse_ipv6.)"""
    if ":" in text or text.startswith("[") or text.endswith("]"):
        return parse_ipv6(text)
    return parse_ipv4(text)


def parse_ipv4(text: str) -> int:
    """A strict dotted quad (no '127.1' shorthand, no leading zeros: inet_aton would read
    '010' as octal 8) as an int; ValueError saying why not."""
    try:  # inet_pton accepts exactly these, and is the fast way
        return int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
    except (OSError, ValueError):
        pass
    parts = text.split(".")
    if len(parts) != 4:
        raise ValueError("expected four dot-separated octets")
    for part in parts:
        parse_octet(part)  # raises with the reason
    raise ValueError(f"invalid IPv4 address '{text}'")


def parse_octet(text: str) -> int:
    """One decimal octet (of an address, or of a target pattern's range); ValueError with the
    reason."""
    if not text:
        raise ValueError("empty octet")
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"octet '{text}' is not a number")
    if len(text) > 1 and text[0] == "0":
        raise ValueError(f"octet '{text}' has a leading zero")
    if len(text) > 3 or int(text) > 255:  # length first: int() of 5,000 digits raises
        raise ValueError("octet out of range")
    return int(text)


def parse_ipv6(text: str) -> int:
    """An IPv6 literal, bracketed or not, as a tagged int; ValueError saying why not (a
    scoped address, with its %zone, is refused: the zone is no part of the address)."""
    if text.startswith("[") or text.endswith("]"):
        if not (text.startswith("[") and text.endswith("]")):
            raise ValueError("unbalanced '[' or ']'")
        text = text[1:-1]
        if ":" not in text:
            raise ValueError("brackets are for IPv6 addresses only")
    if "%" in text:
        raise ValueError("scoped IPv6 addresses (with %zone) are not supported")
    try:
        return V6 | int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
    except (OSError, ValueError):
        raise ValueError(f"'{text}' is not an IPv6 address") from None

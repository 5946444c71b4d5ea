"""Fixed-offset header parsing with struct: the fast path for replies (Scapy is ~20x slower)."""

from __future__ import annotations

import struct
from typing import NamedTuple

_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_ICMP = struct.Struct("!BB")

PROTO_ICMP, PROTO_TCP, PROTO_UDP = 1, 6, 17


class IPv4(NamedTuple):
    src: int
    dst: int
    proto: int
    ttl: int
    header_len: int


class IcmpError(NamedTuple):
    icmp_type: int
    code: int
    quoted: IPv4  # the header of our probe as the ICMP sender saw it
    quoted_l4: bytes  # the start of our probe's TCP/UDP header (at least 8 bytes)


def ipv4(packet: bytes) -> IPv4 | None:
    """The IPv4 header fields we need, or None if this is not a sane IPv4 packet."""
    if len(packet) < 20:
        return None
    vihl, _tos, _len, _id, frag, ttl, proto, _sum, src, dst = _IPV4.unpack_from(packet)
    header_len = (vihl & 0x0F) * 4
    if vihl >> 4 != 4 or header_len < 20 or len(packet) < header_len or frag & 0x1FFF:
        return None  # later fragments carry no transport header
    return IPv4(int.from_bytes(src, "big"), int.from_bytes(dst, "big"), proto, ttl, header_len)


def icmp_error(packet: bytes, outer: IPv4) -> IcmpError | None:
    """An ICMP error and the probe header it quotes (RFC 792 quotes IP header + 8 bytes)."""
    start = outer.header_len
    if outer.proto != PROTO_ICMP or len(packet) < start + 8:
        return None
    icmp_type, code = _ICMP.unpack_from(packet, start)
    inner_bytes = packet[start + 8 :]
    inner = ipv4(inner_bytes)
    if inner is None or len(inner_bytes) < inner.header_len + 8:
        return None
    return IcmpError(icmp_type, code, inner, inner_bytes[inner.header_len : inner.header_len + 8])

"""Fixed-offset header parsing with struct: the fast path for replies (Scapy's dissection is
two orders of magnitude slower: README, "Design figures").

IPv4 and IPv6 headers come back in one shape (src, dst, proto, ttl, header_len), addresses as
the ints of rawscan.addresses (IPv6 tagged with V6), so a reply path can take either family
through ip_header() and ip_icmp_error() and tell them apart by `src >= V6` when it must.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from .addresses import V6

_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_IPV6 = struct.Struct("!B5xBB16s16s")  # version/class, next header, hop limit, src, dst
_ICMP = struct.Struct("!BB")

PROTO_ICMP, PROTO_TCP, PROTO_UDP, PROTO_ICMPV6 = 1, 6, 17, 58

# IPv6 extension headers walked to reach the upper layer: hop-by-hop options, routing,
# fragment, authentication (AH), destination options. ESP (50) hides what follows, and
# "no next header" (59) has nothing: both are returned as the upper-layer protocol.
_HOP_BY_HOP, _ROUTING, _FRAGMENT, _AH, _DEST_OPTS = 0, 43, 44, 51, 60
IPV6_EXTENSIONS = _EXTENSIONS = frozenset((_HOP_BY_HOP, _ROUTING, _FRAGMENT, _AH, _DEST_OPTS))
MAX_EXTENSIONS = 8  # RFC 8200's order has at most 7; more is garbage, not worth walking

# The IPv6 / ip_header path builds its tuples with tuple.__new__ (a NamedTuple's own __new__
# is a Python function) and calls from_bytes without the "big" keyword (the default since
# 3.11; keyword parsing costs a little on every call).
_new = tuple.__new__
_int = int.from_bytes


class IPv4(NamedTuple):
    src: int
    dst: int
    proto: int
    ttl: int
    header_len: int


class IPv6(NamedTuple):
    """IPv4's shape, so reply code can take either: `ttl` is the hop limit, `proto` the
    upper-layer protocol past any extension headers, `header_len` where that header starts."""

    src: int  # tagged: addresses.V6 | the 128-bit address
    dst: int
    proto: int
    ttl: int
    header_len: int  # 40 plus the extension headers


class IcmpError(NamedTuple):
    icmp_type: int
    code: int
    quoted: IPv4 | IPv6  # the header of our probe as the ICMP sender saw it
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


LATER_FRAGMENT = -2  # ipv6_upper_layer's offset for a later fragment (-1: damaged)


def ipv6_upper_layer(packet: bytes, nh: int, p: int) -> tuple[int, int]:
    """Walk IPv6 extension headers from the one of type nh at offset p: (upper-layer protocol,
    its offset), or an offset of -1 for a header cut short or an over-long chain, and of
    LATER_FRAGMENT for a fragment other than the first (it carries no transport header)."""
    end = len(packet)
    for _ in range(MAX_EXTENSIONS):
        if p + 8 > end:  # every extension header is at least 8 bytes
            return -1, -1
        if nh == _FRAGMENT:
            if (packet[p + 2] << 8 | packet[p + 3]) & 0xFFF8:
                return -1, LATER_FRAGMENT
            nh, p = packet[p], p + 8
        elif nh == _AH:
            nh, p = packet[p], p + (packet[p + 1] + 2) * 4  # AH counts 4-byte units
        else:
            nh, p = packet[p], p + (packet[p + 1] + 1) * 8
        if nh not in _EXTENSIONS:
            return (nh, p) if p <= end else (-1, -1)
    return -1, -1


def ipv6(packet: bytes) -> IPv6 | None:
    """The IPv6 header fields we need (extension headers walked), or None if this is not a
    sane IPv6 packet or is a later fragment."""
    if len(packet) < 40:
        return None
    vtc, nh, hlim, src, dst = _IPV6.unpack_from(packet)
    if vtc >> 4 != 6:
        return None
    p = 40
    if nh in _EXTENSIONS:
        nh, p = ipv6_upper_layer(packet, nh, 40)
        if p < 0:
            return None
    return _new(IPv6, (V6 | _int(src), V6 | _int(dst), nh, hlim, p))


def ip_header(packet: bytes) -> IPv4 | IPv6 | None:
    """ipv4() or ipv6(), by the version nibble: the entry point for replies of either family."""
    if len(packet) < 20:
        return None
    version = packet[0] >> 4
    if version == 4:  # ipv4(), inlined: this runs for every reply
        vihl, _tos, _len, _id, frag, ttl, proto, _sum, src, dst = _IPV4.unpack_from(packet)
        header_len = (vihl & 0x0F) * 4
        if header_len < 20 or len(packet) < header_len or frag & 0x1FFF:
            return None
        return _new(IPv4, (_int(src), _int(dst), proto, ttl, header_len))
    if version == 6:
        return ipv6(packet)
    return None


def icmp6_error(packet: bytes, outer: IPv6) -> IcmpError | None:
    """An ICMPv6 error (destination unreachable, packet too big, time exceeded, parameter
    problem) and the probe it quotes: its IPv6 header (extension headers walked; header_len
    counts from the quote's start) and the first 8 bytes of its TCP/UDP header."""
    start = outer.header_len
    if outer.proto != PROTO_ICMPV6 or len(packet) < start + 48:  # ICMPv6 + quoted IPv6 header
        return None
    icmp_type, code = _ICMP.unpack_from(packet, start)
    if not 0 < icmp_type < 128:  # types 128-255 are informational: they quote nothing
        return None
    base = start + 8
    vtc, nh, hlim, src, dst = _IPV6.unpack_from(packet, base)
    if vtc >> 4 != 6:
        return None
    p = base + 40
    if nh in _EXTENSIONS:
        nh, p = ipv6_upper_layer(packet, nh, p)
        if p < 0:
            return None
    if len(packet) < p + 8:
        return None
    quoted = _new(IPv6, (V6 | _int(src), V6 | _int(dst), nh, hlim, p - base))
    return _new(IcmpError, (icmp_type, code, quoted, packet[p : p + 8]))


def ip_icmp_error(packet: bytes, outer: IPv4 | IPv6) -> IcmpError | None:
    """icmp_error() or icmp6_error(), by the outer header's family (the IPv4 case gives what
    icmp_error() gives, without its copy of the quote: README, "Design figures")."""
    if isinstance(outer, IPv6):
        return icmp6_error(packet, outer)
    start = outer.header_len
    if outer.proto != PROTO_ICMP or len(packet) < start + 28:  # ICMP + quoted IPv4 header
        return None
    icmp_type, code = _ICMP.unpack_from(packet, start)
    base = start + 8
    vihl, _tos, _len, _id, frag, ttl, proto, _sum, src, dst = _IPV4.unpack_from(packet, base)
    header_len = (vihl & 0x0F) * 4
    l4 = base + header_len
    if vihl >> 4 != 4 or header_len < 20 or frag & 0x1FFF or len(packet) < l4 + 8:
        return None
    quoted = _new(IPv4, (_int(src), _int(dst), proto, ttl, header_len))
    return _new(IcmpError, (icmp_type, code, quoted, packet[l4 : l4 + 8]))

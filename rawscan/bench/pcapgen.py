"""Fast synthetic captures: IPv4 and IPv6 packets built with struct, written as an Ethernet pcap.

Scapy takes ~100 us to build and write one packet; a million would take minutes. Checksums are
left zero: nothing that reads these files (rawscan analyze, tshark -T fields) verifies them.
Addresses are rawscan.addresses ints: tcp(), udp() and icmp_error() build IPv6 when given
IPv6 (tagged) addresses or an IPv6 packet to quote.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

from ..addresses import V6, V6_MASK

_PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)  # LINKTYPE_ETHERNET
_RECORD = struct.Struct("<IIII")
_MACS = bytes.fromhex("020000000002" "020000000001")  # fixed lab MACs: dst, src
_ETHERNET_V4, _ETHERNET_V6 = _MACS + b"\x08\x00", _MACS + b"\x86\xdd"
_IP = struct.Struct("!BBHHHBBH4s4s")
_IP6 = struct.Struct("!IHBB16s16s")
_TCP = struct.Struct("!HHIIBBHHH")
_UDP = struct.Struct("!HHHH")

SYN, RST, ACK, PSH = 0x02, 0x04, 0x10, 0x08


def ipv4(src: int, dst: int, proto: int, payload: bytes, ttl: int = 64, ident: int = 0) -> bytes:
    header = _IP.pack(0x45, 0, 20 + len(payload), ident, 0, ttl, proto, 0,
                      src.to_bytes(4, "big"), dst.to_bytes(4, "big"))
    return header + payload


def ipv6(src: int, dst: int, nh: int, payload: bytes, hlim: int = 64) -> bytes:
    """`payload` may start with extension headers; nh is then the first one's type."""
    return _IP6.pack(6 << 28, len(payload), nh, hlim, (src & V6_MASK).to_bytes(16, "big"),
                     (dst & V6_MASK).to_bytes(16, "big")) + payload


def _ip(src: int, dst: int, proto: int, payload: bytes, ttl: int) -> bytes:
    return ipv6(src, dst, proto, payload, ttl) if src >= V6 else ipv4(src, dst, proto, payload, ttl)


def tcp(src: int, dst: int, sport: int, dport: int, flags: int, seq: int = 0, ack: int = 0,
        payload: bytes = b"", ttl: int = 64) -> bytes:
    segment = _TCP.pack(sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 1024, 0, 0)
    return _ip(src, dst, 6, segment + payload, ttl)


def udp(src: int, dst: int, sport: int, dport: int, payload: bytes = b"", ttl: int = 64) -> bytes:
    return _ip(src, dst, 17, _UDP.pack(sport, dport, 8 + len(payload), 0) + payload, ttl)


def icmp_error(src: int, quoted: bytes, icmp_type: int = 3, code: int = 3, ttl: int = 64) -> bytes:
    """An ICMP error from `src` quoting the IP header and first 8 bytes of `quoted`; for an
    IPv6 `quoted`, an ICMPv6 error quoting all of it (as much as fits in 1280 bytes, as RFC
    4443 says). Type and code are the family's own: ICMPv6 port unreachable is 1/4."""
    if quoted[0] >> 4 == 6:
        body = struct.pack("!BBHI", icmp_type, code, 0, 1280 if icmp_type == 2 else 0) + quoted[:1232]
        return ipv6(src, V6 | int.from_bytes(quoted[8:24], "big"), 58, body, ttl)
    ihl = (quoted[0] & 0x0F) * 4
    body = struct.pack("!BBHI", icmp_type, code, 0, 0) + quoted[: ihl + 8]
    dst = int.from_bytes(quoted[12:16], "big")
    return ipv4(src, dst, 1, body, ttl)


class PcapWriter:
    """Append packets to an Ethernet pcap; `time` is epoch seconds."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        out.write(_PCAP_HEADER)

    def write(self, time: float, packet: bytes) -> None:
        sec = int(time)
        v6 = bool(packet) and packet[0] >> 4 == 6
        frame = (_ETHERNET_V6 if v6 else _ETHERNET_V4) + packet
        self._out.write(_RECORD.pack(sec, int((time - sec) * 1e6), len(frame), len(frame)) + frame)

"""Fast synthetic captures: IPv4 packets built with struct, written as an Ethernet pcap.

Scapy takes ~100 us to build and write one packet; a million would take minutes. Checksums are
left zero: nothing that reads these files (rawscan analyze, tshark -T fields) verifies them.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

_PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)  # LINKTYPE_ETHERNET
_RECORD = struct.Struct("<IIII")
_MACS = bytes.fromhex("020000000002" "020000000001")  # fixed lab MACs: dst, src
_ETHERNET_V4, _ETHERNET_V6 = _MACS + b"\x08\x00", _MACS + b"\x86\xdd"
_IP = struct.Struct("!BBHHHBBH4s4s")
_TCP = struct.Struct("!HHIIBBHHH")
_UDP = struct.Struct("!HHHH")

SYN, RST, ACK, PSH = 0x02, 0x04, 0x10, 0x08


def ipv4(src: int, dst: int, proto: int, payload: bytes, ttl: int = 64, ident: int = 0) -> bytes:
    header = _IP.pack(0x45, 0, 20 + len(payload), ident, 0, ttl, proto, 0,
                      src.to_bytes(4, "big"), dst.to_bytes(4, "big"))
    return header + payload


def tcp(src: int, dst: int, sport: int, dport: int, flags: int, seq: int = 0, ack: int = 0,
        payload: bytes = b"", ttl: int = 64) -> bytes:
    segment = _TCP.pack(sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 1024, 0, 0)
    return ipv4(src, dst, 6, segment + payload, ttl)


def udp(src: int, dst: int, sport: int, dport: int, payload: bytes = b"", ttl: int = 64) -> bytes:
    return ipv4(src, dst, 17, _UDP.pack(sport, dport, 8 + len(payload), 0) + payload, ttl)


def icmp_error(src: int, quoted: bytes, icmp_type: int = 3, code: int = 3, ttl: int = 64) -> bytes:
    """An ICMP error from `src` quoting the IP header and first 8 bytes of `quoted`."""
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

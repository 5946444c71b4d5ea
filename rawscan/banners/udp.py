"""--banners on a UDP scan: the replies to rawscan's protocol probes already say what
answers, so nothing more is sent (but to DNS servers: banners/dns.py). The probe module is wrapped to keep the payload of each
port's first UDP reply (at most CAP bytes, only for ports that answered), and small pure
decoders name it: NTP version and stratum, SNMP version and sysDescr, DNS, SSDP's SERVER,
memcached's VERSION; anything else goes through the TCP banner rules.
"""

from __future__ import annotations

import re
from typing import Any

from ..results import PortResult
from ..wire import ip_header
from .grab import CAP, Grab
from .rules import _SERVER, Identity, identify
from .text import printable

MAX_KEPT = 65536  # ports whose reply waits to be reported: the engine reports each at once
_SYSDESCR = b"\x06\x08\x2b\x06\x01\x02\x01\x01\x01\x00\x04"  # OID 1.3.6.1.2.1.1.1.0, OCTET STRING
_SNMP_VERSIONS = {0: "v1", 1: "v2c", 3: "v3"}
_SSDP = re.compile(rb"HTTP/1\.[01] 200")


class ReplyKeeper:
    """A probe module that also keeps the payload of the first UDP answer per endpoint."""

    def __init__(self, probe: Any) -> None:
        self._probe = probe
        self._kept: dict[tuple[int, int], bytes] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._probe, name)

    def parse_reply(self, packet: bytes) -> Any:
        reply = self._probe.parse_reply(packet)
        if reply is not None and not reply.icmp and len(self._kept) < MAX_KEPT:
            key = (reply.target, reply.port)
            if key not in self._kept:
                ip = ip_header(packet)
                if ip is not None:
                    self._kept[key] = bytes(packet[ip.header_len + 8:ip.header_len + 8 + CAP])
        return reply

    def take(self, target: int, port: int) -> bytes | None:
        return self._kept.pop((target, port), None)


def _ntp(payload: bytes) -> Identity | None:
    if len(payload) < 48 or payload[0] & 7 not in (4, 5):  # server or broadcast mode
        return None
    return Identity("ntp", "NTP", f"v{payload[0] >> 3 & 7}", f"stratum {payload[1]}")


def _snmp(payload: bytes) -> Identity | None:
    if len(payload) < 7 or payload[0] != 0x30:
        return None
    at = payload.find(b"\x02\x01", 1, 6)  # version INTEGER right after the sequence header
    version = _SNMP_VERSIONS.get(payload[at + 2]) if at > 0 else None
    descr = None
    found = payload.find(_SYSDESCR)
    if found >= 0:
        start = found + len(_SYSDESCR)
        length = payload[start] if start < len(payload) else 0
        if length == 0x81 and start + 1 < len(payload):
            start, length = start + 1, payload[start + 1]
        elif length & 0x80:
            length = 0  # longer than 255 bytes: not kept
        descr = printable(payload[start + 1:start + 1 + length], 200) or None
    return Identity("snmp", "SNMP", version, descr)


def _dns(payload: bytes) -> Identity | None:
    if len(payload) < 12 or not payload[2] & 0x80:  # QR: a response
        return None
    return Identity("domain", extrainfo=f"rcode {payload[3] & 0x0F}")


def _ssdp(payload: bytes) -> Identity | None:
    if not _SSDP.match(payload):
        return None
    server = _SERVER.search(payload)
    return Identity("upnp", printable(server.group(1).strip(), 80) or None if server else None)


def _memcached(payload: bytes) -> Identity | None:
    return identify(payload[8:]) if len(payload) > 8 else None


UDP_DECODERS = {123: _ntp, 161: _snmp, 53: _dns, 5353: _dns, 1900: _ssdp, 11211: _memcached}


def identify_udp(port: int, payload: bytes) -> Identity | None:
    """What a UDP port's reply shows: its port's decoder first, then the generic rules."""
    decoder = UDP_DECODERS.get(port)
    found = decoder(payload) if decoder is not None else None
    return found or identify(payload)


def udp_facts(result: PortResult, payload: bytes | None) -> PortResult:
    """result with what its reply showed (unchanged when no payload was kept)."""
    if not payload:
        return result
    from .phase import enriched

    return enriched(result, Grab(payload, None, identify_udp(result.port, payload)))

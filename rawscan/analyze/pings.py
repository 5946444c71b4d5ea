"""Ping sweeps in a capture (nmap -sn, rawscan ping, any tool): hosts up or down.

A pinger is a source that sent ICMP echo or timestamp requests (ICMPv6 echo). Its probes to a
host are those requests and its TCP SYNs and bare ACKs; the host is up at its first answer
that matches a probe (an echo or timestamp reply echoing its id and sequence number, a SYN-ACK
or RST acknowledging a SYN, a RST whose sequence number is an ACK probe's acknowledgement
number, ICMP port or protocol unreachable from the host itself), with rawscan ping's reasons;
else down, with the reason of an ICMP error from a router quoting one of the probes (the
names of rawscan.classify), or no-response.

Fed the analysis pass's batches (analyze/batches.Columns): numpy picks the rows that may
matter (ICMP, and TCP from or to a pinger), and only those are parsed one by one, so a capture
without pings costs one array test per batch.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..addresses import V6, addr_to_str
from ..classify import ICMP6_DEST_UNREACH, ICMP_DEST_UNREACH, UNREACH6_REASONS, UNREACH_REASONS
from ..wire import PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, IPv4, IPv6, ip_header, ip_icmp_error

if TYPE_CHECKING:
    from .batches import Columns

ECHO, ECHO_REPLY, TIMESTAMP, TIMESTAMP_REPLY, ECHO6, ECHO6_REPLY = 8, 0, 13, 14, 128, 129
SYN, RST, ACK = 0x02, 0x04, 0x10
TIME_EXCEEDED, TIME6_EXCEEDED = 11, 3
PROBES_MAX = 1 << 22  # outstanding probes kept (a /16 sweep with nmap's 4 probes: 262,144)


@dataclass
class HostSeen:
    """One (pinger, host): the first answer that showed it up, or the best reason it is down."""

    probes: int = 0
    first_probe: float = 0.0
    status: str = "down"
    reason: str = "no-response"
    ttl: int | None = None
    rtt: float | None = None


@dataclass
class PingSweeps:
    hosts: dict[tuple[int, int], HostSeen] = field(default_factory=dict)  # (pinger, host)
    pingers: set[int] = field(default_factory=set)
    _v4_pingers: Any = None  # numpy array of IPv4 pingers, for the row filter
    _probes: dict[tuple[object, ...], float] = field(default_factory=dict)  # key -> time sent

    def feed(self, cols: Columns) -> None:
        import numpy as np

        rows = cols.rows
        if not len(rows):
            return
        version = rows[:, 0] >> 4
        v4, v6 = version == 4, version == 6
        proto = np.where(v4, rows[:, 9], np.where(v6, rows[:, 6], 0))
        pick = (proto == PROTO_ICMP) & v4 | (proto == PROTO_ICMPV6) & v6
        # pingers first (their TCP probes in this batch may come before their first echo)
        at = np.where(v4, (rows[:, 0] & 15).astype(np.int64) * 4, 40)
        icmp_type = rows[np.arange(len(rows)), np.minimum(at, rows.shape[1] - 1)]
        requests = (((proto == PROTO_ICMP) & v4 & ((icmp_type == ECHO) | (icmp_type == TIMESTAMP)))
                    | ((proto == PROTO_ICMPV6) & v6 & (icmp_type == ECHO6)))
        for i in np.flatnonzero(requests).tolist():
            header = ip_header(cols.packet(i))
            if header is not None:
                self._add_pinger(header.src)
        if self.pingers:
            tcp = proto == PROTO_TCP
            if self._v4_pingers is not None:
                src = rows[:, 12:16].astype(np.uint32)
                dst = rows[:, 16:20].astype(np.uint32)
                s = (src[:, 0] << 24) | (src[:, 1] << 16) | (src[:, 2] << 8) | src[:, 3]
                d = (dst[:, 0] << 24) | (dst[:, 1] << 16) | (dst[:, 2] << 8) | dst[:, 3]
                pingers = self._v4_pingers
                pick |= tcp & v4 & (np.isin(s, pingers) | np.isin(d, pingers))
            if any(p >= V6 for p in self.pingers):
                pick |= tcp & v6
        for i in np.flatnonzero(pick).tolist():
            self._packet(cols.packet(i), float(cols.times[i]))

    def _host(self, pinger: int, host: int) -> HostSeen | None:
        return self.hosts.get((pinger, host))

    def _probe(self, pinger: int, host: int, key: tuple[object, ...], when: float) -> None:
        seen = self.hosts.get((pinger, host))
        if seen is None:
            seen = self.hosts[(pinger, host)] = HostSeen(first_probe=when)
        seen.probes += 1
        if len(self._probes) < PROBES_MAX:
            self._probes[key] = when

    def _up(self, pinger: int, host: int, key: tuple[object, ...], reason: str, ttl: int,
            when: float) -> None:
        sent = self._probes.get(key)
        seen = self.hosts.get((pinger, host))
        if sent is None or seen is None or seen.status == "up":
            return
        seen.status, seen.reason, seen.ttl, seen.rtt = "up", reason, ttl, max(0.0, when - sent)

    def _add_pinger(self, address: int) -> None:
        if address in self.pingers:
            return
        self.pingers.add(address)
        import numpy as np

        v4 = [p for p in self.pingers if p < V6]
        self._v4_pingers = np.array(v4, dtype=np.uint32) if v4 else None

    def _packet(self, packet: bytes, when: float) -> None:
        ip = ip_header(packet)
        if ip is None:
            return
        off = ip.header_len
        if ip.proto in (PROTO_ICMP, PROTO_ICMPV6):
            if len(packet) < off + 8:
                return
            kind = packet[off]
            ident, seq = struct.unpack_from("!HH", packet, off + 4)
            if kind in (ECHO, TIMESTAMP, ECHO6) and packet[off + 1] == 0:
                v6 = ip.proto == PROTO_ICMPV6
                if (kind == ECHO6) != v6:
                    return
                self._add_pinger(ip.src)
                self._probe(ip.src, ip.dst, ("i", kind, ip.src, ip.dst, ident, seq), when)
            elif kind in (ECHO_REPLY, TIMESTAMP_REPLY, ECHO6_REPLY) and packet[off + 1] == 0:
                request = {ECHO_REPLY: ECHO, TIMESTAMP_REPLY: TIMESTAMP, ECHO6_REPLY: ECHO6}[kind]
                reason = "timestamp-reply" if kind == TIMESTAMP_REPLY else "echo-reply"
                self._up(ip.dst, ip.src, ("i", request, ip.dst, ip.src, ident, seq), reason,
                         ip.ttl, when)
            else:
                self._error(packet, ip, when)
            return
        if ip.proto != PROTO_TCP or len(packet) < off + 14:
            return
        sport, dport, seq, ack, _o, flags = struct.unpack_from("!HHIIBB", packet, off)
        flags &= SYN | RST | ACK | 0x01
        if ip.src in self.pingers:
            if flags == SYN:
                self._probe(ip.src, ip.dst, ("s", ip.src, ip.dst, sport, dport, (seq + 1) & 0xFFFFFFFF), when)
            elif flags == ACK and len(packet) - off <= (packet[off + 12] >> 4) * 4:
                self._probe(ip.src, ip.dst, ("a", ip.src, ip.dst, sport, dport, ack), when)
                if len(self._probes) < PROBES_MAX:  # what an ICMP error quotes of it
                    self._probes[("q", ip.src, ip.dst, sport, dport, seq)] = when
        elif ip.dst in self.pingers:
            if flags & ACK and flags & (SYN | RST):
                reason = "syn-ack" if flags & SYN else "reset"
                self._up(ip.dst, ip.src, ("s", ip.dst, ip.src, dport, sport, ack), reason, ip.ttl, when)
            elif flags == RST:
                self._up(ip.dst, ip.src, ("a", ip.dst, ip.src, dport, sport, seq), "reset", ip.ttl, when)

    def _error(self, packet: bytes, ip: IPv4 | IPv6, when: float) -> None:
        error = ip_icmp_error(packet, ip)
        if error is None:
            return
        quoted, l4 = error.quoted, error.quoted_l4
        pinger, host = quoted.src, quoted.dst
        seen = self.hosts.get((pinger, host))
        if seen is None or seen.status == "up":
            return
        if quoted.proto in (PROTO_ICMP, PROTO_ICMPV6):
            kind, _c, _s, ident, seq = struct.unpack_from("!BBHHH", l4)
            key: tuple[object, ...] = ("i", kind, pinger, host, ident, seq)
        elif quoted.proto == PROTO_TCP:
            sport, dport, seq = struct.unpack_from("!HHI", l4)
            key = ("s", pinger, host, sport, dport, (seq + 1) & 0xFFFFFFFF)
            if key not in self._probes:
                key = ("q", pinger, host, sport, dport, seq)
        else:
            return
        if key not in self._probes:
            return
        v6 = host >= V6
        src = ip.src
        if error.icmp_type == (TIME6_EXCEEDED if v6 else TIME_EXCEEDED):
            reason = "time-exceeded"
        elif error.icmp_type == (ICMP6_DEST_UNREACH if v6 else ICMP_DEST_UNREACH):
            reason = (UNREACH6_REASONS if v6 else UNREACH_REASONS).get(error.code, "")
            if not reason:
                return
            if src == host and reason in ("port-unreach", "proto-unreach"):
                self._up(pinger, host, key, reason, ip.ttl, when)
                return
        else:
            return
        seen.reason, seen.ttl = reason, ip.ttl

    def results(self) -> Iterator[tuple[int, int, HostSeen]]:
        """(pinger, host, what was seen), pingers then hosts in address order."""
        for (pinger, host) in sorted(self.hosts):
            yield pinger, host, self.hosts[(pinger, host)]


def host_record(pinger: int, host: int, seen: HostSeen) -> dict[str, object]:
    return {"ip": addr_to_str(host), "status": seen.status, "reason": seen.reason,
            "ttl": seen.ttl, "rtt_ms": None if seen.rtt is None else round(seen.rtt * 1000, 3),
            "scanner": addr_to_str(pinger), "probes": seen.probes}

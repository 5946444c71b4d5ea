"""UDP probes: a reply -> open, ICMP port unreachable from the target -> closed, silence -> open|filtered.

The cookie lives in the source port (a keyed hash of the flow, as masscan does) and, where the
protocol has one, in the payload's transaction id (see payloads.py).
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from ..addresses import V6, addr_to_bytes, is_v6
from ..checksum import fold, ones_sum
from ..classify import classify_icmp, classify_icmp6, classify_silence, classify_udp_response
from ..cookies import Cookie
from ..payloads import Payload
from ..results import Verdict
from ..wire import PROTO_UDP, ip_header, ip_icmp_error
from .base import ICMP_ERRORS_BPF, Flow, ProbeModule, Reply, bpf_to_us, pick_source

SPORT_LOW, SPORT_SPAN = 32768, 28232  # Linux's ephemeral range: where replies are expected
_PORTS = struct.Struct("!HH")
_IP_HEAD = struct.Struct("!BBHHHBBHII")
_IP6_HEAD = struct.Struct("!IHBB16s16s")


class UdpProbe(ProbeModule):
    proto = "udp"
    name = "udp"

    def __init__(self, sources: tuple[int, ...], cookie: Cookie,
                 payload_for: Callable[[int], Payload], ttl: int = 64) -> None:
        self.sources, self.cookie, self.payload_for, self.ttl = sources, cookie, payload_for, ttl
        self._ours = frozenset(sources)
        self._by_family = {fam: tuple(a for a in sources if is_v6(a) == fam) for fam in (False, True)}
        self._silence = classify_silence("udp")
        self._any_port_services: list[int] = []  # ports whose replies come from elsewhere

    def source_port(self, src: int, target: int, port: int) -> int:
        return SPORT_LOW + self.cookie(src, target, 0, port) % SPORT_SPAN

    def bpf_filter(self) -> str:
        span = f"{SPORT_LOW}-{SPORT_LOW + SPORT_SPAN - 1}"
        return f"{bpf_to_us(self.sources)} and ((udp and dst portrange {span}) or {ICMP_ERRORS_BPF})"

    def build(self, target: int, port: int, attempt: int = 0) -> bytes:
        src = pick_source(self._by_family[target >= V6], target, port, attempt)
        sport = self.source_port(src, target, port)
        payload_kind = self.payload_for(port)
        if payload_kind.any_source_port and port not in self._any_port_services:
            self._any_port_services.append(port)
        payload = payload_kind.build(self.cookie(src, target, sport, port))
        length = 8 + len(payload)
        pseudo = ones_sum(addr_to_bytes(src) + addr_to_bytes(target)) + PROTO_UDP + length
        udp_sum = fold(pseudo + sport + port + length + ones_sum(payload)) or 0xFFFF
        udp = struct.pack("!HHHH", sport, port, length, udp_sum) + payload
        if target >= V6:
            return _IP6_HEAD.pack(0x60000000, length, PROTO_UDP, self.ttl, addr_to_bytes(src),
                                  addr_to_bytes(target)) + udp
        ip_id = sport ^ (port << 1) & 0xFFFF
        header = _IP_HEAD.pack(0x45, 0, 20 + length, ip_id, 0, self.ttl, PROTO_UDP, 0, src, target)
        header = header[:10] + struct.pack("!H", fold(ones_sum(header))) + header[12:]
        return header + udp

    def _port_for_reply(self, us: int, target: int, sport: int, dport: int) -> int | None:
        """The probed port a UDP reply answers, if it went to the source port we used for it."""
        if dport == self.source_port(us, target, sport):
            return sport
        for port in self._any_port_services:
            if dport == self.source_port(us, target, port):
                return port
        return None

    def parse_reply(self, packet: bytes) -> Reply | None:
        ip = ip_header(packet)
        if ip is None:
            return None
        off = ip.header_len
        if ip.proto == PROTO_UDP:
            if len(packet) < off + 8 or ip.dst not in self._ours:
                return None
            sport, dport = _PORTS.unpack_from(packet, off)
            if ip.src in self._ours and sport == self.source_port(ip.src, ip.dst, dport):
                return None  # our own probe, looped back
            port = self._port_for_reply(ip.dst, ip.src, sport, dport)
            if port is None:
                return None
            cookie = self.cookie(ip.dst, ip.src, dport, port)
            if not self.payload_for(port).accepts(packet[off + 8 :], cookie):
                return None
            return Reply(ip.src, port, classify_udp_response(ip.ttl))
        error = ip_icmp_error(packet, ip)
        if error is None or error.quoted.proto != PROTO_UDP or error.quoted.src not in self._ours:
            return None
        sport, dport = _PORTS.unpack_from(error.quoted_l4)
        target = error.quoted.dst
        if sport != self.source_port(error.quoted.src, target, dport):
            return None
        classify = classify_icmp6 if target >= V6 else classify_icmp
        verdict = classify("udp", error.icmp_type, error.code, ip.src == target, ip.ttl)
        return Reply(target, dport, verdict, icmp=True) if verdict else None

    def flow(self, packet: bytes) -> Flow | None:
        ip = ip_header(packet)
        if ip is None:
            return None
        off = ip.header_len
        if ip.proto == PROTO_UDP and len(packet) >= off + 8:
            sport, dport = _PORTS.unpack_from(packet, off)
            if ip.src in self._ours and sport == self.source_port(ip.src, ip.dst, dport):
                if self.payload_for(dport).any_source_port and dport not in self._any_port_services:
                    self._any_port_services.append(dport)
                return Flow(ip.dst, dport, True)
            if ip.dst in self._ours:
                port = self._port_for_reply(ip.dst, ip.src, sport, dport)
                return Flow(ip.src, port if port is not None else sport, False)
            return None
        error = ip_icmp_error(packet, ip)
        if error is None or error.quoted.proto != PROTO_UDP:
            return None
        _sport, dport = _PORTS.unpack_from(error.quoted_l4)
        return Flow(error.quoted.dst, dport, False)

    def silence(self) -> Verdict:
        return self._silence

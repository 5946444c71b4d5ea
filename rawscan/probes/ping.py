"""Host discovery probes (nmap -sn's): ICMP echo and timestamp, TCP SYN and ACK, UDP.

The engine's endpoints are (host, probe kind): the "port" of an endpoint is the index of its
kind in the scan's probe list, so the keyed order spreads a host's probes over the round and
the first checked answer decides the whole host (decides_host: its other probes are not sent
again). Every probe carries a keyed cookie its answer must echo: the ICMP id and sequence
number, the TCP sequence number (a SYN-ACK or RST+ACK acknowledges it + 1; the RST to an ACK
probe carries our acknowledgement number as its sequence number), the UDP source port; an
ICMP error must quote it.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..addresses import V6, addr_to_bytes, is_v6
from ..checksum import fold, ones_sum
from ..classify import (
    ACK, RST, SYN, UNREACH_REASONS, UNREACH6_REASONS, ICMP_DEST_UNREACH, ICMP6_DEST_UNREACH,
)
from ..cookies import Cookie
from ..errors import RawscanError
from ..results import Evidence, Verdict
from ..wire import PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, IPv4, IPv6, ip_header, ip_icmp_error
from .base import Flow, ProbeModule, Reply, bpf_to_us, pick_source

DEFAULT_PROBES = "echo,syn:443,ack:80,timestamp"  # nmap's default root discovery probes
DEFAULT_PROBES6 = ("echo", "syn:443", "ack:80")  # IPv6 has no timestamp request
UDP_SPORT_LOW, UDP_SPORT_SPAN = 32768, 28232
ACK_SEQ_TAG, ACK_ACK_TAG = 0x5A17C3E1, 0x2B9D4F07  # an ACK probe's two cookies differ from a SYN's
ECHO, ECHO_REPLY, TIMESTAMP, TIMESTAMP_REPLY = 8, 0, 13, 14
ECHO6, ECHO6_REPLY = 128, 129
TIME_EXCEEDED, TIME6_EXCEEDED = 11, 3
# nmap's -P option letters, for the help and for error messages
NMAP_NAMES = {"echo": "-PE", "timestamp": "-PP", "syn": "-PS", "ack": "-PA", "udp": "-PU"}
MAX_KINDS = 16

_IP4 = struct.Struct("!BBHHHBBHII")
_IP6 = struct.Struct("!IHBB16s16s")
_ICMP_ECHO = struct.Struct("!BBHHH")  # type, code, checksum, id, sequence
_TCP = struct.Struct("!HHIIBBHHH")  # sport, dport, seq, ack, offset, flags, window, sum, urg
_UDP = struct.Struct("!HHHH")
_PORTS_SEQ = struct.Struct("!HHI")
_V4_ICMP = struct.Struct("!BBHHHBBHIIBBHHH12x")  # IPv4 + ICMP echo/timestamp (12 bytes of zeros)
_V4_TCP = struct.Struct("!BBHHHBBHIIHHIIBBHHH")
_V4_UDP = struct.Struct("!BBHHHBBHIIHHHH12x")

UP = "up"
DOWN = "down"


@dataclass(frozen=True)
class Kind:
    name: str  # echo, timestamp, syn, ack, udp
    port: int = 0  # TCP/UDP destination port

    @property
    def text(self) -> str:
        return f"{self.name}:{self.port}" if self.name in ("syn", "ack", "udp") else self.name

    def for_family(self, v6: bool) -> bool:
        return not (v6 and self.name == "timestamp")


def parse_probes(spec: str, option: str = "--probes") -> tuple[Kind, ...]:
    """'echo,timestamp,syn:443,ack:80,udp:40125' -> kinds (duplicates once, order kept).
    syn/ack/udp without a port take nmap's defaults (80, 80, 40125)."""
    defaults = {"syn": 80, "ack": 80, "udp": 40125}
    kinds: list[Kind] = []
    for word in (w.strip().lower() for w in spec.split(",")):
        if not word:
            continue
        name, _, port_text = word.partition(":")
        name = {"pe": "echo", "pp": "timestamp", "ps": "syn", "pa": "ack", "pu": "udp",
                "icmp": "echo"}.get(name.lstrip("-"), name)
        if name not in NMAP_NAMES:
            raise RawscanError(f"{option}: '{word}' is not a probe (echo, timestamp, syn:PORT, "
                               f"ack:PORT, udp:PORT)")
        if name in ("echo", "timestamp"):
            if port_text:
                raise RawscanError(f"{option}: {name} takes no port ('{word}')")
            kind = Kind(name)
        else:
            if port_text and not (port_text.isascii() and port_text.isdigit()
                                  and 1 <= int(port_text) <= 65535):
                raise RawscanError(f"{option}: '{word}': the port must be 1-65535")
            kind = Kind(name, int(port_text) if port_text else defaults[name])
        if kind not in kinds:
            kinds.append(kind)
    if not kinds:
        raise RawscanError(f"{option} names no probe")
    if len(kinds) > MAX_KINDS:
        raise RawscanError(f"{option} names {len(kinds)} probes; at most {MAX_KINDS}")
    return tuple(kinds)


def probes_text(kinds: tuple[Kind, ...]) -> str:
    return ",".join(k.text for k in kinds)


def _checksum(data: bytes, start: int = 0) -> int:
    return fold(start + ones_sum(data))


class PingProbe(ProbeModule):
    """One module for every discovery probe kind; endpoint port = kind index."""

    proto = "ping"
    name = "ping"
    icmp_decides_state = False  # an ICMP error and silence both leave the host down
    decides_host = True  # the first checked answer from a host decides all its endpoints
    reply_bytes = 176

    def __init__(self, sources: tuple[int, ...], sport: int, cookie: Cookie,
                 kinds: tuple[Kind, ...], ttl: int = 64, sport_span: int = 16) -> None:
        self.sources, self.sport, self.cookie, self.kinds = sources, sport, cookie, kinds
        self.span, self.ttl = sport_span, ttl
        self._sources = frozenset(sources)
        self._by_family = {fam: tuple(s for s in sources if is_v6(s) == fam) for fam in (False, True)}
        self._tcp_kind = {(k.name, k.port): i for i, k in enumerate(kinds) if k.name in ("syn", "ack")}
        self._udp_kind = {k.port: i for i, k in enumerate(kinds) if k.name == "udp"}
        self._icmp_kind = {k.name: i for i, k in enumerate(kinds) if k.name in ("echo", "timestamp")}
        self._silence = Verdict(DOWN, "no-response", Evidence.SILENCE)
        self.now: Callable[[], float] = lambda: 0.0  # the transport's clock, set by the runner
        self._sent: dict[int, float] = {}  # (target << 4 | kind) -> when its probe was built
        self.rtts: dict[int, float] = {}  # target -> seconds, from its first checked answer
        self.batch_sent: Callable[[int, int], float | None] | None = None  # see ping_batch.py

    def batcher(self, targets: Any, ports: tuple[int, ...]) -> Any:
        """IPv4 sweeps from IPv4 sources go through numpy batches (probes/ping_batch.py)."""
        if any(s >= V6 for s in self.sources) or not targets.ranges or targets.ranges[-1][1] >= V6:
            return None
        from .ping_batch import PingBatcher

        return PingBatcher(self, targets)

    # --- which probes a host gets ---

    def applies(self, target: int, kind_index: int) -> bool:
        """IPv6 hosts get no timestamp request (ICMPv6 has none)."""
        return self.kinds[kind_index].for_family(target >= V6)

    def bpf_filter(self) -> str:
        hi = self.sport + self.span - 1
        udp_hi = UDP_SPORT_LOW + UDP_SPORT_SPAN - 1
        return (f"{bpf_to_us(self.sources)} and (icmp or icmp6 or (tcp and dst portrange "
                f"{self.sport}-{hi}) or (udp and dst portrange {UDP_SPORT_LOW}-{udp_hi}))")

    # --- cookies ---

    def _icmp_cookie(self, src: int, target: int, kind_index: int) -> int:
        return self.cookie(src, target, 0, 1 + kind_index)

    def _udp_sport(self, src: int, target: int, port: int) -> int:
        return UDP_SPORT_LOW + self.cookie(src, target, 1, port) % UDP_SPORT_SPAN

    # --- building ---

    def build(self, target: int, port: int, attempt: int = 0) -> bytes:
        kind = self.kinds[port]
        v6 = target >= V6
        src = pick_source(self._by_family[v6], target, port, attempt)
        if not v6:
            packet = self._build4(kind, port, src, target, attempt)
        elif kind.name in ("echo", "timestamp"):  # (an IPv6 host's timestamp is never sent)
            c = self._icmp_cookie(src, target, port)
            if v6:
                body = _ICMP_ECHO.pack(ECHO6, 0, 0, c >> 16, c & 0xFFFF)
                pseudo = ones_sum(addr_to_bytes(src) + addr_to_bytes(target)) + len(body) + PROTO_ICMPV6
                body = body[:2] + struct.pack("!H", _checksum(body, pseudo)) + body[4:]
                packet = self._ip6(src, target, PROTO_ICMPV6, body)
            else:
                icmp_type = ECHO if kind.name == "echo" else TIMESTAMP
                # timestamp: originate, receive, transmit; echo: 12 zero bytes of data, so every
                # IPv4 probe is 40 bytes long (one row width for the numpy batches)
                body = _ICMP_ECHO.pack(icmp_type, 0, 0, c >> 16, c & 0xFFFF) + bytes(12)
                body = body[:2] + struct.pack("!H", _checksum(body)) + body[4:]
                packet = self._ip4(src, target, PROTO_ICMP, body, c & 0xFFFF)
        elif kind.name in ("syn", "ack"):
            sport = self.sport + attempt % self.span
            c = self.cookie(src, target, sport, kind.port)
            if kind.name == "syn":
                seq, ack, flags = c, 0, SYN
            else:
                seq, ack, flags = c ^ ACK_SEQ_TAG, c ^ ACK_ACK_TAG, ACK
            segment = _TCP.pack(sport, kind.port, seq, ack, 5 << 4, flags, 1024, 0, 0)
            segment = segment[:16] + struct.pack("!H", _checksum(segment, self._pseudo(src, target, PROTO_TCP, len(segment)))) + segment[18:]
            packet = (self._ip6(src, target, PROTO_TCP, segment) if v6
                      else self._ip4(src, target, PROTO_TCP, segment, seq >> 16))
        else:  # udp
            sport = self._udp_sport(src, target, kind.port)
            length = 8 if v6 else 20  # IPv4: 12 zero bytes, 40 bytes in all as every probe
            datagram = _UDP.pack(sport, kind.port, length, 0) + bytes(length - 8)
            s = _checksum(datagram, self._pseudo(src, target, PROTO_UDP, length)) or 0xFFFF
            datagram = datagram[:6] + struct.pack("!H", s) + datagram[8:]
            packet = (self._ip6(src, target, PROTO_UDP, datagram) if v6
                      else self._ip4(src, target, PROTO_UDP, datagram, sport))
        if attempt == 0 or (target << 4 | port) in self._sent:
            self._sent[target << 4 | port] = self.now()
        return packet

    def _build4(self, kind: Kind, index: int, src: int, target: int, attempt: int) -> bytes:
        """An IPv4 probe in one struct.pack, the checksums summed from the fields (the same
        bytes as the general path: every IPv4 probe is 40 bytes; tests hold them to Scapy)."""
        addr = (src >> 16) + (src & 0xFFFF) + (target >> 16) + (target & 0xFFFF)
        ttl = self.ttl
        name = kind.name
        if name == "echo" or name == "timestamp":
            c = self._icmp_cookie(src, target, index)
            icmp_type = ECHO if name == "echo" else TIMESTAMP
            ident, seq = c >> 16, c & 0xFFFF
            ip_sum = fold(0x4500 + 40 + seq + (ttl << 8 | PROTO_ICMP) + addr)
            return _V4_ICMP.pack(0x45, 0, 40, seq, 0, ttl, PROTO_ICMP, ip_sum, src, target,
                                 icmp_type, 0, fold((icmp_type << 8) + ident + seq), ident, seq)
        if name == "udp":
            sport = self._udp_sport(src, target, kind.port)
            ip_sum = fold(0x4500 + 40 + sport + (ttl << 8 | PROTO_UDP) + addr)
            udp_sum = fold(addr + PROTO_UDP + 20 + sport + kind.port + 20) or 0xFFFF
            return _V4_UDP.pack(0x45, 0, 40, sport, 0, ttl, PROTO_UDP, ip_sum, src, target,
                                sport, kind.port, 20, udp_sum)
        sport = self.sport + attempt % self.span
        c = self.cookie(src, target, sport, kind.port)
        if name == "syn":
            seq, ack, flags = c, 0, SYN
        else:
            seq, ack, flags = c ^ ACK_SEQ_TAG, c ^ ACK_ACK_TAG, ACK
        ip_id = seq >> 16
        ip_sum = fold(0x4500 + 40 + ip_id + (ttl << 8 | PROTO_TCP) + addr)
        tcp_sum = fold(addr + PROTO_TCP + 20 + sport + kind.port + ip_id + (seq & 0xFFFF)
                       + (ack >> 16) + (ack & 0xFFFF) + (0x5000 | flags) + 1024)
        return _V4_TCP.pack(0x45, 0, 40, ip_id, 0, ttl, PROTO_TCP, ip_sum, src, target, sport,
                            kind.port, seq, ack, 0x50, flags, 1024, tcp_sum, 0)

    def _pseudo(self, src: int, target: int, proto: int, length: int) -> int:
        return ones_sum(addr_to_bytes(src) + addr_to_bytes(target)) + proto + length

    def _ip4(self, src: int, target: int, proto: int, payload: bytes, ip_id: int) -> bytes:
        header = _IP4.pack(0x45, 0, 20 + len(payload), ip_id & 0xFFFF, 0, self.ttl, proto, 0,
                           src, target)
        return header[:10] + struct.pack("!H", _checksum(header)) + header[12:] + payload

    def _ip6(self, src: int, target: int, proto: int, payload: bytes) -> bytes:
        return _IP6.pack(0x60000000, len(payload), proto, self.ttl, addr_to_bytes(src),
                         addr_to_bytes(target)) + payload

    # --- replies ---

    def _up(self, target: int, kind_index: int, reason: str, ttl: int) -> Reply:
        sent = self._sent.pop(target << 4 | kind_index, None)
        if sent is None and self.batch_sent is not None:  # sent by the numpy batcher
            sent = self.batch_sent(target, kind_index)
        if sent is not None and target not in self.rtts:
            self.rtts[target] = max(0.0, self.now() - sent)
        return Reply(target, kind_index, Verdict(UP, reason, Evidence.RESPONSE, ttl))

    def parse_reply(self, packet: bytes) -> Reply | None:
        ip = ip_header(packet)
        if ip is None or ip.dst not in self._sources:
            return None
        off = ip.header_len
        if ip.proto == PROTO_TCP:
            return self._tcp(packet, ip.src, ip.dst, ip.ttl, off)
        if ip.proto == PROTO_UDP:
            return self._udp(packet, ip.src, ip.dst, ip.ttl, off)
        if ip.proto in (PROTO_ICMP, PROTO_ICMPV6) and len(packet) >= off + 8:
            icmp_type = packet[off]
            if icmp_type in (ECHO_REPLY, TIMESTAMP_REPLY, ECHO6_REPLY):
                return self._echo(packet, ip.src, ip.dst, ip.ttl, off, icmp_type)
            return self._error(packet, ip)
        return None

    def _echo(self, packet: bytes, src: int, dst: int, ttl: int, off: int,
              icmp_type: int) -> Reply | None:
        v6 = src >= V6
        if (icmp_type == ECHO6_REPLY) != v6 or packet[off + 1] != 0:
            return None
        name = "timestamp" if icmp_type == TIMESTAMP_REPLY else "echo"
        kind_index = self._icmp_kind.get(name)
        if kind_index is None:
            return None
        ident, seq = struct.unpack_from("!HH", packet, off + 4)
        if (ident << 16 | seq) != self._icmp_cookie(dst, src, kind_index):
            return None
        return self._up(src, kind_index, "timestamp-reply" if name == "timestamp" else "echo-reply", ttl)

    def _tcp(self, packet: bytes, src: int, dst: int, ttl: int, off: int) -> Reply | None:
        if len(packet) < off + 14:
            return None
        port, dport, seq, ack, _o, flags = struct.unpack_from("!HHIIBB", packet, off)
        if not 0 <= dport - self.sport < self.span:
            return None
        c = self.cookie(dst, src, dport, port)
        syn_kind = self._tcp_kind.get(("syn", port))
        if syn_kind is not None and flags & ACK and ack == (c + 1) & 0xFFFFFFFF:
            if flags & SYN:
                return self._up(src, syn_kind, "syn-ack", ttl)
            if flags & RST:
                return self._up(src, syn_kind, "reset", ttl)
            return None
        ack_kind = self._tcp_kind.get(("ack", port))
        if ack_kind is not None and flags & RST and seq == c ^ ACK_ACK_TAG:
            return self._up(src, ack_kind, "reset", ttl)
        return None  # stray, forged, or another scan's

    def _udp(self, packet: bytes, src: int, dst: int, ttl: int, off: int) -> Reply | None:
        if len(packet) < off + 8:
            return None
        port, dport = struct.unpack_from("!HH", packet, off)
        kind_index = self._udp_kind.get(port)
        if kind_index is None or dport != self._udp_sport(dst, src, port):
            return None
        return self._up(src, kind_index, "udp-response", ttl)

    def _quoted_kind(self, packet: bytes, ip: IPv4 | IPv6) -> tuple[int, int] | None:
        """(target, kind index) of the probe an ICMP error quotes, if it is ours."""
        error = ip_icmp_error(packet, ip)
        if error is None:
            return None
        quoted, l4 = error.quoted, error.quoted_l4
        us, target = quoted.src, quoted.dst
        if us not in self._sources:
            return None
        if quoted.proto in (PROTO_ICMP, PROTO_ICMPV6):
            qtype, _code, _sum, ident, seq = _ICMP_ECHO.unpack_from(l4)
            name = "timestamp" if qtype == TIMESTAMP else "echo" if qtype in (ECHO, ECHO6) else None
            kind_index = self._icmp_kind.get(name or "")
            if kind_index is None or (ident << 16 | seq) != self._icmp_cookie(us, target, kind_index):
                return None
            return target, kind_index
        if quoted.proto == PROTO_TCP:
            sport, dport, seq = _PORTS_SEQ.unpack_from(l4)
            if not 0 <= sport - self.sport < self.span:
                return None
            c = self.cookie(us, target, sport, dport)
            for name, expect in (("syn", c), ("ack", c ^ ACK_SEQ_TAG)):
                kind_index = self._tcp_kind.get((name, dport))
                if kind_index is not None and seq == expect:
                    return target, kind_index
            return None
        if quoted.proto == PROTO_UDP:
            sport, dport = struct.unpack_from("!HH", l4)
            kind_index = self._udp_kind.get(dport)
            if kind_index is None or sport != self._udp_sport(us, target, dport):
                return None
            return target, kind_index
        return None

    def _error(self, packet: bytes, ip: IPv4 | IPv6) -> Reply | None:
        found = self._quoted_kind(packet, ip)
        if found is None:
            return None
        target, kind_index = found
        src, ttl = ip.src, ip.ttl
        off = ip.header_len
        icmp_type, code = packet[off], packet[off + 1]
        v6 = target >= V6
        unreach = ICMP6_DEST_UNREACH if v6 else ICMP_DEST_UNREACH
        reasons = UNREACH6_REASONS if v6 else UNREACH_REASONS
        if icmp_type == (TIME6_EXCEEDED if v6 else TIME_EXCEEDED):
            return Reply(target, kind_index, Verdict(DOWN, "time-exceeded", Evidence.ICMP, ttl), True)
        if icmp_type != unreach or code not in reasons:
            return None
        reason = reasons[code]
        # From the host itself, port or protocol unreachable shows it is there (nmap: up);
        # anything else, or from a router, says it cannot be reached
        if src == target and reason in ("port-unreach", "proto-unreach"):
            return self._up(target, kind_index, reason, ttl)
        return Reply(target, kind_index, Verdict(DOWN, reason, Evidence.ICMP, ttl), True)

    def flow(self, packet: bytes) -> Flow | None:
        """Replay: which endpoint a recorded probe or reply belongs to."""
        ip = ip_header(packet)
        if ip is None:
            return None
        if ip.src in self._sources:  # one of our probes?
            kind_index = self._probe_kind(packet, ip.src, ip.dst, ip.proto, ip.header_len)
            return None if kind_index is None else Flow(ip.dst, kind_index, True)
        if ip.dst not in self._sources:
            return None
        reply = self.parse_reply(packet)
        if reply is not None:
            return Flow(reply.target, reply.port, False)
        found = self._quoted_kind(packet, ip) if ip.proto in (PROTO_ICMP, PROTO_ICMPV6) else None
        return Flow(found[0], found[1], False) if found else None

    def _probe_kind(self, packet: bytes, src: int, dst: int, proto: int, off: int) -> int | None:
        if proto in (PROTO_ICMP, PROTO_ICMPV6) and len(packet) >= off + 8:
            qtype, _c, _s, ident, seq = _ICMP_ECHO.unpack_from(packet, off)
            name = "timestamp" if qtype == TIMESTAMP else "echo" if qtype in (ECHO, ECHO6) else None
            kind_index = self._icmp_kind.get(name or "")
            if kind_index is not None and (ident << 16 | seq) == self._icmp_cookie(src, dst, kind_index):
                return kind_index
            return None
        if proto == PROTO_TCP and len(packet) >= off + 14:
            sport, dport, seq, _ack, _o, flags = struct.unpack_from("!HHIIBB", packet, off)
            if not 0 <= sport - self.sport < self.span:
                return None
            c = self.cookie(src, dst, sport, dport)
            name = "syn" if flags == SYN else "ack" if flags == ACK else None
            kind_index = self._tcp_kind.get((name or "", dport))
            expect = c if name == "syn" else c ^ ACK_SEQ_TAG
            return kind_index if kind_index is not None and seq == expect else None
        if proto == PROTO_UDP and len(packet) >= off + 8:
            sport, dport = struct.unpack_from("!HH", packet, off)
            kind_index = self._udp_kind.get(dport)
            if kind_index is not None and sport == self._udp_sport(src, dst, dport):
                return kind_index
        return None

    def silence(self) -> Verdict:
        return self._silence

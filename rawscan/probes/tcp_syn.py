"""TCP SYN probes (half-open scan): SYN-ACK -> open, RST -> closed, ICMP -> filtered."""

from __future__ import annotations

import struct

from ..checksum import fold, ones_sum
from ..classify import ACK, RST, SYN, classify_icmp, classify_silence, classify_tcp
from ..cookies import Cookie
from ..results import Verdict
from ..wire import PROTO_TCP, icmp_error, ipv4
from .base import ICMP_ERRORS_BPF, Flow, ProbeModule, Reply, bpf_to_us, int_to_ip, pick_source

_TCP_HEAD = struct.Struct("!HHIIBB")  # sport, dport, seq, ack, data offset, flags
_PORTS_SEQ = struct.Struct("!HHI")


class SynProbe(ProbeModule):
    """One SYN template per scan, patched per probe; the sequence number is the cookie."""

    proto = "tcp"
    name = "tcp-syn"

    def __init__(self, sources: tuple[int, ...], sport: int, cookie: Cookie, ttl: int = 64,
                 sport_span: int = 1) -> None:
        # Retransmission k leaves from sport + k % sport_span, as nmap encodes its try number:
        # the same 4-tuple again would meet the target's half-open entry from the first SYN,
        # and Linux re-sends its SYN-ACK to a duplicate SYN at most every 500 ms
        # (tcp_invalid_ratelimit), so a lost SYN-ACK would look like a filtered port.
        self.sources, self.sport, self.cookie, self.span = sources, sport, cookie, sport_span
        self._sources = frozenset(sources)
        self._templates = {src: self._make_template(src, ttl) for src in sources}
        self._silence = classify_silence("tcp")

    def _make_template(self, src: int, ttl: int) -> tuple[bytes, int, int]:
        from scapy.layers.inet import IP, TCP  # heavy import, only once a scan starts

        packet = IP(src=int_to_ip(src), dst="0.0.0.0", ttl=ttl, id=0, chksum=0) / TCP(
            sport=0, dport=0, seq=0, flags="S", window=1024,
            options=[("MSS", 1460)], chksum=0,
        )
        raw = bytes(packet)
        ihl = (raw[0] & 0x0F) * 4
        tcp = raw[ihl:]
        # Sums over the constant parts; per probe only dst, id, ports and seq are added in.
        pseudo = struct.pack("!IIBBH", src, 0, 0, PROTO_TCP, len(tcp))
        return raw, ones_sum(raw[:ihl]), ones_sum(pseudo + tcp)

    def _ours(self, port: int) -> bool:
        """Is port one of the source ports this scan sends from?"""
        return 0 <= port - self.sport < self.span

    def bpf_filter(self) -> str:
        ports = f"portrange {self.sport}-{self.sport + self.span - 1}" if self.span > 1 else f"port {self.sport}"
        return f"{bpf_to_us(self.sources)} and ((tcp and dst {ports}) or {ICMP_ERRORS_BPF})"

    def build(self, target: int, port: int, attempt: int = 0) -> bytes:
        src = pick_source(self.sources, target, port, attempt)
        template, ip_sum, tcp_sum = self._templates[src]
        sport = self.sport + attempt % self.span
        seq = self.cookie(src, target, sport, port)
        ip_id = seq >> 16
        dst_hi, dst_lo = target >> 16, target & 0xFFFF
        packet = bytearray(template)
        struct.pack_into("!H", packet, 4, ip_id)
        struct.pack_into("!H", packet, 10, fold(ip_sum + ip_id + dst_hi + dst_lo))
        struct.pack_into("!I", packet, 16, target)
        tcp_sum = fold(tcp_sum + dst_hi + dst_lo + sport + port + (seq >> 16) + (seq & 0xFFFF))
        struct.pack_into("!HHI", packet, 20, sport, port, seq)
        struct.pack_into("!H", packet, 36, tcp_sum)
        return bytes(packet)

    def parse_reply(self, packet: bytes) -> Reply | None:
        ip = ipv4(packet)
        if ip is None:
            return None
        if ip.proto == PROTO_TCP:
            return self._tcp_reply(packet, ip.src, ip.dst, ip.ttl, ip.header_len)
        error = icmp_error(packet, ip)
        if error is None or error.quoted.proto != PROTO_TCP or error.quoted.src not in self._sources:
            return None
        sport, dport, seq = _PORTS_SEQ.unpack_from(error.quoted_l4)
        target = error.quoted.dst
        if not self._ours(sport) or seq != self.cookie(error.quoted.src, target, sport, dport):
            return None
        verdict = classify_icmp("tcp", error.icmp_type, error.code, ip.src == target, ip.ttl)
        return Reply(target, dport, verdict, icmp=True) if verdict else None

    def _tcp_reply(self, packet: bytes, src: int, dst: int, ttl: int, off: int) -> Reply | None:
        if len(packet) < off + 14 or dst not in self._sources:
            return None
        port, dport, seq, ack, _offset, flags = _TCP_HEAD.unpack_from(packet, off)
        if not self._ours(dport):
            return None
        cookie = self.cookie(dst, src, dport, port)
        if flags & ACK:
            if ack != (cookie + 1) & 0xFFFFFFFF:
                return None  # stray, late from another scan, or forged
        elif not flags & (SYN | RST):
            return None  # no ACK to check, and not a bare SYN or RST
        elif flags & SYN and self._ours(port) and seq == self.cookie(src, dst, port, dport):
            return None  # our own probe, looped back (a scan of our own source ports)
        verdict = classify_tcp(flags, ttl)
        return Reply(src, port, verdict) if verdict else None

    def flow(self, packet: bytes) -> Flow | None:
        ip = ipv4(packet)
        if ip is None:
            return None
        off = ip.header_len
        if ip.proto == PROTO_TCP and len(packet) >= off + 14:
            sport, dport, seq, _ack, _o, flags = _TCP_HEAD.unpack_from(packet, off)
            if (
                self._ours(sport)
                and ip.src in self._sources
                and flags == SYN
                and seq == self.cookie(ip.src, ip.dst, sport, dport)
            ):
                return Flow(ip.dst, dport, True)
            if self._ours(dport):
                return Flow(ip.src, sport, False)
            return None
        error = icmp_error(packet, ip)
        if error is None or error.quoted.proto != PROTO_TCP:
            return None
        sport, dport, _seq = _PORTS_SEQ.unpack_from(error.quoted_l4)
        return Flow(error.quoted.dst, dport, False) if self._ours(sport) else None

    def silence(self) -> Verdict:
        return self._silence

"""TCP probes without SYN, for mapping firewalls (nmap -sA, -sF, -sN, -sX; RFC 793 3.4/3.9).

One module, four configurations (FLAG_SCANS):
- ack:  ACK       -> RST: unfiltered (reset); ICMP unreachable or silence: filtered
- fin:  FIN       -> RST: closed (reset); ICMP unreachable: filtered; silence: open|filtered
- null: no flags  -> as fin
- xmas: FIN PSH URG -> as fin

A RST carries no echo of our probe but what the target computes from it, so the cookie sits
where the target must copy it from:
- ACK probe: a host with no connection answers <SEQ=SEG.ACK><CTL=RST> (RFC 793; Linux's
  tcp_v4_send_reset, RST without ACK): the RST's sequence number must equal our
  acknowledgement number, the cookie.
- FIN/NULL/Xmas (no ACK): the answer is <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, SEG.LEN
  counting FIN as 1: the RST must acknowledge our sequence number (the cookie) + 1 for FIN and
  Xmas, + 0 for NULL (tcpdump in the lab shows Linux doing exactly this, IPv4 and IPv6).
The sequence number is the cookie in every mode, so an ICMP error, which quotes only the first
8 bytes of TCP for certain, is checked as for SYN probes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from ..addresses import V6, addr_to_bytes, is_v6
from ..checksum import ones_sum
from ..classify import ACK, FIN, RST
from ..cookies import Cookie
from ..results import Evidence, Verdict
from ..wire import PROTO_TCP
from .base import Flow, Reply, pick_source
from .tcp_syn import _TCP_HEAD, SynProbe, SynTemplate

PSH, URG = 0x08, 0x20
WINDOW = 1024  # nmap's, for these probes as for SYN

_V4 = struct.Struct("!BBHHHBBHIIHHIIBBHHH")  # IPv4 + TCP without options: one pack per probe
_V6 = struct.Struct("!IHBB16s16sHHIIBBHHH")
_IPV4_HEAD = struct.Struct("!BBHHHBBH4s4s")
_IPV6_HEAD = struct.Struct("!IHBB16s16s")
_TCP = struct.Struct("!HHIIBBHHH")


@dataclass(frozen=True)
class FlagScan:
    """One configuration: the probe's flags and what a RST and silence mean."""

    kind: str  # the command and ScanPlan.scan; nmap's scaninfo type
    flags: int
    rst_state: str  # the state a checked RST gives
    silence_state: str

    @property
    def seg_len(self) -> int:
        """What the probe occupies in sequence space (FIN counts one, RFC 793)."""
        return 1 if self.flags & FIN else 0

    @property
    def rst_echoes_ack(self) -> bool:
        """An ACK probe's RST copies our acknowledgement number into its sequence number;
        any other probe's RST acknowledges our sequence number plus its length."""
        return bool(self.flags & ACK)


FLAG_SCANS = {
    "ack": FlagScan("ack", ACK, "unfiltered", "filtered"),
    "fin": FlagScan("fin", FIN, "closed", "open|filtered"),
    "null": FlagScan("null", 0, "closed", "open|filtered"),
    "xmas": FlagScan("xmas", FIN | PSH | URG, "closed", "open|filtered"),
}


def flags_template(src: int, ttl: int, flags: int) -> bytes:
    """IPv4 or IPv6 + a 20-byte TCP header with these flags, window 1024, every per-probe
    field zero: the bytes of Scapy's IP(src, dst="0.0.0.0", ttl, id=0, chksum=0) /
    TCP(flags=flags, window=1024, chksum=0) (IPv6: dst="::", hlim=ttl)."""
    tcp = _TCP.pack(0, 0, 0, 0, 5 << 4, flags, WINDOW, 0, 0)
    if is_v6(src):
        return _IPV6_HEAD.pack(6 << 28, len(tcp), PROTO_TCP, ttl, addr_to_bytes(src),
                               bytes(16)) + tcp
    return _IPV4_HEAD.pack(0x45, 0, 20 + len(tcp), 0, 0, ttl, PROTO_TCP, 0,
                           addr_to_bytes(src), bytes(4)) + tcp


class FlagsTemplate(SynTemplate):
    """SynTemplate's patching for a probe without options: destination, ports, sequence and
    acknowledgement numbers, IP id and both checksums in one struct.pack."""

    def __init__(self, src: int, ttl: int, flags: int) -> None:
        self._load(src, flags_template(src, ttl, flags), _V4, _V6)

    def probe_ack(self, target: int, sport: int, port: int, seq: int, ack: int) -> bytes:
        f = self._fields
        words = sport + port + (seq >> 16) + (seq & 0xFFFF) + (ack >> 16) + (ack & 0xFFFF)
        if self.v6:
            dst = addr_to_bytes(target)
            s = self._tcp_sum + ones_sum(dst) + words
            s = (s & 0xFFFF) + (s >> 16)
            s = (s & 0xFFFF) + (s >> 16)
            return _V6.pack(f[0], f[1], f[2], f[3], f[4], dst, sport, port, seq, ack, f[10],
                            f[11], f[12], ~s & 0xFFFF, f[14])
        ip_id = seq >> 16
        hi, lo = target >> 16, target & 0xFFFF
        s = self._ip_sum + ip_id + hi + lo
        s = (s & 0xFFFF) + (s >> 16)
        ip_sum = ~((s & 0xFFFF) + (s >> 16)) & 0xFFFF
        s = self._tcp_sum + hi + lo + words
        s = (s & 0xFFFF) + (s >> 16)
        s = (s & 0xFFFF) + (s >> 16)
        return _V4.pack(f[0], f[1], f[2], ip_id, f[4], f[5], f[6], ip_sum, f[8], target,
                        sport, port, seq, ack, f[14], f[15], f[16], ~s & 0xFFFF, f[18])

    def probe(self, target: int, sport: int, port: int, seq: int) -> bytes:
        return self.probe_ack(target, sport, port, seq, 0)


class FlagsProbe(SynProbe):
    """SynProbe's source ports, cookie, filter and ICMP checks; other flags, another RST check
    and other states. ack carries the cookie in ACK probes; the others send ack 0, as nmap."""

    def __init__(self, scan: FlagScan, sources: tuple[int, ...], sport: int, cookie: Cookie,
                 ttl: int = 64, sport_span: int = 1) -> None:
        super().__init__(sources, sport, cookie, ttl, sport_span)
        self.scan = scan
        self.name = f"tcp-{scan.kind}"
        # an ICMP error gives filtered; silence too for ACK probes, open|filtered for the rest
        self.icmp_decides_state = scan.silence_state != "filtered"
        self._templates = {src: FlagsTemplate(src, ttl, scan.flags) for src in sources}
        self._silence = Verdict(scan.silence_state, "no-response", Evidence.SILENCE)
        self._by_ttl: dict[int, Verdict] = {}

    def batcher(self, targets: Any, ports: tuple[int, ...]) -> Any:
        if any(s >= V6 for s in self.sources) or not targets.ranges or targets.ranges[-1][1] >= V6:
            return None
        from .flags_batch import FlagsBatcher

        return FlagsBatcher(self, targets, ports)

    def _ack_for(self, seq: int) -> int:
        return seq if self.scan.rst_echoes_ack else 0

    def build(self, target: int, port: int, attempt: int = 0) -> bytes:
        src = pick_source(self._by_family[target >= V6], target, port, attempt)
        sport = self.sport + attempt % self.span
        seq = self.cookie(src, target, sport, port)
        template: FlagsTemplate = self._templates[src]  # type: ignore[assignment]  # __init__ made FlagsTemplates
        return template.probe_ack(target, sport, port, seq, self._ack_for(seq))

    def build_batch(self, targets: list[int], ports: list[int], attempt: int = 0) -> list[bytes]:
        return [self.build(t, p, attempt) for t, p in zip(targets, ports)]

    def rst_verdict(self, ttl: int) -> Verdict:
        """What a checked RST says (cached by TTL: replies share a handful)."""
        verdict = self._by_ttl.get(ttl)
        if verdict is None:
            verdict = self._by_ttl[ttl] = Verdict(self.scan.rst_state, "reset",
                                                  Evidence.RESPONSE, ttl)
        return verdict

    def rst_matches(self, seq: int, ack: int, flags: int, cookie: int) -> bool:
        """Does a RST carry what the target must have copied from our probe?"""
        if self.scan.rst_echoes_ack:
            return seq == cookie
        return bool(flags & ACK) and ack == (cookie + self.scan.seg_len) & 0xFFFFFFFF

    def _tcp(self, src: int, dst: int, ttl: int, port: int, dport: int, seq: int, ack: int,
             flags: int) -> Reply | None:
        if not flags & RST or not 0 <= dport - self.sport < self.span or dst not in self._sources:
            return None  # only a RST answers these probes; a SYN-ACK or data is none of ours
        if not self.rst_matches(seq, ack, flags, self.cookie(dst, src, dport, port)):
            return None  # stray, late from another scan, or forged
        return Reply(src, port, self.rst_verdict(ttl))

    def verdict_for(self, flags: int, ttl: int) -> Verdict | None:
        return self.rst_verdict(ttl) if flags & RST else None

    def flow(self, packet: bytes) -> Flow | None:
        from ..wire import ip_header

        ip = ip_header(packet)
        if ip is not None and ip.proto == PROTO_TCP and len(packet) >= ip.header_len + 14:
            sport, dport, seq, _ack, _o, flags = _TCP_HEAD.unpack_from(packet, ip.header_len)
            if (self._ours(sport) and ip.src in self._sources and flags == self.scan.flags
                    and seq == self.cookie(ip.src, ip.dst, sport, dport)):
                return Flow(ip.dst, dport, True)
            if self._ours(dport):
                return Flow(ip.src, sport, False)
            return None
        return super().flow(packet)  # ICMP errors quoting our probe

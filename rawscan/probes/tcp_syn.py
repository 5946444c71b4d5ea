"""TCP SYN probes (half-open scan): SYN-ACK -> open, RST -> closed, ICMP -> filtered."""

from __future__ import annotations

import struct
from array import array
from typing import Any

from ..addresses import V6, addr_to_bytes, is_v6
from ..checksum import ones_sum
from ..crafting import syn_template
from ..classify import ACK, RST, SYN, classify_icmp, classify_icmp6, classify_silence, classify_tcp
from ..cookies import Cookie
from ..results import Evidence, Verdict
from ..wire import PROTO_TCP, ip_header, ip_icmp_error
from .base import ICMP_ERRORS_BPF, Flow, ProbeModule, Reply, bpf_to_us, pick_source

_TCP_HEAD = struct.Struct("!HHIIBB")  # sport, dport, seq, ack, data offset, flags
_PORTS_SEQ = struct.Struct("!HHI")
_V4_TCP = struct.Struct("!BBHHHBBHIIHHIIBB")  # a reply's IPv4 header (no options) + TCP head
_V4_SYN = struct.Struct("!BBHHHBBHIIHHIIBBHHH4s")  # IPv4 + TCP + MSS option: one pack per probe
_V6_SYN = struct.Struct("!IHBB16s16sHHIIBBHHH4s")  # IPv6 + TCP + MSS option


class SynTemplate:
    """A SYN that Scapy crafted once for one of our addresses; probe() patches destination,
    ports, sequence number (the cookie) and both checksums in one struct.pack (RFC 1624
    incremental sums over the template's constant parts)."""

    def __init__(self, src: int, ttl: int) -> None:
        # Scapy's bytes, every per-probe field zero
        self._load(src, syn_template(src, ttl), _V4_SYN, _V6_SYN)

    def _load(self, src: int, raw: bytes, v4: struct.Struct, v6: struct.Struct) -> None:
        """Keep the template's fields (as unpacked by v4 or v6) and its constant sums."""
        self.raw, self.v6, self.length = raw, is_v6(src), len(raw)
        if self.v6:
            self._fields = list(v6.unpack(raw))
            segment = raw[40:]
            pseudo = addr_to_bytes(src) + struct.pack("!IxxxB", len(segment), PROTO_TCP)
            self._ip_sum = 0
        else:
            self._fields = list(v4.unpack(raw))
            segment = raw[20:]
            pseudo = struct.pack("!IIBBH", src, 0, 0, PROTO_TCP, len(segment))
            self._ip_sum = ones_sum(raw[:20])
        self._tcp_sum = ones_sum(pseudo + segment)

    def probe(self, target: int, sport: int, port: int, seq: int) -> bytes:
        f = self._fields
        if self.v6:
            dst = addr_to_bytes(target)
            s = self._tcp_sum + ones_sum(dst) + sport + port + (seq >> 16) + (seq & 0xFFFF)
            s = (s & 0xFFFF) + (s >> 16)
            s = (s & 0xFFFF) + (s >> 16)
            return _V6_SYN.pack(f[0], f[1], f[2], f[3], f[4], dst, sport, port, seq, f[9],
                                f[10], f[11], f[12], ~s & 0xFFFF, f[14], f[15])
        ip_id = seq >> 16
        hi, lo = target >> 16, target & 0xFFFF
        s = self._ip_sum + ip_id + hi + lo
        s = (s & 0xFFFF) + (s >> 16)
        ip_sum = ~((s & 0xFFFF) + (s >> 16)) & 0xFFFF
        s = self._tcp_sum + hi + lo + sport + port + ip_id + (seq & 0xFFFF)
        s = (s & 0xFFFF) + (s >> 16)
        s = (s & 0xFFFF) + (s >> 16)
        return _V4_SYN.pack(f[0], f[1], f[2], ip_id, f[4], f[5], f[6], ip_sum, f[8], target,
                            sport, port, seq, f[13], f[14], f[15], f[16], ~s & 0xFFFF, f[18],
                            f[19])


class SynProbe(ProbeModule):
    """One SYN template per scan, patched per probe; the sequence number is the cookie."""

    proto = "tcp"
    name = "tcp-syn"
    icmp_decides_state = False  # ICMP error or silence: filtered alike
    reply_bytes = 176  # an ICMPv6 error quoting IPv6 + TCP needs 96; TCP options fit too

    def batcher(self, targets: Any, ports: tuple[int, ...]) -> Any:
        """IPv4 scans from IPv4 sources go through numpy batches (probes/syn_batch.py)."""
        if any(s >= V6 for s in self.sources) or not targets.ranges or targets.ranges[-1][1] >= V6:
            return None
        from .syn_batch import SynBatcher

        return SynBatcher(self, targets, ports)

    def __init__(self, sources: tuple[int, ...], sport: int, cookie: Cookie, ttl: int = 64,
                 sport_span: int = 1) -> None:
        # Retransmission k leaves from sport + k % sport_span, as nmap encodes its try number:
        # the same 4-tuple again would meet the target's half-open entry from the first SYN,
        # and Linux re-sends its SYN-ACK to a duplicate SYN at most every 500 ms
        # (tcp_invalid_ratelimit), so a lost SYN-ACK would look like a filtered port.
        self.sources, self.sport, self.cookie, self.span = sources, sport, cookie, sport_span
        self._sources = frozenset(sources)
        self._templates = {src: SynTemplate(src, ttl) for src in sources}
        self._by_family = {fam: tuple(s for s in sources if is_v6(s) == fam) for fam in (False, True)}
        self._silence = classify_silence("tcp")
        self._verdicts: dict[int, Verdict | None] = {}  # by flags and TTL: replies share them

    def _ours(self, port: int) -> bool:
        """Is port one of the source ports this scan sends from?"""
        return 0 <= port - self.sport < self.span

    def bpf_filter(self) -> str:
        ports = f"portrange {self.sport}-{self.sport + self.span - 1}" if self.span > 1 else f"port {self.sport}"
        return f"{bpf_to_us(self.sources)} and ((tcp and dst {ports}) or {ICMP_ERRORS_BPF})"

    def build(self, target: int, port: int, attempt: int = 0) -> bytes:
        src = pick_source(self._by_family[target >= V6], target, port, attempt)
        sport = self.sport + attempt % self.span
        return self._templates[src].probe(target, sport, port, self.cookie(src, target, sport, port))

    def build_batch(self, targets: list[int], ports: list[int], attempt: int = 0) -> list[bytes]:
        """build() for many probes: the engine's hot path. With one IPv4 source address (the
        usual case) the template patching and the cookie are inlined here: method calls were
        half the cost of a probe."""
        if len(self.sources) != 1 or self.sources[0] >= V6:
            return [self.build(t, p, attempt) for t, p in zip(targets, ports)]
        src = self.sources[0]
        tmpl = self._templates[src]
        f, ip_base, tcp_base, pack = tmpl._fields, tmpl._ip_sum, tmpl._tcp_sum, _V4_SYN.pack
        f0, f1, f2, f4, f5, f6, f8 = f[0], f[1], f[2], f[4], f[5], f[6], f[8]
        f13, f14, f15, f16, f18, f19 = f[13], f[14], f[15], f[16], f[18], f[19]
        sport = self.sport + attempt % self.span
        cookie = self.cookie
        host_of, dport_of = cookie.host_table(), cookie.dport_table()
        s_cookie = cookie.sport(sport)
        src_key = src << 136
        ranged = cookie.range_table(src)
        r_lo, r_hi, r_values = ranged if ranged else (1, 0, array("I"))  # an empty range
        tcp_base += sport
        out: list[bytes] = []
        append = out.append
        for target, port in zip(targets, ports):
            if r_lo <= target <= r_hi:
                h = r_values[target - r_lo]
            else:
                h = host_of.get(src_key | target, 0)
            if not h:
                h = cookie.host(src, target)
            seq = h ^ dport_of[port] ^ s_cookie
            ip_id = seq >> 16
            hi = target >> 16
            lo = target & 0xFFFF
            a = ip_base + ip_id + hi + lo
            a = (a & 0xFFFF) + (a >> 16)
            a = (a & 0xFFFF) + (a >> 16)
            b = tcp_base + hi + lo + port + ip_id + (seq & 0xFFFF)
            b = (b & 0xFFFF) + (b >> 16)
            b = (b & 0xFFFF) + (b >> 16)
            append(pack(f0, f1, f2, ip_id, f4, f5, f6, ~a & 0xFFFF, f8, target, sport, port, seq,
                        f13, f14, f15, f16, ~b & 0xFFFF, f18, f19))
        return out

    def parse_reply(self, packet: bytes) -> Reply | None:
        if packet[:1] == b"\x45" and len(packet) >= 34:  # IPv4 without options: the hot path
            (_v, _tos, _len, _id, frag, ttl, proto, _sum, src, dst, port, dport, seq, ack,
             _off, flags) = _V4_TCP.unpack_from(packet)
            if proto == PROTO_TCP and not frag & 0x1FFF:
                return self._tcp(src, dst, ttl, port, dport, seq, ack, flags)
        return self._parse_slow(packet)

    def _tcp(self, src: int, dst: int, ttl: int, port: int, dport: int, seq: int, ack: int,
             flags: int) -> Reply | None:
        if not 0 <= dport - self.sport < self.span or dst not in self._sources:
            return None
        cookie = self.cookie(dst, src, dport, port)  # from its tables after the first reply
        if flags & ACK:
            if ack != (cookie + 1) & 0xFFFFFFFF:
                return None  # stray, late from another scan, or forged
        elif not flags & (SYN | RST):
            return None  # no ACK to check, and not a bare SYN or RST
        elif flags & SYN and self._ours(port) and seq == self.cookie(src, dst, port, dport):
            return None  # our own probe, looped back (a scan of our own source ports)
        verdict = self._verdicts.get((flags & (SYN | RST | ACK)) << 8 | ttl)
        if verdict is None:
            verdict = self.verdict_for(flags, ttl)
            if verdict is None:
                return None
        return Reply(src, port, verdict)

    def verdict_for(self, flags: int, ttl: int) -> Verdict | None:
        """What a reply with these flags and TTL says (cached: replies share a handful)."""
        key = (flags & (SYN | RST | ACK)) << 8 | ttl
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = classify_tcp(flags, ttl)
            if verdict is None:
                return None
            if not flags & ACK:  # nothing echoes our cookie: anyone could have sent it
                reason = "bare-reset" if verdict.state == "closed" else verdict.reason
                verdict = Verdict(verdict.state, reason, Evidence.UNVERIFIED, ttl)
            self._verdicts[key] = verdict
        return verdict

    def _parse_slow(self, packet: bytes) -> Reply | None:
        """IPv6, IPv4 with options, and ICMP errors."""
        ip = ip_header(packet)
        if ip is None:
            return None
        if ip.proto == PROTO_TCP:
            return self._tcp_reply(packet, ip.src, ip.dst, ip.ttl, ip.header_len)
        error = ip_icmp_error(packet, ip)
        if error is None or error.quoted.proto != PROTO_TCP or error.quoted.src not in self._sources:
            return None
        sport, dport, seq = _PORTS_SEQ.unpack_from(error.quoted_l4)
        target = error.quoted.dst
        if not self._ours(sport) or seq != self.cookie(error.quoted.src, target, sport, dport):
            return None
        classify = classify_icmp6 if target >= V6 else classify_icmp
        verdict = classify("tcp", error.icmp_type, error.code, ip.src == target, ip.ttl)
        return Reply(target, dport, verdict, True) if verdict else None

    def _tcp_reply(self, packet: bytes, src: int, dst: int, ttl: int, off: int) -> Reply | None:
        if len(packet) < off + 14:
            return None
        port, dport, seq, ack, _offset, flags = _TCP_HEAD.unpack_from(packet, off)
        return self._tcp(src, dst, ttl, port, dport, seq, ack, flags)

    def flow(self, packet: bytes) -> Flow | None:
        ip = ip_header(packet)
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
        error = ip_icmp_error(packet, ip)
        if error is None or error.quoted.proto != PROTO_TCP:
            return None
        sport, dport, _seq = _PORTS_SEQ.unpack_from(error.quoted_l4)
        return Flow(error.quoted.dst, dport, False) if self._ours(sport) else None

    def silence(self) -> Verdict:
        return self._silence

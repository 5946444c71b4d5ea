"""rawscan ping's probes built, and their common answers judged, a batch at a time (IPv4,
numpy): the counterpart of PingProbe.build and parse_reply for large IPv4 sweeps, as
syn_batch.py is SynProbe's.

Every IPv4 discovery probe is 40 bytes (IP header + 20 bytes of ICMP, TCP or UDP), so a batch
is one array whatever mix of kinds it holds: each kind's rows get their fields and checksums as
columns. judge() takes echo and timestamp replies, SYN-ACKs, RSTs acknowledging a SYN and RSTs
answering an ACK probe; anything else (ICMP errors, IP options, hosts not probed yet) goes to
PingProbe.parse_reply. Tests hold the bytes and verdicts equal to the per-item path's.
"""

from __future__ import annotations

import numpy as np

from ..classify import ACK, RST, SYN
from ..results import Evidence, Verdict
from ..targets import TargetSet
from ..vector import AddressMap, Frames, be16, be32, fold16, put16, put32
from .ping import (
    ACK_ACK_TAG, ACK_SEQ_TAG, ECHO, ECHO_REPLY, TIMESTAMP, TIMESTAMP_REPLY, UDP_SPORT_LOW,
    UDP_SPORT_SPAN, UP, PingProbe,
)
from .batch_common import (
    Judged, ReplySources, host_table, host_values, known_pairs, none_decided, plain_ipv4,
    source_rows,
)

WIDTH = 40
_PROTO = {"echo": 1, "timestamp": 1, "syn": 6, "ack": 6, "udp": 17}


class PingBatcher:
    def __init__(self, probe: PingProbe, targets: TargetSet) -> None:
        if not probe.sources or any(s >= 1 << 32 for s in probe.sources):
            raise ValueError("the vector path is for IPv4 sources")
        self.probe = probe
        self.map = AddressMap(targets.ranges)
        self.nk = len(probe.kinds)
        cookie = probe.cookie
        self.dport_values = np.frombuffer(cookie.dport_table(), dtype=np.uint32).astype(np.uint64)
        self.sport_values = np.frombuffer(cookie.sport_table(), dtype=np.uint32).astype(np.uint64)
        self.sources = np.array(probe.sources, dtype=np.uint64)
        self._reply_sources = ReplySources(self.sources)
        hosts = self.map.total
        self.host_values = host_table(len(probe.sources), hosts)
        self.sent_at = np.zeros(hosts * self.nk, dtype=np.float64)  # build time per endpoint
        probe.batch_sent = self._sent
        self._syn_kind = np.full(65536, -1, dtype=np.int64)
        self._ack_kind = np.full(65536, -1, dtype=np.int64)
        for i, k in enumerate(probe.kinds):
            if k.name == "syn":
                self._syn_kind[k.port] = i
            elif k.name == "ack":
                self._ack_kind[k.port] = i
        self._echo_kind = probe._icmp_kind.get("echo", -1)
        self._ts_kind = probe._icmp_kind.get("timestamp", -1)
        self._verdicts: dict[tuple[str, int], Verdict] = {}

    def _sent(self, target: int, kind: int) -> float | None:
        host = self.map.index(np.array([target], dtype=np.int64))[0]
        if host < 0:
            return None
        when = float(self.sent_at[int(host) * self.nk + kind])
        return when or None

    # --- probes ---

    def build(self, endpoints: np.ndarray, attempt: int) -> np.ndarray:
        probe = self.probe
        hosts, kinds = endpoints // self.nk, endpoints % self.nk
        targets = self.map.address(hosts)
        src_rows = source_rows(len(self.sources), targets, kinds, attempt)
        src = self.sources[src_rows]
        h = host_values(probe.cookie, probe.sources, self.host_values, src_rows, hosts,
                        targets).astype(np.uint64)
        t64 = targets.astype(np.uint64)
        out = np.zeros((len(endpoints), WIDTH), dtype=np.uint8)
        out[:, 0], out[:, 3], out[:, 8] = 0x45, WIDTH, probe.ttl
        put32(out, 12, src)
        put32(out, 16, t64)
        addr_sum = (src >> np.uint64(16)) + (src & np.uint64(0xFFFF)) + (t64 >> np.uint64(16)) + (t64 & np.uint64(0xFFFF))
        ip_id = np.zeros(len(endpoints), dtype=np.uint64)
        sport_tcp = probe.sport + attempt % probe.span
        for k, kind in enumerate(probe.kinds):
            rows = np.flatnonzero(kinds == k)
            if not len(rows):
                continue
            o = out[rows]
            hk = h[rows]
            o[:, 9] = _PROTO[kind.name]
            if kind.name in ("echo", "timestamp"):
                c = hk ^ self.dport_values[1 + k] ^ self.sport_values[0]
                icmp_type = ECHO if kind.name == "echo" else TIMESTAMP
                o[:, 20] = icmp_type
                put32(o, 24, c)
                put16(o, 22, fold16(np.uint64(icmp_type << 8) + (c >> np.uint64(16)) + (c & np.uint64(0xFFFF))))
                ip_id[rows] = c & np.uint64(0xFFFF)
            elif kind.name in ("syn", "ack"):
                c = hk ^ self.dport_values[kind.port] ^ self.sport_values[sport_tcp]
                if kind.name == "syn":
                    seq, ack, flags = c, np.zeros_like(c), SYN
                else:
                    seq, ack, flags = c ^ np.uint64(ACK_SEQ_TAG), c ^ np.uint64(ACK_ACK_TAG), ACK
                put16(o, 20, np.full(len(rows), sport_tcp, dtype=np.uint64))
                put16(o, 22, np.full(len(rows), kind.port, dtype=np.uint64))
                put32(o, 24, seq)
                put32(o, 28, ack)
                o[:, 32], o[:, 33], o[:, 34], o[:, 35] = 0x50, flags, 1024 >> 8, 0
                s = (addr_sum[rows] + np.uint64(6 + 20 + sport_tcp + kind.port + (0x5000 | flags) + 1024)
                     + (seq >> np.uint64(16)) + (seq & np.uint64(0xFFFF))
                     + (ack >> np.uint64(16)) + (ack & np.uint64(0xFFFF)))
                put16(o, 36, fold16(s))
                ip_id[rows] = seq >> np.uint64(16)
            else:  # udp
                c = hk ^ self.dport_values[kind.port] ^ self.sport_values[1]
                sport = np.uint64(UDP_SPORT_LOW) + c % np.uint64(UDP_SPORT_SPAN)
                put16(o, 20, sport)
                put16(o, 22, np.full(len(rows), kind.port, dtype=np.uint64))
                o[:, 25] = 20
                s = fold16(addr_sum[rows] + np.uint64(17 + 20 + 20 + kind.port) + sport)
                put16(o, 26, np.where(s == 0, np.uint64(0xFFFF), s))
                ip_id[rows] = sport
            out[rows] = o
        put16(out, 4, ip_id)
        ttl_proto = (np.uint64(probe.ttl) << np.uint64(8)) + out[:, 9].astype(np.uint64)
        put16(out, 10, fold16(np.uint64(0x4500 + WIDTH) + ip_id + ttl_proto + addr_sum))
        self.sent_at[endpoints] = probe.now()  # the latest try of each (as the per-item path)
        return out

    # --- replies ---

    def _verdict(self, reason: str, ttl: int) -> Verdict:
        v = self._verdicts.get((reason, ttl))
        if v is None:
            v = self._verdicts[(reason, ttl)] = Verdict(UP, reason, Evidence.RESPONSE, ttl)
        return v

    def judge(self, frames: Frames) -> Judged:
        data, lengths = frames.data, frames.lengths
        proto = data[:, 9]
        base = plain_ipv4(data)
        icmp = base & (proto == 1) & (lengths >= 28) & ((data[:, 20] == ECHO_REPLY) | (data[:, 20] == TIMESTAMP_REPLY)) & (data[:, 21] == 0)
        tcp = base & (proto == 6) & (lengths >= 34)
        fast = icmp | tcp
        rows, slow = np.flatnonzero(fast), np.flatnonzero(~fast)
        if not len(rows):
            return none_decided(slow)
        d = data[rows]
        is_icmp = icmp[rows]
        src, dst = be32(d, 12).astype(np.int64), be32(d, 16).astype(np.uint64)
        ttl = d[:, 8]
        probe = self.probe
        src_rows = self._reply_sources.rows(dst)
        ours = self.sources[src_rows] == dst
        hosts = self.map.index(src)
        ours &= hosts >= 0
        values, unknown = known_pairs(self.host_values, src_rows, hosts, ours)
        hv = values.astype(np.uint64)
        checked = ours & ~unknown
        # ICMP: id/seq against the kind's cookie
        icmp_type = d[:, 20]
        kind = np.where(icmp_type == ECHO_REPLY, self._echo_kind, self._ts_kind)
        kind = np.where(is_icmp, kind, -1)
        idseq = be32(d, 24).astype(np.uint64)
        expect_icmp = hv ^ self.dport_values[np.maximum(kind, 0) + 1] ^ self.sport_values[0]
        valid_icmp = checked & is_icmp & (kind >= 0) & (idseq == expect_icmp)
        # TCP: SYN-ACK / RST+ACK acknowledging a SYN probe; bare RST answering an ACK probe
        port, dport = be16(d, 20).astype(np.int64), be16(d, 22).astype(np.int64)
        seq, ack = be32(d, 24).astype(np.uint64), be32(d, 28).astype(np.uint64)
        fl = d[:, 33].astype(np.int64)
        in_span = (dport >= probe.sport) & (dport < probe.sport + probe.span)
        c = hv ^ self.dport_values[port] ^ self.sport_values[np.where(in_span, dport, 0)]
        syn_k, ack_k = self._syn_kind[port], self._ack_kind[port]
        is_tcp = ~is_icmp & in_span & checked
        syn_ok = is_tcp & (syn_k >= 0) & ((fl & ACK) != 0) & ((fl & (SYN | RST)) != 0) \
            & (ack == ((c + np.uint64(1)) & np.uint64(0xFFFFFFFF)))
        ack_ok = is_tcp & ~syn_ok & (ack_k >= 0) & ((fl & RST) != 0) & (seq == c ^ np.uint64(ACK_ACK_TAG))
        kind = np.where(valid_icmp, kind, np.where(syn_ok, syn_k, ack_k))
        valid = valid_icmp | syn_ok | ack_ok
        stray = int(len(d) - valid.sum() - unknown.sum())
        slow = np.concatenate((slow, rows[unknown]))
        good = np.flatnonzero(valid)
        endpoints = hosts[good] * self.nk + kind[good]
        reasons = []
        for g, f, t in zip(good.tolist(), fl[good].tolist(), ttl[good].tolist()):
            if valid_icmp[g]:
                name = "echo-reply" if icmp_type[g] == ECHO_REPLY else "timestamp-reply"
            else:
                name = "syn-ack" if syn_ok[g] and f & SYN else "reset"
            reasons.append(self._verdict(name, t))
        if len(good):  # round-trip times of the hosts these answers decide
            now = probe.now()
            rtts = probe.rtts
            for target, sent in zip(src[good].tolist(), self.sent_at[endpoints].tolist()):
                if target not in rtts and sent:
                    rtts[target] = max(0.0, now - sent)
        return Judged(endpoints, src[good], kind[good], reasons, slow, stray)

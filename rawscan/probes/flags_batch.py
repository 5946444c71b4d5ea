"""ACK/FIN/NULL/Xmas probes built, and their RSTs judged, a batch at a time (IPv4, numpy).

SynBatcher's counterpart for probes/tcp_flags.py: the same host values, source rows and
template broadcast; build() also writes the acknowledgement number (the cookie, in ACK probes)
and its share of the checksum; judge() takes IPv4 RSTs without options and checks, as
columns, the field the target must have copied from our probe (the RST's sequence number for
ACK probes, its acknowledgement number less the probe's length for the others). Everything
else (ICMP errors, IP options, other segments) goes to FlagsProbe.parse_reply by row number.
"""

from __future__ import annotations

import numpy as np

from ..classify import ACK, RST
from ..results import Verdict
from ..targets import TargetSet
from ..vector import Frames, be16, be32, fold16, put16, put32
from .syn_batch import Judged, SynBatcher
from .tcp_flags import FlagsProbe


class FlagsBatcher(SynBatcher):
    def __init__(self, probe: FlagsProbe, targets: TargetSet, ports: tuple[int, ...]) -> None:
        super().__init__(probe, targets, ports)
        self.flags_probe = probe

    def build(self, endpoints: np.ndarray, attempt: int) -> np.ndarray:
        hosts = endpoints // self.nports
        ports = self.ports[endpoints % self.nports]
        targets = self.map.address(hosts)
        src_rows = self._source_rows(targets, ports, attempt)
        probe = self.flags_probe
        sport = probe.sport + attempt % probe.span
        seq = self._hosts(src_rows, hosts, targets) ^ self.dport_values[ports] ^ self.sport_values[sport]
        seq64 = seq.astype(np.uint64)
        mask = np.uint64(0xFFFF)
        ip_id = seq64 >> np.uint64(16)
        t64 = targets.astype(np.uint64)
        hi, lo = t64 >> np.uint64(16), t64 & mask
        ip_sum = fold16(self.ip_base[src_rows] + ip_id + hi + lo)
        words = np.uint64(sport) + hi + lo + ports.astype(np.uint64) + ip_id + (seq64 & mask)
        if probe.scan.rst_echoes_ack:  # ack = seq: its words count twice
            words = words + ip_id + (seq64 & mask)
        out: np.ndarray = self.template[src_rows]  # a copy: fancy indexing
        put16(out, 4, ip_id)
        put16(out, 10, ip_sum)
        put32(out, 16, t64)
        put16(out, 20, np.full(len(out), sport, dtype=np.uint64))
        put16(out, 22, ports.astype(np.uint64))
        put32(out, 24, seq64)
        if probe.scan.rst_echoes_ack:
            put32(out, 28, seq64)
        put16(out, 36, fold16(self.tcp_base[src_rows] + words))
        return out

    def judge(self, frames: Frames) -> Judged:
        data, lengths = frames.data, frames.lengths
        flags = data[:, 33]
        frag = be16(data, 6) & 0x1FFF
        fast = ((data[:, 0] == 0x45) & (data[:, 9] == 6) & (frag == 0) & (lengths >= 34)
                & ((flags & RST) != 0))
        rows = np.flatnonzero(fast)
        slow = np.flatnonzero(~fast)
        empty = np.empty(0, dtype=np.int64)
        if not len(rows):
            return Judged(empty, empty, empty, [], slow, 0)
        d = data[rows]
        src, dst = be32(d, 12).astype(np.int64), be32(d, 16)
        sport, dport = be16(d, 20).astype(np.int64), be16(d, 22).astype(np.int64)
        fl = flags[rows]
        probe = self.flags_probe
        if len(self.sources) > 1:
            at = np.minimum(np.searchsorted(self._sorted, dst), len(self.sources) - 1)
            src_rows = self._sorted_rows[at]
        else:
            src_rows = np.zeros(len(d), dtype=np.int64)
        ours = (self.sources[src_rows] == dst) & (dport >= probe.sport) & (dport < probe.sport + probe.span)
        hosts = self.map.index(src)
        port_i = self.port_index[sport]
        ours &= (hosts >= 0) & (port_i >= 0)
        if self.host_values is not None:
            hv = self.host_values[src_rows, np.maximum(hosts, 0)]
            unknown = ours & (hv == 0)  # a pair no probe of ours used yet: the slow path decides
        else:
            hv = np.zeros(len(d), dtype=np.uint32)
            unknown = ours
        checked = ours & ~unknown
        expected = (hv ^ self.dport_values[sport] ^ self.sport_values[dport]).astype(np.uint64)
        if probe.scan.rst_echoes_ack:
            valid = checked & (be32(d, 24).astype(np.uint64) == expected)
        else:
            want = (expected + np.uint64(probe.scan.seg_len)) & np.uint64(0xFFFFFFFF)
            valid = checked & ((fl & ACK) != 0) & (be32(d, 28).astype(np.uint64) == want)
        stray = int(len(d) - valid.sum() - unknown.sum())
        slow = np.concatenate((slow, rows[unknown]))
        good = np.flatnonzero(valid)
        endpoints = hosts[good] * self.nports + port_i[good]
        verdicts = self._rst_verdicts(d[good, 8])
        return Judged(endpoints, src[good], sport[good], verdicts, slow, stray)

    def _rst_verdicts(self, ttl: np.ndarray) -> list[Verdict]:
        rst = self.flags_probe.rst_verdict
        return [rst(t) for t in ttl.tolist()]

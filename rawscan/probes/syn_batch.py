"""SYN probes built, and their replies judged, a batch at a time (IPv4, numpy).

The vector counterpart of SynProbe.build and SynProbe.parse_reply for large IPv4 scans:
- build(): the template's bytes broadcast to every row, then destination, source port,
  destination port, sequence number (the cookie), IP id and both checksums patched as
  columns (the same RFC 1624 sums SynTemplate.probe uses: tests hold the bytes equal to it
  and to Scapy's own packet);
- judge(): the replies the per-packet fast path takes (IPv4 without options, TCP with ACK)
  are validated and classified as columns; everything else (ICMP errors, bare RST/SYN, IP
  options, IPv6) is handed back by row number for SynProbe.parse_reply.
Host cookie values (a keyed BLAKE2 per (source, target)) are computed once per pair, the
first time a probe needs them, and kept in an array by host index.
"""

from __future__ import annotations

import numpy as np

from ..classify import ACK, RST, SYN
from ..results import Verdict
from ..targets import TargetSet
from ..vector import AddressMap, Frames, be16, be32, fold16, put16, put32
from .batch_common import (
    Judged, ReplySources, host_table, host_values, known_pairs, none_decided, plain_ipv4,
    source_rows,
)
from .tcp_syn import SynProbe

ACTION_STRAY, ACTION_SLOW = -1, -2


class SynBatcher:
    """Works beside a SynProbe (same templates, cookie and source ports). Subclasses for other
    TCP probes (flags_batch.py) change reply_flag, _ack_words, _matches and _verdicts."""

    reply_flag = ACK  # the fast path takes TCP replies with this flag

    def __init__(self, probe: SynProbe, targets: TargetSet, ports: tuple[int, ...]) -> None:
        if not probe.sources or any(s >= 1 << 32 for s in probe.sources):
            raise ValueError("the vector path is for IPv4 sources")
        self.probe = probe
        self.map = AddressMap(targets.ranges)
        self.nports = len(ports)
        self.ports = np.array(ports, dtype=np.int64)
        self.port_index = np.full(65536, -1, dtype=np.int64)
        self.port_index[self.ports] = np.arange(self.nports)
        cookie = probe.cookie
        self.dport_values = np.frombuffer(cookie.dport_table(), dtype=np.uint32).astype(np.uint32)
        self.sport_values = np.frombuffer(cookie.sport_table(), dtype=np.uint32).astype(np.uint32)
        self.sources = np.array(probe.sources, dtype=np.uint32)
        self._reply_sources = ReplySources(self.sources)
        templates = [probe._templates[s] for s in probe.sources]
        raw = [t.raw for t in templates]
        self.width = len(raw[0])
        self.template = np.frombuffer(b"".join(raw), dtype=np.uint8).reshape(len(raw), self.width)
        self.ip_base = np.array([t._ip_sum for t in templates], dtype=np.uint64)
        self.tcp_base = np.array([t._tcp_sum for t in templates], dtype=np.uint64)
        self.host_values = host_table(len(probe.sources), self.map.total)

    # --- probes ---

    def build(self, endpoints: np.ndarray, attempt: int) -> np.ndarray:
        """The probes for these endpoint indexes, one row each."""
        hosts = endpoints // self.nports
        ports = self.ports[endpoints % self.nports]
        targets = self.map.address(hosts)
        src_rows = source_rows(len(self.sources), targets, ports, attempt)
        probe = self.probe
        sport = probe.sport + attempt % probe.span
        h = host_values(probe.cookie, probe.sources, self.host_values, src_rows, hosts,
                        targets)
        seq = h ^ self.dport_values[ports] ^ self.sport_values[sport]
        seq64 = seq.astype(np.uint64)
        ip_id = seq64 >> np.uint64(16)
        t64 = targets.astype(np.uint64)
        hi, lo = t64 >> np.uint64(16), t64 & np.uint64(0xFFFF)
        ip_sum = fold16(self.ip_base[src_rows] + ip_id + hi + lo)
        words = (self.tcp_base[src_rows] + np.uint64(sport) + hi + lo + ports.astype(np.uint64)
                 + ip_id + (seq64 & np.uint64(0xFFFF)))
        out: np.ndarray = self.template[src_rows]  # a copy: fancy indexing
        put16(out, 4, ip_id)
        put16(out, 10, ip_sum)
        put32(out, 16, t64)
        put16(out, 20, np.full(len(out), sport, dtype=np.uint64))
        put16(out, 22, ports.astype(np.uint64))
        put32(out, 24, seq64)
        ack_words = self._ack_words(out, seq64)
        if ack_words is not None:
            words = words + ack_words
        put16(out, 36, fold16(words))
        return out

    def _ack_words(self, out: np.ndarray, seq64: np.ndarray) -> np.ndarray | None:
        """Write the acknowledgement number where the probe carries one; its checksum words."""
        return None  # a SYN's is 0

    # --- replies ---

    def judge(self, frames: Frames) -> Judged:
        data, lengths = frames.data, frames.lengths
        flags = data[:, 33]
        fast = (plain_ipv4(data) & (data[:, 9] == 6) & (lengths >= 34)
                & ((flags & self.reply_flag) != 0))
        rows, slow = np.flatnonzero(fast), np.flatnonzero(~fast)
        if not len(rows):
            return none_decided(slow)
        d = data[rows]
        src, dst = be32(d, 12).astype(np.int64), be32(d, 16)
        sport, dport = be16(d, 20).astype(np.int64), be16(d, 22).astype(np.int64)
        fl = flags[rows]
        ttl = d[:, 8]
        probe = self.probe
        src_rows = self._reply_sources.rows(dst)
        ours = (self.sources[src_rows] == dst) & (dport >= probe.sport) & (dport < probe.sport + probe.span)
        hosts = self.map.index(src)
        port_i = self.port_index[sport]
        ours &= (hosts >= 0) & (port_i >= 0) & ((fl & (SYN | RST)) != 0)
        hv, unknown = known_pairs(self.host_values, src_rows, hosts, ours)
        checked = ours & ~unknown
        expected = (hv ^ self.dport_values[sport] ^ self.sport_values[dport]).astype(np.uint64)
        valid = checked & self._matches(d, fl, expected)
        stray = int(len(d) - valid.sum() - unknown.sum())
        slow = np.concatenate((slow, rows[unknown]))
        good = np.flatnonzero(valid)
        endpoints = hosts[good] * self.nports + port_i[good]
        verdicts = self._verdicts(fl[good], ttl[good])
        return Judged(endpoints, src[good], sport[good], verdicts, slow, stray)

    def _matches(self, d: np.ndarray, flags: np.ndarray, cookie: np.ndarray) -> np.ndarray:
        """Rows whose reply carries what the target must have copied from our probe: a
        SYN-ACK or RST acknowledges the cookie + 1."""
        ack = be32(d, 28).astype(np.uint64)
        match: np.ndarray = ack == ((cookie + np.uint64(1)) & np.uint64(0xFFFFFFFF))
        return match

    def _verdicts(self, flags: np.ndarray, ttl: np.ndarray) -> list[Verdict]:
        """SynProbe's verdict cache, by flags and TTL (replies share a handful of them)."""
        keys = ((flags.astype(np.int64) & (SYN | RST | ACK)) << 8) | ttl
        cache = self.probe._verdicts
        out: list[Verdict] = []
        for key in keys.tolist():
            verdict = cache.get(key)
            if verdict is None:
                verdict = self.probe.verdict_for(key >> 8, key & 0xFF)
            out.append(verdict)  # type: ignore[arg-type]  # never None: valid rows have ACK and SYN or RST
        return out


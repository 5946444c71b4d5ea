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

from typing import NamedTuple

import numpy as np

from ..classify import ACK, RST, SYN
from ..results import Verdict
from ..targets import TargetSet
from ..vector import AddressMap, Frames, be16, be32, fold16, put16, put32
from .tcp_syn import SynProbe

HOST_TABLE_MAX = 1 << 22  # host values kept in arrays (4 bytes each per source address)
ACTION_STRAY, ACTION_SLOW = -1, -2


class Judged(NamedTuple):
    """What a batch of replies says: rows that decided an endpoint, and rows for the
    per-packet path."""

    endpoints: np.ndarray  # endpoint index per decisive row
    targets: np.ndarray  # the target address of each
    ports: np.ndarray
    verdicts: list[Verdict]  # one per decisive row
    slow: np.ndarray  # row numbers the per-packet path must take
    stray: int  # rows that failed validation


class SynBatcher:
    """Works beside a SynProbe (same templates, cookie and source ports)."""

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
        self._sorted_rows = np.argsort(self.sources)
        self._sorted = self.sources[self._sorted_rows]
        templates = [probe._templates[s] for s in probe.sources]
        raw = [t.raw for t in templates]
        self.width = len(raw[0])
        self.template = np.frombuffer(b"".join(raw), dtype=np.uint8).reshape(len(raw), self.width)
        self.ip_base = np.array([t._ip_sum for t in templates], dtype=np.uint64)
        self.tcp_base = np.array([t._tcp_sum for t in templates], dtype=np.uint64)
        hosts = self.map.total
        self.host_values: np.ndarray | None = (
            np.zeros((len(probe.sources), hosts), dtype=np.uint32)
            if hosts * len(probe.sources) <= HOST_TABLE_MAX else None
        )

    # --- probes ---

    def _source_rows(self, targets: np.ndarray, ports: np.ndarray, attempt: int) -> np.ndarray:
        """pick_source() on columns: which of our addresses each probe leaves from."""
        count = len(self.sources)
        if count == 1:
            return np.zeros(len(targets), dtype=np.int64)
        rows: np.ndarray = (targets * 7 + ports * 13 + attempt) % count
        return rows

    def _hosts(self, src_rows: np.ndarray, hosts: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """The keyed (source, target) values, computed where not yet known."""
        cookie, sources = self.probe.cookie, self.probe.sources
        table = self.host_values
        if table is None:
            values: np.ndarray = np.empty(len(targets), dtype=np.uint32)
            for s in np.unique(src_rows).tolist():
                rows = np.flatnonzero(src_rows == s)
                raw = cookie.host_values(sources[s], targets[rows].tolist())
                values[rows] = np.frombuffer(raw, dtype=">u4")
            return values
        values = table[src_rows, hosts]
        missing = np.flatnonzero(values == 0)
        if len(missing):
            for s in np.unique(src_rows[missing]).tolist():
                rows = missing[src_rows[missing] == s]
                raw = cookie.host_values(sources[s], targets[rows].tolist())
                fresh = np.frombuffer(raw, dtype=">u4").astype(np.uint32)
                # a true 0 stays 0 (then recomputed each time: harmless, once in 2**32)
                table[s, hosts[rows]] = fresh
                values[rows] = fresh
        return values

    def build(self, endpoints: np.ndarray, attempt: int) -> np.ndarray:
        """The probes for these endpoint indexes, one row each."""
        hosts = endpoints // self.nports
        ports = self.ports[endpoints % self.nports]
        targets = self.map.address(hosts)
        src_rows = self._source_rows(targets, ports, attempt)
        sport = self.probe.sport + attempt % self.probe.span
        h = self._hosts(src_rows, hosts, targets)
        seq = h ^ self.dport_values[ports] ^ self.sport_values[sport]
        seq64 = seq.astype(np.uint64)
        ip_id = seq64 >> np.uint64(16)
        t64 = targets.astype(np.uint64)
        hi, lo = t64 >> np.uint64(16), t64 & np.uint64(0xFFFF)
        ip_sum = fold16(self.ip_base[src_rows] + ip_id + hi + lo)
        tcp_sum = fold16(self.tcp_base[src_rows] + np.uint64(sport) + hi + lo
                         + ports.astype(np.uint64) + ip_id + (seq64 & np.uint64(0xFFFF)))
        out: np.ndarray = self.template[src_rows]  # a copy: fancy indexing
        put16(out, 4, ip_id)
        put16(out, 10, ip_sum)
        put32(out, 16, t64)
        put16(out, 20, np.full(len(out), sport, dtype=np.uint64))
        put16(out, 22, ports.astype(np.uint64))
        put32(out, 24, seq64)
        put16(out, 36, tcp_sum)
        return out

    # --- replies ---

    def judge(self, frames: Frames) -> Judged:
        data, lengths = frames.data, frames.lengths
        flags = data[:, 33]
        frag = be16(data, 6) & 0x1FFF
        fast = ((data[:, 0] == 0x45) & (data[:, 9] == 6) & (frag == 0) & (lengths >= 34)
                & ((flags & ACK) != 0))
        rows = np.flatnonzero(fast)
        slow = np.flatnonzero(~fast)
        empty = np.empty(0, dtype=np.int64)
        if not len(rows):
            return Judged(empty, empty, empty, [], slow, 0)
        d = data[rows]
        src, dst = be32(d, 12).astype(np.int64), be32(d, 16)
        sport, dport = be16(d, 20).astype(np.int64), be16(d, 22).astype(np.int64)
        ack = be32(d, 28)
        fl = flags[rows]
        ttl = d[:, 8]
        probe = self.probe
        if len(self.sources) > 1:
            at = np.minimum(np.searchsorted(self._sorted, dst), len(self.sources) - 1)
            src_rows = self._sorted_rows[at]
        else:
            src_rows = np.zeros(len(d), dtype=np.int64)
        ours = (self.sources[src_rows] == dst) & (dport >= probe.sport) & (dport < probe.sport + probe.span)
        hosts = self.map.index(src)
        port_i = self.port_index[sport]
        ours &= (hosts >= 0) & (port_i >= 0) & ((fl & (SYN | RST)) != 0)
        if self.host_values is not None:
            hv = self.host_values[src_rows, np.maximum(hosts, 0)]
            unknown = ours & (hv == 0)  # a pair no probe of ours used yet: the slow path decides
        else:
            hv = np.zeros(len(d), dtype=np.uint32)
            unknown = ours
        checked = ours & ~unknown
        expected = (hv ^ self.dport_values[sport] ^ self.sport_values[dport]).astype(np.uint64)
        valid = checked & (ack.astype(np.uint64) == ((expected + np.uint64(1)) & np.uint64(0xFFFFFFFF)))
        stray = int(len(d) - valid.sum() - unknown.sum())
        slow = np.concatenate((slow, rows[unknown]))
        good = np.flatnonzero(valid)
        endpoints = hosts[good] * self.nports + port_i[good]
        verdicts = self._verdicts(fl[good], ttl[good])
        return Judged(endpoints, src[good], sport[good], verdicts, slow, stray)

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


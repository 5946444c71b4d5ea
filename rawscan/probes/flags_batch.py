"""ACK/FIN/NULL/Xmas probes built, and their RSTs judged, a batch at a time (IPv4, numpy).

SynBatcher configured for probes/tcp_flags.py: the same host values, source rows, template
broadcast and reply checks; build() also writes the acknowledgement number (the cookie, in
ACK probes) and its share of the checksum; judge() takes IPv4 RSTs without options and checks,
as columns, the field the target must have copied from our probe (the RST's sequence number
for ACK probes, its acknowledgement number less the probe's length for the others).
Everything else (ICMP errors, IP options, other segments) goes to FlagsProbe.parse_reply by
row number.
"""

from __future__ import annotations

import numpy as np

from ..classify import ACK, RST
from ..results import Verdict
from ..targets import TargetSet
from ..vector import be32, put32
from .syn_batch import SynBatcher
from .tcp_flags import FlagsProbe


class FlagsBatcher(SynBatcher):
    reply_flag = RST  # only a RST answers these probes

    def __init__(self, probe: FlagsProbe, targets: TargetSet, ports: tuple[int, ...]) -> None:
        super().__init__(probe, targets, ports)
        self.flags_probe = probe

    def _ack_words(self, out: np.ndarray, seq64: np.ndarray) -> np.ndarray | None:
        if not self.flags_probe.scan.rst_echoes_ack:
            return None  # ack 0, as nmap
        put32(out, 28, seq64)  # ack = seq: its words count twice
        words: np.ndarray = (seq64 >> np.uint64(16)) + (seq64 & np.uint64(0xFFFF))
        return words

    def _matches(self, d: np.ndarray, flags: np.ndarray, cookie: np.ndarray) -> np.ndarray:
        scan = self.flags_probe.scan
        match: np.ndarray
        if scan.rst_echoes_ack:
            match = be32(d, 24).astype(np.uint64) == cookie
        else:
            want = (cookie + np.uint64(scan.seg_len)) & np.uint64(0xFFFFFFFF)
            match = ((flags & ACK) != 0) & (be32(d, 28).astype(np.uint64) == want)
        return match

    def _verdicts(self, flags: np.ndarray, ttl: np.ndarray) -> list[Verdict]:
        rst = self.flags_probe.rst_verdict
        return [rst(t) for t in ttl.tolist()]

"""Pure decisions: which sources are scanners and how they scanned, from their endpoints.

A probed endpoint is one its source contacted without an ordinary exchange: a TCP port it
never sent data to (SYN scans, connect scans, failed connection attempts) or a UDP port that
never answered. Browsing, mail or DNS lookups send data or get answers, so a source that
only completed ordinary connections is never a scanner, however many it made.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ..results import Evidence, Verdict
from .flagscans import scan_names
from .store import (
    CONNECTED,
    DATA,
    HALF_OPEN,
    PROBED_FLAGS,
    REPLIED_UDP,
    SCANNER_SHIFT4,
    SCANNER_SHIFT6,
    V6_KEYS,
    Endpoints,
    key_scanner,
    target_mask,
)

DEFAULT_MIN_PROBES = 5  # probed endpoints that make a source a scanner


@dataclass(frozen=True)
class SourceSummary:
    """One probing source and what its endpoints say about it."""

    address: int
    start: int  # its endpoints are sorted_keys[start:stop]
    stop: int
    hosts: int
    tcp_ports: tuple[int, ...]
    udp_ports: tuple[int, ...]
    probed: int  # endpoints that were probes, not ordinary exchanges
    ordinary: int
    probes: int  # packets, retransmissions included
    replied: int  # endpoints that got any reply
    states: tuple[tuple[str, int], ...]  # (state, endpoints), most common first
    kinds: tuple[str, ...]  # "SYN", "connect", "UDP"
    first: float  # capture time of its first and last probe
    last: float
    known: bool = False  # a rawscan capture's sidecar names it

    @property
    def endpoints(self) -> int:
        return self.stop - self.start

    @property
    def retransmissions(self) -> int:
        return self.probes - self.endpoints

    @property
    def span(self) -> float:
        return max(self.last - self.first, 0.0)

    @property
    def rate(self) -> float | None:
        """Probes per second; None when every probe has the same timestamp."""
        return self.probes / self.span if self.span > 0 else None


def is_scanner(summary: SourceSummary, min_probes: int) -> bool:
    return summary.known or summary.probed >= min_probes


def scan_kinds(flags_seen: int, tcp_probed: int, udp_probed: int) -> tuple[str, ...]:
    """How a source scanned, from what it did after its SYNs were answered.

    Half-open (RST after SYN-ACK) is a SYN scan; a completed handshake without data is a
    connect scan. When no port answered SYN-ACK the two look the same on the wire: SYN.
    tcp_probed counts endpoints SYNs probed; ACK, FIN, NULL and Xmas probes (flags_seen's
    PROBED_* bits) name their own scans.
    """
    kinds: list[str] = []
    if tcp_probed:
        if flags_seen & HALF_OPEN or not flags_seen & CONNECTED:
            kinds.append("SYN")
        if flags_seen & CONNECTED:
            kinds.append("connect")
    kinds += scan_names(flags_seen)
    if udp_probed:
        kinds.append("UDP")
    return tuple(kinds)


def source_ranges(keys: Sequence[int]) -> Iterator[tuple[int, int, int]]:
    """(source, start, stop) for each run of keys with the same source (keys are sorted)."""
    start = 0
    n = len(keys)
    while start < n:
        shift = SCANNER_SHIFT6 if keys[start] >= V6_KEYS else SCANNER_SHIFT4
        source = keys[start] >> shift
        stop = start + 1
        while stop < n and keys[stop] >> shift == source:  # an IPv6 key never equals an IPv4 source
            stop += 1
        yield source, start, stop
        start = stop


def summarize(
    keys: Sequence[int], start: int, stop: int, endpoints: Endpoints,
    table: Sequence[Verdict | None], silence: dict[str, Verdict], span: tuple[float, float],
    known: bool = False,
) -> SourceSummary:
    """The summary of one source from its endpoints keys[start:stop]."""
    rows, flags, probes, verdict = endpoints.rows, endpoints.flags, endpoints.probes, endpoints.verdict
    address = key_scanner(keys[start])
    mask = target_mask(address)
    hosts = 0
    last_target = -1
    tcp_ports: set[int] = set()
    udp_ports: set[int] = set()
    probed = tcp_probed = udp_probed = replied = sent = 0
    seen = 0
    states: dict[str, int] = {}
    for key in keys[start:stop]:
        row = rows[key]
        target = (key >> 17) & mask
        if target != last_target:
            hosts += 1
            last_target = target
        f = flags[row]
        sent += probes[row]
        udp = key >> 16 & 1
        (udp_ports if udp else tcp_ports).add(key & 0xFFFF)
        if not f & (REPLIED_UDP if udp else DATA):
            seen |= f  # the scan type comes from probes, not from ordinary connections
            probed += 1
            if udp:
                udp_probed += 1
            elif not f & PROBED_FLAGS:
                tcp_probed += 1
        v = table[verdict[row]]
        if v is None:
            v = silence["udp" if udp else "tcp"]
        elif v.evidence > Evidence.SILENCE:  # (FIN/NULL/Xmas silence has a verdict of its own)
            replied += 1
        states[v.state] = states.get(v.state, 0) + 1
    return SourceSummary(
        address=address, start=start, stop=stop, hosts=hosts,
        tcp_ports=tuple(sorted(tcp_ports)), udp_ports=tuple(sorted(udp_ports)),
        probed=probed, ordinary=(stop - start) - probed, probes=sent, replied=replied,
        states=tuple(sorted(states.items(), key=lambda kv: (-kv[1], kv[0]))),
        kinds=scan_kinds(seen, tcp_probed, udp_probed), first=span[0], last=span[1], known=known,
    )

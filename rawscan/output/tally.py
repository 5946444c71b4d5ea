"""What the human report keeps of a scan while it runs: per host, the ports it will list and
counts of the rest. The scan feeds it (rawscan/scan.py); output/table.py renders it."""

from __future__ import annotations

from typing import Any

from ..results import PortResult
from ..synproxy import SYN_PROXY_MIN_PORTS, SynProxyNote, syn_proxy
from . import OPEN_STATES

COLLAPSE_OVER = 25  # like nmap: a non-open state+reason shared by more ports is summarised


class HostTally:
    """What one host's report needs, kept small: the ports it lists and counts of the ports it
    only summarises (closed ports always; other states once more than 25 share a reason), so
    a /16 x 10 ports costs little more than a /16 x 1 port."""

    __slots__ = ("listed", "counts", "replied", "up")

    def __init__(self) -> None:
        self.listed: list[PortResult] = []
        # made at the first non-open result; Any: kinds and counts alternate (one small list)
        self.counts: list[Any] | None = None
        self.replied: PortResult | None = None  # the first reply that shows the host is up
        self.up = False  # anything came back from (or about) it

    def add(self, r: PortResult, open_only: bool = False) -> None:
        if r.ttl is not None:
            self.up = True
            if self.replied is None and r.state != "filtered":
                self.replied = r
        if r.state == "open":
            self.listed.append(r)
            return
        key = (r.state, r.reason, r.proto)
        key = _KEYS.setdefault(key, key)  # one tuple per kind, shared by every host
        counts = self.counts
        if counts is None:
            counts = self.counts = []
        for i in range(0, len(counts), 2):  # [kind, count, kind, count ...]: a few kinds a host
            if counts[i] is key:
                n = counts[i + 1] = counts[i + 1] + 1
                break
        else:
            counts += (key, 1)
            n = 1
        if r.state != "closed" and not (open_only and r.state not in OPEN_STATES) and n <= COLLAPSE_OVER:
            self.listed.append(r)  # listed unless its group grows past 25

    def syn_proxy(self) -> SynProxyNote | None:
        """rawscan/synproxy.py's rule over this host's SYN-ACKs and ports."""
        answered = sum(1 for r in self.listed if r.reason == "syn-ack")
        if answered < SYN_PROXY_MIN_PORTS:
            return None
        scanned = sum(1 for r in self.listed if r.state == "open") + sum(
            n for n in (self.counts or [])[1::2])
        return syn_proxy(answered, scanned)

    def hidden(self, open_only: bool) -> dict[tuple[str, str, str], int]:
        counts = self.counts or []
        pairs = zip(counts[::2], counts[1::2])
        return {k: n for k, n in pairs
                if k[0] == "closed" or n > COLLAPSE_OVER or (open_only and k[0] not in OPEN_STATES)}


_KEYS: dict[tuple[str, str, str], tuple[str, str, str]] = {}


class ReportTally:
    """Every host's HostTally, fed as results stream in; rendered once the scan ends."""

    def __init__(self, open_only: bool = False) -> None:
        self.open_only = open_only
        self.hosts: dict[str, HostTally] = {}

    def add(self, result: PortResult) -> None:
        host = self.hosts.get(result.ip)
        if host is None:
            host = self.hosts[result.ip] = HostTally()
        host.add(result, self.open_only)

    @property
    def hosts_up(self) -> int:
        return sum(1 for h in self.hosts.values() if h.up)

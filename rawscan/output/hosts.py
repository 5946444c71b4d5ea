"""Per-host grouping for the host-at-a-time formats (XML, grepable) and nmap's "extraports" rule."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from ..addresses import parse_addr
from ..results import PortResult
from . import OPEN_STATES

EXTRA_OVER = 25  # nmap: a non-open state shared by more ports is summarised, not listed
# nmap lists collapsed states in its internal state order; ndiff compares the extraports of two
# files as an ordered tuple, so the same order keeps rawscan's XML equal to nmap's.
STATE_ORDER = ("closed", "filtered", "unfiltered", "open|filtered", "closed|filtered")


def ip_key(ip: str) -> int:
    """Host order in every output: IPv4 before IPv6, each numerically (the tagged int)."""
    return parse_addr(ip)


class HostGroups:
    """Collects results per host; a host is complete once every scanned port has a result, so
    it can be written before the scan ends. Whatever is left is handed out by rest()."""

    def __init__(self, ports_per_host: int) -> None:
        self._need = ports_per_host
        self._open: dict[str, list[PortResult]] = {}
        self._seen: dict[str, set[tuple[str, int]]] = {}

    def add(self, result: PortResult) -> list[PortResult] | None:
        self._open.setdefault(result.ip, []).append(result)
        seen = self._seen.setdefault(result.ip, set())
        seen.add((result.proto, result.port))
        if self._need and len(seen) >= self._need:
            del self._seen[result.ip]
            return self._open.pop(result.ip)
        return None

    def rest(self) -> Iterator[list[PortResult]]:
        for ip in sorted(self._open, key=ip_key):
            yield self._open[ip]
        self._open.clear()
        self._seen.clear()


def collapsed_states(results: Iterable[PortResult], open_only: bool = False) -> list[str]:
    """States summarised as extraports, in nmap's order: any state but open shared by more than
    25 ports (a mass of silent UDP ports too); with --open, every state but open and
    open|filtered."""
    counts = Counter(r.state for r in results)
    if open_only:
        hidden = [s for s in counts if s not in OPEN_STATES]
    else:
        hidden = [s for s, n in counts.items() if s != "open" and n > EXTRA_OVER]
    rank = {s: i for i, s in enumerate(STATE_ORDER)}
    return sorted(hidden, key=lambda s: (rank.get(s, len(rank)), s))


def host_reason(results: Iterable[PortResult]) -> tuple[str, int]:
    """Why the host counts as up: the first port answer from the host itself, with its TTL, or
    nmap's 'user-set' when it never answered (rawscan, like nmap -Pn, does no host discovery)."""
    for r in sorted(results, key=lambda r: r.port):
        if r.ttl is not None and r.state in ("open", "closed"):
            return r.reason, r.ttl
    return "user-set", 0

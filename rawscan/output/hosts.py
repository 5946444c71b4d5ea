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
    it can be written before the scan ends. Whatever is left is handed out by rest().

    Memory must not grow with the number of results (a /16 x 100 ports is 750k of them, ~330
    bytes each, and hosts complete only when their silent ports time out): past SPILL_OVER
    held results, they move to a temporary on-disk SQLite database (anonymous: removed when
    closed) and only a count per host stays in memory."""

    SPILL_OVER = 100_000

    def __init__(self, ports_per_host: int) -> None:
        self._need = ports_per_host
        self._open: dict[str, list[PortResult]] = {}
        self._seen: dict[str, set[tuple[str, int]]] = {}
        self._held = 0
        self._spill: _Spill | None = None

    def add(self, result: PortResult) -> list[PortResult] | None:
        if self._spill is not None:
            return self._spill.add(result, self._need)
        self._open.setdefault(result.ip, []).append(result)
        seen = self._seen.setdefault(result.ip, set())
        seen.add((result.proto, result.port))
        self._held += 1
        if self._need and len(seen) >= self._need:
            del self._seen[result.ip]
            done = self._open.pop(result.ip)
            self._held -= len(done)
            return done
        if self._held > self.SPILL_OVER:
            self._spill = _Spill()
            for results in self._open.values():
                for held in results:
                    self._spill.add(held, 0)
            self._open.clear()
            self._seen.clear()
        return None

    def rest(self) -> Iterator[list[PortResult]]:
        if self._spill is not None:
            yield from self._spill.rest()
            self._spill = None
        for ip in sorted(self._open, key=ip_key):
            yield self._open[ip]
        self._open.clear()
        self._seen.clear()
        self._held = 0


_BANNER_FIELDS = ("product", "version", "extrainfo", "banner", "tls", "conf", "banner_note")
_BATCH = 4096  # rows inserted at once


class _Spill:
    """Results on disk, per host; only a result count per host stays in memory (the engine
    reports each endpoint once). Rows are inserted in batches, flushed before any query."""

    def __init__(self) -> None:
        import pickle
        import sqlite3

        self._dumps, self._loads = pickle.dumps, pickle.loads
        self._db = sqlite3.connect("")  # "": a private temporary database on disk
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute("CREATE TABLE r (k INT, proto TEXT, port INT, state TEXT, reason TEXT, "
                         "ttl INT, service TEXT, host TEXT, extra BLOB)")
        self._db.execute("CREATE INDEX rk ON r (k)")
        self._rows: list[tuple[object, ...]] = []
        self._hosts: dict[str, list[int]] = {}  # ip -> [host number, results so far]

    def add(self, r: PortResult, need: int) -> list[PortResult] | None:
        rich = r.probed or any(getattr(r, f) is not None for f in _BANNER_FIELDS)
        known = self._hosts.get(r.ip)
        if known is None:
            known = self._hosts[r.ip] = [len(self._hosts), 0]
        key = known[0]
        self._rows.append((key, r.proto, r.port, r.state, r.reason, r.ttl, r.service, r.host,
                           self._dumps(r) if rich else None))
        if len(self._rows) >= _BATCH:
            self._flush()
        known[1] += 1
        if need and known[1] >= need:
            del self._hosts[r.ip]
            self._flush()
            found = self._host(r.ip, key)
            self._db.execute("DELETE FROM r WHERE k = ?", (key,))
            return found
        return None

    def _flush(self) -> None:
        if self._rows:
            self._db.executemany("INSERT INTO r VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", self._rows)
            self._rows.clear()

    def _host(self, ip: str, key: int) -> list[PortResult]:
        rows = self._db.execute("SELECT proto, port, state, reason, ttl, service, host, extra "
                                "FROM r WHERE k = ? ORDER BY rowid", (key,))
        return [self._loads(row[7]) if row[7] is not None else PortResult(ip, *row[:7])
                for row in rows]

    def rest(self) -> Iterator[list[PortResult]]:
        self._flush()
        for ip in sorted(self._hosts, key=ip_key):
            yield self._host(ip, self._hosts[ip][0])
        self._db.close()
        self._hosts.clear()


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

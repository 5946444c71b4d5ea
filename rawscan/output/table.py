"""The human report: nmap's layout, one aligned table per host, common states collapsed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..banners.text import printable
from ..results import PortResult
from ..synproxy import SYN_PROXY_MIN_PORTS, SynProxyNote, syn_proxy
from . import OPEN_STATES
from .hosts import ip_key

if TYPE_CHECKING:  # the caller makes the console: importing rich.console is its cost
    from rich.console import Console

COLLAPSE_OVER = 25  # like nmap: a non-open state+reason shared by more ports is summarised
STATE_STYLE = {"open": "green", "closed": "red", "filtered": "yellow", "open|filtered": "yellow",
               "unfiltered": "green"}
EMPHASIS = {"bold": "1", "dim": "2"}  # SGR codes
ANSI = {**EMPHASIS, "red": "31", "green": "32", "yellow": "33"}


def palette(console: Console) -> dict[str, str]:
    """Escape codes the console allows: none off a terminal or with TERM=dumb (rich decides),
    emphasis but no colour with NO_COLOR (as rich does)."""
    if console.color_system is None:
        return {}
    return EMPHASIS if console.no_color else ANSI


def _reason(result: PortResult) -> str:
    return f"{result.reason} ttl {result.ttl}" if result.ttl is not None else result.reason


def _aligned(rows: list[tuple[str, ...]], styles: list[tuple[str, ...]], codes: dict[str, str]) -> list[str]:
    """Columns padded to their widest cell, then coloured when the console has colour."""
    widths = [max(map(len, column)) for column in zip(*rows)]
    widths[-1] = 0  # the last column is not padded
    lines = []
    for row, style in zip(rows, styles):
        if not codes:
            lines.append("  ".join([cell.ljust(w) for cell, w in zip(row, widths)]))
            continue
        cells = []
        for cell, width, cell_style in zip(row, widths, style):
            padded = cell.ljust(width)
            code = codes.get(cell_style)
            cells.append(f"\x1b[{code}m{padded}\x1b[0m" if code else padded)
        lines.append("  ".join(cells))
    return lines


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


def host_block(label: str, results: Iterable[PortResult] | HostTally, open_only: bool = False,
               codes: dict[str, str] | None = None) -> str:
    """One host's report: header lines, the 'Not shown' counts and the aligned port table."""
    if isinstance(results, HostTally):
        tally = results
    else:
        tally = HostTally()
        for r in results:
            tally.add(r, open_only)
    lines = [f"rawscan scan report for {label}"]
    if tally.replied:
        lines.append(f"Host is up, received {tally.replied.reason} ttl {tally.replied.ttl}.")
    proxy = tally.syn_proxy()
    if proxy is not None:
        lines.append(f"Warning: {proxy.text()}.")
    hidden = tally.hidden(open_only)
    for (state, reason, proto), n in sorted(hidden.items(), key=lambda kv: -kv[1]):
        lines.append(f"Not shown: {n} {state} {proto} ports ({reason})")
    shown = [r for r in tally.listed if (r.state, r.reason, r.proto) not in hidden]
    if shown:
        versions = any(r.probed for r in shown)  # --banners: nmap's VERSION column
        rows = [("PORT", "STATE", "REASON", "SERVICE", "CLASS") + (("VERSION",) if versions else ())]
        styles = [("bold",) * len(rows[0])]
        for r in sorted(shown, key=lambda r: (r.proto, r.port)):
            row = (f"{r.port}/{r.proto}", r.state, _reason(r), r.service, r.port_class)
            rows.append(row + ((printable(r.version_text),) if versions else ()))
            styles.append(("", STATE_STYLE.get(r.state, ""), "", "", "dim", ""))
        lines += _aligned(rows, styles, codes or {})
    return "\n".join(lines) + "\n"


def write_blocks(console: Console, blocks: Iterable[str]) -> None:
    """Straight to the console's file: rich's per-print rendering costs ~0.3 ms a host (20 s
    for a /16 sweep); rich still decides whether there is colour (terminal, NO_COLOR, TERM)."""
    out, chunk, size = console.file, [], 0
    for block in blocks:  # in ~64 KB writes: one per host cost a system call each, unbuffered
        chunk.append(block)
        size += len(block)
        if size >= 65536:
            out.write("".join(chunk))
            chunk, size = [], 0
    out.write("".join(chunk))
    out.flush()


def render_host(console: Console, label: str, results: list[PortResult], open_only: bool = False) -> None:
    write_blocks(console, [host_block(label, results, open_only, palette(console))])


def render(
    console: Console, results: Iterable[PortResult] | ReportTally, labels: dict[str, str],
    open_only: bool = False,
) -> None:
    if isinstance(results, ReportTally):
        tally = results
    else:
        tally = ReportTally(open_only)
        for r in results:
            tally.add(r)
    codes = palette(console)
    order = sorted(tally.hosts, key=ip_key)  # IPv4 hosts, then IPv6, each numerically
    write_blocks(console, (host_block(labels.get(ip, ip), tally.hosts[ip], open_only, codes) + "\n"
                           for ip in order))

"""The human report: nmap's layout, one aligned table per host, common states collapsed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..banners.text import printable
from ..results import PortResult
from .hosts import ip_key
from .tally import HostTally, ReportTally

if TYPE_CHECKING:  # the caller makes the console: importing rich.console is its cost
    from rich.console import Console

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
    """Straight to the console's file: rich's per-print rendering costs thousands of times as
    much a host (README, "Design figures"); rich still decides whether there is colour
    (terminal, NO_COLOR, TERM)."""
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

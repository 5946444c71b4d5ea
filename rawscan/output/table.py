"""The human report: nmap's layout, one aligned table per host, common states collapsed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from rich.console import Console
from rich.markup import escape

from ..results import PortResult
from . import OPEN_STATES

COLLAPSE_OVER = 25  # like nmap: a non-open state+reason shared by more ports is summarised
STATE_STYLE = {"open": "green", "closed": "red", "filtered": "yellow", "open|filtered": "yellow"}


def _reason(result: PortResult) -> str:
    return f"{result.reason} ttl {result.ttl}" if result.ttl is not None else result.reason


def _collapsed(results: list[PortResult], open_only: bool = False) -> set[tuple[str, str]]:
    groups = Counter((r.state, r.reason) for r in results)
    if open_only:  # --open: only open and open|filtered ports are listed
        return {g for g in groups if g[0] not in OPEN_STATES}
    return {g for g, n in groups.items() if g[0] == "closed" or (g[0] != "open" and n > COLLAPSE_OVER)}


def _aligned(rows: list[tuple[str, ...]], styles: list[tuple[str, ...]]) -> list[str]:
    """Columns padded to their widest cell, then styled: one string per host is far cheaper to
    print than a rich Table (which measures every cell; ~6 ms a host in a large analysis)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row, style in zip(rows, styles):
        cells = []
        for i, (cell, width, cell_style) in enumerate(zip(row, widths, style)):
            padded = escape(cell if i == len(row) - 1 else cell.ljust(width))
            cells.append(f"[{cell_style}]{padded}[/]" if cell_style else padded)
        lines.append("  ".join(cells))
    return lines


def render_host(console: Console, label: str, results: list[PortResult], open_only: bool = False) -> None:
    lines = [escape(f"rawscan scan report for {label}")]
    replied = next((r for r in results if r.ttl is not None and r.state != "filtered"), None)
    if replied:
        lines.append(escape(f"Host is up, received {replied.reason} ttl {replied.ttl}."))
    hidden = _collapsed(results, open_only)
    counts = Counter((r.state, r.reason, r.proto) for r in results if (r.state, r.reason) in hidden)
    shown = [r for r in results if (r.state, r.reason) not in hidden]
    for (state, reason, proto), n in sorted(counts.items(), key=lambda kv: -kv[1]):
        lines.append(escape(f"Not shown: {n} {state} {proto} ports ({reason})"))
    if shown:
        rows = [("PORT", "STATE", "REASON", "SERVICE", "CLASS")]
        styles = [("bold",) * 5]
        for r in sorted(shown, key=lambda r: (r.proto, r.port)):
            rows.append((f"{r.port}/{r.proto}", r.state, _reason(r), r.service, r.port_class))
            styles.append(("", STATE_STYLE.get(r.state, ""), "", "", "dim"))
        lines += _aligned(rows, styles)
    console.print("\n".join(lines))


def render(
    console: Console, results: Iterable[PortResult], labels: dict[str, str], open_only: bool = False
) -> None:
    by_host: dict[str, list[PortResult]] = {}
    for r in results:
        by_host.setdefault(r.ip, []).append(r)
    for ip in sorted(by_host, key=lambda a: tuple(int(x) for x in a.split("."))):
        render_host(console, labels.get(ip, ip), by_host[ip], open_only)
        console.print()

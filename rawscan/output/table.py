"""The human report: nmap's layout, one aligned table per host, common states collapsed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from rich.console import Console

from ..results import PortResult
from . import OPEN_STATES

COLLAPSE_OVER = 25  # like nmap: a non-open state+reason shared by more ports is summarised
STATE_STYLE = {"open": "green", "closed": "red", "filtered": "yellow", "open|filtered": "yellow"}
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


def _collapsed(results: list[PortResult], open_only: bool = False) -> set[tuple[str, str]]:
    groups = Counter((r.state, r.reason) for r in results)
    if open_only:  # --open: only open and open|filtered ports are listed
        return {g for g in groups if g[0] not in OPEN_STATES}
    return {g for g, n in groups.items() if g[0] == "closed" or (g[0] != "open" and n > COLLAPSE_OVER)}


def _aligned(rows: list[tuple[str, ...]], styles: list[tuple[str, ...]], codes: dict[str, str]) -> list[str]:
    """Columns padded to their widest cell, then coloured when the console has colour."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row, style in zip(rows, styles):
        cells = []
        for i, (cell, width, cell_style) in enumerate(zip(row, widths, style)):
            padded = cell if i == len(row) - 1 else cell.ljust(width)
            code = codes.get(cell_style)
            cells.append(f"\x1b[{code}m{padded}\x1b[0m" if code else padded)
        lines.append("  ".join(cells))
    return lines


def host_block(label: str, results: list[PortResult], open_only: bool = False,
               codes: dict[str, str] | None = None) -> str:
    """One host's report: header lines, the 'Not shown' counts and the aligned port table."""
    lines = [f"rawscan scan report for {label}"]
    replied = next((r for r in results if r.ttl is not None and r.state != "filtered"), None)
    if replied:
        lines.append(f"Host is up, received {replied.reason} ttl {replied.ttl}.")
    hidden = _collapsed(results, open_only)
    counts = Counter((r.state, r.reason, r.proto) for r in results if (r.state, r.reason) in hidden)
    shown = [r for r in results if (r.state, r.reason) not in hidden]
    for (state, reason, proto), n in sorted(counts.items(), key=lambda kv: -kv[1]):
        lines.append(f"Not shown: {n} {state} {proto} ports ({reason})")
    if shown:
        rows = [("PORT", "STATE", "REASON", "SERVICE", "CLASS")]
        styles = [("bold",) * 5]
        for r in sorted(shown, key=lambda r: (r.proto, r.port)):
            rows.append((f"{r.port}/{r.proto}", r.state, _reason(r), r.service, r.port_class))
            styles.append(("", STATE_STYLE.get(r.state, ""), "", "", "dim"))
        lines += _aligned(rows, styles, codes or {})
    return "\n".join(lines) + "\n"


def write_blocks(console: Console, blocks: Iterable[str]) -> None:
    """Straight to the console's file: rich's per-print rendering costs ~0.3 ms a host (20 s
    for a /16 sweep); rich still decides whether there is colour (terminal, NO_COLOR, TERM)."""
    for block in blocks:
        console.file.write(block)
    console.file.flush()


def render_host(console: Console, label: str, results: list[PortResult], open_only: bool = False) -> None:
    write_blocks(console, [host_block(label, results, open_only, palette(console))])


def render(
    console: Console, results: Iterable[PortResult], labels: dict[str, str], open_only: bool = False
) -> None:
    by_host: dict[str, list[PortResult]] = {}
    for r in results:
        by_host.setdefault(r.ip, []).append(r)
    codes = palette(console)
    order = sorted(by_host, key=lambda a: tuple(int(x) for x in a.split(".")))
    write_blocks(console, (host_block(labels.get(ip, ip), by_host[ip], open_only, codes) + "\n"
                           for ip in order))

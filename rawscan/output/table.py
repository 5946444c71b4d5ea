"""The human report: nmap's layout, one rich table per host, common states collapsed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from rich.console import Console
from rich.table import Table

from ..results import PortResult

COLLAPSE_OVER = 25  # like nmap: a non-open state+reason shared by more ports is summarised
STATE_STYLE = {"open": "green", "closed": "red", "filtered": "yellow", "open|filtered": "yellow"}


def _reason(result: PortResult) -> str:
    return f"{result.reason} ttl {result.ttl}" if result.ttl is not None else result.reason


def _collapsed(results: list[PortResult]) -> set[tuple[str, str]]:
    groups = Counter((r.state, r.reason) for r in results)
    return {g for g, n in groups.items() if g[0] == "closed" or (g[0] != "open" and n > COLLAPSE_OVER)}


def render_host(console: Console, label: str, results: list[PortResult]) -> None:
    console.print(f"rawscan scan report for {label}")
    replied = next((r for r in results if r.ttl is not None and r.state != "filtered"), None)
    if replied:
        console.print(f"Host is up, received {replied.reason} ttl {replied.ttl}.")
    hidden = _collapsed(results)
    counts = Counter((r.state, r.reason, r.proto) for r in results if (r.state, r.reason) in hidden)
    shown = [r for r in results if (r.state, r.reason) not in hidden]
    for (state, reason, proto), n in sorted(counts.items(), key=lambda kv: -kv[1]):
        console.print(f"Not shown: {n} {state} {proto} ports ({reason})")
    if not shown:
        return
    table = Table(box=None, show_edge=False, pad_edge=False, header_style="bold")
    for column in ("PORT", "STATE", "REASON", "SERVICE"):
        table.add_column(column)
    for r in sorted(shown, key=lambda r: (r.proto, r.port)):
        style = STATE_STYLE.get(r.state, "")
        table.add_row(f"{r.port}/{r.proto}", f"[{style}]{r.state}[/]", _reason(r), r.service)
    console.print(table)


def render(console: Console, results: Iterable[PortResult], labels: dict[str, str]) -> None:
    by_host: dict[str, list[PortResult]] = {}
    for r in results:
        by_host.setdefault(r.ip, []).append(r)
    for ip in sorted(by_host, key=lambda a: tuple(int(x) for x in a.split("."))):
        render_host(console, labels.get(ip, ip), by_host[ip])
        console.print()

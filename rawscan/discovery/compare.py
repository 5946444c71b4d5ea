"""Comparing host sets (rawscan diff / --baseline of discovery results): hosts that came up,
went down, appeared or disappeared. A host one side lists as down and the other leaves out
is no change (nmap leaves down hosts out unless asked)."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from ..addresses import address_order

if TYPE_CHECKING:
    from rich.console import Console

    from ..compare import ResultSet


class HostChange(NamedTuple):
    ip: str
    old: str | None  # up, down, or None: not listed
    new: str | None


def host_states_of(results: ResultSet) -> dict[str, str]:
    return dict(results.hosts)


def host_changes(before: dict[str, str], after: dict[str, str]) -> list[HostChange]:
    changes = []
    for ip in sorted(set(before) | set(after), key=address_order):
        old, new = before.get(ip), after.get(ip)
        if (old or "down") != (new or "down"):
            changes.append(HostChange(ip, old, new))
    return changes




def print_host_changes(console: Console, changes: list[HostChange],
                       names: dict[str, str] | None = None) -> None:
    from rich.markup import escape

    for c in changes:
        sign, style = ("+", "green") if c.new == "up" else ("-", "red")
        host = f"{c.ip} ({names[c.ip]})" if names and c.ip in names else c.ip
        console.print(f"[{style}]{sign} {escape(host)} {'up' if c.new == 'up' else 'down'}: "
                      f"{c.old or 'not listed'} -> {c.new or 'not listed'}[/]")
    if not changes:
        console.print("No differences.")
        return
    came = sum(1 for c in changes if c.new == "up")
    console.print(f"{len(changes)} host(s) differ: {came} up, {len(changes) - came} down.")

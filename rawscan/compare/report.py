"""Printing a comparison: one line per changed port, then a summary line."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.markup import escape

from .changes import Change

SIGN = {"appeared": ("+", "green"), "disappeared": ("-", "red"), "changed": ("~", "yellow")}


def print_changes(console: Console, changes: list[Change], names: dict[str, str]) -> None:
    for c in changes:
        sign, style = SIGN[c.kind]
        host = f"{c.ip} ({names[c.ip]})" if c.ip in names else c.ip
        console.print(
            f"[{style}]{sign} {escape(host)} {c.port}/{c.proto} {c.kind}: "
            f"{c.old or 'not listed'} -> {c.new or 'not listed'}[/]"
        )
    if not changes:
        console.print("No differences.")
        return
    kinds = Counter(c.kind for c in changes)
    detail = ", ".join(f"{kinds[k]} {k}" for k in SIGN if kinds[k])
    console.print(f"{len(changes)} port(s) differ: {detail}.")

"""Printing a comparison: one line per changed port, then a summary line."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.console import Console

SIGN = {"appeared": ("+", "green"), "disappeared": ("-", "red"), "changed": ("~", "yellow")}


class Changed(Protocol):  # compare.changes.Change, and the library's rawscan.Change
    @property
    def ip(self) -> str: ...
    @property
    def proto(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def old(self) -> str | None: ...
    @property
    def new(self) -> str | None: ...
    @property
    def kind(self) -> str: ...


def change_line(c: Changed, names: Mapping[str, str]) -> str:
    name = names.get(c.ip) or getattr(c, "host", None)
    host = f"{c.ip} ({name})" if name else c.ip
    return (f"{SIGN[c.kind][0]} {host} {c.port}/{c.proto} {c.kind}: "
            f"{c.old or 'not listed'} -> {c.new or 'not listed'}")


def count_line(changes: Sequence[Changed]) -> str:
    if not changes:
        return "No differences."
    kinds = Counter(c.kind for c in changes)
    detail = ", ".join(f"{kinds[k]} {k}" for k in SIGN if kinds[k])
    return f"{len(changes)} port(s) differ: {detail}."


def change_lines(changes: Sequence[Changed], names: Mapping[str, str] | None = None) -> list[str]:
    """What `rawscan diff` prints: one line per changed port, then the count."""
    return [change_line(c, names or {}) for c in changes] + [count_line(changes)]


def print_changes(console: Console, changes: Sequence[Changed], names: dict[str, str]) -> None:
    from rich.text import Text

    for c in changes:
        console.print(Text(change_line(c, names), style=SIGN[c.kind][1]))
    console.print(count_line(changes), markup=False)

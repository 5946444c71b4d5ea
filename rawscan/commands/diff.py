"""rawscan diff OLD NEW: what changed between two scans; exit 0 when equal, 1 when not (for CI)."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import EXIT_DIFFERENT, user_errors


def diff(
    old: Annotated[str, typer.Argument(help="Earlier result: rawscan -oX/-oG/-oJ/-oC output or nmap XML ('-': stdin).")],
    new: Annotated[str, typer.Argument(help="Later result, in any of those formats ('-': stdin).")],
) -> None:
    """Compare two scan results: ports that appeared, disappeared or changed state."""
    from rich.console import Console

    from ..compare.changes import compare
    from ..compare.load import load_results
    from ..compare.report import print_changes
    from ..errors import RawscanError

    with user_errors():
        if old == "-" and new == "-":
            raise RawscanError("only one of OLD and NEW can be stdin ('-')")
        before, after = load_results(old), load_results(new)
    if before.is_discovery or after.is_discovery:  # host sets (rawscan ping, nmap -sn)
        from ..discovery.compare import host_changes, print_host_changes

        moved = host_changes(before.hosts, after.hosts)
        print_host_changes(Console(highlight=False, soft_wrap=True), moved,
                           {**before.names, **after.names})
        if moved:
            raise typer.Exit(EXIT_DIFFERENT)
        return
    changes = compare(before, after)
    print_changes(Console(highlight=False, soft_wrap=True), changes, {**before.names, **after.names})
    if changes:
        raise typer.Exit(EXIT_DIFFERENT)

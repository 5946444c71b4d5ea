"""rawscan payloads: which UDP ports get which protocol probe."""

from __future__ import annotations

from typing import Annotated, Optional

import typer


def payloads(
    port: Annotated[Optional[int], typer.Argument(min=0, max=65535, help="Show the probe for this port, with its bytes.")] = None,
) -> None:
    """List the UDP protocol probes: every other port gets an empty datagram."""
    from rich.console import Console
    from rich.table import Table

    from ..payloads import BUILDERS, payload_for
    from ..services import service_name

    console = Console(highlight=False, soft_wrap=True)
    if port is not None:
        payload = payload_for(port)
        cookie = f", cookie at bytes {payload.cookie_offset}-{payload.cookie_offset + payload.cookie_size - 1}" if payload.cookie_offset is not None else ""
        console.print(f"{port}/udp ({service_name(port, 'udp')}): {payload.description}, "
                      f"{len(payload.template)} bytes{cookie}")
        if payload.template:
            console.print(payload.template.hex(" "))
        return
    table = Table(box=None, header_style="bold")
    for column in ("PORT", "SERVICE", "PROBE", "BYTES", "REPLY CHECKED BY"):
        table.add_column(column)
    for p in sorted(BUILDERS):
        payload = payload_for(p)
        check = "payload cookie + source port" if payload.reply_cookie else "source port"
        if payload.any_source_port:
            check += " (reply from any port)"
        table.add_row(f"{p}/udp", service_name(p, "udp"), payload.description,
                      str(len(payload.template)), check)
    console.print(table)
    console.print("Every other port: an empty datagram. --data-hex / --data-string replace them all.")

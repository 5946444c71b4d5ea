"""rawscan ports: what a port is (names for TCP and UDP, IANA class), by number or by name."""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import RawscanError
from .common import user_errors

CLASS_RANGES = {"system": "0-1023", "registered": "1024-49151", "dynamic": "49152-65535"}


def _resolve(query: str) -> list[int]:
    from ..services import SERVICES_FILE, ports_for_name

    text = query.strip()
    if text.isascii() and text.isdigit():
        port = int(text)
        if port > 65535:
            raise RawscanError(f"port {port} is out of range 0-65535")
        return [port]
    found = sorted({port for port, _proto in ports_for_name(text)})
    if not found:
        raise RawscanError(f"no port number or service named '{query}' in {SERVICES_FILE}")
    return found


def ports(
    queries: Annotated[list[str], typer.Argument(help="Port numbers or service names, e.g. 443 https.")],
) -> None:
    """Show a port's service names for TCP and UDP (from /etc/services) and its IANA class."""
    from rich.console import Console
    from rich.markup import escape

    from ..ports import port_class
    from ..services import names_for_port

    with user_errors():
        numbers = [port for query in queries for port in _resolve(query)]
    console = Console(highlight=False, soft_wrap=True)
    for port in dict.fromkeys(numbers):  # once each, in the order asked
        kind = port_class(port)
        console.print(f"[bold]{port}[/]: {kind} port ({CLASS_RANGES[kind]})")
        names = names_for_port(port)
        for proto in ("tcp", "udp"):
            listed = escape(", ".join(names[proto])) if proto in names else (
                "[dim]no name in the services database[/]")
            console.print(f"  {proto}  {listed}")

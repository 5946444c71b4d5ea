"""Where our probes come from: the source address the kernel would use, and a source port."""

from __future__ import annotations

import socket

from .cookies import derive_key
from .errors import RawscanError
from .targets import int_to_ip, ip_to_int

EPHEMERAL_LOW, EPHEMERAL_SPAN = 40000, 20000


def source_address(target: int, interface: str | None = None) -> int:
    """Ask the kernel's routing table (a connected UDP socket sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            if interface:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
            probe.connect((int_to_ip(target), 9))
        except OSError as exc:
            where = f" via {interface}" if interface else ""
            raise RawscanError(
                f"no route to {int_to_ip(target)}{where}: {exc.strerror} (give -S or -e)"
            ) from None
        return ip_to_int(probe.getsockname()[0])


def source_port_for(seed: int) -> int:
    """A per-scan port: replies to an earlier scan (other seed) mostly miss our filter."""
    return EPHEMERAL_LOW + int.from_bytes(derive_key(seed, "source-port")[:4], "big") % EPHEMERAL_SPAN

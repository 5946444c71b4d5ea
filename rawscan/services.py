"""Service names for ports, from the machine's services database (netbase's /etc/services)."""

from __future__ import annotations

import socket
from functools import lru_cache


@lru_cache(maxsize=8192)
def service_name(port: int, proto: str) -> str:
    try:
        return socket.getservbyport(port, proto)
    except (OSError, OverflowError):
        return "unknown"

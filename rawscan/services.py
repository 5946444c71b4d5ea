"""Service names for ports, from the machine's services database (netbase's /etc/services)."""

from __future__ import annotations

from functools import cache

SERVICES_FILE = "/etc/services"


@cache
def _table(path: str = SERVICES_FILE) -> dict[tuple[int, str], str]:
    # Read once: getservbyport() re-reads the file on every call (~60 us a port).
    table: dict[tuple[int, str], str] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as services:
            for line in services:
                fields = line.split("#", 1)[0].split()
                if len(fields) < 2 or "/" not in fields[1]:
                    continue
                port, _, proto = fields[1].partition("/")
                if port.isdigit():
                    table.setdefault((int(port), proto.lower()), fields[0])
    except OSError:
        pass  # no database: every port is "unknown"
    return table


def service_name(port: int, proto: str) -> str:
    return _table().get((port, proto), "unknown")

"""Service names for ports, from the machine's services database (netbase's /etc/services)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

SERVICES_FILE = "/etc/services"


@cache
def _table(path: str = SERVICES_FILE) -> dict[tuple[int, str], str]:
    # Built once: getservbyport() re-reads the file on every call (README, Design figures).
    table: dict[tuple[int, str], str] = {}
    for entry in _entries(path):
        table.setdefault((entry.port, entry.proto), entry.name)
    return table


def service_name(port: int, proto: str) -> str:
    return _table().get((port, proto), "unknown")


@dataclass(frozen=True)
class ServiceEntry:
    name: str
    port: int
    proto: str
    aliases: tuple[str, ...] = ()


@cache
def _entries(path: str = SERVICES_FILE) -> tuple[ServiceEntry, ...]:
    """Every line of the database, aliases included, for lookups in both directions."""
    entries: list[ServiceEntry] = []
    try:
        with open(path, encoding="utf-8", errors="replace") as services:
            for line in services:
                fields = line.split("#", 1)[0].split()
                if len(fields) < 2 or "/" not in fields[1]:
                    continue
                port, _, proto = fields[1].partition("/")
                if port.isdigit() and int(port) <= 65535:
                    entries.append(ServiceEntry(fields[0], int(port), proto.lower(), tuple(fields[2:])))
    except OSError:
        pass
    return tuple(entries)


def names_for_port(port: int, path: str = SERVICES_FILE) -> dict[str, list[str]]:
    """proto -> [name, aliases...] for the port, e.g. {'tcp': ['http', 'www'], 'udp': [...]}."""
    found: dict[str, list[str]] = {}
    for e in _entries(path):
        if e.port == port:
            names = found.setdefault(e.proto, [])
            names.extend(n for n in (e.name, *e.aliases) if n not in names)
    return found


def ports_for_name(name: str, path: str = SERVICES_FILE) -> list[tuple[int, str]]:
    """(port, proto) pairs whose name or alias is name (case-insensitive), sorted."""
    wanted = name.lower()
    return sorted({(e.port, e.proto) for e in _entries(path)
                   if wanted == e.name.lower() or wanted in (a.lower() for a in e.aliases)})

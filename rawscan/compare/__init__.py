"""Comparing scan results: read any rawscan format or nmap XML, list what changed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..addresses import addr_to_str, parse_addr
from ..results import PortResult

PortKey = tuple[str, str, int]  # (ip, proto, port)


@dataclass
class ResultSet:
    """Port states as one result file (or a finished scan) lists them."""

    states: dict[PortKey, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # ip -> name the user gave
    source: str = ""  # file name, for messages

    def add(self, ip: str, proto: str, port: int, state: str, name: str | None = None) -> None:
        ip = canonical_ip(ip)
        self.states[(ip, proto.lower(), port)] = state
        if name:
            self.names.setdefault(ip, name)

    @classmethod
    def of(cls, results: Iterable[PortResult], source: str) -> ResultSet:
        found = cls(source=source)
        for r in results:
            found.add(r.ip, r.proto, r.port, r.state, r.host)
        return found


def canonical_ip(ip: str) -> str:
    """One spelling per address, so files from different tools compare: IPv6 as rawscan
    writes it (lower case, zeros compressed, '2001:2::2' for '2001:0002:0:0::2' or
    '[2001:2::2]'). Text that is no address is kept as it is."""
    try:
        return addr_to_str(parse_addr(ip.strip()))
    except ValueError:
        return ip

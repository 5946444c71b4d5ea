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

    listed: dict[PortKey, str] = field(default_factory=dict)  # ports named one by one
    names: dict[str, str] = field(default_factory=dict)  # ip -> name the user gave
    source: str = ""  # file name, for messages
    # summarised ports (nmap's <extrareasons ports="0-65535">): kept as ranges, since an
    # `nmap -p-` file of a /24 names 16 million ports that way. (ip, proto) -> [(lo, hi, state)]
    ranges: dict[tuple[str, str], list[tuple[int, int, str]]] = field(default_factory=dict)
    hosts: dict[str, str] = field(default_factory=dict)  # ip -> up/down, where the file says
    # what else the file says of a listed port (reason, ttl, service...), for rawscan.load
    details: dict[PortKey, dict[str, object]] = field(default_factory=dict)

    @property
    def is_discovery(self) -> bool:
        """A host discovery result (rawscan ping, nmap -sn): host states and no ports."""
        return bool(self.hosts) and not self.listed and not self.ranges

    def add(self, ip: str, proto: str, port: int, state: str, name: str | None = None,
            details: dict[str, object] | None = None) -> None:
        ip = canonical_ip(ip)
        self.listed[(ip, proto.lower(), port)] = state
        if details:
            self.details[(ip, proto.lower(), port)] = details
        if name:
            self.names.setdefault(ip, name)

    def add_range(self, ip: str, proto: str, lo: int, hi: int, state: str,
                  name: str | None = None) -> None:
        ip = canonical_ip(ip)
        self.ranges.setdefault((ip, proto.lower()), []).append((lo, hi, state))
        if name:
            self.names.setdefault(ip, name)

    def state_at(self, key: PortKey) -> str | None:
        """The port's state: listed, else summarised in a range, else None (not listed)."""
        found = self.listed.get(key)
        if found is not None:
            return found
        for lo, hi, state in self.ranges.get((key[0], key[1]), ()):
            if lo <= key[2] <= hi:
                return state
        return None

    @property
    def states(self) -> dict[PortKey, str]:
        """Every port's state, the summarised ranges expanded: for small files and tests;
        comparing uses listed and ranges, never this."""
        every = {(ip, proto, port): state for (ip, proto), spans in self.ranges.items()
                 for lo, hi, state in spans for port in range(lo, hi + 1)}
        every.update(self.listed)
        return every

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

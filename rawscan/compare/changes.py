"""What changed between two result sets: ports that appeared, disappeared or changed state."""

from __future__ import annotations

from dataclasses import dataclass

from ..addresses import V6, parse_addr
from ..output import OPEN_STATES
from . import PortKey, ResultSet


@dataclass(frozen=True)
class Change:
    ip: str
    proto: str
    port: int
    old: str | None  # None: the old result does not list the port
    new: str | None

    @property
    def kind(self) -> str:
        was_open, is_open = self.old in OPEN_STATES, self.new in OPEN_STATES
        if is_open and not was_open:
            return "appeared"
        if was_open and not is_open:
            return "disappeared"
        return "changed"


def _order(key: PortKey) -> tuple[int, str, str, int]:
    """IPv4 hosts, then IPv6 (numerically), then anything that is no address, by text."""
    ip, proto, port = key
    try:
        return parse_addr(ip), "", proto, port
    except ValueError:
        return 2 * V6, ip, proto, port


def compare(old: ResultSet, new: ResultSet) -> list[Change]:
    """Every port whose state differs. A port only one side lists counts as not open there
    (nmap summarises closed and filtered ports; --open output lists open ones only), so it
    matters only when it is open on the side that lists it."""
    changes = []
    for key in sorted(old.states.keys() | new.states.keys(), key=_order):
        before, after = old.states.get(key), new.states.get(key)
        if before == after:
            continue
        if before is None and after not in OPEN_STATES:
            continue
        if after is None and before not in OPEN_STATES:
            continue
        changes.append(Change(*key, old=before, new=after))
    return changes

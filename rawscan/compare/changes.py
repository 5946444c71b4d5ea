"""What changed between two result sets: ports that appeared, disappeared or changed state."""

from __future__ import annotations

from dataclasses import dataclass

from ..addresses import address_order
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


def _order(key: PortKey) -> tuple[tuple[int, str], str, int]:
    ip, proto, port = key
    return address_order(ip), proto, port


def _matters(before: str | None, after: str | None) -> bool:
    if before == after:
        return False
    if before is None and after not in OPEN_STATES:
        return False
    if after is None and before not in OPEN_STATES:
        return False
    return True


def compare(old: ResultSet, new: ResultSet) -> list[Change]:
    """Every port whose state differs. A port only one side lists counts as not open there
    (nmap summarises closed and filtered ports; --open output lists open ones only), so it
    matters only when it is open on the side that lists it. Summarised ranges are compared
    range against range: the work grows with the differences, not with the ports summarised."""
    changes = []
    listed = old.listed.keys() | new.listed.keys()
    for key in listed:
        before, after = old.state_at(key), new.state_at(key)
        if _matters(before, after):
            changes.append(Change(*key, old=before, new=after))
    for ip, proto in old.ranges.keys() | new.ranges.keys():
        for lo, hi, before, after in _segments(old.ranges.get((ip, proto), []),
                                               new.ranges.get((ip, proto), [])):
            if not _matters(before, after):
                continue
            for port in range(lo, hi + 1):  # a real difference: each port is reported
                if (ip, proto, port) not in listed:
                    changes.append(Change(ip, proto, port, old=before, new=after))
    changes.sort(key=lambda c: _order((c.ip, c.proto, c.port)))
    return changes


def _segments(old: list[tuple[int, int, str]], new: list[tuple[int, int, str]]
              ) -> list[tuple[int, int, str | None, str | None]]:
    """Split 0-65535 where either side's ranges begin or end: (lo, hi, old state, new state)."""
    cuts = sorted({0, 65536} | {lo for lo, _h, _s in old + new} | {hi + 1 for _l, hi, _s in old + new})
    def state(ranges: list[tuple[int, int, str]], port: int) -> str | None:
        for lo, hi, s in ranges:
            if lo <= port <= hi:
                return s
        return None
    return [(a, b - 1, state(old, a), state(new, a)) for a, b in zip(cuts, cuts[1:]) if a <= 65535]

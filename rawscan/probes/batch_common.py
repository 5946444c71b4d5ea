"""What every numpy batch path (syn_batch.py, flags_batch.py, ping_batch.py) does alike.

- the keyed (source, target) cookie values, kept in a table by host index where it fits;
- pick_source() on columns, for probes;
- for replies: the plain IPv4 rows (no options, not a fragment), which of our addresses each
  was sent to, and whether a probe of ours already used that (source, target) pair.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..cookies import Cookie
from ..results import Verdict
from ..vector import be16

HOST_TABLE_MAX = 1 << 22  # host values kept in arrays (4 bytes each per source address)


class Judged(NamedTuple):
    """What a batch of replies says: rows that decided an endpoint, and rows for the
    per-packet path."""

    endpoints: np.ndarray  # endpoint index per decisive row
    targets: np.ndarray  # the target address of each
    ports: np.ndarray
    verdicts: list[Verdict]  # one per decisive row
    slow: np.ndarray  # row numbers the per-packet path must take
    stray: int  # rows that failed validation


def none_decided(slow: np.ndarray) -> Judged:
    """A batch with no reply for the fast path: every row goes the per-packet way."""
    empty = np.empty(0, dtype=np.int64)
    return Judged(empty, empty, empty, [], slow, 0)


def host_table(sources: int, hosts: int) -> np.ndarray | None:
    """Room for every (source, host) value, or None where it would not fit HOST_TABLE_MAX."""
    if hosts * sources > HOST_TABLE_MAX:
        return None
    return np.zeros((sources, hosts), dtype=np.uint32)


def source_rows(count: int, targets: np.ndarray, keys: np.ndarray, attempt: int) -> np.ndarray:
    """pick_source() on columns: which of our `count` addresses each probe leaves from (keys:
    the port, or ping's kind)."""
    if count == 1:
        return np.zeros(len(targets), dtype=np.int64)
    rows: np.ndarray = (targets * 7 + keys * 13 + attempt) % count
    return rows


def host_values(cookie: Cookie, sources: tuple[int, ...], table: np.ndarray | None,
                src_rows: np.ndarray, hosts: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The keyed (source, target) values (uint32), computed where the table lacks them."""
    if table is None:
        values: np.ndarray = np.empty(len(targets), dtype=np.uint32)
        for s in np.unique(src_rows).tolist():
            rows = np.flatnonzero(src_rows == s)
            raw = cookie.host_values(sources[s], targets[rows].tolist())
            values[rows] = np.frombuffer(raw, dtype=">u4")
        return values
    values = table[src_rows, hosts]
    missing = np.flatnonzero(values == 0)
    if len(missing):
        for s in np.unique(src_rows[missing]).tolist():
            rows = missing[src_rows[missing] == s]
            raw = cookie.host_values(sources[s], targets[rows].tolist())
            fresh = np.frombuffer(raw, dtype=">u4").astype(np.uint32)
            # a true 0 stays 0 (then recomputed each time: harmless, once in 2**32)
            table[s, hosts[rows]] = fresh
            values[rows] = fresh
    return values


def plain_ipv4(data: np.ndarray) -> np.ndarray:
    """Rows holding IPv4 without options and not a fragment (the fast paths' replies)."""
    frag = be16(data, 6) & 0x1FFF
    mask: np.ndarray = (data[:, 0] == 0x45) & (frag == 0)
    return mask


class ReplySources:
    """Which of our addresses each reply was sent to (its row in the sources array)."""

    def __init__(self, sources: np.ndarray) -> None:
        self.count = len(sources)
        self._order = np.argsort(sources)
        self._sorted = sources[self._order]

    def rows(self, dst: np.ndarray) -> np.ndarray:
        if self.count == 1:
            return np.zeros(len(dst), dtype=np.int64)
        at = np.minimum(np.searchsorted(self._sorted, dst), self.count - 1)
        rows: np.ndarray = self._order[at]
        return rows


def known_pairs(table: np.ndarray | None, src_rows: np.ndarray, hosts: np.ndarray,
                ours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The host value (uint32) of each reply's (source, target) pair, and the rows of ours
    whose pair no probe used yet (or no table keeps): the per-packet path decides those."""
    if table is None:
        return np.zeros(len(ours), dtype=np.uint32), ours
    values: np.ndarray = table[src_rows, np.maximum(hosts, 0)]
    return values, ours & (values == 0)

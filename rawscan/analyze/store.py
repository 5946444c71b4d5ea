"""Compact tables for one analysis: what must be kept per endpoint and per source.

An endpoint is (scanner, target, proto, port): the unit of the output, so every one seen is
kept until the end. A row costs about 130 bytes (a dict entry, its int key and index, and
23 bytes of arrays; an IPv6 row's 290-bit key adds 28) instead of ~600 for a small object
per endpoint.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from typing import NamedTuple

from ..addresses import V6
from ..results import Verdict

# Endpoint flags: how the scanner followed up on its probes (scan type, ordinary traffic).
HALF_OPEN = 0x01  # reset the connection after the SYN-ACK without completing it (SYN scan)
CONNECTED = 0x02  # completed the handshake (connect scan, or an ordinary connection)
DATA = 0x04  # sent payload on a connection: ordinary traffic, not a probe
REPLIED_UDP = 0x08  # a UDP datagram came back
# the endpoint was probed without SYN (nmap -sA/-sF/-sN/-sX: analyze/flagscans.py)
PROBED_ACK, PROBED_FIN, PROBED_NULL, PROBED_XMAS = 0x10, 0x20, 0x40, 0x80
PROBED_FLAGS = 0xF0

PROTO_BITS = {6: 0, 17: 1}
PROTO_NAMES = ("tcp", "udp")
FRAME_BITS = 40  # a packet reference is file index << FRAME_BITS | frame number

# Endpoint keys: scanner << SHIFT | target << 17 | udp << 16 | port. Both addresses of an
# endpoint are of one family (addresses.py ints), and each family has its own shift, so IPv4
# keys stay 81-bit ints (~130 bytes a row) and every IPv6 key (scanner << 146, the scanner
# >= 2^128) sorts after every IPv4 one: still scanner, target, protocol, port order.
SCANNER_SHIFT4, SCANNER_SHIFT6 = 49, 146
TARGET_MASK4, TARGET_MASK6 = (1 << 32) - 1, (1 << 129) - 1
V6_KEYS = 1 << 81  # every IPv4 key is below, every IPv6 key above


def endpoint_key(scanner: int, target: int, udp: int, port: int) -> int:
    """Keys sort by scanner, then target, protocol and port: the report's order."""
    shift = SCANNER_SHIFT6 if scanner >= V6 else SCANNER_SHIFT4
    return (scanner << shift) | (target << 17) | (udp << 16) | port


def key_scanner(key: int) -> int:
    return key >> (SCANNER_SHIFT6 if key >= V6_KEYS else SCANNER_SHIFT4)


def target_mask(scanner: int) -> int:
    """(key >> 17) & target_mask(scanner) is the target of one of the scanner's keys."""
    return TARGET_MASK6 if scanner >= V6 else TARGET_MASK4


class EndpointKey(NamedTuple):
    scanner: int
    target: int
    proto: str
    port: int


def split_key(key: int) -> EndpointKey:
    scanner = key_scanner(key)
    target = (key >> 17) & target_mask(scanner)
    return EndpointKey(scanner, target, PROTO_NAMES[(key >> 16) & 1], key & 0xFFFF)


def packet_ref(file_no: int, frame: int) -> int:
    return (file_no << FRAME_BITS) | frame


def split_ref(ref: int) -> tuple[int, int]:
    """(file index, frame number); frame 0 means none."""
    return ref >> FRAME_BITS, ref & ((1 << FRAME_BITS) - 1)


def endpoint_bytes(scanner: int, target: int, udp: int, port: int) -> bytes:
    """The key flows.py files an endpoint under: scanner, target (4 or 16 bytes each), the
    protocol byte (1: UDP) and the port, as the header bytes the packet parser cuts out.
    Keys of one family have one length, and sort as endpoint_key does."""
    n = 16 if scanner >= V6 else 4
    mask = (1 << 128) - 1
    return ((scanner & mask) << 8 * n | (target & mask)).to_bytes(2 * n, "big") + bytes((udp,)) + port.to_bytes(2, "big")


def reverse_key(key: bytes) -> bytes:
    """The flow key (src, dst, sport, dport as header bytes) of the other direction."""
    half = (len(key) - 4) >> 1
    return key[half : 2 * half] + key[:half] + key[-2:] + key[-4:-2]


def bytes_key(key: bytes) -> int:
    """endpoint_key of an endpoint_bytes key."""
    n = (len(key) - 3) >> 1
    scanner, target = int.from_bytes(key[:n], "big"), int.from_bytes(key[n : 2 * n], "big")
    if n == 16:
        scanner, target = V6 | scanner, V6 | target
    return endpoint_key(scanner, target, key[2 * n], int.from_bytes(key[2 * n + 1 :], "big"))


class Endpoints:
    """Endpoint key (endpoint_bytes) -> row in parallel arrays. Rows are added a batch at a
    time: reserve() makes room for the batch's new endpoints (zeroed: no verdict, flags or
    probes yet), the matcher takes them in order by counting, and trim() drops the ones it
    did not take. So a new endpoint costs a counter, not an append to each array."""

    def __init__(self) -> None:
        self.index: dict[bytes, int] = {}
        self.verdict = array("H")  # code in Verdicts; 0: no reply yet
        self.flags = array("B")
        self.probes = array("I")  # probes sent, retransmissions included
        self.probe_ref = array("Q")  # the probe the deciding reply answered (else the latest)
        self.reply_ref = array("Q")  # the deciding reply; 0: none

    def __len__(self) -> int:
        return len(self.verdict)

    def reserve(self, rows: int) -> int:
        """Room for `rows` new endpoints; returns the first new row (the count until then)."""
        first = len(self.verdict)
        for column in self._columns():
            column.frombytes(bytes(rows * column.itemsize))
        return first

    def trim(self, rows: int) -> None:
        """Keep the first `rows` rows (the reserved ones not taken go)."""
        for column in self._columns():
            del column[rows:]

    def _columns(self) -> tuple[array[int], ...]:
        return self.verdict, self.flags, self.probes, self.probe_ref, self.reply_ref

    @property
    def rows(self) -> dict[int, int]:
        """endpoint_key -> row (built on each call: for tests and per-key lookups)."""
        return {bytes_key(k): row for k, row in self.index.items()}

    def sorted_keys(self) -> list[int]:
        return sorted(self.rows)


class Sources:
    """Per probing source: the time of its first and last probe."""

    def __init__(self) -> None:
        self.rows: dict[int, int] = {}
        self.first = array("d")
        self.last = array("d")

    def row(self, src: int, time: float) -> int:
        row = self.rows.get(src)
        if row is None:
            row = self.rows[src] = len(self.first)
            self.first.append(time)
            self.last.append(time)
        return row

    def span(self, src: int) -> tuple[float, float]:
        row = self.rows[src]
        return self.first[row], self.last[row]


class Verdicts:
    """Verdicts interned as small ints (state, reason, evidence and TTL: a few hundred at most)."""

    def __init__(self) -> None:
        self.table: list[Verdict | None] = [None]
        self.strength: list[int] = [-1]  # evidence per code; -1: nothing yet
        self._codes: dict[Verdict, int] = {}

    def code(self, verdict: Verdict | None) -> int:
        if verdict is None:
            return 0
        code = self._codes.get(verdict)
        if code is None:
            code = self._codes[verdict] = len(self.table)
            self.table.append(verdict)
            self.strength.append(int(verdict.evidence))
        return code

    def __iter__(self) -> Iterator[Verdict | None]:
        return iter(self.table)

"""numpy pieces of the engine's hot path: the keyed walk in blocks, endpoints to addresses and
back, and packet batches as 2-D byte arrays (row i = packet i, from its IP header on).

Imported only by large scans (numpy's import costs ~0.15 s of start-up). Every function here
has a readable per-item counterpart elsewhere (cyclic.CyclicOrder, TargetSet.address/index)
and a test that holds the two equal.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # idle BLAS threads cost samples, not work

from collections.abc import Iterator, Sequence  # noqa: E402
from typing import NamedTuple  # noqa: E402

import numpy as np  # noqa: E402

from .cyclic import CyclicOrder  # noqa: E402

WALK_BLOCK = 4096  # steps of the cyclic walk computed at once
_U32_ORDER_MAX = 1 << 32  # x * g stays below 2**64 while the prime does


class Frames(NamedTuple):
    """Received packets as one array: packet i is data[i, :lengths[i]] (rows zero-padded)."""

    data: np.ndarray  # (n, width) uint8, width a multiple of 4
    lengths: np.ndarray  # (n,) captured bytes per packet
    wall_time: float

    def __len__(self) -> int:
        return len(self.lengths)

    def packet(self, i: int) -> bytes:
        return self.data[i, : int(self.lengths[i])].tobytes()


def frames_from(packets: Sequence[bytes], wall_time: float, min_width: int = 64) -> Frames:
    """Pack per-packet bytes (replay, simulations, the receive socket) into Frames."""
    width = max([min_width, *map(len, packets)])
    width += -width % 4
    data = np.zeros((len(packets), width), dtype=np.uint8)
    lengths = np.fromiter(map(len, packets), dtype=np.int64, count=len(packets))
    for i, packet in enumerate(packets):
        data[i, : len(packet)] = np.frombuffer(packet, dtype=np.uint8)
    return Frames(data, lengths, wall_time)


def walk_blocks(order: CyclicOrder) -> Iterator[np.ndarray]:
    """CyclicOrder's indexes (the same ones, in the same order) a block at a time: x_k =
    start * g^k mod p, with g^k for a block precomputed (products stay below 2**64 while the
    prime is below 2**32; larger orders take the per-step walk)."""
    n, g, p, x = order.n, order.generator, order.prime, order.start
    steps = p - 1
    if p >= _U32_ORDER_MAX:
        yield from _walk_slow(n, g, p, x, steps)
        return
    block = min(WALK_BLOCK, steps)
    powers = np.empty(block, dtype=np.uint64)
    acc = 1
    for i in range(block):
        powers[i] = acc
        acc = acc * g % p
    step_all = acc  # g ** block
    p64, n64 = np.uint64(p), np.uint64(n)
    done = 0
    while done < steps:
        size = min(block, steps - done)
        xs = (np.uint64(x) * powers[:size]) % p64
        indexes = xs[xs <= n64] - np.uint64(1)
        if len(indexes):
            yield indexes.astype(np.int64)
        x = x * step_all % p
        done += size


def _walk_slow(n: int, g: int, p: int, x: int, steps: int) -> Iterator[np.ndarray]:
    out: list[int] = []
    for _ in range(steps):
        if x <= n:
            out.append(x - 1)
            if len(out) >= WALK_BLOCK:
                yield np.array(out, dtype=np.int64)
                out = []
        x = x * g % p
    if out:
        yield np.array(out, dtype=np.int64)


class AddressMap:
    """Host index <-> IPv4 address for a TargetSet's ranges, on arrays."""

    def __init__(self, ranges: Sequence[tuple[int, int]]) -> None:
        self.starts = np.array([lo for lo, _hi in ranges], dtype=np.int64)
        self.ends = np.array([hi for _lo, hi in ranges], dtype=np.int64)
        sizes = self.ends - self.starts + 1
        self.before = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
        self.total = int(sizes.sum()) if len(sizes) else 0
        self.single = len(ranges) == 1

    def address(self, hosts: np.ndarray) -> np.ndarray:
        if self.single:
            shifted: np.ndarray = hosts + self.starts[0]
            return shifted
        r = np.searchsorted(self.before, hosts, side="right") - 1
        return self.starts[r] + (hosts - self.before[r])

    def index(self, addresses: np.ndarray) -> np.ndarray:
        """Host index of each address, -1 where it is not a target."""
        if self.single:
            hosts = addresses - self.starts[0]
            return np.where((hosts >= 0) & (hosts < self.total), hosts, -1)
        r = np.searchsorted(self.starts, addresses, side="right") - 1
        rc = np.maximum(r, 0)
        inside = (r >= 0) & (addresses <= self.ends[rc])
        return np.where(inside, self.before[rc] + addresses - self.starts[rc], -1)


def test_bits(bitmap: np.ndarray, indexes: np.ndarray) -> np.ndarray:
    """bit i of a little-endian bitmap (the engine's decided bytes), for each index."""
    bits: np.ndarray = (bitmap[indexes >> 3] >> (indexes & 7).astype(np.uint8)) & 1
    return bits


def set_bits(bitmap: np.ndarray, indexes: np.ndarray) -> None:
    np.bitwise_or.at(bitmap, indexes >> 3, (1 << (indexes & 7)).astype(np.uint8))


def be16(data: np.ndarray, offset: int) -> np.ndarray:
    """Big-endian 16-bit field at byte offset of every row."""
    value: np.ndarray = (data[:, offset].astype(np.uint32) << 8) | data[:, offset + 1]
    return value


def be32(data: np.ndarray, offset: int) -> np.ndarray:
    value: np.ndarray = ((data[:, offset].astype(np.uint32) << 24) | (data[:, offset + 1].astype(np.uint32) << 16)
                         | (data[:, offset + 2].astype(np.uint32) << 8) | data[:, offset + 3])
    return value


def fold16(total: np.ndarray) -> np.ndarray:
    """One's-complement fold of sums below 2**32 to 16 bits, complemented: the checksum."""
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


def put16(data: np.ndarray, offset: int, values: np.ndarray) -> None:
    data[:, offset] = values >> 8
    data[:, offset + 1] = values & 0xFF


def put32(data: np.ndarray, offset: int, values: np.ndarray) -> None:
    data[:, offset] = values >> 24
    data[:, offset + 1] = (values >> 16) & 0xFF
    data[:, offset + 2] = (values >> 8) & 0xFF
    data[:, offset + 3] = values & 0xFF

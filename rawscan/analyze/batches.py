"""A capture's batches (rawscan.capture) as numpy columns: where each IP packet starts and
ends in the batch's buffer, its frame number and its time.

pcap record headers sit at offsets the reader found; their fields are gathered here in one
step for the whole batch, and Ethernet's link header (the usual case) is checked the same
way. Every other link type, and Ethernet frames with VLAN tags, go through the reader's own
per-packet strip functions, so a packet is taken or skipped exactly as read_ip_packets does.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads: its idle threads cost CPU
import numpy as np  # noqa: E402
from numpy.lib.stride_tricks import as_strided  # noqa: E402

from ..capture import PacketBatch, PcapFormat, RecordBatch  # noqa: E402

WINDOW = 64  # bytes of each packet (from its IP header) that the bulk parser may read
_ETHERNET = 1
_VLAN_TPIDS = np.array((0x8100, 0x88A8, 0x9100, 0x9200))


@dataclass
class Columns:
    """One batch: packet i is buf[starts[i]:ends[i]], frame numbers[i] at times[i]; rows[i]
    is its first WINDOW bytes (zero past the buffer's end, so check lengths first)."""

    buf: bytes
    starts: np.ndarray  # int64
    ends: np.ndarray
    numbers: np.ndarray  # int64
    times: np.ndarray  # float64
    rows: np.ndarray  # uint8, (packets, WINDOW)

    def __len__(self) -> int:
        return len(self.starts)

    def packet(self, i: int) -> bytes:
        return self.buf[int(self.starts[i]) : int(self.ends[i])]

    def packet_at(self, frame: int) -> bytes:
        """The packet of this frame number (frames grow along a batch)."""
        return self.packet(int(np.searchsorted(self.numbers, frame)))


def _windows(buf: bytes) -> np.ndarray:
    """A (len(buf), WINDOW) view: row p is buf[p : p + WINDOW], zero-padded."""
    padded = np.zeros(len(buf) + WINDOW, np.uint8)
    padded[: len(buf)] = np.frombuffer(buf, np.uint8)
    return as_strided(padded, shape=(len(buf) + 1, WINDOW), strides=(1, 1), writeable=False)


def _record_header(endian: str) -> np.dtype:
    return np.dtype([("sec", endian + "u4"), ("frac", endian + "u4"), ("caplen", endian + "u4")])


def columns(batch: RecordBatch | PacketBatch, pcap: PcapFormat | None) -> Columns:
    """The batch's IP packets as columns (link headers stripped, non-IP frames dropped)."""
    buf = batch.buf
    win = _windows(buf)
    if isinstance(batch, PacketBatch):
        starts = np.array(batch.starts, np.int64)
        return Columns(buf, starts, np.array(batch.ends, np.int64), np.array(batch.numbers, np.int64),
                       np.array(batch.times, np.float64), win[starts])
    assert pcap is not None
    offsets = np.array(batch.offsets, np.int64)
    header = np.ascontiguousarray(win[offsets, :12]).view(_record_header(pcap.endian))[:, 0]
    data = offsets + 16
    ends = data + header["caplen"].astype(np.int64)
    times = header["sec"].astype(np.float64) + header["frac"].astype(np.float64) / pcap.divisor
    numbers = batch.first_frame + np.arange(len(offsets), dtype=np.int64)
    if pcap.strip is None:
        keep = np.zeros(len(offsets), bool)
        starts = data
    elif pcap.linktype == _ETHERNET:
        starts, keep = _strip_ethernet(win, data, ends, buf, pcap.strip)
    else:
        starts, keep = _strip_each(data, ends, buf, pcap.strip)
    starts, ends = starts[keep], ends[keep]
    return Columns(buf, starts, ends, numbers[keep], times[keep], win[starts])


def _strip_ethernet(
    win: np.ndarray, data: np.ndarray, ends: np.ndarray, buf: bytes, strip: Callable[[bytes, int, int], int],
) -> tuple[np.ndarray, np.ndarray]:
    head = win[data, :15]
    ethertype = head[:, 12].astype(np.int64) << 8 | head[:, 13]
    version = head[:, 14] >> 4
    long_enough = ends - data > 14
    keep = long_enough & (((ethertype == 0x0800) & (version == 4)) | ((ethertype == 0x86DD) & (version == 6)))
    starts = data + 14
    tagged = np.flatnonzero(long_enough & np.isin(ethertype, _VLAN_TPIDS))
    for i in tagged.tolist():  # 802.1Q / QinQ: the reader's own walk over the tags
        ip = strip(buf, int(data[i]), int(ends[i]))
        if ip >= 0:
            starts[i], keep[i] = ip, True
    return starts, keep


def _strip_each(
    data: np.ndarray, ends: np.ndarray, buf: bytes, strip: Callable[[bytes, int, int], int],
) -> tuple[np.ndarray, np.ndarray]:
    ips = [strip(buf, s, e) for s, e in zip(data.tolist(), ends.tolist())]
    starts = np.array(ips, np.int64)
    return starts, starts >= 0

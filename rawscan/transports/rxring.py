"""A PACKET_RX_RING (TPACKET_V2) on an AF_PACKET socket, read a batch of frames at a time.

The kernel writes each packet that passes the filter into the next frame of a ring shared
with us by mmap and flips the frame's status word; no system call per packet. On a SOCK_DGRAM
socket every frame's IP header starts at the same offset, so the ring is one 2-D byte array
and a batch of replies is a slice of it, copied out in one go and handed back to the kernel.
PACKET_STATISTICS on the socket (read by the live transport) counts, exactly, what passed the
filter and what the kernel dropped because the ring was full: the adaptive rate's loss signal.
"""

from __future__ import annotations

import mmap
import socket
import struct

import numpy as np

from ..vector import Frames

SOL_PACKET = 263
PACKET_RX_RING = 5
PACKET_VERSION = 10
TPACKET_V2 = 1
TP_STATUS_USER = 1
TPACKET2_HDRLEN = 52  # TPACKET_ALIGN(sizeof(struct tpacket2_hdr)) + sizeof(struct sockaddr_ll)
_TP_NET = 14  # offset of tp_net (u16) in struct tpacket2_hdr
_BLOCK = 1 << 16  # bytes per ring block (a multiple of the page size)


def _align16(n: int) -> int:
    return (n + 15) & ~15


class RxRing:
    """Frames of frame_size bytes; packets longer than what fits are truncated (lengths say
    how much was captured)."""

    def __init__(self, sock: socket.socket, frame_size: int = 256, frames: int = 1 << 14) -> None:
        per_block = _BLOCK // frame_size
        blocks = max(1, frames // per_block)
        self.frame_size, self.count = frame_size, per_block * blocks
        sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V2)
        sock.setsockopt(SOL_PACKET, PACKET_RX_RING,
                        struct.pack("IIII", _BLOCK, blocks, frame_size, self.count))
        self._sock = sock
        self._map = mmap.mmap(sock.fileno(), _BLOCK * blocks, mmap.MAP_SHARED,
                              mmap.PROT_READ | mmap.PROT_WRITE)
        ring = np.frombuffer(self._map, dtype=np.uint8).reshape(self.count, frame_size)
        self._ring = ring
        self._status = ring[:, 0:4].view(np.uint32)[:, 0]  # tp_status, native order
        self._snaplen = ring[:, 8:12].view(np.uint32)[:, 0]
        self.net = _align16(TPACKET2_HDRLEN + 16)  # SOCK_DGRAM: no link header is kept
        self.width = (frame_size - self.net) & ~3
        self._cursor = 0

    def fileno(self) -> int:
        return self._sock.fileno()

    def ready(self) -> bool:
        return bool(self._status[self._cursor] & TP_STATUS_USER)

    def read(self, limit: int, wall_time: float) -> Frames | None:
        """Up to limit packets, oldest first, copied out; their frames go back to the kernel.
        Stops at the ring's end (the next call goes on from its start)."""
        start = self._cursor
        status = self._status
        if not status[start] & TP_STATUS_USER:
            return None
        end = min(start + limit, self.count)
        taken, window = start, 16  # look at a few frames first: most reads find a few
        while taken < end:
            stop = min(taken + window, end)
            ready = (status[taken:stop] & TP_STATUS_USER) != 0
            if not ready.all():
                taken += int(ready.argmin())
                break
            taken, window = stop, window * 4
        rows = slice(start, taken)
        net = self._ring[rows, 0:32].view(np.uint16)[:, _TP_NET // 2]
        lengths = np.minimum(self._snaplen[rows], self.width).astype(np.int64)
        if (net == self.net).all():
            data = self._ring[rows, self.net : self.net + self.width].copy()
        else:  # not seen on SOCK_DGRAM; kept exact all the same
            data = np.zeros((taken - start, self.width), dtype=np.uint8)
            for i, off in enumerate(net.tolist()):
                row = start + i
                size = min(int(self._snaplen[row]), self.frame_size - off, self.width)
                data[i, :size] = self._ring[row, off : off + size]
                lengths[i] = size
        status[rows] = 0  # TP_STATUS_KERNEL: the frames are the kernel's again
        self._cursor = taken % self.count
        return Frames(data, lengths, wall_time)

    def close(self) -> None:
        ring = self._ring
        del self._ring, self._status, self._snaplen, ring
        try:
            self._map.close()
        except BufferError:  # a Frames view still alive: the mapping goes with the socket
            pass

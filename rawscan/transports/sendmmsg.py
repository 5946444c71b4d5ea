"""Batched sending on a header-included raw socket: one sendmmsg(2) call per batch.

Python's socket module has no sendmmsg; calling libc through ctypes on preallocated message,
iovec and address arrays sends a batch for one system call (a sendto per packet pays Python's
and the kernel's entry each time: README, "Design figures"). Each slot's packet bytes and
destination address are copied into fixed buffers, so nothing is allocated per packet.
"""

from __future__ import annotations

import ctypes
import errno
import select
import socket
import time
from typing import Any

from ..errors import RawscanError

SLOTS = 1024  # packets per system call at most
SLOT_BYTES = 2048  # a probe is at most this long (UDP payloads are a few hundred bytes)


class _Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class _Msghdr(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32),
        ("iov", ctypes.POINTER(_Iovec)), ("iovlen", ctypes.c_size_t),
        ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t), ("flags", ctypes.c_int),
    ]


class _Mmsghdr(ctypes.Structure):
    _fields_ = [("hdr", _Msghdr), ("len", ctypes.c_uint)]


_libc = ctypes.CDLL(None, use_errno=True)
_sendmmsg = getattr(_libc, "sendmmsg", None)
if _sendmmsg is not None:
    _sendmmsg.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int]
    _sendmmsg.restype = ctypes.c_int

# Where the destination address sits in the packet, and in a sockaddr, per family.
_MMSG_SIZE = ctypes.sizeof(_Mmsghdr)
_LAYOUT: dict[int, tuple[int, int, int, int]] = {
    socket.AF_INET: (16, 20, 16, 4),  # IPv4 dst at 16..20; sockaddr_in is 16 bytes, addr at 4
    socket.AF_INET6: (24, 40, 28, 8),  # IPv6 dst at 24..40; sockaddr_in6 is 28 bytes, addr at 8
}
_UNREACHABLE = (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EPERM, errno.EACCES, errno.EADDRNOTAVAIL)


class RawSender:
    """A header-included raw socket of one family with sendmmsg slots."""

    def __init__(self, family: int, interface: str | None = None) -> None:
        self.family = family
        self.sock = socket.socket(family, socket.SOCK_RAW, socket.IPPROTO_RAW)
        if interface:
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
            except OSError as exc:
                raise RawscanError(f"cannot use interface '{interface}': {exc.strerror}") from None
        self.sock.setblocking(False)  # a full queue is waited for with select, never blocks
        self.lost = 0  # packets the kernel refused to route (as if lost on the network)
        self.send_errors = 0  # times the kernel's queue was full (ENOBUFS)
        self.sent = 0  # packets the kernel took (sendmmsg), counted as they leave
        self._views: Any = None  # numpy views of the slots, made for send_rows
        self._dst_lo, self._dst_hi, self._name_len, self._name_addr = _LAYOUT[family]
        self._data = (ctypes.c_char * (SLOTS * SLOT_BYTES))()
        self._names = (ctypes.c_char * (SLOTS * self._name_len))()
        self._data_view = memoryview(self._data).cast("B")
        self._names_view = memoryview(self._names).cast("B")
        self._iov = (_Iovec * SLOTS)()
        self._msgs = (_Mmsghdr * SLOTS)()
        data_base, names_base = ctypes.addressof(self._data), ctypes.addressof(self._names)
        for i in range(SLOTS):
            self._iov[i].base = data_base + i * SLOT_BYTES
            hdr = self._msgs[i].hdr
            hdr.name = names_base + i * self._name_len
            hdr.namelen = self._name_len
            hdr.iov = ctypes.pointer(self._iov[i])
            hdr.iovlen = 1
            # sa_family in host byte order, port 0 (raw sockets take the protocol from the header)
            self._names_view[i * self._name_len : i * self._name_len + 2] = family.to_bytes(2, "little")
        self._lengths = [0] * SLOTS
        self._msgs_base = ctypes.addressof(self._msgs)

    def send(self, packets: list[bytes]) -> None:
        for start in range(0, len(packets), SLOTS):
            part = packets[start : start + SLOTS]
            self._send_slots(part)

    def send_rows(self, rows: Any) -> None:
        """Packets as the rows of a 2-D uint8 numpy array (all of one length): copied into
        the slots column-wise, with no Python work per packet."""
        if self._views is None:
            import numpy as np

            data = np.frombuffer(self._data_view, dtype=np.uint8).reshape(SLOTS, SLOT_BYTES)
            names = np.frombuffer(self._names_view, dtype=np.uint8).reshape(SLOTS, self._name_len)
            iov = np.frombuffer(memoryview(self._iov).cast("B"), dtype=np.uint64).reshape(SLOTS, 2)
            self._views = (data, names, iov)
        data, names, iov = self._views
        size = rows.shape[1]
        if size > SLOT_BYTES:
            raise RawscanError(f"probe of {size} bytes is longer than {SLOT_BYTES}")
        lo, hi, at = self._dst_lo, self._dst_hi, self._name_addr
        for start in range(0, len(rows), SLOTS):
            part = rows[start : start + SLOTS]
            count = len(part)
            data[:count, :size] = part
            names[:count, at : at + hi - lo] = part[:, lo:hi]
            iov[:count, 1] = size
            self._lengths[:count] = [size] * count
            self._transmit(count)

    def _send_slots(self, packets: list[bytes]) -> None:
        data, names, lengths, iov = self._data_view, self._names_view, self._lengths, self._iov
        lo, hi, name_len, at = self._dst_lo, self._dst_hi, self._name_len, self._name_addr
        width = hi - lo
        for i, packet in enumerate(packets):
            size = len(packet)
            if size > SLOT_BYTES:
                raise RawscanError(f"probe of {size} bytes is longer than {SLOT_BYTES}")
            offset = i * SLOT_BYTES
            data[offset : offset + size] = packet
            if lengths[i] != size:
                lengths[i] = iov[i].len = size
            name = i * name_len + at
            names[name : name + width] = packet[lo:hi]
        if _sendmmsg is None:
            self._send_one_by_one(packets)
            return
        self._transmit(len(packets))

    def _transmit(self, count: int) -> None:
        """sendmmsg the first count slots, waiting out a full queue."""
        if _sendmmsg is None:
            packets = [bytes(self._data_view[i * SLOT_BYTES : i * SLOT_BYTES + self._lengths[i]])
                       for i in range(count)]
            self._send_one_by_one(packets)
            return
        self._transmit_now(0, count)

    def _transmit_now(self, done: int, count: int) -> None:
        sendmmsg = _sendmmsg
        assert sendmmsg is not None  # without it _transmit sends one packet a call
        while done < count:
            sent = sendmmsg(self.sock.fileno(), self._msgs_base + done * _MMSG_SIZE, count - done, 0)
            if sent > 0:
                done += sent
                self.sent += sent
                continue
            err = ctypes.get_errno()
            if err == errno.ENOBUFS:
                self.send_errors += 1  # the queue overflowed: a loss signal for the rate
            if not self._retry_after(err):
                done += 1  # the kernel refused this one packet: skip it, as a loss
                self.lost += 1

    def _retry_after(self, err: int) -> bool:
        """Wait out a transient error (True), or say the packet at the head is refused (False)."""
        if err in (errno.EAGAIN, errno.EWOULDBLOCK):
            select.select([], [self.sock], [], 0.01)
            return True
        if err in (errno.ENOBUFS, errno.EINTR):
            time.sleep(0.001)
            return True
        if err in _UNREACHABLE:
            return False  # no route or local firewall: lost, as on a bad network
        raise RawscanError(f"cannot send: {errno.errorcode.get(err, err)} ({err})")

    def _send_one_by_one(self, packets: list[bytes]) -> None:
        lo, hi = self._dst_lo, self._dst_hi
        for packet in packets:
            dst = socket.inet_ntop(self.family, packet[lo:hi])
            while True:
                try:
                    self.sock.sendto(packet, (dst, 0))
                    break
                except OSError as exc:
                    if not self._retry_after(exc.errno or 0):
                        self.lost += 1
                        break

    def close(self) -> None:
        self.sock.close()

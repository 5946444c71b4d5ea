"""Raw sockets: send with IP_HDRINCL, receive cooked IP packets behind a kernel BPF filter."""

from __future__ import annotations

import ctypes
import os
import queue
import select
import socket
import threading

from ..errors import RawscanError
from ..privileges import privilege_error
from .base import Counters, Probes, Received, Replies, SystemClock
from .sendmmsg import RawSender

ETH_P_ALL = 0x0003  # IPv4 and IPv6 on one socket; the BPF filter picks ours
PACKET_OUTGOING = 4
PACKET_IGNORE_OUTGOING = 23  # Linux 4.20+: our own probes are not looped back to us
SOL_PACKET = 263
PACKET_STATISTICS = 6
SO_ATTACH_FILTER = 26
SO_RCVBUFFORCE = 33
RECV_BUFFER = 32 * 1024 * 1024  # bursts of replies must not overflow while we are sending
SEND_QUEUE = 4  # batches waiting for the sending thread at most
DRAIN_MAX = 4096  # per receive() call, so sending is never starved
RECEIVE_WAIT = 0.05  # longest wait in one receive(): stop requests are seen this soon
HANDOFF_WAIT = 0.05  # waits on the sending thread are this short, and re-check it lives
CLOSE_WAIT = 5.0
INLINE_BATCH = 32  # smaller batches are sent from the caller's thread


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _attach_bpf(sock: socket.socket, expression: str) -> None:
    from ..crafting import compile_bpf

    length, instructions = compile_bpf(expression)  # RawscanError naming the cause if not
    program = ctypes.create_string_buffer(instructions, len(instructions))
    fprog = _SockFprog(length, ctypes.cast(program, ctypes.c_void_p))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, bytes(fprog))  # the kernel copies it


def socket_statistics(sock: socket.socket) -> tuple[int, int]:
    """PACKET_STATISTICS of a socket without a ring: (packets since the last read, drops);
    the packets count includes the drops, as the kernel reports it."""
    import struct

    packets, drops = struct.unpack("II", sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
    return packets, drops


class LiveTransport:
    """IPv4 and IPv6 over the host's stack: the kernel routes and resolves neighbours for us.

    ring_frame: receive through a PACKET_RX_RING of frames this long (large scans: replies
    come back as numpy batches) instead of one recv() per packet."""

    def __init__(self, bpf_filter: str, interface: str | None = None,
                 ring_frame: int | None = None) -> None:
        self.clock = SystemClock()
        try:
            # SOCK_DGRAM strips the link header whatever the link type (Ethernet, loopback, tun).
            self._rx = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
            self._senders = {4: RawSender(socket.AF_INET, interface)}
        except PermissionError:
            raise privilege_error() from None
        self._interface = interface
        _attach_bpf(self._rx, bpf_filter)
        self._drain_unfiltered()
        try:
            self._rx.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
            self._outgoing_seen = False
        except OSError:  # before Linux 4.20: our own probes come back and are skipped below
            self._outgoing_seen = True
        try:
            self._rx.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECV_BUFFER)
        except OSError:
            self._rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECV_BUFFER)
        if interface:
            try:
                self._rx.bind((interface, ETH_P_ALL))  # Python applies htons() itself here
            except OSError as exc:
                raise RawscanError(f"cannot use interface '{interface}': {exc.strerror}") from None
        self._ring = None
        if ring_frame and not self._outgoing_seen:
            from .rxring import RxRing

            try:
                self._ring = RxRing(self._rx, frame_size=ring_frame)
            except OSError:  # no ring here (an old kernel, a locked memory limit): recv()
                self._ring = None
        self._rx.setblocking(False)
        self._delivered = 0
        self._dropped = 0
        self._failure: BaseException | None = None
        self._thread: threading.Thread | None = None
        if os.environ.get("RAWSCAN_SEND_THREAD", "1") == "1":
            # sendmmsg runs without the GIL: the kernel's share of sending (on a veth, the
            # target's work too) overlaps the engine's Python work on the other core
            self._queue: queue.Queue[Probes | None] = queue.Queue(maxsize=SEND_QUEUE)
            self._thread = threading.Thread(target=self._sending, name="rawscan-send", daemon=True)
            self._thread.start()

    def _drain_unfiltered(self) -> None:
        # Packets queued before the filter was attached were never filtered.
        self._rx.setblocking(False)
        try:
            while True:
                self._rx.recv(65535)
        except BlockingIOError:
            pass

    def _sender(self, version: int) -> RawSender:
        sender = self._senders.get(version)
        if sender is None:
            sender = self._senders[version] = RawSender(socket.AF_INET6, self._interface)
        return sender

    def send(self, packet: bytes) -> None:
        self.send_batch([packet])

    def send_batch(self, packets: Probes) -> None:
        if self._thread is None or (len(packets) < INLINE_BATCH and not self._queue.unfinished_tasks):
            self._send_now(packets)  # a few packets: a hand-off to the thread costs more
            return
        while True:
            if self._failure is not None:
                raise self._failure
            try:
                self._queue.put(packets, timeout=HANDOFF_WAIT)
                return
            except queue.Full:
                if not self._thread.is_alive():
                    raise RawscanError("the sending thread stopped") from None

    def counters(self) -> Counters:
        refused = sum(sender.lost for sender in self._senders.values())
        errors = sum(sender.send_errors for sender in self._senders.values())
        try:  # the same statistic with or without a ring; each read resets it
            packets, drops = socket_statistics(self._rx)
        except OSError:
            packets = drops = 0
        self._delivered += packets - drops
        self._dropped += drops
        sent = sum(sender.sent for sender in self._senders.values())
        return Counters(self._delivered, self._dropped, errors, refused, sent)

    def drain(self) -> None:
        """Return once every batch handed to send_batch has left."""
        if self._thread is not None:
            while self._queue.unfinished_tasks and self._thread.is_alive():
                with self._queue.all_tasks_done:
                    if self._queue.unfinished_tasks:
                        self._queue.all_tasks_done.wait(HANDOFF_WAIT)
            if self._failure is not None:
                raise self._failure

    def _sending(self) -> None:
        while True:
            packets = self._queue.get()
            try:
                if packets is None:
                    return
                if self._failure is None:
                    self._send_now(packets)
            except BaseException as exc:  # handed to the engine's thread at its next send
                self._failure = exc
            finally:
                self._queue.task_done()

    def _send_now(self, packets: Probes) -> None:
        if not isinstance(packets, list):
            self._senders[4].send_rows(packets)  # numpy batches are IPv4 (vector path)
            return
        if not packets:
            return
        version = packets[0][0] >> 4
        if all(p[0] >> 4 == version for p in packets):
            self._sender(version).send(packets)
            return
        for v in (4, 6):  # a mixed-family batch: one call per family
            part = [p for p in packets if p[0] >> 4 == v]
            if part:
                self._sender(v).send(part)

    def receive(self, deadline: float) -> Replies:
        timeout = min(max(0.0, deadline - self.clock.now()), RECEIVE_WAIT)
        ring = self._ring
        if ring is not None:
            if not ring.ready():
                if timeout <= 0:
                    return []
                select.select([ring], [], [], timeout)
            frames = ring.read(DRAIN_MAX, self.clock.wall())
            return frames if frames is not None else []
        ready, _, _ = select.select([self._rx], [], [], timeout)
        if not ready:
            return []
        received: list[Received] = []
        wall = self.clock.wall()
        rx = self._rx
        if self._outgoing_seen:
            for _ in range(DRAIN_MAX):
                try:
                    packet, address = rx.recvfrom(65535)
                except BlockingIOError:
                    break
                if address[2] != PACKET_OUTGOING:  # our own probes, seen leaving
                    received.append(Received(packet, wall))
            return received
        for _ in range(DRAIN_MAX):
            try:
                received.append(Received(rx.recv(65535), wall))
            except BlockingIOError:
                break
        return received

    def close(self) -> None:
        if self._thread is not None:
            thread, self._thread = self._thread, None
            deadline = self.clock.now() + CLOSE_WAIT
            while thread.is_alive() and self.clock.now() < deadline:
                try:
                    self._queue.put(None, timeout=HANDOFF_WAIT)
                    break
                except queue.Full:
                    continue
            thread.join(max(0.0, deadline - self.clock.now()))
        for sender in self._senders.values():
            sender.close()
        if self._ring is not None:
            self._ring.close()
        self._rx.close()

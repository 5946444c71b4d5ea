"""Raw sockets: send with IP_HDRINCL, receive cooked IP packets behind a kernel BPF filter."""

from __future__ import annotations

import ctypes
import errno
import os
import select
import socket

from ..errors import RawscanError
from .base import Received, SystemClock

ETH_P_IP = 0x0800
PACKET_OUTGOING = 4
SO_ATTACH_FILTER = 26
SO_RCVBUFFORCE = 33
RECV_BUFFER = 32 * 1024 * 1024  # bursts of replies must not overflow while we are sending
DRAIN_MAX = 4096  # per receive() call, so sending is never starved


class PrivilegeError(RawscanError):
    exit_code = 77  # EX_NOPERM from sysexits.h


def has_raw_socket_capability() -> bool:
    """CAP_NET_RAW in the effective set (uid 0 alone is not enough, nor required)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) & (1 << 13))
    except OSError:
        pass
    return os.geteuid() == 0


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _attach_bpf(sock: socket.socket, expression: str) -> None:
    from scapy.arch.common import compile_filter
    from scapy.data import DLT_RAW

    try:
        program = compile_filter(expression, linktype=DLT_RAW)
    except Exception as exc:  # libpcap missing or filter rejected: validation still protects us
        raise RawscanError(f"cannot compile the capture filter ({exc}); is libpcap installed?")
    fprog = _SockFprog(program.bf_len, ctypes.cast(program.bf_insns, ctypes.c_void_p))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, bytes(fprog))


class LiveTransport:
    """IPv4 over the host's stack: the kernel routes and resolves neighbours for us."""

    def __init__(self, bpf_filter: str, interface: str | None = None) -> None:
        self.clock = SystemClock()
        try:
            self._tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
            # SOCK_DGRAM strips the link header whatever the link type (Ethernet, loopback, tun).
            self._rx = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
        except PermissionError:
            raise privilege_error() from None
        _attach_bpf(self._rx, bpf_filter)
        self._drain_unfiltered()
        try:
            self._rx.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECV_BUFFER)
        except OSError:
            self._rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECV_BUFFER)
        if interface:
            try:
                self._rx.bind((interface, ETH_P_IP))  # Python applies htons() itself here
                self._tx.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
            except OSError as exc:
                raise RawscanError(f"cannot use interface '{interface}': {exc.strerror}") from None
        self._rx.setblocking(False)
        self._tx.setblocking(False)  # a full queue is waited for, never blocks the receiver

    def _drain_unfiltered(self) -> None:
        # Packets queued before the filter was attached were never filtered.
        self._rx.setblocking(False)
        try:
            while True:
                self._rx.recv(65535)
        except BlockingIOError:
            pass

    def send(self, packet: bytes) -> None:
        dst = socket.inet_ntoa(packet[16:20])
        while True:
            try:
                self._tx.sendto(packet, (dst, 0))
                return
            except BlockingIOError:
                select.select([], [self._tx], [], 0.01)
            except OSError as exc:
                if exc.errno in (errno.ENOBUFS, errno.EINTR):
                    select.select([], [], [], 0.001)
                    continue
                if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EPERM):
                    return  # no route or local firewall: the probe is lost, as on a bad network
                raise RawscanError(f"cannot send to {dst}: {exc.strerror}") from None

    def receive(self, deadline: float) -> list[Received]:
        timeout = max(0.0, deadline - self.clock.now())
        ready, _, _ = select.select([self._rx], [], [], timeout)
        if not ready:
            return []
        received: list[Received] = []
        wall = self.clock.wall()
        for _ in range(DRAIN_MAX):
            try:
                packet, address = self._rx.recvfrom(65535)
            except BlockingIOError:
                break
            if address[2] != PACKET_OUTGOING:  # our own probes, seen leaving
                received.append(Received(packet, wall))
        return received

    def close(self) -> None:
        self._tx.close()
        self._rx.close()


def privilege_error() -> PrivilegeError:
    import shutil
    import sys

    script = shutil.which("rawscan") or os.path.abspath(sys.argv[0])
    command = " ".join([script, *sys.argv[1:]])
    return PrivilegeError(
        f"raw sockets need root or CAP_NET_RAW: run 'sudo {command}', or grant the capability "
        f"with 'sudo setcap cap_net_raw+ep {os.path.realpath(sys.executable)}'"
    )


def require_raw_sockets() -> None:
    if not has_raw_socket_capability():
        raise privilege_error()

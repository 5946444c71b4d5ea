"""What a scan needs from Scapy (SYN templates, compiled BPF filters), made in a helper process.

Importing Scapy takes ~0.3 s and ~30 MB, a third of a SYN scan's start-up and of its memory,
for two things made once per scan. So `rawscan syn` forks a helper as soon as it starts: the
helper imports Scapy while the parent parses its options, answers a few requests over a pipe,
and exits; the parent never loads Scapy. Without the helper (tests, replay, UDP scans, whose
payloads need Scapy anyway) the same functions run in process.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
from typing import Any

from .addresses import addr_to_str, is_v6

_LENGTH = struct.Struct("!I")


def _syn_template(src: int, ttl: int) -> bytes:
    """A SYN from src: window 1024, MSS 1460 (nmap's), every per-probe field zero."""
    from scapy.layers.inet import IP, TCP  # the heavy import

    tcp = TCP(sport=0, dport=0, seq=0, flags="S", window=1024, options=[("MSS", 1460)], chksum=0)
    if is_v6(src):
        from scapy.layers.inet6 import IPv6

        return bytes(IPv6(src=addr_to_str(src), dst="::", hlim=ttl) / tcp)
    return bytes(IP(src=addr_to_str(src), dst="0.0.0.0", ttl=ttl, id=0, chksum=0) / tcp)


def _bpf(expression: str) -> tuple[int, bytes]:
    """The classic BPF program libpcap (through Scapy) compiles for packets starting at the IP
    header: (instruction count, instructions)."""
    import ctypes

    from scapy.arch.common import compile_filter
    from scapy.data import DLT_RAW

    program = compile_filter(expression, linktype=DLT_RAW)
    return program.bf_len, ctypes.string_at(program.bf_insns, program.bf_len * 8)


_WORK = {"syn": _syn_template, "bpf": _bpf}


class _Helper:
    """A forked child that imports Scapy at once and then answers requests."""

    def __init__(self) -> None:
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the helper
            os.close(self._to_child)
            os.close(self._from_child)
            _serve(to_child_r, from_child_w)  # never returns
        os.close(to_child_r)
        os.close(from_child_w)

    def ask(self, kind: str, *args: Any) -> Any:
        data = pickle.dumps((kind, args))
        os.write(self._to_child, _LENGTH.pack(len(data)) + data)
        header = _read(self._from_child, _LENGTH.size)
        ok, value = pickle.loads(_read(self._from_child, _LENGTH.unpack(header)[0]))
        if not ok:
            raise RuntimeError(value)
        return value

    def close(self) -> None:
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)  # the helper sees end of file and exits
            except OSError:
                pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


def _read(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, left)
        if not chunk:
            raise EOFError("the Scapy helper process ended")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _serve(requests: int, replies: int) -> None:
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
        from scapy.arch.common import compile_filter  # noqa: F401  (import while the parent works)
        from scapy.layers.inet import IP  # noqa: F401
        from scapy.layers.inet6 import IPv6  # noqa: F401

        while True:
            try:
                header = _read(requests, _LENGTH.size)
            except EOFError:
                break
            kind, args = pickle.loads(_read(requests, _LENGTH.unpack(header)[0]))
            try:
                reply = (True, _WORK[kind](*args))
            except Exception as exc:  # handed back: the parent reports it
                reply = (False, f"{type(exc).__name__}: {exc}")
            data = pickle.dumps(reply)
            os.write(replies, _LENGTH.pack(len(data)) + data)
    except BaseException:
        code = 1
    finally:
        os._exit(code)  # no atexit handlers, no flushing of the parent's buffers


_helper: _Helper | None = None


def start_helper() -> None:
    """Fork the helper now, so Scapy loads while the caller goes on (before any thread)."""
    global _helper
    if _helper is None:
        try:
            _helper = _Helper()
        except OSError:
            _helper = None  # no fork: everything runs in process


def stop_helper() -> None:
    global _helper
    if _helper is not None:
        _helper.close()
        _helper = None


def _call(kind: str, *args: Any) -> Any:
    global _helper
    if _helper is not None:
        try:
            return _helper.ask(kind, *args)
        except (OSError, EOFError):
            stop_helper()  # it died: do the work here instead
    return _WORK[kind](*args)


def syn_template(src: int, ttl: int) -> bytes:
    return bytes(_call("syn", src, ttl))


def compile_bpf(expression: str) -> tuple[int, bytes]:
    length, insns = _call("bpf", expression)
    return int(length), bytes(insns)

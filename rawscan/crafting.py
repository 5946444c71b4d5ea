"""What a SYN scan used to ask Scapy for, made without importing it: the SYN template and the
compiled BPF filter.

Importing Scapy costs about half a second, for two things a SYN scan makes once. The template
is a fixed 44- or 64-byte packet, packed here with struct; tests/test_crafting.py holds it
byte-equal to the packet Scapy builds from the same fields. The filter is compiled by libpcap
itself (what Scapy's compile_filter calls), through ctypes, with Scapy's arguments: a dead
DLT_RAW handle with a 65,535-byte snaplen, optimization on, netmask unknown. UDP scans still
import Scapy, for their payloads (payloads.py).
"""

from __future__ import annotations

import struct
from typing import Any

from .addresses import addr_to_bytes, is_v6
from .errors import RawscanError

PROTO_TCP = 6
SYN_WINDOW = 1024  # nmap's
SYN_MSS = 1460  # nmap's; the only option
_TCP_SYN = 0x02
_TCP_DATA_OFFSET = 6 << 4  # 24 bytes: the header and the 4-byte MSS option
_TCP_LENGTH = 24

# TCP with ports, sequence, acknowledgement and checksum zero: the engine patches them per probe
_TCP = struct.Struct("!HHIIBBHHHBBH")
_IPV4 = struct.Struct("!BBHHHBBH4s4s")  # version/IHL, TOS, length, id, flags/fragment, ...
_IPV6 = struct.Struct("!IHBB16s16s")  # version/class/flow label, payload length, next, hop limit


def _tcp_syn() -> bytes:
    return _TCP.pack(0, 0, 0, 0, _TCP_DATA_OFFSET, _TCP_SYN, SYN_WINDOW, 0, 0,
                     2, 4, SYN_MSS)  # MSS option: kind 2, length 4


def syn_template(src: int, ttl: int) -> bytes:
    """A SYN from src (either family) with TTL or hop limit ttl: window 1024, MSS 1460, every
    per-probe field zero (destination, ports, sequence, IP id, both checksums). The bytes of
    Scapy's IP(src, dst="0.0.0.0", ttl, id=0, chksum=0) / TCP(flags="S", window=1024,
    options=[("MSS", 1460)], chksum=0), and of the IPv6 packet with dst="::"."""
    tcp = _tcp_syn()
    if is_v6(src):
        return _IPV6.pack(6 << 28, _TCP_LENGTH, PROTO_TCP, ttl, addr_to_bytes(src),
                          bytes(16)) + tcp
    return _IPV4.pack(0x45, 0, 20 + _TCP_LENGTH, 0, 0, ttl, PROTO_TCP, 0, addr_to_bytes(src),
                      bytes(4)) + tcp


# libpcap's sonames on Debian/Ubuntu (libpcap0.8), then other distributions'
_LIBPCAP_NAMES = ("libpcap.so.0.8", "libpcap.so.1", "libpcap.so")
DLT_RAW = 12  # packets that start at the IP header, as an AF_PACKET SOCK_DGRAM socket gives them
SNAPLEN = 65535  # Scapy's MTU
PCAP_NETMASK_UNKNOWN = 0xFFFFFFFF
BPF_INSN_SIZE = 8  # u16 code, u8 jt, u8 jf, u32 k

_libpcap: tuple[Any, Any] | None = None  # (the library, its struct bpf_program)


def _load_libpcap() -> tuple[Any, Any]:
    """libpcap through ctypes, loaded once, with the prototypes of the few calls used here."""
    global _libpcap
    if _libpcap is not None:
        return _libpcap
    import ctypes

    lib = None
    for name in _LIBPCAP_NAMES:
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError:
            continue
    if lib is None:
        from ctypes.util import find_library  # slow (runs ldconfig): only when the names fail

        found = find_library("pcap")
        try:
            lib = ctypes.CDLL(found) if found else None
        except OSError:
            lib = None
    if lib is None:
        raise RawscanError("libpcap was not found; it compiles the capture filter "
                           "(Debian/Ubuntu: apt install libpcap0.8)")

    class BpfProgram(ctypes.Structure):
        _fields_ = [("bf_len", ctypes.c_uint), ("bf_insns", ctypes.c_void_p)]

    lib.pcap_open_dead.restype = ctypes.c_void_p
    lib.pcap_open_dead.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.pcap_compile.restype = ctypes.c_int
    lib.pcap_compile.argtypes = [ctypes.c_void_p, ctypes.POINTER(BpfProgram), ctypes.c_char_p,
                                 ctypes.c_int, ctypes.c_uint32]
    lib.pcap_geterr.restype = ctypes.c_char_p
    lib.pcap_geterr.argtypes = [ctypes.c_void_p]
    lib.pcap_freecode.restype = None
    lib.pcap_freecode.argtypes = [ctypes.POINTER(BpfProgram)]
    lib.pcap_close.restype = None
    lib.pcap_close.argtypes = [ctypes.c_void_p]
    _libpcap = lib, BpfProgram
    return _libpcap


def compile_bpf(expression: str) -> tuple[int, bytes]:
    """The classic BPF program libpcap compiles from a pcap filter expression, for packets
    starting at the IP header: (instruction count, the instructions as bytes)."""
    import ctypes

    lib, bpf_program = _load_libpcap()
    handle = lib.pcap_open_dead(DLT_RAW, SNAPLEN)
    if not handle:
        raise RawscanError("libpcap could not open a handle to compile the capture filter")
    program = bpf_program()
    try:
        if lib.pcap_compile(handle, ctypes.byref(program), expression.encode(), 1,
                            PCAP_NETMASK_UNKNOWN) != 0:
            reason = (lib.pcap_geterr(handle) or b"").decode(errors="replace")
            raise RawscanError(f"the capture filter '{expression}' does not compile: {reason}")
        try:
            return program.bf_len, ctypes.string_at(program.bf_insns,
                                                    program.bf_len * BPF_INSN_SIZE)
        finally:
            lib.pcap_freecode(ctypes.byref(program))
    finally:
        lib.pcap_close(handle)

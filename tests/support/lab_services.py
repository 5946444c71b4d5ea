"""Helper run inside a lab network namespace (via `ip netns exec`); see tests/support/lab.py.

  serve --addr A [--addr A6] --tcp 22,80 --udp 53
                                        listen on TCP ports of every address (IPv4 or IPv6;
                                        the kernel answers SYNs with SYN-ACK; connections are
                                        accepted and closed) and answer every UDP datagram;
                                        prints "ready" once bound.
  configure --iface IF [--sysctl k=v]   turn off TX checksum offload on IF (so captured
                                        packets carry real checksums) and set sysctls.

Standard library only: it runs under whatever python3 the tests run with.
"""

from __future__ import annotations

import argparse
import ctypes
import fcntl
import resource
import selectors
import socket
import struct
import sys
from pathlib import Path
from typing import cast

UDP_REPLY_PREFIX = b"rawscan-lab:"
_SIOCETHTOOL = 0x8946
_ETHTOOL_GTXCSUM = 0x16
_ETHTOOL_STXCSUM = 0x17


def ports(text: str) -> list[int]:
    return [int(p) for p in text.split(",") if p]


def raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = needed + 64
    if soft == resource.RLIM_INFINITY or soft >= want:
        return
    if hard != resource.RLIM_INFINITY and hard < want:
        sys.exit(f"lab_services: need {want} file descriptors, hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def family_of(addr: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def serve(addrs: list[str], tcp: list[int], udp: list[int]) -> None:
    raise_fd_limit((len(tcp) + len(udp)) * len(addrs))
    sel = selectors.DefaultSelector()  # epoll: fine with thousands of sockets
    for addr in addrs:
        for port in tcp:
            s = new_socket(addr, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            bind(s, addr, port, "tcp")
            s.listen(128)
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, "tcp")
        for port in udp:
            s = new_socket(addr, socket.SOCK_DGRAM)
            bind(s, addr, port, "udp")
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, "udp")
    print("ready", flush=True)
    while True:
        for key, _ in sel.select():
            sock = cast(socket.socket, key.fileobj)
            try:
                if key.data == "tcp":
                    conn, _ = sock.accept()  # keep accept queues empty across many probes
                    conn.close()
                else:
                    data, peer = sock.recvfrom(2048)
                    sock.sendto(UDP_REPLY_PREFIX + data[:64], peer)
            except OSError:
                pass  # e.g. a connection reset before accept; keep serving


def new_socket(addr: str, kind: socket.SocketKind) -> socket.socket:
    s = socket.socket(family_of(addr), kind)
    if family_of(addr) == socket.AF_INET6:  # this address only, never IPv4-mapped ones
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    return s


def bind(s: socket.socket, addr: str, port: int, proto: str) -> None:
    try:
        s.bind((addr, port))
    except OSError as exc:
        sys.exit(f"lab_services: cannot bind {proto}/{port} on {addr}: {exc.strerror}")


def ethtool(iface: str, cmd: int, data: int = 0) -> int:
    value = ctypes.create_string_buffer(struct.pack("II", cmd, data), 8)
    ifreq = struct.pack("16sP", iface.encode(), ctypes.addressof(value)).ljust(40, b"\0")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s.fileno(), _SIOCETHTOOL, ifreq)
    return int(struct.unpack("II", value.raw)[1])


def configure(iface: str, sysctls: list[str]) -> None:
    # veth leaves checksums of locally generated packets to "hardware" that never computes
    # them, so a packet socket on the peer would see wrong TCP/UDP checksums. ethtool may be
    # absent, so use its ioctl directly.
    ethtool(iface, _ETHTOOL_STXCSUM, 0)
    if ethtool(iface, _ETHTOOL_GTXCSUM) != 0:
        sys.exit(f"lab_services: TX checksum offload still on for {iface}")
    for item in sysctls:
        key, _, value = item.partition("=")
        Path("/proc/sys", *key.split(".")).write_text(value + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve")
    p_serve.add_argument("--addr", required=True, action="append", help="repeat for more")
    p_serve.add_argument("--tcp", type=ports, default=[])
    p_serve.add_argument("--udp", type=ports, default=[])
    p_conf = sub.add_parser("configure")
    p_conf.add_argument("--iface", required=True)
    p_conf.add_argument("--sysctl", action="append", default=[])
    args = parser.parse_args()
    if args.command == "serve":
        serve(args.addr, args.tcp, args.udp)
    else:
        configure(args.iface, args.sysctl)


if __name__ == "__main__":
    main()

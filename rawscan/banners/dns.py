"""DNS server identity: a `version.bind` CHAOS TXT query (what `dig CH TXT version.bind`
asks), sent from an ordinary UDP socket after a scan found 53/udp open. BIND, dnsmasq,
Unbound, Knot and PowerDNS answer it with their name and version unless told not to."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import struct

from .grab import Grab
from .rules import Identity
from .text import printable

DNS_PORT = 53
_TXT, _CHAOS = 16, 3
_PRODUCTS = (  # what the answer's text looks like -> (product, version)
    (re.compile(r"^dnsmasq-([\w.]+)$", re.I), "dnsmasq"),
    (re.compile(r"^unbound ([\w.]+)$", re.I), "Unbound"),
    (re.compile(r"^Knot DNS ([\w.]+)$", re.I), "Knot DNS"),
    (re.compile(r"^PowerDNS (?:Authoritative Server|Recursor) ([\w.]+)", re.I), "PowerDNS"),
    (re.compile(r"^(\d+\.\d+\.\d+\S*)$"), "ISC BIND"),  # BIND answers its bare version
)


def query(ident: int) -> bytes:
    """version.bind CH TXT, recursion not desired."""
    name = b"".join(bytes([len(label)]) + label for label in (b"version", b"bind")) + b"\0"
    return struct.pack("!HHHHHH", ident, 0, 1, 0, 0, 0) + name + struct.pack("!HH", _TXT, _CHAOS)


def answer_text(reply: bytes, ident: int) -> str | None:
    """The first TXT string of an answer to query(ident), or None (not an answer, refused)."""
    if len(reply) < 12:
        return None
    rid, flags, qd, an = struct.unpack_from("!HHHH", reply)
    if rid != ident or not flags & 0x8000 or flags & 0x000F or an == 0:
        return None
    at = 12
    try:
        for _ in range(qd):  # skip the question
            at = _skip_name(reply, at) + 4
        at = _skip_name(reply, at)
        rtype, _cls, _ttl, length = struct.unpack_from("!HHIH", reply, at)
        at += 10
        if rtype != _TXT or length < 1 or at + length > len(reply):
            return None
        size = reply[at]
        return reply[at + 1 : at + 1 + min(size, length - 1)].decode("utf-8", "replace")
    except (struct.error, IndexError):
        return None


def _skip_name(data: bytes, at: int) -> int:
    for _ in range(128):  # a name has at most 127 labels
        size = data[at]
        if size == 0:
            return at + 1
        if size & 0xC0 == 0xC0:
            return at + 2  # a compression pointer ends the name
        at += 1 + size
    raise IndexError("name too long")


def identity(text: str) -> Identity:
    shown = printable(text.encode("utf-8", "replace"), 120)
    for pattern, product in _PRODUCTS:
        match = pattern.match(text.strip())
        if match:
            return Identity("domain", product, match.group(1), conf=8)
    return Identity("domain", shown or None, conf=5)


async def grab_version(ip: str, port: int, timeout: float) -> Grab:
    """Ask ip:port for version.bind; the answer's text as the banner and identity."""
    ident = int.from_bytes(os.urandom(2), "big")
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    loop = asyncio.get_running_loop()
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setblocking(False)
    try:
        sock.connect((ip, port))
        deadline = loop.time() + timeout
        for _ in range(2):  # one retransmission: UDP may lose either packet
            await loop.sock_sendall(sock, query(ident))
            try:
                wait = min(timeout / 2, deadline - loop.time())
                reply = await asyncio.wait_for(loop.sock_recv(sock, 4096), max(0.01, wait))
            except (asyncio.TimeoutError, ConnectionRefusedError):
                continue
            text = answer_text(reply, ident)
            if text is None:
                return Grab(note="version.bind not answered")
            return Grab(text.encode("utf-8", "replace")[:4096], None, identity(text))
        return Grab(note=f"no version.bind answer in {timeout:g} s")
    except OSError as exc:
        return Grab(note=f"version.bind query failed: {exc.strerror or exc}")
    finally:
        sock.close()

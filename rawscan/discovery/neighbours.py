"""ARP and NDP pings (nmap's LAN discovery): hosts on a directly connected subnet are asked for
their link-layer address, and a host that answers is up (reason arp-response, or nd-response
for IPv6), with its MAC; one that never answers is down.

Which targets are on a link comes from the kernel's main routing table (/proc/net/route and
/proc/net/ipv6_route): the longest prefix covering the target is a route without a gateway on
an interface other than lo. Requests are Ethernet frames (ARP who-has; IPv6 neighbour
solicitation to the target's solicited-node group) packed with struct, byte-equal to Scapy's
Ether()/ARP() and Ether()/IPv6()/ICMPv6ND_NS() (tests hold them so: Scapy's import would
cost half a second a run), sent on an AF_PACKET socket bound to that interface; an answer is
taken only if it is a reply to our address and MAC, from a host we asked, for the address we
asked about. Rounds: every unanswered host is asked again, at most retries times, until a
round brings no new answer after one that did (as the engine's retry policy on a lossless
link).
"""

from __future__ import annotations

import select
import socket
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..addresses import V6, addr_to_bytes
from ..targets import TargetSet

ETH_P_ARP, ETH_P_IPV6 = 0x0806, 0x86DD
MAX_ONLINK = 1 << 16  # on-link hosts asked by ARP/NDP at most (a /16); more go by IP probes
ROUND_WAIT, SILENT_WAIT = 0.2, 0.5  # seconds after a round: once answers were seen, or not yet


@dataclass(frozen=True)
class Route:
    lo: int
    hi: int
    bits: int
    iface: str


def _routes() -> list[Route]:
    """On-link routes of both families (no gateway, not lo), from /proc."""
    found: list[Route] = []
    try:
        with open("/proc/net/route") as f:
            next(f)
            for line in f:
                parts = line.split()
                if len(parts) < 8 or parts[0] == "lo" or int(parts[2], 16) or not int(parts[3], 16) & 1:
                    continue
                dest = socket.ntohl(int(parts[1], 16))
                mask = socket.ntohl(int(parts[7], 16))
                bits = bin(mask).count("1")
                found.append(Route(dest, dest | (~mask & 0xFFFFFFFF), bits, parts[0]))
    except (OSError, ValueError, StopIteration):
        pass
    try:
        with open("/proc/net/ipv6_route") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 10 or parts[9] == "lo" or int(parts[4], 16):
                    continue
                flags = int(parts[8], 16)
                if flags & 0x80000000 or not flags & 0x1:  # local routes; not up
                    continue
                bits = int(parts[1], 16)
                if bits == 0:
                    continue
                dest = int(parts[0], 16)
                host_bits = (1 << (128 - bits)) - 1
                found.append(Route(V6 | dest, V6 | dest | host_bits, bits, parts[9]))
    except (OSError, ValueError):
        pass
    return found


def onlink(targets: TargetSet, routes: list[Route] | None = None) -> dict[str, list[int]]:
    """Interface -> the targets whose longest matching route is on that link (capped: a
    larger on-link set is left to the IP probes)."""
    routes = _routes() if routes is None else routes
    if not routes:
        return {}
    everything = sorted(routes, key=lambda r: -r.bits)
    result: dict[str, list[int]] = {}
    count = 0
    for lo, hi in targets.ranges:
        for r in everything:
            if r.hi < lo or r.lo > hi:
                continue
            a, b = max(lo, r.lo), min(hi, r.hi)
            for address in range(a, b + 1):
                if count >= MAX_ONLINK:
                    return result
                if _best(everything, address) is r:
                    result.setdefault(r.iface, []).append(address)
                    count += 1
    return result


def _best(routes: list[Route], address: int) -> Route | None:
    return next((r for r in routes if r.lo <= address <= r.hi), None)


def _mac(iface: str) -> bytes:
    with open(f"/sys/class/net/{iface}/address") as f:
        return bytes.fromhex(f.read().strip().replace(":", ""))


def mac_text(raw: bytes) -> str:
    return ":".join(f"{b:02X}" for b in raw)


@dataclass
class Link:
    """One interface's socket and request templates."""

    iface: str
    sock: socket.socket
    mac: bytes
    source4: int | None
    source6: int | None
    asked: dict[int, float] = field(default_factory=dict)  # target -> last request time


def open_links(by_iface: dict[str, list[int]], sources: Iterable[int]) -> list[Link]:
    """AF_PACKET sockets, one per interface (opened while root may still be held)."""
    links = []
    for iface in by_iface:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        sock.bind((iface, 0))
        sock.setblocking(False)
        chosen = list(sources)
        v4 = next((s for s in chosen if s < V6), None)
        v6 = next((s for s in chosen if s >= V6), None)
        links.append(Link(iface, sock, _mac(iface), v4, v6))
    return links


def arp_request(mac: bytes, src: int, target: int) -> bytes:
    """Ether/ARP who-has, as Scapy builds it (tests hold them equal)."""
    return (b"\xff" * 6 + mac + struct.pack("!H", ETH_P_ARP)
            + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + addr_to_bytes(src)
            + b"\x00" * 6 + addr_to_bytes(target))


def ns_request(mac: bytes, src: int, target: int) -> bytes:
    """Ether/IPv6/ICMPv6 neighbour solicitation for target to its solicited-node group."""
    t = addr_to_bytes(target)
    group = bytes.fromhex("ff0200000000000000000001ff") + t[13:]
    dst_mac = b"\x33\x33\xff" + t[13:]
    option = b"\x01\x01" + mac  # source link-layer address
    body = struct.pack("!BBHI", 135, 0, 0, 0) + t + option
    s = addr_to_bytes(src)
    pseudo = s + group + struct.pack("!IxxxB", len(body), 58)
    from ..checksum import fold, ones_sum

    body = body[:2] + struct.pack("!H", fold(ones_sum(pseudo + body))) + body[4:]
    ip6 = struct.pack("!IHBB", 0x60000000, len(body), 58, 255) + s + group
    return dst_mac + mac + struct.pack("!H", ETH_P_IPV6) + ip6 + body


def parse_answer(frame: bytes, link: Link) -> tuple[int, bytes] | None:
    """(target, its MAC) of an ARP reply or neighbour advertisement to us, else None."""
    if len(frame) < 14 or frame[:6] != link.mac:
        return None
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    if ethertype == ETH_P_ARP and len(frame) >= 42 and link.source4 is not None:
        _ht, pt, _hl, _pl, op = struct.unpack_from("!HHBBH", frame, 14)
        if op != 2 or pt != 0x0800:
            return None
        sha, spa, tha, tpa = frame[22:28], frame[28:32], frame[32:38], frame[38:42]
        if tpa != addr_to_bytes(link.source4) or tha != link.mac:
            return None
        return int.from_bytes(spa, "big"), sha
    if ethertype == ETH_P_IPV6 and len(frame) >= 14 + 40 + 24 and link.source6 is not None:
        ip = frame[14:]
        if ip[6] != 58 or ip[7] != 255 or ip[40] != 136 or ip[24:40] != addr_to_bytes(link.source6):
            return None
        target = V6 | int.from_bytes(ip[48:64], "big")
        mac = frame[6:12]
        p = 64  # options: the target link-layer address, when given
        while p + 8 <= len(ip):
            kind, length = ip[p], ip[p + 1] * 8
            if not length:
                break
            if kind == 2 and length >= 8:
                mac = ip[p + 2 : p + 8]
            p += length
        return target, mac
    return None


@dataclass
class NeighbourAnswer:
    target: int
    mac: str
    rtt: float
    v6: bool


def ask(links: list[Link], by_iface: dict[str, list[int]], rate: float, retries: int,
        timeout: float, on_answer: Callable[[NeighbourAnswer], None],
        stop_requested: Callable[[], bool] | None = None) -> tuple[int, int]:
    """Ask every on-link target, in rounds; on_answer at each first answer. Returns
    (requests sent, rounds)."""
    pending = {link.iface: set(by_iface[link.iface]) for link in links}
    answered: set[int] = set()
    sent = rounds = 0
    gap = 1.0 / max(rate, 1.0)
    seen_any = False
    for round_no in range(retries + 1):
        if not any(pending.values()):
            break
        rounds += 1
        before = len(answered)
        for link in links:
            for target in sorted(pending[link.iface]):
                if stop_requested is not None and stop_requested():
                    return sent, rounds
                src = link.source6 if target >= V6 else link.source4
                if src is None:
                    continue
                frame = (ns_request(link.mac, src, target) if target >= V6
                         else arp_request(link.mac, src, target))
                try:
                    link.sock.send(frame)
                except OSError:
                    continue
                link.asked[target] = time.monotonic()
                sent += 1
                _collect(links, pending, answered, on_answer, 0.0)
                time.sleep(gap if gap > 0.00002 else 0)
        wait = ROUND_WAIT if seen_any or answered else min(timeout, SILENT_WAIT) or SILENT_WAIT
        _collect(links, pending, answered, on_answer, wait)
        seen_any = seen_any or len(answered) > before
        if round_no >= 1 and len(answered) == before:
            break  # a round that brought nothing new: the rest are silent
    return sent, rounds


def _collect(links: list[Link], pending: dict[str, set[int]], answered: set[int],
             on_answer: Callable[[NeighbourAnswer], None], wait: float) -> None:
    deadline = time.monotonic() + wait
    socks = {link.sock.fileno(): link for link in links}
    while True:
        left = deadline - time.monotonic()
        ready, _w, _x = select.select(list(socks), [], [], max(left, 0.0))
        if not ready:
            if left <= 0:
                return
            continue
        for fd in ready:
            link = socks[fd]
            for _ in range(256):
                try:
                    frame = link.sock.recv(2048)
                except BlockingIOError:
                    break
                found = parse_answer(frame, link)
                if found is None:
                    continue
                target, mac = found
                if target in pending[link.iface] and target in link.asked:
                    pending[link.iface].discard(target)
                    answered.add(target)
                    rtt = time.monotonic() - link.asked[target]
                    on_answer(NeighbourAnswer(target, mac_text(mac), rtt, target >= V6))
        if time.monotonic() >= deadline:
            return


def close_links(links: list[Link]) -> None:
    for link in links:
        link.sock.close()


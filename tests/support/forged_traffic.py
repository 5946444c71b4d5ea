"""Forged and stray traffic for the live lab: run in the target namespace during a scan.

    python3 tests/support/forged_traffic.py --iface rs-tgt0 --scanner 198.18.0.1 --target 198.18.0.2 \
        --probed 1-300 --open 3,23 --unprobed 301-400 --report r.json forge
    python3 tests/support/forged_traffic.py ... --report r.json replay --pcap earlier-scan.pcap

Prints "armed" once ready, then waits (at most --wait seconds) for the scan's first probe to
reach the target: the scanner's receive socket is then open, and the probe's source port is the
one the scan's first round sends from. It then sends its packets at --pps, writes a report (what
was sent, by kind, and how many of those the scanner's capture filter lets through) and exits.
Bounded: at most --max-packets packets, and --wait seconds of waiting.
`forge` is blind, as an off-path attacker is: it knows the scanner's address and source port
(here: from the trigger probe; an attacker would guess) but not the scan's key, so every
acknowledgement and quoted sequence number is a guess.
`replay` sends the replies recorded in an earlier scan's pcap (another seed) as if they came late.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import struct
import sys
import time
from collections import Counter
from pathlib import Path

ETH_P_IP = 0x0800
PACKET_OUTGOING = 4


def port_list(text: str) -> list[int]:
    out: list[int] = []
    for part in filter(None, text.split(",")):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


PLACEHOLDER = 0  # the scan's source port, patched in once the first probe shows it


def forged(args: argparse.Namespace, sport: int = PLACEHOLDER) -> list[tuple[str, bytes]]:
    """(kind, packet) pairs: SYN-ACKs, RSTs and ICMP errors no real reply matches. Built
    before the scan starts (Scapy takes half a second for these), to `sport` later."""
    from scapy.layers.inet import ICMP, IP, TCP

    rng = random.Random(args.seed)
    probed, unprobed = port_list(args.probed), port_list(args.unprobed)
    open_ports = set(port_list(args.open))
    not_open = [p for p in probed if p not in open_ports] or probed
    scanner, target = args.scanner, args.target

    def guess() -> int:
        return rng.getrandbits(32)

    def tcp(src: str, sport: int, dport: int, flags: str) -> bytes:
        return bytes(IP(src=src, dst=scanner, ttl=64) / TCP(sport=sport, dport=dport, flags=flags,
                                                              seq=guess(), ack=guess()))

    def icmp(src: str, code: int, dport: int) -> bytes:
        quoted = IP(src=scanner, dst=target, ttl=63) / TCP(sport=sport, dport=dport,
                                                          flags="S", seq=guess())
        return bytes(IP(src=src, dst=scanner, ttl=64) / ICMP(type=3, code=code) / bytes(quoted)[:28])

    out: list[tuple[str, bytes]] = []
    for _ in range(args.each):
        out += [
            # for ports the scan never probed
            ("synack-unprobed", tcp(target, rng.choice(unprobed), sport, "SA")),
            ("rst-unprobed", tcp(target, rng.choice(unprobed), sport, "R")),
            ("icmp-unprobed", icmp(target, 3, rng.choice(unprobed))),
            # plausible ones for probed ports, with a guessed acknowledgement / quoted sequence
            ("synack-wrong-ack", tcp(target, rng.choice(not_open), sport, "SA")),
            ("rstack-wrong-ack", tcp(target, rng.choice(probed), sport, "RA")),
            ("icmp-admin-wrong-seq", icmp(target, 13, rng.choice(probed))),
            ("icmp-router-wrong-seq", icmp(args.router, 1, rng.choice(probed))),
            # from a host the scan does not cover
            ("synack-other-host", tcp(args.other_host, rng.choice(probed), sport, "SA")),
            # to ports the scan does not send from: the kernel's filter must keep these out
            ("synack-other-sport", tcp(target, rng.choice(probed), args.outside_sport, "SA")),
            ("rst-other-sport", tcp(target, rng.choice(probed), args.outside_sport, "R")),
        ]
    if args.bare:
        # no acknowledgement at all: a bare RST to an open port, a bare SYN to a closed one
        closed = [p for p in not_open if p not in set(port_list(args.filtered))] or not_open
        for _ in range(args.each):
            out += [("rst-bare-probed", tcp(target, rng.choice(sorted(open_ports)), sport, "R")),
                    ("syn-bare-probed", tcp(target, rng.choice(closed), sport, "S"))]
    return out


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def to_port(packet: bytes, sport: int) -> bytes:
    """The packet aimed at the scan's source port sport: a TCP destination port, or the source
    port an ICMP error quotes, if it is the placeholder; checksums recomputed."""
    out = bytearray(packet)
    off = (out[0] & 0x0F) * 4
    if out[9] == 6 and struct.unpack_from("!H", out, off + 2)[0] == PLACEHOLDER:
        struct.pack_into("!H", out, off + 2, sport)
        struct.pack_into("!H", out, off + 16, 0)
        pseudo = bytes(out[12:20]) + struct.pack("!BBH", 0, 6, len(out) - off)
        struct.pack_into("!H", out, off + 16, checksum(pseudo + bytes(out[off:])))
    elif out[9] == 1:
        quoted = off + 8 + (out[off + 8] & 0x0F) * 4
        if struct.unpack_from("!H", out, quoted)[0] == PLACEHOLDER:
            struct.pack_into("!H", out, quoted, sport)
            struct.pack_into("!H", out, off + 2, 0)
            struct.pack_into("!H", out, off + 2, checksum(bytes(out[off:])))
    return bytes(out)


def recorded_replies(args: argparse.Namespace) -> list[tuple[str, bytes]]:
    """Every packet an earlier scan received (sent to the scanner), from its --pcap."""
    from scapy.utils import RawPcapReader

    out = []
    for data, _meta in RawPcapReader(str(args.pcap)):
        if len(data) >= 20 and socket.inet_ntoa(data[16:20]) == args.scanner:
            kind = {1: "late-icmp", 6: "late-tcp", 17: "late-udp"}.get(data[9], "late-other")
            out.append((kind, bytes(data)))
    return out


def passes_scanner_filter(packet: bytes, scanner: str, sports: set[int]) -> bool:
    """Would a SYN scan's capture filter (dst scanner and (tcp to our ports or ICMP 3/11))
    let it through? Written out here rather than taken from rawscan, so it is a second opinion."""
    if socket.inet_ntoa(packet[16:20]) != scanner:
        return False
    off = (packet[0] & 0x0F) * 4
    if packet[9] == 6:
        return struct.unpack_from("!H", packet, off + 2)[0] in sports
    return packet[9] == 1 and packet[off] in (3, 11)


def wait_for_probe(iface: str, scanner: str, seconds: float) -> int | None:
    """Block until a probe from the scanner arrives on iface (the scan has begun): its source
    port, or None if none came."""
    with socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP)) as rx:
        rx.bind((iface, ETH_P_IP))
        rx.settimeout(0.2)
        want = socket.inet_aton(scanner)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                packet, address = rx.recvfrom(2048)
            except TimeoutError:
                continue
            if address[2] != PACKET_OUTGOING and packet[12:16] == want and packet[9] in (6, 17):
                return int(struct.unpack_from("!H", packet, (packet[0] & 0x0F) * 4)[0])
    return None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iface", required=True)
    parser.add_argument("--scanner", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--probed", default="")
    parser.add_argument("--open", default="", help="probed ports that are open (get no forged SYN-ACK)")
    parser.add_argument("--unprobed", default="")
    parser.add_argument("--filtered", default="", help="probed ports that are filtered (for --bare)")
    parser.add_argument("--bare", action="store_true",
                        help="forge: also bare RSTs and SYNs (no ACK to check) to probed ports")
    parser.add_argument("--router", default="198.18.0.254", help="a spoofed router address")
    parser.add_argument("--other-host", default="198.18.0.3", help="an address the scan does not cover")
    parser.add_argument("--outside-sport", type=int, default=9)
    parser.add_argument("--each", type=int, default=30, help="forge: packets of each kind")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pps", type=float, default=2000.0)
    parser.add_argument("--wait", type=float, default=30.0, help="give up if no probe comes")
    parser.add_argument("--max-packets", type=int, default=5000)
    parser.add_argument("mode", choices=("forge", "replay"))
    parser.add_argument("--pcap", type=Path, help="replay: the earlier scan's recording")
    args = parser.parse_args(argv)

    prepared = recorded_replies(args) if args.mode == "replay" else forged(args)
    tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    print("armed", flush=True)
    sport = wait_for_probe(args.iface, args.scanner, args.wait)
    report: dict[str, object] = {"triggered": sport is not None, "sport": sport}
    sent: Counter[str] = Counter()
    through: Counter[str] = Counter()
    if sport is not None:
        # only the first round's source port is known for sure to pass the scanner's filter
        sports = {sport}
        packets = [(kind, to_port(packet, sport)) for kind, packet in prepared[: args.max_packets]]
        report["started"] = time.monotonic()
        interval = 1.0 / args.pps
        for i, (kind, packet) in enumerate(packets):
            slot = report["started"] + i * interval  # type: ignore[operator]
            if (pause := slot - time.monotonic()) > 0:
                time.sleep(pause)
            tx.sendto(packet, (socket.inet_ntoa(packet[16:20]), 0))
            sent[kind] += 1
            through[kind] += passes_scanner_filter(packet, args.scanner, sports)
        report["finished"] = time.monotonic()  # CLOCK_MONOTONIC: the same in every namespace
    tx.close()
    report.update(sent=dict(sent), through_filter=dict(through))
    args.report.write_text(json.dumps(report))
    print("done", flush=True)
    return 0 if report["triggered"] else 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

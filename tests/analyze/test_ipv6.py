"""rawscan analyze over IPv6, on small synthetic captures: every reply kind (ICMPv6 errors of
every type and code), what must not match, extension headers and fragments, captures mixing
both families, the endpoint keys, and the command's outputs."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from scapy.layers.inet import TCP, UDP
from scapy.layers.inet6 import (
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)

from rawscan.addresses import addr_to_str, parse_addr
from rawscan.analyze.report import SILENCE, count_silent_hosts
from rawscan.analyze.scanners import source_ranges, summarize
from rawscan.analyze.store import endpoint_key, split_key
from rawscan.bench.pcapgen import ACK, RST, SYN, icmp_error, tcp, udp

from tests.support.captures import T0, A, B, analyze, results, run_analyze, write_pcap

S6, T6, R6, C6 = (parse_addr(a) for a in ("2001:2::1", "2001:2::2", "2001:2:0:ff::1", "2001:2::3"))
S, T, R = "2001:2::1", "2001:2::2", "2001:2:0:ff::1"
SP = 40000


def syn6(port: int, seq: int = 1000, src: int = S6, dst: int = T6, sport: int = SP) -> bytes:
    return tcp(src, dst, sport, port, SYN, seq)


def state(res: dict, port: int, proto: str = "tcp", scanner: str = S,
          target: str = T) -> tuple[str, str, int | None]:
    r = res[(scanner, target, proto, port)]
    return r.state, r.reason, r.ttl


# (type, code) -> (TCP verdict, UDP verdict from the target, UDP verdict from a router)
ICMP6_KINDS: dict[tuple[int, int], tuple[tuple[str, str] | None, ...]] = {
    (1, 0): (("filtered", "no-route"),) * 3,
    (1, 1): (("filtered", "admin-prohibited"),) * 3,
    (1, 2): (("filtered", "beyond-scope"),) * 3,
    (1, 3): (("filtered", "host-unreach"),) * 3,
    (1, 4): (("filtered", "port-unreach"), ("closed", "port-unreach"), ("filtered", "port-unreach")),
    (1, 5): (("filtered", "admin-prohibited"),) * 3,
    (1, 6): (("filtered", "reject-route"),) * 3,
    (3, 0): (("filtered", "time-exceeded"),) * 3,
    (3, 1): (("filtered", "time-exceeded"),) * 3,
    (2, 0): (None,) * 3,  # packet too big: no news about the port
    (4, 1): (None,) * 3,  # parameter problem
    (1, 9): (None,) * 3,  # unassigned code
}


def test_every_tcp_reply_kind(tmp_path: Path) -> None:
    probes = {p: syn6(p, seq=1000 + p) for p in range(1, 4)}
    packets = [
        probes[1], tcp(T6, S6, 1, SP, SYN | ACK, 7, 1002, ttl=61),  # open
        probes[2], tcp(T6, S6, 2, SP, RST | ACK, 0, 1003, ttl=62),  # closed
        probes[3],  # silence
    ]
    kinds = list(ICMP6_KINDS)
    for i, (icmp_type, code) in enumerate(kinds):
        port = 100 + i
        probe = syn6(port, seq=5000 + i)
        packets += [probe, icmp_error(R6, probe, icmp_type, code, ttl=250)]
    obs = analyze(write_pcap(tmp_path / "c.pcap", packets))
    res = results(obs)
    assert state(res, 1) == ("open", "syn-ack", 61)
    assert state(res, 2) == ("closed", "reset", 62)
    assert state(res, 3) == ("filtered", "no-response", None)
    for i, kind in enumerate(kinds):
        want = ICMP6_KINDS[kind][0]
        assert state(res, 100 + i) == ((*want, 250) if want else ("filtered", "no-response", None)), kind
    r = res[(S, T, "tcp", 1)]
    assert (r.probe_frame, r.reply_frame) == (1, 2)
    assert obs.stats.ipv6 == len(packets) and obs.stats.unmatched == 0
    assert obs.stats.matched == 2 + sum(1 for k in kinds if ICMP6_KINDS[k][0])


@pytest.mark.parametrize("from_target", [True, False])
def test_every_udp_reply_kind(tmp_path: Path, from_target: bool) -> None:
    sender = T6 if from_target else R6
    packets = [udp(S6, T6, 50053, 53, b"q"), udp(T6, S6, 53, 50053, b"answer", ttl=61),
               udp(S6, T6, 50054, 54, b"q")]  # 54: silence
    kinds = list(ICMP6_KINDS)
    for i, (icmp_type, code) in enumerate(kinds):
        probe = udp(S6, T6, 51000 + i, 1000 + i, b"q")
        packets += [probe, icmp_error(sender, probe, icmp_type, code, ttl=63)]
    res = results(analyze(write_pcap(tmp_path / "c.pcap", packets)))
    assert state(res, 53, "udp") == ("open", "udp-response", 61)
    assert state(res, 54, "udp") == ("open|filtered", "no-response", None)
    for i, kind in enumerate(kinds):
        want = ICMP6_KINDS[kind][1 if from_target else 2]
        got = state(res, 1000 + i, "udp")
        assert got == ((*want, 63) if want else ("open|filtered", "no-response", None)), kind


def test_replies_must_carry_the_probe(tmp_path: Path) -> None:
    packets = [
        syn6(1, seq=5000), tcp(T6, S6, 1, SP, SYN | ACK, 7, 1234),  # acknowledges another seq
        syn6(2, seq=6000), icmp_error(R6, syn6(2, seq=999), 1, 1),  # quotes another seq
        tcp(T6, S6, 3, SP, SYN | ACK, 7, 1),  # no probe to port 3
        syn6(4, seq=10), tcp(T6, C6, 4, SP, SYN | ACK, 7, 11),  # answers another host
        syn6(5, seq=10), icmp_error(R6, syn6(5, seq=10, src=C6), 1, 1),  # quotes another source
    ]
    obs = analyze(write_pcap(tmp_path / "c.pcap", packets))
    res = results(obs)
    for port in (1, 2, 4, 5):
        assert state(res, port) == ("filtered", "no-response", None), port
    assert (S, T, "tcp", 3) not in res
    assert obs.stats.matched == 0 and obs.stats.unmatched == 5


def test_an_ipv6_response_overrules_an_icmpv6_error_never_the_reverse(tmp_path: Path) -> None:
    p1, p2 = syn6(1), syn6(2)
    packets = [
        p1, icmp_error(R6, p1, 1, 1), tcp(T6, S6, 1, SP, SYN | ACK, 7, 1001),
        p2, tcp(T6, S6, 2, SP, RST | ACK, 0, 1001), icmp_error(R6, p2, 1, 1),
    ]
    res = results(analyze(write_pcap(tmp_path / "c.pcap", packets)))
    assert state(res, 1)[:2] == ("open", "syn-ack")
    assert state(res, 2)[:2] == ("closed", "reset")


def test_extension_headers_and_fragments(tmp_path: Path) -> None:
    """Probes and replies behind extension headers are matched as plain ones; a later fragment
    carries no header to match and is counted; a cut extension header is counted as cut."""
    def probe(port: int, *ext: object) -> bytes:
        packet = IPv6(src=S, dst=T)
        for header in ext:
            packet = packet / header  # type: ignore[operator]
        return bytes(packet / TCP(sport=SP, dport=port, flags="S", seq=77))

    p1 = probe(22, IPv6ExtHdrHopByHop(), IPv6ExtHdrDestOpt())
    p2 = probe(23, IPv6ExtHdrRouting(), IPv6ExtHdrFragment(m=1, id=9))  # a first fragment
    reply1 = bytes(IPv6(src=T, dst=S, hlim=55) / IPv6ExtHdrDestOpt() / TCP(sport=22, dport=SP, flags="SA", ack=78))
    later = bytes(IPv6(src=T, dst=S) / IPv6ExtHdrFragment(offset=2, id=9) / (b"x" * 24))
    cut = bytes(IPv6(src=T, dst=S) / IPv6ExtHdrHopByHop(nh=59))[:44]
    error = icmp_error(R6, p2, 1, 6, ttl=240)  # quotes the probe with its extension headers
    udp_probe = bytes(IPv6(src=S, dst=T) / IPv6ExtHdrDestOpt() / UDP(sport=50000, dport=53) / b"q")
    udp_reply = bytes(IPv6(src=T, dst=S, hlim=50) / UDP(sport=53, dport=50000) / b"a")
    obs = analyze(write_pcap(tmp_path / "c.pcap", [p1, p2, reply1, later, cut, error, udp_probe, udp_reply]))
    res = results(obs)
    assert state(res, 22) == ("open", "syn-ack", 55)
    assert state(res, 23) == ("filtered", "reject-route", 240)
    assert state(res, 53, "udp") == ("open", "udp-response", 50)
    assert obs.stats.fragments == 1 and obs.stats.cut == 1 and obs.stats.ipv6 == 8


def test_ordinary_ipv6_connections_are_not_probes(tmp_path: Path) -> None:
    packets: list[bytes] = []
    for i in range(8):  # C6 browses: handshake, data
        sport, seq = 30000 + i, 100 * i
        packets += [tcp(C6, T6, sport, 443, SYN, seq), tcp(T6, C6, 443, sport, SYN | ACK, 9, seq + 1),
                    tcp(C6, T6, sport, 443, ACK, seq + 1, 10),
                    tcp(C6, T6, sport, 443, ACK, seq + 1, 10, b"GET / HTTP/1.1\r\n\r\n")]
    for port in range(1, 9):  # S6 SYN-scans: RST after the SYN-ACK
        packets += [syn6(port, seq=port), tcp(T6, S6, port, SP, SYN | ACK, 1, port + 1),
                    tcp(S6, T6, SP, port, RST, port + 1)]
    obs = analyze(write_pcap(tmp_path / "c.pcap", packets))
    keys = obs.endpoints.sorted_keys()
    summaries = {src: summarize(keys, a, b, obs.endpoints, obs.verdicts.table, SILENCE, obs.sources.span(src))
                 for src, a, b in source_ranges(keys)}
    assert summaries[C6].probed == 0 and summaries[C6].ordinary == 1
    assert summaries[S6].probed == 8 and summaries[S6].kinds == ("SYN",) and summaries[S6].hosts == 1
    assert obs.stats.ordinary == 8


A6 = parse_addr("::ffff:198.18.0.1")  # an IPv4-mapped address is still an IPv6 host


def test_both_families_in_one_capture_stay_apart(tmp_path: Path) -> None:
    """The same ports probed over IPv4 and IPv6 (and from the IPv4-mapped twin of the IPv4
    scanner) are separate endpoints, reported with their own addresses, IPv4 first and then
    IPv6 in numeric order (::ffff:0:0/96 before 2001:2::/48)."""
    packets = []
    for port in (22, 80):
        packets += [tcp(A, B, SP, port, SYN, 5), syn6(port, seq=5), tcp(A6, T6, SP, port, SYN, 5)]
    packets += [tcp(B, A, 22, SP, SYN | ACK, 1, 6), tcp(T6, S6, 22, SP, RST | ACK, 0, 6),
                tcp(T6, A6, 80, SP, SYN | ACK, 1, 6)]
    obs = analyze(write_pcap(tmp_path / "c.pcap", packets))
    got = [(r.scanner, r.ip, r.port, r.state) for r in results(obs).values()]
    assert got == [
        ("198.18.0.1", "198.18.0.2", 22, "open"), ("198.18.0.1", "198.18.0.2", 80, "filtered"),
        ("::ffff:198.18.0.1", "2001:2::2", 22, "filtered"), ("::ffff:198.18.0.1", "2001:2::2", 80, "open"),
        ("2001:2::1", "2001:2::2", 22, "closed"), ("2001:2::1", "2001:2::2", 80, "filtered"),
    ]
    assert obs.stats.ipv6 == 6 and obs.stats.matched == 3


def test_endpoint_keys_of_both_families() -> None:
    keys = sorted([endpoint_key(S6, T6, 1, 53), endpoint_key(A, B, 0, 22), endpoint_key(S6, R6, 0, 1),
                   endpoint_key(A6, T6, 0, 65535), endpoint_key(A, B + 1, 1, 0)])
    split = [tuple(split_key(k)) for k in keys]
    assert split == [(A, B, "tcp", 22), (A, B + 1, "udp", 0), (A6, T6, "tcp", 65535),
                     (S6, T6, "udp", 53), (S6, R6, "tcp", 1)]
    assert list(source_ranges(keys)) == [(A, 0, 2), (A6, 2, 3), (S6, 3, 5)]
    assert endpoint_key(A, B, 0, 22) < 1 << 81  # IPv4 keys keep their size


def test_silent_ipv6_hosts_are_counted(tmp_path: Path) -> None:
    packets = [syn6(80, dst=T6 + i) for i in range(30)] + [tcp(T6 + 3, S6, 80, SP, RST | ACK, 0, 1001)]
    obs = analyze(write_pcap(tmp_path / "c.pcap", packets))
    keys = obs.endpoints.sorted_keys()
    [(src, a, b)] = list(source_ranges(keys))
    summary = summarize(keys, a, b, obs.endpoints, obs.verdicts.table, SILENCE, obs.sources.span(src))
    assert summary.hosts == 30 and count_silent_hosts(obs, keys, summary) == 29


def scan_capture(tmp_path: Path) -> Path:
    packets = []
    for port in range(20, 30):
        packets.append(syn6(port, seq=port))
        if port == 22:
            packets.append(tcp(T6, S6, port, SP, SYN | ACK, 1, port + 1, ttl=64))
        elif port % 2:
            packets.append(tcp(T6, S6, port, SP, RST | ACK, 0, port + 1, ttl=64))
    packets.append(udp(S6, T6, 50000, 53, b"q"))
    packets.append(icmp_error(T6, udp(S6, T6, 50000, 53, b"q"), 1, 4, ttl=64))
    return write_pcap(tmp_path / "v6.pcap", [(T0 + i * 0.01, p) for i, p in enumerate(packets)])


def test_the_command_and_every_output_format(tmp_path: Path) -> None:
    capture = scan_capture(tmp_path)
    base = tmp_path / "out"
    code, out, err = run_analyze(str(capture), "-oA", str(base))
    assert (code, err) == (0, "")
    assert "Scanner 2001:2::1: SYN+UDP scan of 1 host(s)" in out
    assert "rawscan scan report for 2001:2::2" in out and "18 IP packets (18 IPv6)" in out
    records = [json.loads(line) for line in Path(f"{base}.jsonl").read_text().splitlines()]
    assert {(r["ip"], r["scanner"]) for r in records} == {(T, S)}
    by_port = {(r["proto"], r["port"]): r["state"] for r in records}
    assert by_port[("tcp", 22)] == "open" and by_port[("tcp", 21)] == "closed"
    assert by_port[("tcp", 20)] == "filtered" and by_port[("udp", 53)] == "closed"
    root = ET.parse(f"{base}.xml").getroot()
    assert {(a.get("addr"), a.get("addrtype")) for a in root.iter("address")} == {(T, "ipv6")}
    assert f"Host: {T} ()" in Path(f"{base}.gnmap").read_text()
    assert Path(f"{base}.csv").read_text().splitlines()[1].startswith(f"{T},")


def test_addresses_print_in_canonical_form() -> None:
    for text in ("2001:2::1", "::1", "2001:2:0:ff::1", "::ffff:198.18.0.1"):
        assert addr_to_str(parse_addr(text)) == text

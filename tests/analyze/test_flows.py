"""rawscan analyze's matching, on small synthetic captures: every reply kind, what must not match,
retransmissions, duplicates, the scan type, ordinary traffic, and the bounded flow state."""

from __future__ import annotations

from pathlib import Path

import pytest

from rawscan.analyze import flows
from rawscan.analyze.report import SILENCE
from rawscan.analyze.scanners import (
    DEFAULT_MIN_PROBES,
    is_scanner,
    scan_kinds,
    source_ranges,
    summarize,
)
from rawscan.analyze.store import CONNECTED, DATA, HALF_OPEN, endpoint_key
from rawscan.bench.pcapgen import ACK, PSH, RST, SYN, icmp_error, ipv4, tcp, udp

from tests.support.captures import ROUTER, T0, A, B, C, analyze, results, write_pcap

SP = 40000
A_IP, B_IP = "198.18.0.1", "198.18.0.2"


def syn(port: int, seq: int = 1000, src: int = A, dst: int = B, sport: int = SP) -> bytes:
    return tcp(src, dst, sport, port, SYN, seq)


def state(res: dict, port: int, proto: str = "tcp", scanner: str = A_IP) -> tuple[str, str, int | None]:
    r = res[(scanner, B_IP, proto, port)]
    return r.state, r.reason, r.ttl


def test_every_tcp_reply_kind(tmp_path: Path) -> None:
    probes = {p: syn(p, seq=1000 + p) for p in range(1, 8)}
    packets = [
        probes[1], tcp(B, A, 1, SP, SYN | ACK, 7, 1002, ttl=61),  # open
        probes[2], tcp(B, A, 2, SP, RST | ACK, 0, 1003, ttl=62),  # closed
        probes[3], icmp_error(ROUTER, probes[3], 3, 13, ttl=250),  # admin-prohibited
        probes[4], icmp_error(B, probes[4], 3, 10, ttl=63),  # host-prohibited
        probes[5], icmp_error(ROUTER, probes[5], 11, 0, ttl=251),  # time exceeded
        probes[6],  # silence
        probes[7], tcp(B, A, 7, SP, RST, 0, 0, ttl=60),  # bare RST: no ACK to check
    ]
    obs = analyze(write_pcap(tmp_path / "c.pcap", packets))
    res = results(obs)
    assert state(res, 1) == ("open", "syn-ack", 61)
    assert state(res, 2) == ("closed", "reset", 62)
    assert state(res, 3) == ("filtered", "admin-prohibited", 250)
    assert state(res, 4) == ("filtered", "host-prohibited", 63)
    assert state(res, 5) == ("filtered", "time-exceeded", 251)
    assert state(res, 6) == ("filtered", "no-response", None)
    assert state(res, 7) == ("closed", "reset", 60)
    # Evidence: frame numbers of the probe and the reply.
    assert (res[(A_IP, B_IP, "tcp", 1)].probe_frame, res[(A_IP, B_IP, "tcp", 1)].reply_frame) == (1, 2)
    assert (res[(A_IP, B_IP, "tcp", 6)].probe_frame, res[(A_IP, B_IP, "tcp", 6)].reply_frame) == (11, None)
    assert obs.stats.matched == 6 and obs.stats.unmatched == 0


def test_replies_must_carry_the_probe(tmp_path: Path) -> None:
    """A SYN-ACK acknowledging another sequence number, an ICMP error quoting another one, and
    replies to probes never seen decide nothing."""
    packets = [
        syn(1, seq=5000), tcp(B, A, 1, SP, SYN | ACK, 7, 1234),  # wrong ack
        syn(2, seq=6000), icmp_error(ROUTER, syn(2, seq=999), 3, 13),  # quotes another seq
        tcp(B, A, 3, SP, SYN | ACK, 7, 1),  # no probe to port 3 at all
    ]
    obs = analyze(write_pcap(tmp_path / "c.pcap", packets))
    res = results(obs)
    assert state(res, 1) == ("filtered", "no-response", None)
    assert state(res, 2) == ("filtered", "no-response", None)
    assert (A_IP, B_IP, "tcp", 3) not in res
    assert obs.stats.unmatched == 3 and obs.stats.matched == 0


def test_retransmissions_counted_duplicates_ignored(tmp_path: Path) -> None:
    packets = [
        syn(80), syn(80), tcp(B, A, 80, SP, SYN | ACK, 7, 1001),
        tcp(B, A, 80, SP, SYN | ACK, 7, 1001),  # the target retransmits its SYN-ACK
        tcp(B, A, 80, SP, RST | ACK, 0, 1001),  # a later RST does not downgrade an open port
    ]
    obs = analyze(write_pcap(tmp_path / "c.pcap", packets))
    r = results(obs)[(A_IP, B_IP, "tcp", 80)]
    assert (r.state, r.reason, r.probes, r.probe_frame, r.reply_frame) == ("open", "syn-ack", 2, 2, 3)
    assert obs.stats.retransmissions == 1 and obs.stats.duplicates == 2


def test_a_response_overrules_an_icmp_error_never_the_reverse(tmp_path: Path) -> None:
    p1, p2 = syn(1), syn(2)
    packets = [
        p1, icmp_error(ROUTER, p1, 3, 13), tcp(B, A, 1, SP, SYN | ACK, 7, 1001),
        p2, tcp(B, A, 2, SP, RST | ACK, 0, 1001), icmp_error(ROUTER, p2, 3, 13),
    ]
    res = results(analyze(write_pcap(tmp_path / "c.pcap", packets)))
    assert state(res, 1)[:2] == ("open", "syn-ack")
    assert state(res, 2)[:2] == ("closed", "reset")


def test_every_udp_reply_kind(tmp_path: Path) -> None:
    probes = {p: udp(A, B, 50000 + p, p, b"x") for p in (53, 54, 55, 56, 57)}
    packets = [
        probes[53], udp(B, A, 53, 50053, b"answer", ttl=61),
        probes[54], icmp_error(B, probes[54], 3, 3, ttl=62),  # from the target: closed
        probes[55], icmp_error(ROUTER, probes[55], 3, 3, ttl=250),  # from a router: filtered
        probes[56], icmp_error(B, probes[56], 3, 13, ttl=62),
        probes[57],
    ]
    res = results(analyze(write_pcap(tmp_path / "c.pcap", packets)))
    assert state(res, 53, "udp") == ("open", "udp-response", 61)
    assert state(res, 54, "udp") == ("closed", "port-unreach", 62)
    assert state(res, 55, "udp") == ("filtered", "port-unreach", 250)
    assert state(res, 56, "udp") == ("filtered", "admin-prohibited", 62)
    assert state(res, 57, "udp") == ("open|filtered", "no-response", None)


def test_an_icmp_error_about_a_reply_is_no_news(tmp_path: Path) -> None:
    """The scanner's kernel refusing the target's UDP answer (nmap -sU) quotes the reply."""
    probe, reply = udp(A, B, 50000, 53, b"q"), udp(B, A, 53, 50000, b"a")
    obs = analyze(write_pcap(tmp_path / "c.pcap", [probe, reply, icmp_error(A, reply, 3, 3)]))
    assert state(results(obs), 53, "udp")[:2] == ("open", "udp-response")
    assert obs.stats.unmatched == 0


def test_split_handshake_syn_means_open(tmp_path: Path) -> None:
    packets = [syn(22, seq=1000), tcp(B, A, 22, SP, SYN, 777, ttl=60)]
    obs = analyze(write_pcap(tmp_path / "c.pcap", packets))
    assert state(results(obs), 22) == ("open", "split-handshake-syn", 60)
    assert len(obs.endpoints) == 1  # the target's SYN is not a probe of its own


def handshake(client: int, sport: int, server: int, port: int, seq: int, data: bool) -> list[bytes]:
    packets = [
        tcp(client, server, sport, port, SYN, seq),
        tcp(server, client, port, sport, SYN | ACK, 9, seq + 1),
        tcp(client, server, sport, port, ACK, seq + 1, 10),
    ]
    if data:
        packets += [tcp(client, server, sport, port, PSH | ACK, seq + 1, 10, b"GET / HTTP/1.0\r\n\r\n"),
                    tcp(server, client, port, sport, PSH | ACK, 10, seq + 19, b"HTTP/1.0 200 OK\r\n")]
    return packets + [tcp(client, server, sport, port, RST | ACK, seq + 1, 10)]


def summaries(obs: flows.Observations) -> dict[int, object]:
    keys = obs.endpoints.sorted_keys()
    return {src: summarize(keys, a, b, obs.endpoints, obs.verdicts.table, SILENCE, obs.sources.span(src))
            for src, a, b in source_ranges(keys)}


def test_ordinary_connections_are_not_scans_connect_and_syn_scans_are(tmp_path: Path) -> None:
    packets: list[bytes] = []
    for i in range(20):  # C browses: 20 connections with data to 10 ports
        packets += handshake(C, 30000 + i, B, 8000 + i % 10, 100 * i, data=True)
    for port in range(1, 11):  # A connect-scans: handshake completed, no data, reset
        packets += handshake(A, 41000 + port, B, port, 5000 + port, data=False)
    for port in range(11, 21):  # B's SYN scan of C: RST after the SYN-ACK
        packets += [tcp(B, C, 42000, port, SYN, 77), tcp(C, B, port, 42000, SYN | ACK, 1, 78),
                    tcp(B, C, 42000, port, RST, 78)]
    obs = analyze(write_pcap(tmp_path / "c.pcap", packets))
    s = summaries(obs)
    browser, connect, syn_scanner = s[C], s[A], s[B]
    assert not is_scanner(browser, DEFAULT_MIN_PROBES)  # type: ignore[arg-type]
    assert browser.probed == 0 and browser.ordinary == 10  # type: ignore[attr-defined]
    assert is_scanner(connect, DEFAULT_MIN_PROBES) and connect.kinds == ("connect",)  # type: ignore[attr-defined,arg-type]
    assert is_scanner(syn_scanner, DEFAULT_MIN_PROBES) and syn_scanner.kinds == ("SYN",)  # type: ignore[attr-defined,arg-type]
    assert obs.stats.ordinary == 20
    row = obs.endpoints.rows[endpoint_key(C, B, 0, 8000)]
    assert obs.endpoints.flags[row] & DATA


def test_scan_kinds() -> None:
    assert scan_kinds(HALF_OPEN, 3, 0) == ("SYN",)
    assert scan_kinds(CONNECTED, 3, 0) == ("connect",)
    assert scan_kinds(0, 3, 2) == ("SYN", "UDP")  # no SYN-ACK seen: the wire cannot tell
    assert scan_kinds(0, 0, 2) == ("UDP",)


def test_source_ranges() -> None:
    keys = sorted(endpoint_key(s, t, 0, p) for s in (A, C) for t in (B, ROUTER) for p in (1, 2))
    assert [(s, a, b) for s, a, b in source_ranges(keys)] == [(A, 0, 4), (C, 4, 8)]
    assert list(source_ranges([])) == []


def test_a_reply_after_the_window_is_unmatched(tmp_path: Path) -> None:
    late = T0 + 3 * flows.WINDOW  # both generations have turned over by then
    packets = [(T0, syn(1)), (T0 + flows.WINDOW + 1, syn(2, src=C)),
               (late, syn(3, src=C)), (late, tcp(B, A, 1, SP, SYN | ACK, 7, 1001))]
    obs = analyze(write_pcap(tmp_path / "c.pcap", packets))
    assert state(results(obs), 1) == ("filtered", "no-response", None)
    assert obs.stats.unmatched == 1


def test_flow_state_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flows, "GENERATION_MAX", 64)
    packets: list[bytes] = []
    for i in range(2000):  # all within one time window: only the count bound applies
        packets.append(syn(1 + i % 1000, seq=i, dst=B + i // 1000, sport=SP))
        if i % 10 == 0:
            packets.append(tcp(B + i // 1000, A, 1 + i % 1000, SP, RST | ACK, 0, i + 1))
    analyzer = flows.FlowAnalyzer()
    from rawscan.capture import read_ip_packets

    analyzer.feed(read_ip_packets(str(write_pcap(tmp_path / "c.pcap",
                                                  [(T0 + i * 1e-6, p) for i, p in enumerate(packets)]))))
    assert analyzer.flows_kept() <= 128
    obs = analyzer.observations
    assert len(obs.endpoints) == 2000 and obs.stats.matched == 200  # replies right after probes


def test_ip_options_fragments_and_cut_headers(tmp_path: Path) -> None:
    plain = syn(22, seq=1000)
    options = bytes([0x46]) + plain[1:20] + b"\x01\x01\x01\x00" + plain[20:]  # IHL 6: 4 NOPs/EOL
    options = options[:2] + (len(options)).to_bytes(2, "big") + options[4:]
    later_fragment = plain[:6] + b"\x00\x10" + plain[8:]  # offset 16 x 8 bytes
    cut = plain[:30]  # a snaplen that ends inside the TCP header
    packets = [options, tcp(B, A, 22, SP, SYN | ACK, 1, 1001), later_fragment, cut,
               ipv4(A, B, 6, b"")]
    obs = analyze(write_pcap(tmp_path / "c.pcap", packets))
    assert state(results(obs), 22)[:2] == ("open", "syn-ack")
    assert obs.stats.fragments == 1 and obs.stats.cut == 2


def test_cut_ipv6_headers_are_counted(tmp_path: Path) -> None:
    """(IPv6 itself: tests/analyze/test_ipv6.py.) A hop-by-hop header announced but cut off, and an
    IPv6 header shorter than 40 bytes, are cut packets; the IPv4 probe beside them counts."""
    v6 = [bytes([0x60]) + bytes(39), bytes([0x60]) + bytes(18)]
    obs = analyze(write_pcap(tmp_path / "c.pcap", [*v6, syn(1)]))
    assert obs.stats.ipv6 == 2 and obs.stats.cut == 2 and len(obs.endpoints) == 1

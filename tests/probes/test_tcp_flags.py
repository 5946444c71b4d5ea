"""ACK/FIN/NULL/Xmas probes (probes/tcp_flags.py): Scapy's own packets byte for byte, the RST
check on what the target must echo, and the numpy judge deciding as the per-packet parser."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP
from scapy.layers.inet6 import ICMPv6DestUnreach, IPv6

from rawscan.addresses import V6, addr_to_str
from rawscan.cookies import Cookie, derive_key
from rawscan.probes.flags_batch import FlagsBatcher
from rawscan.probes.tcp_flags import FLAG_SCANS, FlagsProbe
from rawscan.targets import TargetSet
from rawscan.testing import Probe
from rawscan.vector import frames_from

from tests.support.engine import run_engine

LAB4 = 0xC6120000  # 198.18.0.0/15
LAB6 = V6 | 0x2001_0002_0000_0000_0000_0000_0000_0000  # 2001:2::/48
v4_address = st.integers(LAB4, LAB4 + (1 << 17) - 1)
v6_address = st.integers(LAB6, LAB6 + (1 << 80) - 1)
port = st.integers(1, 65535)
ttl = st.integers(1, 255)
seed = st.integers(0, 2**63 - 1)
kind = st.sampled_from(sorted(FLAG_SCANS))
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SCAPY_FLAGS = {"ack": "A", "fin": "F", "null": "", "xmas": "FPU"}


def probe_of(scan: str, src: int | tuple[int, ...], key: int, hops: int = 64) -> FlagsProbe:
    sources = src if isinstance(src, tuple) else (src,)
    return FlagsProbe(FLAG_SCANS[scan], sources, 40000, Cookie(derive_key(key, "cookie")), hops, 16)


def scapy_probe(scan: str, src: int, dst: int, sport: int, dport: int, seq: int, hops: int) -> bytes:
    tcp = TCP(sport=sport, dport=dport, seq=seq, ack=seq if scan == "ack" else 0,
              flags=SCAPY_FLAGS[scan], window=1024)
    if src >= V6:
        return bytes(IPv6(src=addr_to_str(src), dst=addr_to_str(dst), hlim=hops) / tcp)
    return bytes(IP(src=addr_to_str(src), dst=addr_to_str(dst), ttl=hops, id=seq >> 16) / tcp)


@FAST
@given(kind, st.one_of(st.tuples(v4_address, v4_address), st.tuples(v6_address, v6_address)),
       port, ttl, seed, st.integers(0, 20))
def test_probes_are_scapys_packets(scan: str, pair: tuple[int, int], dport: int, hops: int,
                                   key: int, attempt: int) -> None:
    src, dst = pair
    probe = probe_of(scan, src, key, hops)
    sport = 40000 + attempt % 16
    seq = probe.cookie(src, dst, sport, dport)
    assert probe.build(dst, dport, attempt) == scapy_probe(scan, src, dst, sport, dport, seq, hops)


@FAST
@given(kind, st.lists(v4_address, min_size=1, max_size=4, unique=True),
       st.integers(LAB4, LAB4 + 5000), st.integers(1, 300),
       st.lists(port, min_size=1, max_size=40, unique=True), ttl, seed, st.integers(0, 20),
       st.randoms(use_true_random=False))
def test_numpy_batches_are_the_same_packets(scan: str, sources: list[int], first: int, hosts: int,
                                            ports: list[int], hops: int, key: int, attempt: int,
                                            rnd) -> None:  # type: ignore[no-untyped-def]
    targets = TargetSet(((first, first + hosts - 1), (first + hosts + 7, first + hosts + 9)))
    probe = probe_of(scan, tuple(sources), key, hops)
    batcher = FlagsBatcher(probe, targets, tuple(ports))
    total = len(targets) * len(ports)
    endpoints = np.array(rnd.sample(range(total), min(total, 64)), dtype=np.int64)
    for row, index in zip(batcher.build(endpoints, attempt), endpoints.tolist()):
        host, port_i = divmod(index, len(ports))
        assert row.tobytes() == probe.build(targets.address(host), ports[port_i], attempt)


# --- replies: what Linux sends (tcp_v4_send_reset / tcp_v6_send_reset) passes, the rest not ---

def linux_rst(sent: bytes, hops: int = 64) -> bytes:
    """The RST a Linux host with no connection sends to this probe (RFC 793's rules)."""
    pkt = IPv6(sent) if sent[0] >> 4 == 6 else IP(sent)
    tcp = pkt[TCP]
    if tcp.flags & 0x10:
        rst = TCP(sport=tcp.dport, dport=tcp.sport, flags="R", seq=tcp.ack, window=0)
    else:
        fin = 1 if tcp.flags & 0x01 else 0
        rst = TCP(sport=tcp.dport, dport=tcp.sport, flags="RA", seq=0,
                  ack=(tcp.seq + fin) & 0xFFFFFFFF, window=0)
    if isinstance(pkt, IPv6):
        return bytes(IPv6(src=pkt.dst, dst=pkt.src, hlim=hops) / rst)
    return bytes(IP(src=pkt.dst, dst=pkt.src, ttl=hops) / rst)


@pytest.mark.parametrize("scan", sorted(FLAG_SCANS))
@pytest.mark.parametrize("family", [4, 6])
def test_linux_rst_gives_the_scan_state_and_forgeries_nothing(scan: str, family: int) -> None:
    src, dst = (LAB4 + 1, LAB4 + 2) if family == 4 else (LAB6 + 1, LAB6 + 2)
    probe = probe_of(scan, src, 7)
    sent = probe.build(dst, 80, 3)
    reply = probe.parse_reply(linux_rst(sent, 61))
    assert reply is not None and (reply.target, reply.port) == (dst, 80)
    want = {"ack": "unfiltered"}.get(scan, "closed")
    assert (reply.verdict.state, reply.verdict.reason, reply.verdict.ttl) == (want, "reset", 61)
    assert probe.silence().state == ("filtered" if scan == "ack" else "open|filtered")
    head = 40 if family == 6 else 20
    rst = bytearray(linux_rst(sent))
    for field in (4, 8):  # the RST's seq or ack one off, whichever was not checked, both
        forged = bytearray(rst)
        forged[head + field + 3] ^= 1
        expect_none = (field == 4) == (scan == "ack")
        assert (probe.parse_reply(bytes(forged)) is None) == expect_none, field
    if scan != "ack":  # a RST without ACK to a probe without ACK echoes nothing: dropped
        bare = bytearray(rst)
        bare[head + 13] = 0x04
        assert probe.parse_reply(bytes(bare)) is None
    syn_ack = bytearray(rst)
    syn_ack[head + 13] = 0x12
    assert probe.parse_reply(bytes(syn_ack)) is None
    # an ICMP error quoting the probe: filtered, with the reason; a quote of a forged seq: none
    ip = IP(src=addr_to_str(dst), dst=addr_to_str(src)) if family == 4 else IPv6(
        src=addr_to_str(dst), dst=addr_to_str(src))
    error = ICMP(type=3, code=13) if family == 4 else ICMPv6DestUnreach(code=1)
    quote = sent[:head + 8]
    got = probe.parse_reply(bytes(ip / error / quote))
    assert got is not None and got.verdict.state == "filtered"
    assert got.verdict.reason == "admin-prohibited" and got.icmp
    bad = bytearray(quote)
    bad[-1] ^= 1
    assert probe.parse_reply(bytes(ip / error / bytes(bad))) is None
    # replay: the probe is known as ours, the reply as about its endpoint
    assert (f := probe.flow(sent)) is not None and f.is_probe and (f.target, f.port) == (dst, 80)
    assert (f := probe.flow(bytes(rst))) is not None and not f.is_probe


SRC, OTHER = LAB4 + 1, LAB4 + 3
TARGETS = TargetSet(((LAB4 + 256, LAB4 + 511),))
PORTS = tuple(range(1, 200))
reply_kind = st.sampled_from(["linux", "off-by-one", "bare-rst", "rst-ack-seq", "syn-ack",
                              "wrong-dport", "not-ours", "other-host", "icmp", "unprobed-port",
                              "options"])


def make_reply(probe: FlagsProbe, kind: str, host: int, dport: int, hops: int) -> bytes:
    sent = probe.build(host, dport)
    pkt = IP(linux_rst(sent, hops))
    tcp = pkt[TCP]
    if kind == "off-by-one":
        tcp.seq, tcp.ack = (tcp.seq + 1) & 0xFFFFFFFF, (tcp.ack + 1) & 0xFFFFFFFF
    elif kind == "bare-rst":
        tcp.flags = "R"
    elif kind == "rst-ack-seq":
        tcp.flags = "RA"
    elif kind == "syn-ack":
        tcp.flags = "SA"
    elif kind == "wrong-dport":
        tcp.dport = 12345
    elif kind == "not-ours":
        pkt.dst = addr_to_str(OTHER)
    elif kind == "other-host":
        pkt.src = addr_to_str(LAB4 + 9)
    elif kind == "unprobed-port":
        tcp.sport = 60000
    elif kind == "options":
        pkt.options = b"\x01\x01\x01\x00"
    elif kind == "icmp":
        return bytes(IP(src=pkt.src, dst=pkt.dst, ttl=hops) / ICMP(type=3, code=13) / sent[:28])
    del pkt.chksum, pkt.len, tcp.chksum
    return bytes(pkt)


@FAST
@given(kind, st.lists(st.tuples(reply_kind, st.integers(LAB4 + 256, LAB4 + 511),
                                st.sampled_from(PORTS), ttl), min_size=1, max_size=60), seed)
def test_numpy_judge_decides_as_the_packet_parser(scan: str, replies: list[tuple[str, int, int, int]],
                                                  key: int) -> None:
    probe = probe_of(scan, SRC, key)
    batcher = FlagsBatcher(probe, TARGETS, PORTS)
    batcher.build(np.arange(len(TARGETS) * len(PORTS), dtype=np.int64), 0)
    packets = [make_reply(probe, *r) for r in replies]
    judged = batcher.judge(frames_from(packets, 0.0))
    slow = set(judged.slow.tolist())
    expected = []
    for row, packet in enumerate(packets):
        reply = probe.parse_reply(packet)
        if row not in slow and reply is not None:
            expected.append((reply.target, reply.port, reply.verdict))
    got = list(zip(judged.targets.tolist(), judged.ports.tolist(), judged.verdicts))
    assert got == expected
    assert judged.stray == len(packets) - len(judged.slow) - len(got)


# --- the engine on both hot paths against a Linux-like host ---

class LinuxLikeHost:
    """Answers as the lab's Linux target does: closed ports RST (linux_rst), listeners ignore
    segments without SYN or ACK, 'stateful' ports drop them, 'admin' ones reject (ICMP 3/13)."""

    def __init__(self, layout: dict[int, str], loss_every: int = 0) -> None:
        from tests.support.simnet import SimulatedNetwork

        self.net = SimulatedNetwork({}, handler=self.answer)
        self.layout, self.loss_every, self.count = layout, loss_every, 0

    def answer(self, probe: Probe) -> list[bytes]:
        kind = self.layout.get(probe.dport, "closed")
        acked = bool(probe.flags & 0x10)
        if kind == "stateful" or (kind == "open" and not acked):
            return []
        if kind == "admin":
            reply = bytes(IP(src=probe.dst, dst=probe.src) / ICMP(type=3, code=13) / probe.packet[:28])
        else:
            reply = linux_rst(probe.packet)
        self.count += 1
        if self.loss_every and self.count % self.loss_every == 0:
            return []  # lost
        return [reply]


@pytest.mark.parametrize("scan", sorted(FLAG_SCANS))
def test_engine_decides_alike_on_both_hot_paths(scan: str) -> None:
    from rawscan.engine import ScanOptions

    layout = {22: "open", 80: "stateful", 81: "admin", 443: "open", 1000: "stateful"}
    targets = TargetSet(((LAB4 + 256, LAB4 + 257),))
    ports = tuple(range(1, 301)) + (443, 1000)
    runs = []
    for vector in (False, True):
        host = LinuxLikeHost(layout, loss_every=17)
        results, engine = run_engine(host.net, ports, ScanOptions(rate=100000, vector=vector), seed=3,
                                     probe=probe_of(scan, SRC, 3), targets=targets)
        assert engine.stats.vector is vector and engine.stats.stray == 0
        runs.append({endpoint: (v.state, v.reason) for endpoint, v in results.items()})
    assert runs[0] == runs[1]
    silent = "filtered" if scan == "ack" else "open|filtered"
    rst = "unfiltered" if scan == "ack" else "closed"
    for (target, port), got in runs[0].items():
        kind = layout.get(port, "closed")
        if kind == "admin":
            assert got == ("filtered", "admin-prohibited")
        elif kind == "stateful" or (kind == "open" and scan != "ack"):
            assert got == (silent, "no-response")
        else:
            assert got == (rst, "reset")
    assert len(runs[0]) == len(targets) * len(ports)

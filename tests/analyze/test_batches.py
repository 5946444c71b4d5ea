"""The batch path of rawscan analyze (numpy-parsed batches, bytes flow keys, bulk report)
against the per-packet matcher it replaced (tests/support/reference_analyzer.py): random captures of every
packet kind, both families, flows turning over by time and by count, batches of every size;
the observations must be the same, endpoint for endpoint, and so must the JSON Lines records."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rawscan.addresses import V6
from rawscan.analyze import flows
from rawscan.analyze.flows import FlowAnalyzer, Observations
from rawscan.analyze.ordered import JsonLines, order_endpoints, summaries
from rawscan.analyze.report import SILENCE, host_results
from rawscan.analyze.scanners import source_ranges, summarize
from rawscan.bench.pcapgen import ACK, PSH, RST, SYN, icmp_error, ipv4, tcp, udp
from rawscan.capture import open_capture, read_ip_packets
from rawscan.output.jsonl import record_line

from tests.support import reference_analyzer
from tests.support.captures import T0, write_pcap
from tests.support.reference_analyzer import ReferenceAnalyzer

V4_HOSTS = [0xC6120001, 0xC6120002, 0xC6120003]
V6_HOSTS = [V6 | 0x20010002 << 96 | n for n in (1, 2, 3)]
ROUTERS = {4: 0xC612FE01, 6: V6 | 0x20010002 << 96 | 0xFE01}
PORTS = [22, 80, 443, 40000, 40001]  # probe ports and source ports overlap: split handshakes


def _fields(packet: bytes) -> tuple[int, int, int, int, int]:
    """(src, dst, sport, dport, seq) of a packet this generator made (no IP options)."""
    if packet[0] >> 4 == 6:
        src, dst, l4 = V6 | int.from_bytes(packet[8:24], "big"), V6 | int.from_bytes(packet[24:40], "big"), 40
    else:
        src, dst, l4 = int.from_bytes(packet[12:16], "big"), int.from_bytes(packet[16:20], "big"), 20
    sp, dp = int.from_bytes(packet[l4 : l4 + 2], "big"), int.from_bytes(packet[l4 + 2 : l4 + 4], "big")
    seq = int.from_bytes(packet[l4 + 4 : l4 + 8], "big") if packet[9 if l4 == 20 else 6] == 6 else 0
    return src, dst, sp, dp, seq


def random_capture(rng: random.Random, n: int) -> list[tuple[float, bytes]]:
    """Packets that make every branch of the matcher happen: probes, their retransmissions
    and replies (right and wrong acks), the scanner's follow-ups (handshakes completed,
    reset, data), UDP both ways, ICMP errors about probes and about nothing, split
    handshakes, IP options, fragments, cut headers; time jumps past the window, and back."""
    out: list[tuple[float, bytes]] = []
    tcp_sent: list[bytes] = []
    udp_sent: list[bytes] = []
    flag_sent: list[bytes] = []
    t = T0
    for _ in range(n):
        t += rng.choice([0.0, 0.001, 0.01, 0.01, 0.01, 1.0, 13.0, 31.0, -0.5])
        hosts = V6_HOSTS if rng.random() < 0.3 else V4_HOSTS
        a, b = rng.sample(hosts, 2)
        sp, dp = rng.choice(PORTS), rng.choice(PORTS)
        seq = rng.choice([1000, 2000, 0xFFFFFFFF])
        r = rng.random()
        if r < 0.3 or not tcp_sent or not udp_sent:
            if rng.random() < 0.7:
                packet = tcp(a, b, sp, dp, SYN, seq, ttl=rng.choice([64, 57]))
                tcp_sent.append(packet)
            else:
                packet = udp(a, b, sp, dp, b"q" * rng.randrange(3), ttl=rng.choice([60, 64]))
                udp_sent.append(packet)
        elif r < 0.5:  # the target answers a recent probe (or another one)
            src, dst, psp, pdp, pseq = _fields(rng.choice(tcp_sent[-8:]))
            flags = rng.choice([SYN | ACK, SYN | ACK, RST | ACK, RST, SYN, SYN | ACK | RST])
            ack = rng.choice([pseq + 1, pseq + 1, pseq])
            packet = tcp(dst, src, pdp, psp, flags, 7, ack, ttl=rng.choice([61, 62]))
        elif r < 0.65:  # the scanner follows up on a recent probe
            src, dst, psp, pdp, pseq = _fields(rng.choice(tcp_sent[-8:]))
            flags = rng.choice([ACK, ACK, RST, RST | ACK, PSH | ACK, SYN])
            packet = tcp(src, dst, psp, pdp, flags, pseq + 1, 8, b"GET" if flags & PSH else b"")
        elif r < 0.69:  # an ACK, FIN, NULL or Xmas probe, or its answer (right or wrong echo)
            fl = rng.choice([ACK, 0x01, 0, 0x29, 0x29 | 0x40])
            if rng.random() < 0.5 or not flag_sent:
                packet = tcp(a, b, sp, dp, fl, seq, rng.choice([5, 6]), ttl=rng.choice([64, 57]))
                flag_sent.append(packet)
            else:
                probe = rng.choice(flag_sent[-8:])
                src, dst, psp, pdp, pseq = _fields(probe)
                at = 48 if src >= V6 else 28  # the probe's acknowledgement number
                pack = rng.choice([int.from_bytes(probe[at : at + 4], "big"), 7])
                reply = rng.choice([(RST, pack, 0), (RST | ACK, 0, pseq + 1), (RST | ACK, 0, pseq),
                                    (ACK, 3, pseq), (SYN | ACK, 1, pseq + 1)])
                packet = tcp(dst, src, pdp, psp, reply[0], reply[1], reply[2] & 0xFFFFFFFF,
                             ttl=rng.choice([61, 62]))
        elif r < 0.72:  # a UDP answer
            src, dst, psp, pdp, _ = _fields(rng.choice(udp_sent[-8:]))
            packet = udp(dst, src, pdp, psp, b"a", ttl=rng.choice([61, 62]))
        elif r < 0.85:
            quoted = rng.choice((tcp_sent + udp_sent + flag_sent[-4:])[-14:])
            family = 6 if quoted[0] >> 4 == 6 else 4
            source = rng.choice([ROUTERS[family], _fields(quoted)[1]])
            kind = rng.choice([(3, 3), (3, 13), (11, 0), (3, 4)] if family == 4 else [(1, 4), (1, 1), (3, 0), (2, 0)])
            packet = icmp_error(source, quoted, *kind, ttl=rng.choice([250, 63]))
        else:
            plain = tcp(V4_HOSTS[0], V4_HOSTS[1], sp, dp, SYN, seq)
            packet = rng.choice([
                bytes([0x46]) + plain[1:2] + (len(plain) + 4).to_bytes(2, "big") + plain[4:20]
                + b"\x01\x01\x01\x00" + plain[20:],  # IP options
                plain[:6] + b"\x00\x10" + plain[8:],  # a later fragment
                plain[: rng.randrange(1, 34)],  # cut
                ipv4(V4_HOSTS[0], V4_HOSTS[1], 47, b"gre"),
            ])
        out.append((t, packet))
    return out


def state(obs: Observations) -> dict[str, object]:
    ep = obs.endpoints
    rows = ep.rows
    table = obs.verdicts.table
    endpoints = {key: (table[ep.verdict[row]], ep.flags[row], ep.probes[row], ep.probe_ref[row], ep.reply_ref[row])
                 for key, row in rows.items()}
    sources = {src: obs.sources.span(src) for src in obs.sources.rows}
    return {"endpoints": endpoints, "sources": sources, "stats": obs.stats}


@pytest.fixture
def small_generations(monkeypatch: pytest.MonkeyPatch) -> None:
    """Flows turn over by count too, every few probes."""
    monkeypatch.setattr(flows, "GENERATION_MAX", 8)
    monkeypatch.setattr(reference_analyzer, "GENERATION_MAX", 8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), n=st.integers(1, 400), ahead=st.sampled_from([0, 300, 2000, 1 << 20]))
def test_the_batch_path_observes_what_the_per_packet_matcher_did(
    tmp_path: Path, small_generations: None, seed: int, n: int, ahead: int,
) -> None:
    path = write_pcap(tmp_path / "c.pcap", random_capture(random.Random(seed), n))
    reference = ReferenceAnalyzer()
    reference.feed(read_ip_packets(str(path)))
    bulk = FlowAnalyzer()
    bulk.feed_capture(open_capture(str(path), ahead))
    expected = state(reference.observations)
    assert state(bulk.observations) == expected
    each = FlowAnalyzer()  # CapturedPackets, as tests and other callers feed them
    each.feed(read_ip_packets(str(path)))
    assert state(each.observations) == expected


def legacy_records(obs: Observations, names: dict[int, str], captures: list[str] | None) -> list[str]:
    """JSON Lines as the report made them before: ObservedPort objects through record_line."""
    keys = obs.endpoints.sorted_keys()
    lines = []
    for source, start, stop in source_ranges(keys):
        summary = summarize(keys, start, stop, obs.endpoints, obs.verdicts.table, SILENCE, obs.sources.span(source))
        for host in host_results(obs, keys, summary, captures, names):
            lines += [record_line(r) for r in host]
    return lines


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32), named=st.booleans(), several=st.booleans(), open_only=st.booleans())
def test_bulk_json_lines_are_what_the_json_writer_wrote(
    tmp_path_factory: pytest.TempPathFactory, seed: int, named: bool, several: bool, open_only: bool,
) -> None:
    tmp = tmp_path_factory.mktemp("j")
    rng = random.Random(seed)
    paths = [write_pcap(tmp / f"c{i}.pcap", random_capture(rng, 150)) for i in range(2 if several else 1)]
    analyzer = FlowAnalyzer()
    for i, p in enumerate(paths):
        analyzer.feed_capture(open_capture(str(p)), i)
    obs = analyzer.observations
    names = {V4_HOSTS[1]: "b.example", V6_HOSTS[2]: "c\u00e9.example"} if named else {}
    captures = [str(p) for p in paths] if several else None
    expected = legacy_records(obs, names, captures)
    if open_only:
        expected = [line for line in expected if json.loads(line)["state"] in ("open", "open|filtered")]
    legacy_summaries = [summarize(keys, a, b, obs.endpoints, obs.verdicts.table, SILENCE, obs.sources.span(s))
                        for keys in [obs.endpoints.sorted_keys()] for s, a, b in source_ranges(keys)]
    ordered = order_endpoints(obs, consume=True)
    assert summaries(ordered, set()) == legacy_summaries
    lines = JsonLines(ordered, names, captures, open_only)
    text = "".join(lines.lines(start, stop, _address_str(address))
                   for address, (start, stop) in zip(ordered.addresses, ordered.bounds))
    assert text.splitlines(keepends=True) == expected


def _address_str(address: int) -> str:
    from rawscan.addresses import addr_to_str

    return addr_to_str(address)

"""The SYN probe module: templates, cookies, validation and classification."""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, TCP

from rawscan.classify import classify_icmp, classify_silence, classify_tcp
from rawscan.cookies import Cookie, derive_key
from rawscan.probes.base import Flow
from rawscan.probes.tcp_syn import SynProbe
from rawscan.addresses import parse_addr

SRC, DST = parse_addr("198.18.0.1"), parse_addr("198.18.0.2")
SPORT = 40001


@pytest.fixture
def probe() -> SynProbe:
    return SynProbe((SRC,), SPORT, Cookie(derive_key(7, "cookie")))


def reply(probe_bytes: bytes, flags: str, ack_delta: int = 1, **ip: object) -> bytes:
    sent = IP(probe_bytes)
    fields = {"src": sent.dst, "dst": sent.src, "ttl": 61, **ip}
    tcp = TCP(sport=sent[TCP].dport, dport=sent[TCP].sport, flags=flags, seq=777,
              ack=(sent[TCP].seq + ack_delta) & 0xFFFFFFFF if "A" in flags else 0)
    return bytes(IP(**fields) / tcp)


def icmp(probe_bytes: bytes, type_: int, code: int, src: str = "198.18.0.2", quote: bytes | None = None) -> bytes:
    return bytes(IP(src=src, dst="198.18.0.1", ttl=63) / ICMP(type=type_, code=code) / (quote or probe_bytes[:28]))


@pytest.mark.parametrize(
    "flags, expected",
    [("SA", ("open", "syn-ack")), ("S", ("open", "split-handshake-syn")), ("R", ("closed", "reset")),
     ("RA", ("closed", "reset")), ("A", None), ("FA", None)],
)
def test_tcp_classifier_table(flags: str, expected: tuple[str, str] | None) -> None:
    bits = int(TCP(flags=flags).flags)
    verdict = classify_tcp(bits, 64)
    if expected is None:
        assert verdict is None
    else:
        assert verdict is not None
        assert (verdict.state, verdict.reason, verdict.ttl) == (*expected, 64)


@pytest.mark.parametrize(
    "type_, code, expected",
    [(3, 0, "net-unreach"), (3, 1, "host-unreach"), (3, 2, "proto-unreach"), (3, 3, "port-unreach"),
     (3, 9, "net-prohibited"), (3, 10, "host-prohibited"), (3, 13, "admin-prohibited"),
     (11, 0, "time-exceeded"), (3, 4, None), (3, 5, None), (0, 0, None), (5, 1, None)],
)
def test_icmp_classifier_table_for_tcp(type_: int, code: int, expected: str | None) -> None:
    verdict = classify_icmp("tcp", type_, code, from_target=True)
    if expected is None:
        assert verdict is None
    else:
        assert (verdict.state, verdict.reason) == ("filtered", expected)


def test_silence_is_filtered_for_tcp_and_open_filtered_for_udp() -> None:
    assert (classify_silence("tcp").state, classify_silence("tcp").reason) == ("filtered", "no-response")
    assert classify_silence("udp").state == "open|filtered"


def test_template_patching_gives_valid_checksums(probe: SynProbe) -> None:
    for port in (0, 1, 22, 443, 65535):
        raw = probe.build(DST, port)
        packet = IP(raw)
        fresh = packet.copy()
        del fresh[IP].chksum, fresh[TCP].chksum
        rebuilt = IP(bytes(fresh))
        assert (packet[IP].chksum, packet[TCP].chksum) == (rebuilt[IP].chksum, rebuilt[TCP].chksum)
        assert (packet.src, packet.dst, packet[TCP].sport, packet[TCP].dport) == ("198.18.0.1", "198.18.0.2", SPORT, port)
        assert packet[TCP].flags == "S"


@pytest.mark.parametrize("flags, state, reason", [("SA", "open", "syn-ack"), ("RA", "closed", "reset"),
                                                  ("S", "open", "split-handshake-syn"), ("R", "closed", "bare-reset")])
def test_genuine_replies_are_classified(probe: SynProbe, flags: str, state: str, reason: str) -> None:
    parsed = probe.parse_reply(reply(probe.build(DST, 22), flags))
    assert parsed is not None
    assert (parsed.target, parsed.port, parsed.verdict.state, parsed.verdict.reason, parsed.verdict.ttl) == (
        DST, 22, state, reason, 61)


@pytest.mark.parametrize("delta", [0, 2, -1, 1 << 31])
def test_forged_ack_is_rejected(probe: SynProbe, delta: int) -> None:
    assert probe.parse_reply(reply(probe.build(DST, 22), "SA", ack_delta=delta)) is None
    assert probe.parse_reply(reply(probe.build(DST, 22), "RA", ack_delta=delta)) is None


def test_reply_from_another_scan_is_rejected(probe: SynProbe) -> None:
    other = SynProbe((SRC,), SPORT, Cookie(derive_key(8, "cookie")))
    assert probe.parse_reply(reply(other.build(DST, 22), "SA")) is None


def test_reply_for_another_endpoint_is_rejected(probe: SynProbe) -> None:
    genuine = IP(reply(probe.build(DST, 22), "SA"))
    genuine[TCP].sport = 23  # the cookie was for port 22
    assert probe.parse_reply(bytes(genuine)) is None
    moved = IP(reply(probe.build(DST, 22), "SA"))
    moved.src = "198.18.0.3"
    assert probe.parse_reply(bytes(moved)) is None


def test_reply_to_other_source_port_is_ignored(probe: SynProbe) -> None:
    genuine = IP(reply(probe.build(DST, 22), "R"))
    genuine[TCP].dport = SPORT + 1
    assert probe.parse_reply(bytes(genuine)) is None


def test_own_probe_looped_back_is_not_a_split_handshake() -> None:
    local = parse_addr("127.0.0.1")
    probe = SynProbe((local,), 40000, Cookie(derive_key(3, "cookie")))
    assert probe.parse_reply(probe.build(local, 40000)) is None


@pytest.mark.parametrize("code, reason", [(13, "admin-prohibited"), (10, "host-prohibited"), (1, "host-unreach")])
def test_icmp_quoting_our_probe(probe: SynProbe, code: int, reason: str) -> None:
    parsed = probe.parse_reply(icmp(probe.build(DST, 445), 3, code))
    assert parsed is not None
    assert (parsed.port, parsed.verdict.state, parsed.verdict.reason, parsed.verdict.ttl) == (445, "filtered", reason, 63)


def test_icmp_from_router_and_time_exceeded(probe: SynProbe) -> None:
    parsed = probe.parse_reply(icmp(probe.build(DST, 80), 11, 0, src="198.18.0.254"))
    assert parsed is not None and (parsed.target, parsed.verdict.reason) == (DST, "time-exceeded")


def test_icmp_quoting_a_forged_probe_is_rejected(probe: SynProbe) -> None:
    quote = bytearray(probe.build(DST, 445)[:28])
    quote[27] ^= 1  # last byte of the quoted sequence number
    assert probe.parse_reply(icmp(b"", 3, 13, quote=bytes(quote))) is None


@pytest.mark.parametrize("junk", [b"", b"\x45", b"\x60" + b"\0" * 39, b"\x45\0\0\x14" + b"\0" * 16, b"\xff" * 60])
def test_garbage_is_not_a_reply(probe: SynProbe, junk: bytes) -> None:
    assert probe.parse_reply(junk) is None
    assert probe.flow(junk) is None


def test_flow_tells_probes_from_replies(probe: SynProbe) -> None:
    sent = probe.build(DST, 80)
    assert probe.flow(sent) == Flow(DST, 80, True)
    assert probe.flow(reply(sent, "SA")) == Flow(DST, 80, False)
    assert probe.flow(icmp(sent, 3, 13)) == Flow(DST, 80, False)


def test_bpf_filter_compiles(probe: SynProbe) -> None:
    compile_filter = pytest.importorskip("scapy.arch.common").compile_filter
    from scapy.data import DLT_RAW

    try:
        program = compile_filter(probe.bpf_filter(), linktype=DLT_RAW)
    except ImportError as exc:  # pragma: no cover - libpcap absent
        pytest.skip(f"libpcap is not installed: {exc}")
    assert program.bf_len > 5


def test_plan_options_reach_the_probes() -> None:
    from rawscan.plan import ScanPlan
    from rawscan.scan import probe_for
    from rawscan.targets import TargetSet

    plan = ScanPlan(scan="syn", targets=TargetSet(((DST, DST),), {}), ports=(22,), seed=5,
                    sources=(SRC,), source_port=5555, ttl=3)
    packet = IP(probe_for(plan).build(DST, 22))
    assert (packet.ttl, packet[TCP].sport, packet.src) == (3, 5555, "198.18.0.1")
    again = ScanPlan.from_json(plan.to_json(), "sidecar")
    assert probe_for(again).build(DST, 22) == bytes(packet)  # the sidecar regenerates it exactly


def test_each_try_leaves_from_its_own_source_port() -> None:
    probe = SynProbe((SRC,), SPORT, Cookie(derive_key(7, "cookie")), sport_span=16)
    tries = [IP(probe.build(DST, 80, attempt)) for attempt in range(17)]
    assert [t[TCP].sport for t in tries[:16]] == list(range(SPORT, SPORT + 16))
    assert tries[16][TCP].sport == SPORT  # wraps around
    for sent in tries:
        parsed = probe.parse_reply(reply(bytes(sent), "SA"))
        assert parsed is not None and parsed.verdict.state == "open"
        assert probe.parse_reply(icmp(bytes(sent), 3, 13)) is not None
    outside = IP(reply(bytes(tries[0]), "RA"))
    outside[TCP].dport = SPORT + 16
    assert probe.parse_reply(bytes(outside)) is None
    assert f"portrange {SPORT}-{SPORT + 15}" in probe.bpf_filter()
    fixed = SynProbe((SRC,), SPORT, Cookie(derive_key(7, "cookie")))
    assert {IP(fixed.build(DST, 80, a))[TCP].sport for a in range(5)} == {SPORT}


def test_own_probes_to_our_source_ports_looped_back_are_not_replies() -> None:
    local = parse_addr("127.0.0.1")
    probe = SynProbe((local,), 40000, Cookie(derive_key(3, "cookie")), sport_span=16)
    for port in range(40000, 40016):
        for attempt in range(16):
            assert probe.parse_reply(probe.build(local, port, attempt)) is None

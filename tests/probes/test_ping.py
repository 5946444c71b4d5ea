"""rawscan ping's probes (rawscan/probes/ping.py): packets Scapy reads as valid, answers the
kernel would send accepted with the right reason, forged and stray ones dropped."""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, TCPerror, UDPerror, ICMPerror
from scapy.layers.inet6 import ICMPv6DestUnreach, ICMPv6EchoReply, ICMPv6EchoRequest, IPv6, IPerror6, TCPerror as TCPerror6

from rawscan.addresses import parse_addr
from rawscan.cookies import Cookie
from rawscan.errors import RawscanError
from rawscan.probes.ping import PingProbe, parse_probes

US, HOST, ROUTER = "198.18.0.1", "198.18.8.1", "198.18.0.254"
US6, HOST6 = "2001:2::1", "2001:2:8::1"
KINDS = parse_probes("echo,syn:443,ack:80,timestamp,udp:40125")


def _probe() -> PingProbe:
    return PingProbe((parse_addr(US), parse_addr(US6)), 41000, Cookie(bytes(range(16))), KINDS)


def _kind(name: str) -> int:
    return next(i for i, k in enumerate(KINDS) if k.name == name)


@pytest.mark.parametrize("host", [HOST, HOST6])
def test_probes_are_valid_packets(host: str) -> None:
    probe = _probe()
    for i, kind in enumerate(KINDS):
        raw = probe.build(parse_addr(host), i)
        pkt = (IPv6 if ":" in host else IP)(raw)
        again = pkt.copy()
        if ":" in host:
            layer = again[1]
        else:
            del again[IP].chksum
            layer = again[IP].payload
        delattr(layer, "cksum" if "cksum" in layer.fields else "chksum")  # Scapy recomputes it
        assert bytes(again.__class__(bytes(again))) == raw, kind


def _reply_for(raw: bytes, kind: str, v6: bool, **change: int) -> bytes:
    """What the host's kernel answers to a probe."""
    p = (IPv6 if v6 else IP)(raw)
    src, dst = p.dst, p.src
    if kind in ("echo", "timestamp"):
        if v6:
            req = p[ICMPv6EchoRequest]
            return bytes(IPv6(src=src, dst=dst) / ICMPv6EchoReply(id=change.get("id", req.id), seq=req.seq))
        icmp = p[ICMP]
        reply_type = 0 if kind == "echo" else 14
        return bytes(IP(src=src, dst=dst) / ICMP(type=reply_type, id=change.get("id", icmp.id), seq=icmp.seq))
    t = p[TCP]
    ip = IPv6(src=src, dst=dst) if v6 else IP(src=src, dst=dst)
    if kind == "syn":
        return bytes(ip / TCP(sport=t.dport, dport=t.sport, flags="SA", seq=1, ack=change.get("ack", t.seq + 1)))
    return bytes(ip / TCP(sport=t.dport, dport=t.sport, flags="R", seq=change.get("seq", t.ack)))


@pytest.mark.parametrize("v6", [False, True])
@pytest.mark.parametrize("kind,reason", [("echo", "echo-reply"), ("timestamp", "timestamp-reply"),
                                         ("syn", "syn-ack"), ("ack", "reset")])
def test_answers_are_taken_and_forgeries_dropped(kind: str, reason: str, v6: bool) -> None:
    if v6 and kind == "timestamp":
        return
    probe = _probe()
    host = parse_addr(HOST6 if v6 else HOST)
    raw = probe.build(host, _kind(kind))
    reply = probe.parse_reply(_reply_for(raw, kind, v6))
    assert reply is not None and reply.target == host and reply.port == _kind(kind)
    assert (reply.verdict.state, reply.verdict.reason) == ("up", reason)
    forged = {"echo": {"id": 1}, "timestamp": {"id": 1}, "syn": {"ack": 12345}, "ack": {"seq": 12345}}[kind]
    assert probe.parse_reply(_reply_for(raw, kind, v6, **forged)) is None
    other = _probe()  # another scan's key: its cookies differ
    other.cookie = Cookie(bytes(16))
    assert other.parse_reply(_reply_for(raw, kind, v6)) is None


def test_icmp_errors_quoting_our_probes() -> None:
    probe = _probe()
    host = parse_addr(HOST)
    raw = probe.build(host, _kind("udp"))
    quoted = IP(raw)
    from_host = IP(src=HOST, dst=US) / ICMP(type=3, code=3) / bytes(quoted)[:28]
    reply = probe.parse_reply(bytes(from_host))
    assert reply is not None and (reply.verdict.state, reply.verdict.reason) == ("up", "port-unreach")
    from_router = IP(src=ROUTER, dst=US) / ICMP(type=3, code=1) / bytes(IP(probe.build(host, _kind("echo"))))[:28]
    reply = probe.parse_reply(bytes(from_router))
    assert reply is not None and (reply.verdict.state, reply.verdict.reason) == ("down", "host-unreach")
    tampered = bytearray(bytes(IP(probe.build(host, _kind("syn")))))
    tampered[24] ^= 0xFF  # the quoted sequence number: not our cookie
    assert probe.parse_reply(bytes(IP(src=ROUTER, dst=US) / ICMP(type=3, code=1) / bytes(tampered)[:28])) is None
    six = IPv6(src="2001:2::ff", dst=US6) / ICMPv6DestUnreach(code=0) / bytes(IPv6(probe.build(parse_addr(HOST6), _kind("syn"))))
    reply = probe.parse_reply(bytes(six))
    assert reply is not None and (reply.verdict.state, reply.verdict.reason) == ("down", "no-route")


def test_flow_names_probe_and_reply() -> None:
    probe = _probe()
    host = parse_addr(HOST)
    for kind in ("echo", "syn", "ack", "timestamp"):
        raw = probe.build(host, _kind(kind))
        flow = probe.flow(raw)
        assert flow is not None and flow.is_probe and (flow.target, flow.port) == (host, _kind(kind))
        back = probe.flow(_reply_for(raw, kind, False))
        assert back is not None and not back.is_probe and back.port == _kind(kind)


@pytest.mark.parametrize("bad", ["", "ping", "syn:0", "syn:70000", "echo:5", "udp:x"])
def test_bad_probe_lists_are_one_error(bad: str) -> None:
    with pytest.raises(RawscanError):
        parse_probes(bad)


def test_probe_names_and_defaults() -> None:
    assert [k.text for k in parse_probes("-PE,PS,pa:22,udp")] == ["echo", "syn:80", "ack:22", "udp:40125"]


def test_batches_equal_the_per_item_path() -> None:
    """The numpy batcher (probes/ping_batch.py) builds the same bytes and judges answers as
    parse_reply does, for every kind, sources and tries."""
    import numpy as np

    from rawscan.targets import parse_targets
    from rawscan.vector import frames_from

    targets = parse_targets(["198.18.8.0/26", "198.18.9.0/28"])
    for sources in ((US,), (US, "198.18.0.3")):
        probe = PingProbe(tuple(parse_addr(s) for s in sources), 41000, Cookie(bytes(range(16))), KINDS)
        batcher = probe.batcher(targets, tuple(range(len(KINDS))))
        assert batcher is not None
        endpoints = np.arange(len(targets) * len(KINDS), dtype=np.int64)
        for attempt in (0, 3):
            rows = batcher.build(endpoints, attempt)
            items = [probe.build(targets.address(int(e) // len(KINDS)), int(e) % len(KINDS), attempt)
                     for e in endpoints.tolist()]
            assert [r.tobytes() for r in rows] == items
        answers = []
        for raw in items:
            p = IP(raw)
            if ICMP in p:
                kind = "echo" if p[ICMP].type == 8 else "timestamp"
            elif TCP in p:
                kind = "syn" if p[TCP].flags == "S" else "ack"
            else:
                continue
            answers.append(_reply_for(raw, kind, False))
            answers.append(_reply_for(raw, kind, False, **{"echo": {"id": 7}, "timestamp": {"id": 7},
                                                           "syn": {"ack": 7}, "ack": {"seq": 7}}[kind]))
        judged = batcher.judge(frames_from(answers, 0.0))
        fast = {(int(t), int(k)): v for t, k, v in zip(judged.targets, judged.ports, judged.verdicts)}
        slow_rows = set(judged.slow.tolist())
        for i, answer in enumerate(answers):
            reply = probe.parse_reply(answer)
            if i in slow_rows:
                continue
            if reply is None:
                continue
            assert fast[(reply.target, reply.port)] == reply.verdict
        assert len(fast) == len(answers) // 2 - len(slow_rows)
        assert judged.stray == len(answers) // 2


def test_neighbour_requests_are_scapys_frames() -> None:
    from scapy.layers.inet6 import ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr
    from scapy.layers.l2 import ARP, Ether

    from rawscan.discovery.neighbours import Link, arp_request, ns_request, parse_answer

    mac = bytes.fromhex("020000000001")
    mac_text = "02:00:00:00:00:01"
    assert arp_request(mac, parse_addr(US), parse_addr("198.18.0.2")) == bytes(
        Ether(dst="ff:ff:ff:ff:ff:ff", src=mac_text) / ARP(op=1, hwsrc=mac_text, psrc=US, hwdst="00:00:00:00:00:00", pdst="198.18.0.2"))
    assert ns_request(mac, parse_addr(US6), parse_addr("2001:2::2")) == bytes(
        Ether(dst="33:33:ff:00:00:02", src=mac_text) / IPv6(src=US6, dst="ff02::1:ff00:2", hlim=255)
        / ICMPv6ND_NS(tgt="2001:2::2") / ICMPv6NDOptSrcLLAddr(lladdr=mac_text))
    link = Link("x", None, mac, parse_addr(US), parse_addr(US6))  # type: ignore[arg-type]
    reply = Ether(dst=mac_text, src="02:00:00:00:00:02") / ARP(op=2, hwsrc="02:00:00:00:00:02", psrc="198.18.0.2", hwdst=mac_text, pdst=US)
    assert parse_answer(bytes(reply), link) == (parse_addr("198.18.0.2"), bytes.fromhex("020000000002"))
    stray = Ether(dst=mac_text) / ARP(op=2, psrc="198.18.0.2", hwdst=mac_text, pdst="198.18.0.9")
    assert parse_answer(bytes(stray), link) is None  # not to our address

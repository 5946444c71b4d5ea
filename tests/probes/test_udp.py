"""UDP probes: payloads parse back as their protocol, cookies round-trip, forgeries fail, states map."""

from __future__ import annotations

import pytest
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.isakmp import ISAKMP, ISAKMP_payload_SA
from scapy.layers.netbios import NBNSHeader, NBNSNodeStatusRequest
from scapy.layers.ntp import NTPHeader
from scapy.layers.rip import RIP, RIPEntry
from scapy.layers.snmp import SNMP, SNMPget, SNMPresponse, SNMPvarbind
from scapy.layers.tftp import TFTP, TFTP_RRQ

from rawscan.classify import classify_icmp
from rawscan.cookies import Cookie, derive_key
from rawscan.payloads import BUILDERS, EMPTY, payload_for, user_payload
from rawscan.probes.base import Flow
from rawscan.probes.udp import UdpProbe
from rawscan.addresses import parse_addr

SRC, DST = parse_addr("198.18.0.1"), parse_addr("198.18.0.2")


@pytest.fixture
def probe() -> UdpProbe:
    return UdpProbe((SRC,), Cookie(derive_key(11, "cookie")), payload_for)


def sent(probe: UdpProbe, port: int, attempt: int = 0) -> IP:
    return IP(probe.build(DST, port, attempt))


def answer(request: IP, payload: bytes, sport: int | None = None, src: str | None = None) -> bytes:
    return bytes(IP(src=src or request.dst, dst=request.src, ttl=60)
                 / UDP(sport=sport or request[UDP].dport, dport=request[UDP].sport) / payload)


def unreachable(request: IP, code: int, src: str = "198.18.0.2") -> bytes:
    return bytes(IP(src=src, dst=request.src, ttl=59) / ICMP(type=3, code=code) / bytes(request)[:28])


def test_every_payload_parses_back_as_its_protocol(probe: UdpProbe) -> None:
    def body(port: int) -> bytes:
        return bytes(sent(probe, port)[UDP].payload)

    dns = DNS(body(53))
    assert dns.qr == 0 and dns.rd == 1 and dns.qd[0].qname == b"." and dns.qd[0].qtype == 2
    mdns = DNS(body(5353))
    assert mdns.qd[0].qname == b"_services._dns-sd._udp.local." and mdns.qd[0].qtype == 12
    ntp = NTPHeader(body(123))
    assert ntp.mode == 3 and ntp.version == 4
    snmp = SNMP(body(161))
    assert snmp.community.val == b"public" and isinstance(snmp.PDU, SNMPget)
    assert snmp.PDU.varbindlist[0].oid.val == "1.3.6.1.2.1.1.1.0"
    assert int(snmp.version.val) == 1  # v2c
    assert NBNSHeader(body(137)).haslayer(NBNSNodeStatusRequest)
    assert TFTP(body(69))[TFTP_RRQ].mode == b"octet"
    bootp = BOOTP(body(67))
    assert bootp.op == 1 and bootp.haslayer(DHCP)
    ike = ISAKMP(body(500))
    assert ike.exch_type == 2 and ike.haslayer(ISAKMP_payload_SA)
    rip = RIP(body(520))
    assert rip.cmd == 1 and rip[RIPEntry].metric == 16
    assert body(1900).startswith(b"M-SEARCH * HTTP/1.1\r\n") and b"ssdp:discover" in body(1900)
    assert body(11211).endswith(b"version\r\n") and len(body(11211)) == 17
    assert body(9999) == b""
    assert set(BUILDERS) >= {53, 67, 69, 123, 137, 161, 500, 520, 1900, 5353, 11211}


def test_payload_cookies_differ_per_probe(probe: UdpProbe) -> None:
    first = DNS(bytes(sent(probe, 53)[UDP].payload)).id
    other = UdpProbe((SRC,), Cookie(derive_key(12, "cookie")), payload_for)
    assert first != DNS(bytes(sent(other, 53)[UDP].payload)).id


def test_packets_have_valid_checksums(probe: UdpProbe) -> None:
    for port in (53, 123, 161, 1900, 7, 65535):
        packet = sent(probe, port)
        fresh = packet.copy()
        del fresh[IP].chksum, fresh[UDP].chksum
        rebuilt = IP(bytes(fresh))
        assert (packet[IP].chksum, packet[UDP].chksum) == (rebuilt[IP].chksum, rebuilt[UDP].chksum)
        assert 32768 <= packet[UDP].sport < 61000


def test_genuine_dns_answer_is_open_and_a_wrong_id_is_forged(probe: UdpProbe) -> None:
    request = sent(probe, 53)
    query = DNS(bytes(request[UDP].payload))
    good = DNS(id=query.id, qr=1, rcode=5, qd=DNSQR(qname="."))
    reply = probe.parse_reply(answer(request, bytes(good)))
    assert reply is not None and (reply.port, reply.verdict.state, reply.verdict.reason) == (53, "open", "udp-response")
    assert reply.verdict.ttl == 60
    forged = DNS(id=query.id ^ 1, qr=1, rcode=5, qd=DNSQR(qname="."))
    assert probe.parse_reply(answer(request, bytes(forged))) is None


def test_snmp_and_ntp_cookies_round_trip(probe: UdpProbe) -> None:
    request = sent(probe, 161)
    get = SNMP(bytes(request[UDP].payload))
    response = SNMP(community="public", PDU=SNMPresponse(id=get.PDU.id, varbindlist=[SNMPvarbind(oid="1.3.6.1.2.1.1.1.0")]))
    assert probe.parse_reply(answer(request, bytes(response))) is not None
    response.PDU.id = int(get.PDU.id.val) + 1
    assert probe.parse_reply(answer(request, bytes(response))) is None

    request = sent(probe, 123)
    transmit = bytes(request[UDP].payload)[40:48]  # raw: Scapy's float timestamps round
    server = bytes(NTPHeader(mode=4, stratum=2, orig=0))
    server = server[:24] + transmit + server[32:]
    assert NTPHeader(server).mode == 4
    assert probe.parse_reply(answer(request, server)) is not None
    bad = server[:24] + bytes(8) + server[32:]
    assert probe.parse_reply(answer(request, bad)) is None


def test_another_service_on_the_port_still_proves_it_open(probe: UdpProbe) -> None:
    request = sent(probe, 53)
    reply = probe.parse_reply(answer(request, b"hello, not dns"))
    assert reply is not None and reply.verdict.state == "open"


def test_reply_to_the_wrong_source_port_is_dropped(probe: UdpProbe) -> None:
    request = sent(probe, 7)
    genuine = IP(answer(request, b"x"))
    genuine[UDP].dport = request[UDP].sport + 1
    del genuine[UDP].chksum
    assert probe.parse_reply(bytes(genuine)) is None
    other_scan = UdpProbe((SRC,), Cookie(derive_key(99, "cookie")), payload_for)
    assert probe.parse_reply(answer(sent(other_scan, 7), b"x")) is None


def test_tftp_answers_from_a_new_port(probe: UdpProbe) -> None:
    request = sent(probe, 69)
    reply = probe.parse_reply(answer(request, b"\x00\x05\x00\x01File not found\x00", sport=50123))
    assert reply is not None and reply.port == 69 and reply.verdict.state == "open"


@pytest.mark.parametrize(
    "code, src, state, reason",
    [(3, "198.18.0.2", "closed", "port-unreach"), (3, "198.18.0.254", "filtered", "port-unreach"),
     (13, "198.18.0.2", "filtered", "admin-prohibited"), (10, "198.18.0.2", "filtered", "host-prohibited"),
     (9, "198.18.0.254", "filtered", "net-prohibited"), (0, "198.18.0.254", "filtered", "net-unreach"),
     (1, "198.18.0.254", "filtered", "host-unreach"), (2, "198.18.0.2", "filtered", "proto-unreach")],
)
def test_icmp_unreachable_table(probe: UdpProbe, code: int, src: str, state: str, reason: str) -> None:
    reply = probe.parse_reply(unreachable(sent(probe, 631), code, src))
    assert reply is not None and reply.icmp
    assert (reply.target, reply.port, reply.verdict.state, reply.verdict.reason) == (DST, 631, state, reason)


def test_udp_classifier_for_silence_and_other_icmp() -> None:
    assert classify_icmp("udp", 3, 4, True) is None  # needs-frag says nothing about the port
    assert classify_icmp("udp", 11, 0, False).state == "filtered"  # type: ignore[union-attr]


def test_icmp_quoting_a_forged_probe_is_dropped(probe: UdpProbe) -> None:
    quote = bytearray(bytes(sent(probe, 631))[:28])
    quote[20] ^= 0x01  # the quoted source port
    forged = bytes(IP(src="198.18.0.2", dst="198.18.0.1") / ICMP(type=3, code=3) / bytes(quote))
    assert probe.parse_reply(forged) is None


def test_own_probe_looped_back_is_not_a_reply() -> None:
    local = parse_addr("127.0.0.1")
    probe = UdpProbe((local,), Cookie(derive_key(3, "cookie")), payload_for)
    for port in (7, 40000, 50000, 60000):
        assert probe.parse_reply(probe.build(local, port)) is None


def test_several_sources_rotate_per_attempt_and_all_are_ours() -> None:
    sources = tuple(parse_addr(f"198.18.0.{i}") for i in range(1, 9))
    probe = UdpProbe(sources, Cookie(derive_key(5, "cookie")), payload_for)
    used = {IP(probe.build(DST, 631, attempt)).src for attempt in range(8)}
    assert len(used) == 8
    for attempt in range(8):
        request = IP(probe.build(DST, 631, attempt))
        reply = probe.parse_reply(unreachable(request, 3))
        assert reply is not None and reply.verdict.state == "closed"
    assert all(f"dst host 198.18.0.{i}" in probe.bpf_filter() for i in range(1, 9))


def test_flow_for_replay(probe: UdpProbe) -> None:
    request = sent(probe, 161)
    assert probe.flow(bytes(request)) == Flow(DST, 161, True)
    assert probe.flow(answer(request, b"x")) == Flow(DST, 161, False)
    assert probe.flow(unreachable(request, 3)) == Flow(DST, 161, False)


def test_user_data_replaces_protocol_probes() -> None:
    probe = UdpProbe((SRC,), Cookie(derive_key(1, "cookie")), lambda _p: user_payload(b"\xde\xad"))
    assert bytes(IP(probe.build(DST, 53))[UDP].payload) == b"\xde\xad"
    assert payload_for(4242) is EMPTY

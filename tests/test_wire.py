"""rawscan.wire's IPv6 parsing (and the family-agnostic entry points) against packets built by
Scapy: plain and with extension headers, fragments, ICMPv6 errors quoting probes, and cut or
random bytes, which must give None and never raise."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import (
    ICMPv6DestUnreach,
    ICMPv6EchoRequest,
    ICMPv6PacketTooBig,
    ICMPv6ParamProblem,
    ICMPv6TimeExceeded,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)
from scapy.layers.ipsec import AH
from scapy.packet import Packet

from rawscan.addresses import V6, parse_addr
from rawscan.wire import (
    MAX_EXTENSIONS,
    PROTO_ICMPV6,
    PROTO_TCP,
    PROTO_UDP,
    IPv4,
    icmp6_error,
    icmp_error,
    ip_header,
    ip_icmp_error,
    ipv4,
    ipv6,
)

SCANNER, TARGET, ROUTER = "2001:2::1", "2001:2::2", "2001:2:0:ff::1"


def probe_tcp(sport: int = 40000, dport: int = 80, seq: int = 0x12345678) -> Packet:
    return IPv6(src=SCANNER, dst=TARGET, hlim=64) / TCP(sport=sport, dport=dport, seq=seq, flags="S")


def probe_udp(sport: int = 50000, dport: int = 53) -> Packet:
    return IPv6(src=SCANNER, dst=TARGET) / UDP(sport=sport, dport=dport) / b"query"


def test_tcp_and_udp() -> None:
    reply = bytes(IPv6(src=TARGET, dst=SCANNER, hlim=57) / TCP(sport=80, dport=40000, flags="SA"))
    h = ipv6(reply)
    assert h == (parse_addr(TARGET), parse_addr(SCANNER), PROTO_TCP, 57, 40)
    assert h is not None and h.src >= V6 and h.src & (V6 - 1) == 0x20010002 << 96 | 2
    u = ipv6(bytes(probe_udp()))
    assert u is not None and (u.proto, u.ttl, u.header_len) == (PROTO_UDP, 64, 40)
    assert ip_header(reply) == h and ip_header(bytes(probe_udp())) == u


EXTENSIONS: dict[str, tuple[list[Packet], int]] = {  # name: (headers, their length in bytes)
    "hop-by-hop": ([IPv6ExtHdrHopByHop()], 8),
    "destination options": ([IPv6ExtHdrDestOpt()], 8),
    "routing": ([IPv6ExtHdrRouting(addresses=["2001:2::9"])], 24),
    "first fragment": ([IPv6ExtHdrFragment(offset=0, m=1, id=7)], 8),
    # Scapy fills in neither AH's next header nor its length (4-byte units, minus 2)
    "authentication": ([AH(nh=PROTO_TCP, payloadlen=4, spi=1, icv=b"\0" * 12)], 24),
    "all of them": ([IPv6ExtHdrHopByHop(), IPv6ExtHdrDestOpt(), IPv6ExtHdrRouting(),
                     IPv6ExtHdrFragment(), AH(nh=60, payloadlen=4, spi=1, icv=b"\0" * 12), IPv6ExtHdrDestOpt()], 64),
}


def chain(base: Packet, headers: list[Packet], upper: Packet) -> bytes:
    packet = base
    for header in headers:
        packet = packet / header.copy()
    return bytes(packet / upper)


@pytest.mark.parametrize("name", list(EXTENSIONS))
def test_extension_headers_are_walked(name: str) -> None:
    headers, length = EXTENSIONS[name]
    segment = TCP(sport=80, dport=40000, flags="SA", seq=99)
    packet = chain(IPv6(src=TARGET, dst=SCANNER, hlim=60), headers, segment)
    h = ipv6(packet)
    assert h is not None and (h.proto, h.ttl, h.header_len) == (PROTO_TCP, 60, 40 + length)
    assert packet[h.header_len : h.header_len + 16] == bytes(segment)[:16]  # all but the checksum


def test_a_later_fragment_has_no_transport_header() -> None:
    later = bytes(IPv6(src=TARGET, dst=SCANNER) / IPv6ExtHdrFragment(offset=1, id=7) / (b"x" * 16))
    assert ipv6(later) is None and ip_header(later) is None


def test_no_next_header_and_esp_end_the_walk() -> None:
    nothing = bytes(IPv6(src=TARGET, dst=SCANNER) / IPv6ExtHdrDestOpt(nh=59))
    h = ipv6(nothing)
    assert h is not None and (h.proto, h.header_len) == (59, 48) and len(nothing) == 48
    esp = bytes(IPv6(src=TARGET, dst=SCANNER, nh=50) / (b"\0" * 16))
    assert ipv6(esp) is not None and ipv6(esp).proto == 50  # type: ignore[union-attr]


def test_over_long_and_overrunning_chains() -> None:
    upper = TCP(sport=80, dport=40000)
    ok = chain(IPv6(src=TARGET, dst=SCANNER), [IPv6ExtHdrDestOpt()] * MAX_EXTENSIONS, upper)
    too_long = chain(IPv6(src=TARGET, dst=SCANNER), [IPv6ExtHdrDestOpt()] * (MAX_EXTENSIONS + 1), upper)
    assert ipv6(ok) is not None and ipv6(too_long) is None
    # A hop-by-hop header claiming 16 more bytes than the packet holds.
    overrun = bytearray(bytes(IPv6(src=TARGET, dst=SCANNER) / IPv6ExtHdrHopByHop(nh=59)))
    overrun[41] = 2
    assert ipv6(bytes(overrun)) is None


def test_not_ipv6() -> None:
    v4 = bytes(IP(src="198.18.0.2", dst="198.18.0.1") / TCP())
    assert ipv6(v4) is None and ipv6(b"") is None and ipv6(b"\x60" + bytes(38)) is None
    assert ip_header(b"\x50" + bytes(59)) is None  # version 5


# --- ICMPv6 errors --------------------------------------------------------------------------

ERRORS = [
    (ICMPv6DestUnreach(code=c), 1, c) for c in range(7)
] + [(ICMPv6PacketTooBig(mtu=1280), 2, 0), (ICMPv6TimeExceeded(code=0), 3, 0),
     (ICMPv6TimeExceeded(code=1), 3, 1), (ICMPv6ParamProblem(code=1, ptr=6), 4, 1)]


@pytest.mark.parametrize(("icmp", "icmp_type", "code"), ERRORS, ids=lambda x: str(getattr(x, "name", x)))
@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_icmp6_errors_quote_the_probe(icmp: Packet, icmp_type: int, code: int, proto: str) -> None:
    probe = probe_tcp() if proto == "tcp" else probe_udp()
    packet = bytes(IPv6(src=ROUTER, dst=SCANNER, hlim=250) / icmp / probe)
    outer = ipv6(packet)
    assert outer is not None and (outer.proto, outer.ttl) == (PROTO_ICMPV6, 250)
    error = icmp6_error(packet, outer)
    assert error is not None and (error.icmp_type, error.code) == (icmp_type, code)
    q = error.quoted
    assert (q.src, q.dst, q.ttl, q.header_len) == (parse_addr(SCANNER), parse_addr(TARGET), probe.hlim, 40)
    assert q.proto == (PROTO_TCP if proto == "tcp" else PROTO_UDP)
    assert error.quoted_l4 == bytes(probe)[40:48]
    if proto == "tcp":
        assert struct.unpack("!HHI", error.quoted_l4) == (40000, 80, 0x12345678)
    assert ip_icmp_error(packet, outer) == error
    assert ip_icmp_error(packet, ip_header(packet)) == error  # type: ignore[arg-type]


def test_quoted_probe_with_extension_headers() -> None:
    probe = IPv6(src=SCANNER, dst=TARGET) / IPv6ExtHdrHopByHop() / IPv6ExtHdrFragment(m=1) / \
        TCP(sport=40001, dport=22, seq=5)
    packet = bytes(IPv6(src=TARGET, dst=SCANNER) / IPv6ExtHdrDestOpt() / ICMPv6DestUnreach(code=1) / probe)
    outer = ipv6(packet)
    assert outer is not None and outer.header_len == 48
    error = icmp6_error(packet, outer)
    assert error is not None and error.quoted.header_len == 56 and error.quoted.proto == PROTO_TCP
    assert struct.unpack("!HHI", error.quoted_l4) == (40001, 22, 5)


def test_what_is_not_an_error_quoting_a_probe() -> None:
    def error_of(packet: Packet) -> object:
        raw = bytes(packet)
        outer = ipv6(raw)
        return None if outer is None else icmp6_error(raw, outer)

    echo = IPv6(src=TARGET, dst=SCANNER) / ICMPv6EchoRequest(data=bytes(probe_tcp()))
    assert error_of(echo) is None  # informational: quotes nothing, whatever its payload
    assert error_of(probe_tcp()) is None  # not ICMPv6 at all
    v4_inside = IPv6(src=ROUTER, dst=SCANNER) / ICMPv6DestUnreach() / IP(dst="198.18.0.2") / TCP()
    assert error_of(v4_inside) is None
    later = IPv6(src=SCANNER, dst=TARGET) / IPv6ExtHdrFragment(offset=3) / (b"x" * 24)
    assert error_of(IPv6(src=ROUTER, dst=SCANNER) / ICMPv6TimeExceeded(code=1) / later) is None
    whole = bytes(IPv6(src=ROUTER, dst=SCANNER) / ICMPv6DestUnreach() / probe_tcp())
    assert error_of(IPv6(whole[: 40 + 8 + 40 + 7])) is None  # the quote ends inside the ports


def test_ipv4_errors_through_the_agnostic_entry_points() -> None:
    probe = IP(src="198.18.0.1", dst="198.18.0.2") / TCP(sport=40000, dport=80, seq=77)
    packet = bytes(IP(src="198.18.254.1", dst="198.18.0.1", ttl=250) / ICMP(type=3, code=13) / probe)
    outer = ip_header(packet)
    assert isinstance(outer, IPv4) and outer == ipv4(packet)
    assert ip_icmp_error(packet, outer) == icmp_error(packet, outer)
    assert ip_icmp_error(packet, outer).quoted.dst == 0xC6120002  # type: ignore[union-attr]


# --- damage: every cut, random bytes; and the IPv4 fast paths agree with ipv4/icmp_error ----


def test_every_cut_of_every_kind_gives_none_or_a_header() -> None:
    packets = [chain(IPv6(src=ROUTER, dst=SCANNER), EXTENSIONS["all of them"][0],
                     ICMPv6DestUnreach(code=4) / IPv6(src=SCANNER, dst=TARGET) /
                     IPv6ExtHdrFragment() / UDP(sport=1, dport=2))]
    packets += [bytes(IPv6(src=ROUTER, dst=SCANNER) / icmp / probe_tcp()) for icmp, _, _ in ERRORS]
    for packet in packets:
        for n in range(len(packet) + 1):
            cut = packet[:n]
            outer = ip_header(cut)
            if outer is not None:
                assert outer.header_len <= n
                error = ip_icmp_error(cut, outer)
                assert error is None or len(error.quoted_l4) == 8


@settings(max_examples=400, deadline=None)
@given(data=st.binary(max_size=160), version=st.sampled_from([0x45, 0x46, 0x60, 0x4F, 0x00]))
def test_random_bytes_never_raise(data: bytes, version: int) -> None:
    packet = bytes([version]) + data
    for parse in (ipv6, ip_header):
        outer = parse(packet)
        if outer is not None:
            ip_icmp_error(packet, outer)
            if outer.src >= V6:
                icmp6_error(packet, outer)  # type: ignore[arg-type]


v4_headers = st.builds(
    lambda ihl, frag, proto, tail: bytes([0x40 | ihl, 0]) + struct.pack("!HHH", 60, 1, frag)
    + bytes([64, proto, 0, 0]) + bytes([198, 18, 0, 2, 198, 18, 0, 1]) + tail,
    st.integers(0, 15), st.sampled_from([0, 0x4000, 0x2000, 0x0001, 0x1FFF]),
    st.sampled_from([1, 6, 17]), st.binary(max_size=80),
)


@settings(max_examples=400, deadline=None)
@given(outer=v4_headers, icmp=st.binary(min_size=0, max_size=8), inner=v4_headers)
def test_ipv4_fast_paths_agree_with_ipv4_and_icmp_error(outer: bytes, icmp: bytes, inner: bytes) -> None:
    packet = outer + icmp + inner
    assert ip_header(packet) == ipv4(packet)
    header = ipv4(packet)
    if header is not None:
        assert ip_icmp_error(packet, header) == icmp_error(packet, header)

"""classify_icmp6: every ICMPv6 error type and code, for TCP and UDP probes, from the target
and from a router (the issue's table, with nmap's reason names)."""

from __future__ import annotations

import pytest

from rawscan.classify import classify_icmp, classify_icmp6
from rawscan.results import Evidence, Verdict

# (type, code): (reason, closed when a UDP probe's target itself sends it)
DECIDING: dict[tuple[int, int], tuple[str, bool]] = {
    (1, 0): ("no-route", False),
    (1, 1): ("admin-prohibited", False),
    (1, 2): ("beyond-scope", False),
    (1, 3): ("host-unreach", False),  # address unreachable; nmap's name
    (1, 4): ("port-unreach", True),
    (1, 5): ("admin-prohibited", False),  # source address failed policy; nmap's name
    (1, 6): ("reject-route", False),
    (3, 0): ("time-exceeded", False),  # hop limit exceeded in transit
    (3, 1): ("time-exceeded", False),  # fragment reassembly time exceeded
}
SILENT = [(2, 0), (1, 7), (1, 8), (1, 255), (4, 0), (4, 1), (4, 2), (0, 0), (128, 0), (129, 0), (135, 0)]


@pytest.mark.parametrize(("icmp_type", "code"), list(DECIDING))
@pytest.mark.parametrize("proto", ["tcp", "udp"])
@pytest.mark.parametrize("from_target", [True, False])
def test_every_deciding_kind(icmp_type: int, code: int, proto: str, from_target: bool) -> None:
    reason, closes_udp = DECIDING[(icmp_type, code)]
    verdict = classify_icmp6(proto, icmp_type, code, from_target, 57)
    if closes_udp and proto == "udp" and from_target:
        assert verdict == Verdict("closed", reason, Evidence.RESPONSE, 57)
    else:
        assert verdict == Verdict("filtered", reason, Evidence.ICMP, 57)


@pytest.mark.parametrize(("icmp_type", "code"), SILENT)
@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_kinds_that_say_nothing(icmp_type: int, code: int, proto: str) -> None:
    """Packet too big (path MTU), parameter problem, unassigned codes, informational types."""
    assert classify_icmp6(proto, icmp_type, code, True, 64) is None
    assert classify_icmp6(proto, icmp_type, code, False, 64) is None


def test_every_other_type_and_code_says_nothing() -> None:
    """Time exceeded with any code is still time exceeded (as ICMP type 11 is)."""
    for icmp_type in range(256):
        for code in range(256):
            verdict = classify_icmp6("udp", icmp_type, code, True)
            if icmp_type == 3:
                assert verdict == Verdict("filtered", "time-exceeded", Evidence.ICMP), code
            elif (icmp_type, code) not in DECIDING:
                assert verdict is None, (icmp_type, code)


def test_port_unreachable_closes_like_its_icmpv4_twin() -> None:
    """ICMPv6 1/4 and ICMP 3/3 are the same news, with the same reason name."""
    for proto in ("tcp", "udp"):
        for from_target in (True, False):
            assert classify_icmp6(proto, 1, 4, from_target, 60) == classify_icmp(proto, 3, 3, from_target, 60)
    assert classify_icmp6("udp", 1, 4, True) == Verdict("closed", "port-unreach", Evidence.RESPONSE, None)

"""Pure decisions: what a reply (or its absence) says about a port, as nmap reports it."""

from __future__ import annotations

from .results import Evidence, Verdict

# TCP flag bits
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

ICMP_DEST_UNREACH = 3
ICMP_TIME_EXCEEDED = 11

# ICMP destination-unreachable codes that mean "something is in the way" (nmap's list)
UNREACH_REASONS: dict[int, str] = {
    0: "net-unreach",
    1: "host-unreach",
    2: "proto-unreach",
    3: "port-unreach",
    9: "net-prohibited",
    10: "host-prohibited",
    13: "admin-prohibited",
}


def classify_tcp(flags: int, ttl: int | None = None) -> Verdict | None:
    """A TCP segment answering a SYN probe; None when it says nothing about the port."""
    if flags & RST:
        return Verdict("closed", "reset", Evidence.RESPONSE, ttl)
    if flags & SYN:
        # SYN without ACK is a split handshake: the port is listening all the same.
        reason = "syn-ack" if flags & ACK else "split-handshake-syn"
        return Verdict("open", reason, Evidence.RESPONSE, ttl)
    return None


def classify_udp_response(ttl: int | None = None) -> Verdict:
    return Verdict("open", "udp-response", Evidence.RESPONSE, ttl)


def _classify_error(
    reasons: dict[int, str], unreach: int, time_exceeded: int, port_unreach: int,
    proto: str, icmp_type: int, code: int, from_target: bool, ttl: int | None,
) -> Verdict | None:
    """The rule both ICMP versions share: time exceeded and the listed unreachable codes say
    filtered, except port unreachable from the target itself about a UDP port: closed."""
    if icmp_type == time_exceeded:
        return Verdict("filtered", "time-exceeded", Evidence.ICMP, ttl)
    if icmp_type != unreach or code not in reasons:
        return None
    reason = reasons[code]
    if code == port_unreach and proto == "udp" and from_target:
        # Only the target itself can say nothing listens on the port.
        return Verdict("closed", reason, Evidence.RESPONSE, ttl)
    return Verdict("filtered", reason, Evidence.ICMP, ttl)


def classify_icmp(
    proto: str, icmp_type: int, code: int, from_target: bool, ttl: int | None = None
) -> Verdict | None:
    """An ICMP error quoting one of our probes; None for kinds that say nothing (e.g. needs-frag)."""
    return _classify_error(UNREACH_REASONS, ICMP_DEST_UNREACH, ICMP_TIME_EXCEEDED, 3,
                           proto, icmp_type, code, from_target, ttl)


# ICMPv6 (RFC 4443) error types
ICMP6_DEST_UNREACH = 1
ICMP6_PACKET_TOO_BIG = 2
ICMP6_TIME_EXCEEDED = 3

# ICMPv6 destination-unreachable codes, with nmap's reason names (reason.cc, icmpv6_to_reason):
# nmap reports code 3 as host-unreach and code 5 (source address failed ingress/egress policy)
# as admin-prohibited, so those two names are shared with ICMP.
UNREACH6_REASONS: dict[int, str] = {
    0: "no-route",
    1: "admin-prohibited",
    2: "beyond-scope",
    3: "host-unreach",  # address unreachable
    4: "port-unreach",
    5: "admin-prohibited",  # source address failed ingress/egress policy
    6: "reject-route",
}
UNREACH6_PORT = 4


def classify_icmp6(
    proto: str, icmp_type: int, code: int, from_target: bool, hlim: int | None = None
) -> Verdict | None:
    """An ICMPv6 error quoting one of our probes; None for kinds that say nothing about the
    port: packet too big (a path MTU matter), parameter problem, unknown codes."""
    return _classify_error(UNREACH6_REASONS, ICMP6_DEST_UNREACH, ICMP6_TIME_EXCEEDED,
                           UNREACH6_PORT, proto, icmp_type, code, from_target, hlim)


def classify_silence(proto: str) -> Verdict:
    """No reply after every retry: a firewall drop for TCP, ambiguous for UDP."""
    state = "open|filtered" if proto == "udp" else "filtered"
    return Verdict(state, "no-response", Evidence.SILENCE)

"""Port layouts of the live lab: the ground truth live tests and recorded pcaps are checked against.

Every group holds over both families (tests/support/lab.py applies each firewall rule to IPv4 and
IPv6), so a port's state is the same over either; only the ICMP error, and so the reason,
differs: expected(4) and expected(6).
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.support.lab import LabSpec

# The reason rawscan gives each rejecting group's reply, per family. IPv6 names follow nmap
# (reason.cc, icmpv6 destination unreachable): code 1 admin-prohibited, code 3 (address
# unreachable) host-unreach, code 4 port-unreach.
REJECT_REASONS = {
    4: {"admin": "admin-prohibited", "host": "host-prohibited", "port": "port-unreach"},
    6: {"admin": "admin-prohibited", "host": "host-unreach", "port": "port-unreach"},
}


def _reasons(family: int) -> dict[str, str]:
    if family not in REJECT_REASONS:
        raise ValueError(f"family is 4 or 6, not {family!r}")
    return REJECT_REASONS[family]


@dataclass(frozen=True)
class SynLayout:
    ports: range
    open: tuple[int, ...]
    drop: tuple[int, ...]
    admin: tuple[int, ...]  # REJECT with ICMP admin-prohibited (3/13) / ICMPv6 1/1
    host: tuple[int, ...]  # REJECT with ICMP host-prohibited (3/10) / ICMPv6 addr-unreachable 1/3
    port: tuple[int, ...] = ()  # REJECT with ICMP port-unreachable (3/3) / ICMPv6 1/4

    def __post_init__(self) -> None:
        groups = (self.open, self.drop, self.admin, self.host, self.port)
        every = [p for group in groups for p in group]
        assert len(every) == len(set(every)), "a port is in two groups"
        assert set(every) <= set(self.ports)

    def spec(self, loss_percent: int = 0, **extra: object) -> LabSpec:
        return LabSpec(open_tcp=self.open, drop_tcp=self.drop, reject_admin_tcp=self.admin,
                       reject_host_tcp=self.host, reject_port_tcp=self.port,
                       reply_loss_percent=loss_percent, **extra)  # type: ignore[arg-type]

    def expected(self, family: int = 4) -> dict[int, tuple[str, str]]:
        """port -> (state, reason), for every scanned port, scanned over IPv4 (4) or IPv6 (6).
        The states are the same for both families; the reasons of rejected ports are not."""
        why = _reasons(family)
        table = {p: ("closed", "reset") for p in self.ports}
        table.update({p: ("open", "syn-ack") for p in self.open})
        table.update({p: ("filtered", "no-response") for p in self.drop})
        table.update({p: ("filtered", why["admin"]) for p in self.admin})
        table.update({p: ("filtered", why["host"]) for p in self.host})
        table.update({p: ("filtered", why["port"]) for p in self.port})  # TCP: not closed
        return table


# 2,000 ports with every reply kind, spread over the range
SYN_2000 = SynLayout(
    ports=range(1, 2001),
    open=(22, 80, 443, 631, 1000, 1433, 1999) + tuple(range(100, 2000, 97)),
    drop=(23, 445, 1500) + tuple(range(111, 2000, 151)),
    admin=(25, 139, 1600) + tuple(range(113, 2000, 173)),
    host=(53, 3, 1700) + tuple(range(117, 2000, 199)),
)

# small enough to commit as a pcap, every reply kind present
SYN_SMALL = SynLayout(
    ports=range(1, 201),
    open=(22, 80, 111, 199),
    drop=(23, 135, 150),
    admin=(25, 139),
    host=(53, 161),
)


@dataclass(frozen=True)
class UdpLayout:
    ports: tuple[int, ...]
    dns: bool  # dnsmasq on 53
    open: tuple[int, ...]  # echo responders
    drop: tuple[int, ...]
    admin: tuple[int, ...]
    host: tuple[int, ...]
    port: tuple[int, ...] = ()  # the firewall's port-unreachable: closed, as the kernel's

    def __post_init__(self) -> None:
        every = [*self.open, *self.drop, *self.admin, *self.host, *self.port] + (
            [53] if self.dns else [])
        assert len(every) == len(set(every)), "a port is in two groups"
        assert set(every) <= set(self.ports)

    def spec(self, lift_icmp_ratelimit: bool = True, **extra: object) -> LabSpec:
        return LabSpec(open_udp=self.open, drop_udp=self.drop, reject_admin_udp=self.admin,
                       reject_host_udp=self.host, reject_port_udp=self.port, dns_server=self.dns,
                       lift_icmp_ratelimit=lift_icmp_ratelimit, **extra)  # type: ignore[arg-type]

    def port_list(self) -> str:
        return ",".join(map(str, self.ports))

    def expected(self, family: int = 4) -> dict[int, tuple[str, str]]:
        """port -> (state, reason) over IPv4 (4) or IPv6 (6); same states for both."""
        why = _reasons(family)
        table = {p: ("closed", "port-unreach") for p in self.ports}
        table.update({p: ("open", "udp-response") for p in self.open})
        if self.dns:
            table[53] = ("open", "udp-response")
        table.update({p: ("open|filtered", "no-response") for p in self.drop})
        table.update({p: ("filtered", why["admin"]) for p in self.admin})
        table.update({p: ("filtered", why["host"]) for p in self.host})
        table.update({p: ("closed", why["port"]) for p in self.port})
        return table


# ICMP limit lifted: 1-1024 plus responders above it
UDP_1024 = UdpLayout(
    ports=tuple(range(1, 1025)) + (1900, 5000, 11000),
    dns=True, open=(7, 520, 1000, 1900, 5000, 11000), drop=(81, 161, 444, 600),
    admin=(82, 123, 700), host=(83, 137, 800),
)

# the kernel's default ICMP limit on: about 40 closed ports cost about a second each
UDP_RATE_LIMITED = UdpLayout(
    ports=(7, 53, 81, 82, 83, 84, 1900) + tuple(range(100, 140)),
    dns=True, open=(7, 1900), drop=(81, 82), admin=(83,), host=(84,),
)


# Dual stack: scanned over IPv4 and IPv6 alike, every reply kind of both families present
# (port-unreachable rejects too). Small enough to record as pcaps.
SYN_DUAL = SynLayout(
    ports=range(1, 301),
    open=(22, 80, 111, 199, 280),
    drop=(23, 135, 150),
    admin=(25, 139),
    host=(53, 161),
    port=(70, 222),
)

UDP_DUAL = UdpLayout(
    ports=tuple(range(1, 201)) + (1900, 5000),
    dns=True, open=(7, 123, 1900, 5000), drop=(81, 161), admin=(82, 137), host=(83, 138),
    port=(84, 139),
)


@dataclass(frozen=True)
class FirewallLayout:
    """ACK/FIN/NULL/Xmas scans (nmap -sA/-sF/-sN/-sX): listeners, a stateful firewall on some
    ports (open and closed ones: an unsolicited ACK, FIN, NULL or Xmas segment is dropped
    there), plain drops and rejects. expected(scan, family) is port -> (state, reason)."""

    ports: range
    open: tuple[int, ...]
    stateful: tuple[int, ...]  # may overlap open: the firewall hides either
    drop: tuple[int, ...]
    admin: tuple[int, ...]
    port: tuple[int, ...]

    def spec(self, **extra: object) -> LabSpec:
        return LabSpec(open_tcp=self.open, drop_tcp=self.drop, reject_admin_tcp=self.admin,
                       reject_port_tcp=self.port, stateful_tcp=self.stateful,
                       **extra)  # type: ignore[arg-type]

    def expected(self, scan: str, family: int = 4) -> dict[int, tuple[str, str]]:
        why = _reasons(family)
        silent = ("filtered" if scan == "ack" else "open|filtered", "no-response")
        rst = ("unfiltered" if scan == "ack" else "closed", "reset")
        table = {p: rst for p in self.ports}
        if scan != "ack":  # a listener ignores a segment without SYN or ACK (RFC 793 LISTEN)
            table.update({p: silent for p in self.open})
        table.update({p: silent for p in (*self.stateful, *self.drop)})
        table.update({p: ("filtered", why["admin"]) for p in self.admin})
        table.update({p: ("filtered", why["port"]) for p in self.port})
        return table


FIREWALL = FirewallLayout(
    ports=range(1, 301),
    open=(22, 80, 111, 199, 280),
    stateful=(80, 111, 135, 136, 137) + tuple(range(250, 261)),
    drop=(23, 150),
    admin=(25, 139),
    port=(70,),
)

"""Testing code built on rawscan: a simulated network and exposure assertions.

    from rawscan.testing import SimulatedNetwork, expect_exposure

    net = SimulatedNetwork(hosts={"198.18.0.2": {"tcp": {22: "open", 443: "open"},
                                                 "other": "closed"}}, loss=0.05)
    result = net.scan("syn", "198.18.0.2", ports="1-1024")     # no root, no network
    expect_exposure(result, {"198.18.0.2": {"tcp": {22: "open", 443: "open"},
                                            "other": "closed"}})

SimulatedNetwork is a transport for the scan engine (the one a live scan uses, with the
live sockets replaced): each probe is handed to `handler(probe)`, which returns the replies
(bytes from the IP header on, or Reply with a delay), and the engine reads them in virtual
time, so a scan of thousands of ports with timeouts and retries takes milliseconds. hosts=
gives ready hosts whose ports are open, closed, dropped (silence) or rejected (ICMP
administratively prohibited); loss= drops that share of replies at random; icmp_rate_limit=
limits ICMP errors per destination as Linux does (a token bucket, `icmp_burst` deep).

expect_exposure(result, expected) raises AssertionError listing the ports that differ as
`rawscan diff EXPECTED RESULT` prints them. In `expected`, each host maps protocols to
{port: state}, and "other" is the state of every scanned port not named (per host, or per
protocol); a state may also be "not open" (anything but open and open|filtered).
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from typing import Unpack

    from .api.public import LiveOptions
    from .api.result import Change, ScanResult
    from .transports.base import Clock, Counters, Probes, Received

__all__ = ["Probe", "Reply", "SimulatedNetwork", "IcmpRateLimit", "host_handler", "answer", "syn_ack",
           "reset", "udp_reply", "icmp_error", "Exposure", "expect_exposure",
           "exposure_differences", "PORT_STATES"]

PORT_STATES = ("open", "closed", "dropped", "rejected")
NOT_OPEN = "not open"
# {ip: {proto: {port: state}, "other": state}, "other": state}: checked when used
ExposureSpec = Mapping[str, object]


@dataclass(frozen=True)
class Probe:
    """One packet the scan sent, as a handler sees it."""

    packet: bytes  # from the IP header on
    version: int  # 4 or 6
    src: str
    dst: str
    proto: str  # "tcp", "udp" (or another protocol's name: "icmp", "proto-N")
    sport: int
    dport: int
    ttl: int
    seq: int  # TCP sequence number (0 for UDP)
    payload: bytes  # UDP data (b"" for TCP)
    time: float  # seconds since the network was made, in its virtual time
    ack: int = 0  # TCP acknowledgement number
    flags: int = 0  # TCP flags (SYN 0x02, ACK 0x10, FIN 0x01 ...)


@dataclass(frozen=True)
class Reply:
    packet: bytes  # from the IP header on
    delay: float | None = None  # seconds after the probe; None: the network's rtt


Handler = Callable[[Probe], Union[Iterable[Union[Reply, bytes]], None]]


def parse_probe(packet: bytes, when: float = 0.0) -> Probe:
    """The fields of an IPv4 or IPv6 probe (no extension headers: rawscan sends none)."""
    from .addresses import addr_from_bytes, addr_to_str

    version = packet[0] >> 4
    if version == 6:
        proto_no, ttl = packet[6], packet[7]
        src = addr_to_str(addr_from_bytes(packet[8:24]))
        dst = addr_to_str(addr_from_bytes(packet[24:40]))
        body = packet[40:]
    else:
        header = (packet[0] & 0x0F) * 4
        proto_no, ttl = packet[9], packet[8]
        src = addr_to_str(addr_from_bytes(packet[12:16]))
        dst = addr_to_str(addr_from_bytes(packet[16:20]))
        body = packet[header:]
    proto = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmp"}.get(proto_no, f"proto-{proto_no}")
    sport = dport = seq = ack = flags = 0
    payload = b""
    if proto in ("tcp", "udp") and len(body) >= 8:
        sport, dport = struct.unpack_from("!HH", body)
        if proto == "tcp" and len(body) >= 14:
            seq, ack = struct.unpack_from("!II", body, 4)
            flags = body[13]
        if proto == "udp":
            payload = body[8:]
    return Probe(packet, version, src, dst, proto, sport, dport, ttl, seq, payload, when, ack,
                 flags)


def _back(probe: Probe, ttl: int) -> object:
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6

    if probe.version == 6:
        return IPv6(src=probe.dst, dst=probe.src, hlim=ttl)
    return IP(src=probe.dst, dst=probe.src, ttl=ttl)


def syn_ack(probe: Probe, ttl: int = 64) -> bytes:
    """An open TCP port's answer to a SYN."""
    from scapy.layers.inet import TCP

    return bytes(_back(probe, ttl) / TCP(sport=probe.dport, dport=probe.sport, flags="SA",
                                          seq=1000, ack=(probe.seq + 1) & 0xFFFFFFFF))


def reset(probe: Probe, ttl: int = 64) -> bytes:
    """Linux's RST to a probe no connection takes (RFC 793): to a segment with ACK, a RST
    whose sequence number is that acknowledgement; else a RST+ACK of the probe's sequence
    space (SYN and FIN count one)."""
    from scapy.layers.inet import TCP

    if probe.flags & 0x10:
        return bytes(_back(probe, ttl) / TCP(sport=probe.dport, dport=probe.sport, flags="R",
                                              seq=probe.ack))
    length = (probe.flags & 0x02 != 0) + (probe.flags & 0x01 != 0)
    return bytes(_back(probe, ttl) / TCP(sport=probe.dport, dport=probe.sport, flags="RA",
                                          seq=0, ack=(probe.seq + length) & 0xFFFFFFFF))


def udp_reply(probe: Probe, data: bytes = b"hello", ttl: int = 64) -> bytes:
    """An open UDP port's answer (any datagram back from the port proves it open)."""
    from scapy.layers.inet import UDP

    return bytes(_back(probe, ttl) / UDP(sport=probe.dport, dport=probe.sport) / data)


ICMP_CODES = {  # kind -> (ICMP type, code), (ICMPv6 type, code)
    "port-unreach": ((3, 3), (1, 4)),
    "admin-prohibited": ((3, 13), (1, 1)),
    "host-unreach": ((3, 1), (1, 3)),
    "net-unreach": ((3, 0), (1, 0)),
    "host-prohibited": ((3, 10), (1, 1)),
    "time-exceeded": ((11, 0), (3, 0)),
}


def icmp_error(probe: Probe, kind: str = "admin-prohibited", ttl: int = 64,
               router: str | None = None) -> bytes:
    """An ICMP (ICMPv6) error quoting the probe, from the target or from `router`."""
    from scapy.layers.inet import ICMP, IP
    from scapy.layers.inet6 import IPv6, _ICMPv6

    (v4_type, v4_code), (v6_type, v6_code) = ICMP_CODES[kind]
    if probe.version == 6:
        head = IPv6(src=router or probe.dst, dst=probe.src, hlim=ttl)
        error = _ICMPv6(type=v6_type, code=v6_code)
        return bytes(head / error / b"\0\0\0\0" / probe.packet[:1232])
    head4 = IP(src=router or probe.dst, dst=probe.src, ttl=ttl)
    return bytes(head4 / ICMP(type=v4_type, code=v4_code) / probe.packet[:28])


def answer(probe: Probe, state: str) -> list[bytes]:
    """What a port in `state` (open, closed, dropped, rejected) answers to a probe, as Linux
    does: SYN -> SYN+ACK or RST; ACK -> RST; FIN, NULL, Xmas -> RST if closed."""
    if state not in PORT_STATES:
        raise ValueError(f"port state '{state}' is none of {', '.join(PORT_STATES)}")
    if state == "dropped" or probe.proto not in ("tcp", "udp"):
        return []
    if state == "rejected":
        return [icmp_error(probe, "admin-prohibited")]
    if probe.proto == "tcp":
        if probe.flags & 0x02:  # SYN: the handshake's answer
            return [syn_ack(probe) if state == "open" else reset(probe)]
        if probe.flags & 0x10 or state == "closed":  # ACK (any port), FIN/NULL/Xmas (closed)
            return [reset(probe)]
        return []  # FIN, NULL, Xmas to an open port: silence
    return [udp_reply(probe) if state == "open" else icmp_error(probe, "port-unreach")]


def host_handler(hosts: ExposureSpec) -> Handler:
    """A handler for ready hosts: {"198.18.0.2": {"tcp": {22: "open"}, "udp": {53: "open"},
    "other": "closed"}}; "other" (per host or per protocol, default "closed") is every
    port not named. Addresses not named never answer."""
    from .compare import canonical_ip

    table: dict[str, Mapping[str, object]] = {}
    for ip, spec in hosts.items():
        if not isinstance(spec, Mapping):
            raise ValueError(f"host {ip}: give {{'tcp': {{port: state}}, 'other': state}}")
        table[canonical_ip(ip)] = spec
        for state in _states_named(spec):
            if state not in PORT_STATES:
                raise ValueError(f"host {ip}: port state '{state}' is none of "
                                 f"{', '.join(PORT_STATES)}")

    def handle(probe: Probe) -> list[bytes]:
        spec = table.get(probe.dst)
        if spec is None:
            return []
        ports = spec.get(probe.proto)
        state = spec.get("other", "closed")
        if isinstance(ports, Mapping):
            state = ports.get(probe.dport, ports.get("other", state))
        return answer(probe, str(state))

    return handle


def _states_named(spec: Mapping[str, object]) -> list[str]:
    found = [str(spec["other"])] if "other" in spec else []
    for proto, ports in spec.items():
        if isinstance(ports, Mapping):
            found += [str(v) for v in ports.values()]
    return found


class IcmpRateLimit:
    """Linux's per-destination ICMP error limit: `per_second` tokens a second, at most
    `burst` saved (icmp_ratelimit / icmp_msgs_burst)."""

    def __init__(self, per_second: float = 1.0, burst: int = 6) -> None:
        self.per_second, self.burst = per_second, burst
        self.tokens: dict[str, float] = {}
        self.last: dict[str, float] = {}

    def allow(self, destination: str, now: float) -> bool:
        tokens = min(self.burst, self.tokens.get(destination, float(self.burst))
                     + (now - self.last.get(destination, now)) * self.per_second)
        self.last[destination] = now
        allowed = tokens >= 1
        self.tokens[destination] = tokens - 1 if allowed else tokens
        return allowed


def _is_icmp_error(packet: bytes) -> bool:
    if packet[0] >> 4 == 6:
        return packet[6] == 58 and len(packet) > 40 and packet[40] < 128
    return packet[9] == 1 and packet[(packet[0] & 0x0F) * 4] in (3, 11, 12)


class SimulatedNetwork:
    """A transport answering each probe through `handler` (or ready `hosts`), in virtual
    time. sent: every probe, in order; scan(...): run rawscan's engine over it."""

    def __init__(self, handler: Handler | None = None, *, hosts: ExposureSpec | None = None,
                 rtt: float = 0.01, loss: float = 0.0, icmp_rate_limit: float | None = None,
                 icmp_burst: int = 6, seed: int = 1) -> None:
        from .transports.replay import VirtualClock

        if (handler is None) == (hosts is None):
            raise ValueError("give a handler or hosts=, one of them")
        if not 0.0 <= loss <= 1.0:
            raise ValueError("loss is a share of replies, 0.0 to 1.0")
        self.handler: Handler = handler if handler is not None else host_handler(hosts or {})
        self.rtt, self.loss = rtt, loss
        self._clock = VirtualClock(1_700_000_000.0)
        self._random = random.Random(seed)
        self._icmp = IcmpRateLimit(icmp_rate_limit, icmp_burst) if icmp_rate_limit else None
        self._pending: list[tuple[float, int, bytes]] = []
        self._order = 0
        self.sent: list[Probe] = []
        self.lost = 0  # replies dropped by loss=
        self.limited = 0  # ICMP errors the rate limit suppressed
        self.closed = False

    # --- the Transport protocol (rawscan/transports/base.py) ---

    @property
    def clock(self) -> Clock:
        return self._clock

    def send(self, packet: bytes) -> None:
        now = self._clock.now()
        probe = parse_probe(bytes(packet), now)
        self.sent.append(probe)
        for reply in self.handler(probe) or ():
            data, delay = (reply.packet, reply.delay) if isinstance(reply, Reply) else (reply, None)
            if self._icmp is not None and _is_icmp_error(data) \
                    and not self._icmp.allow(probe.src, now):
                self.limited += 1
                continue
            if self.loss and self._random.random() < self.loss:
                self.lost += 1
                continue
            self._order += 1
            self._pending.append((now + (self.rtt if delay is None else delay), self._order,
                                  bytes(data)))

    def send_batch(self, packets: Probes) -> None:
        from .transports.base import probe_list

        for packet in probe_list(packets):
            self.send(packet)

    def drain(self) -> None:
        pass

    def receive(self, deadline: float) -> list[Received]:
        import heapq

        from .transports.base import Received

        if not self._pending:
            self._clock.advance_to(deadline)
            return []
        heapq.heapify(self._pending)
        if self._pending[0][0] > deadline:
            self._clock.advance_to(deadline)
            return []
        at, _order, packet = heapq.heappop(self._pending)
        self._clock.advance_to(at)
        return [Received(packet, self._clock.wall())]

    def counters(self) -> Counters:
        from .transports.base import Counters

        return Counters()

    def close(self) -> None:
        self.closed = True

    def sibling(self) -> SimulatedNetwork:
        """Another transport onto the same hosts (handler, rtt, loss, ICMP rate limit): what
        scan(..., discover=True) runs host discovery over, in a thread of its own beside the
        port scan (so a handler with state must take calls from two threads). Named hosts
        answer the TCP pings (SYN 443, ACK 80) as their ports would; hosts not named are
        down."""
        limit = self._icmp
        twin = SimulatedNetwork(self.handler, rtt=self.rtt, loss=self.loss,
                                icmp_rate_limit=limit.per_second if limit else None,
                                icmp_burst=limit.burst if limit else 6,
                                seed=self._random.randrange(1 << 30))
        return twin

    # --- running a scan over it ---

    def scan(self, kind: str, targets: str | Sequence[str],
             ports: str | Iterable[int] | None = None,
             **options: Unpack[LiveOptions]) -> ScanResult:
        """Run a rawscan port scan ("syn", "udp", "ack", "fin", "null", "xmas") over this
        network, with rawscan.syn's options; pcap= records it for rawscan.replay; discover=True
        runs host discovery over sibling() beside it. Sources default to 198.18.0.1 and
        2001:2::1. No root, nothing leaves the machine."""
        from .api.public import PORT_SCANS, scan_over
        from .errors import RawscanError

        if kind not in PORT_SCANS:
            raise RawscanError(f"'{kind}' is not a port scan rawscan runs ({', '.join(PORT_SCANS)})")
        wanted = [targets] if isinstance(targets, str) else list(targets)
        if "source" not in options:
            v6 = any(":" in t for t in wanted)
            options["source"] = "198.18.0.1" + (",2001:2::1" if v6 else "")
        return scan_over(self, kind, wanted, ports, options)


# --- exposure ---

class Exposure:
    """What a result should show: {ip: {proto: {port: state}, "other": state}}. Compare a
    ScanResult with it (`assert result == Exposure(...)`: the pytest plugin explains a
    mismatch) or call expect_exposure."""

    def __init__(self, expected: ExposureSpec) -> None:
        self.expected = expected

    def __eq__(self, other: object) -> bool:
        from .api.result import ScanResult

        if not isinstance(other, ScanResult):
            return NotImplemented
        return not exposure_differences(other, self.expected)

    def __repr__(self) -> str:
        return f"Exposure({dict(self.expected)!r})"

    def explain(self, result: ScanResult) -> list[str]:
        return difference_lines(exposure_differences(result, self.expected))


def exposure_differences(result: ScanResult, expected: ExposureSpec) -> list[Change]:
    """The ports where result differs from expected (old: the expected state, new: the
    result's), as rawscan diff compares them."""
    from .api.result import Change
    from .compare import canonical_ip
    from .compare.changes import Change as Differs

    changes: list[Change] = []
    other_hosts = expected.get("other")
    named: dict[str, Mapping[object, object]] = {}
    for ip, spec in expected.items():
        if ip == "other":
            continue
        if not isinstance(spec, Mapping):
            raise ValueError(f"host {ip}: give {{'tcp': {{port: state}}, 'other': state}}")
        named[canonical_ip(ip)] = spec

    def differ(ip: str, proto: str, port: int, want: object, got: str | None,
               host: str | None) -> None:
        wanted = str(want)
        if wanted == NOT_OPEN and got is not None and got not in ("open", "open|filtered"):
            return
        if got != wanted:
            kind = Differs(ip, proto, port, wanted, got).kind
            changes.append(Change(ip, proto, port, wanted, got, kind, host))

    for ip, spec in named.items():
        for proto, ports in spec.items():
            if isinstance(ports, Mapping):
                for port, want in ports.items():
                    if port != "other":
                        number = int(str(port))
                        differ(ip, str(proto), number, want,
                               result.state(ip, str(proto), number), None)
    for p in result.ports:
        host_spec = named.get(p.ip)
        if host_spec is None:
            if other_hosts is not None:
                differ(p.ip, p.proto, p.port, other_hosts, p.state, p.host)
            continue
        ports = host_spec.get(p.proto)
        if isinstance(ports, Mapping) and (p.port in ports or str(p.port) in ports):
            continue
        want = ports.get("other") if isinstance(ports, Mapping) else None
        want = want if want is not None else host_spec.get("other")
        if want is not None:
            differ(p.ip, p.proto, p.port, want, p.state, p.host)
    from .addresses import address_order

    changes.sort(key=lambda c: (address_order(c.ip), c.proto, c.port))
    return changes


def difference_lines(changes: Sequence[Change]) -> list[str]:
    """The lines `rawscan diff` prints for these changes (then its count line)."""
    from .compare.report import change_lines

    return change_lines(changes)


def expect_exposure(result: ScanResult, expected: ExposureSpec) -> None:
    """Raise AssertionError, listing the ports that differ (`rawscan diff` lines: expected
    state -> the result's), unless result shows exactly the expected exposure."""
    __tracebackhide__ = True  # pytest: the failure is the caller's line
    changes = exposure_differences(result, expected)
    if changes:
        raise AssertionError("\n".join([f"{result.source}: exposure differs from the expected"]
                                       + difference_lines(changes)))

"""A simulated network for engine tests: a target host whose ports behave as told, in virtual time."""

from __future__ import annotations

import random
from collections.abc import Callable

from scapy.layers.inet import ICMP, IP, TCP

from rawscan.testing import IcmpRateLimit  # noqa: F401  (the tests' and the library's bucket)
from rawscan.transports.base import Received, SendsOneByOne
from rawscan.transports.replay import VirtualClock

Behaviour = Callable[[IP], list[bytes]]


def syn_behaviour(kind: str) -> Behaviour:
    """How one port answers a SYN: open, closed, drop, admin (ICMP 3/13), host (ICMP 3/10)."""

    def answer(probe: IP) -> list[bytes]:
        tcp = probe[TCP]
        back = IP(src=probe.dst, dst=probe.src, ttl=64)
        if kind == "open":
            return [bytes(back / TCP(sport=tcp.dport, dport=tcp.sport, flags="SA", seq=1000, ack=tcp.seq + 1))]
        if kind == "closed":
            return [bytes(back / TCP(sport=tcp.dport, dport=tcp.sport, flags="RA", seq=0, ack=tcp.seq + 1))]
        if kind in ("admin", "host"):
            code = 13 if kind == "admin" else 10
            return [bytes(back / ICMP(type=3, code=code) / bytes(probe)[:28])]
        return []

    return answer


class SimulatedNetwork(SendsOneByOne):
    """Answers each probe after `rtt` seconds, losing replies with probability `loss`."""

    def __init__(self, ports: dict[int, str], rtt: float = 0.01, loss: float = 0.0, seed: int = 1,
                 interrupt_after: int | None = None) -> None:
        self.clock = VirtualClock(1_700_000_000.0)
        self.ports, self.rtt, self.loss = ports, rtt, loss
        self.random = random.Random(seed)
        self.sent: list[bytes] = []
        self.pending: list[tuple[float, bytes]] = []
        self.interrupt_after = interrupt_after
        self.closed = False

    def inject(self, at: float, packet: bytes) -> None:
        self.pending.append((at, packet))

    def send(self, packet: bytes) -> None:
        if self.interrupt_after is not None and len(self.sent) >= self.interrupt_after:
            raise KeyboardInterrupt
        self.sent.append(packet)
        probe = IP(packet)
        for reply in syn_behaviour(self.ports.get(probe[TCP].dport, "closed"))(probe):
            if self.random.random() >= self.loss:
                self.pending.append((self.clock.now() + self.rtt, reply))

    def receive(self, deadline: float) -> list[Received]:
        self.pending.sort(key=lambda item: item[0])
        if not self.pending or self.pending[0][0] > deadline:
            self.clock.advance_to(deadline)
            return []
        at, packet = self.pending.pop(0)
        self.clock.advance_to(at)
        return [Received(packet, self.clock.wall())]

    def close(self) -> None:
        self.closed = True


class SimulatedUdpHost(SimulatedNetwork):
    """UDP ports: 'open' echoes, 'drop' is silent, 'admin' rejects, others closed (ICMP 3/3),
    with the ICMP errors going through an optional rate limit."""

    def __init__(self, ports: dict[int, str], ratelimit: IcmpRateLimit | None = None, **kw) -> None:  # type: ignore[no-untyped-def]
        super().__init__(ports, **kw)
        self.ratelimit = ratelimit

    def send(self, packet: bytes) -> None:
        from scapy.layers.inet import UDP

        if self.interrupt_after is not None and len(self.sent) >= self.interrupt_after:
            raise KeyboardInterrupt
        self.sent.append(packet)
        probe = IP(packet)
        kind = self.ports.get(probe[UDP].dport, "closed")
        back = IP(src=probe.dst, dst=probe.src, ttl=64)
        if kind == "drop":
            return
        if kind == "open":
            reply = bytes(back / UDP(sport=probe[UDP].dport, dport=probe[UDP].sport) / b"hi")
        else:
            if self.ratelimit and not self.ratelimit.allow(probe.src, self.clock.now()):
                return
            code = 13 if kind == "admin" else 3
            reply = bytes(back / ICMP(type=3, code=code) / packet[:28])
        if self.random.random() >= self.loss:
            self.pending.append((self.clock.now() + self.rtt, reply))

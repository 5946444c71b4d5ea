"""The engine tests' simulated target: rawscan.testing.SimulatedNetwork (the public one, in
virtual time) with one host whose ports answer by kind, and what tests need beside it: replies
injected at a time, a Ctrl-C after N probes, the probes as bytes."""

from __future__ import annotations

from collections.abc import Callable

from rawscan.testing import IcmpRateLimit, Probe, answer, icmp_error
from rawscan.testing import SimulatedNetwork as PublicNetwork

__all__ = ["IcmpRateLimit", "SimulatedNetwork", "SimulatedUdpHost", "port_answer"]

# the tests' port kinds -> rawscan.testing's states ("host": ICMP 3/10, host prohibited)
STATES = {"open": "open", "closed": "closed", "drop": "dropped", "admin": "rejected"}


def port_answer(kind: str, probe: Probe) -> list[bytes]:
    """What a port of this kind (open, closed, drop, admin, host) answers to a probe."""
    if kind == "host":
        return [icmp_error(probe, "host-prohibited")]
    return answer(probe, STATES[kind])


class SimulatedNetwork(PublicNetwork):
    """One host: ports {port: kind} (others closed), replies after `rtt`, each lost with
    probability `loss`; interrupt_after: Ctrl-C (KeyboardInterrupt) at that many probes.
    handler: answers in place of the ports' (it sees every probe; tests with a target of
    their own)."""

    def __init__(self, ports: dict[int, str], rtt: float = 0.01, loss: float = 0.0, seed: int = 1,
                 interrupt_after: int | None = None, ratelimit: IcmpRateLimit | None = None,
                 handler: Callable[[Probe], list[bytes]] | None = None) -> None:
        self.ports = ports
        super().__init__(handler or self._answer, rtt=rtt, loss=loss, seed=seed)
        self.interrupt_after = interrupt_after
        self._icmp = ratelimit  # None: every ICMP error is sent (the lab lifts the limit)

    def _answer(self, probe: Probe) -> list[bytes]:
        return port_answer(self.ports.get(probe.dport, "closed"), probe)

    @property
    def packets(self) -> list[bytes]:
        """Every probe sent, as bytes from the IP header on."""
        return [probe.packet for probe in self.sent]

    def inject(self, at: float, packet: bytes) -> None:
        """A packet that arrives at `at` (virtual time), whatever was sent."""
        self._order += 1
        self._pending.append((at, self._order, packet))

    def send(self, packet: bytes) -> None:
        if self.interrupt_after is not None and len(self.sent) >= self.interrupt_after:
            raise KeyboardInterrupt
        super().send(packet)


class SimulatedUdpHost(SimulatedNetwork):
    """UDP ports: 'open' answers, 'drop' is silent, 'admin' rejects, others closed (ICMP 3/3),
    the ICMP errors through `ratelimit` when given."""

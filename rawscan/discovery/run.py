"""Run a discovery plan (plan.scan == "ping") over a transport: the engine probes (host,
probe kind) endpoints, and each host's first checked answer decides it."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from ..addresses import V6, addr_to_str
from ..cookies import derive_key
from ..engine import Engine, ScanOptions, ScanStats
from ..plan import ScanPlan
from ..probes.base import ProbeModule
from ..results import Verdict
from ..transports.base import Transport
from .hosts import HostCollector, HostResult

HostCallback = Callable[[HostResult], None]


@dataclass
class DiscoveryOutcome:
    plan: ScanPlan
    stats: ScanStats = field(default_factory=ScanStats)
    up: int = 0
    down: int = 0
    down_reasons: dict[str, int] = field(default_factory=dict)
    decided: bytes = b""
    results: list[HostResult] | None = None  # only when asked (--baseline)

    def count(self, result: HostResult) -> None:
        """A host decided: counted up, or down by its reason (and kept, when asked)."""
        if result.up:
            self.up += 1
        else:
            self.down += 1
            self.down_reasons[result.reason] = self.down_reasons.get(result.reason, 0) + 1
        if self.results is not None:
            self.results.append(result)


def done_bits(plan: ScanPlan, done: bytes | None) -> bytearray:
    """The engine's decided bits to start from: a resumed scan's, or none."""
    return bytearray(done) if done is not None else bytearray((len(plan.targets) * len(plan.ports) + 7) // 8)


def host_done(bits: bytearray, host: int, nports: int) -> bool:
    """Are all of a host's endpoints (one a probe kind) decided?"""
    return all(bits[i >> 3] >> (i & 7) & 1 for i in range(host * nports, (host + 1) * nports))


def mark_host(bits: bytearray, host: int, nports: int) -> None:
    """Decide all of a host's endpoints: the engine sends it nothing."""
    for i in range(host * nports, (host + 1) * nports):
        bits[i >> 3] |= 1 << (i & 7)


def never_sent(plan: ScanPlan, probe: ProbeModule, done: bytes | None) -> bytes:
    """Endpoints decided before the scan: a resumed scan's, and the probes that do not apply
    to a host (an IPv6 host gets no timestamp request)."""
    nports = len(plan.ports)
    bits = done_bits(plan, done)
    skip = [i for i in range(nports) if not probe.applies(V6, i)]
    first = plan.targets.first_of(socket.AF_INET6)
    if skip and first is not None:
        first_v6 = plan.targets.index(first)
        if first_v6 is not None:
            for host in range(first_v6, len(plan.targets)):
                for i in skip:
                    index = host * nports + i
                    bits[index >> 3] |= 1 << (index & 7)
    return bytes(bits)


def run_discovery(
    plan: ScanPlan, probe: ProbeModule, transport: Transport, on_host: HostCallback,
    on_progress: Callable[[ScanStats], None] | None = None,
    stop_requested: Callable[[], bool] | None = None, done: bytes | None = None,
    keep_results: bool = False, vector: bool | None = None,
) -> DiscoveryOutcome:
    """Up hosts reach on_host at their first checked answer; down hosts once the scan is over
    (an interrupted scan reports no host down: it was not given every chance)."""
    from ..probes.ping import PingProbe

    if not isinstance(probe, PingProbe):
        raise TypeError("host discovery runs a PingProbe")
    outcome = DiscoveryOutcome(plan, results=[] if keep_results else None)
    names = plan.targets.names
    rtts = probe.rtts  # each up host's round-trip time, from its first checked answer
    probe.now = transport.clock.now

    def emit(target: int, verdict: Verdict) -> None:
        result = HostResult(addr_to_str(target), verdict.state, verdict.reason, verdict.ttl,
                            rtts.pop(target, None) if verdict.state == "up" else None,
                            None, names.get(target) if names else None)
        outcome.count(result)
        on_host(result)

    collector = HostCollector(emit)
    from ..scan import hot_path_choice

    engine = Engine(
        probe=probe, targets=plan.targets, ports=plan.ports, transport=transport,
        options=ScanOptions(rate=plan.rate, retries=plan.retries, timeout=plan.timeout,
                            sources=len(plan.sources), max_rate=plan.max_rate,
                            vector=hot_path_choice() if vector is None else vector),
        order_key=derive_key(plan.seed, "order"),
        on_result=lambda target, _kind, verdict: collector.add(target, verdict),
        on_progress=on_progress, done=never_sent(plan, probe, done),
        stop_requested=stop_requested,
    )
    try:
        outcome.stats = engine.run()
    finally:
        transport.close()
        outcome.decided = engine.decided
    if not outcome.stats.interrupted:
        for target, verdict in collector.rest():
            emit(target, verdict)
    return outcome

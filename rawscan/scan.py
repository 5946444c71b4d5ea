"""Run a ScanPlan over a transport and hand each port's result to the writers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .cookies import Cookie, derive_key
from .engine import Engine, ScanOptions, ScanStats
from .output import ResultWriter
from .plan import ScanPlan
from .probes.base import ProbeModule
from .probes.tcp_syn import SynProbe
from .probes.udp import UdpProbe
from .results import PortResult, Verdict
from .services import service_name
from .targets import int_to_ip
from .transports.base import Transport

SYN_SOURCE_PORTS = 16  # retransmission k uses source_port + k % 16


def _udp_probe(plan: ScanPlan, cookie: Cookie) -> ProbeModule:
    from .payloads import payload_for, user_payload

    if plan.payload_hex is not None:
        fixed = user_payload(bytes.fromhex(plan.payload_hex))
        return UdpProbe(plan.sources, cookie, lambda _port: fixed, plan.ttl)
    return UdpProbe(plan.sources, cookie, payload_for, plan.ttl)


PROBE_MODULES: dict[str, Callable[[ScanPlan, Cookie], ProbeModule]] = {
    "syn": lambda plan, cookie: SynProbe(plan.sources, plan.source_port, cookie, plan.ttl,
                                         1 if plan.fixed_source_port else SYN_SOURCE_PORTS),
    "udp": _udp_probe,
}


def probe_for(plan: ScanPlan) -> ProbeModule:
    return PROBE_MODULES[plan.scan](plan, Cookie(derive_key(plan.seed, "cookie")))


@dataclass
class ScanOutcome:
    plan: ScanPlan
    stats: ScanStats
    results: list[PortResult] = field(default_factory=list)


def run_scan(
    plan: ScanPlan,
    probe: ProbeModule,
    transport: Transport,
    writers: Sequence[ResultWriter] = (),
    on_progress: Callable[[ScanStats], None] | None = None,
) -> ScanOutcome:
    outcome = ScanOutcome(plan, ScanStats())
    names = plan.targets.names

    def deliver(target: int, port: int, verdict: Verdict) -> None:
        result = PortResult(
            ip=int_to_ip(target), proto=probe.proto, port=port, state=verdict.state,
            reason=verdict.reason, ttl=verdict.ttl, service=service_name(port, probe.proto),
            host=names.get(target),
        )
        outcome.results.append(result)
        for writer in writers:
            writer.write(result)

    engine = Engine(
        probe=probe, targets=plan.targets, ports=plan.ports, transport=transport,
        options=ScanOptions(rate=plan.rate, retries=plan.retries, timeout=plan.timeout,
                            sources=len(plan.sources),
                            defeat_icmp_ratelimit=plan.defeat_icmp_ratelimit),
        order_key=derive_key(plan.seed, "order"), on_result=deliver, on_progress=on_progress,
    )
    try:
        outcome.stats = engine.run()
    finally:
        transport.close()
    return outcome

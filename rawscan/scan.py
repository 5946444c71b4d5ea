"""Run a ScanPlan over a transport and hand each port's result to the writers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .addresses import addr_to_str
from .cookies import Cookie, derive_key
from .engine import Engine, ScanOptions, ScanStats
from .output import ResultWriter
from .output.tally import ReportTally
from .plan import ScanPlan
from .probes.base import ProbeModule
from .probes.tcp_syn import SynProbe
from .probes.udp import UdpProbe
from .results import PortResult, Verdict
from .services import service_name
from .shards import shard_map_for
from .transports.base import Transport

if TYPE_CHECKING:
    from .banners import BannerSettings
    from .banners.phase import BannerStats

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
    "ping": lambda plan, cookie: _ping_probe(plan, cookie),
}


def _ping_probe(plan: ScanPlan, cookie: Cookie) -> ProbeModule:
    from .probes.ping import DEFAULT_PROBES, PingProbe, parse_probes

    return PingProbe(plan.sources, plan.source_port, cookie,
                     parse_probes(plan.probes or DEFAULT_PROBES), plan.ttl,
                     1 if plan.fixed_source_port else SYN_SOURCE_PORTS)


def _flags_probe(kind: str) -> Callable[[ScanPlan, Cookie], ProbeModule]:
    def make(plan: ScanPlan, cookie: Cookie) -> ProbeModule:
        from .probes.tcp_flags import FLAG_SCANS, FlagsProbe

        return FlagsProbe(FLAG_SCANS[kind], plan.sources, plan.source_port, cookie, plan.ttl,
                          1 if plan.fixed_source_port else SYN_SOURCE_PORTS)
    return make


FLAG_SCAN_KINDS = ("ack", "fin", "null", "xmas")  # probes/tcp_flags.py
PROBE_MODULES.update({kind: _flags_probe(kind) for kind in FLAG_SCAN_KINDS})
BATCH_SCANS = ("syn", *FLAG_SCAN_KINDS, "ping")  # probe modules with a numpy batch path


HOT_PATH_ENV = "RAWSCAN_HOT_PATH"  # "items" or "numpy": tests and benchmarks pick one


def hot_path_choice() -> bool | None:
    """The numpy path forced on (True) or off (False) by RAWSCAN_HOT_PATH; None: by size."""
    import os

    return {"numpy": True, "items": False}.get(os.environ.get(HOT_PATH_ENV, ""))


def uses_batches(plan: ScanPlan) -> bool:
    """Will the engine take the numpy path for this plan (so the live transport should
    receive through a ring)?"""
    from .engine import VECTOR_MIN_ENDPOINTS

    choice = hot_path_choice()
    big = len(plan.targets) * len(plan.ports) >= VECTOR_MIN_ENDPOINTS
    return (plan.scan in BATCH_SCANS and (big if choice is None else choice)
            and plan.targets.ranges[-1][1] < 1 << 32 and all(s < 1 << 32 for s in plan.sources))


def probe_for(plan: ScanPlan) -> ProbeModule:
    cookie = Cookie(derive_key(plan.seed, "cookie"))
    if len(plan.targets.ranges) == 1:
        cookie.remember_range(*plan.targets.ranges[0])
    return PROBE_MODULES[plan.scan](plan, cookie)


def sampled(plan: ScanPlan) -> bytes:
    """--max-targets: the endpoints left out of the plan's keyed sample, as decided bits (of
    this shard's own endpoints, when sharded: the shards' samples make the plan's)."""
    from .limits import sample_bitmap

    endpoints = len(plan.targets) * len(plan.ports)
    bits = sample_bitmap(endpoints, min(plan.max_targets or endpoints, endpoints),
                         derive_key(plan.seed, "sample"))
    shard = shard_map_for(plan)
    if shard is None:
        return bits
    import numpy as np

    whole = np.frombuffer(bits, dtype=np.uint8)
    local = np.zeros(shard.size, dtype=np.uint8)
    for start in range(0, shard.size, 1 << 16):
        indexes = np.arange(start, min(start + (1 << 16), shard.size), dtype=np.int64)
        ends = shard.to_endpoints(indexes)
        local[start:start + len(indexes)] = (whole[ends >> 3] >> (ends & 7).astype(np.uint8)) & 1
    return np.packbits(local, bitorder="little").tobytes()


def hosts_scanned(plan: ScanPlan) -> int:
    """How many of the plan's hosts get a probe: all of them, or under --max-targets those
    with at least one endpoint in the keyed sample (what 'N IP address(es) scanned' and the
    XML's host total count, as nmap counts the hosts it scanned)."""
    hosts, nports = len(plan.targets), len(plan.ports)
    endpoints = hosts * nports
    if not plan.max_targets or plan.max_targets >= endpoints or not nports:
        return hosts
    import numpy as np

    from .limits import sample_bitmap

    left_out = np.frombuffer(sample_bitmap(endpoints, plan.max_targets,
                                           derive_key(plan.seed, "sample")), dtype=np.uint8)
    step = max(1, (1 << 24) // nports)  # hosts a chunk: at most ~16M endpoint bits unpacked
    scanned = 0
    for first in range(0, hosts, step):
        lo, hi = first * nports, min(hosts, first + step) * nports
        bits = np.unpackbits(left_out[lo >> 3:(hi + 7) >> 3], bitorder="little")
        skip = lo & 7
        rows = bits[skip:skip + hi - lo].reshape(-1, nports)
        scanned += int(np.count_nonzero(rows.min(axis=1) == 0))  # a 0 bit: in the sample
    return scanned


def sample_size(plan: ScanPlan) -> int | None:
    """--max-targets: how many of this plan's (this shard's) endpoints are in the sample."""
    if not plan.max_targets:
        return None
    shard = shard_map_for(plan)
    endpoints = shard.size if shard is not None else len(plan.targets) * len(plan.ports)
    return endpoints - int.from_bytes(sampled(plan), "little").bit_count()


@dataclass
class ScanOutcome:
    plan: ScanPlan
    stats: ScanStats
    tally: ReportTally = field(default_factory=ReportTally)  # what the human report needs
    results: list[PortResult] | None = None  # every result, only when asked (--baseline)
    decided: bytes = b""  # one bit per endpoint reported: what a resume file keeps
    banners: BannerStats | None = None  # --banners: what the banner phase did
    notes: list[str] = field(default_factory=list)  # lines the report puts before its summary


class PortReporter:
    """The engine's verdicts as PortResults: streamed to the writers and into a compact per-host
    tally (the full list only with keep_results, so memory follows the open ports, not the
    probes). banners: open TCP ports are handed to the banner thread as they are found and
    reach the writers once grabbed (rawscan/banners/phase.py). One reporter may take the
    verdicts of several engines in turn (--discover: one engine per wave of hosts found up)."""

    def __init__(self, outcome: ScanOutcome, probe: ProbeModule,
                 writers: Sequence[ResultWriter], banners: BannerSettings | None,
                 on_progress: Callable[[ScanStats], None] | None) -> None:
        self.outcome, self.probe, self._writers = outcome, probe, writers
        self._names = outcome.plan.targets.names
        self._proto = probe.proto
        self._last: tuple[int, str] = (-1, "")  # a port scan asks for one target's text again and again
        self._services: dict[int, str] = {}
        self._on_progress = on_progress
        self._flushing = [w.flush for w in writers if hasattr(w, "flush")]
        self._grabbing: Any = None
        self._replies: Any = None
        self._dns_identity: Any = None
        if banners is not None and probe.proto == "tcp":
            from .banners.phase import BannerPhase

            self._grabbing = BannerPhase(banners)
            outcome.banners = self._grabbing.stats
        elif banners is not None:
            from .banners.phase import BannerPhase
            from .banners.udp import ReplyKeeper

            # a ProbeModule by delegation: keeps the reply that opened a UDP port
            self.probe = self._replies = ReplyKeeper(probe)  # type: ignore[assignment]
            self._dns_identity = BannerPhase(banners, dns=True)  # open 53/udp: version.bind
            outcome.banners = self._dns_identity.stats
        self._phases = [p for p in (self._grabbing, self._dns_identity) if p is not None]

    def deliver(self, target: int, port: int, verdict: Verdict) -> None:
        """The engine's on_result."""
        if target != self._last[0]:
            self._last = (target, addr_to_str(target))
        service = self._services.get(port)
        if service is None:
            service = self._services[port] = service_name(port, self._proto)
        names = self._names
        result = PortResult(self._last[1], self._proto, port, verdict.state, verdict.reason,
                            verdict.ttl, service, names.get(target) if names else None)
        if result.state == "open":
            if self._grabbing is not None:
                self._grabbing.submit(result)  # reported once its banner is in
                return
            if self._replies is not None:  # UDP: the reply that opened the port says what it is
                from .banners.dns import DNS_PORT
                from .banners.udp import udp_facts

                result = udp_facts(result, self._replies.take(target, port))
                if port == DNS_PORT:
                    self._dns_identity.submit(result)  # and a DNS server says its version
                    return
        self.emit(result)

    def emit(self, result: PortResult) -> None:
        self.outcome.tally.add(result)
        if self.outcome.results is not None:
            self.outcome.results.append(result)
        for writer in self._writers:
            writer.write(result)

    def progress(self, stats: ScanStats) -> None:
        """The engine's on_progress: banners grabbed meanwhile reported, results on disk
        within a progress tick (not only at the end)."""
        for phase in self._phases:
            for result in phase.ready():
                self.emit(result)
        for flush in self._flushing:
            flush()
        if self._on_progress is not None:
            self._on_progress(stats)

    def finish(self, stop_requested: Callable[[], bool] | None, wait: bool) -> None:
        """Every port handed to a banner phase is reported, grabbed or not."""
        for phase in self._phases:
            phase.finish(self.emit, stop_requested, wait=wait)


def engine_for(plan: ScanPlan, reporter: PortReporter, transport: Transport, *,
               done: bytes | None = None, stop_requested: Callable[[], bool] | None = None,
               vector: bool | None = None,
               on_progress: Callable[[ScanStats], None] | None = None,
               sibling: Callable[[bytes], bool] | None = None) -> Engine:
    """The engine that scans plan's endpoints, its verdicts to reporter (on_progress: in place
    of the reporter's own, e.g. to add earlier waves' figures)."""
    engine = Engine(
        probe=reporter.probe, targets=plan.targets, ports=plan.ports, transport=transport,
        options=ScanOptions(rate=plan.rate, retries=plan.retries, timeout=plan.timeout,
                            sources=len(plan.sources),
                            defeat_icmp_ratelimit=plan.defeat_icmp_ratelimit,
                            max_rate=plan.max_rate,
                            vector=hot_path_choice() if vector is None else vector,
                            bandwidth=plan.bandwidth, sharing=max(1, plan.workers)),
        order_key=derive_key(plan.seed, "order"), on_result=reporter.deliver,
        on_progress=on_progress or reporter.progress,
        done=sampled(plan) if done is None and plan.max_targets else done,
        stop_requested=stop_requested, shard=shard_map_for(plan), sibling=sibling,
    )
    if plan.max_targets and done is None:  # the progress bar's total: the sample's endpoints
        engine.stats.probes -= engine.answered
    return engine


def run_scan(
    plan: ScanPlan,
    probe: ProbeModule,
    transport: Transport,
    writers: Sequence[ResultWriter] = (),
    on_progress: Callable[[ScanStats], None] | None = None,
    keep_results: bool = False,
    open_only: bool = False,
    done: bytes | None = None,
    stop_requested: Callable[[], bool] | None = None,
    vector: bool | None = None,
    banners: BannerSettings | None = None,
    on_verdict: Callable[[int, int, Verdict], None] | None = None,
) -> ScanOutcome:
    """Run the plan's scan, its results to the writers (PortReporter); the transport is
    closed however the scan ends. on_verdict: each endpoint's verdict goes there instead, as
    the engine gives it (no result, tally or writer here: a --workers worker, whose parent's
    PortReporter makes the results)."""
    if on_verdict is not None and banners is not None:
        raise ValueError("on_verdict leaves out the banner phase: give one or the other")
    outcome = ScanOutcome(plan, ScanStats(), ReportTally(open_only), [] if keep_results else None)
    reporter = PortReporter(outcome, probe, writers, banners, on_progress)
    engine = engine_for(plan, reporter, transport, done=done, stop_requested=stop_requested,
                        vector=vector)
    if on_verdict is not None:
        engine.on_result = on_verdict
    ran = False
    try:
        outcome.stats = engine.run()
        ran = True
    finally:
        transport.close()
        outcome.decided = engine.decided
        reporter.finish(stop_requested, wait=ran and not outcome.stats.interrupted)
    return outcome

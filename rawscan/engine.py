"""The scan engine: paces probes over a keyed permutation, validates replies, retries the silent.

It knows nothing of TCP or UDP (the probe module does) nor of sockets (the transport does).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .pacing import Pacer
from .permutation import Permutation
from .probes.base import ProbeModule
from .retry_policy import RetryPolicy, RoundReport, may_be_rate_limited
from .rtt import RttEstimator
from .results import Evidence, Verdict
from .targets import TargetSet
from .transports.base import Transport

POLL_EVERY = 64  # sends between non-blocking looks at the receive queue
RTT_SAMPLE_EVERY = 16  # time one first-round probe in this many (bounded memory, Karn-safe)
RTT_SAMPLES_MAX = 65536
PROGRESS_INTERVAL = 0.2  # seconds between progress callbacks


@dataclass(frozen=True)
class ScanOptions:
    rate: float = 5000.0  # probes per second, retransmissions included
    retries: int = 10  # at most this many retransmissions of a silent probe
    timeout: float = 1.0  # at most this long to wait for replies after a round's last probe
    sources: int = 1  # our source addresses: each has its own ICMP rate-limit budget
    defeat_icmp_ratelimit: bool = False


@dataclass
class ScanStats:
    probes: int = 0  # distinct endpoints
    sent: int = 0  # packets, retransmissions included
    retransmitted: int = 0
    received: int = 0  # packets that reached the engine
    matched: int = 0  # valid replies that decided a port
    duplicates: int = 0  # valid replies for a port already decided
    stray: int = 0  # failed validation: stray, late from another scan, or forged
    answered_on_retry: int = 0
    rounds: int = 0
    icmp_rate_limited: bool = False
    elapsed: float = 0.0
    interrupted: bool = False


@dataclass
class Endpoint:
    target: int
    port: int


ResultCallback = Callable[[int, int, Verdict], None]


@dataclass
class Engine:
    probe: ProbeModule
    targets: TargetSet
    ports: Sequence[int]
    transport: Transport
    options: ScanOptions
    order_key: bytes
    on_result: ResultCallback | None = None
    on_progress: Callable[[ScanStats], None] | None = None  # a few times a second at most
    verdicts: dict[int, Verdict] = field(default_factory=dict)
    stats: ScanStats = field(default_factory=ScanStats)

    def __post_init__(self) -> None:
        self._port_index = {port: i for i, port in enumerate(self.ports)}
        self._total = len(self.targets) * len(self.ports)
        self.stats.probes = self._total
        self._round = 0
        self._next_progress = 0.0
        self._icmp_answers = 0
        self._icmp_hosts: set[int] = set()
        self._rtt = RttEstimator()
        self._sent_at: dict[int, float] = {}  # a sample of first-round probes' send times
        self._icmp_limit_possible = False

    def endpoint(self, index: int) -> Endpoint:
        host, port = divmod(index, len(self.ports))
        return Endpoint(self.targets.address(host), self.ports[port])

    def run(self) -> ScanStats:
        clock = self.transport.clock
        started = clock.now()
        try:
            self._scan(clock.now())
        except KeyboardInterrupt:
            self.stats.interrupted = True
        finally:
            self.stats.elapsed = clock.now() - started
        self._report_rest()
        return self.stats

    def _scan(self, start: float) -> None:
        if self._total == 0:
            return
        order = Permutation(self._total, self.order_key)
        pacer = Pacer(self.options.rate, start)
        policy = RetryPolicy(self.options.retries, self.options.sources,
                             self.options.defeat_icmp_ratelimit)
        history: list[RoundReport] = []
        clock = self.transport.clock
        while not history or policy.another_round(history):
            self._round = len(history)
            answered_before, began = len(self.verdicts), clock.now()
            self._icmp_answers, self._icmp_hosts = 0, set()
            self.stats.rounds += 1
            self._send_round(order, pacer)
            self._wait(clock.now() + self._wait_time(policy))
            answered = len(self.verdicts) - answered_before
            history.append(RoundReport(answered, self._icmp_answers, len(self._icmp_hosts),
                                       clock.now() - began, self._total - len(self.verdicts)))
            if self._round > 0:
                self.stats.answered_on_retry += answered
            if self._round == 0:
                self._sent_at.clear()  # only first-round probes are timed
                self._icmp_limit_possible = may_be_rate_limited(history[0], self.options.sources)
        self.stats.icmp_rate_limited = policy.rate_limited

    def _wait_time(self, policy: RetryPolicy) -> float:
        """How long to wait after a round's last probe: the measured RTT allows, except where
        ICMP errors may be rate-limited: then a round must last a token period (1 s on Linux)
        or retries cannot tell rate limiting from silence."""
        if self._round > 0 and (self._icmp_limit_possible or policy.rate_limited):
            return self.options.timeout
        return self._rtt.wait(self.options.timeout)

    def _send_round(self, order: Permutation, pacer: Pacer) -> None:
        clock = self.transport.clock
        since_poll = 0
        nports = len(self.ports)
        for index in order:
            if index in self.verdicts:
                continue
            slot = pacer.next_slot()
            if clock.now() < slot:
                self._receive_until(slot)
                since_poll = 0
            elif since_poll >= POLL_EVERY:
                self._receive_until(clock.now())
                since_poll = 0
            if index in self.verdicts:
                continue  # answered while we waited (a late reply to an earlier round)
            host, port = divmod(index, nports)
            target = self.targets.address(host)
            self.transport.send(self.probe.build(target, self.ports[port], self._round))
            now = clock.now()
            pacer.take(now)
            if not self._round and index % RTT_SAMPLE_EVERY == 0 and len(self._sent_at) < RTT_SAMPLES_MAX:
                self._sent_at[index] = now
            since_poll += 1
            self.stats.sent += 1
            if self._round:
                self.stats.retransmitted += 1

    def _wait(self, until: float) -> None:
        clock = self.transport.clock
        while len(self.verdicts) < self._total and clock.now() < until:
            self._receive_until(until, stop_when_done=True)

    def _progress(self, now: float) -> None:
        if self.on_progress is not None and now >= self._next_progress:
            self._next_progress = now + PROGRESS_INTERVAL
            self.on_progress(self.stats)

    def _receive_until(self, deadline: float, stop_when_done: bool = False) -> None:
        clock = self.transport.clock
        while True:
            for item in self.transport.receive(deadline):
                self._handle(item.packet)
            self._progress(clock.now())
            if clock.now() >= deadline or (stop_when_done and len(self.verdicts) == self._total):
                return

    def _handle(self, packet: bytes) -> None:
        self.stats.received += 1
        reply = self.probe.parse_reply(packet)
        index = None if reply is None else self._index_of(reply.target, reply.port)
        if reply is None or index is None:
            self.stats.stray += 1
            return
        previous = self.verdicts.get(index)
        if not reply.verdict.beats(previous):
            self.stats.duplicates += 1
            return
        if previous is None and reply.icmp:
            self._icmp_answers += 1
            self._icmp_hosts.add(reply.target)
        sent_at = self._sent_at.pop(index, None)
        if sent_at is not None and self._round == 0:
            self._rtt.add(self.transport.clock.now() - sent_at)
        self.verdicts[index] = reply.verdict
        self.stats.matched += 1
        if reply.verdict.evidence is Evidence.RESPONSE and self.on_result:
            self.on_result(reply.target, reply.port, reply.verdict)  # final: stream it now

    def _index_of(self, target: int, port: int) -> int | None:
        host = self.targets.index(target)
        port_i = self._port_index.get(port)
        if host is None or port_i is None:
            return None
        return host * len(self.ports) + port_i

    def _report_rest(self) -> None:
        """Verdicts that were not final when they came, and silence for the unanswered."""
        if self.on_result is None:
            return
        for index, verdict in sorted(self.verdicts.items()):
            if verdict.evidence is not Evidence.RESPONSE:
                ep = self.endpoint(index)
                self.on_result(ep.target, ep.port, verdict)
        if self.stats.interrupted:
            return  # unanswered ports were not given every chance: unknown, not filtered
        silence = self.probe.silence()
        for index in range(self._total):
            if index not in self.verdicts:
                ep = self.endpoint(index)
                self.on_result(ep.target, ep.port, silence)

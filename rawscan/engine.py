"""The scan engine: paces probes over a keyed cyclic order, validates replies, retries the silent.

It knows nothing of TCP or UDP (the probe module does) nor of sockets (the transport does).
Two hot paths share every decision: per item (small scans: no numpy import, which costs more
than such a scan), and on numpy batches (large IPv4 scans whose probe module offers a
batcher: the walk, the probes and the common replies are arrays, and only the rare replies
take the per-item path). Tests run the same scans both ways and compare.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from .bandwidth import batch_bits
from .congestion import (ADAPTIVE_FLOOR, WINDOW_PROBES, PathCounters, RateController,
                         next_rate, retries_lose_replies)
from .cyclic import CyclicOrder
from .pacing import Pacer
from .probes.base import ProbeModule
from .retry_policy import (
    RetryPolicy,
    RoundReport,
    estimated_loss,
    expected_hidden,
    icmp_budget,
    may_be_rate_limited,
)
from .rtt import RttEstimator
from .results import Evidence, Verdict
from .shards import ShardMap
from .targets import TargetSet
from .transports.base import Transport

BATCH_MAX = 128  # probes handed to the transport at once on the per-item path
VECTOR_BATCH_MAX = 512  # ... and on the numpy path (one sendmmsg on the live transport)
BATCH_SECONDS = 0.001  # ... or what the rate allows in this long
SMOOTH_RATE = 20_000.0  # below this rate batches last SMOOTH_SECONDS instead: a batch leaves at
SMOOTH_SECONDS = 0.0002  # once, and a policer with a small bucket (nft's default: 5) drops bursts
VECTOR_MIN_ENDPOINTS = 4096  # below this numpy's import costs more than it saves
VECTOR_MIN_BATCH = 24  # smaller batches go per item: a numpy call costs about the same whatever its size
RTT_SAMPLE_MASK = 15  # time one first-round probe in 16 (bounded memory, Karn-safe)
RTT_SAMPLES_MAX = 65536
PROGRESS_INTERVAL = 0.2  # seconds between progress callbacks
RTT_GUESS = 0.001  # seconds, for the rate controller until a reply is timed


def _non_icmp(last_two: list[RoundReport]) -> tuple[int, int, int]:
    """retries_lose_replies' figures: answers other than ICMP errors (a rate limit on those is
    a trickle too, of time not rate, which a slower round cannot help) and what was sent."""
    before, last = last_two
    return (before.answered - before.icmp_answered, last.answered - last.icmp_answered, last.sent)


def rtt_sample_mask(endpoints: int) -> int:
    """Which first-round probes are timed (index & mask == 0): every one while they all fit in
    RTT_SAMPLES_MAX, else one in 16. A small scan timing 1 in 16 often times none that answer
    (nmap -p 25,80,443 with 25 dropped), and then each round waits the whole --timeout."""
    return 0 if endpoints <= RTT_SAMPLES_MAX else RTT_SAMPLE_MASK


@dataclass(frozen=True)
class ScanOptions:
    rate: float = 5000.0  # probes per second (retransmissions included): fixed, or the start
    retries: int = 10  # at most this many retransmissions of a silent probe
    timeout: float = 1.0  # at most this long to wait for replies after a round's last probe
    sources: int = 1  # our source addresses: each has its own ICMP rate-limit budget
    defeat_icmp_ratelimit: bool = False
    max_rate: float | None = None  # set: the rate adapts to the path, up to this ceiling
    vector: bool | None = None  # numpy batches: None decides by the scan's size
    bandwidth: float | None = None  # --bandwidth: bits per second on the wire (bandwidth.py)
    sharing: int = 1  # processes sharing the scan's rate (--workers): batches sized at their sum


@dataclass
class ScanStats:
    probes: int = 0  # distinct endpoints
    sent: int = 0  # packets, retransmissions included
    retransmitted: int = 0
    received: int = 0  # packets that reached the engine
    matched: int = 0  # valid replies that decided a port
    duplicates: int = 0  # valid replies for a port already decided
    stray: int = 0  # failed validation: stray, late from another scan, or forged
    unverified: int = 0  # bare RSTs or SYNs: no cookie to check, believed only failing better
    unverified_ports: int = 0  # endpoints that ended on such a reply
    answered_on_retry: int = 0
    rounds: int = 0
    icmp_rate_limited: bool = False
    elapsed: float = 0.0
    interrupted: bool = False
    unanswered: int = 0  # endpoints that never got a reply (their state is the silence's)
    estimated_loss: float = 0.0  # share of replies lost, judged from the retry rounds
    expected_missed: float = 0.0  # answering endpoints probably among the unanswered
    lowest_rate: float = 0.0  # the slowest round's rate, when drops made it slow down
    unsent: int = 0  # probes the host refused to send (no route, local firewall)
    send_rate: float = 0.0  # probes per second while the first round was sending
    adaptive: bool = False  # the rate was the path's, not fixed
    max_rate: float = 0.0  # the adaptive rate's ceiling
    path_rate: float = 0.0  # what the path was seen to carry (adaptive scans)
    rate_losses: int = 0  # windows in which the adaptive rate saw loss and backed off
    kernel_drops: int = 0  # replies the kernel dropped before we could read them
    vector: bool = False  # the numpy path ran
    foreign: int = 0  # valid replies for another shard's endpoints (--workers), or a sibling
    # scan's (--discover): ignored
    first_round_sent: int = 0  # probes of the first round (of this run: a resumed one's rest)


@dataclass
class Endpoint:
    target: int
    port: int


ResultCallback = Callable[[int, int, Verdict], None]
_NOT_ALL_SET = re.compile(rb"[^\xff]")


class ScanInterrupted(Exception):
    """The user asked to stop (Ctrl-C, SIGTERM, SIGHUP): raised at a safe point only."""


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
    stats: ScanStats = field(default_factory=ScanStats)
    done: bytes | None = None  # a resumed scan: endpoints an earlier run already reported
    stop_requested: Callable[[], bool] | None = None  # polled at safe points (interrupts.py)
    # --shards: the engine's indexes are this shard's local ones (rawscan/shards.py), mapped
    # to endpoints where probes are built and replies are matched; None: one whole scan
    shard: ShardMap | None = None
    # a reply that is no valid answer of this engine's but of a sibling scan of the same run
    # (--discover: discovery's answers, an earlier wave's late ones): counted foreign, not stray
    sibling: Callable[[bytes], bool] | None = None

    @property
    def decided(self) -> bytes:
        """One bit per endpoint (index order, least significant bit first): reported or not.
        What a resume file keeps of an interrupted scan."""
        return bytes(self._decided)

    def __post_init__(self) -> None:
        self._port_index = {port: i for i, port in enumerate(self.ports)}
        self._total = len(self.targets) * len(self.ports)
        if self.shard is not None:
            self._total = self.shard.size
        self.stats.probes = self._total
        # Per endpoint one bit: has it a verdict (then it is not probed again)? Verdicts that a
        # later reply may still beat (ICMP errors) wait in _provisional; final ones are streamed.
        self._decided = bytearray((self._total + 7) // 8)
        self._answered = 0
        if self.done is not None:
            if len(self.done) != len(self._decided):
                raise ValueError("the resume state does not match this scan's size")
            self._decided[:] = self.done
            self._answered = sum(bin(b).count("1") for b in self._decided)
        self._provisional: dict[int, Verdict] = {}
        self._unverified: dict[int, Verdict] = {}  # unanswered endpoints' uncheckable replies
        self._round = 0
        self._next_progress = 0.0
        self._icmp_hosts: dict[int, int] = {}  # this round's first answers by ICMP, per host
        self._may_be_limited: set[int] = set()  # after round 0: hosts that may be rate limited
        self._rtt = RttEstimator()
        self._min_rtt = 0.0
        self._sent_at: dict[int, float] = {}  # a sample of first-round probes' send times
        self._rtt_mask = rtt_sample_mask(self._total)
        self._icmp_limit_possible = False
        self._batch = 1
        ranges = self.targets.ranges
        self._single_range = ranges[0] if len(ranges) == 1 else None
        self._host_level = self.probe.decides_host
        self._batcher: Any = self._make_batcher()
        self.stats.vector = self._batcher is not None
        options = self.options
        adaptive = options.max_rate is not None
        ceiling = options.max_rate if options.max_rate is not None else options.rate
        # --workers: each sends its share of the rate, so a window is its share of the probes
        # (judged as soon as one process's would be)
        self._control = RateController(options.rate, ceiling, ADAPTIVE_FLOOR, adaptive,
                                       max(1, WINDOW_PROBES // options.sharing),
                                       patient=options.sharing > 1)
        self.stats.adaptive, self.stats.max_rate = adaptive, ceiling if adaptive else 0.0

    def _make_batcher(self) -> Any:
        wanted = self.options.vector
        if wanted is False or (wanted is None and self._total < VECTOR_MIN_ENDPOINTS):
            return None
        batcher = self.probe.batcher(self.targets, tuple(self.ports))
        if batcher is not None:
            import numpy as np

            from . import vector

            self._np, self._vec = np, vector
            self._decided_bits = np.frombuffer(self._decided, dtype=np.uint8)
        return batcher

    @property
    def answered(self) -> int:
        """Endpoints with a verdict from a reply."""
        return self._answered

    def _endpoint_of(self, index: int) -> Endpoint:
        """The Endpoint of an endpoint index (not a shard's local one)."""
        host, port = divmod(index, len(self.ports))
        return Endpoint(self.targets.address(host), self.ports[port])

    def endpoint(self, index: int) -> Endpoint:
        if self.shard is not None:
            index = self.shard.to_endpoint(index)
        host, port = divmod(index, len(self.ports))
        return Endpoint(self.targets.address(host), self.ports[port])

    def run(self) -> ScanStats:
        clock = self.transport.clock
        started = clock.now()
        try:
            self._scan()
        except (KeyboardInterrupt, ScanInterrupted):
            self.stats.interrupted = True
        finally:
            self.stats.elapsed = clock.now() - started
            counters = self.transport.counters()
            self.stats.unsent = counters.refused
            self.stats.kernel_drops = counters.dropped
            self.stats.path_rate = self._control.path_rate if self.stats.adaptive else 0.0
            self.stats.rate_losses = self._control.losses
        self._report_rest()
        return self.stats

    def _check_stop(self) -> None:
        if self.stop_requested is not None and self.stop_requested():
            raise ScanInterrupted

    def _scan(self) -> None:
        if self._total == 0:
            return
        fixed_rate = self.options.rate
        policy = RetryPolicy(self.options.retries, self.options.sources,
                             self.options.defeat_icmp_ratelimit)
        history: list[RoundReport] = []
        clock = self.transport.clock
        icmp_matters = self.probe.icmp_decides_state
        while not history or policy.another_round(history):
            self._check_stop()
            self._round = len(history)
            answered_before, began = self._answered, clock.now()
            self._icmp_hosts = {}
            self.stats.rounds += 1
            if self._round > 1 and not self.stats.adaptive:  # adapt to the last retry round
                fixed_rate = next_rate(fixed_rate, self.options.rate, history[-1].sent,
                                       history[-1].answered)
                if fixed_rate < self.options.rate:
                    self.stats.lowest_rate = min(self.stats.lowest_rate or fixed_rate, fixed_rate)
                self._control.rate = fixed_rate
            elif self._round > 1 and retries_lose_replies(*_non_icmp(history[-2:])):
                lowered = self._control.lost_in_retries()
                self.stats.lowest_rate = min(self.stats.lowest_rate or lowered, lowered)
            sent_before = self.stats.sent
            # a new order each round: a target that drops by position (every other SYN, a
            # burst limit) must not drop the same probes again
            order = CyclicOrder(self._total, self.order_key + bytes([self._round & 0xFF]))
            sending = clock.now()
            pacer = Pacer(self._control.rate, sending, self.options.bandwidth)
            self._batch = self._batch_size(pacer.rate)
            if self._batcher is not None:
                self._send_round_vector(order, pacer)
            else:
                self._send_round(order, pacer)
            if self._round == 0:
                self.stats.first_round_sent = self.stats.sent
            if self._round == 0 and clock.now() > sending:
                self.stats.send_rate = self.stats.sent / (clock.now() - sending)
            self._wait(clock.now() + self._wait_time(policy))
            answered = self._answered - answered_before
            duration = clock.now() - began
            if not icmp_matters:
                # ICMP error and silence give the same state (SYN: filtered): a rate limit on
                # ICMP errors hides only a reason, so it is never waited for
                self._icmp_hosts = {}
            if self._round == 0:
                # A host whose ICMP errors in the first round outnumber what a rate-limited
                # host can send (a burst, then a trickle) is not limited: later rounds' ICMP
                # answers from it are plain loss being made up, not a trickle.
                budget = icmp_budget(duration, self.options.sources)
                self._may_be_limited = {h for h, n in self._icmp_hosts.items() if n <= budget}
            icmp_hosts = {h: n for h, n in self._icmp_hosts.items() if h in self._may_be_limited}
            history.append(RoundReport(answered, sum(icmp_hosts.values()), len(icmp_hosts),
                                       duration, self._total - self._answered,
                                       self.stats.sent - sent_before))
            if self._round > 0:
                self.stats.answered_on_retry += answered
            if self._round == 0:
                self._sent_at.clear()  # only first-round probes are timed
                self._icmp_limit_possible = (icmp_matters and
                                             may_be_rate_limited(history[0], self.options.sources))
        self.stats.icmp_rate_limited = policy.rate_limited
        self.stats.unanswered = self._total - self._answered - len(self._unverified)
        self.stats.unverified_ports = len(self._unverified)
        answers = [r.answered for r in history]
        if len(answers) > 1:
            self.stats.estimated_loss = estimated_loss(answers)
            self.stats.expected_missed = min(self.stats.unanswered, expected_hidden(answers))

    def _batch_size(self, rate: float) -> int:
        most = VECTOR_BATCH_MAX if self._batcher is not None else BATCH_MAX
        rate *= self.options.sharing  # the path sees every worker's batches: size them as one's
        seconds = SMOOTH_SECONDS if rate < SMOOTH_RATE else BATCH_SECONDS
        return max(1, min(most, int(rate * seconds)))

    def _batch_limit(self, pacer: Pacer) -> int:
        """The next batch's size: the rate's, or, when sending fell behind the pacer (a busy
        core), every probe already due at once. Those would leave back to back anyway, one
        small batch after another; one batch costs a fraction of their CPU, so a loaded
        machine does not slow the scan further by shrinking its batches."""
        due = pacer.due(self.transport.clock.now())
        if due <= self._batch:
            return self._batch
        return min(due, VECTOR_BATCH_MAX if self._batcher is not None else BATCH_MAX)

    def _wait_time(self, policy: RetryPolicy) -> float:
        """How long to wait after a round's last probe: the measured RTT allows, except where
        ICMP errors may be rate-limited and decide a state (UDP: closed): then a round must
        last a token period (1 s on Linux) or retries cannot tell rate limiting from silence."""
        if self._round > 0 and (self._icmp_limit_possible or policy.rate_limited):
            return self.options.timeout
        return self._rtt.wait(self.options.timeout)

    # --- sending ---

    def _send_round(self, order: CyclicOrder, pacer: Pacer) -> None:
        """One pass over every endpoint still without a verdict, in the keyed order, built
        into batches that leave together (the per-item hot loop: keep it lean)."""
        n, g, p, x = order.n, order.generator, order.prime, order.start
        decided, ports, nports = self._decided, self.ports, len(self.ports)
        attempt, first = self._round, self._round == 0
        rtt_mask = self._rtt_mask
        build_batch = self.probe.build_batch
        single = self._single_range
        lo = single[0] if single else 0
        address = self.targets.address
        shard = self.shard
        targets: list[int] = []
        dports: list[int] = []
        timed: list[int] = []
        limit = self._batch_limit(pacer)
        for _ in range(p - 1):
            index = x - 1
            x = x * g % p
            if index >= n or decided[index >> 3] >> (index & 7) & 1:
                continue
            if shard is not None:
                index_e = shard.to_endpoint(index)
                host, port_i = divmod(index_e, nports)
            else:
                host, port_i = divmod(index, nports)
            targets.append(lo + host if single else address(host))
            dports.append(ports[port_i])
            if first and not index & rtt_mask:
                timed.append(index)
            if len(targets) >= limit:
                self._flush(build_batch(targets, dports, attempt), timed, pacer)
                targets, dports, timed = [], [], []
                limit = self._batch_limit(pacer)
        if targets:
            self._flush(build_batch(targets, dports, attempt), timed, pacer)
        self.transport.drain()  # the wait for replies starts once the last probe has left

    def _send_round_vector(self, order: CyclicOrder, pacer: Pacer) -> None:
        """_send_round on numpy blocks: the walk, the decided test and the probes are arrays."""
        vec = self._vec
        bits, build = self._decided_bits, self._batcher.build
        attempt, first = self._round, self._round == 0
        build_items = self.probe.build_batch
        endpoint = self._endpoint_of if self.shard is not None else self.endpoint
        to_endpoints = self.shard.to_endpoints if self.shard is not None else None
        for block in self._blocks(order):
            pending = block[vec.test_bits(bits, block) == 0]
            # a shard's local indexes as endpoints, the whole block at once (one numpy call,
            # not one scalar Feistel evaluation per probe when the batches are small)
            mapped = pending if to_endpoints is None or not len(pending) else to_endpoints(pending)
            start = 0
            while start < len(pending):
                size = self._batch_limit(pacer)
                chunk = pending[start : start + size]
                probes = mapped[start : start + size]
                start += len(chunk)
                timed = chunk[(chunk & self._rtt_mask) == 0].tolist() if first else []
                if len(chunk) >= VECTOR_MIN_BATCH:
                    self._flush(build(probes, attempt), timed, pacer)
                else:  # a few probes (a low rate): numpy's per-call cost would dominate
                    eps = [endpoint(i) for i in probes.tolist()]
                    batch = build_items([e.target for e in eps], [e.port for e in eps], attempt)
                    self._flush(batch, timed, pacer)
        self.transport.drain()

    def _blocks(self, order: CyclicOrder) -> Iterator[Any]:
        """The round's endpoints a block at a time. Host-level probes (discovery) go kind by
        kind, every host's first kind before any host's second: a host that answers the first
        is decided before its other probes come up and they are skipped (nmap sends a host's
        probes together and stops at the first answer), instead of ~all kinds of every host
        leaving in the random order before the first answers are back."""
        nports = len(self.ports)
        if not self._host_level or nports == 1 or self.shard is not None:
            yield from self._vec.walk_blocks(order)
            return
        hosts = CyclicOrder(self._total // nports, self.order_key + bytes([self._round & 0xFF]))
        for kind in range(nports):
            for block in self._vec.walk_blocks(hosts):
                yield block * nports + kind

    def _flush(self, batch: Any, timed: list[int], pacer: Pacer) -> None:
        clock = self.transport.clock
        slot = pacer.next_slot()
        if clock.now() < slot:
            self._receive_until(slot)
        # Replies that came while we waited may have answered some of these: send them
        # anyway (a duplicate probe is cheaper than rebuilding the batch).
        count = len(batch)
        self.transport.send_batch(batch)
        now = clock.now()
        pacer.take(now, count, batch_bits(batch) if pacer.bandwidth else 0)
        if timed and len(self._sent_at) < RTT_SAMPLES_MAX:
            for index in timed:
                self._sent_at[index] = now
        self.stats.sent += count
        if self._round:
            self.stats.retransmitted += count
        self._adapt(now, pacer)
        self._receive_until(now)  # a non-blocking look at the receive queue

    def _adapt(self, now: float, pacer: Pacer) -> None:
        if not self.stats.adaptive:
            return
        c = self.transport.counters()
        delivered = self.stats.received if c.delivered is None else c.delivered
        # what has left, not what was queued for the sending thread: replies answer those
        sent = self.stats.sent if c.sent is None else c.sent + c.refused
        counters = PathCounters(sent, delivered, c.dropped, c.send_errors)
        rate = self._control.update(now, counters, self._min_rtt or RTT_GUESS)
        if rate != pacer.rate:
            pacer.set_rate(rate)
            self._batch = self._batch_size(rate)

    # --- receiving ---

    def _wait(self, until: float) -> None:
        clock = self.transport.clock
        while self._answered < self._total and clock.now() < until:
            self._receive_until(until, stop_when_done=True)

    def _progress(self, now: float) -> None:
        if self.on_progress is not None and now >= self._next_progress:
            self._next_progress = now + PROGRESS_INTERVAL
            self.on_progress(self.stats)

    def _receive_until(self, deadline: float, stop_when_done: bool = False) -> None:
        clock = self.transport.clock
        vector = self._batcher is not None
        while True:
            got = self.transport.receive(deadline)
            if len(got):
                if isinstance(got, list):
                    if vector and len(got) >= VECTOR_MIN_BATCH:
                        self._handle_frames(self._vec.frames_from([r.packet for r in got],
                                                                  got[0].wall_time))
                    else:
                        for item in got:
                            self._decide(item.packet)
                elif vector:
                    self._handle_frames(got)
                else:
                    for i in range(len(got)):
                        self._decide(got.packet(i))
            now = clock.now()
            self._progress(now)
            self._check_stop()
            if now >= deadline or (stop_when_done and self._answered == self._total):
                return

    def _handle_frames(self, frames: Any) -> None:
        """A batch of replies: the common ones judged as arrays, the rest one by one."""
        if len(frames) < VECTOR_MIN_BATCH:
            for i in range(len(frames)):
                self._decide(frames.packet(i))
            return
        judged = self._batcher.judge(frames)
        self.stats.received += len(frames) - len(judged.slow)
        self.stats.stray += judged.stray
        if self.shard is not None and len(judged.endpoints):
            judged = self._own(judged)
        for row in judged.slow.tolist():
            self._decide(frames.packet(row))
        if len(judged.endpoints):
            self._apply(judged)

    def _own(self, judged: Any) -> Any:
        """A judged batch in this shard's local indexes, other shards' replies left out."""
        assert self.shard is not None
        local = self.shard.to_locals(judged.endpoints)
        keep = self._np.flatnonzero(local >= 0)
        self.stats.foreign += len(local) - len(keep)
        verdicts = judged.verdicts
        return judged._replace(endpoints=local[keep], targets=judged.targets[keep],
                               ports=judged.ports[keep],
                               verdicts=[verdicts[i] for i in keep.tolist()])

    def _apply(self, judged: Any) -> None:
        """Final verdicts (checked SYN-ACKs and RSTs) for a batch of endpoints."""
        np, vec = self._np, self._vec
        endpoints = judged.endpoints
        keep, first = np.unique(endpoints, return_index=True)
        if len(keep) < len(endpoints):
            self.stats.duplicates += len(endpoints) - len(keep)
            first.sort()
            endpoints = endpoints[first]
            rows = first
        else:
            rows = np.arange(len(endpoints))
        known = vec.test_bits(self._decided_bits, endpoints) != 0
        verdicts, targets, ports = judged.verdicts, judged.targets, judged.ports
        if known.any():
            for i in np.flatnonzero(known).tolist():  # a reply for a port decided already
                row = int(rows[i])
                self._settle(int(endpoints[i]), int(targets[row]), int(ports[row]), verdicts[row])
            fresh = np.flatnonzero(~known)
            endpoints, rows = endpoints[fresh], rows[fresh]
        if not len(endpoints):
            return
        vec.set_bits(self._decided_bits, endpoints)
        self._answered += len(endpoints)
        if self._host_level:  # the hosts' other endpoints, as arrays (see _decide_host)
            nports = len(self.ports)
            siblings = ((endpoints - endpoints % nports)[:, None] + np.arange(nports)).ravel()
            fresh_siblings = siblings[vec.test_bits(self._decided_bits, siblings) == 0]
            vec.set_bits(self._decided_bits, fresh_siblings)
            self._answered += len(np.unique(fresh_siblings))
            if self._provisional or self._unverified:
                for other in siblings.tolist():
                    self._provisional.pop(other, None)
                    self._unverified.pop(other, None)
        self.stats.matched += len(endpoints)
        if self._unverified:
            for index in endpoints.tolist():
                self._unverified.pop(index, None)
        if self._sent_at and self._round == 0:
            now = self.transport.clock.now()
            for index in endpoints[(endpoints & self._rtt_mask) == 0].tolist():
                sent_at = self._sent_at.pop(index, None)
                if sent_at is not None:
                    self._add_rtt(now - sent_at)
        on_result = self.on_result
        if on_result is not None:
            row_list = rows.tolist()
            for target, port, row in zip(targets[rows].tolist(), ports[rows].tolist(), row_list):
                on_result(target, port, verdicts[row])

    def _settle(self, index: int, target: int, port: int, verdict: Verdict) -> None:
        """A reply for an endpoint already decided: only a final answer replacing an ICMP
        verdict counts (nothing downgrades a port); anything else is a duplicate."""
        previous = self._provisional.get(index)
        if previous is None or not verdict.beats(previous):
            self.stats.duplicates += 1
            return
        del self._provisional[index]
        self.stats.matched += 1
        if self.on_result:
            self.on_result(target, port, verdict)

    def _add_rtt(self, sample: float) -> None:
        self._rtt.add(sample)
        if not self._min_rtt or sample < self._min_rtt:
            self._min_rtt = sample

    def _decide(self, packet: bytes) -> None:
        self.stats.received += 1
        reply = self.probe.parse_reply(packet)
        index = None if reply is None else self._index_of(reply.target, reply.port)
        if reply is None or index is None:
            if self.sibling is not None and self.sibling(packet):
                self.stats.foreign += 1
            else:
                self.stats.stray += 1
            return
        if self.shard is not None:
            local = self.shard.to_local(index)
            if local is None:
                self.stats.foreign += 1
                return
            index = local
        verdict = reply.verdict
        byte, bit = index >> 3, 1 << (index & 7)
        if verdict.evidence is Evidence.UNVERIFIED:
            # Kept only in case nothing checkable ever comes: the port is still retried, and
            # a reply that passes the cookie check replaces it.
            if self._decided[byte] & bit or index in self._unverified:
                self.stats.duplicates += 1
            else:
                self._unverified[index] = verdict
                self.stats.unverified += 1
            return
        if self._decided[byte] & bit:
            self._settle(index, reply.target, reply.port, verdict)
            return
        self._decided[byte] |= bit
        self._answered += 1
        if self._host_level and verdict.evidence is Evidence.RESPONSE:
            self._decide_host(index)
        if reply.icmp:
            self._icmp_hosts[reply.target] = self._icmp_hosts.get(reply.target, 0) + 1
        if self._unverified:
            self._unverified.pop(index, None)
        if self._sent_at:
            sent_at = self._sent_at.pop(index, None)
            if sent_at is not None and self._round == 0:
                self._add_rtt(self.transport.clock.now() - sent_at)
        self.stats.matched += 1
        if verdict.evidence is Evidence.RESPONSE:
            if self.on_result:
                self.on_result(reply.target, reply.port, verdict)  # final: stream it now
        else:
            self._provisional[index] = verdict

    def _decide_host(self, index: int) -> None:
        """A probe module whose answers are about hosts (discovery): the host's other
        endpoints are decided with it, so they are not probed again nor reported."""
        nports = len(self.ports)
        first = index - index % nports
        decided = self._decided
        for other in range(first, first + nports):
            byte, bit = other >> 3, 1 << (other & 7)
            if not decided[byte] & bit:
                decided[byte] |= bit
                self._answered += 1
                self._unverified.pop(other, None)
            self._provisional.pop(other, None)

    def _index_of(self, target: int, port: int) -> int | None:
        port_i = self._port_index.get(port)
        if port_i is None:
            return None
        single = self._single_range
        if single:
            if not single[0] <= target <= single[1]:
                return None
            return (target - single[0]) * len(self.ports) + port_i
        host = self.targets.index(target)
        return None if host is None else host * len(self.ports) + port_i

    def _report_rest(self) -> None:
        """Verdicts that were not final when they came, and silence for the unanswered."""
        if self.on_result is None:
            return
        for index in sorted(self._provisional):
            ep = self.endpoint(index)
            self.on_result(ep.target, ep.port, self._provisional[index])
        if self.stats.interrupted:
            return  # unanswered ports were not given every chance: unknown, not filtered
        silence = self.probe.silence()
        unverified = self._unverified
        for index in self.unanswered():
            ep = self.endpoint(index)
            self.on_result(ep.target, ep.port, unverified.get(index, silence))

    def unanswered(self) -> Iterator[int]:
        """Endpoints without a verdict, in index order (whole bytes of answered ones skipped)."""
        decided, total = self._decided, self._total
        for match in _NOT_ALL_SET.finditer(decided):
            byte_i = match.start()
            value = decided[byte_i]
            for bit in range(8):
                index = byte_i * 8 + bit
                if index < total and not value >> bit & 1:
                    yield index

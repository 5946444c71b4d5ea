"""--workers N: one plan scanned by N processes on this machine (Python's way to use N cores).

Each worker is a forked child scanning shard K of N (rawscan/shards.py) over its own raw
sockets; it gives up root as a scan does, and streams its results to the parent through a
pipe, which writes them into the ordinary outputs as they come. Workers share this host's
source address: a SYN-type scan gives each its own range of source ports (so the kernel's
filter hands each worker only its own TCP replies), and every worker drops the replies for
endpoints that are not its own (ICMP errors, UDP, -g) with the shard map's O(1) check.
Ctrl-C reaches every worker (one process group); SIGTERM to the parent is passed on. An
interrupted run saves one resume file holding every worker's progress.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import selectors
import signal
import struct
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .engine import ScanStats
from .errors import RawscanError
from .plan import ScanPlan
from .results import PortResult, Verdict
from .shards import shard_size

if TYPE_CHECKING:
    from .banners.phase import BannerStats
    from .output import ResultWriter
    from .probes.base import ProbeModule
    from .scan import ScanOutcome
    from .transports.base import Transport

_FRAME = struct.Struct(">I")
FLUSH_RESULTS = 2048  # results a worker sends at once (and at each progress tick)
SOURCE_PORTS_PER_WORKER = 16  # a SYN scan's retries use 16 source ports (scan.SYN_SOURCE_PORTS)


def worker_plan(plan: ScanPlan, k: int) -> ScanPlan:
    """Worker k's plan: shard k, (TCP without -g) its own range of source ports, and its
    share of the rate: the workers together send at the plan's --rate, start and ceiling of
    the adaptive rate, and --bandwidth (as one process would; masscan's and zmap's threads
    share theirs too)."""
    source_port = plan.source_port
    if not plan.fixed_source_port and plan.scan != "udp":
        low, span = 1024, 65536 - 1024 - SOURCE_PORTS_PER_WORKER
        source_port = low + (plan.source_port - low + SOURCE_PORTS_PER_WORKER * k) % span
    n = max(1, plan.workers)
    return dataclasses.replace(
        plan, shard=k, source_port=source_port, rate=plan.rate / n,
        max_rate=None if plan.max_rate is None else plan.max_rate / n,
        bandwidth=None if plan.bandwidth is None else plan.bandwidth / n)


def split_progress(plan: ScanPlan, decided: bytes | None) -> list[bytes | None]:
    """A workers' resume state (each shard's bitmap, in shard order) back into its parts."""
    if decided is None:
        return [None] * plan.workers
    total = len(plan.targets) * len(plan.ports)
    parts: list[bytes | None] = []
    at = 0
    for k in range(plan.workers):
        size = (shard_size(total, plan.workers, k) + 7) // 8
        parts.append(decided[at: at + size])
        at += size
    if at != len(decided):
        raise RawscanError("the resume file's progress does not match its workers' shards")
    return parts


def prepare(plan: ScanPlan, workers: int, pcap: object, done: bytes | None,
            interface: str | None, give_up_root: bool = True) -> tuple[ScanPlan, _Runner, str]:
    """The plan N workers scan, the runner (api/running.run_plan's runner=) that forks them,
    and the start line's note. Refused: --pcap (one process's packets). give_up_root: the
    parent gives up root under sudo once the workers are started (the CLI; not the library)."""
    if pcap is not None:
        raise RawscanError("--pcap records one process's packets: give it without --workers "
                           "(or record each shard of --shards N --shard K)")
    plan = dataclasses.replace(plan, shards=workers, shard=0, workers=workers)
    parts = split_progress(plan, done)
    from .scan import uses_batches

    if uses_batches(plan):  # imported once here, not once per worker after the fork
        import numpy  # noqa: F401

        from . import shards, vector  # noqa: F401
        from .probes import syn_batch  # noqa: F401
    from .shards import fingerprint

    note = (f"Workers: {workers} processes, one shard each; plan {fingerprint(plan)}"
            + (" (resumed)" if done is not None else ""))
    return plan, _Runner(plan, interface, parts, give_up_root), note


class NoTransport:
    """The parent sends nothing: each worker opens its own sockets."""

    def close(self) -> None:
        pass


class _Runner:
    """scan.run_scan's part, done by the workers: results into the writers as they come."""

    def __init__(self, plan: ScanPlan, interface: str | None, parts: list[bytes | None],
                 give_up_root: bool = True) -> None:
        self.plan, self.interface, self.parts = plan, interface, parts
        self.give_up_root = give_up_root

    def __call__(self, plan: ScanPlan, probe: ProbeModule, transport: Transport,
                 writers: Sequence[ResultWriter] = (), *,
                 on_progress: Callable[[ScanStats], None] | None = None,
                 keep_results: bool = False, open_only: bool = False,
                 done: bytes | None = None, stop_requested: Callable[[], bool] | None = None,
                 banners: Any = None, **_: Any) -> ScanOutcome:
        from .output.tally import ReportTally
        from .scan import PortReporter, ScanOutcome

        outcome = ScanOutcome(plan, ScanStats(), ReportTally(open_only),
                              [] if keep_results else None)
        # the workers' verdicts made into results as one process makes them
        reporter = PortReporter(outcome, probe, writers, None, None)
        started = time.monotonic()
        children = [self._start(k, banners) for k in range(plan.workers)]
        from .privileges import drop_privileges

        if self.give_up_root:
            drop_privileges()  # the workers have their sockets; the parent only writes files
        latest: dict[int, ScanStats] = {}
        final: dict[int, tuple[ScanStats, bytes, BannerStats | None]] = {}
        errors: list[str] = []
        flushing = [w.flush for w in writers if hasattr(w, "flush")]
        forwarded = False
        with selectors.DefaultSelector() as sel:
            buffers: dict[int, bytearray] = {}
            for k, (pid, fd) in enumerate(children):
                sel.register(fd, selectors.EVENT_READ, k)
                buffers[k] = bytearray()
            open_fds = len(children)
            next_tick = 0.0
            while open_fds:
                if stop_requested is not None and stop_requested() and not forwarded:
                    forwarded = True  # SIGTERM to the parent only: every worker stops too
                    for pid, _fd in children:
                        _signal(pid)
                for key, _events in sel.select(0.05):
                    k = key.data
                    chunk = os.read(key.fd, 1 << 20)
                    if not chunk:
                        sel.unregister(key.fd)
                        os.close(key.fd)
                        open_fds -= 1
                        continue
                    buffer = buffers[k]
                    buffer += chunk
                    for kind, payload in _frames(buffer):
                        if kind == "verdicts":
                            for target, port, verdict in zip(*payload):
                                reporter.deliver(target, port, verdict)
                        elif kind == "results":  # --banners: made around the worker's phase
                            for result in map(_result, payload):
                                reporter.emit(result)
                        elif kind == "progress":
                            latest[k] = payload
                        elif kind == "done":
                            final[k] = payload
                            latest[k] = payload[0]
                        elif kind == "error":
                            errors.append(str(payload))
                now = time.monotonic()
                if now >= next_tick:
                    next_tick = now + 0.2
                    for flush in flushing:
                        flush()
                    if on_progress is not None and latest:
                        on_progress(combined(list(latest.values()), now - started))
        for pid, _fd in children:
            os.waitpid(pid, 0)
        if errors:
            raise RawscanError(errors[0])
        if len(final) < len(children):
            raise RawscanError(f"{len(children) - len(final)} worker(s) ended without a result "
                               f"(killed?)")
        stats = [final[k][0] for k in range(len(children))]
        outcome.stats = combined(stats, time.monotonic() - started)
        outcome.decided = b"".join(final[k][1] for k in range(len(children)))
        outcome.banners = combined_banners([final[k][2] for k in range(len(children))])
        return outcome

    def _start(self, k: int, banners: Any) -> tuple[int, int]:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid:
            os.close(write_fd)
            return pid, read_fd
        os.close(read_fd)  # the child: scan shard k, send everything, and leave at once
        code = 1
        try:
            _worker(worker_plan(self.plan, k), self.interface, self.parts[k], banners, write_fd)
            code = 0
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, never a traceback
            from .errors import one_line

            try:
                _send(write_fd, "error", one_line(exc) or type(exc).__name__)
            except OSError:
                pass
        finally:
            os._exit(code)


def _signal(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        pass


def _send(fd: int, kind: str, payload: object) -> None:
    data = pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL)
    frame = _FRAME.pack(len(data)) + data
    view = memoryview(frame)
    while view:
        view = view[os.write(fd, view):]


def _frames(buffer: bytearray) -> list[tuple[str, Any]]:
    """Whole frames from the front of buffer (removed from it)."""
    out = []
    at = 0
    while len(buffer) - at >= _FRAME.size:
        (size,) = _FRAME.unpack_from(buffer, at)
        if len(buffer) - at - _FRAME.size < size:
            break
        start = at + _FRAME.size
        out.append(pickle.loads(bytes(buffer[start: start + size])))  # our own child's
        at = start + size
    del buffer[:at]
    return out


class _VerdictPipe:
    """A worker's only output without --banners: the engine's verdicts as they come, a batch
    at a time as three lists (pickled in C, the batch's few distinct Verdict objects once
    each). The parent's PortReporter makes the results, so no work is done twice."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.targets: list[int] = []
        self.ports: list[int] = []
        self.verdicts: list[Verdict] = []

    def __call__(self, target: int, port: int, verdict: Verdict) -> None:
        self.targets.append(target)
        self.ports.append(port)
        self.verdicts.append(verdict)
        if len(self.targets) >= FLUSH_RESULTS:
            self.flush()

    def flush(self) -> None:
        if self.targets:
            _send(self.fd, "verdicts", (self.targets, self.ports, self.verdicts))
            self.targets, self.ports, self.verdicts = [], [], []


class _PipeWriter:
    """A worker's only output: results to the parent, a batch at a time."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.held: list[PortResult] = []

    def write(self, result: PortResult) -> None:
        self.held.append(result)
        if len(self.held) >= FLUSH_RESULTS:
            self.flush()

    def flush(self) -> None:
        if self.held:
            _send(self.fd, "results", [_plain(r) for r in self.held])
            self.held = []

    def close(self, summary: object = None) -> None:
        self.flush()


def _plain(r: PortResult) -> tuple[object, ...] | PortResult:
    """A result as a tuple (pickled in C, ~10x faster than the slotted dataclass) unless it
    carries --banners' fields."""
    if r.probed or r.banner is not None or r.tls is not None or r.banner_note is not None \
            or r.product is not None:
        return r
    return (r.ip, r.proto, r.port, r.state, r.reason, r.ttl, r.service, r.host)


_SLOTS = [PortResult.__dict__[f.name].__set__ for f in dataclasses.fields(PortResult)]


def _result(item: Any) -> PortResult:
    """PortResult(*item), without the frozen __init__'s per-field object.__setattr__ (as
    analyze/ordered.py builds them: 5x faster), or the result itself."""
    if isinstance(item, PortResult):
        return item
    r = PortResult.__new__(PortResult)
    for put, value in zip(_SLOTS, item):
        put(r, value)
    return r


def _worker(plan: ScanPlan, interface: str | None, done: bytes | None, banners: Any,
            fd: int) -> None:
    from .interrupts import requested
    from .privileges import drop_privileges
    from .scan import probe_for, run_scan, uses_batches
    from .transports.live import LiveTransport
    from .api.live import ring_frame as _ring_frame

    probe = probe_for(plan)
    ring = _ring_frame(probe.reply_bytes) if uses_batches(plan) else None
    transport = LiveTransport(probe.bpf_filter(), interface, ring_frame=ring)
    drop_privileges()
    pipe = _PipeWriter(fd)  # --banners: results, made here around the banner phase
    verdicts = _VerdictPipe(fd) if banners is None else None

    def progress(stats: ScanStats) -> None:
        if verdicts is not None:
            verdicts.flush()
        _send(fd, "progress", stats)

    outcome = run_scan(plan, probe, transport, [pipe] if verdicts is None else [],
                       on_progress=progress, stop_requested=requested, done=done,
                       banners=banners, on_verdict=verdicts)
    if verdicts is not None:
        verdicts.flush()
    pipe.close()
    _send(fd, "done", (outcome.stats, outcome.decided, outcome.banners))


_SUMMED = ("probes", "sent", "retransmitted", "received", "matched", "duplicates", "stray",
           "unverified", "unverified_ports", "answered_on_retry", "unanswered", "unsent",
           "send_rate", "path_rate", "rate_losses", "kernel_drops", "foreign",
           "first_round_sent", "expected_missed")


def combined(parts: list[ScanStats], elapsed: float) -> ScanStats:
    """The workers' statistics as one scan's."""
    out = ScanStats()
    for name in _SUMMED:
        setattr(out, name, sum(getattr(s, name) for s in parts))
    out.rounds = max((s.rounds for s in parts), default=0)
    out.icmp_rate_limited = any(s.icmp_rate_limited for s in parts)
    out.interrupted = any(s.interrupted for s in parts)
    out.adaptive = any(s.adaptive for s in parts)
    out.max_rate = sum(s.max_rate for s in parts)
    out.vector = any(s.vector for s in parts)
    lows = [s.lowest_rate for s in parts if s.lowest_rate]
    out.lowest_rate = min(lows) if lows else 0.0
    answered = sum(s.matched for s in parts)
    out.estimated_loss = (sum(s.estimated_loss * s.matched for s in parts) / answered
                          if answered else 0.0)
    out.elapsed = elapsed
    return out


def combined_banners(parts: list[BannerStats | None]) -> BannerStats | None:
    """The workers' banner phases as one scan's (--banners' summary line): counts summed, the
    wait the longest (they waited at the same time)."""
    given = [p for p in parts if p is not None]
    if not given:
        return None
    out = dataclasses.replace(given[0])
    for name in ("submitted", "identified", "with_reply", "tls", "cut_by_bound"):
        setattr(out, name, sum(getattr(p, name) for p in given))
    out.waited = max(p.waited for p in given)
    return out

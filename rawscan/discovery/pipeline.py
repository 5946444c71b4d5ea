"""--discover, pipelined: host discovery runs in a thread over its own sockets while the port
scan scans the hosts found up so far, in waves.

The engine walks a fixed target set in its keyed order, so the port scan is a sequence of
engines, one per wave: a wave is every host found up since the last wave began (the first
waits a moment, GATHER_SECONDS, so that it is not one host). All waves share one transport,
one reporter (writers, tally, banners) and one ScanOutcome; each wave's engine retries only
its own endpoints. Discovery's down hosts are never port scanned, as in nmap's default.

Resume: an interrupted run's resume file holds the hosts found up so far (scanned or still
waiting), their decided endpoints set; hosts discovery had not reached yet are not in it (its
note says so)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..engine import ScanStats
from ..plan import ScanPlan
from ..targets import TargetSet

if TYPE_CHECKING:
    from ..banners import BannerSettings
    from ..output import ResultWriter
    from ..probes.base import ProbeModule
    from ..scan import ScanOutcome
    from ..transports.base import Transport
    from .run import DiscoveryOutcome

GATHER_SECONDS = 0.05  # the first wave waits this long after the first host found up
POLL_SECONDS = 0.05  # how often a wait for hosts looks at a stop request

Opened = tuple[ScanPlan, Any, Any]  # discovery's plan, probe module and transport


class Discovery(threading.Thread):
    """Discovery in a thread: up hosts are queued as they are found (their first checked
    answer), taken by the port scan with take()."""

    def __init__(self, opened: Opened, stop_requested: Callable[[], bool] | None) -> None:
        super().__init__(name="rawscan-discovery", daemon=True)
        self._opened = opened
        self._user_stop = stop_requested
        self._abort = threading.Event()
        self._ready = threading.Condition()
        self._queued: list[str] = []
        self.found: list[str] = []  # every host found up, in the order found
        self.outcome: DiscoveryOutcome | None = None
        self.error: BaseException | None = None
        self.ended = False

    def run(self) -> None:
        from .hosts import HostResult
        from .run import run_discovery

        plan, probe, transport = self._opened

        def on_host(result: HostResult) -> None:
            if result.up:
                with self._ready:
                    self._queued.append(result.ip)
                    self.found.append(result.ip)
                    self._ready.notify()

        try:
            self.outcome = run_discovery(plan, probe, transport, on_host, None, self._stopping)
        except BaseException as exc:  # handed to the port scan's thread, raised there
            self.error = exc
        finally:
            with self._ready:
                self.ended = True
                self._ready.notify()

    @property
    def completed(self) -> bool:
        """Discovery ended having given every host every chance (not stopped, no error)."""
        return self.ended and self.outcome is not None and not self.outcome.stats.interrupted

    def _stopping(self) -> bool:
        return self._abort.is_set() or (self._user_stop is not None and self._user_stop())

    def stop(self) -> None:
        """Stop at discovery's next safe point (the port scan ended early)."""
        self._abort.set()

    def take(self, first: bool, stop_requested: Callable[[], bool] | None) -> list[str]:
        """The hosts found up since the last take: waits for one (then, for the first wave,
        GATHER_SECONDS more); [] once discovery has ended with none left, or on a stop."""
        import time

        with self._ready:
            while not self._queued and not self.ended:
                if stop_requested is not None and stop_requested():
                    return []
                self._ready.wait(POLL_SECONDS)
            if first and self._queued and not self.ended:
                until = time.monotonic() + GATHER_SECONDS
                while not self.ended and time.monotonic() < until:
                    self._ready.wait(until - time.monotonic())
            hosts, self._queued = self._queued, []
            return hosts


class PipelinedScan:
    """api/running.run_plan's runner for --discover (opened: discovery's plan, probe and
    transport, opened with root before the scan's privileges are given up)."""

    def __init__(self, opened: Opened) -> None:
        self.opened = opened
        self.started = False  # the runner ran: it closed discovery's transport itself
        self.discovery: Discovery | None = None

    def __call__(self, plan: ScanPlan, probe: ProbeModule, transport: Transport,
                 writers: Sequence[ResultWriter] = (), *,
                 on_progress: Callable[[ScanStats], None] | None = None,
                 keep_results: bool = False, open_only: bool = False,
                 done: bytes | None = None, stop_requested: Callable[[], bool] | None = None,
                 banners: BannerSettings | None = None, **_: Any) -> ScanOutcome:
        from ..output.tally import ReportTally
        from ..scan import PortReporter, ScanOutcome, engine_for

        self.started = True
        outcome = ScanOutcome(plan, ScanStats(), ReportTally(open_only),
                              [] if keep_results else None)
        reporter = PortReporter(outcome, probe, writers, banners, None)
        discovery = self.discovery = Discovery(self.opened, stop_requested)
        clock = transport.clock
        started = clock.now()
        parts: list[ScanStats] = []
        waves: list[tuple[TargetSet, bytes]] = []
        counted = (0, 0)  # the transport's refused / dropped counts before this wave
        interrupted = ran = False

        sibling = self._sibling(plan, probe, clock)

        def progress(stats: ScanStats) -> None:
            reporter.progress(in_sequence([*parts, stats], clock.now() - started))

        discovery.start()
        try:
            while True:
                hosts = discovery.take(not waves, stop_requested)
                if not hosts:
                    interrupted = not discovery.completed
                    break
                wave = dataclasses.replace(plan, targets=up_targets(plan.targets, hosts))
                engine = engine_for(wave, reporter, transport, stop_requested=stop_requested,
                                    on_progress=progress, sibling=sibling)
                try:
                    stats = engine.run()
                finally:
                    waves.append((wave.targets, engine.decided))
                stats.unsent, stats.kernel_drops = (stats.unsent - counted[0],
                                                    stats.kernel_drops - counted[1])
                counted = (counted[0] + stats.unsent, counted[1] + stats.kernel_drops)
                parts.append(stats)
                if stats.interrupted:
                    interrupted = True
                    break
            ran = True
        finally:
            discovery.stop()
            discovery.join()
            transport.close()
            scanned = up_targets(plan.targets, discovery.found)
            outcome.plan = dataclasses.replace(plan, targets=scanned)
            outcome.decided = decided_in(scanned, len(plan.ports), waves)
            outcome.stats = in_sequence(parts, clock.now() - started)
            outcome.stats.interrupted = interrupted or not ran
            outcome.stats.probes = len(scanned) * len(plan.ports)
            reporter.finish(stop_requested, wait=ran and not interrupted)
        if discovery.error is not None:
            raise discovery.error
        if discovery.outcome is not None:
            outcome.notes.append(discovery_line(plan, discovery.found, discovery.outcome,
                                                self.opened[1]))
        if interrupted and not discovery.completed:
            outcome.notes.append(f"Discovery had not ended: {len(discovery.found)} host(s) found "
                                 f"up so far; hosts it had not found are in no resume file")
        return outcome

    def _sibling(self, plan: ScanPlan, probe: ProbeModule, clock: Any) -> Callable[[bytes], bool]:
        """Is a packet the port scan cannot use an answer to discovery (an ICMP error about a
        ping reaches its socket too), or to an earlier wave? (Then it is no stray.)"""
        from ..scan import probe_for

        pings: Any = probe_for(self.opened[0])  # its own: discovery's keeps state per answer
        pings.now = clock.now
        targets = plan.targets

        def is_ours(packet: bytes) -> bool:
            reply = probe.parse_reply(packet)
            if reply is not None:
                return targets.index(reply.target) is not None
            return pings.parse_reply(packet) is not None

        return is_ours


def up_targets(targets: TargetSet, up: list[str]) -> TargetSet:
    """The hosts found up, as a target set (names kept; TargetSet sorts and merges them)."""
    from ..addresses import parse_addr

    addresses = {parse_addr(ip) for ip in up}
    names = {a: n for a, n in targets.names.items() if a in addresses}
    return TargetSet(tuple((a, a) for a in addresses), names)


def decided_in(scanned: TargetSet, nports: int, waves: list[tuple[TargetSet, bytes]]) -> bytes:
    """The waves' decided endpoints as bits of one scan of `scanned` (every wave's hosts are
    in it; endpoint index = host index x nports + port index, as the engine's)."""
    total = len(scanned) * nports
    if total < 4096:  # no numpy import for a small scan
        bits = bytearray((total + 7) // 8)
        for targets, decided in waves:
            for i, j in _rows(scanned, targets):
                for p in range(nports):
                    src, dst = i * nports + p, j * nports + p
                    if decided[src >> 3] >> (src & 7) & 1:
                        bits[dst >> 3] |= 1 << (dst & 7)
        return bytes(bits)
    import numpy as np

    out = np.zeros((len(scanned), nports), dtype=np.uint8)
    for targets, decided in waves:
        flat = np.unpackbits(np.frombuffer(decided, dtype=np.uint8), bitorder="little")
        rows = flat[:len(targets) * nports].reshape(len(targets), nports)
        pairs = np.array(_rows(scanned, targets), dtype=np.int64).reshape(-1, 2)
        out[pairs[:, 1]] = rows[pairs[:, 0]]
    return np.packbits(out.reshape(-1), bitorder="little").tobytes()


def _rows(scanned: TargetSet, wave: TargetSet) -> list[tuple[int, int]]:
    """(index in the wave, index in scanned) of each of a wave's hosts."""
    pairs: list[tuple[int, int]] = []
    for i in range(len(wave)):
        j = scanned.index(wave.address(i))
        assert j is not None  # a wave's host is one found up
        pairs.append((i, j))
    return pairs


def in_sequence(parts: list[ScanStats], elapsed: float) -> ScanStats:
    """Waves' statistics, one after the other, as one scan's: counts summed, rates the
    first rounds' (weighted by what each sent), rounds the most any wave took."""
    from ..workers import combined

    out = combined(parts, elapsed)
    sent = sum(s.first_round_sent for s in parts)
    out.send_rate = (sum(s.send_rate * s.first_round_sent for s in parts) / sent) if sent else 0.0
    out.max_rate = max((s.max_rate for s in parts), default=0.0)
    out.path_rate = parts[-1].path_rate if parts else 0.0
    return out


def discovery_line(plan: ScanPlan, up: list[str], outcome: Any, probe: Any) -> str:
    """The report's line about a finished discovery (the CLI's, and the library's summary)."""
    s = outcome.stats
    reasons = ", ".join(f"{r} {n}" for r, n in sorted(outcome.down_reasons.items(), key=lambda kv: -kv[1]))
    skipped = len(plan.targets) - len(up)
    return (f"Discovery ({', '.join(k.text for k in probe.kinds)}; {s.sent} probes, "
            f"{s.elapsed:.2f} s): {len(up)} of {len(plan.targets)} host(s) up; "
            f"{skipped} skipped as down" + (f" ({reasons})" if reasons else "")
            + "; each up host was port scanned as it was found")

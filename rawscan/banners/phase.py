"""The banner phase: grabs run in a thread of their own while the SYN scan goes on.

The engine's thread only hands each open port over (submit: one call_soon_threadsafe) and
later takes finished results back (ready); every connect, handshake and read happens on an
asyncio loop in the banner thread, at most `concurrency` at once. After the engine ends, the
scan waits for the grabs still running, but never longer than the banner timeout after the
last port was handed over; what is unfinished then is reported with what it has.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import threading
import time
from collections.abc import Callable

from ..results import PortResult
from . import BannerSettings
from .dns import grab_version
from .grab import Grab, grab

SLACK = 0.25  # seconds past the bound for cancelled grabs to report themselves
CUT_NOTE = "not grabbed: the banner phase's bound was reached"


def connection_slots(wanted: int) -> int:
    """wanted, or fewer if this process may not open that many more files (a connect
    failing with EMFILE would cost the port its banner)."""
    import resource

    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - 128))  # the engine's sockets and output files first


def enriched(result: PortResult, found: Grab) -> PortResult:
    """result with what the grab learned; the service name is the identified one, if any."""
    identity = found.identity
    return dataclasses.replace(
        result,
        service=identity.service if identity else result.service,
        product=identity.product if identity else None,
        version=identity.version if identity else None,
        extrainfo=identity.extrainfo if identity else None,
        banner=found.banner, tls=found.tls, probed=identity is not None,
        conf=identity.conf if identity else None, banner_note=found.note,
    )


def dns_enriched(result: PortResult, found: Grab) -> PortResult:
    """A DNS port's result (already with what its reply showed) with its version.bind
    answer: the product and version named, the reply's facts kept; unchanged without one."""
    identity = found.identity
    if identity is None:
        return result
    return dataclasses.replace(
        result, service="domain", product=identity.product, version=identity.version,
        extrainfo=result.extrainfo, banner=found.banner, probed=True, conf=identity.conf)


@dataclasses.dataclass
class BannerStats:
    submitted: int = 0
    identified: int = 0
    with_reply: int = 0
    tls: int = 0
    cut_by_bound: int = 0
    waited: float = 0.0  # seconds the scan waited for banners after the engine ended

    def summary(self) -> str:
        line = (f"Banners: {self.submitted} open port(s) connected, {self.with_reply} answered, "
                f"{self.identified} identified, {self.tls} over TLS; the scan waited "
                f"{self.waited:.2f} s for them after its last probe round")
        if self.cut_by_bound:
            line += f"; {self.cut_by_bound} cut off by the phase's bound"
        return line


class BannerPhase:
    """settings: the bounds. dns: the ports handed over are open 53/udp ones, asked for
    version.bind (banners/dns.py) instead of connected to."""

    def __init__(self, settings: BannerSettings, dns: bool = False) -> None:
        self.settings = settings
        self._dns = dns
        self.stats = BannerStats()
        self._ready: collections.deque[PortResult] = collections.deque()
        self._lock = threading.Lock()
        self._pending = 0
        self._unreported: dict[int, PortResult] = {}  # submitted, not yet in _ready
        self._serial = 0
        self._last_submit = time.monotonic()
        self._loop = asyncio.new_event_loop()
        self._slots: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._thread = threading.Thread(target=self._run, name="rawscan-banners", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._slots = asyncio.Semaphore(connection_slots(self.settings.concurrency))
        self._loop.run_forever()
        self._loop.close()

    # --- the engine's thread ---

    def submit(self, result: PortResult) -> None:
        with self._lock:
            self._pending += 1
            self.stats.submitted += 1
            self._last_submit = time.monotonic()
            self._serial += 1
            self._unreported[self._serial] = result
            key = self._serial
        self._loop.call_soon_threadsafe(self._spawn, key, result)

    def ready(self) -> list[PortResult]:
        done = []
        while self._ready:
            done.append(self._ready.popleft())
        return done

    @property
    def pending(self) -> int:
        return self._pending

    def finish(self, emit: Callable[[PortResult], None],
               stop_requested: Callable[[], bool] | None = None, wait: bool = True) -> None:
        """Emit every result: those that finish within the bound (the banner timeout after
        the last submit), then the rest as they are. wait=False: cancel at once (Ctrl-C)."""
        started = time.monotonic()
        # the last port's own deadline, plus the loop's latency in starting it
        bound = self._last_submit + self.settings.timeout + SLACK
        while wait and self._pending and time.monotonic() < bound:
            if stop_requested is not None and stop_requested():
                break
            for result in self.ready():
                emit(result)
            time.sleep(0.02)
        if self._pending:
            self._loop.call_soon_threadsafe(self._cancel_all)
            give_up = time.monotonic() + SLACK
            while self._pending and time.monotonic() < give_up:
                time.sleep(0.005)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(SLACK)
        with self._lock:  # cancelled before they began: reported as they are
            left, self._unreported = list(self._unreported.values()), {}
        self.stats.cut_by_bound += len(left)
        for result in self.ready():
            emit(result)
        for result in left:
            emit(enriched(result, Grab(note=CUT_NOTE)))
        self.stats.waited = time.monotonic() - started

    # --- the banner thread ---

    def _spawn(self, key: int, result: PortResult) -> None:
        task = self._loop.create_task(self._one(key, result))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    async def _one(self, key: int, result: PortResult) -> None:
        found = Grab(note=CUT_NOTE)
        try:
            assert self._slots is not None
            async with self._slots:
                if self._dns:
                    found = await grab_version(result.ip, result.port, self.settings.timeout)
                else:
                    found = await grab(result.ip, result.port, result.host, self.settings.timeout)
        except asyncio.CancelledError:
            self.stats.cut_by_bound += 1
        except Exception as exc:  # a bug must cost one port's banner, never the scan
            found = Grab(note=f"banner grab failed: {type(exc).__name__}")
        stats = self.stats
        stats.identified += found.identity is not None
        stats.with_reply += bool(found.reply)
        stats.tls += found.tls is not None and found.tls.ok
        with self._lock:
            self._pending -= 1
            if self._unreported.pop(key, None) is not None:
                self._ready.append(dns_enriched(result, found) if self._dns
                                   else enriched(result, found))

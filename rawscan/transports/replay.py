"""Replay: answer the engine's probes from a recorded scan, in virtual time, with no network.

Each recorded reply is tied to the recorded transmission it answered (the n-th send of a probe
for the same endpoint) and its delay after it; when the engine sends that probe for the n-th
time, the reply is scheduled the same delay later. Replies tied to no probe (stray, forged)
arrive at their original offset from the scan's start. So the real engine logic (retries,
timeouts, validation) runs against what the network really did.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable, Iterable
from itertools import count

from ..probes.base import Flow
from .base import Received, SendsOneByOne

_Endpoint = tuple[int, int]


class VirtualClock:
    def __init__(self, wall_start: float) -> None:
        self._now = 0.0
        self._wall_start = wall_start

    def now(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._wall_start + self._now

    def advance_to(self, t: float) -> None:
        self._now = max(self._now, t)


class ReplayTransport(SendsOneByOne):
    def __init__(
        self, recording: Iterable[tuple[float, bytes]], flow_of: Callable[[bytes], Flow | None]
    ) -> None:
        self._flow_of = flow_of
        self._answers: dict[tuple[_Endpoint, int], list[tuple[float, bytes]]] = defaultdict(list)
        self._unprompted: list[tuple[float, bytes]] = []
        self._sent_count: dict[_Endpoint, int] = defaultdict(int)
        self._queue: list[tuple[float, int, bytes]] = []
        self._order = count()
        self._index(recording)
        self.clock = VirtualClock(self._start)
        for offset, packet in self._unprompted:
            self._schedule(offset, packet)

    def _index(self, recording: Iterable[tuple[float, bytes]]) -> None:
        last_probe: dict[_Endpoint, tuple[float, int]] = {}
        transmissions: dict[_Endpoint, int] = defaultdict(int)
        start: float | None = None
        for when, packet in recording:
            if start is None:
                start = when
            flow = self._flow_of(packet)
            if flow is None:
                self._unprompted.append((when - start, packet))
                continue
            endpoint = (flow.target, flow.port)
            if flow.is_probe:
                last_probe[endpoint] = (when, transmissions[endpoint])
                transmissions[endpoint] += 1
            elif endpoint in last_probe:
                sent_at, nth = last_probe[endpoint]
                self._answers[(endpoint, nth)].append((when - sent_at, packet))
            else:
                self._unprompted.append((when - start, packet))
        self._start = start or 0.0
        self.recorded_probes = sum(transmissions.values())

    def _schedule(self, at: float, packet: bytes) -> None:
        heapq.heappush(self._queue, (at, next(self._order), packet))

    def send(self, packet: bytes) -> None:
        flow = self._flow_of(packet)
        if flow is None or not flow.is_probe:
            return
        endpoint = (flow.target, flow.port)
        nth = self._sent_count[endpoint]
        self._sent_count[endpoint] += 1
        now = self.clock.now()
        for delay, reply in self._answers.get((endpoint, nth), ()):
            self._schedule(now + delay, reply)

    def receive(self, deadline: float) -> list[Received]:
        if not self._queue or self._queue[0][0] > deadline:
            self.clock.advance_to(deadline)
            return []
        first = self._queue[0][0]
        self.clock.advance_to(first)
        received = []
        while self._queue and self._queue[0][0] <= first:
            _at, _n, packet = heapq.heappop(self._queue)
            received.append(Received(packet, self.clock.wall()))
        return received

    def close(self) -> None:
        self._queue.clear()

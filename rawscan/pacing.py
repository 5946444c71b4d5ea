"""Token-bucket pacing: exact at low rates, a small burst allowance at high ones; with a
bandwidth, a second bucket in bits on the wire (each batch charged its frames' size)."""

from __future__ import annotations

BURST_SECONDS = 0.01  # credit saved while busy elsewhere (receiving, building) may be spent later
BURST_PROBES = 64  # ... but never more probes at once than this: a reply burst above the
#                     receiver's backlog (1,000 packets on Linux) is dropped at the veth


class Pacer:
    def __init__(self, rate: float, start: float, bandwidth: float | None = None) -> None:
        if rate <= 0 or (bandwidth is not None and bandwidth <= 0):
            raise ValueError("rate and bandwidth must be positive")
        self._next = start
        self.bandwidth = bandwidth  # bits per second on the wire, or None
        self._bits_next = start
        # as for probes: a burst of at most BURST_PROBES minimal (84-byte) frames' worth
        frame = 672 / bandwidth if bandwidth else 0.0
        self._bits_credit = max(frame, min(BURST_SECONDS, BURST_PROBES * frame))
        self.set_rate(rate)

    def set_rate(self, rate: float) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.interval = 1.0 / rate
        # at least one packet, so a low --rate stays exact
        self._credit = max(self.interval, min(BURST_SECONDS, BURST_PROBES * self.interval))

    def next_slot(self) -> float:
        """The earliest time the next packet (or batch) may be sent."""
        return max(self._next, self._bits_next)

    def due(self, now: float) -> int:
        """Probes whose slots have come by now, as many as the bucket's credit allows at once
        (0: the next slot is still ahead). With a bandwidth, 1: frames' sizes vary."""
        if now < self._next:
            return 0
        if self.bandwidth is not None:
            return 1
        return int((now - max(self._next, now - self._credit)) * self.rate + 1e-6) + 1

    def take(self, now: float, packets: int = 1, bits: int = 0) -> None:
        """Account for packets sent at now (`bits` on the wire, for the bandwidth's bucket)."""
        self._next = max(self._next, now - self._credit) + packets * self.interval
        if self.bandwidth is not None:
            self._bits_next = max(self._bits_next, now - self._bits_credit) + bits / self.bandwidth

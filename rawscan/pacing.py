"""Token-bucket pacing: exact at low rates, a small burst allowance at high ones."""

from __future__ import annotations


class Pacer:
    def __init__(self, rate: float, start: float) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        # Credit saved while busy elsewhere (receiving, building) may be spent later, but only
        # up to 10 ms worth, and at least one packet, so a low --rate stays exact.
        self._credit = max(self.interval, 0.01)
        self._next = start

    def next_slot(self) -> float:
        """The earliest time the next packet (or batch) may be sent."""
        return self._next

    def take(self, now: float, packets: int = 1) -> None:
        """Account for packets sent at now."""
        self._next = max(self._next, now - self._credit) + packets * self.interval

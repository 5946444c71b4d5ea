"""The interface between the engine and whatever carries its packets."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Received:
    packet: bytes  # from the IP header on
    wall_time: float  # epoch seconds, for captures


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on a monotonic scale; the engine's only notion of time."""

    def wall(self) -> float:
        """Epoch seconds matching now(), for timestamps written to captures."""


class Transport(Protocol):
    clock: Clock

    def send(self, packet: bytes) -> None:
        """Put one IPv4 packet on the wire."""

    def receive(self, deadline: float) -> list[Received]:
        """Replies that arrive before deadline (clock.now() scale); [] once it has passed."""

    def close(self) -> None: ...


class SystemClock:
    """Real time."""

    def __init__(self) -> None:
        self._offset = time.time() - time.monotonic()

    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.monotonic() + self._offset

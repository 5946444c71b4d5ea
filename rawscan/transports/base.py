"""The interface between the engine and whatever carries its packets."""

from __future__ import annotations

import time
from typing import NamedTuple, Protocol


class Received(NamedTuple):  # one per reply: a tuple is the cheapest object to make
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
        """Put one IP packet (IPv4 or IPv6, from its IP header on) on the wire."""

    def send_batch(self, packets: list[bytes]) -> None:
        """Put several packets on the wire at once (one system call on the live transport)."""

    def drain(self) -> None:
        """Return once every packet handed over has left (a transport may send in the
        background)."""

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


class SendsOneByOne:
    """send_batch for transports where batching gains nothing (replay, simulations)."""

    def send(self, packet: bytes) -> None:
        raise NotImplementedError

    def send_batch(self, packets: list[bytes]) -> None:
        for packet in packets:
            self.send(packet)

    def drain(self) -> None:
        pass

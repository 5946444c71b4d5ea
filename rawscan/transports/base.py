"""The interface between the engine and whatever carries its packets.

A transport puts probes on a wire and hands back what came in, on its own clock:

    transport.send_batch(probes)            # list of bytes, or a 2-D uint8 numpy array
    transport.drain()                       # every probe handed over has left
    for reply in transport.receive(deadline): ...   # [] once deadline has passed
    transport.counters()                    # what the kernel saw: deliveries, drops, refusals
    transport.close()

Live (raw sockets), replay (a recorded pcap, in virtual time), recording (a pcap around
either) and the tests' simulated networks all implement it; the engine knows no other.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, Union

if TYPE_CHECKING:
    from ..vector import Frames


class Received(NamedTuple):  # one per reply: a tuple is the cheapest object to make
    packet: bytes  # from the IP header on
    wall_time: float  # epoch seconds, for captures


Replies = Union[list[Received], "Frames"]  # Frames: a numpy batch (the live receive ring)
Probes = Union[list[bytes], Any]  # Any: a 2-D uint8 numpy array, one probe per row


class Counters(NamedTuple):
    """Cumulative counts since the transport was opened."""

    delivered: int | None = None  # packets that passed the capture filter (None: not known)
    dropped: int = 0  # of those, dropped before we read them (receive queue or ring full)
    send_errors: int = 0  # sends the kernel refused for lack of buffer space (retried)
    refused: int = 0  # probes the host would not send at all (no route, local firewall)
    sent: int | None = None  # packets that have left (None: as handed over, no queue between)


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on a monotonic scale; the engine's only notion of time."""

    def wall(self) -> float:
        """Epoch seconds matching now(), for timestamps written to captures."""


class Transport(Protocol):
    @property
    def clock(self) -> Clock: ...

    def send(self, packet: bytes) -> None:
        """Put one IP packet (IPv4 or IPv6, from its IP header on) on the wire."""

    def send_batch(self, packets: Probes) -> None:
        """Put several packets on the wire at once, in order (the live transport: one
        system call, from its sending thread). A numpy batch holds IPv4 probes of one
        length."""

    def drain(self) -> None:
        """Return once every packet handed over has left (a transport may send in the
        background)."""

    def receive(self, deadline: float) -> Replies:
        """Replies that arrive before deadline (clock.now() scale); empty once it has passed.
        Returns within a short while (at most 0.05 s on the live transport) even when the
        deadline is later, so the engine can look at stop requests."""

    def counters(self) -> Counters:
        """What the transport's kernel side counted so far."""

    def close(self) -> None: ...


class SystemClock:
    """Real time."""

    def __init__(self) -> None:
        self._offset = time.time() - time.monotonic()

    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.monotonic() + self._offset


def probe_list(packets: Probes) -> list[bytes]:
    """A batch as bytes, one per probe (numpy rows too)."""
    if isinstance(packets, list):
        return packets
    return [row.tobytes() for row in packets]


class SendsOneByOne:
    """send_batch for transports where batching gains nothing (replay, simulations)."""

    def send(self, packet: bytes) -> None:
        raise NotImplementedError

    def send_batch(self, packets: Probes) -> None:
        for packet in probe_list(packets):
            self.send(packet)

    def drain(self) -> None:
        pass

    def counters(self) -> Counters:
        return Counters()

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
    """The engine's only source of time: every timeout, pace and RTT is measured on it.

    now() never goes backwards. A live clock runs by itself (SystemClock); a virtual one
    (replay, the tests' simulated networks) moves only when its transport's receive() waits,
    so a scan in virtual time takes no real time and repeats exactly."""

    def now(self) -> float:
        """Seconds on a monotonic scale (any origin)."""
        ...

    def wall(self) -> float:
        """Epoch seconds matching now(), for timestamps written to captures."""
        ...


class Transport(Protocol):
    """What carries the engine's packets: the one seam between scanning logic and the network.

    The engine is the only caller, from one thread. What an implementation must do:

    - Packets are IP datagrams, IPv4 or IPv6, from the IP header on, both ways: the
      transport adds and strips any link layer.
    - send() and send_batch() put packets on the wire in the order given and may return
      before they have left (the live one hands batches to a sending thread); drain()
      returns once every one has. A probe the host refuses to send (no route, a local
      firewall) is not an error: it is counted in counters().refused and the scan goes on,
      as if it was lost. Errors that end the scan (the sending thread died) are raised,
      from the call that finds them.
    - receive(deadline) returns what has arrived, possibly before the deadline: at most
      about 0.05 s late on a live transport even when the deadline is later (the engine
      checks for stop requests between calls), and [] once the deadline has passed with
      nothing there. A virtual clock is advanced to the next arrival or to the deadline.
      Replies are every packet that passed the probe module's filter, unjudged: validation
      is the probe module's.
    - counters() are cumulative since the transport was opened and never decrease.
    - close() releases everything (sockets, the sending thread, a recording's file); the
      transport is not used after it.

    Implementations: transports/live.py (raw sockets), transports/replay.py (a recorded
    scan, in virtual time), transports/recording.py (a pcap of another transport's
    traffic), and the tests' simulated networks (tests/support/simnet.py). The smallest is a
    SendsOneByOne subclass with a clock, send(), receive() and close():

        class Loopback(SendsOneByOne):
            def __init__(self) -> None:
                self.clock = VirtualClock(0.0)
                self._queue: list[Received] = []
            def send(self, packet: bytes) -> None:
                self._queue.append(Received(packet, self.clock.wall()))
            def receive(self, deadline: float) -> list[Received]:
                got, self._queue = self._queue, []
                if not got:
                    self.clock.advance_to(deadline)
                return got
            def close(self) -> None: ...
    """

    @property
    def clock(self) -> Clock:
        """This transport's time (a plain attribute satisfies it)."""
        ...

    def send(self, packet: bytes) -> None:
        """Put one IP packet on the wire."""
        ...

    def send_batch(self, packets: Probes) -> None:
        """Put several packets on the wire at once, in order (the live transport: one
        system call, from its sending thread). A numpy batch holds IPv4 probes of one
        length, one per row."""
        ...

    def drain(self) -> None:
        """Return once every packet handed over has left."""
        ...

    def receive(self, deadline: float) -> Replies:
        """Replies that have arrived, or that arrive before deadline (clock.now() scale);
        [] if none has by then."""
        ...

    def counters(self) -> Counters:
        """What the transport's kernel side counted so far."""
        ...

    def close(self) -> None:
        """Release what the transport holds; it is not used after this."""
        ...


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

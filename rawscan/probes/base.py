"""What every probe module provides to the engine and the replay transport."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from ..addresses import addr_to_str
from ..results import Verdict

if TYPE_CHECKING:
    import numpy as np

    from ..vector import Frames
    from .batch_common import Judged


class Reply(NamedTuple):
    """A validated reply: which endpoint it is about and what it says (a tuple: one is made
    per reply, and tuples are the cheapest objects to make)."""

    target: int  # address as int (see addresses.py)
    port: int
    verdict: Verdict
    icmp: bool = False  # an ICMP error: hosts and routers rate-limit those


@dataclass(frozen=True, slots=True)
class Flow:
    """Which endpoint a packet of this scan's conversation belongs to (used by replay)."""

    target: int
    port: int
    is_probe: bool


class Batcher(Protocol):
    """A probe module's numpy path (probes/syn_batch.py): the same probes and the same
    judgements as build_batch() and parse_reply(), on arrays, for large IPv4 scans."""

    def build(self, endpoints: np.ndarray, attempt: int) -> np.ndarray:
        """One probe per row for these endpoint indexes (host index * ports + port index),
        in their order, each row byte-equal to build() of the same endpoint."""
        ...

    def judge(self, frames: Frames) -> Judged:
        """The rows that decide an endpoint, with the verdict parse_reply() would give;
        every row it cannot judge as parse_reply() would (ICMP errors, IP options, IPv6...)
        goes to Judged.slow for the per-packet path; the rest are strays."""
        ...


class ProbeModule(ABC):
    """Makes probes from a template, validates replies statelessly and classifies them.

    As in zmap's probe_modules.h, what a module may assume and what it must guarantee:

    - Constant per scan: the module is made once, with the scan's source addresses, source
      port(s) and cookie key, before the first probe, and is never told anything after; it
      builds the template parts once (crafting.py), and per probe writes only the fields
      that change (destination, ports, cookie, IP id, checksums).
    - build(target, port, attempt) is pure: the same arguments give the same bytes (a
      replay regenerates every probe of a recording byte for byte). attempt counts the
      endpoint's retransmissions from 0; a module may move a retransmission to another
      source address or port (pick_source), and must still accept replies to every attempt.
    - build_batch(targets, ports, attempt) returns exactly one probe per (target, port)
      pair, in the pairs' order, each byte-equal to build() of that pair (faster copies of
      build() are held to it by tests/probes/test_batches.py). The engine sends them in that
      order; nothing else about the order is the module's business (the engine's cyclic walk
      chooses it).
    - Validation is apart from classification and keeps no per-probe state: parse_reply()
      gets every packet that passed bpf_filter() (from the IP header on, possibly cut to
      reply_bytes: the receive ring's frames are sized by it), from anyone, and returns a Reply only when the packet
      proves it answers one of this scan's probes (the keyed cookie echoed, the ports ours);
      anything else (strays, another scan's replies, forgeries, truncated or malformed
      packets) is None, never an exception. The verdict is rawscan.classify's, a pure table.
    - flow() names the endpoint of a probe or a reply without judging it (replay ties each
      recorded reply to the probe it answered with it); silence() is the verdict of an
      endpoint nothing answered.
    - The engine calls every method from one thread; batcher() only for scans large enough
      to pay for numpy's import.
    """

    proto: str  # "tcp" or "udp": the port namespace this module scans
    name: str
    # Does an ICMP error give a port another state than silence would? (UDP: closed against
    # open|filtered; SYN: filtered either way, so rate-limited ICMP errors are not waited for.)
    icmp_decides_state: bool = True
    reply_bytes: int = 2048  # bytes of a reply that validation and reports may read
    # Are answers about hosts, not ports (discovery)? Then a host's first checked answer
    # decides all its endpoints, which are not probed again.
    decides_host: bool = False

    def applies(self, target: int, port: int) -> bool:
        """Is the endpoint probed at all? (Discovery: an IPv6 host gets no ICMP timestamp
        request.) Asked of V6 itself for "any IPv6 host"."""
        return True

    def batcher(self, targets: Any, ports: tuple[int, ...]) -> Batcher | None:
        """A numpy batch builder and judge for this scan (see probes/syn_batch.py), or None
        where the module has none or the scan does not suit it; the engine then works per
        item. Called only for large scans: it may import numpy."""
        return None

    @abstractmethod
    def bpf_filter(self) -> str:
        """A pcap filter letting through only packets that could answer our probes (a
        superset: parse_reply() decides)."""

    @abstractmethod
    def build(self, target: int, port: int, attempt: int = 0) -> bytes:
        """The IP packet (the target's family) probing target:port; attempt counts
        retransmissions from 0."""

    def build_batch(self, targets: list[int], ports: list[int], attempt: int = 0) -> list[bytes]:
        """build() for each (target, port) pair, in order; modules may do it faster."""
        return [self.build(t, p, attempt) for t, p in zip(targets, ports)]

    @abstractmethod
    def parse_reply(self, packet: bytes) -> Reply | None:
        """A validated reply to one of our probes, or None (stray, forged, unrelated)."""

    @abstractmethod
    def flow(self, packet: bytes) -> Flow | None:
        """The endpoint a probe or reply belongs to, without judging the reply."""

    @abstractmethod
    def silence(self) -> Verdict:
        """What no reply at all means for this probe type."""


def pick_source(sources: tuple[int, ...], target: int, port: int, attempt: int) -> int:
    """Spread probes over our source addresses, and move each retransmission to the next one:
    ICMP rate limits are per (host, our address), so each address brings its own budget."""
    if len(sources) == 1:
        return sources[0]
    return sources[(target * 7 + port * 13 + attempt) % len(sources)]


def bpf_to_us(sources: tuple[int, ...]) -> str:
    return "(" + " or ".join(f"dst host {addr_to_str(s)}" for s in sources) + ")"


# ICMP destination unreachable and time exceeded; ICMPv6 the same (types 1 and 3; the type
# byte is at ip6[40] when no extension header comes first, as in errors from Linux)
ICMP_ERRORS_BPF = ("((icmp and (icmp[0] == 3 or icmp[0] == 11))"
                   " or (icmp6 and (ip6[40] == 1 or ip6[40] == 3)))")

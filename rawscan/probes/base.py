"""What every probe module provides to the engine and the replay transport."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..addresses import addr_to_str
from ..results import Verdict


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


class ProbeModule(ABC):
    """Makes probes from a template, validates replies statelessly and classifies them."""

    proto: str  # "tcp" or "udp": the port namespace this module scans
    name: str
    # Does an ICMP error give a port another state than silence would? (UDP: closed against
    # open|filtered; SYN: filtered either way, so rate-limited ICMP errors are not waited for.)
    icmp_decides_state: bool = True
    reply_bytes: int = 2048  # bytes of a reply that validation and reports may read

    def batcher(self, targets: Any, ports: tuple[int, ...]) -> Any:
        """A numpy batch builder and judge for this scan (see probes/syn_batch.py), or None
        where the module has none or the scan does not suit it; the engine then works per
        item. Called only for large scans: it may import numpy."""
        return None

    @abstractmethod
    def bpf_filter(self) -> str:
        """A pcap filter letting through only packets that could answer our probes."""

    @abstractmethod
    def build(self, target: int, port: int, attempt: int = 0) -> bytes:
        """The IPv4 packet probing target:port; attempt counts retransmissions from 0."""

    def build_batch(self, targets: list[int], ports: list[int], attempt: int = 0) -> list[bytes]:
        """build() for each (target, port) pair; modules may do it faster."""
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

"""What every probe module provides to the engine and the replay transport."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from ..results import Verdict


@dataclass(frozen=True, slots=True)
class Reply:
    """A validated reply: which endpoint it is about and what it says."""

    target: int  # IPv4 address as int
    port: int
    verdict: Verdict


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

    @abstractmethod
    def bpf_filter(self) -> str:
        """A pcap filter letting through only packets that could answer our probes."""

    @abstractmethod
    def build(self, target: int, port: int) -> bytes:
        """The IPv4 packet probing target:port."""

    @abstractmethod
    def parse_reply(self, packet: bytes) -> Reply | None:
        """A validated reply to one of our probes, or None (stray, forged, unrelated)."""

    @abstractmethod
    def flow(self, packet: bytes) -> Flow | None:
        """The endpoint a probe or reply belongs to, without judging the reply."""

    @abstractmethod
    def silence(self) -> Verdict:
        """What no reply at all means for this probe type."""

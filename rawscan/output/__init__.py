"""Result writers: each takes PortResults as they are learned and finishes on close.

A writer is told what the run is (RunInfo) when it opens and how it ended (RunSummary) when it
closes; close() without a summary means the run died, and the writer still ends its document.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

from ..results import PortResult

OPEN_STATES = frozenset({"open", "open|filtered", "unfiltered"})  # what --open keeps (as nmap's)


@dataclass(frozen=True)
class RunInfo:
    """What a writer needs to know about the run before the first result."""

    scan: str  # probe module: "syn", "udp"
    proto: str  # "tcp" or "udp"
    ports: tuple[int, ...]
    total_hosts: int
    argv: tuple[str, ...] = ()  # rawscan's arguments, without the program name
    started: float = field(default_factory=time.time)  # epoch seconds
    open_only: bool = False  # --open: write only open and open|filtered ports
    banners: bool = False  # --banners: records carry product, version, banner, tls
    shard: dict[str, object] | None = None  # a sharded plan's record (output/shardinfo.py)

    @property
    def command_line(self) -> str:
        import shlex

        return shlex.join(("rawscan", *self.argv))

    def shown(self, result: PortResult) -> bool:
        return not self.open_only or result.state in OPEN_STATES


@dataclass(frozen=True)
class RunSummary:
    """How the run ended, for the writers' closing records."""

    elapsed: float
    interrupted: bool = False

    def finished(self, info: RunInfo) -> float:
        # Start plus the engine's elapsed time: right for live scans and for replays
        # (whose clock is the recording's), unlike the wall clock at close time.
        return info.started + self.elapsed


class ResultWriter(Protocol):
    """Where results go (a file format, the human table, a library caller's list).

    - A writer is opened knowing the run (RunInfo) and is given each PortResult once, as it
      is learned: final answers during the scan, in no particular order (the keyed walk's);
      ICMP-decided and silent endpoints at the end. It keeps what its format needs and no
      more (documents grouped by host hold a host's ports until the host is complete).
    - write() never raises into the scan: a write error is reported to output/failures.py
      (one line, that output dropped, the run told), and later writes are dropped.
    - close(summary) is called exactly once, also when the run is interrupted or fails
      (summary None: the run died), and always ends the document, so an interrupted run
      leaves a whole file. Nothing is written after it.
    - A writer may also have flush(): then the scan calls it at each progress tick, so what
      was written is on disk within a tick.
    """

    def write(self, result: PortResult) -> None:
        """Take one result (once per endpoint)."""
        ...

    def close(self, summary: RunSummary | None = None) -> None:
        """End the output; summary None means the run died."""
        ...

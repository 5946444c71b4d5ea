"""A Transport wrapper that delays, jitters, duplicates and so reorders the replies it hands on.

Why here and not in the kernel: this kernel has no netem qdisc, nftables cannot hold a packet
back, and an NFQUEUE program would need a binding that is not installed (netfilterqueue is a
C extension: a new dependency and a build) or a hand-written netlink client, and would still
have to hold the packets in user space to delay them. Wrapping the live transport in the
scanner process gives the engine exactly what a slow, duplicating, reordering path gives it (the
same bytes, later, twice, out of order), seeded and counted, so a test can check the faults
really happened. What it does not exercise: the kernel's own handling of late packets, which
sits below the AF_PACKET socket and is the same whatever the delay.

Only receive(deadline) is overridden; everything else (send, send_batch, clock, close, whatever
the engine uses next) is delegated, so the wrapper stays valid while the engine changes.

As a script, run inside the scanner namespace, it is a rawscan command line with the live
transport wrapped:

    python3 tests/support/fault_transport.py --delay 0.2 --jitter 0.05 --duplicate 0.2 \
        --report faults.json -- syn 198.18.0.2 -p 1-300 -oJ out.jsonl
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import random
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass
class FaultCounts:
    received: int = 0  # packets the real transport returned
    delivered: int = 0  # packets handed to the engine, copies included
    duplicates_delivered: int = 0  # second copies handed on
    pairs_delivered: int = 0  # duplicated packets of which both copies were handed on
    reordered: int = 0  # handed on after a packet that arrived later
    min_delay: float = float("inf")
    max_delay: float = 0.0


class FaultyReceive:
    """Hold every received packet for delay +- jitter seconds (uniform), and a second copy of a
    `duplicate` share of them for an independent delay; hand them on when due."""

    def __init__(self, inner: Any, delay: float, jitter: float, duplicate: float,
                 seed: int = 0) -> None:
        if not 0 <= jitter <= delay:
            raise ValueError("jitter must be within 0..delay")
        self._inner = inner
        self._delay, self._jitter, self._duplicate = delay, jitter, duplicate
        self._random = random.Random(seed)
        # (due, arrival no., duplicated, this is the copy, delay, item)
        self._held: list[tuple[float, int, bool, bool, float, Any]] = []
        self._half_delivered: set[int] = set()  # duplicated arrivals with one copy handed on
        self._arrivals = itertools.count()
        self._latest_delivered = -1
        self.counts = FaultCounts()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)  # only reached for what this class does not define

    def _hold(self, item: Any, now: float) -> None:
        self.counts.received += 1
        number = next(self._arrivals)
        copies = 2 if self._random.random() < self._duplicate else 1
        for copy in range(copies):
            delay = self._delay + self._random.uniform(-self._jitter, self._jitter)
            heapq.heappush(self._held, (now + delay, number, copies > 1, copy > 0, delay, item))

    def _due(self, now: float) -> list[Any]:
        out = []
        while self._held and self._held[0][0] <= now:
            _due, number, duplicated, is_copy, delay, item = heapq.heappop(self._held)
            c = self.counts
            c.delivered += 1
            c.duplicates_delivered += is_copy
            if duplicated:
                if number in self._half_delivered:
                    c.pairs_delivered += 1
                    self._half_delivered.discard(number)
                else:
                    self._half_delivered.add(number)
            c.min_delay, c.max_delay = min(c.min_delay, delay), max(c.max_delay, delay)
            if number < self._latest_delivered:
                c.reordered += 1
            self._latest_delivered = max(self._latest_delivered, number)
            out.append(item)
        return out

    def receive(self, deadline: float) -> list[Any]:
        clock = self._inner.clock
        while True:
            now = clock.now()
            ready = self._due(now)
            if ready or now >= deadline:
                return ready
            wake = min(deadline, self._held[0][0]) if self._held else deadline
            for item in self._inner.receive(wake):
                self._hold(item, clock.now())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--jitter", type=float, default=0.05)
    parser.add_argument("--duplicate", type=float, default=0.2)
    parser.add_argument("--fault-seed", type=int, default=0)
    parser.add_argument("--report", type=Path, required=True,
                        help="write the FaultCounts here (JSON)")
    parser.add_argument("rawscan_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    rawscan_args = args.rawscan_args[1:] if args.rawscan_args[:1] == ["--"] else args.rawscan_args

    # Patch before the command modules are imported, so however they import it they get this.
    import rawscan.transports.live as live

    real = live.LiveTransport
    made: list[FaultyReceive] = []

    def wrapped(*a: Any, **kw: Any) -> FaultyReceive:
        transport = FaultyReceive(real(*a, **kw), args.delay, args.jitter, args.duplicate,
                                  args.fault_seed)
        made.append(transport)
        return transport

    live.LiveTransport = wrapped  # type: ignore[assignment,misc]
    # The command-line app itself, not rawscan.cli.main: main() ends in os._exit, which would
    # skip writing the report below.
    from rawscan.cli import app

    sys.argv = ["rawscan", *rawscan_args]
    code: int | str | None = 0
    try:
        app()
    except SystemExit as exc:
        code = exc.code
    finally:
        counts = [asdict(t.counts) for t in made]
        args.report.write_text(json.dumps({"transports": counts}))
    return code if isinstance(code, int) else (0 if code is None else 1)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Ctrl-C, SIGTERM and SIGHUP during a scan: a request to stop, never an exception mid-step.

Python raises KeyboardInterrupt between any two bytecodes. Raised inside a queue or lock
hand-off (the sending thread's) it can deadlock the process or corrupt the lock; raised
between marking an endpoint as reported and handing its result to the writers, it would lose
that result from both the output and the resume file. So while a scan runs, these signals
only set a flag (requested()), which the engine checks at the points where stopping is safe.
SIGHUP (an SSH session that dropped) is treated as SIGTERM: results are kept and resumable.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_pending = False


def handler(_signum: int, _frame: object) -> None:
    global _pending
    _pending = True


def requested() -> bool:
    """Has a stop been asked for since deferred() began?"""
    return _pending


@contextmanager
def deferred() -> Iterator[None]:
    """For the duration, the signals above only set the flag that requested() reads."""
    global _pending
    _pending = False
    previous = {sig: signal.signal(sig, handler) for sig in SIGNALS}
    try:
        yield
    finally:
        if not _pending:
            for sig, old in previous.items():
                signal.signal(sig, old)
        # else the run is ending (exit 130 or the like): more signals (a storm of Ctrl-C, or
        # SIGHUP, whose default kills) must not cut short its last lines and its exit code,
        # so they stay a flag until the process exits


def request_stop() -> None:
    """Ask the running scan to stop at its next safe point, as a signal would (an output that
    cannot be written: rawscan/output/failures.py)."""
    global _pending
    _pending = True

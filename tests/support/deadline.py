"""A per-call time limit for tests that must prove code never hangs."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class Hung(BaseException):
    """Raised by the alarm; a BaseException so no `except Exception` (or OSError, which
    TimeoutError is) in the code under test can turn a hang into a clean error."""


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    def ring(_sig: int, _frame: FrameType | None) -> None:
        raise Hung(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)

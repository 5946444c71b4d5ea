"""Ctrl-C and SIGTERM during a scan, without tearing a result in two.

Python raises KeyboardInterrupt between any two bytecodes. If that fell between the engine
marking an endpoint as reported and the writers receiving its result, the result would be in
neither the output nor the resume file's to-do list. So while a scan runs, both signals go
through handler(), which defers the interrupt until the engine leaves such a section.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

_held = 0
_pending = False


def handler(_signum: int, _frame: object) -> None:
    global _pending
    if _held:
        _pending = True
    else:
        raise KeyboardInterrupt


def hold() -> None:
    """Enter a section an interrupt must not split."""
    global _held
    _held += 1


def release() -> None:
    """Leave it; an interrupt that came meanwhile is raised now."""
    global _held, _pending
    _held -= 1
    if _pending and not _held:
        _pending = False
        raise KeyboardInterrupt


@contextmanager
def deferred() -> Iterator[None]:
    """SIGINT and SIGTERM go through handler() for the duration."""
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)

"""Ctrl-C, SIGTERM and SIGHUP during a scan (rawscan/interrupts.py): a flag, never an exception."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from rawscan import interrupts


@pytest.fixture(autouse=True)
def own_handlers() -> Iterator[None]:
    """A run that was asked to stop keeps its handlers on purpose: put pytest's back."""
    saved = {sig: signal.getsignal(sig) for sig in interrupts.SIGNALS}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.mark.parametrize("sig", interrupts.SIGNALS)
def test_a_signal_while_deferred_is_a_request_not_an_exception(sig: signal.Signals) -> None:
    with interrupts.deferred():
        assert not interrupts.requested()
        os.kill(os.getpid(), sig)  # delivered at the next bytecode: no KeyboardInterrupt
        for _ in range(1000):
            if interrupts.requested():
                break
        assert interrupts.requested()
    # the run is ending: later signals stay a flag too, so its last lines get written
    assert signal.getsignal(sig) is interrupts.handler


def test_handlers_come_back_when_nothing_was_asked() -> None:
    before = signal.getsignal(signal.SIGINT)
    with interrupts.deferred():
        assert signal.getsignal(signal.SIGINT) is interrupts.handler
    assert signal.getsignal(signal.SIGINT) is before
    with pytest.raises(KeyboardInterrupt):  # outside a scan, Ctrl-C is Ctrl-C again
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):
            pass


def test_a_new_run_starts_unasked_and_request_stop_asks() -> None:
    with interrupts.deferred():
        interrupts.request_stop()  # e.g. an output that cannot be written
        assert interrupts.requested()
    with interrupts.deferred():
        assert not interrupts.requested()

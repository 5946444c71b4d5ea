"""Write errors on outputs (a full disk, /dev/full, a reader gone from stdout): one line naming
the output, that output dropped, the others untouched, and the run told what happened.

What the run does is the command's choice (rawscan/commands/common.py and analyze): a scan
stops as if interrupted (the other outputs end whole and agree, a resume file is written) and
exits EXIT_WRITE_ERROR; stdout's reader going away costs only stdout: the scan goes on and
exits EXIT_STDOUT_CLOSED. Writers report here instead of raising into the scan engine.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from ..errors import RawscanError, one_line

EXIT_WRITE_ERROR = 74  # sysexits EX_IOERR
EXIT_STDOUT_CLOSED = 141  # what a shell shows for a program ended by SIGPIPE (128 + 13)
STDOUT = "-"


class OutputWriteError(RawscanError):
    """An output could not be written even once (when it was opened)."""

    exit_code = EXIT_WRITE_ERROR


@dataclass
class Failures:
    failed: list[str] = field(default_factory=list)  # file outputs that failed, in order
    stdout_closed: bool = False
    on_file_failure: Callable[[], None] | None = None  # e.g. ask the scan to stop
    consequence: str = "the other outputs are written in full"

    @property
    def exit_code(self) -> int:
        if self.failed:
            return EXIT_WRITE_ERROR
        return EXIT_STDOUT_CLOSED if self.stdout_closed else 0


_current = Failures()


def begin(on_file_failure: Callable[[], None] | None = None,
          consequence: str = "the other outputs are written in full") -> Failures:
    """Start recording a run's output failures; returns the record the run checks at its end."""
    global _current
    _current = Failures(on_file_failure=on_file_failure, consequence=consequence)
    return _current


def begin_stopping(stop: Callable[[], None], resume_written: bool) -> Failures:
    """A live scan's record: a file that fails stops the scan, and the others end whole."""
    return begin(on_file_failure=stop,
                 consequence="stopping the scan (the other outputs end whole here"
                             + (", and a resume file is written)" if resume_written else ")"))


def current() -> Failures:
    return _current


def _is_closed_pipe(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.EPIPE, errno.ECONNRESET)


def report(path: str, exc: OSError) -> None:
    """An output failed: say so once, in one line, and tell the run."""
    record = _current
    if path == STDOUT and _is_closed_pipe(exc):
        if record.stdout_closed:
            return
        record.stdout_closed = True
        _silence_stdout()
        print("rawscan: warning: stdout's reader went away; its output stops here, the other "
              "outputs go on", file=sys.stderr)
        return
    if path in record.failed:
        return
    record.failed.append(path)
    what = "stdout" if path == STDOUT else f"'{path}'"
    print(f"rawscan: error: cannot write {what}: {one_line(exc.strerror or exc)}; "
          f"{record.consequence}", file=sys.stderr)
    if record.on_file_failure is not None:
        record.on_file_failure()


def _silence_stdout() -> None:
    """Later writes to fd 1 (buffered records, the exit flush) go nowhere instead of failing."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)
    except OSError:
        pass


class GuardedBinaryFile:
    """A binary file (the --pcap recording) whose write errors are reported here, not raised
    into the code writing it; after the first error, writes are dropped."""

    def __init__(self, inner: BinaryIO, path: str) -> None:
        self._inner: BinaryIO | None = inner
        self.name = path
        self._path = path

    def _failed(self, exc: OSError) -> None:
        inner, self._inner = self._inner, None
        if inner is not None:
            try:
                inner.close()
            except OSError:
                pass  # closed all the same
        report(self._path, exc)

    def write(self, data: bytes) -> int:
        if self._inner is None:
            return len(data)
        try:
            return self._inner.write(data)
        except OSError as exc:
            self._failed(exc)
            return len(data)

    def flush(self) -> None:
        if self._inner is not None:
            try:
                self._inner.flush()
            except OSError as exc:
                self._failed(exc)

    def close(self) -> None:
        if self._inner is not None:
            inner = self._inner
            try:
                inner.close()
                self._inner = None
            except OSError as exc:
                self._failed(exc)

    def __enter__(self) -> GuardedBinaryFile:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

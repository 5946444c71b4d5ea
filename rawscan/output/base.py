"""What the file writers share: an output flushed as written, per-port or per-host documents."""

from __future__ import annotations

import time
from typing import TextIO

from ..results import PortResult
from . import OPEN_STATES, RunInfo, RunSummary
from . import failures
from .files import STDOUT, open_output
from .hosts import HostGroups


class FileWriter:
    """A file (or stdout), flushed at every write: a killed run keeps all that was written.
    A write error once open (a full disk, a closed pipe) is reported to output/failures.py,
    never raised into the scan: this output stops there, the others go on."""

    def __init__(self, path: str, newline: str | None = None) -> None:
        self._owned = path != STDOUT
        self._path = path
        self._out: TextIO | None = open_output(path, newline)

    def _failed(self, exc: OSError) -> None:
        out, self._out = self._out, None
        if out is not None and self._owned:
            try:
                out.close()  # the descriptor is closed even when the final flush fails
            except OSError:
                pass
        failures.report(self._path, exc)

    FLUSH_EVERY = 0.05  # records and hosts: seconds a write may wait for its flush
    _flush_at = 0.0

    def _emit(self, text: str) -> None:
        assert self._out is not None
        self._out.write(text)
        self._out.flush()

    def _flush_due(self) -> None:
        """Flush if FLUSH_EVERY has passed since the last timed flush (a flush per record or
        host cost a fast scan a tenth of its time); OSError goes to the caller's handler."""
        assert self._out is not None
        now = time.monotonic()
        if now >= self._flush_at:
            self._out.flush()
            self._flush_at = now + self.FLUSH_EVERY

    def flush(self) -> None:
        """Push what was written to the file (the scan calls this a few times a second)."""
        if self._out is not None:
            try:
                self._out.flush()
            except OSError as exc:
                self._failed(exc)

    def _finish(self) -> None:
        assert self._out is not None
        try:
            if self._owned:
                self._out.close()
            else:
                self._out.flush()
        except OSError as exc:
            self._failed(exc)
        self._out = None


class PortRecordWriter(FileWriter):
    """One record per port as it is learned (JSON Lines, CSV). Records reach the file at most
    FLUSH_EVERY seconds after a write, or at the scan's next progress tick (a flush per record
    cost a tenth of a fast scan's time); close() flushes the rest."""

    def __init__(self, path: str, info: RunInfo | None = None, newline: str | None = None) -> None:
        super().__init__(path, newline)
        self._info = info
        self._open_only = bool(info and info.open_only)

    def _record(self, result: PortResult) -> None:
        raise NotImplementedError

    def write(self, result: PortResult) -> None:
        if self._out is None or (self._open_only and result.state not in OPEN_STATES):
            return
        try:
            self._record(result)
            self._flush_due()
        except OSError as exc:
            self._failed(exc)

    def write_formatted(self, text: str) -> None:
        """Records this writer's way, already formatted by the caller (rawscan analyze makes
        a whole range of them at once) and already filtered for --open."""
        if self._out is not None:
            try:
                self._out.write(text)
            except OSError as exc:
                self._failed(exc)

    def close(self, summary: RunSummary | None = None) -> None:
        if self._out is not None:
            self._finish()


class HostDocumentWriter(FileWriter):
    """A document written a host at a time, once all its ports are known (nmap XML, grepable),
    and always ended on close, so an interrupted run still leaves a whole document."""

    def __init__(self, path: str, info: RunInfo) -> None:
        super().__init__(path)
        self._info = info
        self._hosts = HostGroups(len(info.ports))
        self._written = 0  # hosts
        self._emit(self._preamble())

    def _preamble(self) -> str:
        raise NotImplementedError

    def _host(self, results: list[PortResult]) -> str:
        raise NotImplementedError

    def _trailer(self, summary: RunSummary | None) -> str:
        raise NotImplementedError

    def write(self, result: PortResult) -> None:
        if self._out is None:
            return  # failed: nothing more is kept for it
        done = self._hosts.add(result)
        if done is not None:
            try:
                self._write_host(done)
            except OSError as exc:
                self._failed(exc)

    def _write_host(self, results: list[PortResult]) -> None:
        self._emit(self._host(results))
        self._written += 1

    def close(self, summary: RunSummary | None = None) -> None:
        if self._out is None:
            return
        try:
            for results in self._hosts.rest():
                self._write_host(results)
            self._emit(self._trailer(summary))
        except OSError as exc:
            self._failed(exc)
            return
        self._finish()

"""Which outputs a run writes (-oX -oG -oJ -oC -oA, --open, --baseline, -q, --force) and
opening them."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from ..errors import RawscanError
from . import ResultWriter, RunInfo
from .failures import OutputWriteError
from .files import STDOUT, check_output, file_identity

# -oA BASE writes BASE + each suffix (nmap's for XML and grepable).
ALL_SUFFIXES = {"xml": ".xml", "grep": ".gnmap", "json": ".jsonl", "csv": ".csv"}


@dataclass(frozen=True)
class OutputOptions:
    """The output options every scan command shares; field names are the CLI parameter names."""

    xml_out: str | None = None
    grep_out: str | None = None
    json_out: str | None = None
    csv_out: str | None = None
    all_out: str | None = None  # -oA BASE
    open_only: bool = False
    baseline: str | None = None
    quiet: bool = False
    force: bool = False  # overwrite existing files that are not rawscan's output

    def __post_init__(self) -> None:
        self.destinations()  # refuse impossible combinations before anything is sent

    def destinations(self) -> list[tuple[str, str]]:
        """(format, path) pairs, -oA expanded; at most one of them may be stdout."""
        named = (("-oX", "xml", self.xml_out), ("-oG", "grep", self.grep_out),
                 ("-oJ", "json", self.json_out), ("-oC", "csv", self.csv_out))
        for option, _kind, path in named:
            if path == "":
                raise RawscanError(f"{option} needs a file name ('-' for stdout), not ''")
        chosen = [(kind, path) for _option, kind, path in named if path]
        if self.all_out is not None:
            if self.all_out in ("", STDOUT):
                raise RawscanError("-oA takes a base file name, not '-' (it writes four files)")
            if self.all_out.endswith("/") or os.path.basename(self.all_out) in ("", ".", ".."):
                raise RawscanError(f"-oA takes a base file name, not the directory "
                                   f"'{self.all_out}' (it would write hidden files "
                                   f"'.xml', '.gnmap'...): give DIR/NAME")
            chosen += [(kind, self.all_out + suffix) for kind, suffix in ALL_SUFFIXES.items()]
        if sum(path == STDOUT for _kind, path in chosen) > 1:
            raise RawscanError("only one output can go to stdout ('-')")
        seen: dict[tuple[object, ...], str] = {}
        for _kind, path in chosen:  # by identity: `a` and `./a`, a linked directory, stdout
            identity = file_identity(path)
            if identity[0] == "device" and path != STDOUT:
                continue  # /dev/null and the like take any number of writers
            same = seen.setdefault(identity, path)
            if same != path or [p for _k, p in chosen].count(path) > 1:
                raise RawscanError(f"two outputs name the same file ('{same}' and '{path}')")
        return chosen

    @property
    def human_to_stderr(self) -> bool:
        """The report moves to stderr when a machine format owns stdout."""
        return any(path == STDOUT for _kind, path in self.destinations())


def _writer_class(kind: str) -> Callable[[str, RunInfo], ResultWriter]:
    if kind == "xml":
        from .nmapxml import NmapXmlWriter
        return NmapXmlWriter
    if kind == "grep":
        from .grepable import GrepableWriter
        return GrepableWriter
    if kind == "csv":
        from .csvfile import CsvWriter
        return CsvWriter
    from .jsonl import JsonLinesWriter
    return JsonLinesWriter


def check_outputs(options: OutputOptions, *, truncate: bool = False) -> None:
    """Refuse now (RawscanError) any output file that could not or may not be written: a
    link, not a regular file, another user's file in /tmp, a file rawscan did not write
    (unless --force). Every file is checked before any is truncated."""
    paths = [(kind, path) for kind, path in options.destinations() if path != STDOUT]
    for kind, path in paths:
        check_output(path, kind, force=options.force)
    if truncate:
        for kind, path in paths:
            check_output(path, kind, force=options.force, truncate=True)


def open_writers(options: OutputOptions, info: RunInfo) -> list[ResultWriter]:
    """Open every output; if one cannot be opened, close those already open and re-raise."""
    return open_each(options, info, _writer_class)


class _Closable(Protocol):
    def close(self) -> None: ...


W = TypeVar("W", bound=_Closable)


def open_each(options: OutputOptions, info: RunInfo,
              writer_for: Callable[[str], Callable[[str, RunInfo], W]]) -> list[W]:
    """Open every destination with writer_for(kind) (port results' writers, or ping's host
    writers), every file checked before any is emptied; on a failure, close those already
    open and re-raise (an unopenable one as one OutputWriteError line)."""
    check_outputs(options, truncate=True)  # nothing is emptied unless everything may be
    writers: list[W] = []
    try:
        for kind, path in options.destinations():
            try:
                writers.append(writer_for(kind)(path, info))
            except OSError as exc:  # the first write (header, preamble): a full disk, /dev/full
                where = "stdout" if path == STDOUT else f"'{path}'"
                raise OutputWriteError(f"cannot write {where}: {exc.strerror or exc}") from None
    except BaseException:
        for writer in writers:
            writer.close()
        raise
    return writers

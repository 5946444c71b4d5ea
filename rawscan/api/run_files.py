"""What a run opens before its first probe, in one order for a port scan (running.run_plan)
and rawscan ping (discovery/report.py): every output and the resume file checked (nothing is
emptied on bad input), the --metadata-file, the outputs, the resume file, and last the record
of output failures. Whatever fails closes what was opened before it, and the transport."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Protocol, TextIO, TypeVar

from ..errors import RawscanError, one_line

if TYPE_CHECKING:
    from ..compare import ResultSet
    from ..engine import ScanStats
    from ..output import RunInfo, RunSummary, failures
    from ..output.options import OutputOptions
    from ..plan import ScanPlan
    from ..resume import ResumeFile
    from ..transports.base import Transport

Warn = Callable[[str], None]


class EndingWriter(Protocol):
    """A port or host writer: closed with the run's summary, or without one (unfinished)."""

    def close(self, summary: RunSummary | None = None) -> None: ...


W = TypeVar("W", bound=EndingWriter)


@dataclass
class RunFiles(Generic[W]):
    """A run's files, open: its writers, the resume file (None: not asked for, or the default
    one cannot be written), the --metadata-file, the --baseline read, the failure record."""

    writers: list[W]
    resume: ResumeFile | None
    metadata: TextIO | None
    baseline: ResultSet | None
    written: failures.Failures

    def abandon(self) -> None:
        """The run failed: each output marks itself unfinished (no summary) and stays valid;
        the resume and metadata files close unwritten."""
        for writer in self.writers:
            writer.close()
        self.close_resume()
        if self.metadata is not None:
            self.metadata.close()

    @contextmanager
    def abandoned_on_failure(self, transport: Transport | None = None) -> Iterator[None]:
        """The scan, or what a run opens before it (ping's neighbour sockets, with the
        transport still to close): if it fails, the files are abandoned (and the transport
        closed), and the failure goes on."""
        try:
            yield
        except BaseException:
            self.abandon()
            if transport is not None:
                transport.close()
            raise

    def end_outputs(self, stats: ScanStats) -> None:
        """The scan has ended: from here on an output's failure stops nothing, and every
        writer closes with the summary."""
        from ..output import RunSummary

        self.written.on_file_failure = None
        for writer in self.writers:
            writer.close(RunSummary(elapsed=stats.elapsed, interrupted=stats.interrupted))

    def close_resume(self) -> None:
        if self.resume is not None:
            self.resume.close()


def open_run(options: OutputOptions, transport: Transport, run_info: Callable[[], RunInfo],
             open_writers: Callable[[OutputOptions, RunInfo], list[W]], *,
             resume_path: str | None, warn: Warn | None,
             metadata_path: str | None = None) -> tuple[RunFiles[W], RunInfo]:
    """Check, then open, a run's files in the one order (the module's docstring); the resume
    file is opened after the outputs, with the user's rights, while root may still be needed
    to reach it. Any failure closes what is open, and the transport, and re-raises."""
    from ..interrupts import request_stop
    from ..output import failures

    with ExitStack() as undo:
        undo.callback(transport.close)
        options.destinations()
        baseline = load_baseline(options)
        info = run_info()
        resume_path = check_resume(resume_path, options, warn)
        metadata = open_metadata(metadata_path, options)
        if metadata is not None:
            undo.callback(metadata.close)
        writers = open_writers(options, info)
        undo.callback(lambda: [writer.close() for writer in writers])
        resume = open_resume(resume_path, options, warn)
        undo.pop_all()
    written = failures.begin_stopping(request_stop, resume is not None)
    return RunFiles(writers, resume, metadata, baseline, written), info


def load_baseline(output: OutputOptions) -> ResultSet | None:
    if not output.baseline:
        return None
    from ..compare.load import load_results  # (xml.etree and friends)

    return load_results(output.baseline)


def _not_an_output(path: str, what: str, options: OutputOptions) -> None:
    from ..output.files import file_identity

    for _kind, output in options.destinations():
        if file_identity(output) == file_identity(path):
            raise RawscanError(f"{what} '{path}' and the output '{output}' are the same file")


def open_metadata(path: str | None, options: OutputOptions) -> TextIO | None:
    """--metadata-file, opened (safely, as the outputs are) before the scan, written after."""
    if path is None:
        return None
    if path in ("", "-"):
        raise RawscanError("--metadata-file needs a file name (it is not written to stdout)")
    from ..output.files import open_output

    _not_an_output(path, "--metadata-file", options)
    return open_output(path, kind="metadata", force=options.force)


def write_metadata(out: TextIO, plan: ScanPlan, proto: str, stats: ScanStats, started: float,
                   exit_state: str, warn: Warn | None) -> None:
    from ..output.shardinfo import metadata_document

    try:
        with out:
            out.write(metadata_document(plan, proto, stats, started, exit_state))
    except OSError as exc:
        if warn is not None:
            warn(f"cannot write the metadata file: {one_line(exc.strerror or exc)}")


def check_resume(path: str | None, options: OutputOptions, warn: Warn | None) -> str | None:
    """Before any output is emptied: the resume file may be written, and is none of them.
    Returns the path to open, or None when the default one cannot be (a warning says so: a
    scan from a directory the user cannot write to still runs, as nmap's always does)."""
    if path is None:
        return None
    from ..output.files import check_output

    _not_an_output(path, "the resume file", options)
    try:
        check_output(path, "resume", force=options.force)
    except RawscanError as exc:
        _default_refused(path, exc, warn)
        return None
    return path


def open_resume(path: str | None, options: OutputOptions, warn: Warn | None) -> ResumeFile | None:
    if path is None:
        return None
    from ..resume import ResumeFile

    try:
        return ResumeFile(path, options.force)
    except RawscanError as exc:
        _default_refused(path, exc, warn)
        return None


def _default_refused(path: str, exc: RawscanError, warn: Warn | None) -> None:
    """A named resume file that cannot be written is the error; the default one is a warning
    (the scan runs, not resumable)."""
    from ..resume import DEFAULT_PATH

    if path != DEFAULT_PATH:
        raise exc
    if warn is not None:
        warn(f"an interrupted scan will not be resumable: {one_line(exc)} "
             f"(give --resume-file FILE)")


def save_progress(resume: ResumeFile, plan: ScanPlan, decided: bytes) -> str:
    """An interrupted run's progress saved: the line saying how to finish it, or why not."""
    try:
        resume.save(plan, decided)
    except OSError as exc:
        return (f"rawscan: warning: cannot write the resume file '{resume.path}': "
                f"{one_line(exc.strerror or exc)}")
    return f"To finish this scan: rawscan resume {resume.path}"

"""Running a ScanPlan for the CLI and the API alike: the outputs and the resume file opened
before a probe is sent, results streamed to them, everything closed whole however the run
ends. What to print is summary.py's; what to do with the outcome is the caller's."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from ..errors import RawscanError, one_line

if TYPE_CHECKING:
    from ..banners import BannerSettings
    from ..compare import ResultSet
    from ..compare.changes import Change
    from ..engine import ScanStats
    from ..output import failures
    from ..output.options import OutputOptions
    from ..plan import ScanPlan
    from ..probes.base import ProbeModule
    from ..resume import ResumeFile
    from ..scan import ScanOutcome
    from ..transports.base import Transport

EXIT_DIFFERENT = 1  # diff / --baseline: the results differ
EXIT_INTERRUPTED = 130


@dataclass
class FinishedRun:
    """A run that ended (finished or interrupted), its outputs closed."""

    plan: ScanPlan
    proto: str
    silence_state: str  # what a port that never answered is called
    outcome: ScanOutcome
    written: failures.Failures  # which outputs failed
    baseline: ResultSet | None = None
    changes: list[Change] | None = None  # against the baseline, when one was given
    resume_note: str | None = None  # 'To finish this scan: ...' or why it cannot be

    @property
    def stats(self) -> ScanStats:
        return self.outcome.stats

    def summary_lines(self) -> list[str]:
        from ..scan import hosts_scanned
        from .summary import summary_lines

        s = self.outcome.stats
        return [*self.outcome.notes, *summary_lines(
            s, hosts=hosts_scanned(self.plan), hosts_up=self.outcome.tally.hosts_up,
            silence_state=self.silence_state,
            banners=self.outcome.banners.summary() if self.outcome.banners is not None else None,
            output_failed=bool(self.written.failed))]

    @property
    def exit_code(self) -> int:
        if self.outcome.stats.interrupted:
            return self.written.exit_code or EXIT_INTERRUPTED
        if self.changes:
            return EXIT_DIFFERENT
        return self.written.exit_code


Warn = Callable[[str], None]


def run_plan(
    plan: ScanPlan, probe: ProbeModule, transport: Transport, options: OutputOptions, *,
    done: bytes | None = None, resume_path: str | None = None,
    before_scan: Callable[[], None] | None = None, banners: BannerSettings | None = None,
    announce: Callable[[list[str]], None] | None = None,
    on_progress: Callable[[ScanStats], None] | None = None, stop_progress: Callable[[], None] | None = None,
    stop_requested: Callable[[], bool] | None = None,
    hold: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext,
    report: Callable[[FinishedRun], None] | None = None, keep_results: bool = False,
    warn: Warn | None = None,
    metadata_path: str | None = None, shard_note: str | None = None,
    runner: Callable[..., ScanOutcome] | None = None,
) -> FinishedRun:
    """Run the scan with its results streamed to the outputs.

    done: a resumed scan's progress; resume_path: where an interrupted run saves it;
    before_scan: runs once every file is open (privilege drop); announce: gets the start
    lines once the outputs are open; hold: wraps the scan and the report (the CLI defers
    signals there); report: runs inside hold, with the finished run; keep_results: keep every
    result (a --baseline keeps them anyway). metadata_path: --metadata-file; shard_note: the
    start line about the shard (--shards, --workers); runner: what runs the scan in place of
    scan.run_scan (--workers: rawscan/workers.py)."""
    from .. import __version__
    from ..interrupts import request_stop
    from ..output import RunInfo, RunSummary, failures
    from ..output.options import open_writers
    from ..scan import hosts_scanned, run_scan

    try:  # everything that can fail on bad input, before a single probe is sent
        options.destinations()
        baseline = _load_baseline(options)
        info = RunInfo(
            scan=plan.scan, proto=probe.proto, ports=tuple(plan.ports),
            total_hosts=hosts_scanned(plan), argv=tuple(plan.argv),
            started=plan.started or time.time(), open_only=options.open_only,
            banners=banners is not None,
        )
        if plan.shards and not plan.workers:  # --shards: every output names plan and shard
            import dataclasses

            from ..output.shardinfo import shard_record

            info = dataclasses.replace(info, shard=shard_record(plan, probe.proto))
        resume_path = _check_resume(resume_path, options, warn)
        metadata = _open_metadata(metadata_path, options)
        writers = open_writers(options, info)
    except BaseException:
        transport.close()
        raise
    try:  # opened now, with the user's rights, while root may still be needed to reach it
        resume = _open_resume(resume_path, options, warn)
    except BaseException:
        for writer in writers:
            writer.close()
        transport.close()
        raise
    written = failures.begin_stopping(request_stop, resume is not None)
    if announce is not None:
        from .summary import start_line

        from ..scope import scope_lines

        announce([start_line(plan, probe.proto, __version__)]
                 + ([_shard_line(plan, shard_note)] if plan.shards else [])
                 + ([banners.describe()] if banners is not None else [])
                 + scope_lines(plan, probe))  # blocklist, --max-targets, --bandwidth
    with hold():
        try:
            if before_scan is not None:
                before_scan()
            outcome = (runner or run_scan)(plan, probe, transport, writers, on_progress=on_progress,
                               stop_requested=stop_requested,
                               keep_results=keep_results or baseline is not None,
                               open_only=options.open_only, done=done, banners=banners)
        except BaseException:
            for writer in writers:
                writer.close()  # no summary: each format marks itself unfinished, and stays valid
            if resume is not None:
                resume.close()
            raise
        finally:
            if stop_progress is not None:
                stop_progress()
        s = outcome.stats
        written.on_file_failure = None  # from here on an output's failure stops nothing
        written.consequence = ("the scan had ended; the other outputs are whole"
                               if not s.interrupted else written.consequence)
        for writer in writers:
            writer.close(RunSummary(elapsed=s.elapsed, interrupted=s.interrupted))
        if metadata is not None:
            _write_metadata(metadata, plan, probe.proto, s, info.started,
                            "stopped" if written.failed else
                            "interrupted" if s.interrupted else "done", warn)
        try:
            finished = FinishedRun(plan, probe.proto, probe.silence().state, outcome, written,
                                   baseline)
            if s.interrupted and resume is not None:
                # outcome.plan: what was scanned (--discover: the hosts found up)
                finished.resume_note = _save_progress(resume, outcome.plan, outcome.decided)
            if baseline is not None and not s.interrupted:
                from ..compare import ResultSet
                from ..compare.changes import compare

                finished.changes = compare(baseline, ResultSet.of(outcome.results or [],
                                                                  "this scan"))
            if report is not None:
                report(finished)
        finally:
            if resume is not None:
                resume.close()
    return finished


def _shard_line(plan: ScanPlan, note: str | None) -> str:
    from .sharding import shard_note

    return note or shard_note(plan)


def _open_metadata(path: str | None, options: OutputOptions) -> TextIO | None:
    """--metadata-file, opened (safely, as the outputs are) before the scan, written after."""
    if path is None:
        return None
    if path in ("", "-"):
        raise RawscanError("--metadata-file needs a file name (it is not written to stdout)")
    from ..output.files import file_identity, open_output

    for _kind, output in options.destinations():
        if file_identity(output) == file_identity(path):
            raise RawscanError(f"--metadata-file '{path}' and the output '{output}' are the "
                               f"same file")
    return open_output(path, kind="metadata", force=options.force)


def _write_metadata(out: TextIO, plan: ScanPlan, proto: str, stats: ScanStats, started: float,
                    exit_state: str, warn: Warn | None) -> None:
    from ..output.shardinfo import metadata_document

    try:
        with out:
            out.write(metadata_document(plan, proto, stats, started, exit_state))
    except OSError as exc:
        if warn is not None:
            warn(f"cannot write the metadata file: {one_line(exc.strerror or exc)}")


def _load_baseline(output: OutputOptions) -> ResultSet | None:
    if not output.baseline:
        return None
    from ..compare.load import load_results  # (xml.etree and friends)

    return load_results(output.baseline)


def _check_resume(path: str | None, options: OutputOptions, warn: Warn | None) -> str | None:
    """Before any output is emptied: the resume file may be written, and is none of them.
    Returns the path to open, or None when the default one cannot be (a warning says so: a
    scan from a directory the user cannot write to still runs, as nmap's always does)."""
    if path is None:
        return None
    from ..output.files import check_output, file_identity
    from ..resume import DEFAULT_PATH

    for _kind, output in options.destinations():
        if file_identity(output) == file_identity(path):
            raise RawscanError(f"the resume file '{path}' and the output '{output}' are the "
                               f"same file")
    try:
        check_output(path, "resume", force=options.force)
    except RawscanError as exc:
        if path != DEFAULT_PATH:
            raise
        _warn_no_resume(exc, warn)
        return None
    return path


def _warn_no_resume(exc: RawscanError, warn: Warn | None) -> None:
    if warn is not None:
        warn(f"an interrupted scan will not be resumable: {one_line(exc)} "
             f"(give --resume-file FILE)")


def _open_resume(path: str | None, options: OutputOptions, warn: Warn | None) -> ResumeFile | None:
    if path is None:
        return None
    from ..resume import DEFAULT_PATH, ResumeFile

    try:
        return ResumeFile(path, options.force)
    except RawscanError as exc:
        if path != DEFAULT_PATH:
            raise
        _warn_no_resume(exc, warn)
        return None


def _save_progress(resume: ResumeFile, plan: ScanPlan, decided: bytes) -> str:
    try:
        resume.save(plan, decided)
    except OSError as exc:
        return (f"rawscan: warning: cannot write the resume file '{resume.path}': "
                f"{one_line(exc.strerror or exc)}")
    return f"To finish this scan: rawscan resume {resume.path}"

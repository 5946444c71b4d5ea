"""Running a ScanPlan for the CLI and the API alike: the outputs and the resume file opened
before a probe is sent, results streamed to them, everything closed whole however the run
ends. What to print is summary.py's; what to do with the outcome is the caller's."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .run_files import RunFiles, Warn, open_run, save_progress, write_metadata

if TYPE_CHECKING:
    from ..banners import BannerSettings
    from ..compare import ResultSet
    from ..compare.changes import Change
    from ..engine import ScanStats
    from ..output import ResultWriter, RunInfo, failures
    from ..output.options import OutputOptions
    from ..plan import ScanPlan
    from ..probes.base import ProbeModule
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
    from ..scan import run_scan

    files, info = open_run(options, transport, lambda: _run_info(plan, probe, options, banners),
                           _open_port_writers, resume_path=resume_path, warn=warn,
                           metadata_path=metadata_path)
    if announce is not None:
        announce(_start_lines(plan, probe, banners, shard_note))
    with hold():
        with _finally(stop_progress), files.abandoned_on_failure():
            if before_scan is not None:
                before_scan()
            outcome = (runner or run_scan)(
                plan, probe, transport, files.writers, on_progress=on_progress,
                stop_requested=stop_requested,
                keep_results=keep_results or files.baseline is not None,
                open_only=options.open_only, done=done, banners=banners)
        try:
            finished = _finish(files, plan, probe, outcome, info.started, warn)
            if report is not None:
                report(finished)
        finally:
            files.close_resume()
    return finished


def _open_port_writers(options: OutputOptions, info: RunInfo) -> list[ResultWriter]:
    from ..output.options import open_writers

    return open_writers(options, info)


def _run_info(plan: ScanPlan, probe: ProbeModule, options: OutputOptions,
              banners: BannerSettings | None) -> RunInfo:
    """What the writers are told before the first result; under --shards every output also
    names the plan and its shard."""
    from ..output import RunInfo
    from ..output.shardinfo import shard_record
    from ..scan import hosts_scanned

    return RunInfo(
        scan=plan.scan, proto=probe.proto, ports=tuple(plan.ports),
        total_hosts=hosts_scanned(plan), argv=tuple(plan.argv),
        started=plan.started or time.time(), open_only=options.open_only,
        banners=banners is not None,
        shard=shard_record(plan, probe.proto) if plan.shards and not plan.workers else None)


def _start_lines(plan: ScanPlan, probe: ProbeModule, banners: BannerSettings | None,
                 shard_note: str | None) -> list[str]:
    from .. import __version__
    from ..scope import scope_lines
    from .summary import start_line

    return ([start_line(plan, probe.proto, __version__)]
            + ([_shard_line(plan, shard_note)] if plan.shards else [])
            + ([banners.describe()] if banners is not None else [])
            + scope_lines(plan, probe))  # blocklist, --max-targets, --bandwidth


@contextlib.contextmanager
def _finally(then: Callable[[], None] | None) -> Iterator[None]:
    try:
        yield
    finally:
        if then is not None:
            then()


def _finish(files: RunFiles[ResultWriter], plan: ScanPlan, probe: ProbeModule,
            outcome: ScanOutcome, started: float, warn: Warn | None) -> FinishedRun:
    """The scan has ended: the outputs closed whole, the metadata written, and the finished
    run with its resume note (interrupted) or its changes against the baseline."""
    s, written = outcome.stats, files.written
    if not s.interrupted:
        written.consequence = "the scan had ended; the other outputs are whole"
    files.end_outputs(s)
    if files.metadata is not None:
        write_metadata(files.metadata, plan, probe.proto, s, started,
                       "stopped" if written.failed else
                       "interrupted" if s.interrupted else "done", warn)
    finished = FinishedRun(plan, probe.proto, probe.silence().state, outcome, written,
                           files.baseline)
    if s.interrupted and files.resume is not None:
        # outcome.plan: what was scanned (--discover: the hosts found up)
        finished.resume_note = save_progress(files.resume, outcome.plan, outcome.decided)
    if files.baseline is not None and not s.interrupted:
        from ..compare import ResultSet
        from ..compare.changes import compare

        finished.changes = compare(files.baseline, ResultSet.of(outcome.results or [],
                                                                "this scan"))
    return finished


def _shard_line(plan: ScanPlan, note: str | None) -> str:
    from .sharding import shard_note

    return note or shard_note(plan)

"""What every command shares: one-line errors, interruption, output options, the report."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from .. import __version__
from ..errors import RawscanError, one_line
from ..interrupts import deferred, request_stop, requested
from ..output import failures
from ..output.options import OutputOptions

if TYPE_CHECKING:
    from rich.console import Console

    from ..compare import ResultSet
    from ..engine import ScanStats
    from ..plan import ScanPlan
    from ..results import PortResult
    from ..probes.base import ProbeModule
    from ..banners import BannerSettings
    from ..resume import ResumeFile
    from ..transports.base import Transport

def _ignore_unusable_terminal_size() -> None:
    """COLUMNS=0 (or text) made rich print lines of width 0: the Starting, Probes and done
    lines vanished. A size that is no positive number is as good as none."""
    for name in ("COLUMNS", "LINES"):
        value = os.environ.get(name)
        if value is not None and not (value.isascii() and value.isdigit() and int(value) > 0):
            del os.environ[name]


_ignore_unusable_terminal_size()  # every command imports this module before making a Console

EXIT_DIFFERENT = 1  # diff / --baseline: the results differ
EXIT_INTERRUPTED = 130

# The output options, one Annotated alias each; the parameter names are OutputOptions' fields.
XmlOut = Annotated[Optional[str], typer.Option("-oX", help="Write nmap XML ('-': stdout).")]
GrepOut = Annotated[Optional[str], typer.Option("-oG", help="Write nmap grepable lines ('-': stdout).")]
JsonOut = Annotated[
    Optional[str], typer.Option("-oJ", help="Write JSON Lines, one object per port ('-': stdout).")
]
CsvOut = Annotated[Optional[str], typer.Option("-oC", help="Write CSV with a header row ('-': stdout).")]
AllOut = Annotated[
    Optional[str],
    typer.Option("-oA", metavar="BASE", help="Write BASE.xml, BASE.gnmap, BASE.jsonl and BASE.csv."),
]
OpenOnly = Annotated[
    bool, typer.Option("--open", help="Show and write only open (and open|filtered) ports.")
]
Baseline = Annotated[
    Optional[str],
    typer.Option("--baseline", metavar="FILE",
                 help="Compare the finished scan with this earlier result; exit 1 if ports changed."),
]
Quiet = Annotated[bool, typer.Option("-q", "--quiet", help="No progress bar.")]
Force = Annotated[
    bool, typer.Option("--force", help="Overwrite output files even if rawscan did not write them.")
]


def _output_parameters(
    xml_out: XmlOut = None, grep_out: GrepOut = None, json_out: JsonOut = None,
    csv_out: CsvOut = None, all_out: AllOut = None, open_only: OpenOnly = False,
    baseline: Baseline = None, quiet: Quiet = False, force: Force = False,
) -> None:
    """The output options, declared once; with_output_options() adds them to a command."""


def with_output_options(
    command: Callable[..., None], *, baseline: bool = True
) -> Callable[..., None]:
    """Give a command every output option; it receives them as one OutputOptions, `output`."""
    extra = [p for p in inspect.signature(_output_parameters, eval_str=True).parameters.values()
             if baseline or p.name != "baseline"]
    names = {p.name for p in extra}
    own = [p for p in inspect.signature(command, eval_str=True).parameters.values()
           if p.name != "output"]

    @functools.wraps(command)
    def with_output(**options: Any) -> None:
        with user_errors():  # impossible combinations are refused here, before anything runs
            _refuse_repeated_outputs(sys.argv[1:])
            output = OutputOptions(**{name: options.pop(name) for name in names})
        command(**options, output=output)

    # typer reads the signature and the type hints: both must be the combined, resolved ones
    del with_output.__wrapped__
    # (a function takes any attribute; typeshed declares no __signature__, which inspect reads)
    with_output.__signature__ = inspect.Signature(own + extra)  # type: ignore[attr-defined]
    with_output.__annotations__ = {p.name: p.annotation for p in own + extra}
    return with_output


OUTPUT_OPTIONS = ("-oX", "-oG", "-oJ", "-oC", "-oA")


def _refuse_repeated_outputs(argv: list[str]) -> None:
    """A second -oC would silently replace the first (the parser keeps the last value)."""
    words = argv[:argv.index("--")] if "--" in argv else argv
    for option in OUTPUT_OPTIONS:
        if sum(w == option or w.startswith(option + "=") for w in words) > 1:
            raise RawscanError(f"{option} is given more than once; each output option names "
                               f"one file (use -oA BASE for all four formats)")


@contextmanager
def user_errors() -> Iterator[None]:
    """RawscanError -> 'rawscan: error: ...' on stderr and its exit code, never a traceback."""
    try:
        yield
    except RawscanError as exc:
        print(f"rawscan: error: {one_line(exc)}", file=sys.stderr)
        raise typer.Exit(exc.exit_code) from None


def _load_baseline(output: OutputOptions) -> ResultSet | None:
    if not output.baseline:
        return None
    from ..compare.load import load_results  # (xml.etree and friends)

    return load_results(output.baseline)


def run_and_report(
    plan: ScanPlan, probe: ProbeModule, transport: Transport, options: OutputOptions, *,
    done: bytes | None = None, resume_path: str | None = None,
    before_scan: Callable[[], None] | None = None,
    banners: BannerSettings | None = None,
    metadata_path: str | None = None, shard_note: str | None = None,
    runner: Callable[..., Any] | None = None,
) -> None:
    """Run the scan, stream results to the writers, print the report; exit 130 if interrupted
    (after writing resume_path, when given), 1 if a --baseline was given and ports changed,
    74 if an output could not be written (the scan stops as if interrupted), 141 if only
    stdout's reader went away (the scan and the other outputs go on).
    done: a resumed scan's progress; before_scan: runs once every file is open (privilege
    drop)."""
    from rich.console import Console

    from ..output import RunInfo, RunSummary
    from ..output.options import open_writers
    from ..output.progress import ScanProgress
    from ..scan import run_scan

    try:  # everything that can fail on bad input, before a single probe is sent
        options.destinations()
        baseline = _load_baseline(options)
        info = RunInfo(
            scan=plan.scan, proto=probe.proto, ports=tuple(plan.ports),
            total_hosts=len(plan.targets), argv=tuple(plan.argv),
            started=plan.started or time.time(), open_only=options.open_only,
            banners=banners is not None,
        )
        if plan.shards and not plan.workers:  # --shards: every output names plan and shard
            from ..output.shardinfo import shard_record

            info = dataclasses.replace(info, shard=shard_record(plan, probe.proto))
        resume_path = _check_resume(resume_path, options)
        metadata = _open_metadata(metadata_path, options)
        writers = open_writers(options, info)
    except BaseException:
        transport.close()
        raise
    try:  # opened now, with the user's rights, while root may still be needed to reach it
        resume = _open_resume(resume_path, options)
    except BaseException:
        for writer in writers:
            writer.close()
        transport.close()
        raise
    written = failures.begin(
        on_file_failure=request_stop,
        consequence="stopping the scan (the other outputs end whole here"
                    + (", and a resume file is written)" if resume is not None else ")"))
    console = Console(stderr=options.human_to_stderr, highlight=False, soft_wrap=True)
    console.print(
        f"Starting rawscan {__version__} ({plan.scan} scan of {len(plan.targets)} host(s) x "
        f"{len(plan.ports)} {probe.proto} port(s), {_rate_words(plan)}, seed {plan.seed})"
    )
    if plan.shards:
        from .sharding import shard_note as describe_shard

        console.print(shard_note or describe_shard(plan))
    if banners is not None:
        console.print(banners.describe())
    progress = ScanProgress(Console(stderr=True), enabled=not options.quiet)
    # Ctrl-C, SIGTERM, SIGHUP: a stop request the engine takes when safe; still only that
    # while the outputs are ended and the resume file written (a second Ctrl-C must not cut
    # those short)
    with deferred():
        try:
            if before_scan is not None:
                before_scan()
            outcome = (runner or run_scan)(plan, probe, transport, writers, on_progress=progress.update,
                               stop_requested=requested,
                               keep_results=baseline is not None, open_only=options.open_only,
                               done=done, banners=banners)
        except BaseException:
            for writer in writers:
                writer.close()  # no summary: each format marks itself unfinished, and stays valid
            if resume is not None:
                resume.close()
            raise
        finally:
            progress.stop()
        s = outcome.stats
        written.on_file_failure = None  # from here on an output's failure stops nothing
        written.consequence = ("the scan had ended; the other outputs are whole"
                               if not s.interrupted else written.consequence)
        for writer in writers:
            writer.close(RunSummary(elapsed=s.elapsed, interrupted=s.interrupted))
        if metadata is not None:
            _write_metadata(metadata, plan, probe.proto, s, info.started,
                            "stopped" if written.failed else
                            "interrupted" if s.interrupted else "done")
        try:
            _report(console, plan, probe, options, outcome, baseline, resume, written)
        finally:
            if resume is not None:
                resume.close()


def _open_metadata(path: str | None, options: OutputOptions) -> Any:
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


def _write_metadata(out: Any, plan: ScanPlan, proto: str, stats: ScanStats, started: float,
                    exit_state: str) -> None:
    from ..output.shardinfo import metadata_document

    try:
        with out:
            out.write(metadata_document(plan, proto, stats, started, exit_state))
    except OSError as exc:
        print(f"rawscan: warning: cannot write the metadata file: {one_line(exc.strerror or exc)}",
              file=sys.stderr)


def _check_resume(path: str | None, options: OutputOptions) -> str | None:
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
        _warn_no_resume(exc)
        return None
    return path


def _warn_no_resume(exc: RawscanError) -> None:
    print(f"rawscan: warning: an interrupted scan will not be resumable: {one_line(exc)} "
          f"(give --resume-file FILE)", file=sys.stderr)


def _open_resume(path: str | None, options: OutputOptions) -> ResumeFile | None:
    if path is None:
        return None
    from ..resume import DEFAULT_PATH, ResumeFile

    try:
        return ResumeFile(path, options.force)
    except RawscanError as exc:
        if path != DEFAULT_PATH:
            raise
        _warn_no_resume(exc)
        return None


def _report(console: Console, plan: ScanPlan, probe: ProbeModule, options: OutputOptions,
            outcome: Any, baseline: ResultSet | None, resume: ResumeFile | None,
            written: failures.Failures) -> None:
    from ..output.table import render
    from ..targets import int_to_ip

    s = outcome.stats
    labels = {int_to_ip(a): f"{n} ({int_to_ip(a)})" for a, n in plan.targets.names.items()}
    render(console, outcome.tally, labels, options.open_only)
    hosts_up = outcome.tally.hosts_up
    console.print(
        f"Probes: {s.sent - s.unsent} sent ({s.retransmitted} retransmitted) in {s.rounds} round(s); "
        f"{s.matched} replies matched, {s.duplicates} duplicate, {s.stray} stray or forged dropped"
    )
    if outcome.banners is not None:
        console.print(outcome.banners.summary())
    if s.send_rate:
        console.print(rate_line(s))
    if s.unsent:
        console.print(f"Not sent: {s.unsent} probe(s) were refused by this host (no route to "
                      f"the target, or its firewall): they never left")
    if s.unanswered and not s.interrupted:
        tries = f"{s.rounds} tr{'y' if s.rounds == 1 else 'ies'}"
        if s.matched == 0:
            sureness = "no reply came at all"
        else:
            sureness = (f"reply loss seen {s.estimated_loss:.0%} in retries, so if losses were "
                        f"random about {s.expected_missed:.2g} answering port(s) are among them")
        console.print(f"Unanswered: {s.unanswered} port(s) got no reply to up to {tries} "
                      f"(shown as {probe.silence().state}); {sureness}")
    if s.unverified:
        console.print(f"Unverified: {s.unverified} bare RST/SYN repl(ies) carried no cookie to "
                      f"check; {s.unverified_ports} port(s) got nothing better and are shown with "
                      f"them (reason bare-reset or split-handshake-syn)")
    if s.lowest_rate:
        console.print(f"Retransmissions got answers (replies were lost): the rate went down "
                      f"to {s.lowest_rate:g}/s for retry rounds")
    if s.icmp_rate_limited:
        console.print(
            "ICMP rate limiting seen: closed ports were learned at the target's ICMP error rate "
            "(give -S several source addresses to go faster, or --defeat-icmp-ratelimit to "
            "accept open|filtered)"
        )
    if written.failed and s.interrupted:
        console.print("[bold]Stopped:[/] an output could not be written; results above are what "
                      "was learned so far.")
    elif s.interrupted:
        console.print("[bold]Interrupted:[/] results above are what was learned so far.")
    if s.interrupted:
        if resume is not None:
            _save_progress(console, resume, plan, outcome.decided)
        raise typer.Exit(written.exit_code or EXIT_INTERRUPTED)
    console.print(
        f"rawscan done: {len(plan.targets)} IP address(es) ({hosts_up} host(s) up) "
        f"scanned in {s.elapsed:.2f} seconds"
    )
    if baseline is not None:
        _report_baseline(console, baseline, outcome.results or [])
    if written.exit_code:  # the scan finished, but an output (or stdout's reader) did not
        raise typer.Exit(written.exit_code)


def _rate_words(plan: ScanPlan) -> str:
    """The rate as the start line states it: fixed, or where an adaptive one starts and ends."""
    if plan.max_rate is None:
        return f"rate {plan.rate:g}/s"
    return f"rate adaptive from {plan.rate:g}/s up to {plan.max_rate:g}/s"


def rate_line(s: ScanStats) -> str:
    """What rate the scan went at, and (adaptive) what the path allowed."""
    line = f"Rate: first round sent at {s.send_rate:,.0f} probes/s"
    if s.adaptive and not s.path_rate:
        line += f" (adaptive, at most {s.max_rate:,.0f}/s; too few probes to measure the path)"
    elif s.adaptive:
        line += f"; the path allowed about {s.path_rate:,.0f} probes/s"
        if s.rate_losses:
            line += f" (backed off {s.rate_losses} time(s) on loss"
        else:
            line += " (no loss seen"
        line += f"; adaptive, at most {s.max_rate:,.0f}/s)"
    else:
        line += " (fixed --rate)"
    if s.kernel_drops:
        line += f"; {s.kernel_drops} repl(ies) dropped by this host's kernel before being read"
    return line


def _save_progress(console: Console, resume: ResumeFile, plan: ScanPlan, decided: bytes) -> None:
    try:
        resume.save(plan, decided)
    except OSError as exc:
        console.print(f"rawscan: warning: cannot write the resume file '{resume.path}': "
                      f"{one_line(exc.strerror or exc)}")
        return
    console.print(f"To finish this scan: rawscan resume {resume.path}")


def _report_baseline(console: Console, baseline: ResultSet, results: list[PortResult]) -> None:
    from ..compare import ResultSet
    from ..compare.changes import compare
    from ..compare.report import print_changes

    now = ResultSet.of(results, "this scan")
    console.print(f"Compared with baseline {baseline.source}:")
    changes = compare(baseline, now)
    print_changes(console, changes, {**baseline.names, **now.names})
    if changes:
        raise typer.Exit(EXIT_DIFFERENT)

"""What every command shares: one-line errors, interruption, output options, the report."""

from __future__ import annotations

import functools
import inspect
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from ..errors import RawscanError, one_line
from ..interrupts import deferred, requested
from ..output.options import OutputOptions

if TYPE_CHECKING:
    from rich.console import Console

    from ..api.running import FinishedRun
    from ..compare import ResultSet
    from ..compare.changes import Change
    from ..plan import ScanPlan
    from ..results import PortResult
    from ..probes.base import ProbeModule
    from ..banners import BannerSettings
    from ..transports.base import Transport

def _ignore_unusable_terminal_size() -> None:
    """COLUMNS=0 (or text) made rich print lines of width 0: the Starting, Probes and done
    lines vanished. A size that is no positive number is as good as none."""
    for name in ("COLUMNS", "LINES"):
        value = os.environ.get(name)
        if value is not None and not (value.isascii() and value.isdigit() and int(value) > 0):
            del os.environ[name]


_ignore_unusable_terminal_size()  # every command imports this module before making a Console

# the CLI's exit codes are the library's; rate_line and _rate_words moved to api/summary.py
from ..api.running import EXIT_DIFFERENT as EXIT_DIFFERENT, EXIT_INTERRUPTED as EXIT_INTERRUPTED
from ..api.summary import rate_line as rate_line, rate_words as _rate_words  # noqa: F401
__all__ = ["EXIT_DIFFERENT", "EXIT_INTERRUPTED", "rate_line", "_rate_words"]

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


# rawscan ping's records are hosts, not ports: the options that say so, in its words
_PER_HOST = {
    "json_out": Annotated[Optional[str], typer.Option("-oJ", help="Write JSON Lines, one object per host ('-': stdout).")],
    "open_only": Annotated[bool, typer.Option("--open", help="Show and write only the hosts that are up.")],
    "baseline": Annotated[Optional[str], typer.Option(
        "--baseline", metavar="FILE",
        help="Compare the finished discovery with this earlier result; exit 1 if hosts changed.")],
}


def with_output_options(
    command: Callable[..., None], *, baseline: bool = True, per_host: bool = False
) -> Callable[..., None]:
    """Give a command every output option; it receives them as one OutputOptions, `output`.
    per_host: its records are hosts (rawscan ping), and the help says so."""
    extra = [p.replace(annotation=_PER_HOST[p.name]) if per_host and p.name in _PER_HOST else p
             for p in inspect.signature(_output_parameters, eval_str=True).parameters.values()
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


def run_and_report(
    plan: ScanPlan, probe: ProbeModule, transport: Transport, options: OutputOptions, *,
    done: bytes | None = None, resume_path: str | None = None,
    before_scan: Callable[[], None] | None = None,
    banners: BannerSettings | None = None,
    metadata_path: str | None = None, shard_note: str | None = None,
    runner: Callable[..., Any] | None = None,
) -> None:
    """Run the scan (rawscan/api/running.py), stream results to the writers, print the
    report; exit 130 if interrupted (after writing resume_path, when given), 1 if a
    --baseline was given and ports changed, 74 if an output could not be written (the scan
    stops as if interrupted), 141 if only stdout's reader went away (the scan and the other
    outputs go on). done: a resumed scan's progress; before_scan: runs once every file is
    open (privilege drop)."""
    from rich.console import Console

    from ..api.running import run_plan
    from ..output.progress import ScanProgress

    console = Console(stderr=options.human_to_stderr, highlight=False, soft_wrap=True)
    progress = ScanProgress(Console(stderr=True), enabled=not options.quiet)
    finished = run_plan(
        plan, probe, transport, options, done=done, resume_path=resume_path,
        before_scan=before_scan, banners=banners, announce=lambda lines: print_lines(console, lines),
        on_progress=progress.update, stop_progress=progress.stop, stop_requested=requested,
        # Ctrl-C, SIGTERM, SIGHUP: a stop request the engine takes when safe; still only that
        # while the outputs are ended and the resume file written (a second Ctrl-C must not
        # cut those short)
        hold=deferred, report=lambda run: _report(console, run, options),
        warn=_warn, metadata_path=metadata_path, shard_note=shard_note, runner=runner)
    if finished.exit_code:
        raise typer.Exit(finished.exit_code)


def print_lines(console: Console, lines: list[str]) -> None:
    """Report lines as text (never markup), the first word of a few in bold."""
    from rich.text import Text

    from ..api.summary import EMPHASISED

    for line in lines:
        text = Text(line)
        for word in EMPHASISED:
            if line.startswith(word):
                text.stylize("bold", 0, len(word))
        console.print(text)


def _report(console: Console, run: FinishedRun, options: OutputOptions) -> None:
    from ..output.table import render
    from ..addresses import addr_to_str

    plan, outcome = run.plan, run.outcome
    labels = {addr_to_str(a): f"{n} ({addr_to_str(a)})" for a, n in plan.targets.names.items()}
    render(console, outcome.tally, labels, options.open_only)
    print_lines(console, run.summary_lines())
    if run.resume_note is not None:
        print_lines(console, [run.resume_note])
    if run.baseline is not None and run.changes is not None:
        _report_baseline(console, run.baseline, run.changes, outcome.results or [])


def _report_baseline(console: Console, baseline: ResultSet, changes: list[Change],
                     results: list[PortResult]) -> None:
    from ..compare import ResultSet
    from ..compare.report import print_changes

    now = ResultSet.of(results, "this scan")
    console.print(f"Compared with baseline {baseline.source}:")
    print_changes(console, changes, {**baseline.names, **now.names})


def _warn(message: str) -> None:
    print(f"rawscan: warning: {message}", file=sys.stderr)

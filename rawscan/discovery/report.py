"""rawscan ping's run and report: the host outputs, the human table, resume and --baseline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..interrupts import deferred, requested
from ..output import RunInfo
from ..output.options import OutputOptions, open_each
from .hosts import HostResult
from .run import DiscoveryOutcome
from .writers import WRITERS, HostWriter

if TYPE_CHECKING:
    from rich.console import Console

    from ..api.run_files import RunFiles
    from ..compare import ResultSet
    from ..engine import ScanStats
    from ..plan import ScanPlan
    from ..probes.base import ProbeModule
    from ..transports.base import Transport
    from .sweep import Sweep

LIST_DOWN_MAX = 25  # more down hosts than this are counted by reason, not listed


def open_host_writers(options: OutputOptions, info: RunInfo) -> list[HostWriter]:
    return open_each(options, info, WRITERS.__getitem__)


def host_line(result: HostResult, label: str) -> tuple[str, ...]:
    rtt = f"{result.rtt * 1000:.3f} ms" if result.rtt is not None else ""
    return (label, result.status, result.reason_text, rtt, result.mac or "")


def render_hosts(console: Console, up: list[HostResult], down: list[HostResult],
                 down_reasons: dict[str, int], labels: dict[str, str], open_only: bool) -> None:
    """One aligned line per up host (and per down host when few), then counts."""
    from ..output.table import _aligned, palette, write_blocks
    from ..output.hosts import ip_key

    rows: list[tuple[str, ...]] = [("HOST", "STATUS", "REASON", "RTT", "MAC")]
    styles: list[tuple[str, ...]] = [("bold",) * 5]
    listed = sorted(up, key=lambda r: ip_key(r.ip))
    if not open_only and len(down) <= LIST_DOWN_MAX:
        listed = sorted(up + down, key=lambda r: ip_key(r.ip))
    for r in listed:
        rows.append(host_line(r, labels.get(r.ip, r.ip)))
        styles.append(("", "green" if r.up else "red", "", "", ""))
    lines = _aligned(rows, styles, palette(console)) if len(rows) > 1 else []
    total_down = sum(down_reasons.values())
    if total_down and (open_only or len(down) > LIST_DOWN_MAX):
        why = ", ".join(f"{reason} {n}" for reason, n in sorted(down_reasons.items(), key=lambda kv: -kv[1]))
        lines.append(f"Not shown: {total_down} host(s) down ({why})")
    write_blocks(console, ["\n".join(lines) + "\n" if lines else ""])


def run_ping_and_report(
    plan: ScanPlan, probe: ProbeModule, transport: Transport, options: OutputOptions, *,
    done: bytes | None = None, resume_path: str | None = None,
    before_scan: Callable[[], None] | None = None, **_ignored: Any,
) -> None:
    """run_and_report (commands/common.py) for a discovery plan: the same files opened in the
    same order (api/run_files.py), the same exits, the same resume file."""
    from rich.console import Console

    from ..api.run_files import open_run
    from ..commands.common import _warn
    from ..output.progress import ScanProgress
    from .sweep import open_neighbours, sweep

    files, _info = open_run(options, transport, lambda: _run_info(plan, options),
                            open_host_writers, resume_path=resume_path, warn=_warn)
    with files.abandoned_on_failure(transport):
        neighbours, done = open_neighbours(plan, transport, done)  # sockets: before root goes
    console = Console(stderr=options.human_to_stderr, highlight=False, soft_wrap=True)
    for line in _start_lines(plan, probe):
        console.print(line)
    progress = ScanProgress(Console(stderr=True), enabled=not options.quiet)
    shown = _ShownHosts()

    def on_host(result: HostResult) -> None:
        shown.add(result)
        for writer in files.writers:
            writer.write(result)

    def on_progress(stats: ScanStats) -> None:  # hosts on disk within a tick (HostWriter)
        progress.update(stats)
        for writer in files.writers:
            writer.flush()

    with deferred():
        with files.abandoned_on_failure():
            try:
                if before_scan is not None:
                    before_scan()
                swept = sweep(plan, probe, transport, neighbours, on_host,
                              on_progress=on_progress, stop_requested=requested, done=done,
                              keep_results=files.baseline is not None)
            finally:
                progress.stop()
        files.end_outputs(swept.outcome.stats)
        try:
            _report(console, plan, swept, shown, files, options.open_only)
        finally:
            files.close_resume()


def _run_info(plan: ScanPlan, options: OutputOptions) -> RunInfo:
    return RunInfo(scan="ping", proto="ping", ports=tuple(plan.ports),
                   total_hosts=len(plan.targets), argv=tuple(plan.argv),
                   started=plan.started or time.time(), open_only=options.open_only)


def _start_lines(plan: ScanPlan, probe: ProbeModule) -> list[str]:
    """The start line, then what the blocklists took out (as a port scan says it)."""
    from ..api.summary import rate_words
    from ..probes.ping import PingProbe
    from ..scope import scope_lines

    assert isinstance(probe, PingProbe)  # a discovery plan's probe module
    kinds = ", ".join(k.text for k in probe.kinds)
    return ([f"Starting rawscan {__version__} (host discovery of {len(plan.targets)} "
             f"host(s): {kinds}; {rate_words(plan)}, seed {plan.seed})"]
            + scope_lines(plan, probe))


class _ShownHosts:
    """The hosts the table may list: every up one, and the down ones while few enough to be
    listed (more are counted by reason instead)."""

    def __init__(self) -> None:
        self.up: list[HostResult] = []
        self.down: list[HostResult] = []

    def add(self, result: HostResult) -> None:
        if result.up:
            self.up.append(result)
        elif len(self.down) <= LIST_DOWN_MAX:
            self.down.append(result)


def _report(console: Console, plan: ScanPlan, swept: Sweep, shown: _ShownHosts,
            files: RunFiles[HostWriter], open_only: bool) -> None:
    """The host table and the footer; an interrupted sweep saves its progress and exits 130,
    a finished one compares with the baseline (exit 1 on a change); an output that failed
    exits 74 (or 141)."""
    import typer

    from ..api.pinging import ping_done_line, ping_footer_lines
    from ..api.run_files import save_progress
    from ..commands.common import EXIT_INTERRUPTED, print_lines

    outcome, s, written = swept.outcome, swept.outcome.stats, files.written
    labels = {r.ip: f"{r.host} ({r.ip})" for r in shown.up + shown.down if r.host}
    render_hosts(console, shown.up, shown.down, outcome.down_reasons, labels, open_only)
    for line in ping_footer_lines(s, swept.neighbours):
        console.print(line)
    if s.interrupted:
        console.print("[bold]Interrupted:[/] hosts above are what was learned so far "
                      "(none is reported down).")
        if files.resume is not None:
            print_lines(console, [save_progress(files.resume, plan, outcome.decided)])
        raise typer.Exit(written.exit_code or EXIT_INTERRUPTED)
    console.print(ping_done_line(plan, outcome.up, s))
    if files.baseline is not None:
        _report_baseline(console, files.baseline, outcome)
    if written.exit_code:
        raise typer.Exit(written.exit_code)


def _report_baseline(console: Console, baseline: ResultSet, outcome: DiscoveryOutcome) -> None:
    import typer

    from ..commands.common import EXIT_DIFFERENT
    from .compare import host_changes, host_states_of, print_host_changes

    before = host_states_of(baseline)
    now = {r.ip: r.status for r in outcome.results or []}
    console.print(f"Compared with baseline {baseline.source}:")
    changes = host_changes(before, now)
    print_host_changes(console, changes)
    if changes:
        raise typer.Exit(EXIT_DIFFERENT)

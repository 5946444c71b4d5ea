"""rawscan analyze: who scanned whom in saved captures, which ports, with what result, and how."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..output.options import OutputOptions
from .common import EXIT_INTERRUPTED, user_errors, with_output_options

if TYPE_CHECKING:
    from rich.console import Console

    from ..analyze.ordered import Ordered

    from collections.abc import Sequence

    from ..analyze.flows import Observations, SeedCheck
    from ..analyze.sidecar import PlanCheck
    from ..analyze.report import ObservedPort
    from ..analyze.scanners import SourceSummary
    from ..output import ResultWriter, RunSummary
    from ..output.jsonl import JsonLinesWriter
    from ..plan import ScanPlan
    from ..results import PortResult

SILENT_HOSTS_OVER = 25  # like ports: more silent hosts than this are summarised in one line
WRITER_SCAN = {"SYN": "syn", "connect": "connect", "UDP": "udp"}


def _analyze(
    files: Annotated[list[Path], typer.Argument(
        help="pcap or pcapng captures (gzip'd too), read in order as one stream.")],
    min_probes: Annotated[int, typer.Option(
        "--min-probes", min=1,
        help="Probed ports or hosts (no data sent, no answer) that make a source a scanner.")] = 5,
    scanners_only: Annotated[bool, typer.Option(
        "--scanners-only",
        help="Print the scanner summaries only, not every host's ports (output files get all).")] = False,
    *,
    output: OutputOptions,
) -> None:
    """Rebuild what scans learned from saved captures, whichever tool sent them; no root needed.

    Probes are matched to replies by 4-tuple and sequence number, ICMP errors by the packet they quote.
    """
    from ..privileges import ANALYZE_MODULES, drop_privileges_before_parsing

    with user_errors():
        drop_privileges_before_parsing(ANALYZE_MODULES)  # no root needed: nothing crafted is parsed as root
        _check_writable(output)  # bad output options fail before any reading
        paths = [str(f) for f in files]
        _check_readable(paths)
        _run(paths, output, min_probes, scanners_only)


def _check_writable(options: OutputOptions) -> None:
    """Output files are opened once the analysis is done; a missing directory must not cost a
    long read first."""
    from ..errors import RawscanError
    from ..output.files import STDOUT

    for _kind, path in options.destinations():
        if path != STDOUT and not Path(path).parent.is_dir():
            raise RawscanError(f"cannot write '{path}': No such file or directory")
    from ..output.options import check_outputs

    check_outputs(options)  # links, foreign files (--force): refused before reading too


def _check_readable(paths: list[str]) -> None:
    """Every file opens and has a capture header, before anything is read or printed."""
    from ..capture import read_ip_packets

    for path in paths:
        if Path(path).is_file():  # a pipe (<(zcat ...)) can be read only once: checked when read
            read_ip_packets(path).close()


def _warn(message: str) -> None:
    from ..errors import one_line

    print(f"rawscan: warning: {one_line(message)}", file=sys.stderr)


def _seed_checks(paths: list[str]) -> tuple[list[PlanCheck | None], list[ScanPlan]]:
    from ..analyze.sidecar import PlanCheck, load_plan

    checks: list[PlanCheck | None] = []
    plans: list[ScanPlan] = []
    for path in paths:
        plan, warning = load_plan(path)
        check = None
        if plan is not None:
            try:
                check = PlanCheck(plan)
                plans.append(plan)
            except Exception as exc:  # an unknown scan type, a probe module that cannot start
                why = " ".join(str(exc).split())  # Scapy's messages span lines: one line here
                warning = f"cannot check replies with the seed of '{path}.json': {why}"
        if warning:
            _warn(warning)
        checks.append(check)
    return checks, plans


def _read(paths: list[str], checks: Sequence[SeedCheck | None], quiet: bool) -> tuple[Observations, bool]:
    """Analyze every file; damage ends a file with a warning, Ctrl-C ends the reading."""
    from ..analyze.flows import FlowAnalyzer
    from ..analyze.progress import ReadProgress
    from ..capture import BATCH_BYTES, CaptureTruncated, open_capture

    analyzer = FlowAnalyzer()
    progress = ReadProgress(enabled=not quiet)
    interrupted = False
    try:
        for file_no, (path, check) in enumerate(zip(paths, checks)):
            progress.start_file(path)
            capture = open_capture(path, BATCH_BYTES)  # CaptureError: cannot open, not a capture
            try:
                analyzer.feed_capture(capture, file_no, check, progress.tick)
            except CaptureTruncated as exc:  # damage part way: what came before it counts
                progress.stop()
                _warn(f"{exc}; results below stop there")
    except KeyboardInterrupt:
        interrupted = True
    finally:
        progress.stop()
    return analyzer.observations, interrupted


def _run(paths: list[str], options: OutputOptions, min_probes: int, scanners_only: bool) -> None:
    from rich.console import Console

    from ..analyze.scanners import is_scanner
    from ..output import RunSummary

    checks, plans = _seed_checks(paths)
    obs, interrupted = _read(paths, checks, options.quiet)
    wrong = [(i, c) for i, c in enumerate(checks) if c is not None and c.belongs_elsewhere()]
    if wrong and not interrupted:  # another scan's sidecar: read again without it
        for i, check in wrong:
            _warn(f"'{paths[i]}.json' is not this capture's scan description: {check.failed} of "
                  f"{check.failed + check.passed} replies to its sources fail its seed check "
                  f"(another scan's, or another seed); analyzed without it")
            plans = [p for p in plans if p is not check.plan]
            checks[i] = None
        obs, interrupted = _read(paths, checks, options.quiet)
    if interrupted:
        _warn("interrupted: results below are from the packets read so far")
    known = {a for plan in plans for a in plan.sources}
    names = {a: n for plan in plans for a, n in plan.targets.names.items()}

    from ..analyze.ordered import order_endpoints, summaries

    ordered = order_endpoints(obs, consume=True)
    every = summaries(ordered, known)
    scanners = [s for s in every if is_scanner(s, min_probes)]
    others = [s for s in every if not is_scanner(s, min_probes)]

    console = Console(stderr=options.human_to_stderr, highlight=False, soft_wrap=True)
    from ..output import failures

    written = failures.begin()  # a failed output: one line, the others are written in full
    writers = _open_writers(options, paths, obs, ordered, scanners)
    try:
        _report(console, writers, ordered, scanners, paths, names, options.open_only,
                tables=not scanners_only)
    except BaseException:
        for writer in writers:
            writer.close()
        raise
    _footer(console, obs, paths, scanners, others, min_probes)
    st = obs.stats
    elapsed = (st.last_time or 0.0) - (st.first_time or 0.0)
    for writer in writers:
        writer.close(RunSummary(elapsed=max(elapsed, 0.0), interrupted=interrupted))
    if written.exit_code:
        raise typer.Exit(written.exit_code)
    if interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)


class _Plain:
    """Formats with fixed columns (XML, grepable, CSV) get the scan commands' records;
    JSON Lines gets the analysis fields too (scanner, probes, evidence frames)."""

    def __init__(self, inner: ResultWriter) -> None:
        self._inner = inner

    def write(self, result: ObservedPort) -> None:
        self._inner.write(result.plain())

    def close(self, summary: RunSummary | None = None) -> None:
        self._inner.close(summary)


def _open_writers(
    options: OutputOptions, paths: list[str], obs: Observations, ordered: Ordered,
    scanners: list[SourceSummary],
) -> list[JsonLinesWriter | _Plain]:
    from ..analyze.ordered import host_runs
    from ..output import RunInfo
    from ..output.jsonl import JsonLinesWriter
    from ..output.options import open_writers

    kinds = [k for s in scanners for k in s.kinds]
    proto = "udp" if kinds and all(k == "UDP" for k in kinds) else "tcp"
    ports = sorted({p for s in scanners for p in (s.udp_ports if proto == "udp" else s.tcp_ports)})
    hosts: set[int] = set()
    for s in scanners:
        starts, _stops = host_runs(ordered, s)
        hosts.update(ordered.targets[i] for i in ordered.target[starts].tolist())
    info = RunInfo(
        scan=WRITER_SCAN.get(kinds[0], "syn") if kinds else "syn", proto=proto,
        ports=tuple(ports), total_hosts=len(hosts), argv=("analyze", *paths),
        started=obs.stats.first_time or 0.0, open_only=options.open_only,
        banners=bool(ordered.grabs),  # servers' data in the capture: CSV's banner columns
    )
    writers = open_writers(options, info)
    # JSON Lines takes the analysis records whole (scanner, probes, evidence frames)
    return [w if isinstance(w, JsonLinesWriter) else _Plain(w) for w in writers]


JSON_CHUNK = 32768  # endpoints formatted together: a few MB of text at a time
HOSTS_CHUNK = 4096  # endpoints' objects made together, for the tables and the other formats


def _report(
    console: Console, writers: list[JsonLinesWriter | _Plain], ordered: Ordered,
    scanners: list[SourceSummary], paths: list[str], names: dict[int, str], open_only: bool,
    tables: bool = True,
) -> None:
    import numpy as np

    from ..addresses import addr_to_str
    from ..analyze.ordered import JsonLines, host_runs, results, silent_hosts, table_results
    from ..analyze.report import scanner_line
    from ..output.jsonl import JsonLinesWriter
    from ..output.table import render

    labels = {addr_to_str(a): f"{n} ({addr_to_str(a)})" for a, n in names.items()}
    captures = paths if len(paths) > 1 else None
    json_writers: list[JsonLinesWriter] = [w for w in writers if isinstance(w, JsonLinesWriter)]
    record_writers: list[_Plain] = [w for w in writers if isinstance(w, _Plain)]
    lines = JsonLines(ordered, names, captures, open_only)
    for summary in scanners:
        console.print(scanner_line(summary))
        console.print()
        scanner = addr_to_str(summary.address)
        for start in range(summary.start, summary.stop, JSON_CHUNK) if json_writers else ():
            text = lines.lines(start, min(start + JSON_CHUNK, summary.stop), scanner)
            for writer in json_writers:
                writer.write_formatted(text)
        starts, stops = host_runs(ordered, summary)
        silent = silent_hosts(ordered, starts, summary.stop)
        collapse = int(np.count_nonzero(silent)) > SILENT_HOSTS_OVER
        shown = ~silent if collapse else np.ones(len(starts), bool)
        # Objects only for what needs them: every host for the fixed-column formats, else
        # the hosts a table shows.
        if record_writers:
            wanted = np.ones(len(starts), bool)
        else:
            wanted = shown if tables else np.zeros(len(starts), bool)
        group: list[PortResult] = []
        for (a, b), want, show in zip(zip(starts.tolist(), stops.tolist()), wanted.tolist(), shown.tolist()):
            if not want:
                continue
            if record_writers:
                observed = results(ordered, a, b, scanner, captures, names)
                for result in observed:
                    for record_writer in record_writers:
                        record_writer.write(result)
                host: Sequence[PortResult] = observed
            else:
                host = table_results(ordered, a, b, names)
            if tables and show:
                group += host
                if len(group) >= HOSTS_CHUNK:
                    render(console, group, labels, open_only)
                    group = []
        if group:
            render(console, group, labels, open_only)
        if collapse:
            silent_ports = int((stops - starts)[silent].sum())
            console.print(f"Not shown: {int(np.count_nonzero(silent)):,} hosts that answered no probe "
                          f"({silent_ports:,} ports, no-response)")
            console.print()


def _footer(
    console: Console, obs: Observations, paths: list[str], scanners: list[SourceSummary],
    others: list[SourceSummary], min_probes: int,
) -> None:
    st = obs.stats
    if not scanners:
        console.print("No scanners found.")
    if others:
        console.print(
            f"Not shown: {len(others):,} source(s) with fewer than {min_probes} probed port(s) "
            f"or host(s) (--min-probes 1 lists them)"
        )
    if st.ordinary:
        console.print(f"{st.ordinary:,} ordinary connection(s) (data sent) are not counted as probes")
    console.print(
        f"Replies: {st.matched:,} matched, {st.duplicates:,} duplicate, {st.unmatched:,} "
        f"answering no probe seen" + (f", {st.forged:,} failed the seed check" if st.forged else "")
    )
    if st.cut:
        _warn(f"{st.cut:,} packet(s) cut short before their TCP/UDP/ICMP header ended "
              f"(the capture's snaplen, or malformed) were skipped")
    span = (st.last_time or 0.0) - (st.first_time or 0.0)
    v6 = f" ({st.ipv6:,} IPv6)" if st.ipv6 else ""
    console.print(
        f"rawscan analyze done: {st.packets:,} IP packets{v6} in {len(paths)} file(s) spanning "
        f"{max(span, 0.0):.2f} s; {len(scanners)} scanner(s)"
    )


analyze = with_output_options(_analyze, baseline=False)

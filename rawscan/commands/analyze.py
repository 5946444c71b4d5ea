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

    from ..analyze.flows import Observations, SeedCheck
    from ..analyze.report import ObservedPort
    from ..analyze.scanners import SourceSummary
    from ..output import ResultWriter, RunSummary
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
    with user_errors():
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
            read_ip_packets(path).close()  # type: ignore[attr-defined]  # a generator


def _warn(message: str) -> None:
    from ..errors import one_line

    print(f"rawscan: warning: {one_line(message)}", file=sys.stderr)


def _seed_checks(paths: list[str]) -> tuple[list[SeedCheck | None], list[ScanPlan]]:
    from ..analyze.sidecar import PlanCheck, load_plan

    checks: list[SeedCheck | None] = []
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


def _read(paths: list[str], checks: list[SeedCheck | None], quiet: bool) -> tuple[Observations, bool]:
    """Analyze every file; damage ends a file with a warning, Ctrl-C ends the reading."""
    from ..analyze.flows import FlowAnalyzer
    from ..analyze.progress import ReadProgress
    from ..capture import CaptureTruncated, read_ip_packets

    analyzer = FlowAnalyzer()
    progress = ReadProgress(enabled=not quiet)
    interrupted = False
    try:
        for file_no, (path, check) in enumerate(zip(paths, checks)):
            progress.start_file(path)
            packets = read_ip_packets(path)  # CaptureError: cannot open, not a capture
            try:
                analyzer.feed(packets, file_no, check, progress.tick)
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

    from ..analyze.report import SILENCE
    from ..analyze.scanners import is_scanner, source_ranges, summarize
    from ..output import RunSummary

    checks, plans = _seed_checks(paths)
    obs, interrupted = _read(paths, checks, options.quiet)
    if interrupted:
        _warn("interrupted: results below are from the packets read so far")
    known = {a for plan in plans for a in plan.sources}
    names = {a: n for plan in plans for a, n in plan.targets.names.items()}

    keys = obs.endpoints.sorted_keys()
    table = obs.verdicts.table
    summaries = [
        summarize(keys, start, stop, obs.endpoints, table, SILENCE,
                  obs.sources.span(source), source in known)
        for source, start, stop in source_ranges(keys)
    ]
    scanners = [s for s in summaries if is_scanner(s, min_probes)]
    others = [s for s in summaries if not is_scanner(s, min_probes)]

    console = Console(stderr=options.human_to_stderr, highlight=False, soft_wrap=True)
    writers = _open_writers(options, paths, obs, keys, scanners)
    try:
        _report(console, writers, obs, keys, scanners, paths, names, options.open_only,
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
    options: OutputOptions, paths: list[str], obs: Observations, keys: list[int],
    scanners: list[SourceSummary],
) -> list[ResultWriter]:
    from ..analyze.store import target_mask
    from ..output import RunInfo
    from ..output.jsonl import JsonLinesWriter
    from ..output.options import open_writers

    kinds = [k for s in scanners for k in s.kinds]
    proto = "udp" if kinds and all(k == "UDP" for k in kinds) else "tcp"
    ports = sorted({p for s in scanners for p in (s.udp_ports if proto == "udp" else s.tcp_ports)})
    hosts = {(key >> 17) & mask for s in scanners for mask in (target_mask(s.address),)
             for key in keys[s.start : s.stop]}
    info = RunInfo(
        scan=WRITER_SCAN.get(kinds[0], "syn") if kinds else "syn", proto=proto,
        ports=tuple(ports), total_hosts=len(hosts), argv=("analyze", *paths),
        started=obs.stats.first_time or 0.0, open_only=options.open_only,
    )
    writers = open_writers(options, info)
    # JSON Lines takes the analysis records whole (scanner, probes, evidence frames)
    return [w if isinstance(w, JsonLinesWriter) else _Plain(w) for w in writers]  # type: ignore[misc]


def _report(
    console: Console, writers: list[ResultWriter], obs: Observations, keys: list[int],
    scanners: list[SourceSummary], paths: list[str], names: dict[int, str], open_only: bool,
    tables: bool = True,
) -> None:
    from ..analyze.report import (
        count_silent_hosts,
        host_results,
        scanner_line,
        silent_host,
    )
    from ..output.table import render
    from ..addresses import addr_to_str

    labels = {addr_to_str(a): f"{n} ({addr_to_str(a)})" for a, n in names.items()}
    captures = paths if len(paths) > 1 else None
    for summary in scanners:
        console.print(scanner_line(summary))
        console.print()
        collapse = count_silent_hosts(obs, keys, summary) > SILENT_HOSTS_OVER
        silent_hosts = silent_ports = 0
        for results in host_results(obs, keys, summary, captures, names):  # one host at a time
            for result in results:
                for writer in writers:
                    writer.write(result)
            if collapse and silent_host(results):
                silent_hosts += 1
                silent_ports += len(results)
            elif tables:
                render(console, results, labels, open_only)
        if silent_hosts:
            console.print(f"Not shown: {silent_hosts:,} hosts that answered no probe "
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

"""rawscan analyze: who scanned whom in saved captures, which ports, with what result, and how."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..output.options import OutputOptions
from .common import EXIT_INTERRUPTED, user_errors, with_output_options

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.console import Console

    from ..analyze.ordered import Ordered

    from ..analyze.flows import Observations
    from ..api.analysis import Analysis
    from ..analyze.report import ObservedPort
    from ..analyze.scanners import SourceSummary
    from ..output import ResultWriter, RunSummary
    from ..output.jsonl import JsonLinesWriter
    from ..results import PortResult

SILENT_HOSTS_OVER = 25  # like ports: more silent hosts than this are summarised in one line
WRITER_SCAN = {"SYN": "syn", "connect": "connect", "UDP": "udp", "ACK": "ack", "FIN": "fin",
               "NULL": "null", "Xmas": "xmas"}


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


def _run(paths: list[str], options: OutputOptions, min_probes: int, scanners_only: bool) -> None:
    from rich.console import Console

    from ..api.analysis import analyze_captures
    from ..output import RunSummary, failures

    found = analyze_captures(paths, min_probes, quiet=options.quiet, warn=_warn)
    obs, ordered, scanners, interrupted = found.obs, found.ordered, found.scanners, found.interrupted
    console = Console(stderr=options.human_to_stderr, highlight=False, soft_wrap=True)
    written = failures.begin()  # a failed output: one line, the others are written in full
    writers = _open_writers(options, paths, obs, ordered, scanners)
    try:
        _report(console, writers, ordered, scanners, paths, found.names, options.open_only,
                tables=not scanners_only)
        _report_pings(console, writers, obs.pings, options.open_only)
    except BaseException:
        for writer in writers:
            writer.close()
        raise
    _footer(console, found)
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


def _report_pings(console: Console, writers: list[Any], sweeps: Any, open_only: bool) -> None:
    """Ping sweeps (rawscan/analyze/pings.py): per pinger, its hosts up and down, as rawscan
    ping reports them; JSON Lines get one host record each (with scanner and probes)."""
    if sweeps is None or not sweeps.hosts:
        return
    import json

    from ..addresses import addr_to_str
    from ..analyze.pings import host_record
    from ..discovery.hosts import HostResult
    from ..discovery.report import render_hosts
    from ..output.jsonl import JsonLinesWriter

    by_pinger: dict[int, list[tuple[int, Any]]] = {}
    for pinger, host, seen in sweeps.results():
        by_pinger.setdefault(pinger, []).append((host, seen))
    for pinger, hosts in by_pinger.items():
        up = [HostResult(addr_to_str(h), s.status, s.reason, s.ttl, s.rtt) for h, s in hosts if s.status == "up"]
        down = [HostResult(addr_to_str(h), s.status, s.reason, s.ttl) for h, s in hosts if s.status != "up"]
        reasons: dict[str, int] = {}
        for r in down:
            reasons[r.reason] = reasons.get(r.reason, 0) + 1
        console.print(f"Ping sweep by {addr_to_str(pinger)}: {len(hosts)} host(s), {len(up)} up, "
                      f"{len(down)} down ({sum(s.probes for _h, s in hosts)} discovery probes)")
        render_hosts(console, up, down, reasons, {}, open_only)
        console.print()
        text = "".join(json.dumps(host_record(pinger, h, s), separators=(",", ":")) + "\n"
                       for h, s in hosts if s.status == "up" or not open_only)
        for writer in writers:
            if isinstance(writer, JsonLinesWriter):
                writer.write_formatted(text)


def _footer(console: Console, found: Analysis) -> None:
    from ..api.summary import analyze_cut_warning, analyze_footer_lines

    lines = analyze_footer_lines(found.obs, found.paths, found.scanners, found.others,
                                 found.min_probes)
    for line in lines[:-1]:
        console.print(line, markup=False)
    cut = analyze_cut_warning(found.obs)
    if cut is not None:
        _warn(cut)
    console.print(lines[-1], markup=False)


analyze = with_output_options(_analyze, baseline=False)

"""rawscan ping's run and report: the host outputs, the human table, resume and --baseline."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..interrupts import deferred, request_stop, requested
from ..output import RunInfo, RunSummary, failures
from ..output.options import OutputOptions, open_each
from ..addresses import parse_addr
from .hosts import HostResult
from .run import DiscoveryOutcome, run_discovery
from .writers import WRITERS, HostWriter

if TYPE_CHECKING:
    from rich.console import Console

    from ..plan import ScanPlan
    from ..probes.base import ProbeModule
    from ..transports.base import Transport

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
    before_scan: Any = None, **_ignored: Any,
) -> None:
    """run_and_report (commands/common.py) for a discovery plan: same exits, same resume file."""
    import typer
    from rich.console import Console

    from ..commands.common import (
        EXIT_INTERRUPTED, _check_resume, _load_baseline, _open_resume, _rate_words, _save_progress,
    )
    from ..output.progress import ScanProgress

    try:
        options.destinations()
        baseline = _load_baseline(options)
        info = RunInfo(scan="ping", proto="ping", ports=tuple(plan.ports),
                       total_hosts=len(plan.targets), argv=tuple(plan.argv),
                       started=plan.started or time.time(), open_only=options.open_only)
        resume_path = _check_resume(resume_path, options)
        writers = open_host_writers(options, info)
    except BaseException:
        transport.close()
        raise
    try:
        resume = _open_resume(resume_path, options)
        links, by_iface, done = _neighbour_links(plan, transport, done)  # sockets: before root goes
    except BaseException:
        for writer in writers:
            writer.close()
        transport.close()
        raise
    written = failures.begin_stopping(request_stop, resume is not None)
    console = Console(stderr=options.human_to_stderr, highlight=False, soft_wrap=True)
    kinds = ", ".join(k.text for k in probe.kinds)  # type: ignore[attr-defined]  # a PingProbe's
    console.print(f"Starting rawscan {__version__} (host discovery of {len(plan.targets)} "
                  f"host(s): {kinds}; {_rate_words(plan)}, seed {plan.seed})")
    from ..scope import scope_lines

    for line in scope_lines(plan, probe):  # what the blocklists took out, as a port scan says
        console.print(line)
    progress = ScanProgress(Console(stderr=True), enabled=not options.quiet)
    up: list[HostResult] = []
    down: list[HostResult] = []

    def on_host(result: HostResult) -> None:
        (up if result.up else down if len(down) <= LIST_DOWN_MAX else []).append(result)
        for writer in writers:
            writer.write(result)

    with deferred():
        try:
            if before_scan is not None:
                before_scan()
            asked = _ask_neighbours(plan, links, by_iface, on_host, requested) if links else []
            def on_progress(stats: Any) -> None:  # hosts on disk within a tick (HostWriter)
                progress.update(stats)
                for writer in writers:
                    writer.flush()

            outcome = run_discovery(plan, probe, transport, on_host, on_progress,
                                    requested, done, keep_results=baseline is not None)
            _merge_neighbours(outcome, asked)
        except BaseException:
            for writer in writers:
                writer.close()
            if resume is not None:
                resume.close()
            raise
        finally:
            progress.stop()
        s = outcome.stats
        written.on_file_failure = None
        for writer in writers:
            writer.close(RunSummary(elapsed=s.elapsed, interrupted=s.interrupted))
        try:
            labels = {r.ip: f"{r.host} ({r.ip})" for r in up + down if r.host}
            render_hosts(console, up, down, outcome.down_reasons, labels, options.open_only)
            from ..api.pinging import ping_done_line, ping_footer_lines

            for line in ping_footer_lines(s, getattr(on_host, "neighbours", None)):
                console.print(line)
            if s.interrupted:
                console.print("[bold]Interrupted:[/] hosts above are what was learned so far "
                              "(none is reported down).")
                if resume is not None:
                    _save_progress(console, resume, plan, outcome.decided)
                raise typer.Exit(written.exit_code or EXIT_INTERRUPTED)
            console.print(ping_done_line(plan, outcome.up, s))
            if baseline is not None:
                _report_baseline(console, baseline, outcome)
            if written.exit_code:
                raise typer.Exit(written.exit_code)
        finally:
            if resume is not None:
                resume.close()


def _neighbour_links(plan: ScanPlan, transport: Transport, done: bytes | None
                     ) -> tuple[list[Any], dict[str, list[int]], bytes | None]:
    """On a live run without --send-ip (nor --pcap: a recording holds IP packets only, so that
    it replays), hosts on a directly connected link are asked by ARP / NDP (neighbours.py):
    their endpoints are marked done for the engine, and the AF_PACKET sockets are opened now,
    while root may still be held."""
    from ..transports.live import LiveTransport

    if plan.send_ip or not isinstance(transport, LiveTransport):
        return [], {}, done
    from .neighbours import onlink, open_links

    nports = len(plan.ports)
    bits = bytearray(done) if done is not None else bytearray((len(plan.targets) * nports + 7) // 8)
    by_iface: dict[str, list[int]] = {}
    for iface, hosts in onlink(plan.targets).items():
        for host in hosts:
            index = plan.targets.index(host)
            assert index is not None
            first = index * nports
            if all(bits[i >> 3] >> (i & 7) & 1 for i in range(first, first + nports)):
                continue  # a resumed scan's host, reported by the first run
            by_iface.setdefault(iface, []).append(host)
            for i in range(first, first + nports):
                bits[i >> 3] |= 1 << (i & 7)
    if not by_iface:
        return [], {}, done
    return open_links(by_iface, plan.sources), by_iface, bytes(bits)


def _ask_neighbours(plan: ScanPlan, links: list[Any], by_iface: dict[str, list[int]],
                    on_host: Any, stop: Any) -> list[HostResult]:
    from ..targets import int_to_ip
    from .neighbours import ask, close_links

    names = plan.targets.names
    found: list[HostResult] = []

    def answer(a: Any) -> None:
        result = HostResult(int_to_ip(a.target), "up", "nd-response" if a.v6 else "arp-response",
                            None, a.rtt, a.mac, names.get(a.target) if names else None)
        found.append(result)
        on_host(result)

    try:
        sent, rounds = ask(links, by_iface, plan.max_rate or plan.rate, plan.retries,
                           plan.timeout, answer, stop)
    finally:
        close_links(links)
    asked = sum(len(h) for h in by_iface.values())
    on_host.neighbours = (f"Neighbours: {asked} host(s) on a directly connected link asked by "
                          f"ARP / NDP ({sent} request(s) in {rounds} round(s)); {len(found)} "
                          f"answered (--send-ip sends them the IP probes instead)")
    up = {parse_addr(r.ip) for r in found}
    down = []
    if not stop():
        for hosts in by_iface.values():
            for host in sorted(hosts):
                if host not in up:
                    result = HostResult(int_to_ip(host), "down", "no-response", host=names.get(host) if names else None)
                    down.append(result)
                    on_host(result)
    return found + down


def _merge_neighbours(outcome: DiscoveryOutcome, asked: list[HostResult]) -> None:
    for r in asked:
        outcome.count(r)


def _report_baseline(console: Console, baseline: Any, outcome: DiscoveryOutcome) -> None:
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

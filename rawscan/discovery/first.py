"""--discover on the port scans: host discovery first, then only the hosts that are up are
port scanned (nmap's default; without it every host is scanned, as nmap -Pn).

Two phases, one after the other: the port scan starts once discovery has ended. (Scanning each
host as it is found would need an engine whose target set grows while it runs; the engine
walks a fixed set in a keyed order, so the phases are not pipelined.)"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..addresses import V6
from ..cookies import derive_key
from ..plan import ScanPlan
from ..addresses import parse_addr
from ..targets import TargetSet

if TYPE_CHECKING:
    from rich.console import Console

DISCOVERY_SEED_PURPOSE = "discovery"


def discovery_plan(plan: ScanPlan) -> ScanPlan:
    """The ping plan a port scan's --discover runs: same targets, sources, timing and TTL, its
    own seed (derived from the scan's) and source port range."""
    from ..probes.ping import DEFAULT_PROBES, probes_text, parse_probes

    kinds = parse_probes(DEFAULT_PROBES)
    seed = int.from_bytes(derive_key(plan.seed, DISCOVERY_SEED_PURPOSE)[:8], "big") >> 1
    sport = plan.source_port + 16 if plan.source_port + 31 <= 65535 else plan.source_port - 16
    return dataclasses.replace(plan, scan="ping", ports=tuple(range(len(kinds))), seed=seed,
                               source_port=sport, fixed_source_port=False,
                               probes=probes_text(kinds), payload_hex=None, banner_timeout=None)


def up_targets(targets: TargetSet, up: list[str]) -> TargetSet:
    """The hosts found up, as a target set (names kept)."""
    addresses = sorted(parse_addr(ip) for ip in up)
    ranges: list[tuple[int, int]] = []
    for a in addresses:
        if ranges and ranges[-1][1] + 1 == a and (a >= V6) == (ranges[-1][0] >= V6):
            ranges[-1] = (ranges[-1][0], a)
        else:
            ranges.append((a, a))
    names = {a: n for a, n in targets.names.items() if a in set(addresses)}
    return TargetSet(tuple(ranges), names)


def find_up(plan: ScanPlan, opened: tuple[ScanPlan, Any, Any],
            on_progress: Callable[[Any], None] | None = None,
            stop_requested: Callable[[], bool] | None = None) -> tuple[list[str], Any, Any]:
    """Run discovery over its own transport (opened: its plan, probe and transport): the up
    hosts' addresses, the discovery outcome and its probe module. Nothing printed."""
    from .hosts import HostResult
    from .run import run_discovery

    ping, probe, transport = opened
    up: list[str] = []

    def on_host(result: HostResult) -> None:
        if result.up:
            up.append(result.ip)

    outcome = run_discovery(ping, probe, transport, on_host, on_progress, stop_requested)
    return up, outcome, probe


def discovery_line(plan: ScanPlan, up: list[str], outcome: Any, probe: Any) -> str:
    """The report's line about a finished discovery (the CLI's, and the library's summary)."""
    s = outcome.stats
    reasons = ", ".join(f"{r} {n}" for r, n in sorted(outcome.down_reasons.items(), key=lambda kv: -kv[1]))
    skipped = len(plan.targets) - len(up)
    return (f"Discovery ({', '.join(k.text for k in probe.kinds)}; {s.sent} probes, "
            f"{s.elapsed:.2f} s): {len(up)} of {len(plan.targets)} host(s) up; "
            f"{skipped} skipped as down" + (f" ({reasons})" if reasons else "")
            + "; port scan of the up hosts follows")


def discover(plan: ScanPlan, opened: tuple[ScanPlan, Any, Any], console: Console,
             quiet: bool) -> ScanPlan | None:
    """Run discovery over its own raw sockets (opened: its plan, probe and transport); the
    port scan's plan reduced to the up hosts (None when interrupted: nothing is port scanned)."""
    from ..interrupts import requested
    from ..output.progress import ScanProgress

    from rich.console import Console as RichConsole

    progress = ScanProgress(RichConsole(stderr=True), enabled=not quiet)
    try:
        up, outcome, probe = find_up(plan, opened, progress.update, requested)
    finally:
        progress.stop()
    if outcome.stats.interrupted:
        console.print(f"Discovery interrupted: {len(up)} host(s) found up so far; nothing was "
                      f"port scanned")
        return None
    console.print(discovery_line(plan, up, outcome, probe))
    return dataclasses.replace(plan, targets=up_targets(plan.targets, up))


def discovering(report: Callable[..., None], interface: str | None) -> Callable[..., None]:
    """A runner for api/live.run_live that first gives up root (before_scan), runs discovery
    over its own sockets, then hands the port scan of the up hosts to report. The port scan's
    own sockets are already open, so root is given up once, before any reply is parsed."""

    def run(plan: ScanPlan, probe: Any, transport: Any, output: Any, *,
            before_scan: Callable[[], None] | None = None, **options: Any) -> None:
        import typer
        from rich.console import Console

        from ..output.options import check_outputs

        try:
            check_outputs(output)  # refused now, before any probe
            discovery_transport = _open(plan, interface)
            if before_scan is not None:
                before_scan()
            console = Console(stderr=output.human_to_stderr, highlight=False, soft_wrap=True)
            found = discover(plan, discovery_transport, console, output.quiet)
        except BaseException:
            transport.close()
            raise
        if found is None:
            transport.close()
            raise typer.Exit(130)
        report(found, probe, transport, output, before_scan=None, **options)

    return run


def discovering_quietly(runner: Callable[..., Any], interface: str | None,
                        notes: list[str]) -> Callable[..., Any]:
    """The library's discovering(): discovery first over its own sockets, its line put in
    notes, then runner (api/running.run_plan) port scans the up hosts; nothing printed."""

    def run(plan: ScanPlan, probe: Any, transport: Any, output: Any, *,
            before_scan: Callable[[], None] | None = None, **options: Any) -> Any:
        try:
            opened = _open(plan, interface)
            if before_scan is not None:
                before_scan()
            up, outcome, ping_probe = find_up(plan, opened)
        except BaseException:
            transport.close()
            raise
        notes.append(discovery_line(plan, up, outcome, ping_probe))
        found = dataclasses.replace(plan, targets=up_targets(plan.targets, up))
        return runner(found, probe, transport, output, before_scan=None, **options)

    return run


def _open(plan: ScanPlan, interface: str | None) -> Any:
    from ..scan import probe_for
    from ..transports.live import LiveTransport

    ping = discovery_plan(plan)
    return ping, probe_for(ping), LiveTransport(probe_for(ping).bpf_filter(), interface)

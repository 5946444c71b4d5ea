"""Host discovery (rawscan ping, nmap -sn) for the CLI and the API alike: its options -> a
checked plan (the CLI's long option names, its messages), and a run that collects each
host's result without printing (discovery/report.py is the command line's report)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import RawscanError
from .plans import Ask, LiveScan

if TYPE_CHECKING:
    from ..discovery.hosts import HostResult
    from ..discovery.run import DiscoveryOutcome
    from ..engine import ScanStats
    from ..output.options import OutputOptions
    from ..plan import ScanPlan
    from ..probes.base import ProbeModule
    from ..transports.base import Transport


def prepare_ping(
    *, targets: Sequence[str] | None = None, probes: str | None = None, send_ip: bool = False,
    input_list: PathLike[str] | str | None = None, exclude: str | None = None,
    excludefile: PathLike[str] | str | None = None, allow_large: bool = False, ipv6: bool = False,
    all_families: bool = False, timing: int | None = None, rate: float | None = None,
    max_rate: float | None = None, retries: int | None = None, timeout: float | None = None,
    resume_file: str | None = None, seed: int | None = None, interface: str | None = None,
    source: str | None = None, source_port: int | None = None, ttl: int = 64,
    pcap: PathLike[str] | str | None = None, argv: Sequence[str] = (), ask: Ask | None = None,
    require_privilege: bool = True,
    blocklist: PathLike[str] | str | None = None, no_default_blocklist: bool = False,
) -> LiveScan:
    """rawscan ping's options checked in the CLI's order, and its discovery plan: the same
    steps as a port scan's (api/checks.py). The options both take are spelt out in each
    signature, as the CLI names them; tests/api/test_plan_options.py holds them alike."""
    from ..plan import ScanPlan
    from ..probes.ping import DEFAULT_PROBES, parse_probes, probes_text
    from .checks import go_ahead, network_settings, plan_fields, select_live_targets

    kinds = parse_probes(probes or DEFAULT_PROBES)
    selection = select_live_targets(
        targets, input_list, exclude, excludefile, ipv6=ipv6, all_families=all_families,
        allow_large=allow_large, blocklist=blocklist, no_default_blocklist=no_default_blocklist)
    if (selection.targets.first_of(socket.AF_INET6) is not None
            and not any(k.for_family(True) for k in kinds)):
        raise RawscanError(f"--probes {probes_text(kinds)} sends nothing to IPv6 hosts (ICMPv6 "
                           f"has no timestamp request): add echo, syn:PORT, ack:PORT or udp:PORT")
    network = network_settings(selection, interface=interface, timing=timing, rate=rate,
                               max_rate=max_rate, retries=retries, timeout=timeout,
                               source=source)
    go_ahead(len(selection.targets), len(kinds), network.timing, allow_large=allow_large,
             ask=ask, require_privilege=require_privilege)
    plan = ScanPlan(
        scan="ping", ports=tuple(range(len(kinds))), probes=probes_text(kinds), send_ip=send_ip,
        **plan_fields(selection, network, seed=seed, interface=interface,
                      source_port=source_port, ttl=ttl, argv=argv),
    )
    return LiveScan(plan, interface, Path(pcap) if pcap is not None else None, resume_file)


@dataclass
class PingRun:
    """A discovery run that ended: its plan, every host's result (address order), the
    engine's figures and the neighbours' line (hosts on a link asked by ARP / NDP)."""

    plan: ScanPlan
    hosts: list[HostResult]
    outcome: DiscoveryOutcome
    neighbours: str | None = None


def run_ping(plan: ScanPlan, probe: ProbeModule, transport: Transport, output: OutputOptions,
             *, done: bytes | None = None, before_scan: Callable[[], None] | None = None,
             on_host: Callable[[HostResult], None] | None = None, **_ignored: Any) -> PingRun:
    """A runner for api/live.run_live: discovery over the transport (and ARP / NDP for the
    hosts on a link, as rawscan ping asks them), every host's result kept, nothing printed."""
    from ..discovery.sweep import open_neighbours, sweep
    from ..output.hosts import ip_key

    found: list[HostResult] = []

    def collect(result: HostResult) -> None:
        found.append(result)
        if on_host is not None:
            on_host(result)

    try:
        neighbours, done = open_neighbours(plan, transport, done)
    except BaseException:
        transport.close()
        raise
    if before_scan is not None:
        before_scan()
    # no stop_requested: a KeyboardInterrupt ends the call instead
    swept = sweep(plan, probe, transport, neighbours, collect, done=done)
    return PingRun(plan, sorted(found, key=lambda r: ip_key(r.ip)), swept.outcome,
                   swept.neighbours)


def ping_footer_lines(s: ScanStats, neighbours: str | None) -> list[str]:
    """The report's lines after the host table (the CLI's and ScanResult.summary's)."""
    from .summary import probes_line, sending_lines

    return ([neighbours] if neighbours else []) + [probes_line(s)] + sending_lines(s)


def ping_done_line(plan: ScanPlan, up: int, s: ScanStats) -> str:
    return (f"rawscan done: {len(plan.targets)} IP address(es) ({up} "
            f"host(s) up) scanned in {s.elapsed:.2f} seconds")

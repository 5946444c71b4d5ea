"""--discover on the port scans: host discovery, and only the hosts found up are port scanned
(nmap's default; without it every host is scanned, as nmap -Pn). Each host found up is port
scanned while discovery goes on (rawscan/discovery/pipeline.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, MutableMapping
from typing import Any

from ..cookies import derive_key
from ..plan import ScanPlan
from .pipeline import Opened, PipelinedScan

DISCOVERY_SEED_PURPOSE = "discovery"
DISCOVER_NOT_SHARDED = ("--discover with --shards or --workers is not supported (each shard "
                        "would find its own up hosts): give one of them")


def discover_options(options: MutableMapping[str, Any]) -> tuple[bool, str | None]:
    """--discover and --discover-probes taken out of a port scan's options (the CLI's and the
    library's): whether to discover, and the probes, checked now (bad input is one line,
    before anything else)."""
    probes = options.pop("discover_probes", None)
    if probes is not None:
        from ..probes.ping import parse_probes

        probes = str(probes)
        parse_probes(probes, "--discover-probes")
    return bool(options.pop("discover", False)) or probes is not None, probes


DISCOVER_NOT_SAMPLED = ("--discover with --max-targets is not supported (the port scan runs "
                        "in waves of hosts as they are found; each would take its own sample): "
                        "give one of them")


def refuse_combinations(discover: bool, plan: ScanPlan, workers: int | None) -> None:
    """--discover with --shards, --workers or --max-targets: refused, before any probe."""
    if not discover:
        return
    from ..errors import RawscanError

    if workers or plan.shards:
        raise RawscanError(DISCOVER_NOT_SHARDED)
    if plan.max_targets:
        raise RawscanError(DISCOVER_NOT_SAMPLED)


def discovery_plan(plan: ScanPlan, probes: str | None = None) -> ScanPlan:
    """The ping plan a port scan's --discover runs: same targets, sources, timing and TTL, its
    own seed (derived from the scan's) and source port range; probes: --discover-probes."""
    from ..probes.ping import DEFAULT_PROBES, probes_text, parse_probes

    kinds = parse_probes(probes or DEFAULT_PROBES, "--discover-probes")
    seed = int.from_bytes(derive_key(plan.seed, DISCOVERY_SEED_PURPOSE)[:8], "big") >> 1
    sport = plan.source_port + 16 if plan.source_port + 31 <= 65535 else plan.source_port - 16
    return dataclasses.replace(plan, scan="ping", ports=tuple(range(len(kinds))), seed=seed,
                               source_port=sport, fixed_source_port=False,
                               probes=probes_text(kinds), payload_hex=None, banner_timeout=None,
                               shards=0, shard=0, workers=0, max_targets=None)


def discovering(report: Callable[..., None], interface: str | None,
                probes: str | None = None) -> Callable[..., None]:
    """A runner for api/live.run_live: opens discovery's sockets (root is still held), then
    hands the scan to report (the CLI's run_and_report) with the pipelined runner, which
    starts discovery once every output is open and root is given up."""

    def run(plan: ScanPlan, probe: Any, transport: Any, output: Any, **options: Any) -> None:
        _with_discovery(plan, transport, interface, None, probes,
                        lambda runner: report(plan, probe, transport, output,
                                              runner=runner, **options))

    return run


def discovering_quietly(runner: Callable[..., Any], interface: str | None,
                        network: Any = None, probes: str | None = None) -> Callable[..., Any]:
    """The library's discovering(): runner is api/running.run_plan; the discovery line is
    the first of the result's summary lines. network: discovery's transport in place of raw
    sockets (a SimulatedNetwork's sibling)."""

    def run(plan: ScanPlan, probe: Any, transport: Any, output: Any, **options: Any) -> Any:
        return _with_discovery(plan, transport, interface, network, probes,
                               lambda pipelined: runner(plan, probe, transport, output,
                                                        runner=pipelined, **options))

    return run


def _with_discovery(plan: ScanPlan, transport: Any, interface: str | None, network: Any,
                    probes: str | None, scan: Callable[[PipelinedScan], Any]) -> Any:
    try:
        opened = _open(plan, interface, network, probes)
    except BaseException:
        transport.close()
        raise
    pipelined = PipelinedScan(opened)
    try:
        return scan(pipelined)
    finally:
        if not pipelined.started:  # refused before a probe: the runner never closed it
            opened[2].close()


def _open(plan: ScanPlan, interface: str | None, network: Any = None,
          probes: str | None = None) -> Opened:
    from ..scan import probe_for
    from ..transports.live import LiveTransport

    ping = discovery_plan(plan, probes)
    probe = probe_for(ping)
    return ping, probe, network or LiveTransport(probe.bpf_filter(), interface)

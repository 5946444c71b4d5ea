"""rawscan: a packet-level port scanner built on Scapy, as a library.

    import rawscan

    result = rawscan.replay("staging.pcap")          # no root, no network
    assert result.state("198.18.0.2", "tcp", 22) == "open"
    print([p.port for p in result.open()])
    result.write("staging.xml", "xml")               # as -oX writes it

    live = rawscan.syn("198.18.0.2", ports="1-1024", rate=2000, pcap="scan.pcap")  # root

`syn` and `udp` (and `port_scan(kind, ...)` for ack, fin, null and xmas too) take the command
line's long option names as keywords (`rawscan syn --help`);
`ping(targets, ...)` is host discovery (its result's host_results);
`replay(capture)`, `replay_ping(capture)`, `analyze(*captures)`, `load(result_file)` and
`merge(*shard_outputs)` read files. Each returns a
ScanResult (ports, hosts, stats, summary, state(), open(), diff(), write()). Errors are
RawscanError subclasses carrying the message the CLI prints. `rawscan.testing` is a simulated
network and exposure assertions for your tests; the pytest plugin (`rawscan_replay` fixture,
`rawscan_live` marker, `--rawscan-record`) is loaded by pytest on its own.

A map of the house (README "How it works" has the long version):

    cli.py, commands/     the command line: typer declarations, printing, exit codes
    api/                  what both faces share: plans.py (options -> ScanPlan), running.py
                          (a plan over a transport, outputs fed), live.py, replay.py,
                          analysis.py, summary.py (the report's lines, pure), result.py and
                          public.py (this module's ScanResult and functions), pinging.py
                          (host discovery's plan and run), sharding.py (which shard, its seed)
    plan.py, resume.py    ScanPlan (targets, ports, seed, options), its sidecar, resume files
    scan.py, engine.py    the probe module for a plan; the round loop, retries, rate, state
    probes/, payloads.py  per scan type: build a probe, recognise our reply, classify it
    classify.py, cookies.py, wire.py, checksum.py, crafting.py   replies -> state + reason;
                          keyed reply check; header parsing; templates and BPF without Scapy
    results.py            PortResult and Verdict: what every writer and the API receive
    cyclic.py, pacing.py, timing.py, retry_policy.py, rtt.py, congestion.py, bandwidth.py
                          probe order, pace, -T templates, retries, RTT, the adaptive rate
    vector.py, probes/syn_batch.py        the numpy path of large IPv4 SYN scans
    transports/           live raw sockets (sendmmsg, rx ring), replay, --pcap recording
    addresses.py, targets.py, ranges.py, sources.py, ports.py, services.py
                          what is scanned and from where (addresses are ints, IPv6 tagged)
    limits.py, blocklist.py, scope.py     size guards, never-scan ranges, their report lines
    shards.py, merging.py --shards/--workers splits and `rawscan merge` of their outputs
    workers.py            --workers: the forked shard processes
    discovery/            rawscan ping and --discover: host discovery, its outputs
    synproxy.py           pure: does a host's SYN scan look like a SYN proxy or tarpit
    privileges.py, interrupts.py          giving up root; Ctrl-C as a stop request
    output/, compare/     the writers, safe files, progress; diff and --baseline
    analyze/, capture.py  any capture -> probes, replies, states, scanners, ping sweeps
    banners/              --banners: connect, identify, TLS facts
    testing.py, pytest_plugin.py          for users' tests: simulated network, the plugin

Importing rawscan loads nothing heavy (no Scapy, numpy or typer): the names below are
loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import RawscanError

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .api.public import (LiveOptions, PingOptions, analyze, load, merge, ping, port_scan,
                             replay, replay_ping, syn, udp)
    from .discovery.hosts import HostResult
    from .api.result import Change, Host, Port, ScanResult, Stats
    from .capture import CaptureError
    from .output.failures import OutputWriteError
    from .ports import PortError
    from .targets import TargetError
    from .privileges import PrivilegeError

__all__ = [
    "syn", "udp", "port_scan", "replay", "analyze", "load", "merge", "LiveOptions",
    "ping", "replay_ping", "PingOptions", "HostResult",
    "ScanResult", "Port", "Host", "Stats", "Change",
    "RawscanError", "TargetError", "PortError", "PrivilegeError", "CaptureError",
    "OutputWriteError", "__version__",
]

_LAZY = {
    "syn": "api.public", "udp": "api.public", "port_scan": "api.public", "replay": "api.public",
    "load": "api.public", "LiveOptions": "api.public", "merge": "api.public",
    "ping": "api.public", "replay_ping": "api.public", "PingOptions": "api.public",
    "HostResult": "discovery.hosts",
    "ScanResult": "api.result", "Port": "api.result", "Host": "api.result",
    "Stats": "api.result", "Change": "api.result",
    "TargetError": "targets", "PortError": "ports", "PrivilegeError": "privileges",
    "CaptureError": "capture", "OutputWriteError": "output.failures",
}


def __getattr__(name: str) -> object:
    if name == "analyze":  # the subpackage, which is callable: analyze(*captures)
        import importlib

        return importlib.import_module(f"{__name__}.analyze")
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{where}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

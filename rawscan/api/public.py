"""rawscan.syn/udp/replay/analyze/load: the command line's code paths, returning a
ScanResult instead of printing. Nothing here prints or touches signals: a KeyboardInterrupt
ends the call (outputs and the recording are closed whole first)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from os import PathLike
from typing import TYPE_CHECKING, TypedDict, cast

from ..errors import RawscanError
from .result import Port, ScanResult, Stats, port_of

if TYPE_CHECKING:
    from typing import Unpack

    from ..transports.base import Transport
    from .pinging import PingRun
    from .running import FinishedRun

Pathish = str | PathLike[str]


class _TargetOptions(TypedDict, total=False):
    """The options every live command takes: targets, timing, addresses, recording."""

    input_list: Pathish
    exclude: str
    excludefile: Pathish
    allow_large: bool
    ipv6: bool
    all_families: bool
    timing: int
    rate: float
    max_rate: float
    retries: int
    timeout: float
    seed: int
    interface: str
    source: str
    source_port: int
    ttl: int
    pcap: Pathish


class LiveOptions(_TargetOptions, total=False):
    """rawscan.syn/udp's keyword options: the CLI's long option names (-iL is input_list, -6
    ipv6, -T timing); see `rawscan syn --help`. resume_file is the CLI's alone (for now)."""

    data_hex: str
    data_string: str
    defeat_icmp_ratelimit: bool
    banners: bool
    banner_timeout: float
    banner_concurrency: int
    blocklist: Pathish
    no_default_blocklist: bool
    bandwidth: str
    max_targets: str
    shards: int
    shard: int
    workers: int
    metadata_file: Pathish
    discover: bool
    discover_probes: str


class PingOptions(_TargetOptions, total=False):
    """rawscan.ping's keyword options: `rawscan ping --help`'s long names, as LiveOptions."""

    probes: str
    send_ip: bool
    blocklist: Pathish
    no_default_blocklist: bool


# How an option is spelt on the command line the plan records (XML's args, the sidecar).
_SHORT = {"input_list": "-iL", "ipv6": "-6", "timing": "-T"}


def syn(targets: str | Sequence[str], ports: str | Iterable[int] | None = None,
        **options: Unpack[LiveOptions]) -> ScanResult:
    """A TCP SYN scan, as `rawscan syn` runs it (needs the raw-socket privilege: root or
    CAP_NET_RAW, else PrivilegeError). Returns every port's result."""
    return _live("syn", targets, ports, options)


def udp(targets: str | Sequence[str], ports: str | Iterable[int] | None = None,
        **options: Unpack[LiveOptions]) -> ScanResult:
    """A UDP scan with protocol probes, as `rawscan udp` runs it (raw sockets needed)."""
    return _live("udp", targets, ports, options)


PORT_SCANS = ("syn", "udp", "ack", "fin", "null", "xmas")


def port_scan(kind: str, targets: str | Sequence[str], ports: str | Iterable[int] | None = None,
         **options: Unpack[LiveOptions]) -> ScanResult:
    """Any of rawscan's port scans by its command's name: syn, udp, ack, fin, null, xmas."""
    if kind not in PORT_SCANS:
        raise RawscanError(f"'{kind}' is not a port scan rawscan runs ({', '.join(PORT_SCANS)})")
    return _live(kind, targets, ports, options)


def replay(capture: Pathish, plan: Pathish | None = None) -> ScanResult:
    """Run the scan engine against a scan recorded with pcap= (or --pcap), in virtual time,
    as `rawscan replay` does: no root, no network. plan: the scan description (default
    CAPTURE.json)."""
    from ..output.options import OutputOptions
    from .replay import load_replay
    from .running import run_plan

    replayed = load_replay(str(capture), str(plan) if plan is not None else None)
    if replayed.plan.scan not in PORT_SCANS:  # rawscan ping: hosts, not ports
        raise RawscanError(f"'{capture}' records a {replayed.plan.scan} scan; the library "
                           f"replays port scans ({', '.join(PORT_SCANS)}) here: use "
                           f"rawscan.replay_ping")
    finished = run_plan(replayed.plan, replayed.probe, replayed.transport, OutputOptions(),
                        keep_results=True)
    return _scan_result(finished, source=str(capture))


def analyze(*captures: Pathish, min_probes: int = 5) -> ScanResult:
    """What the scans in saved captures (pcap, pcapng, gzip'd) learned, whichever tool sent
    them, as `rawscan analyze` reports it; the ports' details hold the analysis fields
    (scanner, probes, probe_frame, reply_frame)."""
    from ..addresses import addr_to_str
    from ..analyze.ordered import results
    from .analysis import analyze_captures
    from .summary import analyze_footer_lines

    if not captures:
        raise RawscanError("analyze needs at least one capture")
    paths = [str(c) for c in captures]
    found = analyze_captures(paths, min_probes)
    names = {a: n for a, n in found.names.items()}
    several = paths if len(paths) > 1 else None
    records = [r for s in found.scanners
               for r in results(found.ordered, s.start, s.stop, addr_to_str(s.address),
                                several, names)]
    summary = analyze_footer_lines(found.obs, paths, found.scanners, found.others, min_probes)
    return ScanResult([port_of(r) for r in records], source=" ".join(paths), scan="analyze",
                      summary=summary, records=records)


def load(path: Pathish) -> ScanResult:
    """A result file: any rawscan output (-oX, -oG, -oJ, -oC) or nmap's XML or -oG. Ports
    carry what the format holds (grepable has no reason or TTL: '' and None); ports a file
    only summarises (nmap's extraports) answer state() but are not listed."""
    from ..compare.load import load_results

    loaded = load_results(str(path))
    ports = []
    for (ip, proto, number), state in loaded.listed.items():
        record: dict[str, object] = {"ip": ip, "proto": proto, "port": number, "state": state,
                                     "reason": "", "ttl": None, "service": "",
                                     "host": loaded.names.get(ip)}
        record.update({k: v for k, v in loaded.details.get((ip, proto, number), {}).items()
                       if k not in ("ip", "proto", "port", "state", "host")})
        ports.append(Port.from_record(record))
    return ScanResult(ports, source=str(path), ranges=loaded)


def ping(targets: str | Sequence[str], **options: Unpack[PingOptions]) -> ScanResult:
    """Host discovery, as `rawscan ping` runs it (nmap -sn; raw sockets needed): the result's
    host_results say each host up or down, with the reason, TTL and RTT."""
    wanted = [targets] if isinstance(targets, str) else list(targets)
    return ping_over(None, wanted, options)


def ping_over(network: Transport | None, targets: list[str],
              options: PingOptions) -> ScanResult:
    from ..output.options import OutputOptions
    from .live import run_live
    from .pinging import prepare_ping, run_ping

    argv = _command_line("ping", targets, None, options)  # type: ignore[arg-type]  # same shape
    scan = prepare_ping(targets=targets, argv=argv, require_privilege=network is None,
                        **options)
    run = run_live(scan.plan, scan.interface, scan.pcap, OutputOptions(), run_ping,
                   give_up_root=False, network=network)
    return _ping_result(run, source=" ".join(argv))


def replay_ping(capture: Pathish, plan: Pathish | None = None) -> ScanResult:
    """Run host discovery again against a `rawscan ping --pcap` recording, as `rawscan
    replay` does (no root, no network): host_results as rawscan.ping returns them."""
    from ..output.options import OutputOptions
    from .pinging import run_ping
    from .replay import load_replay

    replayed = load_replay(str(capture), str(plan) if plan is not None else None)
    if replayed.plan.scan != "ping":
        raise RawscanError(f"'{capture}' records a {replayed.plan.scan} scan, not host "
                           f"discovery: use rawscan.replay")
    run = run_ping(replayed.plan, replayed.probe, replayed.transport, OutputOptions())
    return _ping_result(run, source=str(capture))


def _ping_result(run: PingRun, source: str) -> ScanResult:
    from ..output import RunInfo
    from .pinging import ping_done_line, ping_footer_lines

    plan, outcome = run.plan, run.outcome
    s = outcome.stats
    summary = ping_footer_lines(s, run.neighbours)
    if not s.interrupted:
        summary.append(ping_done_line(plan, outcome.up, s))
    info = RunInfo(scan="ping", proto="ping", ports=tuple(plan.ports),
                   total_hosts=len(plan.targets), argv=tuple(plan.argv),
                   started=plan.started or 0.0)
    return ScanResult([], source=source, scan="ping",
                      stats=Stats.of(s, len(plan.targets), outcome.up, len(plan.ports)),
                      summary=summary, info=info, host_results=run.hosts)


def merge(*paths: Pathish, partial: bool = False) -> ScanResult:
    """The outputs of a scan's shards (shards=/workers=, --shards: -oJ, -oX, -oG, -oC files,
    pcap recordings or metadata files) as one result, as `rawscan merge` writes it.
    RawscanError when they are not of one plan, or (unless partial) when a shard is missing or
    short; summary: the report's lines (with partial, what is missing first)."""
    from ..merging import merge as merge_shards, merged_line, problems, read_input, run_info
    from ..output.tally import ReportTally

    inputs = [str(p) for p in paths]
    merged = merge_shards([read_input(path) for path in inputs])
    missing = problems(merged)
    if missing and not partial:
        raise RawscanError(f"incomplete set of shards: {'; '.join(missing)} (give "
                           f"partial=True to merge what is there)")
    info = run_info(merged, inputs, False)
    tally = ReportTally(info.open_only)
    for result in merged.results:
        tally.add(result)
    summary = missing + [merged_line(merged, inputs),
                         f"rawscan merge done: {info.total_hosts} IP address(es) "
                         f"({tally.hosts_up} host(s) up)"]
    return ScanResult([port_of(r) for r in merged.results], source=" ".join(inputs),
                      scan=info.scan, summary=summary, info=info, records=merged.results)


def _live(kind: str, targets: str | Sequence[str], ports: str | Iterable[int] | None,
          options: LiveOptions) -> ScanResult:
    wanted = [targets] if isinstance(targets, str) else list(targets)
    return scan_over(None, kind, wanted, ports, options)


def scan_over(network: Transport | None, kind: str, targets: list[str],
              ports: str | Iterable[int] | None, options: LiveOptions) -> ScanResult:
    """A live scan's path, over the raw sockets (network None) or another transport (a
    simulated network: no privilege needed then)."""
    from ..output.options import OutputOptions
    from .live import run_live
    from .plans import prepare_live_scan
    from .running import run_plan
    from .sharding import Sharding

    from ..discovery.first import discover_options, refuse_combinations
    from ..plan import compress_ports

    port_text = (ports if ports is None or isinstance(ports, str)
                 else compress_ports(tuple(sorted(set(ports)))))
    argv = _command_line(kind, targets, port_text, options)
    rest = dict(options)
    sharding = Sharding.from_options(rest.pop("shards", None), rest.pop("shard", None),  # type: ignore[arg-type]
                                     rest.pop("workers", None), rest.get("max_targets"))  # type: ignore[arg-type]
    metadata = rest.pop("metadata_file", None)
    discover, discover_probes = discover_options(rest)
    metadata_path = str(metadata) if metadata is not None else None
    scan = prepare_live_scan(kind, targets=targets, ports=port_text, argv=argv,
                             require_privilege=network is None, **rest)  # type: ignore[arg-type]
    plan, note = sharding.apply(scan.plan, options.get("seed") is not None,
                                options.get("source_port"))
    finished: FinishedRun
    refuse_combinations(discover, plan, sharding.workers)
    if sharding.workers:
        if network is not None:
            raise RawscanError("workers= forks processes over raw sockets: not on a simulated "
                               "network (give shards= and shard= for one shard)")
        from ..scan import probe_for
        from ..workers import NoTransport, prepare

        plan, runner, note = prepare(plan, sharding.workers, scan.pcap, None, scan.interface,
                                     give_up_root=False)
        finished = run_plan(plan, probe_for(plan), cast("Transport", NoTransport()),
                            OutputOptions(), banners=scan.banners, keep_results=True,
                            metadata_path=metadata_path, shard_note=note, runner=runner)
    else:
        scan_plan: Callable[..., FinishedRun] = run_plan
        if discover:  # the up hosts only (discovery/first.py)
            from ..discovery.first import discovering_quietly

            scan_plan = discovering_quietly(run_plan, scan.interface, _pings_over(network),
                                            discover_probes)
        finished = run_live(plan, scan.interface, scan.pcap, OutputOptions(), scan_plan,
                            banners=scan.banners, give_up_root=False, network=network,
                            keep_results=True, metadata_path=metadata_path, shard_note=note)
    return _scan_result(finished, source=" ".join(argv))


def _pings_over(network: Transport | None) -> Transport | None:
    """Discovery's transport beside a port scan over `network`: the raw sockets (None), or a
    simulated network's sibling (another transport onto the same hosts)."""
    if network is None:
        return None
    from ..testing import SimulatedNetwork

    if not isinstance(network, SimulatedNetwork):
        raise RawscanError("discover= over a transport of your own is not supported: host "
                           "discovery needs a second one (rawscan.testing.SimulatedNetwork has "
                           "sibling())")
    return network.sibling()


def _command_line(kind: str, targets: list[str], ports: str | None,
                  options: LiveOptions) -> tuple[str, ...]:
    words = [kind, *targets] + (["-p", ports] if ports is not None else [])
    for name, value in options.items():
        flag = _SHORT.get(name) or "--" + name.replace("_", "-")
        if value is True:
            words.append(flag)
        elif value is not False and value is not None:
            words += [flag, str(value)]
    return tuple(words)


def _scan_result(finished: FinishedRun, source: str, notes: Sequence[str] = ()) -> ScanResult:
    from ..output import RunInfo
    from ..scan import hosts_scanned

    plan, outcome = finished.plan, finished.outcome
    records = outcome.results or []
    hosts = hosts_scanned(plan)  # --max-targets: the sample's hosts
    stats = Stats.of(outcome.stats, hosts, outcome.tally.hosts_up, len(plan.ports))
    info = RunInfo(scan=plan.scan, proto=finished.proto, ports=tuple(plan.ports),
                   total_hosts=hosts, argv=tuple(plan.argv),
                   started=plan.started or 0.0, banners=plan.banner_timeout is not None)
    if plan.shards and not plan.workers:  # a shard's: write() names plan and shard (merge)
        import dataclasses

        from ..output.shardinfo import shard_record

        info = dataclasses.replace(info, shard=shard_record(plan, finished.proto))
    return ScanResult([port_of(r) for r in records], source=source, scan=plan.scan,
                      stats=stats, summary=[*notes, *finished.summary_lines()], info=info,
                      records=records)


def record_again(capture: Pathish, plan: Pathish | None = None) -> ScanResult:
    """Run the live scan a recording came from again (its scan description: targets, ports,
    seed, rate and the rest), recording it over `capture` and its sidecar. Raw sockets
    needed, as for rawscan.syn."""
    import dataclasses
    import time
    from pathlib import Path

    from ..output.options import OutputOptions
    from ..plan import MAX_SIDECAR, ScanPlan, check_replayable, sidecar_path
    from ..privileges import require_raw_sockets
    from .live import run_live
    from .running import run_plan

    description = str(plan) if plan is not None else sidecar_path(str(capture))
    try:
        with open(description, "rb") as f:
            text = f.read(MAX_SIDECAR + 1).decode("utf-8", "replace")
    except OSError as exc:
        raise RawscanError(f"cannot read scan description '{description}': {exc.strerror}") from None
    recorded = ScanPlan.from_json(text, description)
    check_replayable(recorded, description)
    require_raw_sockets()
    again = dataclasses.replace(recorded, started=time.time())
    finished: FinishedRun = run_live(again, None, Path(str(capture)), OutputOptions(force=True),
                                     run_plan, give_up_root=False, keep_results=True)
    return _scan_result(finished, source=str(capture))

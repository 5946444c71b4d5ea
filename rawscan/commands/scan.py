"""Live scans: the command line's options (declared once, in _options) and the syn/udp
commands. Checking the options and making the plan is rawscan/api/plans.py's, running it
rawscan/api/live.py and running.py's: the library's rawscan.syn/udp go the same way."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from ..output.options import OutputOptions
from .common import run_and_report, user_errors, with_output_options

if TYPE_CHECKING:
    from ..plan import ScanPlan
    from ..transports.base import Transport

MAX_SHARDS = 1 << 20  # plan.py reads no more from a sidecar or resume file
TargetsArg = Annotated[
    Optional[list[str]], typer.Argument(help="Addresses, CIDR blocks, ranges or host names.")
]
PortsOpt = Annotated[
    Optional[str],
    typer.Option("-p", "--ports", help="Ports, nmap syntax: 22,80 1-1024 - T:80,U:53. "
                 "Default: rawscan's list of common ports."),
]


def _options(
    targets: TargetsArg = None,
    ports: PortsOpt = None,
    input_list: Annotated[Optional[Path], typer.Option("-iL", help="Read targets from a file ('-': stdin).")] = None,
    exclude: Annotated[Optional[str], typer.Option("--exclude", help="Targets to skip, comma separated.")] = None,
    excludefile: Annotated[Optional[Path], typer.Option("--excludefile", help="Targets to skip, from a file.")] = None,
    allow_large: Annotated[bool, typer.Option("--allow-large", help="Allow more than 2^24 IPv4 or 2^16 IPv6 addresses.")] = False,
    ipv6: Annotated[bool, typer.Option("-6", help="Host names resolve to their IPv6 address (default: IPv4). Address literals of both families are always scanned.")] = False,
    all_families: Annotated[bool, typer.Option("--all-families", help="Host names resolve to every IPv4 and IPv6 address they have.")] = False,
    timing: Annotated[Optional[int], typer.Option("-T", min=0, max=5, help="Timing template: 0 paranoid (1 probe/5 min) 1 sneaky (1/15 s) 2 polite (2.5/s) 3 normal (default: adaptive from 5,000/s up to 300,000/s, 10 retries, 1 s) 4 aggressive (adaptive from 10,000/s up to 500,000/s, 6 retries, 1.25 s) 5 insane (adaptive from 20,000/s up to 1,000,000/s, 2 retries, 0.3 s); --rate, --max-rate, --retries and --timeout override it.")] = None,
    rate: Annotated[Optional[float], typer.Option("--rate", min=0.1, help="A fixed rate: probes per second, retransmissions included. Retry rounds slow down to as little as 1/16 of it while replies are being lost. Default: adaptive (see --max-rate).")] = None,
    max_rate: Annotated[Optional[float], typer.Option("--max-rate", min=1.0, help="Ceiling of the adaptive rate, which starts low and finds what the path carries (default from -T: 300,000/s at -T3).")] = None,
    retries: Annotated[Optional[int], typer.Option("--retries", min=0, max=50, help="At most this many retransmissions of an unanswered probe (default 10).")] = None,
    timeout: Annotated[Optional[float], typer.Option("--timeout", min=0.0, help="At most this many seconds of waiting for replies after each round's last probe (default 1; less once the round-trip time is measured).")] = None,
    resume_file: Annotated[Optional[str], typer.Option("--resume-file", help="Where an interrupted scan saves its progress for 'rawscan resume' (default: ./rawscan.resume).")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", min=0, max=2**63 - 1, help="Key for probe order and reply cookies (random by default).")] = None,
    interface: Annotated[Optional[str], typer.Option("-e", "--interface", help="Send and receive on this interface.")] = None,
    source: Annotated[Optional[str], typer.Option("-S", "--source", help="Source address(es) this host owns, e.g. 198.18.0.1-8: probes are spread over them (default: the route's).")] = None,
    source_port: Annotated[Optional[int], typer.Option("-g", "--source-port", min=1, max=65535, help="TCP source port for every try (default: one chosen from the seed, plus the try number, as nmap does).")] = None,
    ttl: Annotated[int, typer.Option("--ttl", min=1, max=255, help="IP TTL of probes.")] = 64,
    pcap: Annotated[Optional[Path], typer.Option("--pcap", help="Record every probe and reply to this pcap (plus FILE.json with the scan's seed and options).")] = None,
    data_hex: Annotated[Optional[str], typer.Option("--data-hex", help="UDP: send these bytes (hex) to every port instead of protocol probes.")] = None,
    data_string: Annotated[Optional[str], typer.Option("--data-string", help="UDP: send this text to every port instead of protocol probes.")] = None,
    defeat_icmp_ratelimit: Annotated[bool, typer.Option("--defeat-icmp-ratelimit", help="UDP: do not wait out ICMP rate limits; unanswered ports stay open|filtered.")] = False,
    banners: Annotated[bool, typer.Option("--banners", help="TCP: connect to each open port as it is found (the kernel's TCP stack, after root is given up) and report its banner, TLS certificate, service and version. UDP: report what each open port's reply shows, and ask open DNS servers version.bind.")] = False,
    banner_timeout: Annotated[float, typer.Option("--banner-timeout", min=0.1, max=60.0, help="--banners: seconds a port may take in all, connects and reads (default 3); the scan waits at most this long after its last open port.")] = 3.0,
    banner_concurrency: Annotated[int, typer.Option("--banner-concurrency", min=1, max=4096, help="--banners: connections at once (default 256).")] = 256,
    blocklist: Annotated[Optional[Path], typer.Option("--blocklist", help="Never scan these addresses and CIDR blocks (a file: one a line, '#' comments), whatever the targets say.")] = None,
    no_default_blocklist: Annotated[bool, typer.Option("--no-default-blocklist", help="Scan the IANA special-purpose ranges (private, loopback, multicast, documentation, reserved ...) also where a target only overlaps one; a target wholly inside one is scanned anyway.")] = False,
    bandwidth: Annotated[Optional[str], typer.Option("--bandwidth", help="At most this many bits per second on the wire, e.g. 10M (K, M, G suffixes, as zmap's -B; each probe counted as its Ethernet frame); a ceiling of the adaptive rate. Not with --rate.")] = None,
    max_targets: Annotated[Optional[str], typer.Option("--max-targets", help="Probe at most this many endpoints (host x port), or this percentage of them (e.g. 1000, 0.1%): a random sample keyed by the seed, as zmap's -n.")] = None,
    discover: Annotated[bool, typer.Option("--discover", help="Host discovery first (rawscan ping's probes: ICMP echo, SYN 443, ACK 80, ICMP timestamp); only the hosts found up are port scanned, each as soon as it is found. Default: every host is scanned (nmap -Pn).")] = False,
    discover_probes: Annotated[Optional[str], typer.Option("--discover-probes", help="--discover with these probes (rawscan ping's --probes: echo, timestamp, syn:PORT, ack:PORT, udp:PORT; nmap's -PE -PP -PS -PA -PU); implies --discover.")] = None,
    shards: Annotated[Optional[int], typer.Option("--shards", min=1, max=MAX_SHARDS, help="Split the endpoints (host x port) into N shards of one plan, one per machine; scan the one --shard names. The seed is derived from the plan unless --seed is given.")] = None,
    shard: Annotated[Optional[int], typer.Option("--shard", min=0, max=MAX_SHARDS - 1, help="Which shard this run scans, 0..N-1 (default with --shards: $JOB_COMPLETION_INDEX, as a Kubernetes Indexed Job sets it).")] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", min=1, max=64, help="Scan in N processes on this machine (one shard each), results merged into the outputs as they come.")] = None,
    metadata_file: Annotated[Optional[str], typer.Option("--metadata-file", help="Write the run's metadata (shard, seed, plan fingerprint, probes planned/sent/answered/retried, drops, times, rate, exit state) to this JSON file.")] = None,
    *,
    output: OutputOptions,
) -> None:
    """The options every live scan command takes (one list, so the commands cannot drift)."""


def _command(kind: str, doc: str) -> Callable[..., None]:
    def command(**options: Any) -> None:
        with user_errors():
            _scan(kind, **options)

    command.__signature__ = inspect.signature(_options, eval_str=True)  # type: ignore[attr-defined]  # read by inspect, undeclared
    command.__doc__ = doc
    command.__name__ = kind
    return with_output_options(command)


syn = _command("syn", "TCP SYN scan: SYN-ACK -> open, RST -> closed, ICMP unreachable or silence -> filtered.")
udp = _command("udp", "UDP scan with protocol probes: reply -> open, ICMP port unreachable -> closed, silence -> open|filtered.")
ack = _command("ack", "TCP ACK scan (nmap -sA), maps firewalls: RST -> unfiltered, ICMP unreachable or silence -> filtered.")
fin = _command("fin", "TCP FIN scan (nmap -sF): RST -> closed, ICMP unreachable -> filtered, silence -> open|filtered.")
null = _command("null", "TCP NULL scan, no flags (nmap -sN): RST -> closed, ICMP unreachable -> filtered, silence -> open|filtered.")
xmas = _command("xmas", "TCP Xmas scan, FIN PSH URG (nmap -sX): RST -> closed, ICMP unreachable -> filtered, silence -> open|filtered.")


def _scan(kind: str, *, output: OutputOptions, **options: Any) -> None:
    """The options (named as _options declares them) are checked and made a plan in
    rawscan/api/plans.py, the library's code path too; this adds the command line's own
    parts: the recorded argv, the y/N question for a large scan, the report."""
    from ..api.plans import prepare_live_scan
    from ..api.sharding import Sharding
    from ..discovery.first import discover_options, refuse_combinations
    from ..limits import terminal_ask

    discover, discover_probes = discover_options(options)

    sharding = Sharding.from_options(options.pop("shards", None), options.pop("shard", None),
                                     options.pop("workers", None), options.get("max_targets"))
    metadata_file = options.pop("metadata_file", None)
    scan = prepare_live_scan(kind, **options, argv=tuple(sys.argv[1:]), ask=terminal_ask())
    plan, shard_note = sharding.apply(scan.plan, options.get("seed") is not None,
                                      options.get("source_port"))
    refuse_combinations(discover, plan, sharding.workers)
    if sharding.workers:
        from .workers import run_workers

        run_workers(plan, sharding.workers, scan.interface, scan.pcap, output,
                    scan.resume_file, banners=scan.banners, metadata_path=metadata_file)
        return
    _run_live(plan, scan.interface, scan.pcap, output, scan.resume_file,
              banners=scan.banners, discover=discover, metadata_path=metadata_file,
              shard_note=shard_note, discover_probes=discover_probes)


def _run_live(plan: ScanPlan, interface: str | None, pcap: Path | None, output: OutputOptions,
              resume_path: str | None = None, done: bytes | None = None,
              banners: Any = None, discover: bool = False, metadata_path: str | None = None,
              shard_note: str | None = None, discover_probes: str | None = None) -> None:
    from ..api.live import run_live
    from ..resume import DEFAULT_PATH

    # run_and_report looked up here at each call: tests put a stand-in in its place
    report: Callable[..., None] = run_and_report
    if plan.scan == "ping":  # host discovery: its own outputs (rawscan/discovery/report.py)
        from ..discovery.report import run_ping_and_report as report
    if discover:  # --discover: the up hosts only (rawscan/discovery/first.py)
        from ..discovery.first import discovering

        report = discovering(report, interface, discover_probes)
    extra: dict[str, Any] = {}
    if metadata_path is not None or plan.shards:  # --metadata-file, --shards
        extra.update(metadata_path=metadata_path, shard_note=shard_note)
    run_live(plan, interface, pcap, output, report,
             resume_path=resume_path or DEFAULT_PATH, done=done, banners=banners, **extra)

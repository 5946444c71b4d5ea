"""Live scans: build a ScanPlan from the command line and run it over raw sockets."""

from __future__ import annotations

import inspect
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from ..errors import RawscanError
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


def _scan(
    kind: str, *, targets: list[str] | None, ports: str | None, input_list: Path | None,
    exclude: str | None, excludefile: Path | None, allow_large: bool, ipv6: bool,
    all_families: bool, timing: int | None, rate: float | None, max_rate: float | None,
    retries: int | None,
    timeout: float | None, resume_file: str | None, seed: int | None, interface: str | None, source: str | None,
    source_port: int | None, ttl: int, pcap: Path | None, data_hex: str | None,
    data_string: str | None, defeat_icmp_ratelimit: bool, output: OutputOptions,
    banners: bool = False, banner_timeout: float = 3.0, banner_concurrency: int = 256,
    shards: int | None = None, shard: int | None = None, workers: int | None = None,
    metadata_file: str | None = None,
) -> None:
    from ..limits import check_scan_numbers, confirm_large_scan, terminal_ask
    from ..plan import ScanPlan, random_seed
    from ..ports import parse_ports
    from ..sources import source_port_for, sources_for
    from ..targets import parse_targets, read_target_file
    from ..timing import resolve as resolve_timing
    from ..transports.live import require_raw_sockets

    specs = list(targets or [])
    if input_list is not None:
        specs += read_target_file(str(input_list))
    if not specs:
        raise RawscanError("no targets given (name hosts on the command line or with -iL FILE)")
    excluded = [x for x in (exclude or "").split(",") if x.strip()]
    if excludefile is not None:
        excluded += read_target_file(str(excludefile))
    if ipv6 and all_families:
        raise RawscanError("give -6 or --all-families, not both")
    family = "all" if all_families else "6" if ipv6 else "4"
    target_set = parse_targets(specs, exclude=excluded, allow_large=allow_large, family=family)
    port_spec = parse_ports(ports, default_proto="udp" if kind == "udp" else "tcp")
    scan_ports, other_ports = (
        (port_spec.udp, port_spec.tcp) if kind == "udp" else (port_spec.tcp, port_spec.udp)
    )
    proto, other, other_command = ("UDP", "TCP", "syn") if kind == "udp" else ("TCP", "UDP", "udp")
    if other_ports:  # one protocol per scan: never drop what the user asked for
        raise RawscanError(
            f"-p names {other} ports too; a {kind} scan covers {proto} only: scan those with "
            f"'rawscan {other_command} -p {other[0]}:...' separately"
        )
    if not scan_ports:
        raise RawscanError(f"no {proto} ports to scan in -p")
    payload_hex = _payload_hex(kind, data_hex, data_string)
    banner_settings = _banner_settings(kind, banners, banner_timeout, banner_concurrency)
    if interface is not None:
        _check_interface(interface)
    if rate is not None and max_rate is not None:
        raise RawscanError("give --rate (a fixed rate) or --max-rate (an adaptive one's ceiling), not both")
    settings = resolve_timing(timing, rate, retries, timeout, max_rate)
    rate, retries, timeout = settings.rate, settings.retries, settings.timeout
    check_scan_numbers(rate, settings.max_rate, timeout)
    sources = sources_for(target_set, _sources(source)) if source else None  # bad -S: now
    confirm_large_scan(len(target_set), len(scan_ports), settings.max_rate or rate, allow_large,
                       terminal_ask(), adaptive=settings.adaptive)
    sharding = _sharding(shards, shard, workers)
    require_raw_sockets()
    scan_seed = random_seed() if seed is None else seed
    plan = ScanPlan(
        scan=kind, targets=target_set, ports=scan_ports, seed=scan_seed,
        sources=sources or sources_for(target_set, interface=interface),
        source_port=source_port or source_port_for(scan_seed), ttl=ttl, rate=rate,
        retries=retries, timeout=timeout, started=time.time(), argv=tuple(sys.argv[1:]),
        payload_hex=payload_hex, defeat_icmp_ratelimit=defeat_icmp_ratelimit,
        fixed_source_port=source_port is not None, max_rate=settings.max_rate,
        banner_timeout=banner_timeout if banners else None, banner_concurrency=banner_concurrency,
    )
    plan, shard_note = sharding.apply(plan, seed is not None, source_port)
    if sharding.workers:
        from .workers import run_workers

        run_workers(plan, sharding.workers, interface, pcap, output, resume_file,
                    banners=banner_settings, metadata_path=metadata_file, note=shard_note)
        return
    _run_live(plan, interface, pcap, output, resume_file, banners=banner_settings,
              metadata_path=metadata_file, shard_note=shard_note)


def _sharding(shards: int | None, shard: int | None, workers: int | None) -> Any:
    from .sharding import Sharding

    return Sharding.from_options(shards, shard, workers)


def _banner_settings(kind: str, banners: bool, timeout: float, concurrency: int) -> Any:
    if not banners:
        return None
    if kind not in ("syn", "udp"):
        raise RawscanError(f"--banners is for syn and udp scans: a {kind} scan finds no open "
                           f"port to connect to")
    if not math.isfinite(timeout):
        raise RawscanError(f"--banner-timeout must be a finite number, not {timeout}")
    from ..banners import BannerSettings

    return BannerSettings(timeout=timeout, concurrency=concurrency, udp=kind == "udp")


def _ring_frame(reply_bytes: int) -> int:
    """Receive-ring frames that hold reply_bytes after the ring's 80-byte frame header."""
    size = 128
    while size < reply_bytes + 80:
        size *= 2
    return size


def _check_interface(name: str) -> None:
    """-e must name an interface here; asked once, so that no later use of the name (bound
    sockets, str.encode) meets one that is not there or not even encodable."""
    import socket

    try:
        socket.if_nametoindex(name)
    except (OSError, ValueError, UnicodeError):
        raise RawscanError(f"-e: this host has no network interface named '{name}'") from None


def _payload_hex(kind: str, data_hex: str | None, data_string: str | None) -> str | None:
    if data_hex is None and data_string is None:
        return None
    if kind != "udp":
        raise RawscanError("--data-hex and --data-string are for UDP scans")
    if data_hex is not None and data_string is not None:
        raise RawscanError("give --data-hex or --data-string, not both")
    if data_string is not None:
        # surrogateescape: bytes that are not UTF-8 in argv are sent as the bytes given
        return data_string.encode("utf-8", "surrogateescape").hex()
    cleaned = "".join((data_hex or "").removeprefix("0x").split())
    try:
        return bytes.fromhex(cleaned).hex()
    except ValueError:
        raise RawscanError(f"--data-hex '{data_hex}' is not hexadecimal bytes") from None


def _sources(spec: str) -> tuple[int, ...]:
    from ..targets import TargetError, parse_targets

    try:  # either family; sources_for() checks every target family has one
        addresses = parse_targets([spec.replace(",", " ")], resolve=lambda name: [],
                                  allow_large=True)
    except TargetError as exc:
        raise RawscanError(f"invalid source address '{spec}': {exc}") from None
    if len(addresses) > 256:
        raise RawscanError(f"-S names {len(addresses)} addresses; at most 256 source addresses")
    return tuple(addresses)


def _run_live(plan: ScanPlan, interface: str | None, pcap: Path | None, output: OutputOptions,
              resume_path: str | None = None, done: bytes | None = None,
              banners: Any = None, metadata_path: str | None = None,
              shard_note: str | None = None) -> None:
    from ..plan import sidecar_path
    from ..scan import probe_for
    from ..transports.live import LiveTransport
    from ..transports.recording import RecordingTransport

    probe = probe_for(plan)
    from ..scan import uses_batches

    ring = _ring_frame(probe.reply_bytes) if uses_batches(plan) else None
    transport: Transport = LiveTransport(probe.bpf_filter(), interface, ring_frame=ring)
    created: list[tuple[str, tuple[int, int]]] = []  # the recording's files this run made
    if pcap is not None:  # opened like the outputs: no links, no foreign file without --force
        from ..output.files import check_output, open_binary_output
        from ..output.options import check_outputs

        recording = [(str(pcap), "pcap"), (sidecar_path(str(pcap)), "sidecar")]
        try:
            check_outputs(output)  # before the recording empties anything
            for path, kind in recording:
                check_output(path, kind, force=output.force)
            new = [path for path, _kind in recording if not os.path.lexists(path)]
            with open_binary_output(recording[1][0], "sidecar", force=output.force) as f:
                _note_created(recording[1][0], new, created)
                f.write(plan.to_json().encode())
            pcap_file = open_binary_output(recording[0][0], "pcap", force=output.force)
            _note_created(recording[0][0], new, created)
            transport = RecordingTransport(transport, pcap_file)
        except OSError as exc:
            transport.close()
            _remove_created(created)
            raise RawscanError(f"cannot write '{pcap}': {exc.strerror}") from None
        except BaseException:
            transport.close()
            _remove_created(created)
            raise
    from ..privileges import drop_privileges
    from ..resume import DEFAULT_PATH

    started = False

    def before_scan() -> None:
        nonlocal started
        started = True
        drop_privileges()

    extra: dict[str, Any] = {"banners": banners} if banners is not None else {}  # --banners only
    if metadata_path is not None or plan.shards:  # --shards, --metadata-file
        extra.update(metadata_path=metadata_path, shard_note=shard_note)
    report = run_and_report
    if plan.scan == "ping":  # host discovery: its own outputs (rawscan/discovery/report.py)
        from ..discovery.report import run_ping_and_report as report
    try:
        report(plan, probe, transport, output, resume_path=resume_path or DEFAULT_PATH,
                       before_scan=before_scan, done=done, **extra)
    except BaseException:
        if not started:  # refused before a probe (an output, the resume file): no recording
            _remove_created(created)
        raise


def _note_created(path: str, new: list[str],
                  created: list[tuple[str, tuple[int, int]]]) -> None:
    """Remember a file this run created (by identity, so that a file put there later under the
    same name is never removed)."""
    if path in new:  # just opened without following links: the name is that file
        st = os.lstat(path)
        created.append((path, (st.st_dev, st.st_ino)))


def _remove_created(created: list[tuple[str, tuple[int, int]]]) -> None:
    for path, identity in created:
        try:
            st = os.lstat(path)
            if (st.st_dev, st.st_ino) == identity:
                os.unlink(path)
        except OSError:
            pass  # gone already, or not ours to remove



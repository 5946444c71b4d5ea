"""The rawscan command line: parse, check, run, report. Errors are one line, never a traceback."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from . import __version__
from .errors import RawscanError

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Packet-level port scanner: SYN scans over raw sockets, pcap recording and replay.",
)
EXIT_INTERRUPTED = 130


@contextmanager
def _user_errors() -> Iterator[None]:
    try:
        yield
    except RawscanError as exc:
        print(f"rawscan: error: {exc}", file=sys.stderr)
        raise typer.Exit(exc.exit_code) from None


def _on_sigterm(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _version(value: bool) -> None:
    if value:
        print(f"rawscan {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    pass


TargetsArg = Annotated[
    Optional[list[str]], typer.Argument(help="Addresses, CIDR blocks, ranges or host names.")
]
PortsOpt = Annotated[
    Optional[str],
    typer.Option("-p", "--ports", help="Ports, nmap syntax: 22,80 1-1024 - T:80,U:53. "
                 "Default: rawscan's list of common ports."),
]


@app.command()
def syn(
    targets: TargetsArg = None,
    ports: PortsOpt = None,
    input_list: Annotated[Optional[Path], typer.Option("-iL", help="Read targets from a file ('-': stdin).")] = None,
    exclude: Annotated[Optional[str], typer.Option("--exclude", help="Targets to skip, comma separated.")] = None,
    excludefile: Annotated[Optional[Path], typer.Option("--excludefile", help="Targets to skip, from a file.")] = None,
    allow_large: Annotated[bool, typer.Option("--allow-large", help="Allow more than 2^24 addresses.")] = False,
    rate: Annotated[float, typer.Option("--rate", min=0.1, help="Probes per second (retransmissions included).")] = 5000.0,
    retries: Annotated[int, typer.Option("--retries", min=0, max=50, help="At most this many retransmissions of an unanswered probe.")] = 10,
    timeout: Annotated[float, typer.Option("--timeout", min=0.0, help="Seconds to wait for replies after each round's last probe.")] = 1.0,
    seed: Annotated[Optional[int], typer.Option("--seed", min=0, max=2**63 - 1, help="Key for probe order and reply cookies (random by default).")] = None,
    interface: Annotated[Optional[str], typer.Option("-e", "--interface", help="Send and receive on this interface.")] = None,
    source: Annotated[Optional[str], typer.Option("-S", "--source", help="Source address (default: the route's).")] = None,
    source_port: Annotated[Optional[int], typer.Option("-g", "--source-port", min=1, max=65535, help="Source port (default: chosen from the seed).")] = None,
    ttl: Annotated[int, typer.Option("--ttl", min=1, max=255, help="IP TTL of probes.")] = 64,
    pcap: Annotated[Optional[Path], typer.Option("--pcap", help="Record every probe and reply to this pcap (plus FILE.json with the scan's seed and options).")] = None,
    json_out: Annotated[Optional[str], typer.Option("-oJ", help="Write JSON Lines, one object per port ('-': stdout).")] = None,
) -> None:
    """TCP SYN scan: SYN-ACK -> open, RST -> closed, ICMP unreachable or silence -> filtered."""
    from .plan import ScanPlan, random_seed
    from .ports import parse_ports
    from .sources import source_address, source_port_for
    from .targets import ip_to_int, parse_targets, read_target_file
    from .transports.live import require_raw_sockets

    with _user_errors():
        specs = list(targets or [])
        if input_list is not None:
            specs += read_target_file(str(input_list))
        if not specs:
            raise RawscanError("no targets given (name hosts on the command line or with -iL FILE)")
        excluded = [x for x in (exclude or "").split(",") if x.strip()]
        if excludefile is not None:
            excluded += read_target_file(str(excludefile))
        target_set = parse_targets(specs, exclude=excluded, allow_large=allow_large)
        port_spec = parse_ports(ports)
        if not port_spec.tcp:
            raise RawscanError("no TCP ports to scan in -p (a SYN scan takes T: ports)")
        require_raw_sockets()
        scan_seed = random_seed() if seed is None else seed
        src = ip_to_int(source) if source else source_address(target_set.address(0), interface)
        plan = ScanPlan(
            scan="syn", targets=target_set, ports=port_spec.tcp, seed=scan_seed, source=src,
            source_port=source_port or source_port_for(scan_seed), ttl=ttl, rate=rate,
            retries=retries, timeout=timeout, started=time.time(), argv=tuple(sys.argv[1:]),
        )
        _run_live(plan, interface, pcap, json_out)


def _run_live(plan, interface: str | None, pcap: Path | None, json_out: str | None) -> None:  # type: ignore[no-untyped-def]
    from .plan import sidecar_path
    from .scan import probe_for
    from .transports.live import LiveTransport
    from .transports.recording import RecordingTransport

    probe = probe_for(plan)
    transport = LiveTransport(probe.bpf_filter(), interface)
    if pcap is not None:
        try:
            Path(sidecar_path(str(pcap))).write_text(plan.to_json())
            transport = RecordingTransport(transport, str(pcap))  # type: ignore[assignment]
        except OSError as exc:
            transport.close()
            raise RawscanError(f"cannot write '{pcap}': {exc.strerror}") from None
    _run_and_report(plan, probe, transport, json_out)


def _run_and_report(plan, probe, transport, json_out: str | None) -> None:  # type: ignore[no-untyped-def]
    from .output.jsonl import JsonLinesWriter
    from .output.table import render
    from .scan import run_scan
    from .targets import int_to_ip

    writers = [JsonLinesWriter(json_out)] if json_out else []
    console = Console(stderr=json_out == "-", highlight=False)
    console.print(
        f"Starting rawscan {__version__} ({plan.scan} scan of {len(plan.targets)} host(s) x "
        f"{len(plan.ports)} {probe.proto} port(s), rate {plan.rate:g}/s, seed {plan.seed})"
    )
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        outcome = run_scan(plan, probe, transport, writers)
    finally:
        signal.signal(signal.SIGTERM, previous)
        for writer in writers:
            writer.close()
    labels = {int_to_ip(a): f"{n} ({int_to_ip(a)})" for a, n in plan.targets.names.items()}
    render(console, outcome.results, labels)
    s = outcome.stats
    hosts_up = len({r.ip for r in outcome.results if r.ttl is not None})
    console.print(
        f"Probes: {s.sent} sent ({s.retransmitted} retransmitted) in {s.rounds} round(s); "
        f"{s.matched} replies matched, {s.duplicates} duplicate, {s.stray} stray or forged dropped"
    )
    if s.interrupted:
        console.print("[bold]Interrupted:[/] results above are what was learned so far.")
        raise typer.Exit(EXIT_INTERRUPTED)
    console.print(
        f"rawscan done: {len(plan.targets)} IP address(es) ({hosts_up} host(s) up) "
        f"scanned in {s.elapsed:.2f} seconds"
    )


@app.command()
def replay(
    capture: Annotated[Path, typer.Argument(help="A pcap recorded with --pcap (its FILE.json beside it).")],
    plan_file: Annotated[Optional[Path], typer.Option("--plan", help="The scan description (default: CAPTURE.json).")] = None,
    json_out: Annotated[Optional[str], typer.Option("-oJ", help="Write JSON Lines, one object per port ('-': stdout).")] = None,
) -> None:
    """Run the scan engine against a recorded scan, in virtual time, without root or network."""
    from .capture import read_ip_packets
    from .plan import ScanPlan, sidecar_path
    from .scan import probe_for
    from .transports.replay import ReplayTransport

    with _user_errors():
        description = plan_file or Path(sidecar_path(str(capture)))
        try:
            text = description.read_text()
        except OSError as exc:
            raise RawscanError(f"cannot read scan description '{description}': {exc.strerror}") from None
        plan = ScanPlan.from_json(text, str(description))
        probe = probe_for(plan)
        recording = ((p.time, p.ip) for p in read_ip_packets(str(capture)))
        transport = ReplayTransport(recording, probe.flow)
        _run_and_report(plan, probe, transport, json_out)


def main() -> None:
    app()


if __name__ == "__main__":
    main()

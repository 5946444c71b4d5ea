"""Live scans: build a ScanPlan from the command line and run it over raw sockets."""

from __future__ import annotations

import inspect
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from ..errors import RawscanError
from .common import JsonOut, run_and_report, user_errors

if TYPE_CHECKING:
    from ..plan import ScanPlan

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
    json_out: JsonOut = None,
) -> None:
    """The options every live scan command takes (one list, so the commands cannot drift)."""


def _command(kind: str, doc: str) -> Callable[..., None]:
    def command(**options: Any) -> None:
        with user_errors():
            _scan(kind, **options)

    command.__signature__ = inspect.signature(_options, eval_str=True)  # type: ignore[attr-defined]
    command.__doc__ = doc
    command.__name__ = kind
    return command


syn = _command("syn", "TCP SYN scan: SYN-ACK -> open, RST -> closed, ICMP unreachable or silence -> filtered.")


def _scan(
    kind: str, *, targets: list[str] | None, ports: str | None, input_list: Path | None,
    exclude: str | None, excludefile: Path | None, allow_large: bool, rate: float, retries: int,
    timeout: float, seed: int | None, interface: str | None, source: str | None,
    source_port: int | None, ttl: int, pcap: Path | None, json_out: str | None,
) -> None:
    from ..plan import ScanPlan, random_seed
    from ..ports import parse_ports
    from ..sources import source_address, source_port_for
    from ..targets import ip_to_int, parse_targets, read_target_file
    from ..transports.live import require_raw_sockets

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
        scan=kind, targets=target_set, ports=port_spec.tcp, seed=scan_seed, source=src,
        source_port=source_port or source_port_for(scan_seed), ttl=ttl, rate=rate,
        retries=retries, timeout=timeout, started=time.time(), argv=tuple(sys.argv[1:]),
    )
    _run_live(plan, interface, pcap, json_out)


def _run_live(plan: ScanPlan, interface: str | None, pcap: Path | None, json_out: str | None) -> None:
    from ..plan import sidecar_path
    from ..scan import probe_for
    from ..transports.live import LiveTransport
    from ..transports.recording import RecordingTransport

    probe = probe_for(plan)
    transport = LiveTransport(probe.bpf_filter(), interface)
    if pcap is not None:
        try:
            Path(sidecar_path(str(pcap))).write_text(plan.to_json())
            transport = RecordingTransport(transport, str(pcap))  # type: ignore[assignment]
        except OSError as exc:
            transport.close()
            raise RawscanError(f"cannot write '{pcap}': {exc.strerror}") from None
    run_and_report(plan, probe, transport, json_out)



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
from .common import OutputOptions, run_and_report, user_errors, with_output_options

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
    source: Annotated[Optional[str], typer.Option("-S", "--source", help="Source address(es) this host owns, e.g. 198.18.0.1-8: probes are spread over them (default: the route's).")] = None,
    source_port: Annotated[Optional[int], typer.Option("-g", "--source-port", min=1, max=65535, help="TCP source port for every try (default: one chosen from the seed, plus the try number, as nmap does).")] = None,
    ttl: Annotated[int, typer.Option("--ttl", min=1, max=255, help="IP TTL of probes.")] = 64,
    pcap: Annotated[Optional[Path], typer.Option("--pcap", help="Record every probe and reply to this pcap (plus FILE.json with the scan's seed and options).")] = None,
    data_hex: Annotated[Optional[str], typer.Option("--data-hex", help="UDP: send these bytes (hex) to every port instead of protocol probes.")] = None,
    data_string: Annotated[Optional[str], typer.Option("--data-string", help="UDP: send this text to every port instead of protocol probes.")] = None,
    defeat_icmp_ratelimit: Annotated[bool, typer.Option("--defeat-icmp-ratelimit", help="UDP: do not wait out ICMP rate limits; unanswered ports stay open|filtered.")] = False,
    *,
    output: OutputOptions,
) -> None:
    """The options every live scan command takes (one list, so the commands cannot drift)."""


def _command(kind: str, doc: str) -> Callable[..., None]:
    def command(**options: Any) -> None:
        with user_errors():
            _scan(kind, **options)

    command.__signature__ = inspect.signature(_options, eval_str=True)  # type: ignore[attr-defined]
    command.__doc__ = doc
    command.__name__ = kind
    return with_output_options(command)


syn = _command("syn", "TCP SYN scan: SYN-ACK -> open, RST -> closed, ICMP unreachable or silence -> filtered.")
udp = _command("udp", "UDP scan with protocol probes: reply -> open, ICMP port unreachable -> closed, silence -> open|filtered.")


def _scan(
    kind: str, *, targets: list[str] | None, ports: str | None, input_list: Path | None,
    exclude: str | None, excludefile: Path | None, allow_large: bool, rate: float, retries: int,
    timeout: float, seed: int | None, interface: str | None, source: str | None,
    source_port: int | None, ttl: int, pcap: Path | None, data_hex: str | None,
    data_string: str | None, defeat_icmp_ratelimit: bool, output: OutputOptions,
) -> None:
    from ..plan import ScanPlan, random_seed
    from ..ports import parse_ports
    from ..sources import source_address, source_port_for
    from ..targets import parse_targets, read_target_file
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
    sources = _sources(source) if source else None
    require_raw_sockets()
    scan_seed = random_seed() if seed is None else seed
    plan = ScanPlan(
        scan=kind, targets=target_set, ports=scan_ports, seed=scan_seed,
        sources=sources or (source_address(target_set.address(0), interface),),
        source_port=source_port or source_port_for(scan_seed), ttl=ttl, rate=rate,
        retries=retries, timeout=timeout, started=time.time(), argv=tuple(sys.argv[1:]),
        payload_hex=payload_hex, defeat_icmp_ratelimit=defeat_icmp_ratelimit,
        fixed_source_port=source_port is not None,
    )
    _run_live(plan, interface, pcap, output)


def _payload_hex(kind: str, data_hex: str | None, data_string: str | None) -> str | None:
    if data_hex is None and data_string is None:
        return None
    if kind != "udp":
        raise RawscanError("--data-hex and --data-string are for UDP scans")
    if data_hex is not None and data_string is not None:
        raise RawscanError("give --data-hex or --data-string, not both")
    if data_string is not None:
        return data_string.encode().hex()
    cleaned = "".join((data_hex or "").removeprefix("0x").split())
    try:
        return bytes.fromhex(cleaned).hex()
    except ValueError:
        raise RawscanError(f"--data-hex '{data_hex}' is not hexadecimal bytes") from None


def _sources(spec: str) -> tuple[int, ...]:
    from ..targets import TargetError, parse_targets

    try:
        addresses = parse_targets([spec.replace(",", " ")], resolve=lambda name: [])
    except TargetError as exc:
        raise RawscanError(f"invalid source address '{spec}': {exc}") from None
    if len(addresses) > 256:
        raise RawscanError(f"-S names {len(addresses)} addresses; at most 256 source addresses")
    return tuple(addresses)


def _run_live(plan: ScanPlan, interface: str | None, pcap: Path | None, output: OutputOptions) -> None:
    from ..plan import sidecar_path
    from ..scan import probe_for
    from ..transports.live import LiveTransport
    from ..transports.recording import RecordingTransport

    probe = probe_for(plan)
    transport = LiveTransport(probe.bpf_filter(), interface)
    if pcap is not None:
        from ..output.files import hand_to_invoking_user

        new_files = [f for f in (str(pcap), sidecar_path(str(pcap))) if not Path(f).exists()]
        try:
            Path(sidecar_path(str(pcap))).write_text(plan.to_json())
            transport = RecordingTransport(transport, str(pcap))  # type: ignore[assignment]
        except OSError as exc:
            transport.close()
            raise RawscanError(f"cannot write '{pcap}': {exc.strerror}") from None
        for created in new_files:  # under sudo, the user's recording is the user's
            hand_to_invoking_user(created)
    run_and_report(plan, probe, transport, output)



"""A live scan's options -> a checked ScanPlan. The parameter names are the command line's
long option names (rawscan/commands/scan.py declares them for typer; rawscan.syn/udp take
them as keywords), and every refusal is a RawscanError with the message the CLI prints."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import RawscanError
from .checks import Ask as Ask

if TYPE_CHECKING:
    from ..banners import BannerSettings
    from ..plan import ScanPlan


@dataclass(frozen=True)
class LiveScan:
    """What a live run needs besides its outputs: the plan and how to reach the network."""

    plan: ScanPlan
    interface: str | None = None
    pcap: Path | None = None
    resume_file: str | None = None
    banners: BannerSettings | None = None


def prepare_live_scan(
    kind: str, *, targets: Sequence[str] | None = None, ports: str | None = None,
    input_list: PathLike[str] | str | None = None, exclude: str | None = None,
    excludefile: PathLike[str] | str | None = None, allow_large: bool = False, ipv6: bool = False,
    all_families: bool = False, timing: int | None = None, rate: float | None = None,
    max_rate: float | None = None, retries: int | None = None, timeout: float | None = None,
    resume_file: str | None = None, seed: int | None = None, interface: str | None = None,
    source: str | None = None, source_port: int | None = None, ttl: int = 64,
    pcap: PathLike[str] | str | None = None, data_hex: str | None = None, data_string: str | None = None,
    defeat_icmp_ratelimit: bool = False, banners: bool = False, banner_timeout: float = 3.0,
    banner_concurrency: int = 256, argv: Sequence[str] = (), ask: Ask | None = None,
    require_privilege: bool = True,
    blocklist: PathLike[str] | str | None = None, no_default_blocklist: bool = False,
    bandwidth: str | None = None, max_targets: str | None = None,
) -> LiveScan:
    """Check the options in the order the CLI always has (bad input before the privilege
    check), then make the plan. argv: the command line the plan records; ask: a y/N question
    for a very large scan (None: refused unless allow_large); require_privilege: False for a
    simulated network (rawscan.testing)."""
    from ..plan import ScanPlan
    from .checks import go_ahead, network_settings, plan_fields, select_live_targets

    selection = select_live_targets(
        targets, input_list, exclude, excludefile, ipv6=ipv6, all_families=all_families,
        allow_large=allow_large, blocklist=blocklist, no_default_blocklist=no_default_blocklist)
    scan_ports = _scan_ports(kind, ports)
    payload_hex = _payload_hex(kind, data_hex, data_string)
    banner_settings = _banner_settings(kind, banners, banner_timeout, banner_concurrency)
    network = network_settings(selection, interface=interface, timing=timing, rate=rate,
                               max_rate=max_rate, retries=retries, timeout=timeout,
                               source=source, bandwidth=bandwidth)
    sample = _max_targets(max_targets, len(selection.targets) * len(scan_ports))
    go_ahead(len(selection.targets) if sample is None else sample,
             len(scan_ports) if sample is None else 1, network.timing, allow_large=allow_large,
             ask=ask, require_privilege=require_privilege)
    plan = ScanPlan(
        scan=kind, ports=scan_ports, payload_hex=payload_hex,
        defeat_icmp_ratelimit=defeat_icmp_ratelimit,
        banner_timeout=banner_timeout if banners else None, banner_concurrency=banner_concurrency,
        bandwidth=network.bandwidth, max_targets=sample,
        **plan_fields(selection, network, seed=seed, interface=interface,
                      source_port=source_port, ttl=ttl, argv=argv),
    )
    return LiveScan(plan, interface, Path(pcap) if pcap is not None else None, resume_file,
                    banner_settings)


def _scan_ports(kind: str, ports: str | None) -> tuple[int, ...]:
    """-p's ports of the scan's protocol; one protocol per scan: never drop what the user
    asked for."""
    from ..ports import parse_ports

    port_spec = parse_ports(ports, default_proto="udp" if kind == "udp" else "tcp")
    scan_ports, other_ports = (
        (port_spec.udp, port_spec.tcp) if kind == "udp" else (port_spec.tcp, port_spec.udp)
    )
    proto, other, other_command = ("UDP", "TCP", "syn") if kind == "udp" else ("TCP", "UDP", "udp")
    if other_ports:
        raise RawscanError(
            f"-p names {other} ports too; a {kind} scan covers {proto} only: scan those with "
            f"'rawscan {other_command} -p {other[0]}:...' separately"
        )
    if not scan_ports:
        raise RawscanError(f"no {proto} ports to scan in -p")
    return scan_ports


def _max_targets(text: str | None, endpoints: int) -> int | None:
    if text is None:
        return None
    from ..limits import parse_max_targets

    count = parse_max_targets(text, endpoints)
    return None if count >= endpoints else count  # all of them: nothing is cut


def _banner_settings(kind: str, banners: bool, timeout: float,
                     concurrency: int) -> BannerSettings | None:
    if not banners:
        return None
    if kind not in ("syn", "udp"):
        raise RawscanError(f"--banners is for syn and udp scans: a {kind} scan finds no open "
                           f"port to connect to")
    if not math.isfinite(timeout):
        raise RawscanError(f"--banner-timeout must be a finite number, not {timeout}")
    from ..banners import BannerSettings

    return BannerSettings(timeout=timeout, concurrency=concurrency, udp=kind == "udp")


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

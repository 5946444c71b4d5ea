"""A live scan's options -> a checked ScanPlan. The parameter names are the command line's
long option names (rawscan/commands/scan.py declares them for typer; rawscan.syn/udp take
them as keywords), and every refusal is a RawscanError with the message the CLI prints."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import RawscanError

if TYPE_CHECKING:
    from ..banners import BannerSettings
    from ..plan import ScanPlan

Ask = Callable[[str], bool]


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
    from ..limits import check_scan_numbers, confirm_large_scan
    from ..plan import ScanPlan, random_seed
    from ..ports import parse_ports
    from ..sources import source_port_for, sources_for
    from ..targets import read_target_file, select_targets
    from ..timing import resolve as resolve_timing
    from ..privileges import require_raw_sockets

    specs: list[Any] = list(targets or [])
    if input_list is not None:  # kept packed: a million lines are no million strings
        specs.append(read_target_file(str(input_list)))
    if not any(len(spec) for spec in specs):
        raise RawscanError("no targets given (name hosts on the command line or with -iL FILE)")
    excluded: list[Any] = [x for x in (exclude or "").split(",") if x.strip()]
    if excludefile is not None:
        excluded.append(read_target_file(str(excludefile)))
    if ipv6 and all_families:
        raise RawscanError("give -6 or --all-families, not both")
    family = "all" if all_families else "6" if ipv6 else "4"
    selection = select_targets(specs, exclude=excluded, allow_large=allow_large, family=family,
                               blocklist=_blocklist(blocklist, no_default_blocklist))
    target_set = selection.targets
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
    bits, settings = _bandwidth(bandwidth, rate, settings)
    rate, retries, timeout = settings.rate, settings.retries, settings.timeout
    check_scan_numbers(rate, settings.max_rate, timeout)
    sources = sources_for(target_set, _sources(source)) if source else None  # bad -S: now
    sample = _max_targets(max_targets, len(target_set) * len(scan_ports))
    confirm_large_scan(len(target_set) if sample is None else sample,
                       len(scan_ports) if sample is None else 1, settings.max_rate or rate,
                       allow_large, ask, adaptive=settings.adaptive)
    if require_privilege:
        require_raw_sockets()
    scan_seed = random_seed() if seed is None else seed
    plan = ScanPlan(
        scan=kind, targets=target_set, ports=scan_ports, seed=scan_seed,
        sources=sources or sources_for(target_set, interface=interface),
        source_port=source_port or source_port_for(scan_seed), ttl=ttl, rate=rate,
        retries=retries, timeout=timeout, started=time.time(), argv=tuple(argv),
        payload_hex=payload_hex, defeat_icmp_ratelimit=defeat_icmp_ratelimit,
        fixed_source_port=source_port is not None, max_rate=settings.max_rate,
        banner_timeout=banner_timeout if banners else None, banner_concurrency=banner_concurrency,
        bandwidth=bits, max_targets=sample, blocklisted=selection.blocked,
        blocklisted_reserved=selection.blocked_default,
    )
    return LiveScan(plan, interface, Path(pcap) if pcap is not None else None, resume_file,
                    banner_settings)


def _blocklist(path: PathLike[str] | str | None, no_default: bool) -> Any:
    from ..blocklist import Blocklist, read_blocklist

    user = read_blocklist(str(path)) if path is not None else ()
    return Blocklist(default=not no_default, user=user, user_file=str(path) if path else None)


def _bandwidth(text: str | None, rate: float | None, settings: Any) -> tuple[float | None, Any]:
    """--bandwidth in bits/s, and the timing with its probe rate capped by it: the rate a
    minimal (84-byte) frame allows, an upper bound the per-probe accounting refines."""
    if text is None:
        return None, settings
    import dataclasses

    from ..bandwidth import frame_bits, parse_bandwidth

    if rate is not None:  # zmap: "must specify rate or bandwidth, or neither, not both"
        raise RawscanError("give --rate (probes per second) or --bandwidth (bits per second), "
                           "not both")
    bits = parse_bandwidth(text)
    cap = bits / frame_bits(0)
    if settings.adaptive:
        return bits, dataclasses.replace(settings, rate=min(settings.rate, cap),
                                         max_rate=min(settings.max_rate, cap))
    return bits, dataclasses.replace(settings, rate=min(settings.rate, cap))


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

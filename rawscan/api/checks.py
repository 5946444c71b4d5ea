"""The option checks every live plan shares (a port scan's, plans.py, and rawscan ping's,
pinging.py), as the steps each runs in the CLI's order: the targets selected, the kind's own
checks, the network settings (interface, timing, bandwidth, sources), the go-ahead (a very
large scan asked about, the raw-socket privilege), then the plan's common fields."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from os import PathLike
from typing import TYPE_CHECKING, Any

from ..errors import RawscanError

if TYPE_CHECKING:
    from ..blocklist import Blocklist
    from ..targets import Selection
    from ..timing import Timing

Ask = Callable[[str], bool]
Pathish = PathLike[str] | str


def select_live_targets(targets: Sequence[str] | None, input_list: Pathish | None,
                        exclude: str | None, excludefile: Pathish | None, *, ipv6: bool,
                        all_families: bool, allow_large: bool, blocklist: Pathish | None,
                        no_default_blocklist: bool) -> Selection:
    """The targets (the command line's, -iL's), less --exclude, --excludefile and the
    blocklists (a sweep is where the reserved blocks matter most), of the family asked for."""
    from ..targets import read_target_file, select_targets

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
    return select_targets(specs, exclude=excluded, allow_large=allow_large, family=family,
                          blocklist=_blocklist(blocklist, no_default_blocklist))


@dataclass(frozen=True)
class NetworkSettings:
    """-T and the rates resolved (capped by --bandwidth), and the -S addresses (None: the
    route's own)."""

    timing: Timing
    bandwidth: float | None
    sources: tuple[int, ...] | None


def network_settings(selection: Selection, *, interface: str | None, timing: int | None,
                     rate: float | None, max_rate: float | None, retries: int | None,
                     timeout: float | None, source: str | None,
                     bandwidth: str | None = None) -> NetworkSettings:
    from ..limits import check_scan_numbers
    from ..sources import sources_for
    from ..timing import resolve as resolve_timing

    if interface is not None:
        _check_interface(interface)
    if rate is not None and max_rate is not None:
        raise RawscanError("give --rate (a fixed rate) or --max-rate (an adaptive one's "
                           "ceiling), not both")
    settings = resolve_timing(timing, rate, retries, timeout, max_rate)
    bits, settings = _bandwidth(bandwidth, rate, settings)
    check_scan_numbers(settings.rate, settings.max_rate, settings.timeout)
    sources = sources_for(selection.targets, _sources(source)) if source else None  # bad -S: now
    return NetworkSettings(settings, bits, sources)


def go_ahead(hosts: int, per_host: int, settings: Timing, *, allow_large: bool,
             ask: Ask | None, require_privilege: bool) -> None:
    """A very large scan confirmed (ask: the y/N question; None: refused unless allow_large),
    then the raw-socket privilege (require_privilege: False for a simulated network)."""
    from ..limits import confirm_large_scan
    from ..privileges import require_raw_sockets

    confirm_large_scan(hosts, per_host, settings.max_rate or settings.rate, allow_large, ask,
                       adaptive=settings.adaptive)
    if require_privilege:
        require_raw_sockets()


def plan_fields(selection: Selection, network: NetworkSettings, *, seed: int | None,
                interface: str | None, source_port: int | None, ttl: int,
                argv: Sequence[str]) -> dict[str, Any]:
    """The ScanPlan fields every live plan fills the same way (a seed drawn when none given;
    the source port from the seed unless -g fixes it)."""
    import time

    from ..plan import random_seed
    from ..sources import source_port_for, sources_for

    scan_seed = random_seed() if seed is None else seed
    targets, timing = selection.targets, network.timing
    return dict(
        targets=targets, seed=scan_seed,
        sources=network.sources or sources_for(targets, interface=interface),
        source_port=source_port or source_port_for(scan_seed), ttl=ttl, rate=timing.rate,
        retries=timing.retries, timeout=timing.timeout, started=time.time(), argv=tuple(argv),
        fixed_source_port=source_port is not None, max_rate=timing.max_rate,
        blocklisted=selection.blocked, blocklisted_reserved=selection.blocked_default,
    )


def _blocklist(path: Pathish | None, no_default: bool) -> Blocklist:
    from ..blocklist import Blocklist, read_blocklist

    user = read_blocklist(str(path)) if path is not None else ()
    return Blocklist(default=not no_default, user=user, user_file=str(path) if path else None)


def _bandwidth(text: str | None, rate: float | None, settings: Timing
               ) -> tuple[float | None, Timing]:
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
    if settings.max_rate is not None:  # adaptive
        return bits, dataclasses.replace(settings, rate=min(settings.rate, cap),
                                         max_rate=min(settings.max_rate, cap))
    return bits, dataclasses.replace(settings, rate=min(settings.rate, cap))


def _check_interface(name: str) -> None:
    """-e must name an interface here; asked once, so that no later use of the name (bound
    sockets, str.encode) meets one that is not there or not even encodable."""
    import socket

    try:
        socket.if_nametoindex(name)
    except (OSError, ValueError, UnicodeError):
        raise RawscanError(f"-e: this host has no network interface named '{name}'") from None


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

"""Where our probes come from: the source address the kernel would use, and a source port."""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterable

from .addresses import addr_to_str, family, parse_addr
from .cookies import derive_key
from .errors import RawscanError
from .targets import TargetSet

EPHEMERAL_LOW, EPHEMERAL_SPAN = 40000, 20000
_FAMILY_NAME: dict[int, str] = {socket.AF_INET: "IPv4", socket.AF_INET6: "IPv6"}


def source_address(target: int, interface: str | None = None) -> int:
    """Ask the kernel's routing table (a connected UDP socket sends nothing); either family,
    as a tagged int."""
    af = family(target)
    with socket.socket(af, socket.SOCK_DGRAM) as probe:
        try:
            if interface:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
            probe.connect((addr_to_str(target), 9))
        except OSError as exc:
            where = f" via {interface}" if interface else ""
            if exc.errno == errno.EACCES:  # the kernel's answer for a broadcast route
                raise RawscanError(
                    f"{addr_to_str(target)} is a broadcast address{where}: rawscan scans hosts, "
                    f"not a whole network at once (give the hosts' own addresses or a range)"
                ) from None
            raise RawscanError(
                f"no route to {addr_to_str(target)}{where}: {exc.strerror} (give -S or -e)"
            ) from None
        # a link-local source comes back as 'fe80::1%eth0'; the zone is not part of it
        return parse_addr(str(probe.getsockname()[0]).partition("%")[0])


def sources_for(
    targets: TargetSet, given: Iterable[int] = (), interface: str | None = None
) -> tuple[int, ...]:
    """The scan's source addresses: -S's (`given`), which must include one of every family
    the targets have, or else one kernel-chosen address per family (the route to that
    family's first target). IPv4 ones first; the probe picks those of its target's family."""
    chosen = tuple(sorted(set(given)))
    if chosen:
        have = {family(a) for a in chosen}
        missing = [af for af in targets.families() if af not in have]
        if missing:
            name = _FAMILY_NAME[missing[0]]
            raise RawscanError(
                f"the targets include {name} addresses but -S names no {name} source address"
                f" (give one of each family, e.g. -S 198.18.0.1,2001:2::1)"
            )
        return chosen
    return tuple(
        source_address(first, interface)
        for af in targets.families()
        if (first := targets.first_of(af)) is not None
    )


def source_port_for(seed: int) -> int:
    """A per-scan port: replies to an earlier scan (other seed) mostly miss our filter."""
    return EPHEMERAL_LOW + int.from_bytes(derive_key(seed, "source-port")[:4], "big") % EPHEMERAL_SPAN

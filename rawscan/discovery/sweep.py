"""A discovery plan swept as rawscan ping sweeps it, for the CLI (report.py) and the library
(api/pinging.py) alike: hosts on a directly connected link are asked by ARP / NDP first
(neighbours.py), then the engine probes the others (run.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..addresses import addr_to_str
from .hosts import HostResult
from .run import DiscoveryOutcome, HostCallback, run_discovery

if TYPE_CHECKING:
    from ..engine import ScanStats
    from ..plan import ScanPlan
    from ..probes.base import ProbeModule
    from ..transports.base import Transport
    from .neighbours import Link


@dataclass
class Neighbours:
    """The on-link hosts to ask (by interface) and the AF_PACKET sockets that ask them."""

    links: list[Link]
    by_iface: dict[str, list[int]]


@dataclass
class Sweep:
    """A sweep that ended: the engine's outcome (the neighbours' answers counted in) and the
    line about the hosts asked by ARP / NDP (None: none were)."""

    outcome: DiscoveryOutcome
    neighbours: str | None = None


def open_neighbours(plan: ScanPlan, transport: Transport, done: bytes | None
                    ) -> tuple[Neighbours | None, bytes | None]:
    """On a live run without --send-ip (nor --pcap: a recording holds IP packets only, so that
    it replays), hosts on a directly connected link are asked by ARP / NDP: their endpoints
    are marked done for the engine (the done bits returned), and the AF_PACKET sockets are
    opened now, while root may still be held."""
    from ..transports.live import LiveTransport

    if plan.send_ip or not isinstance(transport, LiveTransport):
        return None, done
    from .neighbours import onlink, open_links

    from .run import done_bits, host_done, mark_host

    nports = len(plan.ports)
    bits = done_bits(plan, done)
    by_iface: dict[str, list[int]] = {}
    for iface, hosts in onlink(plan.targets).items():
        for host in hosts:
            index = plan.targets.index(host)
            assert index is not None
            if host_done(bits, index, nports):
                continue  # a resumed scan's host, reported by the first run
            by_iface.setdefault(iface, []).append(host)
            mark_host(bits, index, nports)
    if not by_iface:
        return None, done
    return Neighbours(open_links(by_iface, plan.sources), by_iface), bytes(bits)


def sweep(plan: ScanPlan, probe: ProbeModule, transport: Transport, neighbours: Neighbours | None,
          on_host: HostCallback, *, on_progress: Callable[[ScanStats], None] | None = None,
          stop_requested: Callable[[], bool] | None = None, done: bytes | None = None,
          keep_results: bool = False) -> Sweep:
    """The neighbours asked (their sockets closed after), then the engine's discovery; every
    host's result reaches on_host as it is decided."""
    asked: list[HostResult] = []
    line = None
    if neighbours is not None:
        asked, line = _ask(plan, neighbours, on_host, stop_requested or (lambda: False))
    outcome = run_discovery(plan, probe, transport, on_host, on_progress, stop_requested, done,
                            keep_results=keep_results)
    for result in asked:
        outcome.count(result)
    return Sweep(outcome, line)


def _ask(plan: ScanPlan, neighbours: Neighbours, on_host: HostCallback,
         stop: Callable[[], bool]) -> tuple[list[HostResult], str]:
    """Each on-link host up at its ARP / NDP answer; once every round is over (not stopped),
    the silent ones down. Returns their results and the report's line about them."""
    from .neighbours import NeighbourAnswer, ask, close_links

    names = plan.targets.names
    found: list[HostResult] = []
    answered: set[int] = set()

    def answer(a: NeighbourAnswer) -> None:
        result = HostResult(addr_to_str(a.target), "up", "nd-response" if a.v6 else "arp-response",
                            None, a.rtt, a.mac, names.get(a.target) if names else None)
        answered.add(a.target)
        found.append(result)
        on_host(result)

    by_iface = neighbours.by_iface
    try:
        sent, rounds = ask(neighbours.links, by_iface, plan.max_rate or plan.rate, plan.retries,
                           plan.timeout, answer, stop)
    finally:
        close_links(neighbours.links)
    asked = sum(len(h) for h in by_iface.values())
    line = (f"Neighbours: {asked} host(s) on a directly connected link asked by ARP / NDP "
            f"({sent} request(s) in {rounds} round(s)); {len(found)} answered (--send-ip "
            f"sends them the IP probes instead)")
    if not stop():
        for hosts in by_iface.values():
            for host in sorted(hosts):
                if host not in answered:
                    result = HostResult(addr_to_str(host), "down", "no-response",
                                        host=names.get(host) if names else None)
                    found.append(result)
                    on_host(result)
    return found, line

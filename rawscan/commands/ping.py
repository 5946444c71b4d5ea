"""rawscan ping: host discovery (nmap -sn) with nmap's default root probes."""

from __future__ import annotations

import inspect
import socket
import sys
import time
from typing import Annotated, Any, Optional

import typer

from ..errors import RawscanError
from .common import user_errors, with_output_options
from .scan import _options

# the live scans' options that mean nothing without ports
_NOT_FOR_PING = {"ports", "data_hex", "data_string", "defeat_icmp_ratelimit", "banners",
                 "banner_timeout", "banner_concurrency",
                 "bandwidth", "max_targets", "discover",
                 "shards", "shard", "workers", "metadata_file"}  # shards split ports: scans only

ProbesOpt = Annotated[
    Optional[str],
    typer.Option("--probes", help="Discovery probes, comma separated: echo (nmap -PE), timestamp "
                 "(-PP), syn:PORT (-PS), ack:PORT (-PA), udp:PORT (-PU). Default: nmap's, "
                 "echo,syn:443,ack:80,timestamp (IPv6: no timestamp)."),
]


SendIpOpt = Annotated[
    bool,
    typer.Option("--send-ip", help="Hosts on a directly connected subnet get the IP probes too "
                 "(nmap --send-ip); by default they are asked by ARP (IPv6: neighbour "
                 "discovery) only, as nmap does on a LAN."),
]


def _ping(*, probes: str | None = None, send_ip: bool = False, output: Any, **options: Any) -> None:
    from ..limits import check_scan_numbers, confirm_large_scan, terminal_ask
    from ..plan import ScanPlan, random_seed
    from ..probes.ping import DEFAULT_PROBES, parse_probes, probes_text
    from ..sources import source_port_for, sources_for
    from ..targets import read_target_file, select_targets
    from ..timing import resolve as resolve_timing
    from ..privileges import require_raw_sockets
    from ..api.plans import _blocklist, _check_interface, _sources
    from .scan import _run_live

    kinds = parse_probes(probes or DEFAULT_PROBES)
    specs = list(options["targets"] or [])
    if options["input_list"] is not None:
        specs += read_target_file(str(options["input_list"]))
    if not specs:
        raise RawscanError("no targets given (name hosts on the command line or with -iL FILE)")
    excluded = [x for x in (options["exclude"] or "").split(",") if x.strip()]
    if options["excludefile"] is not None:
        excluded += read_target_file(str(options["excludefile"]))
    if options["ipv6"] and options["all_families"]:
        raise RawscanError("give -6 or --all-families, not both")
    family = "all" if options["all_families"] else "6" if options["ipv6"] else "4"
    # the same hygiene as a port scan: a sweep is where the reserved blocks matter most
    selection = select_targets(specs, exclude=excluded, allow_large=options["allow_large"],
                               family=family, blocklist=_blocklist(options["blocklist"],
                                                                   options["no_default_blocklist"]))
    target_set = selection.targets
    if target_set.first_of(socket.AF_INET6) is not None and not any(k.for_family(True) for k in kinds):
        raise RawscanError(f"--probes {probes_text(kinds)} sends nothing to IPv6 hosts (ICMPv6 "
                           f"has no timestamp request): add echo, syn:PORT, ack:PORT or udp:PORT")
    interface, source = options["interface"], options["source"]
    if interface is not None:
        _check_interface(interface)
    rate, max_rate = options["rate"], options["max_rate"]
    if rate is not None and max_rate is not None:
        raise RawscanError("give --rate (a fixed rate) or --max-rate (an adaptive one's ceiling), not both")
    settings = resolve_timing(options["timing"], rate, options["retries"], options["timeout"], max_rate)
    check_scan_numbers(settings.rate, settings.max_rate, settings.timeout)
    sources = sources_for(target_set, _sources(source)) if source else None
    confirm_large_scan(len(target_set), len(kinds), settings.max_rate or settings.rate,
                       options["allow_large"], terminal_ask(), adaptive=settings.adaptive)
    require_raw_sockets()
    seed = random_seed() if options["seed"] is None else options["seed"]
    source_port = options["source_port"]
    plan = ScanPlan(
        scan="ping", targets=target_set, ports=tuple(range(len(kinds))), seed=seed,
        sources=sources or sources_for(target_set, interface=interface),
        source_port=source_port or source_port_for(seed), ttl=options["ttl"], rate=settings.rate,
        retries=settings.retries, timeout=settings.timeout, started=time.time(),
        argv=tuple(sys.argv[1:]), fixed_source_port=source_port is not None,
        max_rate=settings.max_rate, probes=probes_text(kinds), send_ip=send_ip,
        blocklisted=selection.blocked, blocklisted_reserved=selection.blocked_default,
    )
    _run_live(plan, interface, options["pcap"], output, options["resume_file"])


def _command(**options: Any) -> None:
    with user_errors():
        _ping(**options)


_shared = [p for p in inspect.signature(_options, eval_str=True).parameters.values()
           if p.name not in _NOT_FOR_PING and p.name != "output"]
_own = inspect.Parameter("probes", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None,
                         annotation=ProbesOpt)
_send_ip = inspect.Parameter("send_ip", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=False,
                             annotation=SendIpOpt)
_output = inspect.signature(_options, eval_str=True).parameters["output"]
_command.__signature__ = inspect.Signature(_shared + [_own, _send_ip, _output])  # type: ignore[attr-defined]  # read by inspect
_command.__doc__ = ("Host discovery (nmap -sn): ICMP echo, TCP SYN to 443, TCP ACK to 80 and "
                    "ICMP timestamp per host; up at the first checked answer, else down.")
_command.__name__ = "ping"
ping = with_output_options(_command)

"""rawscan ping: host discovery (nmap -sn) with nmap's default root probes."""

from __future__ import annotations

import inspect
import sys
from typing import Annotated, Any, Optional

import typer

from .common import user_errors, with_output_options
from .scan import _options

# the live scans' options that mean nothing without ports
_NOT_FOR_PING = {"ports", "data_hex", "data_string", "defeat_icmp_ratelimit", "banners",
                 "banner_timeout", "banner_concurrency",
                 "bandwidth", "max_targets", "discover", "discover_probes",
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
    """Checking the options and making the plan is rawscan/api/pinging.py's (rawscan.ping's
    too); this adds the recorded argv, the y/N question for a large scan, the report."""
    from ..api.pinging import prepare_ping
    from ..limits import terminal_ask
    from .scan import _run_live

    scan = prepare_ping(probes=probes, send_ip=send_ip, **options, argv=tuple(sys.argv[1:]),
                        ask=terminal_ask())
    _run_live(scan.plan, scan.interface, scan.pcap, output, scan.resume_file)


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
ping = with_output_options(_command, per_host=True)

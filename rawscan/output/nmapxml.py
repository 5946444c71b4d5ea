"""-oX: nmap's XML format, valid against nmap.dtd, read by ndiff, python-libnmap and friends.

The preamble is written at once and each host as soon as all its ports are known; close()
always ends the document, after Ctrl-C or an error too, so a partial file still parses.
The DTD allows only scanner="nmap": rawscan names itself in profile_name, args and the comment.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from xml.sax.saxutils import escape, quoteattr

from .. import __version__
from ..plan import compress_ports
from ..results import PortResult
from ..synproxy import NOTE, syn_proxy
from . import RunInfo, RunSummary
from .base import HostDocumentWriter
from .hosts import collapsed_states, host_reason

XML_OUTPUT_VERSION = "1.05"  # nmap 7.x's; the DTD and every reader know it
DTD_SCAN_TYPES = {"syn": "syn", "udp": "udp", "ack": "ack", "connect": "connect", "fin": "fin",
                  "null": "null", "xmas": "xmas"}


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")  # not in XML 1.0


def _text(value: object) -> str:
    return _NOT_XML.sub("?", str(value))


def _attrs(**values: object) -> str:
    return "".join(f" {k}={quoteattr(_text(v))}" for k, v in values.items() if v is not None)


def _timestr(epoch: float) -> str:
    return time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(epoch))


def _no_double_dash(text: str) -> str:
    return text.replace("--", "-&#45;")  # "--" may not appear inside an XML comment (as nmap does)


def addr_type(ip: str) -> str:
    """nmap's addrtype: IPv6 text always holds a ':' (IPv4-mapped ones too), IPv4 never."""
    return "ipv6" if ":" in ip else "ipv4"


def host_xml(results: list[PortResult], open_only: bool = False) -> str:
    """One <host> element: status, address, names, then extraports and the listed ports."""
    ip, name = results[0].ip, next((r.host for r in results if r.host), None)
    reason, ttl = host_reason(results)
    lines = [f"<host><status{_attrs(state='up', reason=reason, reason_ttl=ttl)}/>",
             f"<address{_attrs(addr=ip, addrtype=addr_type(ip))}/>", "<hostnames>"]
    if name:
        lines.append(f"<hostname{_attrs(name=name, type='user')}/>")
    lines.append("</hostnames>")
    hidden = collapsed_states(results, open_only)
    ports = ["<ports>"]
    for state in hidden:
        by_reason: dict[tuple[str, str], list[int]] = defaultdict(list)
        for r in results:
            if r.state == state:
                by_reason[(r.reason, r.proto)].append(r.port)
        count = sum(len(p) for p in by_reason.values())
        ports.append(f"<extraports{_attrs(state=state, count=count)}>")
        for (why, proto), nums in sorted(by_reason.items(), key=lambda kv: -len(kv[1])):
            listed = compress_ports(tuple(sorted(nums)))
            ports.append(f"<extrareasons{_attrs(reason=why, count=len(nums), proto=proto, ports=listed)}/>")
        ports.append("</extraports>")
    for r in sorted(results, key=lambda r: (r.proto, r.port)):
        if r.state in hidden:
            continue
        state = _attrs(state=r.state, reason=r.reason, reason_ttl=r.ttl or 0)
        service = "" if r.service == "unknown" and not r.probed else _service(r)
        ports.append(f"<port{_attrs(protocol=r.proto, portid=r.port)}><state{state}/>{service}"
                     f"{_scripts(r)}</port>")
    ports.append("</ports>")
    return "\n".join(lines + ports + _hostscript(results) + ["</host>"]) + "\n"


def _hostscript(results: list[PortResult]) -> list[str]:
    """A SYN proxy's note (rawscan/synproxy.py) as nmap writes a host script's result."""
    note = syn_proxy(sum(1 for r in results if r.reason == "syn-ack"), len(results))
    if note is None:
        return []
    elems = "".join(f"<elem{_attrs(key=k)}>{v}</elem>" for k, v in (
        ("syn_ack_ports", note.answered), ("scanned_ports", note.scanned),
        ("share", f"{note.share:.4f}")))
    return [f"<hostscript><script{_attrs(id=NOTE, output=note.text())}>{elems}</script></hostscript>"]


def _service(r: PortResult) -> str:
    """<service>: /etc/services' name (method table), or --banners' identification (probed;
    a TLS tunnel as nmap writes it: name="http" tunnel="ssl" for https)."""
    if not r.probed:
        return f"<service{_attrs(name=r.service, method='table', conf=3)}/>"  # nmap omits unknown
    name, tunnel = r.service, None
    if r.tls is not None and r.tls.ok and name != "ssl":
        name, tunnel = ("http" if name == "https" else name.removeprefix("ssl/")), "ssl"
    return (f"<service{_attrs(name=name, product=r.product, version=r.version, extrainfo=r.extrainfo, tunnel=tunnel, method='probed', conf=r.conf or 10)}/>")


def _scripts(r: PortResult) -> str:
    """nmap's script elements: banner (the reply, escaped as nmap's banner script does) and
    ssl-cert (the TLS facts, one elem each)."""
    out = []
    if r.banner:
        out.append(f"<script{_attrs(id='banner', output=r.banner)}/>")
    tls = r.tls
    if tls is not None:
        elems = "".join(
            f"<elem{_attrs(key=key)}>{escape(_text(value))}</elem>"
            for key, value in tls.as_dict().items() if not isinstance(value, list))
        elems += "".join(f"<elem{_attrs(key='san')}>{escape(_text(name))}</elem>" for name in tls.sans)
        out.append(f"<script{_attrs(id='ssl-cert', output=tls.summary())}>{elems}</script>")
    return "".join(out)


class NmapXmlWriter(HostDocumentWriter):
    def _preamble(self) -> str:
        info = self._info
        scan_type = DTD_SCAN_TYPES.get(info.scan, "udp" if info.proto == "udp" else "syn")
        when = _timestr(info.started)
        run = _attrs(scanner="nmap", args=info.command_line, start=int(info.started),
                     startstr=when, version=__version__, profile_name="rawscan",
                     xmloutputversion=XML_OUTPUT_VERSION)
        scaninfo = _attrs(type=scan_type, protocol=info.proto, numservices=len(info.ports),
                          services=compress_ports(info.ports))
        comment = _no_double_dash(_text(f"rawscan {__version__} scan initiated {when} as: "
                                        f"{info.command_line}"))
        if info.shard is not None:  # a shard: its plan's record, for rawscan merge
            from .shardinfo import XML_COMMENT, record_text

            comment += f" -->\n<!-- {XML_COMMENT}{record_text(info.shard)}"
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE nmaprun>\n'
            f"<!-- {comment} -->\n<nmaprun{run}>\n<scaninfo{scaninfo}/>\n"
            '<verbose level="0"/>\n<debugging level="0"/>\n'
        )

    def _host(self, results: list[PortResult]) -> str:
        return host_xml(results, self._info.open_only)

    def _trailer(self, summary: RunSummary | None) -> str:
        return runstats_xml(self._info, summary, up=self._written, down=0)


def runstats_xml(info: RunInfo, summary: RunSummary | None, *, up: int, down: int) -> str:
    """The document's end: <runstats> (how the run ended, the host counts) and </nmaprun>.
    No summary: the run stopped with an error; an interrupted one says so, as nmap does."""
    elapsed = summary.elapsed if summary else time.time() - info.started
    end = info.started + elapsed
    if summary is not None and not summary.interrupted:
        outcome = {"exit": "success"}
    else:
        why = "interrupted" if summary else "rawscan stopped with an error"
        outcome = {"exit": "error", "errormsg": f"{why}: results are incomplete"}
    text = (f"rawscan done at {_timestr(end)}; {info.total_hosts} IP address(es) "
            f"({up} host(s) up) scanned in {elapsed:.2f} seconds")
    finished = _attrs(time=int(end), timestr=_timestr(end), summary=text,
                      elapsed=f"{elapsed:.2f}", **outcome)
    hosts = _attrs(up=up, down=down, total=info.total_hosts)
    return f"<runstats><finished{finished}/><hosts{hosts}/>\n</runstats>\n</nmaprun>\n"

"""Outputs of a discovery run, as nmap writes them for -sn: XML hosts with a status and no
ports (and no scaninfo), grepable 'Host: IP ()<TAB>Status: Up', JSON Lines and CSV one record
per host. --open keeps only the hosts that are up."""

from __future__ import annotations

import csv
import functools
import json
import time
from collections.abc import Callable

from .. import __version__
from ..output import RunInfo, RunSummary
from ..output.base import FileWriter
from ..output.nmapxml import (XML_OUTPUT_VERSION, _attrs, _no_double_dash, _text, _timestr,
                              addr_type, runstats_xml)
from .hosts import HOST_FIELDS, HostResult


class HostWriter(FileWriter):
    """One host at a time; close() ends the document. Hosts reach the file at most
    FLUSH_EVERY seconds after a write, or at the scan's next progress tick (flush()), as
    PortRecordWriter's records: a flush per host cost a /16 sweep 65,536 write calls."""

    def __init__(self, path: str, info: RunInfo, **open_options: str) -> None:
        super().__init__(path, **open_options)
        self._info = info
        self.up = self.down = 0
        self._guard(self._preamble())

    def _guard(self, text: str, flush_now: bool = True) -> None:
        if self._out is None or not text:
            return
        try:
            if flush_now:
                self._emit(text)
                return
            self._out.write(text)
            self._flush_due()
        except OSError as exc:
            self._failed(exc)

    def _preamble(self) -> str:
        return ""

    def _host(self, result: HostResult) -> str:
        raise NotImplementedError

    def _trailer(self, summary: RunSummary | None) -> str:
        return ""

    def write(self, result: HostResult) -> None:
        if result.up:
            self.up += 1
        else:
            self.down += 1
        if not result.up and self._info.open_only:
            return
        self._guard(self._host(result), flush_now=False)

    def close(self, summary: RunSummary | None = None) -> None:
        if self._out is None:
            return
        self._guard(self._trailer(summary))
        if self._out is not None:
            self._finish()


class HostJsonWriter(HostWriter):
    def _host(self, result: HostResult) -> str:
        """result.as_dict() as JSON, formatted directly (json's encoder cost more than the
        host's probe): the fields are addresses, numbers and fixed words; names go through
        the encoder."""
        if result.host:
            return json.dumps(result.as_dict(), separators=(",", ":")) + "\n"
        ttl = "null" if result.ttl is None else result.ttl
        rtt = "null" if result.rtt is None else repr(result.rtt_ms)
        mac = f',"mac":"{result.mac}"' if result.mac else ""
        return (f'{{"ip":"{result.ip}","status":"{result.status}","reason":"{result.reason}",'
                f'"ttl":{ttl},"rtt_ms":{rtt}{mac}}}\n')


def csv_row(result: HostResult) -> dict[str, object]:
    row = result.as_dict()
    return {k: ("" if row.get(k) is None else row[k]) for k in HOST_FIELDS}


class HostCsvWriter(HostWriter):
    def __init__(self, path: str, info: RunInfo) -> None:
        super().__init__(path, info, newline="")

    def _preamble(self) -> str:
        return ",".join(HOST_FIELDS) + "\r\n"

    def _host(self, result: HostResult) -> str:
        import io

        line = io.StringIO()
        csv.DictWriter(line, fieldnames=HOST_FIELDS).writerow(csv_row(result))
        return line.getvalue()


def _when(epoch: float) -> str:
    return time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(epoch))


class HostGrepableWriter(HostWriter):
    def _preamble(self) -> str:
        return (f"# rawscan {__version__} scan initiated {_when(self._info.started)} as: "
                f"{self._info.command_line}\n")

    def _host(self, result: HostResult) -> str:
        name = (result.host or "").replace("\t", " ").replace("\n", " ")
        return f"Host: {result.ip} ({name})\tStatus: {'Up' if result.up else 'Down'}\n"

    def _trailer(self, summary: RunSummary | None) -> str:
        elapsed = summary.elapsed if summary else time.time() - self._info.started
        how = "done" if summary and not summary.interrupted else (
            "interrupted" if summary else "stopped by an error")
        return (f"# rawscan {how} at {_when(self._info.started + elapsed)} -- "
                f"{self._info.total_hosts} IP address(es) ({self.up} host(s) up) scanned in "
                f"{elapsed:.2f} seconds\n")


@functools.lru_cache(maxsize=1024)
def _status_xml(status: str, reason: str, ttl: int) -> str:
    return f"<host><status{_attrs(state=status, reason=reason, reason_ttl=ttl)}/>"


def host_xml(result: HostResult) -> str:
    """One <host>: status with reason and TTL, addresses (the MAC too), names, times.
    (A sweep writes one a host: the status line is cached, and an address, which is the
    text addr_to_str made of a number, and numbers need no quoting.)"""
    ip = result.ip
    lines = [_status_xml(result.status, result.reason, result.ttl or 0),
             f'<address addr="{ip}" addrtype="{addr_type(ip)}"/>']
    if result.mac:
        lines.append(f"<address{_attrs(addr=result.mac.upper(), addrtype='mac')}/>")
    lines.append("<hostnames>")
    if result.host:
        lines.append(f"<hostname{_attrs(name=result.host, type='user')}/>")
    lines.append("</hostnames>")
    if result.rtt is not None:
        micros = max(1, int(result.rtt * 1e6))
        lines.append(f'<times srtt="{micros}" rttvar="{max(micros // 2, 5000)}" '
                     f'to="{max(100000, micros * 3)}"/>')
    return "\n".join(lines + ["</host>"]) + "\n"


class HostXmlWriter(HostWriter):
    def _preamble(self) -> str:
        info = self._info
        when = _timestr(info.started)
        run = _attrs(scanner="nmap", args=info.command_line, start=int(info.started),
                     startstr=when, version=__version__, profile_name="rawscan",
                     xmloutputversion=XML_OUTPUT_VERSION)
        comment = _no_double_dash(_text(f"rawscan {__version__} scan initiated {when} as: "
                                        f"{info.command_line}"))
        # nmap -sn writes no <scaninfo>: no ports were scanned
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE nmaprun>\n'
                f"<!-- {comment} -->\n<nmaprun{run}>\n"
                '<verbose level="0"/>\n<debugging level="0"/>\n')

    def _host(self, result: HostResult) -> str:
        return host_xml(result)

    def _trailer(self, summary: RunSummary | None) -> str:
        return runstats_xml(self._info, summary, up=self.up, down=self.down)


WRITERS: dict[str, Callable[[str, RunInfo], HostWriter]] = {
    "xml": HostXmlWriter, "grep": HostGrepableWriter, "json": HostJsonWriter,
    "csv": HostCsvWriter,
}

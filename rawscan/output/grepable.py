"""-oG: nmap's grepable lines, one 'Host:' line per host with every listed port.

Port entries keep nmap's seven fields (port/state/protocol/owner/service/rpc/version/) so
existing grep, awk and parser pipelines work. Like the XML, states shared by more than 25
ports are summarised under 'Ignored State'; every summarised state is named there.
"""

from __future__ import annotations

import time

from .. import __version__
from ..banners.text import printable
from ..results import PortResult
from . import RunSummary
from .base import HostDocumentWriter
from .hosts import collapsed_states


def _when(epoch: float) -> str:
    return time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(epoch))


def _clean(text: str) -> str:
    return text.replace("/", "|").replace(",", " ").replace("\t", " ").replace("\n", " ")


def host_lines(results: list[PortResult], open_only: bool = False) -> str:
    ip, name = results[0].ip, next((r.host for r in results if r.host), "")
    hidden = collapsed_states(results, open_only)
    entries = [
        f"{r.port}/{r.state}/{r.proto}//{'' if r.service == 'unknown' else _clean(r.service)}//"
        f"{_clean(printable(r.version_text)) if r.probed else ''}/"
        for r in sorted(results, key=lambda r: (r.proto, r.port)) if r.state not in hidden
    ]
    head = f"Host: {ip} ({_clean(name or '')})"
    line = f"{head}\tPorts: {', '.join(entries)}"
    if hidden:
        counts = [f"{s} ({sum(1 for r in results if r.state == s)})" for s in hidden]
        line += f"\tIgnored State: {', '.join(counts)}"
    return f"{head}\tStatus: Up\n{line}\n"


class GrepableWriter(HostDocumentWriter):
    def _preamble(self) -> str:
        text = (f"# rawscan {__version__} scan initiated {_when(self._info.started)} as: "
                f"{self._info.command_line}\n")
        if self._info.shard is not None:  # a shard: its plan's record, for rawscan merge
            from .shardinfo import XML_COMMENT, record_text

            text += f"# {XML_COMMENT}{record_text(self._info.shard)}\n"
        return text

    def _host(self, results: list[PortResult]) -> str:
        return host_lines(results, self._info.open_only)

    def _trailer(self, summary: RunSummary | None) -> str:
        elapsed = summary.elapsed if summary else time.time() - self._info.started
        end = _when(self._info.started + elapsed)
        how = "done" if summary and not summary.interrupted else (
            "interrupted" if summary else "stopped by an error")
        return (f"# rawscan {how} at {end} -- {self._info.total_hosts} IP address(es) "
                f"({self._written} host(s) up) scanned in {elapsed:.2f} seconds\n")

"""-oJ: JSON Lines, one object per scanned port, flushed as learned so a killed scan keeps them."""

from __future__ import annotations

import json

from ..ports import port_class
from ..results import PortResult
from ..synproxy import syn_proxy
from . import RunInfo, RunSummary
from .base import PortRecordWriter

_quote = json.dumps  # for the free-text fields (service and host names)
_QUOTED: dict[str, str] = {}


_ENCODE = json.JSONEncoder(separators=(",", ":")).encode


def record_line(r: PortResult) -> str:
    """The record as r.as_dict() encodes it. A scan's PortResult is formatted directly (json's
    encoder took five times as long a record, more than scanning the port: README, "Design
    figures"): ip, proto, state, reason and
    class come from fixed vocabularies and addresses, with nothing to escape. Richer records
    (analyze's, with evidence frames) go through the encoder."""
    if (type(r) is not PortResult or r.banner is not None or r.probed or r.tls is not None
            or r.banner_note is not None):  # --banners' fields: free text, encoded
        return _ENCODE(r.as_dict()) + "\n"
    ttl = "null" if r.ttl is None else r.ttl
    host = f',"host":{_quote(r.host)}' if r.host else ""
    service = _QUOTED.get(r.service)
    if service is None:
        service = _QUOTED[r.service] = _quote(r.service)  # a few hundred names at most
    return (f'{{"ip":"{r.ip}","proto":"{r.proto}","port":{r.port},"state":"{r.state}",'
            f'"reason":"{r.reason}","ttl":{ttl},"service":{service},'
            f'"class":"{port_class(r.port)}"{host}}}\n')


class JsonLinesWriter(PortRecordWriter):
    """Port records as learned; at the end one host record ("host_note": "syn-proxy") for each
    host that looks like a SYN proxy (rawscan/synproxy.py). SYN-ACKs are counted only for
    hosts that have them."""

    def _record(self, result: PortResult) -> None:
        assert self._out is not None
        if result.reason == "syn-ack":
            self._syn_acks[result.ip] = self._syn_acks.get(result.ip, 0) + 1
        self._out.write(record_line(result))

    def __init__(self, path: str, info: RunInfo | None = None, newline: str | None = None) -> None:
        super().__init__(path, info, newline)
        self._syn_acks: dict[str, int] = {}
        if info is not None and info.shard is not None:  # a shard: its plan's record first
            from .shardinfo import jsonl_line

            self._emit(jsonl_line(info.shard))

    def close(self, summary: RunSummary | None = None) -> None:
        scanned = len(self._info.ports) if self._info is not None else 0
        if self._out is not None and scanned:
            try:
                for ip, answered in self._syn_acks.items():
                    note = syn_proxy(answered, scanned)
                    if note is not None:
                        self._out.write(_ENCODE(note.as_dict(ip)) + "\n")
            except OSError as exc:
                self._failed(exc)
        super().close(summary)

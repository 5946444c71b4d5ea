"""-oJ: JSON Lines, one object per scanned port, flushed as learned so a killed scan keeps them."""

from __future__ import annotations

import json

from ..ports import port_class
from ..results import PortResult
from . import RunInfo
from .base import PortRecordWriter

_quote = json.dumps  # for the free-text fields (service and host names)
_QUOTED: dict[str, str] = {}


_ENCODE = json.JSONEncoder(separators=(",", ":")).encode


def record_line(r: PortResult) -> str:
    """The record as r.as_dict() encodes it. A scan's PortResult is formatted directly (json's
    encoder took ~11 us a record: more than scanning the port): ip, proto, state, reason and
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
    def __init__(self, path: str, info: RunInfo | None = None) -> None:
        super().__init__(path, info)
        if info is not None and info.shard is not None:  # a shard: its plan's record first
            from .shardinfo import jsonl_line

            self._emit(jsonl_line(info.shard))

    def _record(self, result: PortResult) -> None:
        assert self._out is not None
        self._out.write(record_line(result))

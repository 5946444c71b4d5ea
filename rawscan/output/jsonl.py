"""-oJ: JSON Lines, one object per scanned port, flushed as learned so a killed scan keeps them."""

from __future__ import annotations

import json
from typing import TextIO

from ..results import PortResult
from . import RunInfo, RunSummary
from .files import STDOUT, open_output


_ENCODE = json.JSONEncoder(separators=(",", ":")).encode  # one encoder, not one per record


class JsonLinesWriter:
    def __init__(self, path: str, info: RunInfo | None = None) -> None:
        self._info = info
        self._owned = path != STDOUT
        self._out: TextIO | None = open_output(path)

    def write(self, result: PortResult) -> None:
        if self._out is None or (self._info and not self._info.shown(result)):
            return
        self._out.write(_ENCODE(result.as_dict()) + "\n")
        self._out.flush()

    def close(self, summary: RunSummary | None = None) -> None:
        if self._out is None:
            return
        if self._owned:
            self._out.close()
        else:
            self._out.flush()
        self._out = None

"""-oJ: JSON Lines, one object per scanned port, flushed as learned so a killed scan keeps them."""

from __future__ import annotations

import json

from ..results import PortResult
from .base import PortRecordWriter


_ENCODE = json.JSONEncoder(separators=(",", ":")).encode  # one encoder, not one per record


class JsonLinesWriter(PortRecordWriter):
    def _record(self, result: PortResult) -> None:
        assert self._out is not None
        self._out.write(_ENCODE(result.as_dict()) + "\n")

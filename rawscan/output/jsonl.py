"""JSON Lines: one object per scanned port, flushed as learned so a killed scan keeps them."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from ..errors import RawscanError
from ..results import PortResult


class JsonLinesWriter:
    def __init__(self, path: str) -> None:
        self._owned = path != "-"
        try:
            self._out: TextIO = open(path, "w", encoding="utf-8") if self._owned else sys.stdout
        except OSError as exc:
            raise RawscanError(f"cannot write '{path}': {exc.strerror}") from None

    def write(self, result: PortResult) -> None:
        self._out.write(json.dumps(result.as_dict(), separators=(",", ":")) + "\n")
        self._out.flush()

    def close(self) -> None:
        if self._owned:
            self._out.close()
        else:
            self._out.flush()

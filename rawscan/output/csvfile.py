"""-oC: CSV with a header row, the JSON Lines fields as columns; one row per port, as learned."""

from __future__ import annotations

import csv
from typing import TextIO

from ..results import RECORD_FIELDS, PortResult
from . import RunInfo, RunSummary
from .files import STDOUT, open_output


def csv_row(result: PortResult) -> dict[str, object]:
    row = result.as_dict()
    row.setdefault("host", "")
    if row["ttl"] is None:
        row["ttl"] = ""  # CSV has no null: an empty cell, as spreadsheets expect
    return row


class CsvWriter:
    def __init__(self, path: str, info: RunInfo | None = None) -> None:
        self._info = info
        self._owned = path != STDOUT
        self._out: TextIO | None = open_output(path, newline="")  # the csv module ends rows
        self._rows = csv.DictWriter(self._out, fieldnames=RECORD_FIELDS)
        self._rows.writeheader()
        self._out.flush()

    def write(self, result: PortResult) -> None:
        if self._out is None or (self._info and not self._info.shown(result)):
            return
        self._rows.writerow(csv_row(result))
        self._out.flush()

    def close(self, summary: RunSummary | None = None) -> None:
        if self._out is None:
            return
        if self._owned:
            self._out.close()
        else:
            self._out.flush()
        self._out = None

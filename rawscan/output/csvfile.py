"""-oC: CSV with a header row, the JSON Lines fields as columns; one row per port, as learned."""

from __future__ import annotations

import csv

from ..results import RECORD_FIELDS, PortResult
from . import RunInfo
from .base import PortRecordWriter


def csv_row(result: PortResult) -> dict[str, object]:
    row = result.as_dict()
    row.setdefault("host", "")
    if row["ttl"] is None:
        row["ttl"] = ""  # CSV has no null: an empty cell, as spreadsheets expect
    return row


class CsvWriter(PortRecordWriter):
    def __init__(self, path: str, info: RunInfo | None = None) -> None:
        super().__init__(path, info, newline="")  # the csv module ends rows itself
        assert self._out is not None
        self._rows = csv.DictWriter(self._out, fieldnames=RECORD_FIELDS)
        self._rows.writeheader()
        self._out.flush()

    def _record(self, result: PortResult) -> None:
        self._rows.writerow(csv_row(result))

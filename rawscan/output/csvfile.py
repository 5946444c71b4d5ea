"""-oC: CSV with a header row, the JSON Lines fields as columns; one row per port, as learned."""

from __future__ import annotations

import csv
import json

from ..results import BANNER_FIELDS, RECORD_FIELDS, PortResult
from . import RunInfo
from .base import PortRecordWriter


def csv_row(result: PortResult) -> dict[str, object]:
    row = result.as_dict()
    row.setdefault("host", "")
    if row["ttl"] is None:
        row["ttl"] = ""  # CSV has no null: an empty cell, as spreadsheets expect
    if "tls" in row:  # --banners: the TLS facts object as JSON text in its cell
        row["tls"] = json.dumps(row["tls"], separators=(",", ":"))
    return row


class CsvWriter(PortRecordWriter):
    def __init__(self, path: str, info: RunInfo | None = None) -> None:
        super().__init__(path, info, newline="")  # the csv module ends rows itself
        assert self._out is not None
        fields: tuple[str, ...] = RECORD_FIELDS + BANNER_FIELDS if info is not None and info.banners else RECORD_FIELDS
        self._shard_cells: dict[str, str] | None = None
        if info is not None and info.shard is not None:  # a shard: plan and shard columns
            from .shardinfo import CSV_FIELDS, csv_cells

            fields = fields + CSV_FIELDS
            self._shard_cells = csv_cells(info.shard)
        self._rows = csv.DictWriter(self._out, fieldnames=fields, restval="")
        self._rows.writeheader()
        self._out.flush()

    def _record(self, result: PortResult) -> None:
        if self._shard_cells is not None:
            self._rows.writerow({**csv_row(result), **self._shard_cells})
            return
        self._rows.writerow(csv_row(result))

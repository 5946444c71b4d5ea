"""--workers N on the command line: rawscan/workers.py's workers, reported as a scan is."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from ..output.options import OutputOptions
    from ..plan import ScanPlan
    from ..transports.base import Transport


def run_workers(plan: ScanPlan, workers: int, interface: str | None, pcap: Path | None,
                output: OutputOptions, resume_path: str | None, *, banners: Any = None,
                metadata_path: str | None = None, note: str | None = None,
                done: bytes | None = None) -> None:
    from ..resume import DEFAULT_PATH
    from ..scan import probe_for
    from ..workers import NoTransport, prepare
    from .common import run_and_report

    plan, runner, note = prepare(plan, workers, pcap, done, interface)
    extra: dict[str, Any] = {"banners": banners} if banners is not None else {}
    run_and_report(plan, probe_for(plan), cast("Transport", NoTransport()), output,
                   resume_path=resume_path or DEFAULT_PATH, done=done,
                   metadata_path=metadata_path, shard_note=note, runner=runner, **extra)

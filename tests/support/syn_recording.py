"""The recorded SYN scan of every reply kind that the file, resume and sidecar tests replay,
and the scan plan its sidecar holds."""

from __future__ import annotations

from pathlib import Path

from tests.support.paths import PCAPS

SYN = PCAPS / "syn-every-reply-kind.pcap"


def sidecar_plan():  # type: ignore[no-untyped-def]
    from rawscan.plan import ScanPlan

    return ScanPlan.from_json(Path(f"{SYN}.json").read_text(), "sidecar")

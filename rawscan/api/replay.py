"""Replaying a recorded scan: its description (the sidecar, or --plan) checked, the probe
module it used, and a transport that answers from the recording in virtual time."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import RawscanError

if TYPE_CHECKING:
    from ..plan import ScanPlan
    from ..probes.base import ProbeModule
    from ..transports.replay import ReplayTransport

MISMATCH_MIN_REPLIES = 5  # as analyze's (rawscan/analyze/sidecar.py)


@dataclass
class Replay:
    plan: ScanPlan
    probe: ProbeModule
    transport: ReplayTransport


def load_replay(capture: Path | str, plan_file: Path | str | None = None) -> Replay:
    """The recorded scan of `capture`, described by plan_file (default: CAPTURE.json)."""
    from ..capture import read_ip_packets
    from ..plan import MAX_SIDECAR, ScanPlan, check_replayable, sidecar_path
    from ..scan import probe_for
    from ..transports.replay import ReplayTransport

    description = Path(plan_file) if plan_file is not None else Path(sidecar_path(str(capture)))
    try:
        with open(description, "rb") as f:
            raw = f.read(MAX_SIDECAR + 1)
    except OSError as exc:
        raise RawscanError(f"cannot read scan description '{description}': {exc.strerror}") from None
    if len(raw) > MAX_SIDECAR:
        raise RawscanError(f"scan description '{description}' is not usable: larger than "
                           f"{MAX_SIDECAR:,} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RawscanError(f"scan description '{description}' is not usable: not UTF-8 "
                           f"text") from None
    plan = ScanPlan.from_json(text, str(description))
    check_replayable(plan, str(description))
    probe = probe_for(plan)
    recording = [(p.time, p.ip) for p in read_ip_packets(str(capture))]
    check_cookies(recording, probe, str(description))
    return Replay(plan, probe, ReplayTransport(recording, probe.flow))


def check_cookies(recording: list[tuple[float, bytes]], probe: ProbeModule,
                  description: str) -> None:
    """Replies that fail the description's cookie check wholesale: it is another scan's (same
    name, other seed), and replaying with it would report every port unanswered."""
    passed = failed = 0
    for _when, packet in recording:
        flow = probe.flow(packet)
        if flow is None or flow.is_probe:
            continue
        if probe.parse_reply(packet) is None:
            failed += 1
        else:
            passed += 1
    if failed >= MISMATCH_MIN_REPLIES and passed * 20 < failed:
        raise RawscanError(
            f"'{description}' is not this capture's scan description: {failed} of "
            f"{failed + passed} replies fail its cookie check (another scan's, or another seed); "
            f"give the right one with --plan")

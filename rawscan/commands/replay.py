"""rawscan replay: the scan engine against a recorded scan, in virtual time."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from ..errors import RawscanError
from ..output.options import OutputOptions
from .common import run_and_report, user_errors, with_output_options

if TYPE_CHECKING:
    from ..probes.base import ProbeModule


def _replay(
    capture: Annotated[Path, typer.Argument(help="A pcap recorded with --pcap (its FILE.json beside it).")],
    plan_file: Annotated[Optional[Path], typer.Option("--plan", help="The scan description (default: CAPTURE.json).")] = None,
    *,
    output: OutputOptions,
) -> None:
    """Run the scan engine against a recorded scan, in virtual time, without root or network."""
    from ..capture import read_ip_packets
    from ..plan import MAX_SIDECAR, ScanPlan, check_replayable, sidecar_path
    from ..scan import probe_for
    from ..transports.replay import ReplayTransport

    from ..privileges import REPLAY_MODULES, drop_privileges_before_parsing

    with user_errors():
        drop_privileges_before_parsing(REPLAY_MODULES)  # no root needed: nothing crafted is parsed as root
        description = plan_file or Path(sidecar_path(str(capture)))
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
        _check_cookies(recording, probe, str(description))
        transport = ReplayTransport(recording, probe.flow)
        if plan.scan == "ping":  # host discovery: its own outputs
            from ..discovery.report import run_ping_and_report

            run_ping_and_report(plan, probe, transport, output)
            return
        run_and_report(plan, probe, transport, output)


MISMATCH_MIN_REPLIES = 5  # as analyze's (rawscan/analyze/sidecar.py)


def _check_cookies(recording: list[tuple[float, bytes]], probe: ProbeModule, description: str) -> None:
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


replay = with_output_options(_replay)

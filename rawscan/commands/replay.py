"""rawscan replay: the scan engine against a recorded scan, in virtual time."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import RawscanError
from ..output.options import OutputOptions
from .common import run_and_report, user_errors, with_output_options


def _replay(
    capture: Annotated[Path, typer.Argument(help="A pcap recorded with --pcap (its FILE.json beside it).")],
    plan_file: Annotated[Optional[Path], typer.Option("--plan", help="The scan description (default: CAPTURE.json).")] = None,
    *,
    output: OutputOptions,
) -> None:
    """Run the scan engine against a recorded scan, in virtual time, without root or network."""
    from ..capture import read_ip_packets
    from ..plan import ScanPlan, sidecar_path
    from ..scan import probe_for
    from ..transports.replay import ReplayTransport

    with user_errors():
        description = plan_file or Path(sidecar_path(str(capture)))
        try:
            text = description.read_text()
        except OSError as exc:
            raise RawscanError(f"cannot read scan description '{description}': {exc.strerror}") from None
        plan = ScanPlan.from_json(text, str(description))
        probe = probe_for(plan)
        recording = ((p.time, p.ip) for p in read_ip_packets(str(capture)))
        transport = ReplayTransport(recording, probe.flow)
        run_and_report(plan, probe, transport, output)


replay = with_output_options(_replay)

"""rawscan replay: the scan engine against a recorded scan, in virtual time."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import RawscanError
from ..output.options import OutputOptions
from .common import (
    AllOut, Baseline, CsvOut, GrepOut, JsonOut, OpenOnly, Quiet, XmlOut, run_and_report, user_errors,
)


def replay(
    capture: Annotated[Path, typer.Argument(help="A pcap recorded with --pcap (its FILE.json beside it).")],
    plan_file: Annotated[Optional[Path], typer.Option("--plan", help="The scan description (default: CAPTURE.json).")] = None,
    xml_out: XmlOut = None,
    grep_out: GrepOut = None,
    json_out: JsonOut = None,
    csv_out: CsvOut = None,
    all_out: AllOut = None,
    open_only: OpenOnly = False,
    baseline: Baseline = None,
    quiet: Quiet = False,
) -> None:
    """Run the scan engine against a recorded scan, in virtual time, without root or network."""
    from ..capture import read_ip_packets
    from ..plan import ScanPlan, sidecar_path
    from ..scan import probe_for
    from ..transports.replay import ReplayTransport

    with user_errors():
        output = OutputOptions(xml_out=xml_out, grep_out=grep_out, json_out=json_out,
                               csv_out=csv_out, all_out=all_out, open_only=open_only,
                               baseline=baseline, quiet=quiet)
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



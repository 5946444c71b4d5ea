"""rawscan replay: the scan engine against a recorded scan, in virtual time."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..output.options import OutputOptions
from .common import run_and_report, user_errors, with_output_options


def _replay(
    capture: Annotated[Path, typer.Argument(help="A pcap recorded with --pcap (its FILE.json beside it).")],
    plan_file: Annotated[Optional[Path], typer.Option("--plan", help="The scan description (default: CAPTURE.json).")] = None,
    *,
    output: OutputOptions,
) -> None:
    """Run the scan engine against a recorded scan, in virtual time, without root or network."""
    from ..api.replay import load_replay
    from ..privileges import REPLAY_MODULES, drop_privileges_before_parsing

    with user_errors():
        drop_privileges_before_parsing(REPLAY_MODULES)  # no root needed: nothing crafted is parsed as root
        replayed = load_replay(capture, plan_file)
        if replayed.plan.scan == "ping":  # host discovery: its own outputs
            from ..discovery.report import run_ping_and_report

            run_ping_and_report(replayed.plan, replayed.probe, replayed.transport, output)
            return
        run_and_report(replayed.plan, replayed.probe, replayed.transport, output)


replay = with_output_options(_replay)

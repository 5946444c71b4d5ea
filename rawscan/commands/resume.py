"""rawscan resume: finish a scan that was interrupted, from the progress it saved."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..output.options import OutputOptions
from .common import user_errors, with_output_options


def _resume(
    resume_file: Annotated[Path, typer.Argument(help="The file an interrupted scan saved (default name: rawscan.resume).")],
    interface: Annotated[Optional[str], typer.Option("-e", "--interface", help="Send and receive on this interface.")] = None,
    *,
    output: OutputOptions,
) -> None:
    """Probe what an interrupted scan had not finished: same targets, ports, seed and options.
    Results cover only those endpoints; with the first run's, they make the whole scan."""
    from ..resume import load_resume
    from ..transports.live import require_raw_sockets
    from .scan import _run_live

    with user_errors():
        plan, decided = load_resume(str(resume_file))
        require_raw_sockets()
        _run_live(plan, interface, None, output, str(resume_file), done=decided)


resume = with_output_options(_resume)

"""rawscan resume: finish a scan that was interrupted, from the progress it saved."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..banners import DEFAULT_CONCURRENCY, DEFAULT_TIMEOUT, BannerSettings
from ..output.options import OutputOptions
from ..plan import ScanPlan
from .common import user_errors, with_output_options


def _resume(
    resume_file: Annotated[Path, typer.Argument(help="The file an interrupted scan saved (default name: rawscan.resume).")],
    interface: Annotated[Optional[str], typer.Option("-e", "--interface", help="Send and receive on this interface.")] = None,
    metadata_file: Annotated[Optional[str], typer.Option("--metadata-file", help="Write this run's metadata (a shard's: shard, seed, plan fingerprint, probes, drops, times, exit state) to this JSON file.")] = None,
    *,
    output: OutputOptions,
) -> None:
    """Probe what an interrupted scan had not finished: same targets, ports, seed and options.
    Results cover only those endpoints; with the first run's, they make the whole scan."""
    from ..resume import load_resume
    from ..privileges import require_raw_sockets
    from .scan import _run_live

    with user_errors():
        plan, decided = load_resume(str(resume_file))
        _refuse_earlier_results(output)
        require_raw_sockets()
        if plan.workers:  # --workers: each worker resumes its own shard
            from .workers import run_workers

            run_workers(plan, plan.workers, interface, None, output, str(resume_file),
                        done=decided, banners=banner_settings(plan), metadata_path=metadata_file)
            return
        _run_live(plan, interface, None, output, str(resume_file), done=decided,
                  banners=banner_settings(plan), metadata_path=metadata_file)


def banner_settings(plan: ScanPlan) -> BannerSettings | None:
    """The first run's --banners, --banner-timeout and --banner-concurrency: from the plan's
    fields when the scan set them, else from its command line as the scan command parses it
    (resilient: nothing runs, bad values give no banners rather than a traceback)."""
    from ..banners import BannerSettings

    udp = plan.scan == "udp"
    if plan.banner_timeout is not None:
        return BannerSettings(plan.banner_timeout, plan.banner_concurrency, udp)
    params = _scan_options(plan.argv)
    if not params.get("banners"):
        return None
    timeout, concurrency = params.get("banner_timeout"), params.get("banner_concurrency")
    if not isinstance(timeout, float) or not 0.1 <= timeout <= 60.0:
        timeout = DEFAULT_TIMEOUT
    if not isinstance(concurrency, int) or not 1 <= concurrency <= 4096:
        concurrency = DEFAULT_CONCURRENCY
    return BannerSettings(timeout, concurrency, udp)


def _scan_options(argv: tuple[str, ...]) -> dict[str, object]:
    import click
    import typer.main

    from ..cli import app

    group = typer.main.get_command(app)
    command = getattr(group, "commands", {}).get(argv[0]) if argv else None
    if command is None:
        return {}
    try:
        with command.make_context(argv[0], list(argv[1:]), resilient_parsing=True) as ctx:
            return dict(ctx.params)
    except (click.ClickException, click.exceptions.Exit, ValueError, TypeError):
        return {}


def _refuse_earlier_results(output: OutputOptions) -> None:
    """The resumed run writes only what the first run had not: written over the first run's
    files it would leave half the scan on disk. nmap's --resume appends to the first run's
    files; rawscan's formats end their documents, so it asks for new names instead."""
    import os

    from ..errors import RawscanError
    from ..output.files import STDOUT

    for _kind, path in output.destinations():
        try:
            st = os.stat(path) if path != STDOUT else None
        except OSError:
            continue
        if st is not None and st.st_size > 0 and not os.path.samefile(path, os.devnull):
            raise RawscanError(
                f"'{path}' already holds results (the first run's?); a resumed scan writes only "
                f"the rest of the scan, so give outputs new names: both runs' files together are "
                f"the whole scan")


resume = with_output_options(_resume)

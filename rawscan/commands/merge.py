"""rawscan merge: shards' outputs into one result, as if one machine had scanned."""

from __future__ import annotations

from typing import Annotated

import typer

from ..output.options import OutputOptions
from .common import user_errors, with_output_options

EXIT_INCOMPLETE = 1


def _merge(
    inputs: Annotated[list[str], typer.Argument(help="Shard outputs: -oJ, -oX, -oG, -oC files, --pcap captures (with their FILE.json) or --metadata-file files, of every shard of one plan.")],
    partial: Annotated[bool, typer.Option("--partial", help="Write what the shards given hold even when some are missing or short (default: exit 1 naming them).")] = False,
    *,
    output: OutputOptions,
) -> None:
    """Merge the outputs of a scan's shards (--shards, --workers) into one result: table,
    -oX, -oJ, -oG, -oC or -oA, one host entry per host, summaries recomputed."""
    import sys

    from rich.console import Console

    from ..merging import merge, read_input
    from ..privileges import REPLAY_MODULES, drop_privileges_before_parsing

    with user_errors():
        drop_privileges_before_parsing(REPLAY_MODULES)  # shard files may come from anywhere
        merged = merge([read_input(path) for path in inputs])
    console = Console(stderr=output.human_to_stderr, highlight=False, soft_wrap=True)
    problems = _problems(merged)
    if problems and not partial:
        print(f"rawscan: error: incomplete set of shards: {'; '.join(problems)} (give "
              f"--partial to merge what is there)", file=sys.stderr)
        raise typer.Exit(EXIT_INCOMPLETE)
    for problem in problems:
        print(f"rawscan: warning: {problem}", file=sys.stderr)
    if merged.repeated:
        given = "; ".join(f"shard {k} in {', '.join(paths)}"
                          for k, paths in sorted(merged.repeated.items()))
        console.print(f"Shards given by several inputs (their results are one): {given}")
    if merged.conflicts:
        print(f"rawscan: warning: {merged.conflicts} port(s) have different states in two "
              f"inputs of one shard; the first input's is kept", file=sys.stderr)
    with user_errors():
        _write(console, merged, output, inputs)


def _problems(merged: object) -> list[str]:
    from ..merging import Merged, problems

    assert isinstance(merged, Merged)
    return problems(merged)


def _write(console: object, merged: object, output: OutputOptions, inputs: list[str]) -> None:
    from rich.console import Console

    from ..merging import Merged, merged_line, run_info
    from ..output import RunSummary
    from ..output.options import open_writers
    from ..output.table import render
    from ..output.tally import ReportTally

    assert isinstance(merged, Merged) and isinstance(console, Console)
    info = run_info(merged, inputs, output.open_only)
    open_only = info.open_only
    writers = open_writers(output, info)
    tally = ReportTally(open_only)
    labels: dict[str, str] = {}
    for result in merged.results:
        tally.add(result)
        if result.host:
            labels.setdefault(result.ip, f"{result.host} ({result.ip})")
        for writer in writers:
            writer.write(result)
    for writer in writers:
        writer.close(RunSummary(elapsed=merged.elapsed))
    console.print(merged_line(merged, inputs))
    render(console, tally, labels, open_only)
    console.print(f"rawscan merge done: {info.total_hosts} IP address(es) "
                  f"({tally.hosts_up} host(s) up)")


merge = with_output_options(_merge, baseline=False)

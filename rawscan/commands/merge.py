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

    from ..merge import merge, read_input
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
    from ..merge import Merged

    assert isinstance(merged, Merged)
    problems = []
    if merged.missing:
        problems.append(f"shard(s) {', '.join(map(str, merged.missing))} of "
                        f"{merged.record['shards']} missing")
    for k, (got, size) in sorted(merged.short.items()):
        problems.append(f"shard {k} is short: {got:,} of its {size:,} endpoints (cut short? "
                        f"'rawscan resume' its resume file and merge both runs' outputs)")
    return problems


def _write(console: object, merged: object, output: OutputOptions, inputs: list[str]) -> None:
    from rich.console import Console

    from ..merge import Merged
    from ..output import RunInfo, RunSummary
    from ..output.options import open_writers
    from ..output.table import render
    from ..output.tally import ReportTally
    from ..plan import expand_ports

    assert isinstance(merged, Merged) and isinstance(console, Console)
    record = merged.record
    open_only = output.open_only or "--open" in record.get("argv", [])
    info = RunInfo(scan=str(record["scan"]), proto=str(record["proto"]),
                   ports=expand_ports(str(record["ports"])), total_hosts=int(record["hosts"]),
                   argv=("merge", *inputs), started=merged.started, open_only=open_only)
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
    console.print(f"Merged {record['shards']} shard(s) of plan {record['fingerprint']} "
                  f"({len(inputs)} input(s)): {len(merged.results):,} port result(s) of "
                  f"{int(record['endpoints']):,} endpoints")
    render(console, tally, labels, open_only)
    console.print(f"rawscan merge done: {info.total_hosts} IP address(es) "
                  f"({tally.hosts_up} host(s) up)")


merge = with_output_options(_merge, baseline=False)

"""What every command shares: one-line errors, interruption, output options, the report."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from .. import __version__
from ..errors import RawscanError

if TYPE_CHECKING:
    from ..output import ResultWriter
    from ..plan import ScanPlan
    from ..probes.base import ProbeModule
    from ..transports.base import Transport

EXIT_INTERRUPTED = 130

JsonOut = Annotated[
    Optional[str], typer.Option("-oJ", help="Write JSON Lines, one object per port ('-': stdout).")
]


@contextmanager
def user_errors() -> Iterator[None]:
    """RawscanError -> 'rawscan: error: ...' on stderr and its exit code, never a traceback."""
    try:
        yield
    except RawscanError as exc:
        print(f"rawscan: error: {exc}", file=sys.stderr)
        raise typer.Exit(exc.exit_code) from None


def _on_sigterm(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # same path as Ctrl-C: stop sending, keep what was learned


def open_writers(json_out: str | None) -> list[ResultWriter]:
    from ..output.jsonl import JsonLinesWriter

    return [JsonLinesWriter(json_out)] if json_out else []


def run_and_report(
    plan: ScanPlan, probe: ProbeModule, transport: Transport, json_out: str | None
) -> None:
    """Run the scan, stream results to the writers, print the report; exit 130 if interrupted."""
    from rich.console import Console

    from ..output.table import render
    from ..scan import run_scan
    from ..targets import int_to_ip

    writers = open_writers(json_out)
    console = Console(stderr=json_out == "-", highlight=False, soft_wrap=True)
    console.print(
        f"Starting rawscan {__version__} ({plan.scan} scan of {len(plan.targets)} host(s) x "
        f"{len(plan.ports)} {probe.proto} port(s), rate {plan.rate:g}/s, seed {plan.seed})"
    )
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        outcome = run_scan(plan, probe, transport, writers)
    finally:
        signal.signal(signal.SIGTERM, previous)
        for writer in writers:
            writer.close()
    labels = {int_to_ip(a): f"{n} ({int_to_ip(a)})" for a, n in plan.targets.names.items()}
    render(console, outcome.results, labels)
    s = outcome.stats
    hosts_up = len({r.ip for r in outcome.results if r.ttl is not None})
    console.print(
        f"Probes: {s.sent} sent ({s.retransmitted} retransmitted) in {s.rounds} round(s); "
        f"{s.matched} replies matched, {s.duplicates} duplicate, {s.stray} stray or forged dropped"
    )
    if s.icmp_rate_limited:
        console.print(
            "ICMP rate limiting seen: closed ports were learned at the target's ICMP error rate "
            "(give -S several source addresses to go faster, or --defeat-icmp-ratelimit to "
            "accept open|filtered)"
        )
    if s.interrupted:
        console.print("[bold]Interrupted:[/] results above are what was learned so far.")
        raise typer.Exit(EXIT_INTERRUPTED)
    console.print(
        f"rawscan done: {len(plan.targets)} IP address(es) ({hosts_up} host(s) up) "
        f"scanned in {s.elapsed:.2f} seconds"
    )

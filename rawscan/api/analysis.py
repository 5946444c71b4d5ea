"""Reading captures into what their scans learned, for `rawscan analyze` and
rawscan.analyze() alike: each capture's sidecar seed checked, the packets matched, the
endpoints ordered and the sources summarised (scanners apart from the rest)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..analyze.flows import Observations, SeedCheck
    from ..analyze.ordered import Ordered
    from ..analyze.scanners import SourceSummary
    from ..analyze.sidecar import PlanCheck
    from ..plan import ScanPlan

Warn = Callable[[str], None]


@dataclass
class Analysis:
    paths: list[str]
    min_probes: int
    obs: Observations
    ordered: Ordered
    scanners: list[SourceSummary]  # sources with at least min_probes probes
    others: list[SourceSummary]
    names: dict[int, str] = field(default_factory=dict)  # address -> name the scans were given
    interrupted: bool = False


def analyze_captures(paths: Sequence[str], min_probes: int = 5, *, quiet: bool = True,
                     warn: Warn | None = None) -> Analysis:
    """Analyze the captures as one stream; damage ends a file (a warning), Ctrl-C the reading
    (interrupted: what was read so far is the result)."""
    from ..analyze.ordered import order_endpoints, summaries
    from ..analyze.scanners import is_scanner

    say = warn or (lambda _message: None)
    paths = list(paths)
    checks, plans = _seed_checks(paths, say)
    obs, interrupted = _read(paths, checks, quiet, say)
    wrong = [(i, c) for i, c in enumerate(checks) if c is not None and c.belongs_elsewhere()]
    if wrong and not interrupted:  # another scan's sidecar: read again without it
        for i, check in wrong:
            say(f"'{paths[i]}.json' is not this capture's scan description: {check.failed} of "
                f"{check.failed + check.passed} replies to its sources fail its seed check "
                f"(another scan's, or another seed); analyzed without it")
            plans = [p for p in plans if p is not check.plan]
            checks[i] = None
        obs, interrupted = _read(paths, checks, quiet, say)
    if interrupted:
        say("interrupted: results below are from the packets read so far")
    known = {a for plan in plans for a in plan.sources}
    names = {a: n for plan in plans for a, n in plan.targets.names.items()}
    ordered = order_endpoints(obs, consume=True)
    every = summaries(ordered, known)
    scanners = [s for s in every if is_scanner(s, min_probes)]
    others = [s for s in every if not is_scanner(s, min_probes)]
    return Analysis(paths, min_probes, obs, ordered, scanners, others, names, interrupted)


def _seed_checks(paths: list[str], warn: Warn) -> tuple[list[PlanCheck | None], list[ScanPlan]]:
    from ..analyze.sidecar import PlanCheck, load_plan

    checks: list[PlanCheck | None] = []
    plans: list[ScanPlan] = []
    for path in paths:
        plan, warning = load_plan(path)
        check = None
        if plan is not None:
            try:
                check = PlanCheck(plan)
                plans.append(plan)
            except Exception as exc:  # an unknown scan type, a probe module that cannot start
                why = " ".join(str(exc).split())  # Scapy's messages span lines: one line here
                warning = f"cannot check replies with the seed of '{path}.json': {why}"
        if warning:
            warn(warning)
        checks.append(check)
    return checks, plans


def _read(paths: list[str], checks: Sequence[SeedCheck | None], quiet: bool,
          warn: Warn) -> tuple[Observations, bool]:
    """Analyze every file; damage ends a file with a warning, Ctrl-C ends the reading."""
    from ..analyze.flows import FlowAnalyzer
    from ..analyze.progress import ReadProgress
    from ..capture import BATCH_BYTES, CaptureTruncated, open_capture

    from ..analyze.pings import PingSweeps

    analyzer = FlowAnalyzer()
    sweeps = PingSweeps()  # host discovery: rawscan/analyze/pings.py
    analyzer.on_columns = sweeps.feed
    analyzer.observations.pings = sweeps
    progress = ReadProgress(enabled=not quiet)
    interrupted = False
    try:
        for file_no, (path, check) in enumerate(zip(paths, checks)):
            progress.start_file(path)
            capture = open_capture(path, BATCH_BYTES)  # CaptureError: cannot open, not a capture
            try:
                analyzer.feed_capture(capture, file_no, check, progress.tick)
            except CaptureTruncated as exc:  # damage part way: what came before it counts
                progress.stop()
                warn(f"{exc}; results below stop there")
    except KeyboardInterrupt:
        interrupted = True
    finally:
        progress.stop()
    return analyzer.observations, interrupted

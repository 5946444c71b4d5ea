"""--workers' pure parts: each worker's share of the plan's rate, and its verdicts made into
the results one process would have written (rawscan/workers.py)."""

from __future__ import annotations

import os

import pytest

from rawscan.addresses import parse_addr
from rawscan.engine import ScanOptions
from rawscan.plan import ScanPlan
from rawscan.results import Evidence, PortResult, Verdict
from rawscan.targets import TargetSet
from rawscan.workers import _frames, _VerdictPipe, worker_plan

BASE = parse_addr("198.18.0.2")
TARGETS = TargetSet(((BASE, BASE + 9),), {BASE + 1: "web.example"})


def _plan(**changes: object) -> ScanPlan:
    plan = ScanPlan(scan="syn", targets=TARGETS, ports=(22, 80, 443), seed=7,
                    sources=(parse_addr("198.18.0.1"),), source_port=40000, shards=3, workers=3,
                    **changes)  # type: ignore[arg-type]
    return plan


@pytest.mark.parametrize("changes", [{"rate": 9000.0}, {"rate": 5000.0, "max_rate": 300000.0},
                                     {"rate": 1000.0, "bandwidth": 3e6}])
def test_the_workers_together_send_at_the_plans_rate(changes: dict[str, float]) -> None:
    plan = _plan(**changes)
    parts = [worker_plan(plan, k) for k in range(3)]
    assert [p.shard for p in parts] == [0, 1, 2]
    assert len({p.source_port for p in parts}) == 3  # each its own source ports
    for name in ("rate", "max_rate", "bandwidth"):
        whole = getattr(plan, name)
        shares = [getattr(p, name) for p in parts]
        assert shares == [None] * 3 if whole is None else sum(shares) == pytest.approx(whole)


def test_a_workers_batches_and_windows_are_sized_at_the_whole_rate() -> None:
    from rawscan.congestion import WINDOW_PROBES
    from rawscan.engine import Engine
    from rawscan.scan import probe_for

    plan = _plan(rate=60000.0)
    one, share = (Engine(probe_for(plan), TARGETS, plan.ports, None,  # type: ignore[arg-type]  # never used here
                         ScanOptions(rate=rate, max_rate=rate, sharing=n), b"k")
                  for rate, n in ((60000.0, 1), (20000.0, 3)))
    assert share._batch_size(20000.0) == one._batch_size(60000.0)
    assert share._control.window_probes * 3 <= WINDOW_PROBES == one._control.window_probes
    assert share._control.patient and not one._control.patient  # late replies are not loss


def test_verdicts_through_the_pipe_make_the_results_one_process_writes() -> None:
    closed = Verdict("closed", "reset", Evidence.RESPONSE, 64)
    opened = Verdict("open", "syn-ack", Evidence.RESPONSE, 63)
    silent = Verdict("filtered", "no-response", Evidence.SILENCE)
    given = [(BASE, 22, closed), (BASE + 1, 80, opened), (BASE + 1, 443, closed),
             (BASE + 9, 22, silent), (BASE, 80, opened)]
    read_fd, write_fd = os.pipe()
    try:
        pipe = _VerdictPipe(write_fd)
        for item in given:
            pipe(*item)
        pipe.flush()
        pipe.flush()  # nothing held: no empty frame
        buffer = bytearray(os.read(read_fd, 1 << 20))
    finally:
        os.close(read_fd)
        os.close(write_fd)
    frames = _frames(buffer)
    assert [kind for kind, _ in frames] == ["verdicts"] and not buffer
    from rawscan.output.tally import ReportTally
    from rawscan.scan import PortReporter, ScanOutcome, probe_for
    from rawscan.engine import ScanStats

    class Kept:
        def __init__(self) -> None:
            self.results: list[PortResult] = []

        def write(self, result: PortResult) -> None:
            self.results.append(result)

    plan, kept = _plan(), Kept()
    outcome = ScanOutcome(plan, ScanStats(), ReportTally(False))
    reporter = PortReporter(outcome, probe_for(plan), [kept], None, None)  # type: ignore[list-item]
    for target, port, verdict in zip(*frames[0][1]):  # as the parent does
        reporter.deliver(target, port, verdict)
    made = kept.results
    services = {22: "ssh", 80: "http", 443: "https"}
    want = [PortResult(f"198.18.0.{t - BASE + 2}", "tcp", p, v.state, v.reason, v.ttl,
                       services[p], "web.example" if t == BASE + 1 else None)
            for t, p, v in given]
    assert made == want
    assert [r.as_dict() for r in made] == [r.as_dict() for r in want]
    assert len(outcome.tally.hosts) == 3 and outcome.tally.hosts_up == 2  # .11: silent


def test_the_workers_banner_phases_add_up_to_one_summary() -> None:
    from rawscan.banners.phase import BannerStats
    from rawscan.workers import combined_banners

    parts = [BannerStats(3, 1, 2, 1, 0, 0.4), None, BannerStats(5, 2, 4, 0, 1, 0.9)]
    both = combined_banners(parts)
    assert both is not None and both is not parts[0]
    assert (both.submitted, both.identified, both.with_reply, both.tls, both.cut_by_bound,
            both.waited) == (8, 3, 6, 1, 1, 0.9)
    assert both.summary().startswith("Banners: 8 open port(s) connected, 6 answered")
    assert combined_banners([None, None]) is None

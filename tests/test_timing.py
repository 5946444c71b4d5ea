"""Timing templates and the adaptive rate of retry rounds (pure decisions), and the engine
slowing its retry rounds down when retransmissions get answers."""

from __future__ import annotations

from rawscan.congestion import MIN_FLOOR, next_rate
from rawscan.engine import ScanOptions
from rawscan.targets import TargetSet
from rawscan.timing import TEMPLATES, resolve

from tests.support.engine import DST, SRC, run_engine
from tests.support.simnet import SimulatedNetwork


def test_templates_get_faster_and_options_win() -> None:
    rates = [TEMPLATES[t].rate for t in range(6)]
    assert rates == sorted(rates) and len(set(rates)) == 6
    assert resolve(None, None, None, None) == TEMPLATES[3]
    t = resolve(4, 123.0, None, 0.5)
    assert (t.rate, t.retries, t.timeout) == (123.0, TEMPLATES[4].retries, 0.5)


def test_rate_halves_on_answered_retransmissions_and_recovers() -> None:
    assert next_rate(80_000, 80_000, 1000, 300) == 40_000
    assert next_rate(40_000, 80_000, 1000, 0) == 80_000
    assert next_rate(80_000, 80_000, 1000, 0) == 80_000  # never above the user's rate
    assert next_rate(80_000, 80_000, 0, 0) == 80_000  # nothing retransmitted: nothing learned
    floor = 80_000 / 16
    r = 80_000.0
    for _ in range(10):
        r = next_rate(r, 80_000, 100, 50)
    assert r == floor
    assert next_rate(300, 300, 10, 10) == 300  # a low user rate is its own floor
    r = 5000.0
    for _ in range(5):
        r = next_rate(r, 5000, 10, 10)
    assert r == MIN_FLOOR


def test_engine_slows_retry_rounds_under_loss() -> None:
    net = SimulatedNetwork({p: "open" for p in range(1, 2001)}, loss=0.3, seed=3)
    stats = run_engine(net, range(1, 2001), ScanOptions(rate=50_000), seed=1)[1].stats
    assert stats.unanswered == 0
    assert stats.rounds >= 3 and 0 < stats.lowest_rate < 50_000
    assert 0.2 < stats.estimated_loss < 0.4


def test_unanswered_ports_are_counted_with_an_estimate() -> None:
    net = SimulatedNetwork({p: "open" if p % 2 else "drop" for p in range(1, 201)}, loss=0.4, seed=5)
    stats = run_engine(net, range(1, 201), ScanOptions(rate=10_000, retries=2), seed=2)[1].stats
    assert stats.unanswered >= 100  # the dropped half, plus opens lost three times
    assert stats.expected_missed > 0 and 0.2 < stats.estimated_loss < 0.6


def test_the_start_line_says_whether_the_rate_adapts() -> None:
    from rawscan.commands.common import _rate_words
    from rawscan.plan import ScanPlan

    plan = ScanPlan(scan="syn", targets=TargetSet(((DST, DST),)), ports=(22,), seed=1,
                    sources=(SRC,), source_port=40000)
    default = resolve(None, None, None, None)
    adaptive = ScanPlan(**{**plan.__dict__, "rate": default.rate, "max_rate": default.max_rate})
    assert _rate_words(adaptive) == "rate adaptive from 5000/s up to 300000/s"
    fixed = resolve(None, 200.0, None, None)
    assert fixed.max_rate is None
    assert _rate_words(ScanPlan(**{**plan.__dict__, "rate": fixed.rate})) == "rate 200/s"

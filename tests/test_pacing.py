"""Token-bucket pacing (rawscan/pacing.py): exact at low rates, bounded bursts at high ones."""

from __future__ import annotations

import pytest

from rawscan.pacing import BURST_PROBES, BURST_SECONDS, Pacer


def send_all(pacer: Pacer, count: int, batch: int = 1) -> list[float]:
    """Send `count` packets as soon as the pacer allows, `batch` at a time: their send times."""
    times, now = [], 0.0
    for _ in range(count // batch):
        now = max(now, pacer.next_slot())
        times.append(now)
        pacer.take(now, batch)
    return times


def test_a_low_rate_is_exact() -> None:
    times = send_all(Pacer(10.0, 0.0), 21)
    assert times[0] == 0.0
    assert [round(b - a, 9) for a, b in zip(times, times[1:])] == [0.1] * 20


def test_batches_are_charged_per_packet() -> None:
    times = send_all(Pacer(1000.0, 0.0), 400, batch=100)  # 100 packets take 0.1 s of budget
    assert times == pytest.approx([0.0, 0.1, 0.2, 0.3])


def burst_after_pause(pacer: Pacer, pause: float) -> int:
    """Packets the pacer lets go at once after `pause` seconds of nothing sent."""
    pacer.take(0.0)
    burst = 0
    while pacer.next_slot() <= pause:
        pacer.take(pause)
        burst += 1
    return burst


def test_credit_saved_while_idle_is_bounded() -> None:
    """After a pause: at most BURST_PROBES packets, or BURST_SECONDS of the rate's worth, go
    at once (plus the one due anyway); at a low rate the credit is one packet."""
    assert burst_after_pause(Pacer(100_000.0, 0.0), 5.0) == BURST_PROBES + 1  # 64 < 0.01 s
    assert burst_after_pause(Pacer(2_000.0, 0.0), 5.0) == int(BURST_SECONDS * 2_000) + 1
    assert burst_after_pause(Pacer(5.0, 0.0), 100.0) == 2


def test_a_new_rate_takes_effect_at_the_next_packet() -> None:
    pacer = Pacer(10.0, 0.0)
    pacer.take(0.0)
    assert pacer.next_slot() == pytest.approx(0.1)
    pacer.set_rate(1.0)
    pacer.take(0.1)
    assert pacer.next_slot() == pytest.approx(1.1)


@pytest.mark.parametrize("rate, bandwidth", [(0.0, None), (-1.0, None), (10.0, 0.0)])
def test_rates_must_be_positive(rate: float, bandwidth: float | None) -> None:
    with pytest.raises(ValueError):
        Pacer(rate, 0.0, bandwidth)


def test_due_counts_the_slots_that_have_come_within_the_credit() -> None:
    pacer = Pacer(1000.0, 0.0)
    pacer.take(0.0, 1)  # the next slot is at 1 ms
    assert pacer.due(0.0005) == 0
    assert pacer.due(0.001) == 1
    assert pacer.due(0.0035) == 3  # slots at 1, 2 and 3 ms: a sender 2.5 ms behind
    # far behind (a busy core): no more at once than the burst the bucket allows anyway
    assert pacer.due(5.0) == int(min(BURST_SECONDS, BURST_PROBES / 1000.0) * 1000) + 1
    pacer.take(5.0, pacer.due(5.0))
    assert pacer.due(5.0) == 0  # and once sent, the next slot is ahead again


def test_due_is_one_probe_at_a_time_under_a_bandwidth() -> None:
    pacer = Pacer(1000.0, 0.0, bandwidth=1e6)
    assert pacer.due(1.0) == 1

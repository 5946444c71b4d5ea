"""The adaptive rate (pure): it finds what a modelled path carries, and takes neither random
loss nor a silent target for congestion."""

from __future__ import annotations

import random

import pytest

from rawscan.congestion import PathCounters, RateController

STEP = 0.001  # seconds per simulated tick


def drive(control: RateController, seconds: float, capacity: float | None = None,
          loss: float = 0.0, answer: float = 1.0, rtt: float = 0.0005,
          drops_over: float | None = None, seed: int = 1,
          stall_every: float | None = None, stall: float = 0.0) -> list[float]:
    """Send at the controller's rate; replies come back one RTT later, through a policer of
    `capacity` replies/s (None: no policer), random loss and a target answering `answer`
    of the probes. drops_over: the kernel drops replies above this rate (counted).
    stall_every: every so often, for `stall` seconds, replies wait (a busy core: the
    target's kernel work on a veth) and then all come at once, none lost."""
    rnd = random.Random(seed)
    sent = delivered = dropped = 0
    in_flight: list[tuple[float, int]] = []
    rates = []
    now = 0.0
    credit = 0.0
    while now < seconds:
        now += STEP
        probes = int(control.rate * STEP + rnd.random())
        sent += probes
        in_flight.append((now + rtt, probes))
        stalled = stall_every is not None and now % stall_every < stall
        arrived = 0 if stalled else sum(n for t, n in in_flight if t <= now)
        in_flight = in_flight if stalled else [(t, n) for t, n in in_flight if t > now]
        replies = sum(1 for _ in range(arrived) if rnd.random() < answer and rnd.random() >= loss)
        if capacity is not None:
            credit = min(credit + capacity * STEP, capacity * STEP * 2)
            passed = min(replies, int(credit))
            credit -= passed
            replies = passed
        if drops_over is not None and replies > drops_over * STEP:
            dropped += replies - int(drops_over * STEP)
            replies = int(drops_over * STEP)
        delivered += replies
        rates.append(control.update(now, PathCounters(sent, delivered, dropped, 0), rtt))
    return rates


def test_a_clean_path_ramps_to_the_ceiling_quickly() -> None:
    control = RateController(5000, 300_000, 1000)
    assert control.path_rate == 0.0  # nothing judged yet: nothing to say about the path
    rates = drive(control, 0.5)
    assert control.path_rate >= 150_000
    assert control.losses == 0
    reached = next(i for i, r in enumerate(rates) if r >= 300_000) * STEP
    assert reached < 0.25  # doubling per window from 5,000/s


def test_a_policer_is_found_and_stayed_near() -> None:
    control = RateController(5000, 300_000, 1000)
    rates = drive(control, 3.0, capacity=20_000)
    later = rates[len(rates) // 2 :]
    mean = sum(later) / len(later)
    assert control.losses > 0
    assert 10_000 < mean < 26_000, mean
    assert 12_000 < control.path_rate < 24_000


def test_late_replies_are_not_loss_but_a_policer_still_is() -> None:
    """Patient (--workers): a window whose replies are late (they come in the next window) is
    not loss; a policer's shortfall, which the next window does not make up, still is."""
    control = RateController(5000, 300_000, 1000, patient=True)
    drive(control, 1.0, stall_every=0.1, stall=0.012)
    assert control.losses == 0 and control.rate == 300_000
    hasty = RateController(5000, 300_000, 1000)  # one process: every short window is loss
    drive(hasty, 1.0, stall_every=0.1, stall=0.012)
    assert hasty.losses > 0
    policed = RateController(5000, 300_000, 1000, patient=True)
    rates = drive(policed, 3.0, capacity=20_000, stall_every=0.1, stall=0.012)
    assert policed.losses > 0
    assert 10_000 < sum(rates[1500:]) / 1500 < 26_000


def test_kernel_drops_back_off_at_once() -> None:
    control = RateController(5000, 300_000, 1000)
    drive(control, 1.0, drops_over=50_000)
    assert control.losses > 0 and control.rate < 80_000


def test_random_loss_is_not_congestion() -> None:
    control = RateController(5000, 300_000, 1000)
    drive(control, 1.0, loss=0.05)
    assert control.losses <= 1 and control.rate > 200_000


def test_a_mostly_silent_target_does_not_hold_the_rate_down() -> None:
    control = RateController(5000, 300_000, 1000)
    drive(control, 1.0, answer=0.001)
    assert control.losses == 0 and control.rate == 300_000


@pytest.mark.parametrize("start", [1.0, 5000.0])
def test_a_fixed_rate_never_moves(start: float) -> None:
    control = RateController(start, start, 1000, adaptive=False)
    rates = drive(control, 0.3, capacity=500)
    assert set(rates) == {start}


def test_never_below_the_floor_nor_above_the_ceiling() -> None:
    control = RateController(5000, 50_000, 2000)
    rates = drive(control, 2.0, capacity=100)
    assert min(rates) >= 2000 and max(rates) <= 50_000


def test_a_retry_trickle_is_loss_to_the_rate_but_a_geometric_decay_is_not() -> None:
    from rawscan.congestion import retries_lose_replies
    assert retries_lose_replies(51, 36, 1949)  # a 300/s policer: ~50 answers a round, 2%
    assert retries_lose_replies(1900, 120, 2000)  # beyond DROP_SIGN of the retransmissions
    assert not retries_lose_replies(1900, 95, 2000)  # 5% random loss: one twentieth of before
    assert not retries_lose_replies(3, 1, 65532)  # a late reply on a filtered host


def test_a_loss_found_by_retries_halves_the_rate_and_caps_later_growth() -> None:
    from rawscan.congestion import RETRY_FLOOR, PathCounters, RateController
    control = RateController(40_000, 300_000, 1000)
    assert control.lost_in_retries() == 20_000
    for _ in range(12):
        control.lost_in_retries()
    assert control.rate == RETRY_FLOOR  # below the in-round floor of 1,000/s
    sent = delivered = 0
    for step in range(1, 200):  # loss-free windows: growth stops at the cap
        sent, delivered = sent + 300, delivered + 300
        control.update(step * 1.0, PathCounters(sent, delivered), 0.001)
    assert control.rate == RETRY_FLOOR

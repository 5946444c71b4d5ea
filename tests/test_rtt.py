"""The round-trip estimate (rawscan/rtt.py): RFC 6298's srtt and rttvar, and the wait they give."""

from __future__ import annotations

import pytest

from rawscan.rtt import MIN_WAIT, RttEstimator


def test_the_first_sample_sets_srtt_and_half_of_it_as_variation() -> None:
    rtt = RttEstimator()
    rtt.add(0.4)
    assert (rtt.srtt, rtt.rttvar, rtt.samples) == (0.4, 0.2, 1)  # RFC 6298 2.2
    assert rtt.wait(10.0) == pytest.approx(0.4 + 4 * 0.2)


def test_later_samples_smooth_with_rfc_6298s_gains() -> None:
    rtt = RttEstimator()
    rtt.add(0.4)
    rtt.add(0.2)  # RFC 6298 2.3: rttvar first, from the old srtt
    assert rtt.rttvar == pytest.approx(0.75 * 0.2 + 0.25 * 0.2)
    assert rtt.srtt == pytest.approx(0.875 * 0.4 + 0.125 * 0.2)


def test_a_steady_path_converges_to_its_rtt() -> None:
    rtt = RttEstimator()
    for _ in range(200):
        rtt.add(0.3)
    assert rtt.srtt == pytest.approx(0.3) and rtt.rttvar < 1e-6
    assert rtt.wait(10.0) == pytest.approx(0.3, abs=1e-5)


def test_the_wait_is_bounded_and_the_timeout_until_measured() -> None:
    rtt = RttEstimator()
    assert rtt.wait(2.5) == 2.5  # nothing measured: the user's --timeout
    rtt.add(0.001)
    assert rtt.wait(2.5) == MIN_WAIT  # loopback-fast: still MIN_WAIT for a busy host's jitter
    rtt.add(30.0)
    assert rtt.wait(2.5) == 2.5  # never past --timeout

"""The retry policy on round histories measured in the fault lab (no lab needed to run these).

The histories are the engine's RoundReports of live scans (tests/live/test_faults_network.py's
layouts, traced with a wrapper around RetryPolicy.another_round): what a 20% reply loss gave
a UDP scan of FAULT_UDP (ICMP rate limit lifted), and what the kernel's default ICMP rate limit
gave a UDP scan of lab_layouts.UDP_RATE_LIMITED. The policy must tell them apart.
"""

from __future__ import annotations

import pytest

from rawscan.retry_policy import RetryPolicy, RoundReport


def decide(history: list[RoundReport], retries: int = 10) -> RetryPolicy:
    """Ask the policy after each round, as the engine does; return it as it ends up."""
    policy = RetryPolicy(retries)
    for rounds in range(1, len(history) + 1):
        policy.another_round(history[:rounds])
    return policy


# answered, icmp_answered, icmp_hosts, duration, unanswered, sent
UDP_LOSS_SEED_3 = [RoundReport(115, 109, 1, 0.226, 35, 150), RoundReport(26, 25, 1, 0.113, 9, 35),
                   RoundReport(3, 3, 1, 0.104, 6, 9), RoundReport(2, 2, 1, 0.105, 4, 6)]
UDP_LOSS_SEED_4 = [RoundReport(113, 107, 1, 0.296, 37, 150), RoundReport(29, 28, 1, 0.108, 8, 37),
                   RoundReport(2, 2, 1, 0.104, 6, 8), RoundReport(0, 0, 0, 0.105, 6, 6),
                   RoundReport(1, 1, 1, 0.103, 5, 6), RoundReport(1, 1, 1, 0.104, 4, 5)]
UDP_RATE_LIMITED = [RoundReport(9, 6, 1, 0.285, 38, 47), RoundReport(0, 0, 0, 1.009, 38, 38),
                    RoundReport(1, 1, 1, 1.010, 37, 38), RoundReport(1, 1, 1, 1.009, 36, 37)]


@pytest.mark.parametrize("history", [UDP_LOSS_SEED_3, UDP_LOSS_SEED_4], ids=["seed3", "seed4"])
def test_udp_loss_histories_are_not_rate_limiting(history: list[RoundReport]) -> None:
    assert not decide(history).rate_limited


def test_a_rate_limited_history_is_rate_limiting() -> None:
    """The control: whatever fixes the test above must still see this one."""
    assert decide(UDP_RATE_LIMITED).rate_limited


def _rounds(answers: list[int], endpoints: int) -> list[RoundReport]:
    left, out = endpoints, []
    for found in answers:
        left -= found
        out.append(RoundReport(found, 0, 0, 0.1, left, found + left))
    return out


def test_seen_loss_is_retried_further_than_the_estimates_prior() -> None:
    """A scan of 2,000 ports under 5% reply loss (a live run's figures): after four rounds
    about 0.009 answering ports are still expected among the 17 silent, so a fifth round
    goes out (0.01 left one closed port filtered in about 1 of 100 such scans)."""
    lossy = _rounds([1890, 88, 5, 0], 2000)
    assert RetryPolicy(10).another_round(lossy)
    assert not RetryPolicy(10).another_round(_rounds([1890, 88, 5, 0, 0], 2000))
    # no retry ever found anything: the prior alone, and the scan stops as before
    assert not RetryPolicy(10).another_round(_rounds([44, 0], 46))
    assert not RetryPolicy(10).another_round(_rounds([1983, 0], 2000))

"""Timing templates (-T0..-T5) and the rate of each retry round: pure decisions.

A template names a rate, a retry limit and a reply timeout (nmap's -T names, rawscan's
units: probes per second instead of delays). Options given explicitly win over the template.
Between rounds the rate adapts as nmap's congestion control does in spirit: when
retransmissions get answers, replies were being lost (often because we sent too fast), so the
next round goes at half the rate; a round whose retransmissions got nothing back doubles it
again, never above what the user allowed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    name: str
    rate: float  # probes per second
    retries: int
    timeout: float  # seconds: the longest wait for replies after a round


TEMPLATES: dict[int, Timing] = {
    0: Timing("paranoid", 1 / 300, 10, 5.0),  # one probe every 5 minutes, as nmap -T0
    1: Timing("sneaky", 1 / 15, 10, 5.0),
    2: Timing("polite", 2.5, 10, 2.0),
    3: Timing("normal", 5000.0, 10, 1.0),  # the default
    4: Timing("aggressive", 50_000.0, 6, 1.25),  # nmap -T4: max-retries 6, max-rtt 1250 ms
    5: Timing("insane", 200_000.0, 2, 0.3),  # nmap -T5: max-retries 2, max-rtt 300 ms
}
DEFAULT_TEMPLATE = 3

DROP_SIGN = 0.05  # retransmissions answered beyond this share: replies are being lost
MIN_FLOOR = 1000.0  # adaptation never takes the rate below this (or the user's own rate)


def resolve(template: int | None, rate: float | None, retries: int | None,
            timeout: float | None) -> Timing:
    base = TEMPLATES[DEFAULT_TEMPLATE if template is None else template]
    return Timing(base.name, base.rate if rate is None else rate,
                  base.retries if retries is None else retries,
                  base.timeout if timeout is None else timeout)


def next_rate(current: float, ceiling: float, retransmitted: int, answered_on_retry: int) -> float:
    """The rate for the next round, from how the last retry round's retransmissions fared."""
    if retransmitted == 0:
        return current
    floor = min(ceiling, max(ceiling / 16, MIN_FLOOR))
    if answered_on_retry > DROP_SIGN * retransmitted:
        return max(floor, current / 2)
    return min(ceiling, current * 2)

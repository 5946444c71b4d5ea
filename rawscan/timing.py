"""Timing templates (-T0..-T5): what the command line's -T, --rate, --retries, --timeout
and --max-rate resolve to (pure). The engine's rate decisions are congestion.py's.

A template names a rate, a retry limit and a reply timeout (nmap's -T names, rawscan's
units: probes per second instead of delays). Options given explicitly win over the template.
-T3 (the default) to -T5 do not fix the rate: the scan starts at the template's rate and
finds what the path carries (congestion.py) up to its ceiling, --max-rate. -T0 to -T2 are
about being slow on purpose, and --rate N fixes the rate (which then changes only between
rounds: congestion.next_rate).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    name: str
    rate: float  # probes per second: the fixed rate, or where an adaptive scan starts
    retries: int
    timeout: float  # seconds: the longest wait for replies after a round
    max_rate: float | None = None  # an adaptive scan's ceiling; None: the rate is fixed

    @property
    def adaptive(self) -> bool:
        return self.max_rate is not None


TEMPLATES: dict[int, Timing] = {
    0: Timing("paranoid", 1 / 300, 10, 5.0),  # one probe every 5 minutes, as nmap -T0
    1: Timing("sneaky", 1 / 15, 10, 5.0),
    2: Timing("polite", 2.5, 10, 2.0),
    3: Timing("normal", 5000.0, 10, 1.0, 300_000.0),  # the default
    4: Timing("aggressive", 10_000.0, 6, 1.25, 500_000.0),  # nmap -T4: max-retries 6, max-rtt 1250 ms
    5: Timing("insane", 20_000.0, 2, 0.3, 1_000_000.0),  # nmap -T5: max-retries 2, max-rtt 300 ms
}
DEFAULT_TEMPLATE = 3


def resolve(template: int | None, rate: float | None, retries: int | None,
            timeout: float | None, max_rate: float | None = None) -> Timing:
    """--rate fixes the rate; otherwise -T3..-T5 adapt up to --max-rate (or their ceiling)."""
    base = TEMPLATES[DEFAULT_TEMPLATE if template is None else template]
    ceiling = None
    if rate is None and (base.adaptive or max_rate is not None):
        ceiling = max_rate if max_rate is not None else base.max_rate
    start = base.rate if rate is None else rate
    if ceiling is not None:
        start = min(start, ceiling)
    return Timing(base.name, start, base.retries if retries is None else retries,
                  base.timeout if timeout is None else timeout, ceiling)

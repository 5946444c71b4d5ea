"""Round-trip time estimate (RFC 6298, as nmap uses): how long to wait for the last replies."""

from __future__ import annotations

MIN_WAIT = 0.1  # nmap's --min-rtt-timeout: scheduling jitter on a busy host stays covered


class RttEstimator:
    def __init__(self) -> None:
        self.samples = 0
        self.srtt = 0.0
        self.rttvar = 0.0

    def add(self, rtt: float) -> None:
        if self.samples == 0:
            self.srtt, self.rttvar = rtt, rtt / 2
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - rtt)
            self.srtt = 0.875 * self.srtt + 0.125 * rtt
        self.samples += 1

    def wait(self, ceiling: float) -> float:
        """srtt + 4 * rttvar, between MIN_WAIT and the user's --timeout; --timeout until measured."""
        if self.samples == 0:
            return ceiling
        return min(ceiling, max(MIN_WAIT, self.srtt + 4 * self.rttvar))

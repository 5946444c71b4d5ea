"""The default rate: find what the path carries, statelessly (pure decisions, no I/O).

nmap keeps a congestion window per host; a stateless scanner has no per-probe state, so it
watches the path as a whole instead. Every window (a few round-trip times, at least
WINDOW_MIN seconds and WINDOW_PROBES probes) the engine hands over cumulative counters:
probes sent, packets the kernel delivered past our filter, packets it dropped for us, and
send errors. Loss is any of:
- a kernel drop on our receive socket or ring (exact: PACKET_STATISTICS);
- a send error (the qdisc or the driver refused: ENOBUFS);
- replies falling behind: packets delivered in this window, against probes sent one RTT
  earlier, fall clearly below the best yield seen (a policer or an overflowing queue on the
  way back) (--workers: and the next window does not make up the shortfall, else the replies
  were only late, waiting for a busy core). Random loss lowers every window's yield alike, so
  it is not taken for congestion.
Slow start doubles the rate per window up to the first loss; from then on the rate grows by
GROWTH per window up to near the rate of the last loss, then by PROBE_GROWTH (a plateau, as
in CUBIC), and backs off by BACKOFF at each loss, within [floor, ceiling].
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

WINDOW_MIN = 0.015  # seconds
WINDOW_PROBES = 256  # probes sent in a window before it may be judged
RTT_WINDOWS = 3  # a window lasts at least this many round-trip times
YIELD_TOLERANCE = 0.15  # yield this far below the best seen is loss
YIELD_EVIDENCE = 100  # replies a window should have brought before its yield is judged
GROWTH = 1.15  # per window, once a loss was seen, while well below the rate of the last loss
PLATEAU = 0.85  # ... and within this share of that rate, only PROBE_GROWTH (as CUBIC does)
PROBE_GROWTH = 1.03
BACKOFF = 0.7  # per window with loss, once a loss was seen (slow start halves instead)
SEND_HEADROOM = 1.5  # never ask for more than this times what the sender achieved
RETRY_FLOOR = 100.0  # retry rounds that keep finding lost replies slow to no less than this


@dataclass(frozen=True)
class PathCounters:
    """Cumulative counts since the scan began."""

    sent: int = 0  # probes handed to the wire
    delivered: int = 0  # packets that passed our capture filter (kernel count)
    dropped: int = 0  # packets the kernel dropped on our receive side
    send_errors: int = 0  # probes the kernel refused for lack of buffer space


class RateController:
    """Probes per second for the next window. Fixed when the user gave --rate."""

    def __init__(self, start: float, ceiling: float, floor: float, adaptive: bool = True,
                 window_probes: int = WINDOW_PROBES, patient: bool = False) -> None:
        self.ceiling = ceiling
        self.window_probes = window_probes  # --workers: each worker's share of WINDOW_PROBES
        # patient: a window short of replies is loss only if the next does not make it up
        # (--workers: more sending threads than cores, so replies are often late, not lost)
        self.patient = patient
        self.floor = min(floor, ceiling)
        self.adaptive = adaptive
        self.rate = min(start, ceiling) if adaptive else ceiling
        self.losses = 0  # windows judged lossy
        self.slow_start = adaptive
        self._best_yield = 0.0
        self._window_start: tuple[float, PathCounters] | None = None
        self._history: deque[tuple[float, int]] = deque(maxlen=512)  # (time, probes sent)
        self._good_rates: deque[float] = deque(maxlen=16)  # rates of recent loss-free windows
        self._loss_rate = 0.0  # the rate at which loss was last seen
        self._retry_cap = ceiling  # lost_in_retries: no window grows past it for the scan's rest
        self._short: tuple[float, int] | None = None  # the last window's (asked, got), if short

    @property
    def path_rate(self) -> float:
        """What the path was seen to carry: the recent loss-free windows' rate (after losses
        only, the rate backed off to); 0 while no window has been judged."""
        if not self._good_rates:
            return self.rate if self.losses else 0.0
        return sorted(self._good_rates)[len(self._good_rates) // 2]

    def update(self, now: float, counters: PathCounters, rtt: float) -> float:
        """Feed the cumulative counters; returns the rate to use from now on."""
        self._history.append((now, counters.sent))
        if not self.adaptive:
            return self.rate
        if self._window_start is None:
            self._window_start = (now, counters)
            return self.rate
        began, first = self._window_start
        length = now - began
        sent = counters.sent - first.sent
        if length < max(WINDOW_MIN, RTT_WINDOWS * rtt) or sent < self.window_probes:
            return self.rate
        self._window_start = (now, counters)
        lossy = self._lossy(began, now, first, counters, rtt)
        achieved = sent / length if length > 0 else self.rate
        if lossy:
            self.losses += 1
            factor = 0.5 if self.slow_start else BACKOFF
            self.slow_start = False
            at = min(self.rate, achieved)
            self._loss_rate = at if not self._loss_rate else 0.5 * (self._loss_rate + at)
            self.rate = max(self.floor, at * factor)
        elif self._short is not None:
            pass  # a short window: the rate holds until the next says late or lost
        else:
            self._good_rates.append(min(self.rate, achieved))
            if self.slow_start:
                grown = self.rate * 2.0
            elif PLATEAU * self._loss_rate <= self.rate <= self._loss_rate / PLATEAU:
                grown = self.rate * PROBE_GROWTH  # near where loss came: carefully
            else:
                grown = self.rate * GROWTH  # below it, or past it without loss: it is stale
            self.rate = min(self.ceiling, self._retry_cap, grown,
                            max(self.floor, achieved * SEND_HEADROOM))
        return self.rate

    def lost_in_retries(self) -> float:
        """A retry round's retransmissions got answers (DROP_SIGN, as for a fixed rate): replies
        were lost at the rate it went. A policer that drops from the first probe leaves every
        window the same low yield, so only this shows it: the next round goes at half the
        rate, below the in-round floor if need be, and no window grows past that (the rounds
        left are the scan's tail: a round, not a window, is what shows this loss)."""
        self.losses += 1
        self.slow_start = False
        self._loss_rate = self.rate
        self.rate = max(min(RETRY_FLOOR, self.rate), self.rate / 2)
        self.floor = min(self.floor, self.rate)
        self._retry_cap = self.rate
        self._best_yield = 0.0  # the yield seen at the lost rate is no standard
        return self.rate

    def _lossy(self, began: float, now: float, first: PathCounters, last: PathCounters,
               rtt: float) -> bool:
        if last.dropped > first.dropped or last.send_errors > first.send_errors:
            return True
        # replies in this window answer probes sent one RTT earlier
        expected_from = self._sent_at(began - rtt)
        expected_to = self._sent_at(now - rtt)
        asked = expected_to - expected_from
        if asked <= 0:
            return False
        got = last.delivered - first.delivered
        # more than one reply a probe is a window edge or a retransmitted SYN-ACK, not a yield
        observed = min(1.0, got / asked)
        if self._best_yield * asked < YIELD_EVIDENCE:
            # too few replies to judge (a mostly silent target): learn the yield only
            self._best_yield = max(self._best_yield, observed)
            return False
        if observed < self._best_yield * (1 - YIELD_TOLERANCE):
            if self._loss_rate and self.rate < 0.5 * self._loss_rate:
                # far below where loss was seen and still short: the target answers less
                # now (or the best was luck), so that is the yield to expect
                self._best_yield = 0.5 * (self._best_yield + observed)
                self._short = None
                return False
            if not self.patient:
                return True
            # One short window may be replies late, not lost: on a busy machine (--workers)
            # the target's kernel work on a veth, or our reading, waits for a core, and the
            # replies come in the next window. Loss is a shortfall the next does not make up.
            # (Not for one process: behind a policer it would find a lower path rate.)
            if self._short is None:
                self._short = (asked, got)
                return False
            asked_before, got_before = self._short
            self._short = None
            both = min(1.0, (got + got_before) / (asked + asked_before))
            return both < self._best_yield * (1 - YIELD_TOLERANCE)
        self._short = None
        self._best_yield = max(self._best_yield, observed)
        return False

    def _sent_at(self, when: float) -> float:
        """Probes sent by `when`, interpolated from the history."""
        history = self._history
        if not history or when <= history[0][0]:
            return history[0][1] if history else 0
        previous = history[0]
        for point in history:
            if point[0] >= when:
                t0, s0 = previous
                t1, s1 = point
                if t1 == t0:
                    return s1
                return s0 + (s1 - s0) * (when - t0) / (t1 - t0)
            previous = point
        return history[-1][1]


# --- a fixed --rate, between retry rounds ---------------------------------------------------
# With --rate N (or -T0..-T2) the rate adapts only between rounds, as nmap's congestion control
# does in spirit: when retransmissions get answers, replies were being lost, so the next round
# goes at half the rate; a round whose retransmissions got nothing back doubles it again,
# never above what the user allowed.

ADAPTIVE_FLOOR = 1000.0  # an adaptive scan never goes slower than this (or its ceiling)
DROP_SIGN = 0.05  # retransmissions answered beyond this share: replies are being lost
TRICKLE_MIN = 3  # fewer answers on a retry round are a few late replies, not a trickle
MIN_FLOOR = 1000.0  # adaptation never takes the rate below this (or the user's own rate)


def retries_lose_replies(before: int, answered: int, retransmitted: int) -> bool:
    """Did a retry round find replies lost to the rate (an adaptive scan's signal)? Beyond
    DROP_SIGN of its retransmissions, or a trickle: at least TRICKLE_MIN and half as many as
    the round before (a policer passes the same number a second whatever is sent; random
    loss makes each round find a fraction of the last's)."""
    if answered > DROP_SIGN * retransmitted:
        return True
    return answered >= TRICKLE_MIN and 2 * answered >= before


def next_rate(current: float, ceiling: float, retransmitted: int, answered_on_retry: int) -> float:
    """The rate for the next round, from how the last retry round's retransmissions fared."""
    if retransmitted == 0:
        return current
    floor = min(ceiling, max(ceiling / 16, MIN_FLOOR))
    if answered_on_retry > DROP_SIGN * retransmitted:
        return max(floor, current / 2)
    return min(ceiling, current * 2)

"""Per-host discovery results, made from the engine's per-(host, probe) verdicts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..results import Evidence, Verdict

UP, DOWN = "up", "down"
HOST_FIELDS = ("ip", "host", "status", "reason", "ttl", "rtt_ms", "mac")


@dataclass(frozen=True, slots=True)
class HostResult:
    ip: str
    status: str  # up or down
    reason: str  # echo-reply, syn-ack, reset, timestamp-reply, arp-response, port-unreach,
    #              no-response, host-unreach ...
    ttl: int | None = None
    rtt: float | None = None  # seconds, from the answer that showed the host up
    mac: str | None = None  # ARP / NDP answers
    host: str | None = None  # the name the user gave

    @property
    def up(self) -> bool:
        return self.status == UP

    @property
    def rtt_ms(self) -> float | None:
        return None if self.rtt is None else round(self.rtt * 1000, 3)

    def as_dict(self) -> dict[str, object]:
        record: dict[str, object] = {"ip": self.ip, "status": self.status, "reason": self.reason,
                                     "ttl": self.ttl, "rtt_ms": self.rtt_ms}
        if self.mac:
            record["mac"] = self.mac
        if self.host:
            record["host"] = self.host
        return record

    @property
    def reason_text(self) -> str:
        return f"{self.reason} ttl {self.ttl}" if self.ttl is not None else self.reason


class HostCollector:
    """Up hosts are handed on at their first checked answer; down ones wait for the end
    (an ICMP error from a router beats silence, and any answer from the host beats both)."""

    def __init__(self, emit: Callable[[int, Verdict], None]) -> None:
        self._emit = emit
        self._up: set[int] = set()
        self._down: dict[int, Verdict] = {}

    def add(self, target: int, verdict: Verdict) -> None:
        if target in self._up:
            return
        if verdict.state == UP:
            self._up.add(target)
            self._down.pop(target, None)
            self._emit(target, verdict)
            return
        known = self._down.get(target)
        if known is None or verdict.evidence > known.evidence:
            self._down[target] = verdict

    def is_up(self, target: int) -> bool:
        return target in self._up

    @property
    def up_count(self) -> int:
        return len(self._up)

    def rest(self, order: Callable[[int], int] | None = None) -> Iterator[tuple[int, Verdict]]:
        """The down hosts, in address order, once every probe had its chance."""
        for target in sorted(self._down, key=order):
            yield target, self._down[target]
        self._down.clear()


SILENT = Verdict(DOWN, "no-response", Evidence.SILENCE)

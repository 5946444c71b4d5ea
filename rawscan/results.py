"""What a scan learns: per-port verdicts and the records written out."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from .ports import port_class

# The JSON Lines / CSV record fields, in order; "host" only when the user gave a name.
RECORD_FIELDS = ("ip", "host", "proto", "port", "state", "reason", "ttl", "service", "class")


class Evidence(IntEnum):
    """How strong a verdict is; a weaker one never replaces a stronger one."""

    SILENCE = 0  # no reply after every retry
    UNVERIFIED = 1  # a reply that carries no cookie to check (a bare RST or SYN): only if
    #                 nothing better comes, and the port is still retried
    ICMP = 2  # an ICMP error quoting our probe
    RESPONSE = 3  # the target's own TCP/UDP answer: final


@dataclass(frozen=True, slots=True)
class Verdict:
    state: str  # open, closed, filtered, open|filtered
    reason: str  # syn-ack, reset, admin-prohibited, no-response, ...
    evidence: Evidence
    ttl: int | None = None  # TTL of the reply that decided it

    def beats(self, other: Verdict | None) -> bool:
        return other is None or self.evidence > other.evidence


@dataclass(frozen=True, slots=True)
class PortResult:
    ip: str
    proto: str  # "tcp" or "udp"
    port: int
    state: str
    reason: str
    ttl: int | None
    service: str
    host: str | None = None  # the name the user gave, when they gave one

    @property
    def port_class(self) -> str:
        """IANA range: system (0-1023), registered (1024-49151), dynamic (49152-65535)."""
        return port_class(self.port)

    def as_dict(self) -> dict[str, object]:
        record: dict[str, object] = {
            "ip": self.ip,
            "proto": self.proto,
            "port": self.port,
            "state": self.state,
            "reason": self.reason,
            "ttl": self.ttl,
            "service": self.service,
            "class": self.port_class,
        }
        if self.host:
            record["host"] = self.host
        return record

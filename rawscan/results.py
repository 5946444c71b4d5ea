"""What a scan learns: per-port verdicts and the records written out."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

from .ports import port_class

if TYPE_CHECKING:
    from .banners.facts import TlsFacts

# The JSON Lines / CSV record fields, in order; "host" only when the user gave a name.
RECORD_FIELDS = ("ip", "host", "proto", "port", "state", "reason", "ttl", "service", "class")
# What --banners adds to a record (CSV: columns of a --banners scan; tls: JSON text there)
BANNER_FIELDS = ("product", "version", "extrainfo", "banner", "tls", "banner_note")


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
    # --banners (rawscan/banners): what the port runs; text already made safe (banners/text.py)
    product: str | None = None
    version: str | None = None
    extrainfo: str | None = None
    banner: str | None = None  # the reply, escaped to one printable line
    tls: TlsFacts | None = None
    probed: bool = False  # service, product and version come from a rule, not /etc/services
    conf: int | None = None  # nmap's confidence (0-10) when probed
    banner_note: str | None = None  # why there is no banner ("connect failed: ...")

    def __getattr__(self, name: str) -> object:
        # Reached only for a slot never set: analyze's fast constructor (analyze/ordered.py)
        # fills the fields it knows and leaves the --banners ones unset, which read as unset.
        try:
            return _BANNER_DEFAULTS[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def version_text(self) -> str:
        """nmap's VERSION column: product version (extrainfo)."""
        words = [w for w in (self.product, self.version) if w]
        if self.extrainfo:
            words.append(f"({self.extrainfo})")
        return " ".join(words)

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
        if self.banner is not None or self.probed or self.tls is not None or self.banner_note:
            for key in ("product", "version", "extrainfo", "banner", "banner_note"):
                value = getattr(self, key)
                if value is not None:
                    record[key] = value
            if self.tls is not None:
                record["tls"] = self.tls.as_dict()
        return record


_BANNER_DEFAULTS: dict[str, object] = {
    "product": None, "version": None, "extrainfo": None, "banner": None, "tls": None,
    "probed": False, "conf": None, "banner_note": None,
}

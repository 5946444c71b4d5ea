"""Pure: does a host's SYN scan look like a SYN proxy, tarpit or middlebox answering for it?

A host that answers SYN-ACK on (nearly) every port scanned is almost never a host with that
many services: a SYN proxy (SYN cookies on a firewall or DDoS scrubber), a tarpit (LaBrea) or a
middlebox completes the handshake for any port, and masscan users see "65,536 open ports" on
an address with nothing behind it. The rule, for one host:
- at least SYN_PROXY_MIN_PORTS ports answered SYN-ACK: a scan of a few ports that are all
  open (-p 22,80,443) is an ordinary host and never flagged;
- and they are at least SYN_PROXY_SHARE of the ports scanned on it.
A real server with 50 or more listeners among the ports scanned and 90% of them open is
implausible; a proxy answers them all (the lab's SYN-ACK-everything host: 100%).
"""

from __future__ import annotations

from dataclasses import dataclass

SYN_PROXY_MIN_PORTS = 50
SYN_PROXY_SHARE = 0.9
NOTE = "syn-proxy"  # the JSON Lines host_note and the XML hostscript id


@dataclass(frozen=True)
class SynProxyNote:
    answered: int  # ports that answered SYN-ACK
    scanned: int  # ports scanned on the host

    @property
    def share(self) -> float:
        return self.answered / self.scanned if self.scanned else 0.0

    def text(self) -> str:
        return (f"{self.answered} of {self.scanned} ports ({self.share:.1%}) answered SYN-ACK: "
                f"almost certainly a SYN proxy, tarpit or middlebox answering for this address, "
                f"not that many services")

    def as_dict(self, ip: str) -> dict[str, object]:
        return {"ip": ip, "host_note": NOTE, "syn_ack_ports": self.answered,
                "scanned_ports": self.scanned, "share": round(self.share, 4)}


def syn_proxy(answered: int, scanned: int) -> SynProxyNote | None:
    """The note for a host whose ports answered SYN-ACK this often, or None."""
    if answered >= SYN_PROXY_MIN_PORTS and scanned and answered >= SYN_PROXY_SHARE * scanned:
        return SynProxyNote(answered, scanned)
    return None

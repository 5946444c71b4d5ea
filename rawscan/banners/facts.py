"""What a banner grab learned about one port, in the shape the result records carry."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TlsFacts:
    """A TLS handshake's outcome. error is set when it failed (the port is still open)."""

    version: str | None = None  # "TLSv1.3"
    cipher: str | None = None
    alpn: str | None = None  # the protocol the server chose, if it does ALPN
    subject: str | None = None  # "CN=lab.test, O=Lab"
    subject_cn: str | None = None
    issuer: str | None = None
    not_before: str | None = None  # ISO 8601 UTC
    not_after: str | None = None
    sans: tuple[str, ...] = ()  # "DNS:lab.test", "IP:198.18.0.2"
    san_count: int = 0
    sha256: str | None = None  # of the certificate's DER bytes
    error: str | None = None  # "handshake failed: ...", "certificate not parsed: ..."

    @property
    def ok(self) -> bool:
        return self.version is not None

    def as_dict(self) -> dict[str, object]:
        record: dict[str, object] = {}
        for key in ("version", "cipher", "alpn", "subject", "subject_cn", "issuer",
                    "not_before", "not_after"):
            value = getattr(self, key)
            if value is not None:
                record[key] = value
        if self.sans or self.san_count:
            record["sans"] = list(self.sans)
            record["san_count"] = self.san_count
        if self.sha256 is not None:
            record["sha256"] = self.sha256
        if self.error is not None:
            record["error"] = self.error
        return record

    def summary(self) -> str:
        """One line for the human report and nmap's script output."""
        if not self.ok:
            return f"TLS {self.error or 'failed'}"
        parts = [f"{self.version} {self.cipher or ''}".rstrip()]
        if self.alpn:
            parts.append(f"ALPN {self.alpn}")
        if self.subject is not None:
            parts.append(f"subject {self.subject}")
        if self.issuer is not None:
            parts.append(f"issuer {self.issuer}")
        if self.not_after is not None:
            parts.append(f"valid {self.not_before} to {self.not_after}")
        if self.sans:
            more = f" (+{self.san_count - len(self.sans)} more)" if self.san_count > len(self.sans) else ""
            parts.append("SAN " + " ".join(self.sans) + more)
        if self.sha256:
            parts.append(f"SHA-256 {self.sha256}")
        if self.error:
            parts.append(self.error)
        return "; ".join(parts)

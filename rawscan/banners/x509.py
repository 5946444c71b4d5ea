"""The few facts rawscan reports from a server's X.509 certificate, read from its DER bytes.

Python's ssl module hands over a peer certificate only as DER when verification is off (its
decoded form is empty then), and the standard library has no public DER parser. The part of
X.509 needed here (subject and issuer names, validity, subjectAltName) is a fixed walk over
a handful of TLV elements, so it is done here rather than with a new dependency. The input is
the server's: every length is checked against its enclosing element, nothing recurses
beyond the certificate's fixed shape, and anything unexpected is a CertificateError.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ..addresses import addr_from_bytes, addr_to_str
from .text import printable

MAX_SANS = 64  # names kept from subjectAltName (the count says how many there were)
MAX_NAME = 256  # characters kept of any one name

_NAME_KEYS = {"2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST",
              "2.5.4.10": "O", "2.5.4.11": "OU", "1.2.840.113549.1.9.1": "emailAddress"}
_SAN_OID = "2.5.29.17"
_STRINGS = {0x0C: "utf-8", 0x13: "latin-1", 0x16: "latin-1", 0x14: "latin-1", 0x1A: "latin-1",
            0x1E: "utf-16-be", 0x1C: "utf-32-be"}


class CertificateError(ValueError):
    """The bytes are not a certificate this parser can read."""


@dataclass(frozen=True, slots=True)
class Certificate:
    subject: str  # "CN=example.test, O=Lab"
    subject_cn: str | None
    issuer: str
    not_before: str  # ISO 8601, UTC: 2026-12-01T10:00:00Z
    not_after: str
    sans: tuple[str, ...]  # "DNS:a.test", "IP:198.18.0.2", at most MAX_SANS
    san_count: int  # how many the certificate holds
    sha256: str  # of the DER bytes, lowercase hex


def _element(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the TLV at pos, which must end by end."""
    if pos + 2 > end:
        raise CertificateError("truncated element")
    tag, first = data[pos], data[pos + 1]
    if tag & 0x1F == 0x1F:
        raise CertificateError("multi-byte tag")
    pos += 2
    if first < 0x80:
        length = first
    else:
        size = first & 0x7F
        if not 1 <= size <= 4 or pos + size > end:
            raise CertificateError("bad length")
        length = int.from_bytes(data[pos:pos + size], "big")
        pos += size
    if pos + length > end:
        raise CertificateError("element longer than its container")
    return tag, pos, pos + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    found = []
    while start < end:
        tag, s, e = _element(data, start, end)
        found.append((tag, s, e))
        start = e
    return found


def _expect(item: tuple[int, int, int], tag: int, what: str) -> tuple[int, int]:
    if item[0] != tag:
        raise CertificateError(f"{what}: tag {item[0]:#x}, expected {tag:#x}")
    return item[1], item[2]


def _oid(raw: bytes) -> str:
    if not raw:
        raise CertificateError("empty OID")
    parts, value = [], 0
    for byte in raw:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    first = min(parts[0] // 40, 2)
    return ".".join(map(str, [first, parts[0] - 40 * first, *parts[1:]]))


def _string(tag: int, raw: bytes) -> str:
    codec = _STRINGS.get(tag)
    if codec is None:
        return printable(raw.hex(), MAX_NAME)
    return printable(raw.decode(codec, "replace"), MAX_NAME)


def _name(data: bytes, start: int, end: int) -> tuple[str, str | None]:
    """An X.501 Name as 'CN=a, O=b', and its (last) common name."""
    parts, cn = [], None
    for rdn in _children(data, start, end)[:32]:
        for attribute in _children(data, *_expect(rdn, 0x31, "name"))[:8]:
            fields = _children(data, *_expect(attribute, 0x30, "name attribute"))
            if len(fields) != 2:
                raise CertificateError("name attribute")
            oid = _oid(data[slice(*_expect(fields[0], 0x06, "attribute type"))])
            value = _string(fields[1][0], data[fields[1][1]:fields[1][2]])
            key = _NAME_KEYS.get(oid, oid)
            parts.append(f"{key}={value}")
            if key == "CN":
                cn = value
    return ", ".join(parts), cn


def _time(tag: int, raw: bytes) -> str:
    text = raw.decode("ascii", "replace")
    if tag == 0x17 and len(text) == 13 and text.endswith("Z"):  # UTCTime YYMMDDHHMMSSZ
        year = int(text[:2])
        text = f"{2000 + year if year < 50 else 1900 + year}{text[2:]}"
    elif not (tag == 0x18 and len(text) == 15 and text.endswith("Z")):
        raise CertificateError("validity time")
    if not text[:14].isdigit():
        raise CertificateError("validity time")
    return f"{text[:4]}-{text[4:6]}-{text[6:8]}T{text[8:10]}:{text[10:12]}:{text[12:14]}Z"


def _general_name(tag: int, raw: bytes) -> str | None:
    if tag == 0x82:
        return "DNS:" + printable(raw.decode("latin-1"), MAX_NAME)
    if tag == 0x87 and len(raw) in (4, 16):
        return f"IP:{addr_to_str(addr_from_bytes(raw))}"
    if tag == 0x81:
        return "email:" + printable(raw.decode("latin-1"), MAX_NAME)
    if tag == 0x86:
        return "URI:" + printable(raw.decode("latin-1"), MAX_NAME)
    return None  # otherName, directoryName...: not reported


def _sans(data: bytes, start: int, end: int) -> tuple[tuple[str, ...], int]:
    names: list[str] = []
    count = 0
    s, e = _expect(_element(data, start, end), 0x30, "subjectAltName")
    while s < e:
        tag, cs, ce = _element(data, s, e)
        s = ce
        name = _general_name(tag, data[cs:ce])
        if name is not None:
            count += 1
            if len(names) < MAX_SANS:
                names.append(name)
    return tuple(names), count


def parse_certificate(der: bytes) -> Certificate:
    """The facts of a DER certificate; CertificateError if it cannot be read."""
    try:
        return _parse(der)
    except (IndexError, ValueError) as exc:  # ValueError includes CertificateError
        if isinstance(exc, CertificateError):
            raise
        raise CertificateError(str(exc)) from None


def _parse(der: bytes) -> Certificate:
    cert = _children(der, *_expect(_element(der, 0, len(der)), 0x30, "certificate"))
    if len(cert) != 3:
        raise CertificateError("certificate has no tbsCertificate, algorithm and signature")
    tbs = _children(der, *_expect(cert[0], 0x30, "tbsCertificate"))
    if tbs and tbs[0][0] == 0xA0:
        tbs = tbs[1:]  # explicit version
    if len(tbs) < 6:
        raise CertificateError("tbsCertificate too short")
    issuer, _ = _name(der, *_expect(tbs[2], 0x30, "issuer"))
    validity = _children(der, *_expect(tbs[3], 0x30, "validity"))
    if len(validity) != 2:
        raise CertificateError("validity")
    not_before, not_after = (_time(t, der[s:e]) for t, s, e in validity)
    subject, cn = _name(der, *_expect(tbs[4], 0x30, "subject"))
    sans: tuple[str, ...] = ()
    san_count = 0
    for tag, s, e in tbs[6:]:
        if tag != 0xA3:
            continue  # issuer/subject unique ids
        for extension in _children(der, *_expect(_element(der, s, e), 0x30, "extensions")):
            fields = _children(der, *_expect(extension, 0x30, "extension"))
            if len(fields) < 2 or _oid(der[slice(*_expect(fields[0], 0x06, "extension id"))]) != _SAN_OID:
                continue
            sans, san_count = _sans(der, *_expect(fields[-1], 0x04, "extension value"))
    return Certificate(subject=subject, subject_cn=cn, issuer=issuer, not_before=not_before,
                       not_after=not_after, sans=sans, san_count=san_count,
                       sha256=hashlib.sha256(der).hexdigest())

"""rawscan's own identification rules: what a port's first reply says it runs.

One table of regular expressions over the first bytes a server sent (and, for HTTP, over its
Server header), written for rawscan from the protocols' own greetings. The first rule that
matches names the service; product, version and extrainfo are filled from its groups
(re's \\1 templates, expanded by match.expand: the server's bytes are data, never a
template). Patterns are anchored and free of nested repetition, and the input is at most
4 KiB, so no banner makes a rule slow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .facts import TlsFacts
from .text import printable

FIELD_LIMIT = 80  # characters kept of a product, version or extrainfo


@dataclass(frozen=True, slots=True)
class Rule:
    service: str
    pattern: re.Pattern[bytes]
    product: bytes | None = None  # literal text or a \1 template
    version: bytes | None = None
    extrainfo: bytes | None = None


def _rule(service: str, pattern: bytes, product: bytes | None = None,
          version: bytes | None = None, extrainfo: bytes | None = None) -> Rule:
    return Rule(service, re.compile(pattern, re.DOTALL), product, version, extrainfo)


# Over the reply itself (a server's greeting, or the answer to rawscan's hello).
BANNER_RULES = (
    _rule("ssh", rb"SSH-([\d.]+)-OpenSSH_([\w.]+)[ -]?([^\r\n]*)", b"OpenSSH", rb"\2", rb"\3"),
    _rule("ssh", rb"SSH-([\d.]+)-dropbear_([\w.]+)", b"Dropbear sshd", rb"\2"),
    _rule("ssh", rb"SSH-([\d.]+)-([^\s_\-]+)[_-]?([^\s]*)", rb"\2", rb"\3"),
    _rule("ftp", rb"220[ -]\(vsFTPd ([\w.]+)\)", b"vsftpd", rb"\1"),
    _rule("ftp", rb"220[ -]ProFTPD(?: ([\w.]+))?", b"ProFTPD", rb"\1"),
    _rule("ftp", rb"220[ -][^\r\n]*Pure-FTPd", b"Pure-FTPd"),
    _rule("smtp", rb"220[ -](\S+) ESMTP Postfix", b"Postfix smtpd", None, rb"\1"),
    _rule("smtp", rb"220[ -](\S+) ESMTP Exim ([\w.]+)", b"Exim smtpd", rb"\2", rb"\1"),
    _rule("smtp", rb"220[ -][^\r\n]*SMTP"),
    _rule("ftp", rb"220[ -][^\r\n]*FTP"),
    _rule("pop3", rb"\+OK [^\r\n]*Dovecot", b"Dovecot pop3d"),
    _rule("pop3", rb"\+OK"),
    _rule("imap", rb"\* OK (?:\[[^\]\r\n]*\] )?[^\r\n]*Dovecot", b"Dovecot imapd"),
    _rule("imap", rb"\* OK"),
    # MySQL/MariaDB greeting: 3-byte length, sequence 0, protocol 10, NUL-ended version
    _rule("mysql", rb"...\x00\x0a5\.5\.5-([\d.]+)-MariaDB-?([^\x00]*)\x00", b"MariaDB", rb"\1", rb"\2"),
    _rule("mysql", rb"...\x00\x0a([\d.]+)-MariaDB-?([^\x00]*)\x00", b"MariaDB", rb"\1", rb"\2"),
    _rule("mysql", rb"...\x00\x0a([\d.]+)-?([^\x00]*)\x00", b"MySQL", rb"\1", rb"\2"),
    _rule("mysql", rb"...\x00\xff..[^\x00]*is not allowed to connect to this (MySQL|MariaDB) server",
          rb"\1", None, b"unauthorized"),
    _rule("vnc", rb"RFB (\d{3})\.(\d{3})\n", b"VNC", None, rb"protocol \1.\2"),
    _rule("telnet", rb"\xff[\xfb-\xfe]"),
    _rule("redis", rb"\+PONG\r\n", b"Redis key-value store"),
    _rule("redis", rb"-(?:NOAUTH|DENIED Redis)", b"Redis key-value store", None, b"authentication required"),
    _rule("memcached", rb"VERSION ([\d.]+)\r\n", b"memcached", rb"\1"),
    _rule("rtsp", rb"RTSP/1\.0 \d{3}"),
)

# Over an HTTP response's Server header value.
SERVER_RULES = (
    _rule("http", rb"nginx(?:/([\w.]+))?", b"nginx", rb"\1"),
    _rule("http", rb"Apache(?:/([\w.]+))?(?: \(([^)]*)\))?", b"Apache httpd", rb"\1", rb"\2"),
    _rule("http", rb"lighttpd(?:/([\w.]+))?", b"lighttpd", rb"\1"),
    _rule("http", rb"Microsoft-IIS(?:/([\w.]+))?", b"Microsoft IIS httpd", rb"\1"),
    _rule("http", rb"Caddy", b"Caddy httpd"),
    _rule("http", rb"SimpleHTTP/([\w.]+) Python/([\w.]+)", b"SimpleHTTPServer", rb"\1", rb"Python \2"),
    _rule("http", rb"BaseHTTP/([\w.]+) Python/([\w.]+)", b"BaseHTTPServer", rb"\1", rb"Python \2"),
    _rule("http", rb"gunicorn(?:/([\w.]+))?", b"gunicorn", rb"\1"),
    _rule("http", rb"([^/\s]+)(?:/(\S+))?(?: (.+))?", rb"\1", rb"\2", rb"\3"),  # any other
)

_HTTP = re.compile(rb"HTTP/\d(?:\.\d)? \d{3}")
_SERVER = re.compile(rb"\r?\nServer:[ \t]*([^\r\n]*)", re.IGNORECASE)
_HEADERS_END = re.compile(rb"\r?\n\r?\n")


@dataclass(frozen=True, slots=True)
class Identity:
    service: str  # "ssh", "http", "https", "ssl/imap", "ssl"
    product: str | None = None
    version: str | None = None
    extrainfo: str | None = None
    conf: int = 10  # nmap's 0-10: 10 for a rule's match, 8 for a bare TLS handshake
    tunnel: bool = False  # spoken inside TLS


def _field(match: re.Match[bytes], template: bytes | None) -> str | None:
    if template is None:
        return None
    value = printable(match.expand(template), FIELD_LIMIT).strip()
    return value or None


def _apply(rules: tuple[Rule, ...], data: bytes) -> Identity | None:
    for rule in rules:
        match = rule.pattern.match(data)
        if match:
            return Identity(rule.service, _field(match, rule.product),
                            _field(match, rule.version), _field(match, rule.extrainfo))
    return None


def http_server(reply: bytes) -> bytes | None:
    """The Server header of an HTTP response (None: not HTTP, or no such header)."""
    if not _HTTP.match(reply):
        return None
    end = _HEADERS_END.search(reply)
    found = _SERVER.search(reply, 0, end.start() + 2 if end else len(reply))
    return found.group(1).strip() if found else b""


def identify(reply: bytes, tls: TlsFacts | None = None) -> Identity | None:
    """The service a reply shows, with product and version when a rule gives them; a
    successful TLS handshake makes it https (HTTP inside), ssl/NAME or plain ssl."""
    server = http_server(reply)
    found: Identity | None
    if server is not None:
        found = (_apply(SERVER_RULES, server) if server else None) or Identity("http")
    else:
        found = _apply(BANNER_RULES, reply)
    if tls is None or not tls.ok:
        return found
    if found is None:
        return Identity("ssl", conf=8, tunnel=True)
    name = "https" if found.service == "http" else f"ssl/{found.service}"
    return Identity(name, found.product, found.version, found.extrainfo, found.conf, True)


def looks_like_tls(reply: bytes) -> bool:
    """A TLS record (an alert, usually) or a web server saying this port wants TLS."""
    if reply[:1] in (b"\x15", b"\x16") and reply[1:2] == b"\x03":
        return True
    return _HTTP.match(reply) is not None and (
        b"HTTPS port" in reply or b"speaking plain HTTP to an SSL" in reply
        or b"Client sent an HTTP request to an HTTPS server" in reply)

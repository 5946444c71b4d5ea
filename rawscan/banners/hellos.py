"""Which hello a port gets: chosen by port, then by fallback (pure decisions, no I/O).

A port whose protocol talks first (SSH, SMTP, FTP, POP3, IMAP, MySQL, VNC, telnet) is only
read. A client-first one gets a small request of its own protocol. Any other port is read
for a short while in case the server talks first, then asked HTTP `GET /` on the same
connection, then, if that got no answer or a TLS-shaped one, offered a TLS handshake on a
new connection.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import __version__

SERVER_FIRST_PORTS = frozenset({21, 22, 23, 25, 110, 143, 587, 2222, 3306, 5900, 5901})
HTTP_PORTS = frozenset({80, 81, 591, 3000, 5000, 8000, 8008, 8080, 8081, 8888, 9000})
TLS_HTTP_PORTS = frozenset({443, 4443, 8443, 9443, 10443})
TLS_SERVER_FIRST_PORTS = frozenset({465, 993, 995, 990})  # SMTPS, IMAPS, POP3S, FTPS
REQUESTS = {
    6379: b"PING\r\n",  # Redis
    11211: b"version\r\n",  # memcached
}


@dataclass(frozen=True, slots=True)
class Step:
    """One exchange: optionally TLS first, optionally a request, then read the reply.
    wait: the share of the port's remaining time the read may take (1.0: all of it)."""

    tls: bool = False
    request: str = ""  # "", "http", or "raw"
    raw: bytes = b""
    wait: float = 1.0
    new_connection: bool = False


def http_request(host: str) -> bytes:
    """GET / with a Host header; host is an address or the name the user gave (checked
    by the target parser, so it holds no CR or LF)."""
    return (f"GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: rawscan/{__version__}\r\n"
            "Accept: */*\r\nConnection: close\r\n\r\n").encode("ascii", "replace")


def host_header(address: str, name: str | None) -> str:
    if name and all(c.isalnum() or c in "-._" for c in name):
        return name
    return f"[{address}]" if ":" in address else address


def plan_for(port: int) -> tuple[Step, ...]:
    """The exchanges tried on a port, in order; the grabber stops at the first answer a
    rule identifies (or, for the fallback, the first answer at all that is not TLS-shaped)."""
    if port in SERVER_FIRST_PORTS:
        return (Step(),)
    if port in HTTP_PORTS:
        return (Step(request="http"), Step(tls=True, request="http", new_connection=True))
    if port in TLS_HTTP_PORTS:
        return (Step(tls=True, request="http"),)
    if port in TLS_SERVER_FIRST_PORTS:
        return (Step(tls=True),)
    if port in REQUESTS:
        return (Step(request="raw", raw=REQUESTS[port]),)
    # unknown: a server that talks first gets a third of the time to do so
    return (Step(wait=0.34), Step(request="http", wait=0.5),
            Step(tls=True, request="http", new_connection=True))

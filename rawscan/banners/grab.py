"""One port's banner grab: ordinary sockets (the kernel's TCP stack), asyncio, hard bounds.

Everything a port costs is bounded: one deadline (the banner timeout) covers every connect,
handshake, write and read on that port, at most CAP bytes of a reply are kept (a reply is
read until the cap, the server closes, it goes quiet for QUIET seconds, or the deadline),
and the stream's own buffer is limited, so a flood stops at the cap.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass

from .facts import TlsFacts
from .hellos import Step, host_header, http_request, plan_for
from .rules import Identity, identify, looks_like_tls
from .text import printable
from .x509 import CertificateError, parse_certificate

CAP = 4096  # bytes kept of a port's reply
QUIET = 0.5  # seconds of silence that end a reply once it has begun


@dataclass(frozen=True, slots=True)
class Grab:
    reply: bytes = b""  # the reply kept (at most CAP bytes)
    tls: TlsFacts | None = None
    identity: Identity | None = None
    note: str | None = None  # why there is no reply: "connect refused", "no reply in 3 s"...

    @property
    def banner(self) -> str | None:
        return printable(self.reply) if self.reply else None


def tls_context(alpn: bool) -> ssl.SSLContext:
    """A client context that takes any certificate and old protocol versions: rawscan
    reports what the server offers, it does not trust it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.options |= getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
    try:
        context.set_ciphers("ALL:@SECLEVEL=0")
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    except (ssl.SSLError, ValueError):
        pass  # this OpenSSL keeps its defaults
    if alpn:
        context.set_alpn_protocols(["http/1.1"])
    return context


_CONTEXTS = {alpn: tls_context(alpn) for alpn in (False, True)}


def tls_facts(writer: asyncio.StreamWriter) -> TlsFacts:
    tls = writer.get_extra_info("ssl_object")
    if tls is None:
        return TlsFacts(error="no TLS session")
    cipher = tls.cipher()
    base = dict(version=tls.version(), cipher=cipher[0] if cipher else None,
                alpn=tls.selected_alpn_protocol())
    der = tls.getpeercert(binary_form=True)
    if not der:
        return TlsFacts(**base, error="no certificate")
    try:
        cert = parse_certificate(der)
    except CertificateError as exc:
        import hashlib

        return TlsFacts(**base, sha256=hashlib.sha256(der).hexdigest(),
                        error=printable(f"certificate not parsed: {exc}", 200))
    return TlsFacts(**base, subject=cert.subject, subject_cn=cert.subject_cn, issuer=cert.issuer,
                    not_before=cert.not_before, not_after=cert.not_after, sans=cert.sans,
                    san_count=cert.san_count, sha256=cert.sha256)


async def read_reply(reader: asyncio.StreamReader, until: float) -> bytes:
    """Bytes until CAP, end of stream, QUIET seconds of silence after the first byte, or the
    loop time `until`."""
    loop = asyncio.get_running_loop()
    data = bytearray()
    while len(data) < CAP:
        left = until - loop.time()
        if data:
            left = min(left, QUIET)
        if left <= 0:
            break
        try:
            chunk = await asyncio.wait_for(reader.read(CAP - len(data)), left)
        except (asyncio.TimeoutError, ConnectionError, OSError, ssl.SSLError):
            break
        if not chunk:
            break
        data += chunk
    return bytes(data)


def _why(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return str(exc.reason or exc.strerror or "error").lower().replace("_", " ")
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    if isinstance(exc, (ConnectionError, EOFError)) or "EOF" in type(exc).__name__:
        return "connection closed"
    return printable(str(exc) or type(exc).__name__, 120)


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.tls = reader, writer, False

    def abort(self) -> None:
        self.writer.transport.abort()  # never wait on a close handshake a server may stall


async def grab(address: str, port: int, name: str | None, timeout: float) -> Grab:
    """Connect to address:port and learn what it runs, within timeout seconds in all."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    connection: _Connection | None = None
    kept, kept_tls, note = b"", None, None
    try:
        for step in plan_for(port):
            if deadline - loop.time() <= 0.02:
                break
            if connection is None or step.new_connection:
                if connection is not None:
                    connection.abort()
                    connection = None
                try:
                    reader, writer = await asyncio.wait_for(
                        asyncio.open_connection(address, port, limit=2 * CAP),
                        deadline - loop.time())
                except asyncio.TimeoutError:
                    note = "connect timed out"
                    break
                except OSError as exc:
                    note = f"connect failed: {printable(exc.strerror or str(exc), 80).lower()}"
                    break
                connection = _Connection(reader, writer)
            tls: TlsFacts | None = None
            if step.tls:
                tls = await _start_tls(connection, step, name, deadline)
                if not tls.ok:
                    kept_tls = kept_tls or tls
                    connection.abort()
                    connection = None
                    continue
            reply = await _exchange(connection, step, address, name,
                                    loop.time() + step.wait * (deadline - loop.time()))
            if reply or tls is not None:
                kept, kept_tls = reply, tls or kept_tls
            if (tls is not None and tls.ok) or (reply and not looks_like_tls(reply)):
                return Grab(kept, kept_tls, identify(kept, kept_tls), None)
        if not kept and note is None:
            note = f"no reply in {timeout:g} s"
        return Grab(kept, kept_tls, identify(kept, kept_tls) if kept else None, note)
    finally:
        if connection is not None:
            connection.abort()


async def _start_tls(connection: _Connection, step: Step, name: str | None,
                     deadline: float) -> TlsFacts:
    loop = asyncio.get_running_loop()
    sni = name if name and not name.replace(".", "").isdigit() and ":" not in name else None
    try:
        await asyncio.wait_for(
            connection.writer.start_tls(_CONTEXTS[step.request == "http"], server_hostname=sni),
            deadline - loop.time())
    except asyncio.TimeoutError:
        return TlsFacts(error="handshake timed out")
    except (OSError, ssl.SSLError, EOFError, ConnectionError) as exc:
        return TlsFacts(error=f"handshake failed: {_why(exc)}")
    connection.tls = True
    return tls_facts(connection.writer)


async def _exchange(connection: _Connection, step: Step, address: str, name: str | None,
                    until: float) -> bytes:
    request = (http_request(host_header(address, name)) if step.request == "http"
               else step.raw if step.request == "raw" else b"")
    if request:
        try:
            connection.writer.write(request)
            await asyncio.wait_for(connection.writer.drain(), max(until - asyncio.get_running_loop().time(), 0.01))
        except (asyncio.TimeoutError, OSError, ssl.SSLError, ConnectionError):
            return b""
    return await read_reply(connection.reader, until)

"""Hostile TCP servers for --banners tests, run on loopback or inside a lab namespace.

  python3 hostile_servers.py --addr A [--addr A6] --trickle P --flood P --ansi P --garbage P
                         --silent P --tls P:CERT:KEY --tls-alert P
                                        prints "ready" once every port is bound.

  trickle    one byte a second of an SMTP-like greeting, for at most a minute
  flood      64 KiB writes until the client goes away (at most 1 GiB a connection)
  ansi       an SSH greeting full of terminal escape sequences, then silence
  garbage    512 bytes of binary noise, then silence
  silent     accepts and never speaks (holds the connection a minute)
  tls        TLS with the certificate given (expired, self-signed, thousands of SANs: the
             test makes it), then an HTTP reply with a hostile Server header
  tls-alert  answers anything with a TLS handshake-failure alert and closes

Standard library only; every connection has its own thread and ends within a minute.
"""

from __future__ import annotations

import argparse
import random
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable

LIFETIME = 60.0  # seconds any connection is kept
ANSI_GREETING = (b"SSH-2.0-OpenSSH_9.2p1 \x1b[2J\x1b]0;pwned\x07\x1b[31mred\x1b[0m "
                 b"\xe2\x80\xaeevil\x00\r\n")
TLS_HTTP_REPLY = (b"HTTP/1.1 200 OK\r\nServer: hostile/6.6 \x1b[5mblink\r\n"
                  b"Content-Length: 2\r\nConnection: close\r\n\r\nok")
ALERT = b"\x15\x03\x03\x00\x02\x02\x28"  # fatal handshake_failure


def _hold(conn: socket.socket) -> None:
    """Keep the connection open, reading and ignoring, until LIFETIME or the peer leaves."""
    conn.settimeout(1.0)
    end = time.monotonic() + LIFETIME
    while time.monotonic() < end:
        try:
            if not conn.recv(4096):
                return
        except socket.timeout:
            continue
        except OSError:
            return


def trickle(conn: socket.socket) -> None:
    for byte in b"220 trickle.lab.test ESMTP slowly\r\n" * 2:
        conn.sendall(bytes([byte]))
        time.sleep(1.0)


def flood(conn: socket.socket) -> None:
    chunk = b"A" * 65536
    for _ in range(16384):  # 1 GiB at most
        conn.sendall(chunk)


def ansi(conn: socket.socket) -> None:
    conn.sendall(ANSI_GREETING)
    _hold(conn)


def garbage(conn: socket.socket) -> None:
    conn.sendall(random.Random(16).randbytes(512))
    _hold(conn)


def tls_alert(conn: socket.socket) -> None:
    conn.settimeout(5.0)
    conn.recv(4096)
    conn.sendall(ALERT)


def tls_server(context: ssl.SSLContext) -> Callable[[socket.socket], None]:
    def serve(conn: socket.socket) -> None:
        conn.settimeout(10.0)
        with context.wrap_socket(conn, server_side=True) as tls:
            request = b""
            while b"\r\n\r\n" not in request and len(request) < 8192:
                data = tls.recv(4096)
                if not data:
                    return
                request += data
            tls.sendall(TLS_HTTP_REPLY)
    return serve


def _connection(handler: Callable[[socket.socket], None], conn: socket.socket) -> None:
    try:
        handler(conn)
    except (OSError, ssl.SSLError):
        pass  # the client went away (as a scanner does): nothing to report
    finally:
        conn.close()


def _listen(addr: str, port: int, handler: Callable[[socket.socket], None]) -> None:
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    server = socket.socket(family, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    try:
        server.bind((addr, port))
    except OSError as exc:
        sys.exit(f"hostile_servers: cannot bind {addr} port {port}: {exc.strerror}")
    server.listen(64)

    def accept_loop() -> None:
        while True:
            conn, _ = server.accept()
            threading.Thread(target=_connection, args=(handler, conn), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--addr", action="append", required=True)
    for name in ("trickle", "flood", "ansi", "garbage", "silent", "tls-alert"):
        parser.add_argument(f"--{name}", type=int, action="append", default=[])
    parser.add_argument("--tls", action="append", default=[], metavar="PORT:CERT:KEY")
    args = parser.parse_args()
    handlers: list[tuple[int, Callable[[socket.socket], None]]] = []
    simple = {"trickle": trickle, "flood": flood, "ansi": ansi, "garbage": garbage,
              "silent": _hold, "tls_alert": tls_alert}
    for name, handler in simple.items():
        handlers += [(port, handler) for port in getattr(args, name)]
    for spec in args.tls:
        port, cert, key = spec.split(":", 2)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        handlers.append((int(port), tls_server(context)))
    for addr in args.addr:
        for port, handler in handlers:
            _listen(addr, port, handler)
    print("ready", flush=True)
    threading.Event().wait()  # until killed


if __name__ == "__main__":
    main()

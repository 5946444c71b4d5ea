"""--banners grabs on loopback: real replies identified, TLS facts equal to the certificate
the test made, and hostile servers (tests/support/hostile_servers.py) cut at the byte and time bounds."""

from __future__ import annotations

import asyncio
import http.server
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rawscan.banners import BannerSettings
from rawscan.banners.grab import CAP, Grab, grab
from rawscan.banners.phase import SLACK, BannerPhase
from rawscan.banners.x509 import parse_certificate
from rawscan.results import PortResult

from tests.support.lab_daemons import Certificate, Daemons, free_port, make_certificate

LOOPBACK = "127.0.0.1"
TIMEOUT = 1.5  # the banner timeout these tests give: every grab must end within it
LATE = 0.5  # what a grab may overrun it by on a busy 2-core machine

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def timed_grab(port: int, name: str | None = None, timeout: float = TIMEOUT) -> tuple[Grab, float]:
    start = time.monotonic()
    found = asyncio.run(grab(LOOPBACK, port, name, timeout))
    elapsed = time.monotonic() - start
    assert elapsed <= timeout + LATE, f"grab took {elapsed:.2f} s"
    return found, elapsed


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Certificate]:
    base = tmp_path_factory.mktemp("certs")
    return {
        "good": make_certificate(base / "good", "lab.test", ["DNS:lab.test", "IP:127.0.0.1"]),
        "expired": make_certificate(base / "expired", "expired.lab.test", expired=True),
        "many": make_certificate(base / "many", "many.lab.test",
                                 [f"DNS:{'x' * 50}{i}.lab.test" for i in range(300)]),
    }


@pytest.fixture(scope="module")
def hostile(certs: dict[str, Certificate], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    names = ["trickle", "flood", "ansi", "garbage", "silent", "tls_alert", "tls", "expired", "many"]
    ports = {name: free_port() for name in names}
    tls = [f"{ports[k]}:{certs[c].cert}:{certs[c].key}"
           for k, c in (("tls", "good"), ("expired", "expired"), ("many", "many"))]
    with Daemons(None, tmp_path_factory.mktemp("hostile")) as daemons:
        daemons.hostile([LOOPBACK], tls=tls, **{k: [ports[k]] for k in names[:6]})
        yield ports


@pytest.fixture(scope="module")
def web() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer((LOOPBACK, 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_client_first_http_found_by_fallback(web: int) -> None:
    found, _ = timed_grab(web)
    assert found.identity is not None
    assert (found.identity.service, found.identity.product) == ("http", "SimpleHTTPServer")
    assert found.identity.version == http.server.__version__
    assert found.identity.extrainfo == f"Python {sys.version.split()[0]}"
    assert found.banner is not None and found.banner.startswith("HTTP/1.0 ")
    assert found.tls is None


def test_server_first_greeting_with_terminal_sequences(hostile: dict[str, int]) -> None:
    found, elapsed = timed_grab(hostile["ansi"])
    assert found.identity is not None
    assert (found.identity.service, found.identity.product, found.identity.version) == (
        "ssh", "OpenSSH", "9.2p1")
    for text in (found.banner or "", found.identity.extrainfo or ""):
        assert "\x1b" not in text and "\x07" not in text and "\x00" not in text
        assert "\u202e" not in text
    assert "\\x1b[2J" in (found.banner or "")
    assert elapsed < 1.0  # read at once, then 0.5 s of quiet ends it


def test_trickle_is_cut_by_the_quiet_bound(hostile: dict[str, int]) -> None:
    found, _ = timed_grab(hostile["trickle"])
    assert 1 <= len(found.reply) <= 5  # a byte a second: the first, then a gap ends it


def test_flood_is_cut_at_the_byte_bound(hostile: dict[str, int]) -> None:
    found, elapsed = timed_grab(hostile["flood"])
    assert len(found.reply) == CAP
    assert elapsed < TIMEOUT


def test_silent_server_costs_the_timeout_and_no_more(hostile: dict[str, int]) -> None:
    found, elapsed = timed_grab(hostile["silent"])
    assert found.reply == b"" and found.identity is None
    assert found.note == f"no reply in {TIMEOUT:g} s"
    assert elapsed >= TIMEOUT * 0.9


def test_binary_garbage_is_kept_escaped(hostile: dict[str, int]) -> None:
    found, _ = timed_grab(hostile["garbage"])
    assert len(found.reply) == 512 and found.banner is not None
    assert found.banner.isprintable()


def test_tls_facts_are_the_certificate_the_test_made(hostile: dict[str, int],
                                                     certs: dict[str, Certificate]) -> None:
    found, _ = timed_grab(hostile["tls"])
    made = parse_certificate(certs["good"].der)
    tls = found.tls
    assert tls is not None and tls.ok, tls
    assert tls.version in ("TLSv1.2", "TLSv1.3") and tls.cipher
    assert (tls.subject_cn, tls.sans, tls.not_before, tls.not_after, tls.sha256) == (
        "lab.test", ("DNS:lab.test", "IP:127.0.0.1"), made.not_before, made.not_after,
        made.sha256)
    assert found.identity is not None
    assert (found.identity.service, found.identity.product, found.identity.version) == (
        "https", "hostile", "6.6")
    assert "\x1b" not in (found.identity.extrainfo or "") + (found.banner or "")


def test_expired_and_absurd_san_certificates(hostile: dict[str, int]) -> None:
    expired, _ = timed_grab(hostile["expired"])
    assert expired.tls is not None and expired.tls.ok
    assert expired.tls.not_after == "2021-01-01T00:00:00Z"
    assert expired.tls.subject == expired.tls.issuer == "CN=expired.lab.test"
    many, _ = timed_grab(hostile["many"])
    assert many.tls is not None and many.tls.san_count == 300 and len(many.tls.sans) == 64


def test_failed_handshake_is_reported(hostile: dict[str, int]) -> None:
    found, _ = timed_grab(hostile["tls_alert"])
    assert found.tls is not None and not found.tls.ok
    assert found.tls.error is not None and found.tls.error.startswith("handshake failed")
    assert found.identity is None


def test_refused_port_says_so() -> None:
    found, _ = timed_grab(free_port())
    assert found.note is not None and found.note.startswith("connect failed")


def _open(port: int) -> PortResult:
    return PortResult(LOOPBACK, "tcp", port, "open", "syn-ack", 64, "unknown")


def test_phase_reports_every_port_within_its_bound(hostile: dict[str, int], web: int) -> None:
    phase = BannerPhase(BannerSettings(timeout=TIMEOUT, concurrency=8))
    ports = [web, hostile["ansi"], hostile["silent"], hostile["flood"], hostile["tls"]]
    for port in ports:
        phase.submit(_open(port))
    submitted = time.monotonic()
    emitted: list[PortResult] = []
    phase.finish(emitted.append)
    assert time.monotonic() - submitted <= TIMEOUT + 2 * SLACK + LATE
    by_port = {r.port: r for r in emitted}
    assert sorted(by_port) == sorted(ports)
    assert (by_port[web].service, by_port[web].product) == ("http", "SimpleHTTPServer")
    assert by_port[web].probed and by_port[web].conf == 10
    assert by_port[hostile["ansi"]].version == "9.2p1"
    assert by_port[hostile["tls"]].service == "https" and by_port[hostile["tls"]].tls is not None
    assert not by_port[hostile["silent"]].probed and by_port[hostile["silent"]].service == "unknown"
    assert phase.stats.submitted == 5 and phase.stats.identified == 3


def test_phase_bound_cuts_queued_ports_and_still_reports_them(hostile: dict[str, int]) -> None:
    timeout = 0.6
    phase = BannerPhase(BannerSettings(timeout=timeout, concurrency=1))
    for _ in range(4):  # one at a time, each silent for the whole timeout: only one can finish
        phase.submit(_open(hostile["silent"]))
    submitted = time.monotonic()
    emitted: list[PortResult] = []
    phase.finish(emitted.append)
    assert time.monotonic() - submitted <= timeout + 2 * SLACK + LATE
    assert len(emitted) == 4
    assert phase.stats.cut_by_bound >= 3
    assert sum(1 for r in emitted if r.banner_note and "bound" in r.banner_note) >= 3


def test_phase_stops_at_once_when_interrupted(hostile: dict[str, int]) -> None:
    phase = BannerPhase(BannerSettings(timeout=5.0, concurrency=4))
    phase.submit(_open(hostile["silent"]))
    start = time.monotonic()
    emitted: list[PortResult] = []
    phase.finish(emitted.append, wait=False)
    assert time.monotonic() - start <= SLACK + LATE
    assert [r.port for r in emitted] == [hostile["silent"]]


def test_connection_slots_stay_under_the_file_limit() -> None:
    import resource

    from rawscan.banners.phase import connection_slots

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert connection_slots(4) == 4
    if soft != resource.RLIM_INFINITY:
        assert connection_slots(10**9) == max(1, soft - 128)


def test_ipv6_loopback(tmp_path: Path) -> None:
    import socket

    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    port = free_port()
    with Daemons(None, tmp_path) as daemons:
        try:
            daemons.hostile(["::1"], ansi=[port])
        except RuntimeError as exc:
            pytest.skip(f"no ::1 here: {exc}")
        found = asyncio.run(grab("::1", port, None, TIMEOUT))
    assert found.identity is not None and found.identity.product == "OpenSSH"

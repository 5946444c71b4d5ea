"""--banners identification: every rule of rawscan/banners/rules.py on recorded banners, the
hello chosen per port, and hostile text made safe (rawscan/banners/text.py)."""

from __future__ import annotations

import struct
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawscan.banners.facts import TlsFacts
from rawscan.banners.hellos import host_header, http_request, plan_for
from rawscan.banners.rules import (BANNER_RULES, SERVER_RULES, http_server, identify,
                                   looks_like_tls)
from rawscan.banners.text import printable


def mysql_greeting(version: bytes) -> bytes:
    body = b"\x0a" + version + b"\x00" + struct.pack("<I", 7) + b"abcdefgh\x00" + b"\xff\xf7"
    return struct.pack("<I", len(body))[:3] + b"\x00" + body


HTTP_DATE = b"Date: Tue, 01 Dec 2026 10:00:00 GMT\r\n"

# (reply, service, product, version, extrainfo): replies as daemons send them
RECORDED = [
    (b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", "ssh", "OpenSSH", "9.2p1", "Debian-2+deb12u3"),
    (b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6\r\n", "ssh", "OpenSSH", "8.9p1", "Ubuntu-3ubuntu0.6"),
    (b"SSH-2.0-OpenSSH_7.4\r\n", "ssh", "OpenSSH", "7.4", None),
    (b"SSH-2.0-dropbear_2022.83\r\n", "ssh", "Dropbear sshd", "2022.83", None),
    (b"SSH-2.0-libssh_0.10.4\r\n", "ssh", "libssh", "0.10.4", None),
    (b"220 (vsFTPd 3.0.3)\r\n", "ftp", "vsftpd", "3.0.3", None),
    (b"220 ProFTPD 1.3.8 Server (Debian) [::ffff:198.18.0.2]\r\n", "ftp", "ProFTPD", "1.3.8", None),
    (b"220---------- Welcome to Pure-FTPd [privsep] [TLS] ----------\r\n", "ftp", "Pure-FTPd", None, None),
    (b"220 mail.lab.test ESMTP Postfix (Debian/GNU)\r\n", "smtp", "Postfix smtpd", None, "mail.lab.test"),
    (b"220 mx.lab.test ESMTP Exim 4.96 Tue, 01 Dec 2026 10:00:00 +0000\r\n", "smtp", "Exim smtpd", "4.96", "mx.lab.test"),
    (b"220 smtp.lab.test Microsoft ESMTP MAIL Service ready\r\n", "smtp", None, None, None),
    (b"220 Microsoft FTP Service\r\n", "ftp", None, None, None),
    (b"+OK Dovecot (Debian) ready.\r\n", "pop3", "Dovecot pop3d", None, None),
    (b"+OK POP3 server ready <1896.697170952@lab.test>\r\n", "pop3", None, None, None),
    (b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS "
     b"AUTH=PLAIN] Dovecot (Debian) ready.\r\n", "imap", "Dovecot imapd", None, None),
    (b"* OK IMAP4rev1 Service Ready\r\n", "imap", None, None, None),
    (mysql_greeting(b"5.5.5-10.11.6-MariaDB-0+deb12u1"), "mysql", "MariaDB", "10.11.6", "0+deb12u1"),
    (mysql_greeting(b"11.4.2-MariaDB"), "mysql", "MariaDB", "11.4.2", None),
    (mysql_greeting(b"8.0.35-0ubuntu0.22.04.1"), "mysql", "MySQL", "8.0.35", "0ubuntu0.22.04.1"),
    (b"E\x00\x00\x00\xffj\x04Host '198.18.0.1' is not allowed to connect to this MySQL server",
     "mysql", "MySQL", None, "unauthorized"),
    (b"RFB 003.008\n", "vnc", "VNC", None, "protocol 003.008"),
    (b"\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23\xff\xfd\x27", "telnet", None, None, None),
    (b"+PONG\r\n", "redis", "Redis key-value store", None, None),
    (b"-NOAUTH Authentication required.\r\n", "redis", "Redis key-value store", None, "authentication required"),
    (b"VERSION 1.6.18\r\n", "memcached", "memcached", "1.6.18", None),
    (b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n", "rtsp", None, None, None),
    (b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n" + HTTP_DATE + b"\r\n<html>", "http", "nginx", "1.22.1", None),
    (b"HTTP/1.1 301 Moved\r\nServer: nginx\r\n\r\n", "http", "nginx", None, None),
    (b"HTTP/1.1 403 Forbidden\r\n" + HTTP_DATE + b"Server: Apache/2.4.57 (Debian)\r\n\r\n",
     "http", "Apache httpd", "2.4.57", "Debian"),
    (b"HTTP/1.1 200 OK\r\nserver: lighttpd/1.4.69\r\n\r\n", "http", "lighttpd", "1.4.69", None),
    (b"HTTP/1.1 200 OK\r\nServer: Microsoft-IIS/10.0\r\n\r\n", "http", "Microsoft IIS httpd", "10.0", None),
    (b"HTTP/1.1 200 OK\r\nServer: Caddy\r\n\r\n", "http", "Caddy httpd", None, None),
    (b"HTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6 Python/3.11.2\r\n\r\n", "http", "SimpleHTTPServer", "0.6", "Python 3.11.2"),
    (b"HTTP/1.0 501 Unsupported\r\nServer: BaseHTTP/0.6 Python/3.11.2\r\n\r\n", "http", "BaseHTTPServer", "0.6", "Python 3.11.2"),
    (b"HTTP/1.1 404 Not Found\r\nServer: gunicorn/21.2.0\r\n\r\n", "http", "gunicorn", "21.2.0", None),
    (b"HTTP/1.1 200 OK\r\nServer: Werkzeug/2.2.2 Python/3.11.2\r\n\r\n", "http", "Werkzeug", "2.2.2", "Python/3.11.2"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "http", None, None, None),
    # a Server line in the body is not a header
    (b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nServer: evil/6.6\r\n", "http", None, None, None),
]


@pytest.mark.parametrize("reply,service,product,version,extrainfo", RECORDED)
def test_recorded_banner_is_identified(reply: bytes, service: str, product: str | None,
                                       version: str | None, extrainfo: str | None) -> None:
    found = identify(reply)
    assert found is not None
    assert (found.service, found.product, found.version, found.extrainfo) == (
        service, product, version, extrainfo)
    assert found.conf == 10 and not found.tunnel


def _first_rule(reply: bytes) -> tuple[str, int] | None:
    server = http_server(reply)
    rules, subject, table = ((SERVER_RULES, server, "server") if server
                             else (BANNER_RULES, reply, "banner"))
    for i, rule in enumerate(rules):
        if rule.pattern.match(subject or b""):
            return table, i
    return None


def test_every_rule_is_the_first_match_of_a_recorded_banner() -> None:
    used = {_first_rule(reply) for reply, *_ in RECORDED}
    every = {("banner", i) for i in range(len(BANNER_RULES))} | {
        ("server", i) for i in range(len(SERVER_RULES))}
    assert every - used == set(), "rules without a recorded banner"


@pytest.mark.parametrize("reply", [b"", b"hello\r\n", b"\x00\x01\x02garbage", b"SSH-", b"HTTP/9"])
def test_unknown_replies_name_nothing(reply: bytes) -> None:
    assert identify(reply) is None


TLS = TlsFacts(version="TLSv1.3", cipher="TLS_AES_256_GCM_SHA384")


def test_tls_makes_https_ssl_name_or_plain_ssl() -> None:
    web = identify(b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n\r\n", TLS)
    assert web is not None and (web.service, web.product, web.version, web.tunnel) == (
        "https", "nginx", "1.22.1", True)
    imap = identify(b"* OK Dovecot ready.\r\n", TLS)
    assert imap is not None and (imap.service, imap.product) == ("ssl/imap", "Dovecot imapd")
    bare = identify(b"", TLS)
    assert bare is not None and (bare.service, bare.conf, bare.tunnel) == ("ssl", 8, True)
    failed = TlsFacts(error="handshake failed: wrong version number")
    assert identify(b"SSH-2.0-OpenSSH_9.2p1\r\n", failed).service == "ssh"  # type: ignore[union-attr]
    assert identify(b"", failed) is None


def test_tls_shaped_replies() -> None:
    nginx_400 = (b"HTTP/1.1 400 Bad Request\r\nServer: nginx/1.22.1\r\n\r\n<html><center>The plain "
                 b"HTTP request was sent to HTTPS port</center>")
    assert looks_like_tls(nginx_400)
    assert looks_like_tls(b"\x15\x03\x01\x00\x02\x02\x46")  # an alert record
    assert not looks_like_tls(b"HTTP/1.1 200 OK\r\nServer: nginx\r\n\r\n")
    assert not looks_like_tls(b"SSH-2.0-OpenSSH_9.2p1\r\n")


def test_hostile_fields_are_escaped() -> None:
    reply = b"SSH-2.0-OpenSSH_9.2p1 \x1b[31mred\x1b]0;owned\x07 \xe2\x80\xae\xff\r\n"
    found = identify(reply)
    assert found is not None and found.extrainfo is not None
    assert "\x1b" not in found.extrainfo and "\x07" not in found.extrainfo
    assert "\u202e" not in found.extrainfo  # a bidi override would reorder what a terminal shows
    assert found.extrainfo == "\\x1b[31mred\\x1b]0;owned\\x07 \\u202e\\xff"
    long = identify(b"HTTP/1.1 200 OK\r\nServer: " + b"A" * 3000 + b"\r\n\r\n")
    assert long is not None and long.product is not None and len(long.product) <= 80


def test_printable_examples() -> None:
    assert printable(b"SSH-2.0-x\r\n") == "SSH-2.0-x\\r\\n"
    assert printable(b"caf\xc3\xa9 \\ \t") == "caf\u00e9 \\\\ \\t"
    assert printable(b"\x00\x7f\xc2\x85") == "\\x00\\x7f\\x85"  # NUL, DEL, C1 NEL
    assert printable("x" * 10, limit=3) == "xxx"


_XML_FORBIDDEN = set(range(0x20)) - {0x9, 0xA, 0xD} | set(range(0xD800, 0xE000)) | {0xFFFE, 0xFFFF}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_printable_leaves_no_control_character(data: bytes) -> None:
    text = printable(data)
    for ch in text:
        assert unicodedata.category(ch)[0] != "C", repr(ch)
        assert unicodedata.category(ch) not in ("Zl", "Zp")
        assert ord(ch) not in _XML_FORBIDDEN
    assert printable(data) == text  # a pure function


def test_hello_by_port_then_fallback() -> None:
    assert [s.request for s in plan_for(22)] == [""]  # server talks first: read only
    assert [(s.tls, s.request) for s in plan_for(443)] == [(True, "http")]
    assert [(s.tls, s.request) for s in plan_for(993)] == [(True, "")]
    assert plan_for(6379)[0].raw == b"PING\r\n"
    assert plan_for(11211)[0].raw == b"version\r\n"
    assert [(s.tls, s.request) for s in plan_for(80)] == [(False, "http"), (True, "http")]
    fallback = plan_for(31337)
    assert [(s.tls, s.request, s.new_connection) for s in fallback] == [
        (False, "", False), (False, "http", False), (True, "http", True)]
    assert fallback[0].wait < 1.0


def test_http_request_names_the_host() -> None:
    assert http_request(host_header("198.18.0.2", None)).startswith(
        b"GET / HTTP/1.1\r\nHost: 198.18.0.2\r\n")
    assert b"Host: [2001:2::2]\r\n" in http_request(host_header("2001:2::2", None))
    assert b"Host: target.lab\r\n" in http_request(host_header("198.18.0.2", "target.lab"))
    assert b"Host: 198.18.0.2\r\n" in http_request(host_header("198.18.0.2", "a\r\nX: y"))


def test_udp_replies_name_their_service() -> None:
    from scapy.all import DNS, DNSQR, SNMP, ASN1_OID, ASN1_STRING, NTPHeader, SNMPresponse, SNMPvarbind

    from rawscan.banners.udp import identify_udp

    descr = b"Linux lab 6.1.0-28-amd64 #1 SMP \x1b[2J"
    snmp = bytes(SNMP(version="v2c", community="public", PDU=SNMPresponse(id=5, varbindlist=[
        SNMPvarbind(oid=ASN1_OID("1.3.6.1.2.1.1.1.0"), value=ASN1_STRING(descr))])))
    found = identify_udp(161, snmp)
    assert found is not None and (found.service, found.version) == ("snmp", "v2c")
    assert found.extrainfo == "Linux lab 6.1.0-28-amd64 #1 SMP \\x1b[2J"
    ntp = identify_udp(123, bytes(NTPHeader(version=4, mode=4, stratum=2)))
    assert ntp is not None and (ntp.service, ntp.version, ntp.extrainfo) == ("ntp", "v4", "stratum 2")
    assert identify_udp(123, bytes(NTPHeader(version=4, mode=3))) is None  # a client's request
    dns = identify_udp(53, bytes(DNS(id=1, qr=1, rcode=3, qd=DNSQR(qname="x.lab"))))
    assert dns is not None and (dns.service, dns.extrainfo) == ("domain", "rcode 3")
    ssdp = identify_udp(1900, b"HTTP/1.1 200 OK\r\nSERVER: Linux/5.10 UPnP/1.0 MiniUPnPd/2.3\r\n\r\n")
    assert ssdp is not None and (ssdp.service, ssdp.product) == ("upnp", "Linux/5.10 UPnP/1.0 MiniUPnPd/2.3")
    mc = identify_udp(11211, b"\x00\x01\x00\x00\x00\x01\x00\x00VERSION 1.6.18\r\n")
    assert mc is not None and (mc.service, mc.version) == ("memcached", "1.6.18")
    assert identify_udp(9999, b"rawscan-lab:xyz") is None

"""--banners in every output: nmap XML (<service method="probed">, <script id="banner">,
ssl-cert) valid against nmap.dtd and read by libnmap; JSON Lines and CSV fields; grepable's
version slot; the table's VERSION column; hostile text safe in each."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

from rich.console import Console

from rawscan.banners.facts import TlsFacts
from rawscan.banners.grab import Grab
from rawscan.banners.phase import enriched
from rawscan.banners.rules import identify
from rawscan.output import RunInfo, RunSummary
from rawscan.output.csvfile import CsvWriter
from rawscan.output.grepable import GrepableWriter
from rawscan.output.jsonl import JsonLinesWriter
from rawscan.output.nmapxml import NmapXmlWriter
from rawscan.output.table import render
from rawscan.results import BANNER_FIELDS, RECORD_FIELDS, PortResult

from tests.support.xml_checks import assert_valid_against_dtd, libnmap_report

IP = "198.18.0.2"
HOSTILE_SSH = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3 \x1b[2J\x1b]0;x\x07/,\t\x00\xff\r\n"
TLS = TlsFacts(version="TLSv1.3", cipher="TLS_AES_256_GCM_SHA384", alpn="http/1.1",
               subject="CN=lab.test", subject_cn="lab.test", issuer="CN=lab.test",
               not_before="2026-12-01T00:00:00Z", not_after="2026-12-04T00:00:00Z",
               sans=("DNS:lab.test", "IP:198.18.0.2"), san_count=2, sha256="ab" * 32)
NGINX = b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n\r\nlab\n"


def port(n: int, service: str = "unknown", state: str = "open") -> PortResult:
    return PortResult(IP, "tcp", n, state, "syn-ack" if state == "open" else "reset", 64, service)


def grabbed(n: int, reply: bytes, tls: TlsFacts | None = None, service: str = "unknown") -> PortResult:
    return enriched(port(n, service), Grab(reply, tls, identify(reply, tls)))


RESULTS = [
    grabbed(22, HOSTILE_SSH, service="ssh"),
    grabbed(80, NGINX, service="http"),
    grabbed(443, NGINX, TLS, service="https"),
    grabbed(8443, b"", TlsFacts(error="handshake failed: sslv3 alert handshake failure")),
    enriched(port(9999), Grab(note="no reply in 3 s")),
    port(23, "telnet", "closed"),
]
INFO = RunInfo(scan="syn", proto="tcp", ports=(22, 23, 80, 443, 8443, 9999), total_hosts=1,
               argv=("syn", IP, "--banners"), started=1_700_000_000.0, banners=True)


def write(writer_class: type, path: Path) -> str:
    writer = writer_class(str(path), INFO)
    for r in RESULTS:
        writer.write(r)
    writer.close(RunSummary(elapsed=1.0))
    return path.read_text()


def test_identity_fields() -> None:
    ssh, web, tls = RESULTS[:3]
    assert (ssh.service, ssh.product, ssh.version, ssh.probed) == ("ssh", "OpenSSH", "9.2p1", True)
    assert (web.service, web.product, web.version) == ("http", "nginx", "1.22.1")
    assert (tls.service, tls.product, tls.version, tls.tls) == ("https", "nginx", "1.22.1", TLS)
    assert RESULTS[3].tls is not None and not RESULTS[3].probed  # failed TLS: still open
    assert RESULTS[4].banner is None and RESULTS[4].banner_note == "no reply in 3 s"


def test_xml_is_valid_and_libnmap_reads_versions(tmp_path: Path) -> None:
    path = tmp_path / "scan.xml"
    write(NmapXmlWriter, path)
    assert_valid_against_dtd(path)
    root = ET.parse(path).getroot()
    services = {int(p.get("portid")): p.find("service") for p in root.iter("port")}  # type: ignore[arg-type]
    assert services[22].attrib["method"] == "probed" and services[22].attrib["conf"] == "10"
    assert services[443].attrib == {"name": "http", "product": "nginx", "version": "1.22.1",
                                    "tunnel": "ssl", "method": "probed", "conf": "10"}
    scripts = {(int(p.get("portid")), s.get("id")): s for p in root.iter("port")  # type: ignore[arg-type]
               for s in p.iter("script")}
    assert scripts[(22, "banner")].get("output", "").startswith("SSH-2.0-OpenSSH_9.2p1")
    assert "\x1b" not in scripts[(22, "banner")].get("output", "")
    cert = scripts[(443, "ssl-cert")]
    assert {e.get("key"): e.text for e in cert.iter("elem")}["sha256"] == "ab" * 32
    assert "handshake failed" in scripts[(8443, "ssl-cert")].get("output", "")
    report = libnmap_report(path)
    found = {s.port: (s.service, s.banner_dict.get("product"), s.banner_dict.get("version"))
             for s in report.hosts[0].services}
    assert found[22] == ("ssh", "OpenSSH", "9.2p1")
    assert found[443] == ("http", "nginx", "1.22.1")


def test_json_lines_carry_the_banner_fields(tmp_path: Path) -> None:
    lines = write(JsonLinesWriter, tmp_path / "scan.jsonl").splitlines()
    records = {r["port"]: r for r in map(json.loads, lines)}
    assert records[22]["product"] == "OpenSSH" and records[22]["version"] == "9.2p1"
    assert records[22]["banner"].startswith("SSH-2.0-") and "\x1b" not in records[22]["banner"]
    assert records[443]["tls"]["sans"] == ["DNS:lab.test", "IP:198.18.0.2"]
    assert records[443]["service"] == "https"
    assert records[8443]["tls"] == {"error": "handshake failed: sslv3 alert handshake failure"}
    assert records[9999]["banner_note"] == "no reply in 3 s"
    assert "product" not in records[23]
    assert all(line.isascii() for line in lines)  # everything else \u-escaped by json


def test_csv_has_the_banner_columns(tmp_path: Path) -> None:
    text = write(CsvWriter, tmp_path / "scan.csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == RECORD_FIELDS + BANNER_FIELDS
    by_port = {int(r["port"]): r for r in rows}
    assert by_port[80]["product"] == "nginx" and by_port[80]["version"] == "1.22.1"
    assert json.loads(by_port[443]["tls"])["subject_cn"] == "lab.test"
    assert by_port[23]["banner"] == ""


def test_grepable_version_slot(tmp_path: Path) -> None:
    text = write(GrepableWriter, tmp_path / "scan.gnmap")
    ports = next(line for line in text.splitlines() if "Ports:" in line).split("Ports: ")[1]
    entries = ports.split("\t")[0].split(", ")
    ssh = next(e for e in entries if e.startswith("22/"))
    fields = ssh.split("/")
    assert len(fields) == 8 and fields[4] == "ssh" and fields[6].startswith("OpenSSH 9.2p1 (Debian-2+deb12u3")
    assert "80/open/tcp//http//nginx 1.22.1/" in entries
    assert "\x1b" not in text and "\x07" not in text


def test_table_has_a_version_column() -> None:
    out = io.StringIO()
    render(Console(file=out, force_terminal=False, width=200), RESULTS, {})
    text = out.getvalue()
    header = next(line for line in text.splitlines() if line.startswith("PORT"))
    assert header.split() == ["PORT", "STATE", "REASON", "SERVICE", "CLASS", "VERSION"]
    row = next(line for line in text.splitlines() if line.startswith("443/tcp"))
    assert row.split()[5] == "https"  # PORT STATE syn-ack ttl 64 SERVICE and row.endswith("nginx 1.22.1")
    assert "\x1b" not in text


def test_no_banners_no_new_fields(tmp_path: Path) -> None:
    plain = dataclasses.replace(RESULTS[5])
    assert set(plain.as_dict()) == set(RECORD_FIELDS) - {"host"}

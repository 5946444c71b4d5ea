"""Live lab: `rawscan syn --banners` against real daemons in the target namespace (OpenSSH's
sshd with a throwaway host key, nginx over HTTP and over TLS with a certificate the test
makes) and tests/support/hostile_servers.py's servers: every open port's service, product and version is
what the daemon says it is, TLS facts are the certificate's, the XML validates and libnmap
reads versions, and hostile servers cost no more than the banner timeout."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from rawscan.banners.x509 import parse_certificate

from tests.support.lab import Lab, LabSpec, lab_unavailable_reason
from tests.support.lab_daemons import Daemons, make_certificate, missing_daemons, nginx_version, sshd_version
from tests.support.rawscan_cli import rawscan_command
from tests.support.xml_checks import assert_valid_against_dtd, libnmap_report

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(lab_unavailable_reason() is not None, reason=str(lab_unavailable_reason())),
    pytest.mark.skipif(missing_daemons() is not None, reason=str(missing_daemons())),
]

BANNER_TIMEOUT = 2.0
SSH, SSH_ODD, HTTP, HTTPS, HTTPS_ODD = 22, 2022, 80, 443, 7443  # ODD: found by fallback
HOSTILE = {"trickle": 2525, "flood": 3999, "ansi": 4022, "garbage": 4444, "silent": 5555,
           "tls_alert": 6443}
EXPIRED, MANY_SANS = 7444, 7445
CLOSED = 23


def scan(lab: Lab, ports: str, *extra: str) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    proc = lab.exec_scanner([rawscan_command(), "syn", lab.target_ip, "-p", ports, "-q", *extra],
                            timeout=120)
    return proc, time.monotonic() - start


def test_banners_identify_real_daemons_and_survive_hostile_ones(tmp_path: Path) -> None:
    ssh_version, ssh_release = sshd_version()
    web_version = nginx_version()
    with Lab(LabSpec(ipv6=False)) as lab, Daemons(lab.target_ns, tmp_path) as daemons:
        ip = lab.target_ip
        good = make_certificate(tmp_path / "good", "target.lab", ["DNS:target.lab", f"IP:{ip}"])
        expired = make_certificate(tmp_path / "expired", "expired.lab", expired=True)
        many = make_certificate(tmp_path / "many", "many.lab",
                                [f"DNS:{'x' * 50}{i}.lab" for i in range(300)])
        daemons.sshd(ip, SSH)
        daemons.sshd(ip, SSH_ODD)
        daemons.nginx(ip, http=[HTTP], tls=[HTTPS, HTTPS_ODD], cert=good)
        daemons.hostile([ip], tls=[f"{EXPIRED}:{expired.cert}:{expired.key}",
                                   f"{MANY_SANS}:{many.cert}:{many.key}"],
                        **{name: [port] for name, port in HOSTILE.items()})
        opened = [SSH, SSH_ODD, HTTP, HTTPS, HTTPS_ODD, *HOSTILE.values(), EXPIRED, MANY_SANS]
        ports = ",".join(map(str, sorted(opened + [CLOSED])))
        plain, plain_time = scan(lab, ports)
        base = tmp_path / "banners"
        proc, banner_time = scan(lab, ports, "--banners", "--banner-timeout", str(BANNER_TIMEOUT),
                                 "-oA", str(base))
    assert plain.returncode == 0, plain.stderr
    assert proc.returncode == 0, proc.stderr
    records = {r["port"]: r for r in map(json.loads, Path(f"{base}.jsonl").read_text().splitlines())}
    assert {p for p, r in records.items() if r["state"] == "open"} == set(opened)
    assert records[CLOSED]["state"] == "closed" and "banner" not in records[CLOSED]

    for port in (SSH, SSH_ODD):
        r = records[port]
        assert (r["service"], r["product"], r["version"]) == ("ssh", "OpenSSH", ssh_version), r
        assert r.get("extrainfo") == ssh_release
    assert (records[HTTP]["service"], records[HTTP]["product"], records[HTTP]["version"]) == (
        "http", "nginx", web_version)
    made = parse_certificate(good.der)
    for port in (HTTPS, HTTPS_ODD):
        r = records[port]
        assert (r["service"], r["product"], r["version"]) == ("https", "nginx", web_version), r
        tls = r["tls"]
        assert tls["sha256"] == made.sha256 and tls["subject_cn"] == "target.lab"
        assert tls["sans"] == ["DNS:target.lab", f"IP:{ip}"]
        assert (tls["not_before"], tls["not_after"]) == (made.not_before, made.not_after)
    assert records[EXPIRED]["tls"]["not_after"] == "2021-01-01T00:00:00Z"
    assert records[MANY_SANS]["tls"]["san_count"] == 300
    assert len(records[MANY_SANS]["tls"]["sans"]) == 64
    assert records[HOSTILE["tls_alert"]]["tls"]["error"].startswith("handshake failed")
    assert len(records[HOSTILE["flood"]]["banner"]) == 4096  # 4 KiB of "A"
    assert len(records[HOSTILE["trickle"]]["banner"]) <= 5  # a byte a second, cut by 0.5 s of quiet
    assert records[HOSTILE["silent"]]["banner_note"] == f"no reply in {BANNER_TIMEOUT:g} s"
    assert records[HOSTILE["ansi"]]["product"] == "OpenSSH"

    xml = Path(f"{base}.xml")
    assert_valid_against_dtd(xml)
    report = libnmap_report(xml)
    versions = {s.port: (s.banner_dict.get("product"), s.banner_dict.get("version"))
                for s in report.hosts[0].services}
    assert versions[SSH] == ("OpenSSH", ssh_version)
    assert versions[HTTPS] == ("nginx", web_version)
    grepable = Path(f"{base}.gnmap").read_text()
    assert f"{SSH}/open/tcp//ssh//OpenSSH {ssh_version}" in grepable
    for text in (proc.stdout, grepable, xml.read_text()):
        assert "\x1b" not in text and "\x07" not in text
    assert "VERSION" in proc.stdout and f"nginx {web_version}" in proc.stdout
    assert "waits at most 2 s (+0.25 s) after its last open port" in proc.stdout
    # the silent port costs the whole banner timeout; nothing costs more
    assert banner_time <= plain_time + BANNER_TIMEOUT + 3.0, (plain_time, banner_time)  # noisy 2 cores


def test_banners_are_grabbed_while_the_syn_scan_goes_on(tmp_path: Path) -> None:
    """An open port's banner reaches -oJ while the scan is still probing silent ports."""
    jsonl = tmp_path / "live.jsonl"
    with Lab(LabSpec(ipv6=False, drop_tcp=range(1000, 1600))) as lab, \
            Daemons(lab.target_ns, tmp_path) as daemons:
        daemons.hostile([lab.target_ip], ansi=[SSH])
        argv = ["ip", "netns", "exec", lab.scanner_ns, rawscan_command(), "syn", lab.target_ip,
                "-p", f"{SSH},1000-1599", "--rate", "300", "--retries", "2", "--timeout", "0.5",
                "-q", "--banners", "--banner-timeout", "1", "-oJ", str(jsonl)]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=tmp_path)
        seen_while_running = False
        try:
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline:
                if jsonl.exists() and '"product":"OpenSSH"' in jsonl.read_text():
                    seen_while_running = proc.poll() is None
                    break
                time.sleep(0.05)
            _out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0, err
    assert seen_while_running, "the banner came only after the scan"
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(records) == 601


def test_udp_banners_decode_the_replies(tmp_path: Path) -> None:
    base = tmp_path / "udp"
    with Lab(LabSpec(ipv6=False, dns_server=True, open_udp=[9999])) as lab:
        proc = lab.exec_scanner([rawscan_command(), "udp", lab.target_ip, "-p", "53,9999", "-q",
                                 "--banners", "-oA", str(base)], timeout=120)
    assert proc.returncode == 0, proc.stderr
    records = {r["port"]: r for r in map(json.loads, Path(f"{base}.jsonl").read_text().splitlines())}
    assert records[53]["state"] == "open" and records[53]["service"] == "domain"
    assert records[53]["extrainfo"].startswith("rcode ")
    # the server's own version, asked with version.bind CH TXT, as dnsmasq --version says it
    version = subprocess.run(["dnsmasq", "--version"], capture_output=True, text=True,
                             check=True).stdout.split()[2]
    assert (records[53]["product"], records[53]["version"]) == ("dnsmasq", version)
    assert records[9999]["state"] == "open" and records[9999]["banner"].startswith("rawscan-lab:")
    assert "product" not in records[9999]
    assert_valid_against_dtd(Path(f"{base}.xml"))
    assert "asked version.bind" in proc.stdout

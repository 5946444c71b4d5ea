"""rawscan ping in a lab of hosts up and down in every way (tests/support/lab_discovery.py), beside
nmap -sn of the same lab."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.support.lab import lab_unavailable_reason, target_mac
from tests.support.lab_discovery import ANYIP_HOSTS, ANYIP_HOSTS6, EXPECTED, EXPECTED6, NO_ECHO, NO_ECHO6, DiscoveryLab
from tests.support.rawscan_cli import rawscan_command, read_jsonl
from tests.support.xml_checks import assert_valid_against_dtd, libnmap_report, ndiff_state_differences

pytestmark = [
    pytest.mark.skipif(lab_unavailable_reason() is not None, reason=str(lab_unavailable_reason())),
]

ANSWERS = {"echo-reply", "syn-ack", "reset", "timestamp-reply"}  # what an open host may give first


@pytest.fixture(scope="module")
def lab() -> DiscoveryLab:
    with DiscoveryLab() as built:
        yield built  # type: ignore[misc]


def _ping(lab: DiscoveryLab, tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> list[dict[str, object]]:
    out = tmp_path / "hosts.jsonl"
    r = lab.exec_scanner([rawscan_command(), "ping", "-q", "--resume-file",
                          str(tmp_path / "r.resume"), "-oJ", str(out), *args], env=env)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    return read_jsonl(out)


# one family per run (test_xml_... and the numpy test mix them with the lab's IPv4 hosts)
@pytest.mark.parametrize("family", [4, 6])
def test_every_host_gets_its_status_and_reason(lab: DiscoveryLab, tmp_path: Path, family: int) -> None:
    expected = EXPECTED if family == 4 else EXPECTED6
    records = _ping(lab, tmp_path, *expected)
    got = {str(r["ip"]): r for r in records}
    assert sorted(got) == sorted(expected) and len(records) == len(expected)
    for ip, (status, reason) in expected.items():
        record = got[ip]
        assert record["status"] == status, record
        if status == "up" and reason == "echo-reply":
            assert record["reason"] in ANSWERS, record  # whichever probe was answered first
        else:
            assert record["reason"] == reason, record
        if reason in ("arp-response", "nd-response"):
            assert record["mac"] == lab_mac(lab) and isinstance(record["rtt_ms"], float), record
        elif status == "up":
            assert isinstance(record["ttl"], int) and isinstance(record["rtt_ms"], float), record
        else:
            assert record["rtt_ms"] is None


def lab_mac(lab: DiscoveryLab) -> str:
    return target_mac(lab).upper()


def test_send_ip_pings_the_link_with_ip_probes(lab: DiscoveryLab, tmp_path: Path) -> None:
    got = {str(r["ip"]): r for r in _ping(lab, tmp_path, "--send-ip", "198.18.0.2", "2001:2::2",
                                          "198.18.0.50")}
    assert got["198.18.0.2"]["reason"] in ANSWERS and got["2001:2::2"]["reason"] in ANSWERS
    assert "mac" not in got["198.18.0.2"]
    assert (got["198.18.0.50"]["status"], got["198.18.0.50"]["reason"]) == ("down", "no-response")


def test_numpy_path_gives_the_same_hosts(lab: DiscoveryLab, tmp_path: Path) -> None:
    import os

    env = {**os.environ, "RAWSCAN_HOT_PATH": "numpy"}  # the batches (probes/ping_batch.py)
    records = _ping(lab, tmp_path, *EXPECTED, env=env)
    got = {str(r["ip"]): (r["status"], r["reason"]) for r in records}
    assert {ip: s for ip, (s, _r) in got.items()} == {ip: s for ip, (s, _r) in EXPECTED.items()}
    assert got[NO_ECHO] == ("up", "syn-ack")
    assert all(isinstance(r["rtt_ms"], float) for r in records if r["status"] == "up")


def test_each_probe_kind_alone(lab: DiscoveryLab, tmp_path: Path) -> None:
    cases = {"echo": ("echo-reply", "down"), "timestamp": ("timestamp-reply", "down"),
             "syn:443": ("syn-ack", "syn-ack"), "syn:22": ("reset", "reset"),
             "ack:80": ("reset", "down"), "udp:40125": ("port-unreach", "port-unreach")}
    for probes, (anyip, no_echo) in cases.items():
        for anyip_host, no_echo_host in ((ANYIP_HOSTS[0], NO_ECHO), (ANYIP_HOSTS6[0], NO_ECHO6)):
            if probes == "timestamp" and ":" in anyip_host:
                continue  # ICMPv6 has none
            got = {str(r["ip"]): r for r in _ping(lab, tmp_path, "--force", "--probes", probes,
                                                  "--retries", "1", anyip_host, no_echo_host)}
            assert got[anyip_host]["reason"] == anyip, (probes, got)
            if no_echo == "down":
                assert got[no_echo_host]["status"] == "down", (probes, got)
            else:
                assert got[no_echo_host]["reason"] == no_echo, (probes, got)


def test_xml_is_nmaps_and_ndiff_finds_no_status_difference(lab: DiscoveryLab, tmp_path: Path) -> None:
    if shutil.which("nmap") is None:
        pytest.skip("nmap missing (apt-get install nmap)")
    ours, theirs = tmp_path / "rawscan.xml", tmp_path / "nmap.xml"
    hosts = list(EXPECTED)
    r = lab.exec_scanner([rawscan_command(), "ping", "-q", "--resume-file", str(tmp_path / "r"),
                          "-oX", str(ours), *hosts])
    assert r.returncode == 0, r.stderr
    # -v: nmap lists down hosts too (without it, only the up ones)
    n = lab.exec_scanner(["nmap", "-sn", "-n", "-v", "-oX", str(theirs), *hosts], timeout=120)
    assert n.returncode == 0, n.stderr
    assert_valid_against_dtd(ours)
    root = ET.parse(ours).getroot()
    assert root.find("scaninfo") is None and not list(root.iter("port"))
    states = {h.find("address").get("addr"): h.find("status").get("state")  # type: ignore[union-attr]
              for h in root.iter("host")}
    assert states == {ip: status for ip, (status, _reason) in EXPECTED.items()}
    report = libnmap_report(ours)
    assert {h.address for h in report.hosts if h.is_up()} == {ip for ip, (s, _r) in EXPECTED.items() if s == "up"}
    assert ndiff_state_differences(theirs, ours) == []


@pytest.mark.parametrize("command,family", [("syn", 4), ("syn", 6), ("udp", 4)])
def test_discover_scans_exactly_the_up_hosts(lab: DiscoveryLab, tmp_path: Path, command: str,
                                             family: int) -> None:
    expected = EXPECTED if family == 4 else EXPECTED6
    out = tmp_path / "ports.jsonl"
    r = lab.exec_scanner([rawscan_command(), command, "--discover", "-p", "443", "-q",
                          "--resume-file", str(tmp_path / "r"), "-oJ", str(out), *expected])
    assert r.returncode == 0, r.stderr
    up = {ip for ip, (status, _reason) in expected.items() if status == "up"}
    scanned = {str(rec["ip"]) for rec in read_jsonl(out)}
    assert scanned == up
    assert f"{len(up)} of {len(expected)} host(s) up; {len(expected) - len(up)} skipped as down" in r.stdout
    # without --discover every host is scanned (nmap -Pn)
    r = lab.exec_scanner([rawscan_command(), command, "-p", "443", "-q", "--force",
                          "--resume-file", str(tmp_path / "r"), "-oJ", str(out), *expected])
    assert r.returncode == 0, r.stderr
    assert {str(rec["ip"]) for rec in read_jsonl(out)} == set(expected)

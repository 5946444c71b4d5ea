"""Live lab: ACK, FIN, NULL and Xmas scans (nmap -sA/-sF/-sN/-sX) against Linux and a stateful
nftables firewall, both families in one scan, both hot paths; outputs nmap tooling reads."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from lab import Lab, lab_unavailable_reason
from lab_layouts import FIREWALL
from output_checks import assert_valid_against_dtd
from rawscan_cli import rawscan_command, read_jsonl

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(lab_unavailable_reason() is not None, reason=str(lab_unavailable_reason())),
]

SCANS = ("ack", "fin", "null", "xmas")


def states_by_family(records: list[dict[str, object]]) -> dict[str, dict[int, tuple[str, str]]]:
    out: dict[str, dict[int, tuple[str, str]]] = {}
    for r in records:
        per_host = out.setdefault(str(r["ip"]), {})
        port = int(r["port"])  # type: ignore[arg-type]
        assert port not in per_host, f"{r['ip']} {port} reported twice"
        per_host[port] = (str(r["state"]), str(r["reason"]))
    return out


@pytest.fixture(scope="module")
def lab() -> Lab:
    with Lab(FIREWALL.spec()) as built:
        yield built  # type: ignore[misc]


@pytest.mark.parametrize("scan", SCANS)
def test_every_port_right_over_both_families(lab: Lab, tmp_path: Path, scan: str) -> None:
    out, xml = tmp_path / "scan.jsonl", tmp_path / "scan.xml"
    proc = lab.exec_scanner([rawscan_command(), scan, lab.target_ip, lab.target_ip6, "-p", "1-300",
                             "-oJ", str(out), "-oX", str(xml), "-q"], timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = states_by_family(read_jsonl(out))
    assert got[lab.target_ip] == FIREWALL.expected(scan, 4)
    assert got[lab.target_ip6] == FIREWALL.expected(scan, 6)
    assert f"({scan} scan of 2 host(s)" in proc.stdout
    assert_valid_against_dtd(xml)
    assert ET.parse(xml).getroot().find("scaninfo").get("type") == scan  # type: ignore[union-attr]
    if scan == "ack":  # nmap's report: the common state collapsed, the firewalled ports listed
        assert "Not shown: " in proc.stdout and "unfiltered tcp ports (reset)" in proc.stdout
        assert "255/tcp" in proc.stdout and "filtered" in proc.stdout


@pytest.mark.parametrize("scan", ["ack", "fin"])
def test_the_numpy_path_gives_the_same_ports(lab: Lab, tmp_path: Path, scan: str) -> None:
    out = tmp_path / "scan.jsonl"
    env = {**os.environ, "RAWSCAN_HOT_PATH": "numpy"}
    proc = lab.exec_scanner([rawscan_command(), scan, lab.target_ip, "-p", "1-300",
                             "-oJ", str(out), "-oG", str(tmp_path / "scan.gnmap"),
                             "-oC", str(tmp_path / "scan.csv"), "-q"], timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert states_by_family(read_jsonl(out))[lab.target_ip] == FIREWALL.expected(scan, 4)
    grepable = (tmp_path / "scan.gnmap").read_text()
    silent = "filtered" if scan == "ack" else "open|filtered"
    assert f"255/{silent}/tcp//" in grepable
    csv = (tmp_path / "scan.csv").read_text()
    assert csv.count("\n") == 301 and f",255,{silent},no-response," in csv


def test_banners_are_refused_for_a_scan_that_finds_no_open_port(lab: Lab) -> None:
    proc = lab.exec_scanner([rawscan_command(), "ack", lab.target_ip, "-p", "22", "--banners"])
    assert proc.returncode == 2 and "--banners is for syn and udp scans" in proc.stderr

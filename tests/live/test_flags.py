"""Live lab: ACK, FIN, NULL and Xmas scans (nmap -sA/-sF/-sN/-sX) against Linux and a stateful
nftables firewall, both families in one scan, both hot paths; outputs nmap tooling reads."""

from __future__ import annotations

import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.support.lab import Lab, lab_unavailable_reason
from tests.support.lab_layouts import FIREWALL
from tests.support.rawscan_cli import rawscan_command, read_jsonl
from tests.support.xml_checks import assert_valid_against_dtd, libnmap_report, ndiff_state_differences

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


@pytest.mark.parametrize(("scan", "flag"), [("ack", "-sA"), ("fin", "-sF")])
def test_ndiff_finds_no_state_difference_from_nmap(lab: Lab, tmp_path: Path, scan: str,
                                                  flag: str) -> None:
    """The same lab scanned by nmap and by rawscan: ndiff sees the same state on every port
    (the collapsed ones too), and libnmap reads rawscan's XML as an nmap report of that scan."""
    if shutil.which("nmap") is None:
        pytest.skip("nmap missing (apt-get install nmap)")
    ours, theirs = tmp_path / "rawscan.xml", tmp_path / "nmap.xml"
    proc = lab.exec_scanner([rawscan_command(), scan, lab.target_ip, "-p", "1-300", "-oX",
                             str(ours), "-q"])
    assert proc.returncode == 0, proc.stderr
    nmap = lab.exec_scanner(["nmap", flag, "-Pn", "-n", "--reason", "-p", "1-300", "-oX",
                             str(theirs), lab.target_ip], timeout=300)
    assert nmap.returncode == 0, nmap.stderr
    assert ndiff_state_differences(theirs, ours) == []
    services = libnmap_report(ours).hosts[0].services  # the ports listed (not collapsed)
    expected = FIREWALL.expected(scan, 4)
    assert services and all(expected[s.port][0] == s.state for s in services)


def test_an_interrupted_fin_scan_resumes_to_the_whole_scan(lab: Lab, tmp_path: Path) -> None:
    import signal
    import subprocess
    import time

    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    argv = ["ip", "netns", "exec", lab.scanner_ns, rawscan_command(), "fin", lab.target_ip,
            lab.target_ip6, "-p", "1-300", "--rate", "200", "-q", "-oJ", str(first)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (first.exists() and first.stat().st_size > 2000):
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    done = subprocess.run(["ip", "netns", "exec", lab.scanner_ns, rawscan_command(), "resume",
                           "rawscan.resume", "-q", "-oJ", str(second)], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path, env={**os.environ, "SUDO_UID": ""})
    assert done.returncode == 0, done.stderr
    part1, part2 = read_jsonl(first), read_jsonl(second)
    assert part1 and part2
    keys = [(r["ip"], r["port"]) for r in part1 + part2]
    assert len(keys) == len(set(keys)) == 600  # every endpoint once, over both runs
    got = states_by_family(part1 + part2)
    assert got[lab.target_ip] == FIREWALL.expected("fin", 4)
    assert got[lab.target_ip6] == FIREWALL.expected("fin", 6)

"""Live lab: outputs of real scans. A Ctrl-C leaves well-formed XML and every JSON line learned;
`rawscan diff` and --baseline see a port opened between two scans; nmap's ndiff finds no port
state differences between rawscan's XML and nmap's own of the same target."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from rawscan.compare.load import load_results

from tests.support.lab import Lab, LabSpec, lab_unavailable_reason
from tests.support.lab_layouts import SYN_2000, SYN_SMALL
from tests.support.rawscan_cli import rawscan_command
from tests.support.terminal import run_on_terminal
from tests.support.xml_checks import assert_valid_against_dtd, libnmap_report, ndiff_state_differences

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(lab_unavailable_reason() is not None, reason=str(lab_unavailable_reason())),
]


def rawscan(lab: Lab, *args: str) -> subprocess.CompletedProcess[str]:
    return lab.exec_scanner([rawscan_command(), *args], timeout=120)


def test_ctrl_c_leaves_parseable_xml_and_every_line_learned(tmp_path: Path) -> None:
    base = tmp_path / "partial"
    jsonl = Path(f"{base}.jsonl")
    with Lab(SYN_2000.spec()) as lab:
        argv = ["ip", "netns", "exec", lab.scanner_ns, rawscan_command(), "syn", lab.target_ip,
                "-p", "1-2000", "--rate", "300", "-oA", str(base)]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=tmp_path)  # where the resume file goes
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and (
                    not jsonl.exists() or jsonl.read_text().count("\n") < 300):
                time.sleep(0.05)  # until a few hundred ports have been streamed out
            time.sleep(0.5)  # past the progress bar's first second: it must stay off (a pipe)
            proc.send_signal(signal.SIGINT)
            _stdout, stderr = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 130, stderr
    assert "probes" not in stderr  # no progress bar on a pipe
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]  # every line whole
    learned = {int(r["port"]): r["state"] for r in records}
    expected = SYN_2000.expected()
    assert 300 <= len(learned) < 2000
    assert all(expected[p][0] == state for p, state in learned.items())
    xml = Path(f"{base}.xml")
    assert_valid_against_dtd(xml)
    root = ET.parse(xml).getroot()
    finished = root.find("runstats/finished")
    assert finished is not None and finished.get("exit") == "error"
    assert "interrupted" in finished.get("errormsg", "")
    states = load_results(str(xml)).states
    assert {port: s for (_ip, _proto, port), s in states.items()} == learned  # XML == JSONL
    report = libnmap_report(xml)
    assert len(report.hosts) == 1
    assert Path(f"{base}.gnmap").read_text().splitlines()[-1].startswith("# rawscan interrupted")


def test_diff_and_baseline_see_a_port_opened_between_scans(tmp_path: Path) -> None:
    ports = "20-30,8080"
    with Lab(LabSpec(open_tcp=[22, 25])) as lab:
        first, second, third = tmp_path / "first.jsonl", tmp_path / "second.xml", tmp_path / "third.gnmap"
        assert rawscan(lab, "syn", lab.target_ip, "-p", ports, "-oJ", str(first)).returncode == 0
        again = rawscan(lab, "syn", lab.target_ip, "-p", ports, "-oX", str(second),
                        "--baseline", str(first))
        assert again.returncode == 0, again.stdout + again.stderr  # nothing changed
        assert "No differences" in again.stdout
        listener = subprocess.Popen(
            ["ip", "netns", "exec", lab.target_ns, sys.executable, "-c",
             f"import socket, time\ns = socket.create_server(('{lab.target_ip}', 8080))\n"
             "print('ready', flush=True)\ntime.sleep(120)\n"],
            stdout=subprocess.PIPE, text=True)
        try:
            assert listener.stdout is not None and listener.stdout.readline().strip() == "ready"
            changed = rawscan(lab, "syn", lab.target_ip, "-p", ports, "-oG", str(third),
                              "--baseline", str(first))
        finally:
            listener.kill()  # by PID: `ip netns exec` execs python, so this is the listener
            listener.wait()
    assert changed.returncode == 1, changed.stdout + changed.stderr
    assert "+ 198.18.0.2 8080/tcp appeared: closed -> open" in changed.stdout
    cli = [rawscan_command(), "diff"]
    same = subprocess.run([*cli, str(first), str(second)], capture_output=True, text=True, timeout=60)
    assert same.returncode == 0, same.stdout + same.stderr
    differ = subprocess.run([*cli, str(second), str(third)], capture_output=True, text=True, timeout=60)
    assert differ.returncode == 1, differ.stderr
    assert differ.stdout.splitlines() == [
        "+ 198.18.0.2 8080/tcp appeared: closed -> open", "1 port(s) differ: 1 appeared."]


@pytest.mark.skipif(shutil.which("nmap") is None, reason="nmap missing (apt-get install nmap)")
def test_ndiff_finds_no_port_differences_with_nmaps_own_xml(tmp_path: Path) -> None:
    ours, theirs = tmp_path / "rawscan.xml", tmp_path / "nmap.xml"
    with Lab(SYN_SMALL.spec()) as lab:
        proc = rawscan(lab, "syn", lab.target_ip, "-p", "1-200", "-oX", str(ours))
        assert proc.returncode == 0, proc.stderr
        nmap = lab.exec_scanner(["nmap", "-sS", "-Pn", "-n", "--reason", "-p", "1-200",
                                 lab.target_ip, "-oX", str(theirs)], timeout=120)
        assert nmap.returncode == 0, nmap.stderr
    assert_valid_against_dtd(ours)
    assert_valid_against_dtd(theirs)
    assert ndiff_state_differences(theirs, ours) == []
    assert load_results(str(ours)).states == load_results(str(theirs)).states  # all 200 ports
    ours_report, theirs_report = libnmap_report(ours), libnmap_report(theirs)
    assert ours_report.hosts[0].get_open_ports() == theirs_report.hosts[0].get_open_ports()


def test_progress_bar_on_a_terminal_and_not_with_q(tmp_path: Path) -> None:
    with Lab(LabSpec(open_tcp=[22])) as lab:
        scan = ["ip", "netns", "exec", lab.scanner_ns, rawscan_command(), "syn", lab.target_ip,
                "-p", "1-400", "--rate", "200"]  # two seconds of sending
        code, shown = run_on_terminal(scan, timeout=60)
        assert code == 0, shown
        code, quiet = run_on_terminal([*scan, "-q"], timeout=60)
        assert code == 0, quiet
    assert b"/400 probes" in shown and b"replies" in shown
    assert b"/400 probes" not in quiet and b"22/tcp" in quiet

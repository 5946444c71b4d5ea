"""Issue 13 in the live lab (root): signals at random points of real scans. During a scan
SIGINT, SIGTERM and SIGHUP only ask it to stop (rawscan/interrupts.py), also while it ends its
outputs and writes the resume file; so however many arrive, wherever they land, the scan ends
with exit 130, no traceback, no hang, whole outputs and a resume file that finishes the scan.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.support.lab import Lab, lab_unavailable_reason
from tests.support.lab_layouts import SYN_2000
from tests.support.rawscan_cli import port_states, rawscan_command, read_jsonl

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(lab_unavailable_reason() is not None, reason=str(lab_unavailable_reason())),
]

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
SCANS = 12
SIGNALS_PER_SCAN = 3000  # at most; most land after the first, while the scan is ending


def start_scan(lab: Lab, cwd: Path) -> subprocess.Popen[str]:
    # `ip netns exec` execs rawscan itself: the PID we signal is the scanner's
    return subprocess.Popen(
        ["ip", "netns", "exec", lab.scanner_ns, rawscan_command(), "syn", lab.target_ip,
         "-p", "1-2000", "--rate", "4000", "-q", "-oJ", "scan.jsonl", "-oX", "scan.xml"],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "SUDO_UID": ""})


def wait_until_under_way(proc: subprocess.Popen[str], out: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None and not (
            out.exists() and out.stat().st_size):
        time.sleep(0.005)


def storm(proc: subprocess.Popen[str], rng: random.Random, count: int) -> int:
    """Up to count signals, 0-0.2 ms apart, until the process is gone; how many were sent."""
    sent = 0
    for _ in range(count):
        if proc.poll() is not None:
            break
        try:
            proc.send_signal(rng.choice(SIGNALS))
        except ProcessLookupError:
            break
        sent += 1
        if rng.random() < 0.5:
            time.sleep(rng.uniform(0, 0.0002))
    return sent


def check_interrupted(proc: subprocess.Popen[str], cwd: Path, out: str, err: str) -> None:
    assert proc.returncode == 130, (proc.returncode, err)
    assert "Traceback" not in err and "Traceback" not in out, err
    assert "To finish this scan: rawscan resume rawscan.resume" in out, out
    ET.parse(cwd / "scan.xml")  # a whole document
    read_jsonl(cwd / "scan.jsonl")  # every line a whole record


def resume_and_check(lab: Lab, cwd: Path) -> None:
    done = subprocess.run(["ip", "netns", "exec", lab.scanner_ns, rawscan_command(), "resume",
                           "rawscan.resume", "-q", "-oJ", "rest.jsonl"],
                          capture_output=True, text=True, timeout=120, cwd=cwd,
                          env={**os.environ, "SUDO_UID": ""})
    assert done.returncode == 0, done.stderr
    first, rest = port_states(read_jsonl(cwd / "scan.jsonl")), port_states(read_jsonl(cwd / "rest.jsonl"))
    assert not set(first) & set(rest), "an endpoint reported by both runs"
    assert {**first, **rest} == SYN_2000.expected()


def test_thousands_of_signals_at_random_points_never_hang_or_lose_anything(tmp_path: Path) -> None:
    rng = random.Random(13)
    landed = 0
    with Lab(SYN_2000.spec()) as lab:
        for n in range(SCANS):
            cwd = tmp_path / f"scan{n}"
            cwd.mkdir()
            proc = start_scan(lab, cwd)
            wait_until_under_way(proc, cwd / "scan.jsonl")
            time.sleep(rng.uniform(0, 0.4))  # somewhere in the first round or its retries
            landed += storm(proc, rng, SIGNALS_PER_SCAN)
            try:
                out, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
                pytest.fail(f"scan {n} hung after the signals: {err[-2000:]}")
            if proc.returncode == 0:
                continue  # finished before the first signal: nothing to check here
            check_interrupted(proc, cwd, out, err)
            resume_and_check(lab, cwd)
    assert landed >= 2000, landed  # the storm really happened


def test_sighup_is_taken_as_sigterm(tmp_path: Path) -> None:
    """An SSH session that dropped: was exit 129, XML that does not parse, no resume file."""
    with Lab(SYN_2000.spec()) as lab:
        proc = start_scan(lab, tmp_path)
        wait_until_under_way(proc, tmp_path / "scan.jsonl")
        time.sleep(0.1)
        proc.send_signal(signal.SIGHUP)
        out, err = proc.communicate(timeout=30)
        if proc.returncode == 0:
            pytest.skip("the scan finished before the signal")
        check_interrupted(proc, tmp_path, out, err)
        root = ET.parse(tmp_path / "scan.xml").getroot()
        assert root.find("runstats/finished").get("exit") == "error"  # marked unfinished
        assert json.loads((tmp_path / "rawscan.resume").read_text())["rawscan_resume"] == 1
        resume_and_check(lab, tmp_path)


def test_a_full_output_stops_a_live_scan_cleanly_and_resume_finishes_it(tmp_path: Path) -> None:
    """-oJ /dev/full beside -oX: one line naming it, exit 74, the XML whole, a resume file."""
    with Lab(SYN_2000.spec()) as lab:
        proc = subprocess.run(
            ["ip", "netns", "exec", lab.scanner_ns, rawscan_command(), "syn", lab.target_ip,
             "-p", "1-2000", "--rate", "4000", "-q", "-oJ", "/dev/full", "-oC", "scan.csv"],
            cwd=tmp_path, capture_output=True, text=True, timeout=60,
            env={**os.environ, "SUDO_UID": ""})
        assert proc.returncode == 74, proc.stderr
        errors = [line for line in proc.stderr.splitlines() if line.startswith("rawscan: error:")]
        assert errors == ["rawscan: error: cannot write '/dev/full': No space left on device; "
                          "stopping the scan (the other outputs end whole here, and a resume "
                          "file is written)"], proc.stderr
        assert "Traceback" not in proc.stderr and "Stopped:" in proc.stdout
        done = subprocess.run(["ip", "netns", "exec", lab.scanner_ns, rawscan_command(), "resume",
                               "rawscan.resume", "-q", "-oC", "rest.csv"],
                              capture_output=True, text=True, timeout=120, cwd=tmp_path,
                              env={**os.environ, "SUDO_UID": ""})
        assert done.returncode == 0, done.stderr
    import csv

    def ports(path: Path) -> dict[int, tuple[str, str]]:
        rows = list(csv.DictReader(path.read_text().splitlines()))
        states = {int(r["port"]): (r["state"], r["reason"]) for r in rows}
        assert len(states) == len(rows), "a port reported twice"
        return states

    first, rest = ports(tmp_path / "scan.csv"), ports(tmp_path / "rest.csv")
    assert not set(first) & set(rest)
    assert {**first, **rest} == SYN_2000.expected()  # the CSV plus the resumed run: the whole scan

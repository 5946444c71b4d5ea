"""Interruption in the live lab: a scan killed at a random point saves its progress, `rawscan
resume` finishes it, and both runs together equal an uninterrupted scan, port for port.
Also: once its sockets and files are open, a scan run under sudo gives up root."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.lab import Lab, lab_unavailable_reason
from tests.support.lab_layouts import SYN_2000
from tests.support.rawscan_cli import port_states, process_status, rawscan_command, read_jsonl

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(lab_unavailable_reason() is not None, reason=str(lab_unavailable_reason())),
]

RATE = "4000"  # 2,000 ports take ~0.5 s a round: room to interrupt mid-scan


def start_scan(lab: Lab, argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    # `ip netns exec` execs rawscan itself: the PID we signal is the scanner's
    return subprocess.Popen(["ip", "netns", "exec", lab.scanner_ns, *argv], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "SUDO_UID": "", **(env or {})})


@pytest.mark.parametrize("kill_after", sorted(random.Random(11).uniform(0.05, 0.9) for _ in range(3)))
def test_resume_after_sigterm_equals_an_uninterrupted_scan(tmp_path: Path, kill_after: float) -> None:
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    with Lab(SYN_2000.spec()) as lab:
        proc = start_scan(lab, [rawscan_command(), "syn", lab.target_ip, "-p", "1-2000", "--rate",
                                RATE, "-q", "-oJ", str(first)], tmp_path)
        deadline = time.monotonic() + 30  # the first result is out: the scan is under way
        while time.monotonic() < deadline and proc.poll() is None and not (
                first.exists() and first.stat().st_size):
            time.sleep(0.01)
        time.sleep(kill_after / 2)  # somewhere in the first round or its retries
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        resume_file = tmp_path / "rawscan.resume"
        if proc.returncode == 0:
            pytest.skip("the scan finished before the signal")
        assert proc.returncode == 130, err
        assert resume_file.exists(), out
        assert f"rawscan resume {'rawscan.resume'}" in out
        done = subprocess.run(["ip", "netns", "exec", lab.scanner_ns, rawscan_command(), "resume",
                               str(resume_file), "-q", "-oJ", str(second)],
                              capture_output=True, text=True, timeout=120, cwd=tmp_path,
                              env={**os.environ, "SUDO_UID": ""})  # stays root: writes here
        assert done.returncode == 0, done.stderr
    part1, part2 = port_states(read_jsonl(first)), port_states(read_jsonl(second))
    assert part1 and part2
    assert not set(part1) & set(part2), "an endpoint reported by both runs"
    assert {**part1, **part2} == SYN_2000.expected()


def test_resume_of_a_damaged_file_is_a_clean_error(tmp_path: Path) -> None:
    bad = tmp_path / "rawscan.resume"
    bad.write_text('{"rawscan_resume": 1, "plan": "{}", "done": "!!"}\n')
    proc = subprocess.run([rawscan_command(), "resume", str(bad)], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode != 0
    assert proc.stderr.startswith("rawscan: error:") and "Traceback" not in proc.stderr


def test_root_is_given_up_once_sockets_and_files_are_open(tmp_path: Path) -> None:
    # files are opened with the user's rights: a directory the user can reach (pytest's tmp_path
    # is inside root's 0700 directory)
    import shutil
    import tempfile

    tmp_path = Path(tempfile.mkdtemp(prefix="rawscan-drop-", dir="/tmp"))
    try:
        _root_is_given_up(tmp_path)
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)


def _root_is_given_up(tmp_path: Path) -> None:
    tmp_path.chmod(0o777)
    out = tmp_path / "scan.jsonl"
    with Lab(SYN_2000.spec()) as lab:
        proc = start_scan(lab, [rawscan_command(), "syn", lab.target_ip, "-p", "1-2000", "--rate",
                                "1000", "-q", "-oJ", str(out)], tmp_path,
                          env={"SUDO_UID": "65534", "SUDO_GID": "65534"})
        seen: dict[str, str] = {}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status = process_status(proc.pid)
            except (FileNotFoundError, ProcessLookupError):
                break
            if status["Uid"].split()[0] != "0":
                seen = status
                break
            time.sleep(0.02)
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert seen, "the scanner never stopped being root"
    assert seen["Uid"].split() == ["65534"] * 4 and seen["Gid"].split() == ["65534"] * 4
    assert int(seen["CapEff"], 16) == 0 and int(seen["CapPrm"], 16) == 0
    assert seen["Groups"].strip() == ""
    assert port_states(read_jsonl(out)) == SYN_2000.expected()  # and the scan still works
    assert out.stat().st_uid == 65534  # the output was created for the user
